//! A thread-safe, indexed cache of `Arc<K>` keyed by `namespace/name` (client-go's `Indexer`),
//! split into a read handle ([`Store`]) and the reflector's [`Writer`].

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    fmt,
    panic::AssertUnwindSafe,
    str::FromStr,
    sync::Arc,
};

use kube::Resource;
use parking_lot::RwLock;

/// Name of the index every [`Store`] has: objects by `metadata.namespace`.
pub const NAMESPACE_INDEX: &str = "namespace";

/// An index function: the index values an object is filed under (none, one or many).
///
/// It runs while the store is locked for writing: it must be a pure function
/// of the object and must not read the store (that would deadlock). A panic
/// in it loses nothing: the object is stored and filed under every other
/// index, without a value in that one, and the failure is recorded
/// ([`Writer::take_index_failures`]; the informer logs and counts it).
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// Errors of the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No index of this name was registered.
    #[error("index {0:?} does not exist")]
    UnknownIndex(String),
    /// A key string was not `name` or `namespace/name`.
    #[error("invalid object key {0:?}: expected `name` or `namespace/name`")]
    InvalidKey(String),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The key of a cached object: `namespace/name`, or `name` for cluster-scoped kinds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The namespace; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// A key from its parts (an empty namespace counts as none).
    pub fn new(namespace: Option<&str>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_string), name: name.into() }
    }

    /// The key of an object (from `metadata.namespace` and `metadata.name`).
    pub fn from_object<K: Resource>(obj: &K) -> Self {
        let meta = obj.meta();
        Self::new(meta.namespace.as_deref(), meta.name.clone().unwrap_or_default())
    }

    /// Parses `name` or `namespace/name`.
    pub fn parse(s: &str) -> Result<Self> {
        let invalid = || Error::InvalidKey(s.to_string());
        match s.split_once('/') {
            None if !s.is_empty() => Ok(Self::new(None, s)),
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Self::new(Some(ns), name))
            }
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

impl FromStr for ObjectKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// The index function of [`NAMESPACE_INDEX`]: an object's namespace (none when cluster-scoped).
pub fn namespace_index_fn<K: Resource>() -> IndexFn<K> {
    Arc::new(|obj: &K| obj.meta().namespace.iter().filter(|ns| !ns.is_empty()).cloned().collect())
}

/// One change a [`Writer`] operation made to a cache.
#[derive(Debug)]
pub enum Change<K> {
    /// A key that was absent now holds `new`.
    Added(Arc<K>),
    /// The object under a key was replaced.
    Updated {
        /// What was stored before.
        old: Arc<K>,
        /// What is stored now.
        new: Arc<K>,
    },
    /// The object was removed (it was absent from a [`Writer::replace`]).
    Removed(Arc<K>),
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Added(o) => Self::Added(o.clone()),
            Self::Updated { old, new } => Self::Updated { old: old.clone(), new: new.clone() },
            Self::Removed(o) => Self::Removed(o.clone()),
        }
    }
}

/// An index: index value -> keys.
type Index = HashMap<String, HashSet<ObjectKey>>;

/// An object's values in each index: (index name, values).
type IndexValues = Vec<(String, Vec<String>)>;

struct Inner<K> {
    items: HashMap<ObjectKey, Arc<K>>,
    indexers: HashMap<String, IndexFn<K>>,
    /// index name -> index value -> keys.
    indices: HashMap<String, HashMap<String, HashSet<ObjectKey>>>,
    synced: bool,
    /// Index functions that panicked since the last
    /// [`Writer::take_index_failures`]: (object, index name).
    index_failures: Vec<(ObjectKey, String)>,
}

impl<K> Inner<K> {
    /// The values every index function yields for `obj`. User code runs
    /// here: an index function that panics yields no value (the object is
    /// filed without one in that index) and its name is pushed to `failed`.
    fn index_values(&self, obj: &K, failed: &mut Vec<String>) -> IndexValues {
        let mut out = Vec::with_capacity(self.indexers.len());
        for (name, f) in &self.indexers {
            match std::panic::catch_unwind(AssertUnwindSafe(|| f(obj))) {
                Ok(values) => out.push((name.clone(), values)),
                Err(_) => failed.push(name.clone()),
            }
        }
        out
    }

