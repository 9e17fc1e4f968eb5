//! Field paths and sets of them, as structured-merge-diff computes them for
//! server-side apply: the fields of an applied configuration, the fields
//! an update added, changed or removed, and their `fieldsV1` encoding.

use std::{collections::BTreeSet, fmt};

use serde_json::{Map, Value};

use super::schema::{ListSchema, Schema, Shape};

/// One step of a path: a field, a map-list item by its keys, a set item by
/// its value, or a list index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Element {
    /// `f:name`
    Field(String),
    /// `k:{"name":"c"}`: key fields sorted by name, values as JSON.
    Key(Vec<(String, String)>),
    /// `v:"value"`: the item as JSON.
    Value(String),
    /// `i:3`
    Index(usize),
}

/// A path from the object's root.
pub(crate) type Path = Vec<Element>;

/// A set of paths (each a member: owned, added, changed...).
pub(crate) type FieldSet = BTreeSet<Path>;

impl fmt::Display for Element {
    /// The apiserver's notation in conflict messages: `.spec.x`,
    /// `[name="c"]`, `[="v"]`, `[3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Field(name) => write!(f, ".{name}"),
            Element::Key(keys) => {
                let keys: Vec<_> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", keys.join(","))
            }
            Element::Value(v) => write!(f, "[={v}]"),
            Element::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path in the apiserver's notation (`.spec.containers[name="c"].image`).
pub(crate) fn display(path: &Path) -> String {
    path.iter().map(ToString::to_string).collect()
}

/// The element naming `item` in list `list`.
pub(crate) fn item_element(list: &ListSchema, item: &Value) -> Element {
    match &list.keys {
        None => Element::Value(item.to_string()),
        Some(keys) => Element::Key(
            keys.iter()
                .filter_map(|k| {
                    let value = item.get(k).filter(|v| !v.is_null()).or_else(|| list.items.default_of(k))?;
                    Some((k.clone(), value.to_string()))
                })
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .collect(),
        ),
    }
}

/// The fields of `value` as an applied configuration owns them: leaves,
/// empty or null maps, map keys (not struct fields), list items.
pub(crate) fn of_config(value: &Value, schema: &Schema) -> FieldSet {
    let mut set = FieldSet::new();
    walk_config(value, schema, &mut Vec::new(), &mut set);
    set
}

fn walk_config(value: &Value, schema: &Schema, path: &mut Path, set: &mut FieldSet) {
    match schema.shape(value) {
        Shape::Leaf => {
            set.insert(path.clone());
        }
        Shape::Map(map) => {
            for (k, v) in map {
                path.push(Element::Field(k.clone()));
                walk_config(v, &schema.field(k), path, set);
                let empty = v.is_null() || v.as_object().is_some_and(Map::is_empty);
                if empty || !schema.is_named(k) {
                    set.insert(path.clone());
                }
                path.pop();
            }
        }
        Shape::List(items, list) => {
            for item in items {
                path.push(item_element(list, item));
                walk_config(item, &list.items, path, set);
                set.insert(path.clone());
                path.pop();
            }
        }
    }
}

/// What changed from one version of an object to the next.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    /// Nodes present only in the new version (every node of an added subtree).
    pub(crate) added: FieldSet,
    /// Leaves whose value changed.
    pub(crate) modified: FieldSet,
    /// Nodes present only in the old version.
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Drops every path under one of `ignored` (fields a subresource resets).
    pub(crate) fn filter(&mut self, ignored: &FieldSet) {
        for set in [&mut self.added, &mut self.modified, &mut self.removed] {
            set.retain(|p| !under_any(p, ignored));
        }
    }
}

/// Compares two versions of an object.
pub(crate) fn compare(old: &Value, new: &Value, schema: &Schema) -> Comparison {
    let mut cmp = Comparison::default();
    walk_compare(Some(old), Some(new), schema, &mut Vec::new(), &mut cmp);
    cmp
}

