//! The table of the built-in kinds' protobuf messages (`schema.txt`,
//! generated from k8s.io/api's Go types by `make proto-schema`): for each
//! message, its fields' numbers, JSON names, kinds and the Go encoding
//! rules (`omitempty`, pointer, inline) that decide what the apiserver's
//! JSON of the same object holds.

use std::hash::BuildHasher as _;
use std::sync::OnceLock;

/// What a field holds, as its JSON is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Bool,
    /// Any Go integer (a varint).
    Int,
    Double,
    Float,
    /// `[]byte`: base64 in JSON.
    Bytes,
    /// `metav1.Time`: RFC 3339 to the second.
    Time,
    /// `metav1.MicroTime`: RFC 3339 to the microsecond.
    MicroTime,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `intstr.IntOrString`.
    IntOrString,
    /// `runtime.RawExtension`: embedded JSON, or an embedded protobuf object.
    RawExtension,
    /// `metav1.FieldsV1`: embedded JSON.
    FieldsV1,
    /// `metav1.Duration`: Go's duration string.
    Duration,
    /// A message of the table (by index).
    Message(u32),
    /// `map[string]V`: entries with the key in field 1 and the value in 2.
    Map(&'static Kind),
}

/// One field of a message.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) number: u32,
    /// The JSON member name (empty when inline).
    pub(crate) json: &'static str,
    pub(crate) kind: Kind,
    /// A Go slice: every occurrence is one element.
    pub(crate) repeated: bool,
    /// A Go pointer: absent means nil, present is written even when zero.
    pub(crate) pointer: bool,
    /// `omitempty`: a zero scalar or an empty slice or map is left out.
    pub(crate) omitempty: bool,
    /// `json:",inline"`: the message's members are the parent's.
    pub(crate) inline: bool,
    /// `omitzero` (Go 1.24): a zero value, structs included, is left out.
    pub(crate) omitzero: bool,
}

/// One message.
#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) name: &'static str,
    /// Sorted by number.
    pub(crate) fields: Box<[Field]>,
    /// Field number -> index in `fields` (`u16::MAX`: none).
    by_number: Box<[u16]>,
    /// A wrapper of a named Go slice (`ExtraValue []string`): its JSON is
    /// the array of field 1, of this kind.
    pub(crate) wrapper: Option<Kind>,
}

impl Message {
    /// The index in `fields` of field `number`.
    pub(crate) fn field_index(&self, number: u32) -> Option<usize> {
        let i = *self.by_number.get(number as usize)?;
        (i != u16::MAX).then_some(usize::from(i))
    }
}

/// The table: an index over its text; each message is parsed the first
/// time it is needed (a process reads a handful of the 1,089), so the
/// table costs about 80 KB of heap, not the 480 KB of parsing it all.
#[derive(Debug)]
pub(crate) struct Schema {
    text: &'static str,
    /// Message names, sorted, with the byte offset of their `M`/`W` line.
    names: Box<[(&'static str, u32)]>,
    /// Parsed messages, in the order of `names`.
    messages: Box<[OnceLock<Box<Message>>]>,
    /// (group, version, kind, message), sorted.
    kinds: Box<[(&'static str, &'static str, &'static str, u32)]>,
    /// Indexes into `kinds`, hashed by (group, version, kind): one lookup per
    /// object transcoded.
    kind_table: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
    /// `meta/v1.ObjectMeta`'s index.
    object_meta: Option<u32>,
    /// Where the table came from (its first line).
    pub(crate) origin: &'static str,
}

/// The table generated from the k8s.io/api version this crate targets.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| match Schema::parse(include_str!("schema.txt")) {
        Ok(schema) => schema,
        // A unit test parses the same text, every message of it: this
        // cannot fail at run time.
        Err(e) => panic!("bot-runtime's protobuf schema.txt is malformed: {e}"),
    })
}

impl Schema {
    /// The message of kind `kind` in `group` (`""` for core) and `version`.
    pub(crate) fn kind(&self, group: &str, version: &str, kind: &str) -> Option<u32> {
        let hash = self.hasher.hash_one((group, version, kind));
        let at = self.kind_table.find(hash, |&i| {
            let (g, v, k, _) = self.kinds[i as usize];
            (g, v, k) == (group, version, kind)
        })?;
        Some(self.kinds[*at as usize].3)
    }