    /// Removes `key` from every value of the indexes `names` (whose
    /// function panicked on the stored object, so its values are unknown).
    fn index_purge(&mut self, key: &ObjectKey, names: &[String]) {
        for name in names {
            if let Some(index) = self.indices.get_mut(name) {
                index.retain(|_, keys| {
                    keys.remove(key);
                    !keys.is_empty()
                });
            }
        }
    }

    fn index_add(&mut self, key: &ObjectKey, values: Vec<(String, Vec<String>)>) {
        for (name, values) in values {
            let index = self.indices.entry(name).or_default();
            for value in values {
                index.entry(value).or_default().insert(key.clone());
            }
        }
    }

    fn index_remove(&mut self, key: &ObjectKey, values: Vec<(String, Vec<String>)>) {
        for (name, values) in values {
            let Some(index) = self.indices.get_mut(&name) else { continue };
            for value in values {
                if let Some(keys) = index.get_mut(&value) {
                    keys.remove(key);
                    if keys.is_empty() {
                        index.remove(&value);
                    }
                }
            }
        }
    }

    fn build_index(items: &HashMap<ObjectKey, Arc<K>>, f: &IndexFn<K>) -> HashMap<String, HashSet<ObjectKey>> {
        let mut index: HashMap<String, HashSet<ObjectKey>> = HashMap::new();
        for (key, obj) in items {
            for value in f(obj) {
                index.entry(value).or_default().insert(key.clone());
            }
        }
        index
    }

    /// Every index, from each object's precomputed index values.
    fn build_indices(&self, values: HashMap<ObjectKey, IndexValues>) -> HashMap<String, Index> {
        let mut indices: HashMap<String, Index> = self.indexers.keys().map(|n| (n.clone(), Index::new())).collect();
        for (key, values) in values {
            for (name, values) in values {
                let index = indices.entry(name).or_default();
                for value in values {
                    index.entry(value).or_default().insert(key.clone());
                }
            }
        }
        indices
    }
}

/// The reader side of a cache: a thread-safe, indexed set of `Arc<K>`;
/// clones share the same cache.
///
/// This is what informers, listers and users hold: [`get`](Self::get),
/// [`list`](Self::list), [`by_index`](Self::by_index), ... see a consistent
/// state. It cannot change the cached objects: only the [`Writer`] (owned by
/// the reflector, see [`Writer::as_reader`]) can, so every change goes
/// through the informer and reaches its event handlers (kube-runtime's
/// `reflector::store::{Store, Writer}` split).
///
/// [`add_indexer`](Self::add_indexer) is allowed on a reader: an index is a
/// view over the objects, not a change to them, and may be added at any time
/// (client-go's `AddIndexers`).
///
/// Indexes are maintained incrementally (index value -> set of keys). The
/// [`NAMESPACE_INDEX`] is always present. Objects are shared read-only: never
/// mutate a cached object, clone it.
pub struct Store<K> {
    inner: Arc<RwLock<Inner<K>>>,
}

impl<K> Clone for Store<K> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K> fmt::Debug for Store<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read();
        f.debug_struct("Store")
            .field("len", &inner.items.len())
            .field("indexers", &inner.indexers.keys().collect::<BTreeSet<_>>())
            .field("synced", &inner.synced)
            .finish()
    }
}

/// The writer side of a cache: the only handle that changes the cached
/// objects. One owner (the reflector of an informer); not `Clone`. Readers
/// come from [`as_reader`](Self::as_reader).
///
/// ```
/// use bot_runtime::store::Writer;
/// # use k8s_openapi::api::core::v1::ConfigMap;
/// let writer = Writer::<ConfigMap>::new();
/// let reader = writer.as_reader();
/// writer.upsert(ConfigMap::default());
/// assert_eq!(reader.len(), 1);
/// ```
pub struct Writer<K> {
    store: Store<K>,
}

impl<K> fmt::Debug for Writer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Writer").field(&self.store).finish()
    }
}

/// A writer reads its own cache.
impl<K> std::ops::Deref for Writer<K> {
    type Target = Store<K>;
    fn deref(&self) -> &Store<K> {
        &self.store
    }
}

