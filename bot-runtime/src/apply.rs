//! Server-side apply: typed apply configurations and client-go's `ExtractX`.
//!
//! An apply configuration is a partial object: every field optional, and
//! only the fields that are set are sent, so a field manager states exactly
//! the fields it cares about (client-go's applyconfiguration-gen). bot-gen
//! generates one per kind (`BotApply`) and per type its spec and status use
//! (`BotSpecApply`, ...), in the module `applyconfigurations`; they share the
//! metadata types of this module ([`ObjectMetaApply`],
//! [`OwnerReferenceApply`]) and implement [`ApplyConfiguration`], which the
//! typed clients' `apply` and `apply_status` take.
//!
//! A field of type `T` in a source struct becomes `Option<T'>` in its apply
//! configuration: `T'` is `T`'s own apply configuration when `T` is a struct
//! of the generator's inputs, lists and maps of those become lists and
//! `BTreeMap`s of apply configurations, anything else is kept as it is
//! (enums, scalars, k8s-openapi types, which serialize only what is set).
//! Serde's naming attributes are copied as written (`rename_all`, `rename`,
//! `alias`, `flatten`); `skip` and `skip_serializing` fields are left out.
//! Limits: a field with its own serializer (`with`, `serialize_with`) or of
//! a private enum is raw JSON (`serde_json::Value`); generic, `transparent`,
//! tagged and `from`/`into` structs are kept whole; types the generator does
//! not read (other crates) are kept whole. Builders append to lists and add
//! to maps (client-go's `WithX`); `TryFrom<&Source>` converts a whole value.
//!
//! [`extract`] (behind every generated `extract_<kind>`) turns an object back
//! into the apply configuration of the fields one manager owns, read from
//! `metadata.managedFields`: the basis of a read-modify-apply loop that does
//! not take over fields other managers set.
//!
//! ```
//! use bot_runtime::apply::{ObjectMetaApply, extract_into};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use serde_json::json;
//!
//! let cm: ConfigMap = serde_json::from_value(json!({
//!     "metadata": { "name": "settings", "namespace": "ns", "managedFields": [
//!         { "manager": "me", "operation": "Apply", "fieldsType": "FieldsV1",
//!           "fieldsV1": { "f:data": { "f:mine": {} } } },
//!         { "manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1",
//!           "fieldsV1": { "f:data": { "f:theirs": {} } } },
//!     ] },
//!     "data": { "mine": "1", "theirs": "2" },
//! }))?;
//! let mine: serde_json::Value = extract_into(&cm, "me", None)?;
//! assert_eq!(mine["data"], json!({ "mine": "1" }));
//! assert_eq!(mine["metadata"], json!({ "name": "settings", "namespace": "ns" }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, OwnerReference};
use kube::Resource;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