    /// Whether any kind of `group` / `version` is in the table.
    pub(crate) fn has_group_version(&self, group: &str, version: &str) -> bool {
        let at = self.kinds.partition_point(|&(g, v, _, _)| (g, v) < (group, version));
        self.kinds.get(at).is_some_and(|&(g, v, _, _)| (g, v) == (group, version))
    }

    /// The message of an `apiVersion` (`v1`, `apps/v1`) and kind.
    pub(crate) fn api_kind(&self, api_version: &str, kind: &str) -> Option<u32> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.kind(group, version, kind)
    }

    /// Message `index`, parsed on first use.
    pub(crate) fn message(&self, index: u32) -> &Message {
        self.messages[index as usize].get_or_init(|| match self.parse_message(index) {
            Ok(message) => Box::new(message),
            Err(e) => panic!("bot-runtime's protobuf schema.txt is malformed: {e}"),
        })
    }

    /// The index of `meta/v1.ObjectMeta`.
    pub(crate) fn object_meta(&self) -> Option<u32> {
        self.object_meta
    }

    fn index_of(&self, name: &str) -> Option<u32> {
        let at = self.names.binary_search_by(|&(n, _)| n.cmp(name)).ok()?;
        u32::try_from(at).ok()
    }

    /// Indexes the table's text (see `make proto-schema` for its format).
    pub(crate) fn parse(text: &'static str) -> Result<Self, String> {
        let origin = text.lines().next().unwrap_or_default().trim_start_matches("# ");
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut offset = 0usize;
        for line in text.split_inclusive('\n') {
            let words: Vec<&'static str> = line.trim_end().split(' ').collect();
            match words.as_slice() {
                ["M" | "W", name, ..] => names.push((*name, u32::try_from(offset).map_err(|_| "table too large")?)),
                ["K", group, version, kind, message] => {
                    kinds.push((if *group == "-" { "" } else { *group }, *version, *kind, *message));
                }
                ["#", ..] | [""] | ["F", ..] => {}
                _ => return Err(format!("unrecognised line: {line}")),
            }
            offset += line.len();
        }
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("message {} defined twice", w[0].0));
        }
        let mut schema = Self {
            text,
            messages: names.iter().map(|_| OnceLock::new()).collect(),
            names: names.into_boxed_slice(),
            kinds: Box::new([]),
            kind_table: hashbrown::HashTable::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
            object_meta: None,
            origin,
        };
        schema.object_meta = schema.index_of("meta/v1.ObjectMeta");
        let mut resolved = kinds
            .into_iter()
            .map(|(g, v, k, m)| {
                Ok((g, v, k, schema.index_of(m).ok_or_else(|| format!("kind {k}: unknown message {m}"))?))
            })
            .collect::<Result<Vec<_>, String>>()?;
        resolved.sort_unstable();
        schema.kinds = resolved.into_boxed_slice();
        let mut table = hashbrown::HashTable::with_capacity(schema.kinds.len());
        for (i, &(g, v, k, _)) in schema.kinds.iter().enumerate() {
            let hash = |&(g, v, k, _): &(&str, &str, &str, u32)| schema.hasher.hash_one((g, v, k));
            let i = u32::try_from(i).map_err(|_| "too many kinds")?;
            table.insert_unique(schema.hasher.hash_one((g, v, k)), i, |&j| hash(&schema.kinds[j as usize]));
        }
        schema.kind_table = table;
        Ok(schema)
    }

    /// Parses message `index`'s block.
    fn parse_message(&self, index: u32) -> Result<Message, String> {
        let (name, offset) = self.names[index as usize];
        let mut lines = self.text[offset as usize..].lines();
        let header: Vec<&'static str> = lines.next().unwrap_or_default().split(' ').collect();
        let wrapper = match header.as_slice() {
            ["W", _, elem] => Some(self.parse_kind(elem)?),
            _ => None,
        };
        let mut fields = Vec::new();
        for line in lines.take_while(|l| l.starts_with("F ")) {
            let at = |e: String| format!("{name}: {e}: {line}");
            let words: Vec<&'static str> = line.split(' ').collect();
            let ["F", number, json, kind, flags] = words.as_slice() else {
                return Err(at("not a field line".into()));
            };
            let flag = |c| flags.contains(c);
            fields.push(Field {
                number: number.parse().map_err(|_| at("bad field number".into()))?,
                json: if *json == "-" { "" } else { json },
                kind: self.parse_kind(kind).map_err(at)?,
                repeated: flag('r'),
                pointer: flag('p'),
                omitempty: flag('o'),
                inline: flag('i'),
                omitzero: flag('z'),
            });
        }
        fields.sort_by_key(|f| f.number);
        let max = fields.last().map_or(0, |f| f.number as usize);
        if max > 4096 {
            return Err(format!("{name}: field number {max} is too large for the table"));
        }
        let mut by_number = vec![u16::MAX; max + 1];
        for (i, f) in fields.iter().enumerate() {
            by_number[f.number as usize] = u16::try_from(i).map_err(|_| "too many fields")?;
        }
        Ok(Message { name, fields: fields.into_boxed_slice(), by_number: by_number.into_boxed_slice(), wrapper })
    }

    fn parse_kind(&self, word: &str) -> Result<Kind, String> {
        parse_kind(word, &|name| self.index_of(name))
    }
}