impl<K: Resource + 'static> Default for Writer<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Resource + 'static> Writer<K> {
    /// An empty cache with the [`NAMESPACE_INDEX`], not synced.
    pub fn new() -> Self {
        let mut indexers: HashMap<String, IndexFn<K>> = HashMap::new();
        indexers.insert(NAMESPACE_INDEX.to_string(), namespace_index_fn::<K>());
        let indices = HashMap::from([(NAMESPACE_INDEX.to_string(), HashMap::new())]);
        let inner = Inner { items: HashMap::new(), indexers, indices, synced: false, index_failures: Vec::new() };
        Self { store: Store { inner: Arc::new(RwLock::new(inner)) } }
    }

    /// A reader of this cache (cheap; readers share the cache).
    pub fn as_reader(&self) -> Store<K> {
        self.store.clone()
    }

    /// Inserts or replaces an object; returns what was stored before.
    pub fn upsert(&self, obj: K) -> Option<Arc<K>> {
        self.upsert_arc(Arc::new(obj))
    }

    /// As [`upsert`](Self::upsert), for an object already in an `Arc`.
    ///
    /// An index function that panics does not stop the update: the object
    /// is stored without a value in that index, and the failure recorded
    /// ([`take_index_failures`](Self::take_index_failures)).
    pub fn upsert_arc(&self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = ObjectKey::from_object(obj.as_ref());
        let mut inner = self.store.inner.write();
        let mut failed = Vec::new();
        let new_values = inner.index_values(&obj, &mut failed);
        let mut old_failed = Vec::new();
        let old_values = inner.items.get(&key).map(|old| inner.index_values(old, &mut old_failed));
        let old = inner.items.insert(key.clone(), obj);
        if let Some(values) = old_values {
            inner.index_remove(&key, values);
        }
        inner.index_purge(&key, &old_failed);
        inner.index_add(&key, new_values);
        inner.index_failures.extend(failed.into_iter().map(|name| (key.clone(), name)));
        old
    }

    /// The index functions that panicked (object, index name) since the
    /// last call; each such object was stored without a value in that index.
    pub fn take_index_failures(&self) -> Vec<(ObjectKey, String)> {
        std::mem::take(&mut self.store.inner.write().index_failures)
    }

    /// Removes the object with the same key as `obj`; returns what was stored.
    pub fn delete(&self, obj: &K) -> Option<Arc<K>> {
        self.delete_key(&ObjectKey::from_object(obj))
    }

    /// Removes the object under `key`; returns what was stored.
    pub fn delete_key(&self, key: &ObjectKey) -> Option<Arc<K>> {
        let mut inner = self.store.inner.write();
        let mut failed = Vec::new();
        let values = inner.index_values(inner.items.get(key)?, &mut failed);
        let old = inner.items.remove(key)?;
        inner.index_remove(key, values);
        inner.index_purge(key, &failed);
        Some(old)
    }

    /// Atomically swaps the whole content for `objects` (a relist) and
    /// returns the changes: keys new to the store are [`Change::Added`], objects
    /// whose `resourceVersion` differs (or that have none) are
    /// [`Change::Updated`], keys no longer present are [`Change::Removed`].
    /// Unchanged objects keep their old `Arc` and produce no change.
    ///
    /// A listed object on which an index function panics is stored
    /// without a value in that index (the failure is recorded, see
    /// [`take_index_failures`](Self::take_index_failures)), so one bad
    /// object can neither fail the list nor go missing.
    pub fn replace(&self, objects: Vec<K>) -> Vec<Change<K>> {
        let mut inner = self.store.inner.write();
        // Work on a copy of the map (of `Arc`s): nothing changes until the end.
        let mut old_items = inner.items.clone();
        let mut changes = Vec::new();
        let mut items = HashMap::with_capacity(objects.len());
        let mut values = HashMap::with_capacity(objects.len());
        for obj in objects {
            let key = ObjectKey::from_object(&obj);
            let old = old_items.remove(&key);
            let rv = obj.meta().resource_version.as_deref();
            if let Some(old) = &old
                && rv.is_some()
                && rv == old.meta().resource_version.as_deref()
            {
                items.insert(key, old.clone());
                continue;
            }
            let new = Arc::new(obj);
            let mut failed = Vec::new();
            values.insert(key.clone(), inner.index_values(&new, &mut failed));
            inner.index_failures.extend(failed.into_iter().map(|name| (key.clone(), name)));
            changes.push(match old {
                None => Change::Added(new.clone()),
                Some(old) => Change::Updated { old, new: new.clone() },
            });
            items.insert(key, new);
        }
        // Kept objects: their failures were recorded when they were stored.
        for (key, obj) in &items {
            if !values.contains_key(key) {
                values.insert(key.clone(), inner.index_values(obj, &mut Vec::new()));
            }
        }
        inner.indices = inner.build_indices(values);
        inner.items = items;
        changes.extend(old_items.into_values().map(Change::Removed));
        changes
    }