/// What can go wrong while extracting or converting apply configurations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object could not be serialized to JSON.
    #[error("cannot serialize the object: {0}")]
    Encode(#[source] serde_json::Error),
    /// The extracted fields do not fit the apply configuration type (a field
    /// the manager owns has a shape the type does not allow).
    #[error("the fields owned by `{manager}` do not fit the apply configuration: {source}")]
    Decode {
        /// The field manager extracted.
        manager: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// A `managedFields` entry's `fieldsV1` is not a field set (a key that
    /// is not `f:`, `k:`, `v:`, `i:` or `.`, or a `k:`/`v:` key that is not
    /// JSON).
    #[error("malformed fieldsV1 key `{0}`")]
    FieldSet(String),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A typed apply configuration of a whole object (`BotApply`), as the
/// typed clients' `apply` and `apply_status` take it. bot-gen implements it
/// for every generated root apply configuration.
pub trait ApplyConfiguration: Serialize + DeserializeOwned + Default {
    /// The kind it applies to.
    type Object: Resource;

    /// Its metadata, if set.
    fn object_meta(&self) -> Option<&ObjectMetaApply>;

    /// Its metadata, created empty when unset.
    fn object_meta_mut(&mut self) -> &mut ObjectMetaApply;

    /// `metadata.name`, which names the object the configuration is applied to.
    fn name(&self) -> Option<&str> {
        self.object_meta().and_then(|m| m.name.as_deref())
    }
}

/// Apply configuration of `ObjectMeta` (client-go's
/// `ObjectMetaApplyConfiguration`): the metadata fields a manager may own.
/// Only what is set is sent.
///
/// ```
/// use bot_runtime::apply::ObjectMetaApply;
///
/// let meta = ObjectMetaApply::new("web", "prod").label("tier", "front").annotation("note", "x");
/// assert_eq!(
///     serde_json::to_value(&meta).unwrap(),
///     serde_json::json!({ "name": "web", "namespace": "prod",
///                         "labels": { "tier": "front" }, "annotations": { "note": "x" } })
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMetaApply {
    /// `metadata.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `metadata.generateName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// `metadata.namespace`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.resourceVersion`: when set, the apply fails with a conflict
    /// unless the object is at this version (optimistic concurrency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// `metadata.labels` this manager owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `metadata.annotations` this manager owns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// `metadata.ownerReferences` this manager owns (a map list keyed by `uid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_references: Option<Vec<OwnerReferenceApply>>,
    /// `metadata.finalizers` this manager owns (a set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finalizers: Option<Vec<String>>,
}

impl ObjectMetaApply {
    /// Metadata naming `name` in `namespace`.
    pub fn new(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self { name: Some(name.into()), namespace: Some(namespace.into()), ..Self::default() }
    }

    /// Metadata naming the cluster-scoped object `name`.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self { name: Some(name.into()), ..Self::default() }
    }

    /// Sets `name`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `generateName`.
    pub fn generate_name(mut self, prefix: impl Into<String>) -> Self {
        self.generate_name = Some(prefix.into());
        self
    }

    /// Sets `namespace`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets `resourceVersion` (the apply then fails on a newer object).
    pub fn resource_version(mut self, version: impl Into<String>) -> Self {
        self.resource_version = Some(version.into());
        self
    }

    /// Adds one label (client-go's `WithLabels` merges).
    pub fn label(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels([(key, value)])
    }

    /// Adds labels, keeping those already set.
    pub fn labels<K: Into<String>, V: Into<String>>(mut self, entries: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = self.labels.get_or_insert_with(BTreeMap::new);
        map.extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Adds one annotation.
    pub fn annotation(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations([(key, value)])
    }

    /// Adds annotations, keeping those already set.
    pub fn annotations<K: Into<String>, V: Into<String>>(mut self, entries: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = self.annotations.get_or_insert_with(BTreeMap::new);
        map.extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Appends an owner reference (an [`OwnerReference`] converts).
    pub fn owner_reference(mut self, reference: impl Into<OwnerReferenceApply>) -> Self {
        self.owner_references.get_or_insert_with(Vec::new).push(reference.into());
        self
    }

    /// Appends owner references.
    pub fn owner_references<R: Into<OwnerReferenceApply>>(mut self, references: impl IntoIterator<Item = R>) -> Self {
        self.owner_references.get_or_insert_with(Vec::new).extend(references.into_iter().map(Into::into));
        self
    }

    /// Appends finalizers.
    pub fn finalizers<F: Into<String>>(mut self, finalizers: impl IntoIterator<Item = F>) -> Self {
        self.finalizers.get_or_insert_with(Vec::new).extend(finalizers.into_iter().map(Into::into));
        self
    }
}

/// Apply configuration of an `OwnerReference`: every field optional (a
/// manager may own part of an entry); entries are keyed by `uid`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReferenceApply {
    /// API version of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// UID of the owner: the key of the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Whether the owner is the managing controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    /// Whether foreground deletion of the owner waits for this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

impl From<OwnerReference> for OwnerReferenceApply {
    fn from(r: OwnerReference) -> Self {
        Self {
            api_version: Some(r.api_version),
            kind: Some(r.kind),
            name: Some(r.name),
            uid: Some(r.uid),
            controller: r.controller,
            block_owner_deletion: r.block_owner_deletion,
        }
    }
}

/// The apply configuration `A` of the fields `field_manager` owns in `obj`
/// through server-side apply (client-go's `ExtractX`): `subresource` `None`
/// for the object's own entry, `Some("status")` for what it applied to the
/// status subresource. Name, namespace, apiVersion and kind are always set;
/// a manager that owns nothing gets just those.
///
/// Only `Apply` entries count (fields written by update or patch calls are
/// not part of any apply configuration). `obj` needs its `managedFields`: an
/// object from an informer whose transform drops them extracts as empty.
/// Owned fields the apply type has no field for are dropped.
pub fn extract<A>(obj: &A::Object, field_manager: &str, subresource: Option<&str>) -> Result<A>
where
    A: ApplyConfiguration,
    A::Object: Serialize,
    <A::Object as Resource>::DynamicType: Default,
{
    extract_into(obj, field_manager, subresource)
}

/// [`extract`] into any deserializable type `T`: a generated apply
/// configuration, the object's own type (a k8s-openapi type serializes only
/// what is set, so `Deployment` works as its own apply configuration), or a
/// [`serde_json::Value`].
pub fn extract_into<K, T>(obj: &K, field_manager: &str, subresource: Option<&str>) -> Result<T>
where
    K: Resource + Serialize,
    K::DynamicType: Default,
    T: DeserializeOwned,
{
    let full = serde_json::to_value(obj).map_err(Error::Encode)?;
    let mut owned = match owned_fields(obj.meta().managed_fields.as_deref(), field_manager, subresource) {
        Some(set) => extract_value(&full, set)?,
        None => Value::Object(Map::new()),
    };
    let dt = K::DynamicType::default();
    if let Value::Object(object) = &mut owned {
        object.insert("apiVersion".into(), Value::String(K::api_version(&dt).into_owned()));
        object.insert("kind".into(), Value::String(K::kind(&dt).into_owned()));
        let meta = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(meta) = meta {
            if let Some(name) = &obj.meta().name {
                meta.insert("name".into(), Value::String(name.clone()));
            }
            if let Some(ns) = &obj.meta().namespace {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
        }
    }
    serde_json::from_value(owned).map_err(|source| Error::Decode { manager: field_manager.into(), source })
}

/// The `fieldsV1` of `field_manager`'s `Apply` entry for `subresource`
/// (`None`: the object itself), if it has one.
pub fn owned_fields<'a>(
    managed_fields: Option<&'a [ManagedFieldsEntry]>,
    field_manager: &str,
    subresource: Option<&str>,
) -> Option<&'a Value> {
    managed_fields?
        .iter()
        .find(|e| {
            e.manager.as_deref() == Some(field_manager)
                && e.operation.as_deref() == Some("Apply")
                && e.subresource.as_deref().filter(|s| !s.is_empty()) == subresource
        })
        .and_then(|e| e.fields_v1.as_ref())
        .map(|f| &f.0)
}

/// The part of `value` that the field set `fields` (a `fieldsV1` value)
/// names: `f:` fields of objects, `k:` items of map lists (with their key
/// fields), `v:` items of sets, `i:` items by index; a field whose set is
/// empty is taken whole. List items keep their order in `value`.
pub fn extract_value(value: &Value, fields: &Value) -> Result<Value> {
    let Value::Object(set) = fields else { return Ok(value.clone()) };
    if set.keys().all(|k| k == ".") {
        // The node itself and nothing below: a leaf (scalar, atomic list or map).
        return Ok(match value {
            Value::Object(_) if !set.is_empty() => Value::Object(Map::new()),
            _ => value.clone(),
        });
    }
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, sub) in set {
                if key == "." {
                    continue;
                }
                let name = key.strip_prefix("f:").ok_or_else(|| Error::FieldSet(key.clone()))?;
                if let Some(child) = object.get(name) {
                    out.insert(name.to_string(), extract_value(child, sub)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut picked: Vec<(usize, Value)> = Vec::new();
            for (key, sub) in set {
                if key == "." {
                    continue;
                }
                for i in select_items(items, key)? {
                    let mut item = extract_value(&items[i], sub)?;
                    if let (Some(k), Value::Object(o)) = (key.strip_prefix("k:"), &mut item) {
                        let keys: Map<String, Value> =
                            serde_json::from_str(k).map_err(|_| Error::FieldSet(key.clone()))?;
                        o.extend(keys);
                    }
                    picked.push((i, item));
                }
            }
            picked.sort_by_key(|(i, _)| *i);
            picked.dedup_by_key(|(i, _)| *i);
            Ok(Value::Array(picked.into_iter().map(|(_, v)| v).collect()))
        }
        other => Ok(other.clone()),
    }
}

/// Indices of the items of a list a `k:`, `v:` or `i:` key names.
fn select_items(items: &[Value], key: &str) -> Result<Vec<usize>> {
    let bad = || Error::FieldSet(key.to_string());
    if let Some(k) = key.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(k).map_err(|_| bad())?;
        Ok((0..items.len()).filter(|&i| keys.iter().all(|(f, v)| items[i].get(f) == Some(v))).collect())
    } else if let Some(v) = key.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(v).map_err(|_| bad())?;
        Ok((0..items.len()).filter(|&i| items[i] == wanted).collect())
    } else if let Some(i) = key.strip_prefix("i:") {
        let i: usize = i.parse().map_err(|_| bad())?;
        Ok(if i < items.len() { vec![i] } else { Vec::new() })
    } else {
        Err(bad())
    }
}