fn walk_compare(old: Option<&Value>, new: Option<&Value>, schema: &Schema, path: &mut Path, cmp: &mut Comparison) {
    let Some(present) = new.or(old) else { return };
    match (old, new) {
        (Some(o), Some(n)) => {
            let granular = matches!(
                (schema.shape(o), schema.shape(n)),
                (Shape::Map(_), Shape::Map(_)) | (Shape::List(..), Shape::List(..))
            );
            if !granular {
                if o != n {
                    cmp.modified.insert(path.clone());
                }
                return;
            }
        }
        (None, _) => {
            cmp.added.insert(path.clone());
        }
        (_, None) => {
            cmp.removed.insert(path.clone());
        }
    }
    match schema.shape(present) {
        Shape::Leaf => {}
        Shape::Map(_) => {
            let (om, nm) = (old.and_then(Value::as_object), new.and_then(Value::as_object));
            let keys: BTreeSet<&String> = om.into_iter().chain(nm).flat_map(|m| m.keys()).collect();
            for k in keys {
                path.push(Element::Field(k.clone()));
                walk_compare(om.and_then(|m| m.get(k)), nm.and_then(|m| m.get(k)), &schema.field(k), path, cmp);
                path.pop();
            }
        }
        Shape::List(_, list) => {
            let index = |v: Option<&Value>| -> Vec<(Element, Value)> {
                let items = v.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
                items.iter().map(|i| (item_element(list, i), i.clone())).collect()
            };
            let (oi, ni) = (index(old), index(new));
            let elements: BTreeSet<&Element> = oi.iter().chain(ni.iter()).map(|(e, _)| e).collect();
            for e in elements {
                let find = |items: &[(Element, Value)]| items.iter().find(|(x, _)| x == e).map(|(_, v)| v.clone());
                let (o, n) = (find(&oi), find(&ni));
                path.push(e.clone());
                walk_compare(o.as_ref(), n.as_ref(), &list.items, path, cmp);
                path.pop();
            }
        }
    }
}

/// Whether `path` is one of `set` or under one of them.
pub(crate) fn under_any(path: &Path, set: &FieldSet) -> bool {
    (0..=path.len()).any(|n| set.contains(&path[..n]))
}

/// `set` plus every struct field (named field) some member lies under:
/// structured-merge-diff's `EnsureNamedFieldsAreMembers`.
pub(crate) fn with_named_parents(set: &FieldSet, schema: &Schema) -> FieldSet {
    let mut out = set.clone();
    for path in set {
        let mut node = schema.clone();
        for n in 0..path.len() {
            let next = match &path[n] {
                Element::Field(name) => {
                    if n + 1 < path.len() && node.is_named(name) {
                        out.insert(path[..=n].to_vec());
                    }
                    node.field(name)
                }
                _ => match &node {
                    Schema::List(l) => l.items.clone(),
                    _ => Schema::Deduced,
                },
            };
            node = next;
        }
    }
    out
}

/// Every node of `value` (the paths `of_config` would give once every
/// struct field counts).
pub(crate) fn all_nodes(value: &Value, schema: &Schema) -> FieldSet {
    with_named_parents(&of_config(value, schema), schema)
}

/// Removes the subtree at each of `paths` from `value`.
pub(crate) fn remove(value: &mut Value, paths: &FieldSet, schema: &Schema) {
    // Only the topmost paths (removing a field first could change the key
    // of the item it belongs to); last first, so list indices stay valid.
    let top: Vec<&Path> = paths.iter().filter(|p| !(0..p.len()).any(|n| paths.contains(&p[..n]))).collect();
    for path in top.into_iter().rev() {
        remove_one(value, path, schema);
    }
}

fn remove_one(value: &mut Value, path: &[Element], schema: &Schema) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = value;
    let mut node_schema = schema.clone();
    for e in parents {
        let (next, next_schema) = match child_mut(node, e, &node_schema) {
            Some(found) => found,
            None => return,
        };
        node = next;
        node_schema = next_schema;
    }
    match (last, node) {
        (Element::Field(name), Value::Object(map)) => {
            map.remove(name);
        }
        (Element::Index(i), Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
        }
        (e, Value::Array(items)) => {
            if let Schema::List(l) = &node_schema {
                items.retain(|item| &item_element(l, item) != e);
            }
        }
        _ => {}
    }
}

/// The child of `node` at `e`, and its schema.
fn child_mut<'v>(node: &'v mut Value, e: &Element, schema: &Schema) -> Option<(&'v mut Value, Schema)> {
    match (e, node) {
        (Element::Field(name), Value::Object(map)) => Some((map.get_mut(name)?, schema.field(name))),
        (Element::Index(i), Value::Array(items)) => {
            let items_schema = match schema {
                Schema::List(l) => l.items.clone(),
                _ => Schema::Deduced,
            };
            Some((items.get_mut(*i)?, items_schema))
        }
        (e, Value::Array(items)) => {
            let Schema::List(l) = schema else { return None };
            let item = items.iter_mut().find(|item| &item_element(l, item) == e)?;
            Some((item, l.items.clone()))
        }
        _ => None,
    }
}

/// The `fieldsV1` JSON of a set.
pub(crate) fn encode(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for e in path {
            let entry = node.entry(encode_element(e)).or_insert_with(|| Value::Object(Map::new()));
            node = entry.as_object_mut().expect("fieldsV1 nodes are objects");
        }
    }
    // A member that also has children is marked with ".".
    mark_members(&mut root, set, &mut Vec::new());
    Value::Object(root)
}

fn mark_members(node: &mut Map<String, Value>, set: &FieldSet, path: &mut Path) {
    for (key, child) in node.iter_mut() {
        if key == "." {
            continue;
        }
        let Some(e) = decode_element(key) else { continue };
        path.push(e);
        if let Value::Object(child) = child {
            let has_children = child.keys().any(|k| k != ".");
            if has_children && set.contains(path) {
                child.insert(".".into(), Value::Object(Map::new()));
            }
            mark_members(child, set, path);
        }
        path.pop();
    }
}