    /// Marks the cache as holding a complete list.
    pub fn mark_synced(&self) {
        self.store.inner.write().synced = true;
    }
}

impl<K: Resource + 'static> Store<K> {
    /// Whether the first complete list has been stored.
    pub fn has_synced(&self) -> bool {
        self.inner.read().synced
    }

    /// The object under `key`.
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.inner.read().items.get(key).cloned()
    }

    /// The object named `name` in `namespace` (`None` for cluster-scoped kinds).
    pub fn get_by(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        self.get(&ObjectKey::new(namespace, name))
    }

    /// Every cached object (in no particular order).
    pub fn list(&self) -> Vec<Arc<K>> {
        self.inner.read().items.values().cloned().collect()
    }

    /// Number of cached objects.
    pub fn len(&self) -> usize {
        self.inner.read().items.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.read().items.is_empty()
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<_> = self.inner.read().items.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The objects filed under `value` in the index `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<K>>> {
        let inner = self.inner.read();
        let idx = inner.indices.get(index).ok_or_else(|| Error::UnknownIndex(index.to_string()))?;
        Ok(idx
            .get(value)
            .map(|keys| keys.iter().filter_map(|k| inner.items.get(k).cloned()).collect())
            .unwrap_or_default())
    }

    /// The keys filed under `value` in the index `index`, sorted.
    pub fn index_keys(&self, index: &str, value: &str) -> Result<Vec<ObjectKey>> {
        let inner = self.inner.read();
        let idx = inner.indices.get(index).ok_or_else(|| Error::UnknownIndex(index.to_string()))?;
        let mut keys: Vec<_> = idx.get(value).map(|keys| keys.iter().cloned().collect()).unwrap_or_default();
        keys.sort();
        Ok(keys)
    }

    /// The values present in the index `index`, sorted.
    pub fn list_index_values(&self, index: &str) -> Result<Vec<String>> {
        let inner = self.inner.read();
        let idx = inner.indices.get(index).ok_or_else(|| Error::UnknownIndex(index.to_string()))?;
        let mut values: Vec<_> = idx.keys().cloned().collect();
        values.sort();
        Ok(values)
    }

    /// The names of the registered indexes, sorted.
    pub fn index_names(&self) -> Vec<String> {
        let mut names: Vec<_> = self.inner.read().indexers.keys().cloned().collect();
        names.sort();
        names
    }

    /// Adds (or replaces) named indexes; allowed at any time and on any
    /// reader: indexes are computed over the objects already cached. An
    /// index is a view, not a change of the objects, so handlers see no event.
    ///
    /// Each index is built before it is installed: if an index function
    /// panics here, the panic propagates to the caller and the store keeps
    /// its previous indexes.
    pub fn add_indexers(&self, indexers: impl IntoIterator<Item = (String, IndexFn<K>)>) {
        let mut inner = self.inner.write();
        for (name, f) in indexers {
            let index = Inner::build_index(&inner.items, &f);
            inner.indexers.insert(name.clone(), f);
            inner.indices.insert(name, index);
        }
    }

    /// Adds (or replaces) one named index; see [`add_indexers`](Self::add_indexers).
    pub fn add_indexer(&self, name: impl Into<String>, f: IndexFn<K>) {
        self.add_indexers([(name.into(), f)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    fn cm(ns: &str, name: &str, app: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn app_index() -> IndexFn<ConfigMap> {
        Arc::new(|c: &ConfigMap| c.metadata.labels.iter().flat_map(|l| l.get("app").cloned()).collect())
    }

    fn names(mut objs: Vec<Arc<ConfigMap>>) -> Vec<String> {
        objs.sort_by_key(|o| ObjectKey::from_object(o.as_ref()));
        objs.iter().map(|o| ObjectKey::from_object(o.as_ref()).to_string()).collect()
    }

    #[test]
    fn keys_display_and_parse() {
        let k = ObjectKey::new(Some("ns"), "a");
        assert_eq!(k.to_string(), "ns/a");
        assert_eq!(ObjectKey::parse("ns/a").unwrap(), k);
        assert_eq!("a".parse::<ObjectKey>().unwrap(), ObjectKey::new(None, "a"));
        assert_eq!(ObjectKey::new(Some(""), "a").to_string(), "a");
        for bad in ["", "/a", "ns/", "a/b/c"] {
            assert_eq!(ObjectKey::parse(bad), Err(Error::InvalidKey(bad.into())), "{bad}");
        }
    }

    #[test]
    fn upsert_get_delete_and_namespace_index() {
        let s = Writer::<ConfigMap>::new();
        assert!(s.upsert(cm("a", "x", "web", "1")).is_none());
        s.upsert(cm("a", "y", "db", "1"));
        s.upsert(cm("b", "x", "web", "1"));
        assert_eq!(s.len(), 3);
        assert_eq!(s.get_by(Some("a"), "x").unwrap().metadata.resource_version.as_deref(), Some("1"));
        let old = s.upsert(cm("a", "x", "web", "2")).unwrap();
        assert_eq!(old.metadata.resource_version.as_deref(), Some("1"));
        assert_eq!(names(s.by_index(NAMESPACE_INDEX, "a").unwrap()), ["a/x", "a/y"]);
        assert_eq!(s.list_index_values(NAMESPACE_INDEX).unwrap(), ["a", "b"]);
        assert_eq!(s.delete(&cm("a", "y", "", "")).unwrap().metadata.name.as_deref(), Some("y"));
        assert!(s.delete(&cm("a", "y", "", "")).is_none());
        assert_eq!(s.index_keys(NAMESPACE_INDEX, "a").unwrap(), [ObjectKey::new(Some("a"), "x")]);
        assert_eq!(s.keys(), [ObjectKey::new(Some("a"), "x"), ObjectKey::new(Some("b"), "x")]);
        assert_eq!(s.by_index("nope", "a").unwrap_err(), Error::UnknownIndex("nope".into()));
    }

    #[test]
    fn custom_index_follows_updates() {
        let s = Writer::<ConfigMap>::new();
        s.add_indexer("app", app_index());
        s.upsert(cm("a", "x", "web", "1"));
        s.upsert(cm("a", "y", "web", "1"));
        assert_eq!(names(s.by_index("app", "web").unwrap()), ["a/x", "a/y"]);
        s.upsert(cm("a", "x", "db", "2"));
        assert_eq!(names(s.by_index("app", "web").unwrap()), ["a/y"]);
        assert_eq!(names(s.by_index("app", "db").unwrap()), ["a/x"]);
        s.delete(&cm("a", "y", "", ""));
        assert_eq!(s.list_index_values("app").unwrap(), ["db"], "empty values are dropped");
    }

    #[test]
    fn add_indexers_after_items_exist_recomputes() {
        let s = Writer::<ConfigMap>::new();
        s.upsert(cm("a", "x", "web", "1"));
        s.upsert(cm("b", "y", "db", "1"));
        assert!(s.by_index("app", "web").is_err());
        s.add_indexers([("app".to_string(), app_index())]);
        assert_eq!(names(s.by_index("app", "web").unwrap()), ["a/x"]);
        assert_eq!(s.list_index_values("app").unwrap(), ["db", "web"]);
        assert_eq!(s.index_names(), ["app", NAMESPACE_INDEX]);
    }

    #[test]
    fn a_panicking_index_function_loses_no_object() {
        let s = Writer::<ConfigMap>::new();
        s.add_indexer("app", app_index());
        s.upsert(cm("a", "one", "web", "1"));
        s.add_indexer(
            "picky",
            Arc::new(|c: &ConfigMap| {
                let rv = c.metadata.resource_version.as_deref().unwrap_or_default();
                assert!(!rv.starts_with("bad"), "index function panics");
                vec!["seen".to_string()]
            }),
        );
        assert_eq!(s.by_index("picky", "seen").unwrap().len(), 1);
        let bad = cm("a", "one", "db", "bad");
        s.upsert(bad.clone());
        assert_eq!(s.get_by(Some("a"), "one").unwrap().metadata.resource_version.as_deref(), Some("bad"), "stored");
        assert_eq!(names(s.by_index("app", "db").unwrap()), ["a/one"], "filed under the other indexes");
        assert!(s.by_index("picky", "seen").unwrap().is_empty(), "no value in the failing index");
        assert_eq!(s.take_index_failures(), [(ObjectKey::new(Some("a"), "one"), "picky".to_string())]);
        assert!(s.take_index_failures().is_empty(), "taken");
        // A relist stores the object too, and reports the failure again.
        let changes = s.replace(vec![cm("a", "one", "db", "bad2"), cm("a", "two", "web", "1")]);
        assert_eq!(changes.len(), 2, "{} changes", changes.len());
        assert_eq!(s.take_index_failures().len(), 1);
        assert_eq!(s.len(), 2);
        assert_eq!(names(s.by_index("picky", "seen").unwrap()), ["a/two"]);
        s.delete(&bad);
        assert_eq!(names(s.by_index("app", "web").unwrap()), ["a/two"]);
        assert!(s.by_index("app", "db").unwrap().is_empty());
    }

    #[test]
    fn a_panicking_index_function_added_late_leaves_the_indexes_unchanged() {
        let s = Writer::<ConfigMap>::new();
        s.upsert(cm("a", "one", "web", "1"));
        let reader = s.as_reader();
        let bad: IndexFn<ConfigMap> = Arc::new(|_: &ConfigMap| panic!("index function panics"));
        let added = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.add_indexer("bad", bad)));
        assert!(added.is_err(), "the panic reaches the caller of add_indexer");
        assert_eq!(reader.index_names(), [NAMESPACE_INDEX], "not installed");
        s.upsert(cm("a", "two", "web", "1"));
        assert_eq!(reader.len(), 2, "later writes are not affected");
    }

    #[test]
    fn replace_reports_changes_and_reindexes() {
        let s = Writer::<ConfigMap>::new();
        s.add_indexer("app", app_index());
        s.upsert(cm("a", "keep", "web", "1"));
        s.upsert(cm("a", "change", "web", "1"));
        s.upsert(cm("a", "gone", "web", "1"));
        let kept = s.get_by(Some("a"), "keep").unwrap();
        let changes =
            s.replace(vec![cm("a", "keep", "web", "1"), cm("a", "change", "db", "2"), cm("a", "new", "web", "3")]);
        let mut summary: Vec<String> = changes
            .iter()
            .map(|c| match c {
                Change::Added(o) => format!("added {}", o.metadata.name.as_deref().unwrap()),
                Change::Updated { old, new } => format!(
                    "updated {} {}->{}",
                    new.metadata.name.as_deref().unwrap(),
                    old.metadata.resource_version.as_deref().unwrap(),
                    new.metadata.resource_version.as_deref().unwrap()
                ),
                Change::Removed(o) => format!("removed {}", o.metadata.name.as_deref().unwrap()),
            })
            .collect();
        summary.sort();
        assert_eq!(summary, ["added new", "removed gone", "updated change 1->2"]);
        assert!(Arc::ptr_eq(&kept, &s.get_by(Some("a"), "keep").unwrap()), "unchanged objects keep their Arc");
        assert_eq!(names(s.by_index("app", "web").unwrap()), ["a/keep", "a/new"]);
        assert_eq!(names(s.by_index("app", "db").unwrap()), ["a/change"]);
        assert!(!s.has_synced());
        s.mark_synced();
        assert!(s.as_reader().has_synced(), "readers share state");
    }
}