/// The paths a field set (`fieldsV1`) names, readable and comparable:
/// `.spec.replicas`, `.metadata.labels.app`,
/// `.spec.ports[port=80,protocol="TCP"].name`, `.metadata.finalizers[="x"]`,
/// `.list[3]`. A path is listed for every leaf and for every node the set
/// marks as owned itself (`.`).
///
/// ```
/// let set = serde_json::json!({
///     "f:spec": { "f:replicas": {}, "f:ports": { "k:{\"port\":80}": { ".": {}, "f:name": {} } } }
/// });
/// let paths: Vec<String> = bot_runtime::apply::field_paths(&set).into_iter().collect();
/// assert_eq!(paths, [".spec.ports[port=80]", ".spec.ports[port=80].name", ".spec.replicas"]);
/// ```
pub fn field_paths(fields: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect_paths(fields, String::new(), &mut out);
    out
}

fn collect_paths(fields: &Value, prefix: String, out: &mut BTreeSet<String>) {
    let Value::Object(set) = fields else { return };
    if set.is_empty() && !prefix.is_empty() {
        out.insert(prefix);
        return;
    }
    for (key, sub) in set {
        let path = if key == "." {
            out.insert(prefix.clone());
            continue;
        } else if let Some(f) = key.strip_prefix("f:") {
            format!("{prefix}.{f}")
        } else if let Some(k) = key.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = keys.iter().map(|(f, v)| format!("{f}={v}")).collect();
            format!("{prefix}[{}]", parts.join(","))
        } else if let Some(v) = key.strip_prefix("v:") {
            format!("{prefix}[={v}]")
        } else if let Some(i) = key.strip_prefix("i:") {
            format!("{prefix}[{i}]")
        } else {
            format!("{prefix}.{key}")
        };
        collect_paths(sub, path, out);
    }
}

