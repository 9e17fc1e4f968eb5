//! The table of the built-in kinds' protobuf messages (`schema.txt`,
//! generated from k8s.io/api's Go types by `make proto-schema`): for each
//! message, its fields' numbers, JSON names, kinds and the Go encoding
//! rules (`omitempty`, pointer, inline) that decide what the apiserver's
//! JSON of the same object holds.

use std::collections::HashMap;
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
    pub(crate) fields: Vec<Field>,
    /// Field number -> index in `fields`.
    by_number: Vec<Option<u16>>,
    /// A wrapper of a named Go slice (`ExtraValue []string`): its JSON is
    /// the array of field 1, of this kind.
    pub(crate) wrapper: Option<Kind>,
}

impl Message {
    /// The index in `fields` of field `number`.
    pub(crate) fn field_index(&self, number: u32) -> Option<usize> {
        self.by_number.get(number as usize).copied().flatten().map(usize::from)
    }
}

/// The parsed table.
#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) messages: Vec<Message>,
    /// (group, version, kind) -> message.
    kinds: HashMap<(&'static str, &'static str, &'static str), u32>,
    /// The group-versions of `kinds`.
    group_versions: std::collections::HashSet<(&'static str, &'static str)>,
    /// Where the table came from (its first line).
    pub(crate) origin: &'static str,
}

/// The table generated from the k8s.io/api version this crate targets.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| match Schema::parse(include_str!("schema.txt")) {
        Ok(schema) => schema,
        // A unit test parses the same text: this cannot fail at run time.
        Err(e) => panic!("bot-runtime's protobuf schema.txt is malformed: {e}"),
    })
}

impl Schema {
    /// The message of kind `kind` in `group` (`""` for core) and `version`.
    pub(crate) fn kind(&self, group: &str, version: &str, kind: &str) -> Option<u32> {
        self.kinds.get(&(group, version, kind)).copied()
    }

    /// Whether any kind of `group` / `version` is in the table.
    pub(crate) fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.group_versions.contains(&(group, version))
    }

    /// The message of an `apiVersion` (`v1`, `apps/v1`) and kind.
    pub(crate) fn api_kind(&self, api_version: &str, kind: &str) -> Option<u32> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        self.kind(group, version, kind)
    }

    pub(crate) fn message(&self, index: u32) -> &Message {
        &self.messages[index as usize]
    }

    /// Parses the table's text (see `make proto-schema` for its format).
    pub(crate) fn parse(text: &'static str) -> Result<Self, String> {
        let origin = text.lines().next().unwrap_or_default().trim_start_matches("# ");
        // First pass: message names, so fields may refer to later messages.
        let mut index: HashMap<&str, u32> = HashMap::new();
        for line in text.lines() {
            let mut words = line.split(' ');
            if let (Some("M" | "W"), Some(name)) = (words.next(), words.next()) {
                let next = u32::try_from(index.len()).map_err(|_| "too many messages")?;
                if index.insert(name, next).is_some() {
                    return Err(format!("message {name} defined twice"));
                }
            }
        }
        let mut messages: Vec<Message> = Vec::with_capacity(index.len());
        let mut kinds = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let at = |e: String| format!("line {}: {e}: {line}", n + 1);
            let words: Vec<&'static str> = line.split(' ').collect();
            match words.as_slice() {
                ["#", ..] | [""] => {}
                ["K", group, version, kind, message] => {
                    let group = if *group == "-" { "" } else { group };
                    let message = *index.get(message).ok_or_else(|| at("unknown message".into()))?;
                    kinds.insert((group, *version, *kind), message);
                }
                ["M", name] => {
                    messages.push(Message { name, fields: Vec::new(), by_number: Vec::new(), wrapper: None })
                }
                ["W", name, elem] => {
                    let elem = parse_kind(elem, &index).map_err(at)?;
                    messages.push(Message { name, fields: Vec::new(), by_number: Vec::new(), wrapper: Some(elem) });
                }
                ["F", number, json, kind, flags] => {
                    let message = messages.last_mut().ok_or_else(|| at("field outside a message".into()))?;
                    let number: u32 = number.parse().map_err(|_| at("bad field number".into()))?;
                    let flag = |c| flags.contains(c);
                    message.fields.push(Field {
                        number,
                        json: if *json == "-" { "" } else { json },
                        kind: parse_kind(kind, &index).map_err(at)?,
                        repeated: flag('r'),
                        pointer: flag('p'),
                        omitempty: flag('o'),
                        inline: flag('i'),
                        omitzero: flag('z'),
                    });
                }
                _ => return Err(at("unrecognised line".into())),
            }
        }
        for message in &mut messages {
            message.fields.sort_by_key(|f| f.number);
            let max = message.fields.last().map_or(0, |f| f.number as usize);
            if max > 4096 {
                return Err(format!("{}: field number {max} is too large for the table", message.name));
            }
            message.by_number = vec![None; max + 1];
            for (i, f) in message.fields.iter().enumerate() {
                message.by_number[f.number as usize] = Some(u16::try_from(i).map_err(|_| "too many fields")?);
            }
        }
        let group_versions = kinds.keys().map(|&(g, v, _)| (g, v)).collect();
        Ok(Self { messages, kinds, group_versions, origin })
    }
}

fn parse_kind(word: &str, index: &HashMap<&str, u32>) -> Result<Kind, String> {
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
                Kind::Message(*index.get(name).ok_or_else(|| format!("unknown message {name}"))?)
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
    }
}