fn parse_kind(word: &str, index: &dyn Fn(&str) -> Option<u32>) -> Result<Kind, String> {
    Ok(match word {
        "string" => Kind::String,
        "bool" => Kind::Bool,
        "int" => Kind::Int,
        "double" => Kind::Double,
        "float" => Kind::Float,
        "bytes" => Kind::Bytes,
        "time" => Kind::Time,
        "microtime" => Kind::MicroTime,
        "quantity" => Kind::Quantity,
        "intorstring" => Kind::IntOrString,
        "rawext" => Kind::RawExtension,
        "fieldsv1" => Kind::FieldsV1,
        "duration" => Kind::Duration,
        _ => {
            if let Some(name) = word.strip_prefix("msg:") {
                Kind::Message(index(name).ok_or_else(|| format!("unknown message {name}"))?)
            } else if let Some(value) = word.strip_prefix("map:") {
                Kind::Map(Box::leak(Box::new(parse_kind(value, index)?)))
            } else {
                return Err(format!("unknown kind {word}"));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_knows_the_core_kinds() {
        let s = schema();
        assert!(s.origin.contains("@generated"), "{}", s.origin);
        let cm = s.message(s.kind("", "v1", "ConfigMap").expect("ConfigMap"));
        assert_eq!(cm.name, "core/v1.ConfigMap");
        let data = &cm.fields[cm.field_index(2).unwrap()];
        assert_eq!((data.json, data.omitempty, data.repeated), ("data", true, false));
        assert!(matches!(data.kind, Kind::Map(Kind::String)));
        assert!(s.api_kind("apps/v1", "Deployment").is_some());
        assert!(s.api_kind("v1", "Status").is_some());
        assert!(s.api_kind("example.com/v1", "Bot").is_none());
        assert!(s.has_group_version("", "v1") && s.has_group_version("apps", "v1"));
        assert!(!s.has_group_version("example.com", "v1") && !s.has_group_version("apps", "v9"));
    }

    #[test]
    fn every_message_of_the_table_parses() {
        let s = schema();
        for index in 0..s.names.len() {
            let message = s.message(u32::try_from(index).unwrap());
            assert!(message.fields.len() + usize::from(message.wrapper.is_some()) > 0 || message.name.contains('.'));
        }
        assert!(s.names.len() > 1000, "{}", s.names.len());
    }
}
