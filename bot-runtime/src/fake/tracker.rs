//! The object tracker: every stored object, one global resourceVersion
//! counter (as etcd's revision), and the history of changes watches replay.

use std::collections::BTreeMap;

use serde_json::Value;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    /// Created.
    Added,
    /// Written.
    Modified,
    /// Removed.
    Deleted,
}

/// One change, at one resourceVersion.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    /// The resourceVersion of the change.
    pub(crate) rv: u64,
    /// `(group, plural)` of the object.
    pub(crate) resource: (String, String),
    /// Its namespace (`""` when cluster-scoped).
    pub(crate) namespace: String,
    /// Added, modified or deleted.
    pub(crate) type_: ChangeType,
    /// The object after the change (for a deletion: its last state, with
    /// the deletion's resourceVersion).
    pub(crate) object: Value,
    /// The object before the change, if any.
    pub(crate) previous: Option<Value>,
}

/// `(group, plural)`.
pub(crate) type ResourceKey = (String, String);
/// `(namespace, name)`.
pub(crate) type ObjectKey = (String, String);

/// Stored objects and their history.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    rv: u64,
    objects: BTreeMap<ResourceKey, BTreeMap<ObjectKey, Value>>,
    history: Vec<Change>,
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

impl Tracker {
    /// The current resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// The object `key` of `resource`.
    pub(crate) fn get(&self, resource: &ResourceKey, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(resource)?.get(key)
    }

    /// Every object of `resource` in `namespace` (all when `None`), in key order.
    pub(crate) fn list(&self, resource: &ResourceKey, namespace: Option<&str>) -> Vec<(&ObjectKey, &Value)> {
        let Some(objects) = self.objects.get(resource) else { return Vec::new() };
        objects.iter().filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns)).collect()
    }

    /// Stores `obj` (added or modified) at the next resourceVersion;
    /// returns it as stored.
    pub(crate) fn put(&mut self, resource: &ResourceKey, key: ObjectKey, mut obj: Value) -> Value {
        self.rv += 1;
        set_rv(&mut obj, self.rv);
        let objects = self.objects.entry(resource.clone()).or_default();
        let previous = objects.insert(key.clone(), obj.clone());
        let type_ = if previous.is_some() { ChangeType::Modified } else { ChangeType::Added };
        self.record(resource, key.0, type_, obj.clone(), previous);
        obj
    }

    /// Removes `key`; returns its last state with the deletion's resourceVersion.
    pub(crate) fn remove(&mut self, resource: &ResourceKey, key: &ObjectKey) -> Option<Value> {
        let previous = self.objects.get_mut(resource)?.remove(key)?;
        self.rv += 1;
        let mut last = previous.clone();
        set_rv(&mut last, self.rv);
        self.record(resource, key.0.clone(), ChangeType::Deleted, last.clone(), Some(previous));
        Some(last)
    }

    fn record(
        &mut self,
        resource: &ResourceKey,
        namespace: String,
        type_: ChangeType,
        object: Value,
        previous: Option<Value>,
    ) {
        self.history.push(Change { rv: self.rv, resource: resource.clone(), namespace, type_, object, previous });
    }

    /// Changes after resourceVersion `after`, from history index `from` on:
    /// `(next index, changes)`.
    pub(crate) fn changes_since(&self, from: usize, after: u64) -> (usize, Vec<Change>) {
        let start = from.max(self.history.partition_point(|c| c.rv <= after));
        (self.history.len(), self.history[start.min(self.history.len())..].to_vec())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_counter_and_a_replayable_history() {
        let mut t = Tracker::default();
        let cms = (String::new(), "configmaps".to_string());
        let key = ("ns".to_string(), "a".to_string());
        let a = t.put(&cms, key.clone(), json!({ "metadata": { "name": "a" } }));
        assert_eq!(a["metadata"]["resourceVersion"], "1");
        t.put(&cms, key.clone(), json!({ "metadata": { "name": "a" }, "data": {} }));
        let gone = t.remove(&cms, &key).expect("was there");
        assert_eq!(gone["metadata"]["resourceVersion"], "3");
        let (next, changes) = t.changes_since(0, 1);
        assert_eq!(next, 3);
        let types: Vec<_> = changes.iter().map(|c| c.type_).collect();
        assert_eq!(types, [ChangeType::Modified, ChangeType::Deleted]);
        assert!(t.list(&cms, None).is_empty());
    }
}
