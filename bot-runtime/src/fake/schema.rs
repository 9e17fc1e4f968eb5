//! The shape of objects as server-side apply sees it (granular or atomic
//! maps and lists, list map keys), read from a CRD's structural schema or
//! from a small table of built-in kinds; pruning and defaulting of custom
//! resources.

use std::{collections::BTreeMap, sync::Arc};

use serde_json::{Map, Value};

/// The shape of one node of an object.
#[derive(Clone, Debug)]
pub(crate) enum Schema {
    /// A leaf: scalars, and atomic maps, structs and lists (replaced whole,
    /// owned as one field).
    Atomic,
    /// A struct with declared fields, maybe a map of other keys.
    Object(Arc<ObjectSchema>),
    /// A granular list: a set, or a map list keyed by some of its items' fields.
    List(Arc<ListSchema>),
    /// A built-in kind's node outside the table: objects are structs whose
    /// every key is a declared field, lists are atomic.
    Loose,
    /// Unknown content (`x-kubernetes-preserve-unknown-fields`, a CRD
    /// without schema): objects are granular maps, lists are atomic.
    Deduced,
}

/// A struct or map.
#[derive(Clone, Debug, Default)]
pub(crate) struct ObjectSchema {
    /// Declared fields (`properties`).
    pub(crate) fields: BTreeMap<String, Schema>,
    /// The shape of other keys (`additionalProperties`); `None`: other keys
    /// are pruned from custom resources.
    pub(crate) other: Option<Schema>,
    /// Declared fields' defaults.
    pub(crate) defaults: BTreeMap<String, Value>,
    /// Other keys are struct fields too (a built-in kind's node of which
    /// only some fields are described).
    pub(crate) loose: bool,
}

/// A granular list.
#[derive(Debug)]
pub(crate) struct ListSchema {
    /// The shape of its items.
    pub(crate) items: Schema,
    /// `None`: a set of scalars; else a map list keyed by these fields.
    pub(crate) keys: Option<Vec<String>>,
}

/// How a value is walked, given its schema.
pub(crate) enum Shape<'a> {
    /// Compared and owned whole.
    Leaf,
    /// Walked key by key.
    Map(&'a Map<String, Value>),
    /// Walked item by item.
    List(&'a [Value], &'a ListSchema),
}