/// Converts a value to another type through its JSON: a source type into
/// its apply configuration (everything the value serializes becomes set,
/// honouring the source type's own `skip_serializing_if`), or back.
pub fn convert<S: Serialize, T: DeserializeOwned>(value: &S) -> Result<T> {
    let json = serde_json::to_value(value).map_err(Error::Encode)?;
    serde_json::from_value(json).map_err(|source| Error::Decode { manager: String::new(), source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use serde_json::json;

    fn entry(manager: &str, operation: &str, subresource: Option<&str>, fields: Value) -> Value {
        json!({ "manager": manager, "operation": operation, "subresource": subresource,
                "fieldsType": "FieldsV1", "fieldsV1": fields })
    }

    fn deployment() -> Deployment {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web", "namespace": "ns",
                "labels": { "mine": "a", "theirs": "b" },
                "finalizers": ["x", "y"],
                "managedFields": [
                    entry("me", "Apply", None, json!({
                        "f:metadata": { "f:labels": { "f:mine": {} }, "f:finalizers": { "v:\"y\"": {} } },
                        "f:spec": {
                            "f:replicas": {},
                            "f:template": { "f:spec": { "f:containers": {
                                "k:{\"name\":\"app\"}": { ".": {}, "f:image": {}, "f:name": {},
                                    "f:ports": { "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": { ".": {}, "f:containerPort": {} } } }
                            } } }
                        }
                    })),
                    entry("me", "Update", None, json!({ "f:spec": { "f:paused": {} } })),
                    entry("me", "Apply", Some("status"), json!({ "f:status": { "f:replicas": {} } })),
                    entry("other", "Apply", None, json!({ "f:metadata": { "f:labels": { "f:theirs": {} } } })),
                ],
            },
            "spec": {
                "replicas": 2, "paused": true,
                "selector": { "matchLabels": { "app": "web" } },
                "template": { "spec": { "containers": [
                    { "name": "sidecar", "image": "s" },
                    { "name": "app", "image": "a", "imagePullPolicy": "Always",
                      "ports": [{ "containerPort": 80, "protocol": "TCP", "name": "http" }] },
                ] } }
            },
            "status": { "replicas": 1, "readyReplicas": 1 },
        }))
        .unwrap()
    }

    #[test]
    fn extracts_exactly_the_apply_entry_of_the_manager() {
        let mine: Value = extract_into(&deployment(), "me", None).unwrap();
        assert_eq!(
            mine,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": { "name": "web", "namespace": "ns", "labels": { "mine": "a" }, "finalizers": ["y"] },
                "spec": { "replicas": 2, "template": { "spec": { "containers": [
                    { "name": "app", "image": "a", "ports": [{ "containerPort": 80, "protocol": "TCP" }] }
                ] } } },
            })
        );
        let status: Value = extract_into(&deployment(), "me", Some("status")).unwrap();
        assert_eq!(status["status"], json!({ "replicas": 1 }));
        assert!(status.get("spec").is_none());
    }

    #[test]
    fn a_manager_without_an_apply_entry_gets_name_and_type_only() {
        let none: Value = extract_into(&deployment(), "nobody", None).unwrap();
        assert_eq!(
            none,
            json!({ "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web", "namespace": "ns" } })
        );
        // Into the object's own type: it serializes only what is set.
        let typed: Deployment = extract_into(&deployment(), "other", None).unwrap();
        assert_eq!(typed.metadata.labels.unwrap().into_iter().collect::<Vec<_>>(), [("theirs".into(), "b".into())]);
        assert!(typed.spec.is_none());
    }

    #[test]
    fn malformed_field_sets_are_errors() {
        let err = extract_value(&json!({ "a": 1 }), &json!({ "a": {} })).unwrap_err();
        assert!(matches!(err, Error::FieldSet(k) if k == "a"));
        let err = extract_value(&json!([1]), &json!({ "k:not json": {} })).unwrap_err();
        assert!(matches!(err, Error::FieldSet(_)));
    }

    #[test]
    fn field_paths_are_readable() {
        let d = deployment();
        let set = owned_fields(d.metadata.managed_fields.as_deref(), "me", None).unwrap();
        let paths: Vec<String> = field_paths(set).into_iter().collect();
        assert_eq!(
            paths,
            [
                ".metadata.finalizers[=\"y\"]",
                ".metadata.labels.mine",
                ".spec.replicas",
                ".spec.template.spec.containers[name=\"app\"]",
                ".spec.template.spec.containers[name=\"app\"].image",
                ".spec.template.spec.containers[name=\"app\"].name",
                ".spec.template.spec.containers[name=\"app\"].ports[containerPort=80,protocol=\"TCP\"]",
                ".spec.template.spec.containers[name=\"app\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
            ]
        );
    }

    #[test]
    fn object_meta_builders_merge_and_append() {
        let owner = OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "o".into(),
            uid: "u".into(),
            ..OwnerReference::default()
        };
        let meta = ObjectMetaApply::cluster("x")
            .labels([("a", "1"), ("b", "2")])
            .label("a", "3")
            .owner_reference(owner)
            .finalizers(["f"]);
        assert_eq!(
            serde_json::to_value(&meta).unwrap(),
            json!({ "name": "x", "labels": { "a": "3", "b": "2" }, "finalizers": ["f"],
                    "ownerReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u" }] })
        );
        let back: ObjectMetaApply = convert(&meta).unwrap();
        assert_eq!(back, meta);
    }
}