fn encode_element(e: &Element) -> String {
    match e {
        Element::Field(name) => format!("f:{name}"),
        Element::Key(keys) => {
            let body: Vec<_> = keys.iter().map(|(k, v)| format!("{}:{v}", Value::String(k.clone()))).collect();
            format!("k:{{{}}}", body.join(","))
        }
        Element::Value(v) => format!("v:{v}"),
        Element::Index(i) => format!("i:{i}"),
    }
}

fn decode_element(key: &str) -> Option<Element> {
    let (kind, rest) = key.split_once(':')?;
    Some(match kind {
        "f" => Element::Field(rest.to_string()),
        "v" => Element::Value(serde_json::from_str::<Value>(rest).ok()?.to_string()),
        "i" => Element::Index(rest.parse().ok()?),
        "k" => {
            let Value::Object(keys) = serde_json::from_str::<Value>(rest).ok()? else { return None };
            Element::Key(keys.into_iter().map(|(k, v)| (k, v.to_string())).collect())
        }
        _ => return None,
    })
}

/// The set a `fieldsV1` JSON encodes (unknown notation is skipped).
pub(crate) fn decode(fields: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(root) = fields {
        decode_node(root, &mut Vec::new(), &mut set);
    }
    set
}

fn decode_node(node: &Map<String, Value>, path: &mut Path, set: &mut FieldSet) {
    for (key, child) in node {
        if key == "." {
            set.insert(path.clone());
            continue;
        }
        let Some(e) = decode_element(key) else { continue };
        path.push(e);
        match child.as_object() {
            Some(children) if !children.is_empty() => decode_node(children, path, set),
            _ => {
                set.insert(path.clone());
            }
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake::schema::object_meta;

    fn configmap() -> Schema {
        Schema::loose([("metadata", object_meta()), ("data", Schema::map(Schema::Atomic))])
    }

    #[test]
    fn config_sets_own_leaves_and_keyed_items() {
        let schema = Schema::loose([(
            "spec",
            Schema::loose([(
                "containers",
                Schema::map_list(
                    &["name"],
                    Schema::loose([("ports", Schema::map_list(&["containerPort"], Schema::Loose))]),
                ),
            )]),
        )]);
        let set = of_config(
            &json!({ "spec": { "containers": [{ "name": "c", "image": "i", "ports": [{ "containerPort": 80 }] }] } }),
            &schema,
        );
        assert_eq!(
            encode(&set),
            json!({ "f:spec": { "f:containers": { "k:{\"name\":\"c\"}": {
                ".": {}, "f:image": {}, "f:name": {},
                "f:ports": { "k:{\"containerPort\":80}": { ".": {}, "f:containerPort": {} } }
            } } } })
        );
        assert_eq!(decode(&encode(&set)), set);
        let path = set.iter().find(|p| p.len() == 4).cloned().unwrap_or_default();
        assert_eq!(display(&path), ".spec.containers[name=\"c\"].image");
    }

    #[test]
    fn comparison_adds_every_node_of_a_new_subtree() {
        let old = json!({ "metadata": { "name": "a" } });
        let new = json!({ "metadata": { "name": "a", "labels": { "x": "1" } }, "data": { "k": "v" } });
        let cmp = compare(&old, &new, &configmap());
        assert_eq!(
            encode(&cmp.added),
            json!({ "f:data": { ".": {}, "f:k": {} }, "f:metadata": { "f:labels": { ".": {}, "f:x": {} } } })
        );
        assert!(cmp.modified.is_empty() && cmp.removed.is_empty());
        let cmp = compare(&new, &json!({ "metadata": { "name": "b" } }), &configmap());
        assert_eq!(encode(&cmp.modified), json!({ "f:metadata": { "f:name": {} } }));
        assert_eq!(cmp.removed.len(), 4);
    }

    #[test]
    fn removal_by_key_and_named_parents() {
        let schema = configmap();
        let mut obj = json!({ "metadata": { "name": "a", "finalizers": ["x", "y"] }, "data": { "a": "1", "b": "2" } });
        let set: FieldSet = [
            vec![Element::Field("data".into()), Element::Field("b".into())],
            vec![
                Element::Field("metadata".into()),
                Element::Field("finalizers".into()),
                Element::Value("\"x\"".into()),
            ],
        ]
        .into();
        remove(&mut obj, &set, &schema);
        assert_eq!(obj, json!({ "metadata": { "name": "a", "finalizers": ["y"] }, "data": { "a": "1" } }));
        let named = with_named_parents(&set, &schema);
        assert!(named.contains(&vec![Element::Field("data".into())]));
        assert!(named.contains(&vec![Element::Field("metadata".into()), Element::Field("finalizers".into())]));
    }
}