impl Schema {
    /// A struct of `fields`, other keys pruned.
    pub(crate) fn strict(fields: impl IntoIterator<Item = (&'static str, Schema)>) -> Self {
        Schema::Object(Arc::new(ObjectSchema {
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            ..ObjectSchema::default()
        }))
    }

    /// A struct of `fields` whose other keys are [`Schema::Loose`] (a
    /// built-in kind's node with a few fields that matter).
    pub(crate) fn loose(fields: impl IntoIterator<Item = (&'static str, Schema)>) -> Self {
        Schema::Object(Arc::new(ObjectSchema {
            fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            other: Some(Schema::Loose),
            loose: true,
            ..ObjectSchema::default()
        }))
    }

    /// A granular map of `values`.
    pub(crate) fn map(values: Schema) -> Self {
        Schema::Object(Arc::new(ObjectSchema { other: Some(values), ..ObjectSchema::default() }))
    }

    /// A map list of `items` keyed by `keys`.
    pub(crate) fn map_list(keys: &[&str], items: Schema) -> Self {
        Schema::List(Arc::new(ListSchema { items, keys: Some(keys.iter().map(|k| k.to_string()).collect()) }))
    }

    /// A set of scalars.
    pub(crate) fn set() -> Self {
        Schema::List(Arc::new(ListSchema { items: Schema::Atomic, keys: None }))
    }

    /// How `value` is walked.
    pub(crate) fn shape<'a>(&'a self, value: &'a Value) -> Shape<'a> {
        match (self, value) {
            (Schema::Object(_) | Schema::Loose | Schema::Deduced, Value::Object(map)) => Shape::Map(map),
            (Schema::List(list), Value::Array(items)) => Shape::List(items, list),
            _ => Shape::Leaf,
        }
    }

    /// The schema of key `key` of this object.
    pub(crate) fn field(&self, key: &str) -> Schema {
        match self {
            Schema::Object(o) => o.fields.get(key).or(o.other.as_ref()).cloned().unwrap_or(Schema::Deduced),
            Schema::Loose => Schema::Loose,
            Schema::Deduced => Schema::Deduced,
            Schema::Atomic | Schema::List(_) => Schema::Atomic,
        }
    }

    /// Whether `key` is a declared field of this struct (not a map key).
    pub(crate) fn is_named(&self, key: &str) -> bool {
        match self {
            Schema::Object(o) => o.loose || o.fields.contains_key(key),
            Schema::Loose => true,
            _ => false,
        }
    }

    /// Removes, recursively, the keys of objects the schema does not
    /// declare (the apiserver's pruning of custom resources).
    pub(crate) fn prune(&self, value: &mut Value) {
        match (self, value) {
            (Schema::Object(o), Value::Object(map)) => {
                map.retain(|k, _| o.fields.contains_key(k) || o.other.is_some());
                for (k, v) in map.iter_mut() {
                    self.field(k).prune(v);
                }
            }
            (Schema::List(l), Value::Array(items)) => items.iter_mut().for_each(|i| l.items.prune(i)),
            _ => {}
        }
    }

    /// Sets the declared defaults of missing fields, recursively (the
    /// apiserver's structural defaulting of custom resources).
    pub(crate) fn default(&self, value: &mut Value) {
        match (self, value) {
            (Schema::Object(o), Value::Object(map)) => {
                for (k, d) in &o.defaults {
                    if map.get(k).is_none_or(Value::is_null) {
                        map.insert(k.clone(), d.clone());
                    }
                }
                for (k, v) in map.iter_mut() {
                    self.field(k).default(v);
                }
            }
            (Schema::List(l), Value::Array(items)) => items.iter_mut().for_each(|i| l.items.default(i)),
            _ => {}
        }
    }

    /// The default of declared field `key`, if any.
    pub(crate) fn default_of(&self, key: &str) -> Option<&Value> {
        match self {
            Schema::Object(o) => o.defaults.get(key),
            _ => None,
        }
    }

    /// The schema of a CRD version's object, from its `openAPIV3Schema`
    /// (`None`: no schema, everything is kept and deduced).
    pub(crate) fn from_crd(schema: Option<&Value>) -> Self {
        let Some(schema) = schema else {
            return root(Schema::Deduced);
        };
        match from_props(schema) {
            Schema::Object(o) => {
                let mut o = Arc::unwrap_or_clone(o);
                o.fields.insert("apiVersion".into(), Schema::Atomic);
                o.fields.insert("kind".into(), Schema::Atomic);
                o.fields.insert("metadata".into(), object_meta());
                Schema::Object(Arc::new(o))
            }
            other => root(other),
        }
    }
}

/// A root object: apiVersion, kind, metadata, and `rest` for other keys.
fn root(rest: Schema) -> Schema {
    Schema::Object(Arc::new(ObjectSchema {
        fields: [("apiVersion", Schema::Atomic), ("kind", Schema::Atomic), ("metadata", object_meta())]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        other: Some(rest),
        ..ObjectSchema::default()
    }))
}

/// `metav1.ObjectMeta`: labels and annotations granular maps, finalizers a
/// set, ownerReferences a map list keyed by uid.
pub(crate) fn object_meta() -> Schema {
    let scalars = || Schema::map(Schema::Atomic);
    Schema::strict([
        ("name", Schema::Atomic),
        ("generateName", Schema::Atomic),
        ("namespace", Schema::Atomic),
        ("selfLink", Schema::Atomic),
        ("uid", Schema::Atomic),
        ("resourceVersion", Schema::Atomic),
        ("generation", Schema::Atomic),
        ("creationTimestamp", Schema::Atomic),
        ("deletionTimestamp", Schema::Atomic),
        ("deletionGracePeriodSeconds", Schema::Atomic),
        ("labels", scalars()),
        ("annotations", scalars()),
        ("ownerReferences", Schema::map_list(&["uid"], Schema::Loose)),
        ("finalizers", Schema::set()),
        ("managedFields", Schema::Atomic),
    ])
}

/// One node of a structural schema (`JSONSchemaProps` as JSON).
fn from_props(props: &Value) -> Schema {
    let flag = |name: &str| props.get(name).and_then(Value::as_bool).unwrap_or(false);
    if flag("x-kubernetes-int-or-string") {
        return Schema::Atomic;
    }
    let type_ = props.get("type").and_then(Value::as_str).unwrap_or_default();
    if type_ == "array" {
        let items = props.get("items").map(from_props).unwrap_or(Schema::Deduced);
        return match props.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => {
                let keys = props.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
                let keys = keys.map(|k| k.iter().filter_map(|k| k.as_str().map(str::to_string)).collect());
                Schema::List(Arc::new(ListSchema { items, keys: Some(keys.unwrap_or_default()) }))
            }
            Some("set") => Schema::List(Arc::new(ListSchema { items, keys: None })),
            _ => Schema::Atomic,
        };
    }
    let properties = props.get("properties").and_then(Value::as_object);
    let additional = props.get("additionalProperties");
    let preserve = flag("x-kubernetes-preserve-unknown-fields");
    let embedded = flag("x-kubernetes-embedded-resource");
    if type_ != "object" && properties.is_none() && additional.is_none() {
        return if preserve { Schema::Deduced } else { Schema::Atomic };
    }
    if props.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic") {
        return Schema::Atomic;
    }
    let mut object = ObjectSchema::default();
    for (name, child) in properties.into_iter().flatten() {
        object.fields.insert(name.clone(), from_props(child));
        if let Some(default) = child.get("default") {
            object.defaults.insert(name.clone(), default.clone());
        }
    }
    if embedded {
        object.fields.entry("apiVersion".into()).or_insert(Schema::Atomic);
        object.fields.entry("kind".into()).or_insert(Schema::Atomic);
        object.fields.insert("metadata".into(), object_meta());
    }
    object.other = match additional {
        Some(Value::Bool(true)) => Some(Schema::Deduced),
        Some(Value::Object(schema)) if !schema.is_empty() => Some(from_props(&Value::Object(schema.clone()))),
        Some(Value::Object(_)) => Some(Schema::Deduced),
        _ if preserve => Some(Schema::Deduced),
        _ => None,
    };
    Schema::Object(Arc::new(object))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn crd_schema_prunes_and_defaults() {
        let schema = Schema::from_crd(Some(&json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "replicas": { "type": "integer", "default": 1 },
                        "service": { "type": "object", "default": {}, "properties": {
                            "type": { "type": "string", "default": "ClusterIP" }
                        } },
                        "items": { "type": "array", "x-kubernetes-list-type": "map",
                            "x-kubernetes-list-map-keys": ["name"],
                            "items": { "type": "object", "properties": { "name": { "type": "string" } } } },
                        "free": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
                    }
                }
            }
        })));
        let mut obj = json!({
            "apiVersion": "x/v1", "kind": "X", "metadata": { "name": "a", "bogus": 1 },
            "spec": { "unknown": 1, "free": { "any": { "thing": [1] } }, "items": [{ "name": "n", "extra": 2 }] },
            "top": 3
        });
        schema.prune(&mut obj);
        schema.default(&mut obj);
        assert_eq!(
            obj,
            json!({
                "apiVersion": "x/v1", "kind": "X", "metadata": { "name": "a" },
                "spec": { "replicas": 1, "service": { "type": "ClusterIP" },
                          "free": { "any": { "thing": [1] } }, "items": [{ "name": "n" }] }
            })
        );
        let spec = schema.field("spec");
        assert!(spec.is_named("replicas"));
        assert!(!spec.field("free").is_named("any"));
        assert!(matches!(spec.field("items"), Schema::List(l) if l.keys.as_deref() == Some(&["name".to_string()][..])));
    }
}
