//! A thread-safe, indexed cache of `Arc<K>` keyed by `namespace/name` (client-go's `Indexer`),
//! split into a read handle ([`Store`]) and the reflector's [`Writer`].

mod inner;
mod postings;
mod query;

use std::{collections::BTreeSet, fmt, str::FromStr, sync::Arc};

use kube::Resource;
use parking_lot::{RwLock, RwLockWriteGuard};

use self::inner::Inner;
use crate::selector::{FieldSelector, LabelSelector, Operator};

/// Name of the index every [`Store`] has: objects by `metadata.namespace`.
pub const NAMESPACE_INDEX: &str = "namespace";

/// Name of the index every [`Store`] has: objects by the UID of each of
/// their `metadata.ownerReferences` (see [`Store::by_owner`]).
pub const OWNER_INDEX: &str = "owner";

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

/// A borrowed [`ObjectKey`]: the same `namespace/name` without owning it,
/// hashing as the `ObjectKey` it stands for (so it finds one in a
/// hashbrown table or a [`WorkQueue`](crate::WorkQueue), see
/// [`WorkQueue::add_equivalent`](crate::WorkQueue::add_equivalent)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectKeyRef<'a> {
    /// The namespace; `None` for cluster-scoped objects (never `Some("")`).
    pub namespace: Option<&'a str>,
    /// The object's name.
    pub name: &'a str,
}

impl<'a> ObjectKeyRef<'a> {
    /// A key from its parts (an empty namespace counts as none).
    pub fn new(namespace: Option<&'a str>, name: &'a str) -> Self {
        Self { namespace: namespace.filter(|ns| !ns.is_empty()), name }
    }

    /// The key of an object, borrowed from its metadata.
    pub fn from_object<K: Resource>(obj: &'a K) -> Self {
        let meta = obj.meta();
        Self::new(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }
}

impl hashbrown::Equivalent<ObjectKey> for ObjectKeyRef<'_> {
    fn equivalent(&self, key: &ObjectKey) -> bool {
        self.name == key.name && self.namespace == key.namespace.as_deref()
    }
}

impl From<&ObjectKeyRef<'_>> for ObjectKey {
    fn from(key: &ObjectKeyRef<'_>) -> Self {
        Self { namespace: key.namespace.map(str::to_string), name: key.name.to_string() }
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

/// Changes applied under one write lock by [`Writer::replace`]: readers wait
/// at most this many changes, never a whole relist.
const REPLACE_BATCH: usize = 512;

/// The reader side of a cache: a thread-safe, indexed set of `Arc<K>`;
/// clones share the same cache.
///
/// This is what informers, listers and users hold: [`get`](Self::get),
/// [`list`](Self::list), [`select`](Self::select), [`by_index`](Self::by_index),
/// ... see a consistent state. It cannot change the cached objects: only the
/// [`Writer`] (owned by the reflector, see [`Writer::as_reader`]) can, so
/// every change goes through the informer and reaches its event handlers
/// (kube-runtime's `reflector::store::{Store, Writer}` split).
///
/// Built-in indexes, maintained on every write:
/// - **labels**: label key -> value -> objects; [`select`](Self::select)
///   answers a label selector from it (see there);
/// - [`NAMESPACE_INDEX`]: objects by namespace;
/// - [`OWNER_INDEX`]: objects by the UID of each of their `ownerReferences`
///   ([`by_owner`](Self::by_owner)).
///
/// [`add_indexer`](Self::add_indexer) registers more, on a reader too: an
/// index is a view over the objects, not a change to them, and may be added
/// at any time (client-go's `AddIndexers`). A registered index named like a
/// built-in one takes its place in [`by_index`](Self::by_index).
///
/// Look-ups by key ([`get`](Self::get), [`get_by`](Self::get_by)) borrow
/// the namespace and name: they never allocate. Objects are shared
/// read-only: never mutate a cached object, clone it.
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
            .field("len", &inner.len())
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
    /// An empty cache with the built-in indexes, not synced.
    pub fn new() -> Self {
        Self { store: Store { inner: Arc::new(RwLock::new(Inner::new())) } }
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
        self.store.inner.write().upsert(obj)
    }

    /// The index functions that panicked (object, index name) since the
    /// last call; each such object was stored without a value in that index.
    pub fn take_index_failures(&self) -> Vec<(ObjectKey, String)> {
        std::mem::take(&mut self.store.inner.write().index_failures)
    }

    /// Removes the object with the same key as `obj`; returns what was stored.
    pub fn delete(&self, obj: &K) -> Option<Arc<K>> {
        let meta = obj.meta();
        self.store.inner.write().remove(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default())
    }

    /// Removes the object under `key`; returns what was stored.
    pub fn delete_key(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.store.inner.write().remove(key.namespace.as_deref(), &key.name)
    }

    /// Replaces the whole content with `objects` (a relist) and returns the
    /// changes: keys new to the store are [`Change::Added`], objects whose
    /// `resourceVersion` differs (or that have none) are [`Change::Updated`],
    /// keys no longer present are [`Change::Removed`]. Unchanged objects
    /// keep their old `Arc` and produce no change.
    ///
    /// Incremental: the listed objects are compared with the cache under a
    /// read lock, then only the changes are written, at most 512 per write
    /// lock, so readers are never blocked for a whole relist (and a relist
    /// that changes nothing never takes the write lock). Between two
    /// batches a reader sees some objects at their listed state and others
    /// not yet: each object is always whole, exactly as if the changes had
    /// come as watch events.
    ///
    /// A listed object on which an index function panics is stored
    /// without a value in that index (the failure is recorded, see
    /// [`take_index_failures`](Self::take_index_failures)), so one bad
    /// object can neither fail the list nor go missing.
    pub fn replace(&self, objects: Vec<K>) -> Vec<Change<K>> {
        self.replace_arcs(objects.into_iter().map(Arc::new).collect())
    }

    /// As [`replace`](Self::replace), for objects already in `Arc`s (the
    /// reflector wraps each listed object as it arrives, so a list is never
    /// held twice: once inline in a `Vec<K>`, once in the cache).
    pub fn replace_arcs(&self, objects: Vec<Arc<K>>) -> Vec<Change<K>> {
        let (writes, removed) = self.diff(objects);
        let mut changes = Vec::with_capacity(writes.len() + removed.len());
        for batch in writes.chunks(REPLACE_BATCH) {
            let mut inner = self.store.inner.write();
            for new in batch {
                changes.push(match inner.upsert(new.clone()) {
                    None => Change::Added(new.clone()),
                    Some(old) => Change::Updated { old, new: new.clone() },
                });
            }
            // Hand the lock to waiting readers rather than taking it again at once.
            RwLockWriteGuard::unlock_fair(inner);
        }
        for batch in removed.chunks(REPLACE_BATCH) {
            let mut inner = self.store.inner.write();
            for (key, seen) in batch {
                // Only the object compared: anything stored since is newer than the list.
                let (ns, name) = (key.namespace.as_deref(), key.name.as_str());
                if inner.get(ns, name).is_some_and(|now| Arc::ptr_eq(now, seen)) {
                    inner.remove(ns, name);
                    changes.push(Change::Removed(seen.clone()));
                }
            }
            RwLockWriteGuard::unlock_fair(inner);
        }
        changes
    }

    /// What a relist changes: the objects to write (new or of another
    /// resourceVersion) and the cached objects absent from the list.
    #[allow(clippy::type_complexity)]
    fn diff(&self, objects: Vec<Arc<K>>) -> (Vec<Arc<K>>, Vec<(ObjectKey, Arc<K>)>) {
        let inner = self.store.inner.read();
        let mut listed = vec![false; inner.capacity()];
        let mut writes = Vec::new();
        for obj in objects {
            let meta = obj.meta();
            if let Some(id) = inner.find(meta.namespace.as_deref(), meta.name.as_deref().unwrap_or_default()) {
                listed[id as usize] = true;
                let rv = meta.resource_version.as_deref();
                let cached = &inner.slot(id).expect("found").obj;
                if rv.is_some() && rv == cached.meta().resource_version.as_deref() {
                    continue;
                }
            }
            writes.push(obj);
        }
        let removed = inner
            .iter()
            .filter(|(id, _)| !listed[*id as usize])
            .map(|(_, s)| (ObjectKey::from(&s.key()), s.obj.clone()))
            .collect();
        (writes, removed)
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

    /// The object under `key` (no allocation).
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<K>> {
        self.get_by(key.namespace.as_deref(), &key.name)
    }

    /// The object named `name` in `namespace` (`None` for cluster-scoped
    /// kinds; `Some("")` is the same as `None`); no allocation.
    pub fn get_by(&self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        self.inner.read().get(namespace, name).cloned()
    }

    /// Every cached object (in no particular order).
    pub fn list(&self) -> Vec<Arc<K>> {
        self.inner.read().iter().map(|(_, s)| s.obj.clone()).collect()
    }

    /// The objects in `namespace` (every namespace when `None` or `""`)
    /// whose labels `selector` matches, in no particular order.
    ///
    /// Planned over the label index: `=`, `==` and `in` read the objects
    /// filed under their values, `exists` those under any value of the key;
    /// the smallest of these sets (or the namespace's objects, if smaller)
    /// gives the candidates, and the other requirements are checked on each
    /// (`!=`, `notin` and `!key` by the same postings, `gt`/`lt` on the
    /// labels). The cost follows the number of candidates, not the size of
    /// the store; only a selector with no positive requirement and no
    /// namespace reads every object.
    pub fn select(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<K>> {
        self.inner.read().select(namespace, selector)
    }

    /// As [`select`](Self::select), also filtered by a field selector
    /// (`metadata.name`, `metadata.namespace`). A `metadata.namespace=x`
    /// requirement restricts the query to the namespace index, a
    /// `metadata.name=x` one in a known namespace (or a cluster-scoped
    /// kind) to one look-up.
    pub fn select_fields(
        &self,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Arc<K>> {
        let equal = |field: &str| {
            fields
                .requirements()
                .iter()
                .find(|r| r.field() == field && matches!(r.operator(), Operator::Equals | Operator::DoubleEquals))
                .map(|r| r.value())
        };
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let namespace = match (namespace, equal("metadata.namespace")) {
            (Some(a), Some(b)) if a != b => return Vec::new(),
            (a, b) => a.or(b),
        };
        let inner = self.inner.read();
        let wanted = |o: &Arc<K>| fields.matches(o.meta()) && labels.matches(o.meta().labels.as_ref());
        match equal("metadata.name") {
            Some(name) if namespace.is_some() || !inner.namespaced() => {
                inner.get(namespace, name).filter(|o| wanted(o)).cloned().into_iter().collect()
            }
            _ => {
                let mut found = inner.select(namespace, labels);
                found.retain(|o| fields.matches(o.meta()));
                found
            }
        }
    }

    /// The objects of which `uid` is an owner (any `ownerReferences` entry,
    /// controller or not): the [`OWNER_INDEX`].
    pub fn by_owner(&self, uid: &str) -> Vec<Arc<K>> {
        let inner = self.inner.read();
        inner.objects(inner.owners.get(uid))
    }

    /// Number of cached objects.
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<ObjectKey> {
        let mut keys: Vec<_> = self.inner.read().iter().map(|(_, s)| ObjectKey::from(&s.key())).collect();
        keys.sort();
        keys
    }

    /// The objects filed under `value` in the index `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<K>>> {
        let inner = self.inner.read();
        Ok(inner.objects(inner.index_named(index)?.get(value)))
    }

    /// The keys filed under `value` in the index `index`, sorted.
    pub fn index_keys(&self, index: &str, value: &str) -> Result<Vec<ObjectKey>> {
        let inner = self.inner.read();
        let postings = inner.index_named(index)?.get(value);
        let mut keys: Vec<_> = postings
            .iter()
            .flat_map(|p| p.iter())
            .filter_map(|id| inner.slot(id))
            .map(|s| ObjectKey::from(&s.key()))
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The values present in the index `index`, sorted.
    pub fn list_index_values(&self, index: &str) -> Result<Vec<String>> {
        let inner = self.inner.read();
        let mut values: Vec<_> = inner.index_named(index)?.iter().map(|(v, _)| v.clone()).collect();
        values.sort();
        Ok(values)
    }

    /// The names of the indexes, built-in and registered, sorted.
    pub fn index_names(&self) -> Vec<String> {
        let inner = self.inner.read();
        let mut names: BTreeSet<String> = inner.indexers.keys().cloned().collect();
        names.extend([NAMESPACE_INDEX.to_string(), OWNER_INDEX.to_string()]);
        names.into_iter().collect()
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
            let index = inner.build_index(&f);
            inner.indexers.insert(name.clone(), f);
            inner.indices.insert(name, index);
        }
    }

    /// Adds (or replaces) one named index; see [`add_indexers`](Self::add_indexers).
    pub fn add_indexer(&self, name: impl Into<String>, f: IndexFn<K>) {
        self.add_indexers([(name.into(), f)]);
    }
}

impl<K: Resource> Inner<K> {
    /// The index named `name`: a registered one, else a built-in one.
    fn index_named(&self, name: &str) -> Result<&postings::PostingMap> {
        match (self.indices.get(name), name) {
            (Some(index), _) => Ok(index),
            (None, NAMESPACE_INDEX) => Ok(&self.namespaces),
            (None, OWNER_INDEX) => Ok(&self.owners),
            (None, _) => Err(Error::UnknownIndex(name.to_string())),
        }
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
    fn a_borrowed_key_hashes_and_compares_as_the_owned_one() {
        use std::hash::BuildHasher;
        let hasher = hashbrown::DefaultHashBuilder::default();
        for (ns, name) in [(Some("ns"), "a"), (None, "a"), (Some(""), "b")] {
            let owned = ObjectKey::new(ns, name);
            let borrowed = ObjectKeyRef::new(ns, name);
            assert_eq!(hasher.hash_one(&owned), hasher.hash_one(borrowed), "{owned}");
            assert!(hashbrown::Equivalent::equivalent(&borrowed, &owned));
            assert_eq!(ObjectKey::from(&borrowed), owned);
        }
        assert!(!hashbrown::Equivalent::equivalent(&ObjectKeyRef::new(None, "a"), &ObjectKey::new(Some("ns"), "a")));
        let cm = cm("ns", "x", "web", "1");
        assert_eq!(ObjectKey::from(&ObjectKeyRef::from_object(&cm)), ObjectKey::from_object(&cm));
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
        assert_eq!(s.index_names(), ["app", NAMESPACE_INDEX, OWNER_INDEX]);
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
        assert_eq!(reader.index_names(), [NAMESPACE_INDEX, OWNER_INDEX], "not installed");
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

    fn labelled(ns: &str, name: &str, labels: &[(&str, &str)]) -> ConfigMap {
        let mut c = cm(ns, name, "", "1");
        c.metadata.labels = Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        c
    }

    fn select(s: &Store<ConfigMap>, ns: Option<&str>, selector: &str) -> Vec<String> {
        names(s.select(ns, &selector.parse().expect("valid selector")))
    }

    #[test]
    fn select_plans_every_operator_over_the_label_index() {
        let s = Writer::<ConfigMap>::new();
        s.upsert(labelled("a", "web1", &[("app", "web"), ("tier", "front"), ("rank", "3")]));
        s.upsert(labelled("a", "web2", &[("app", "web"), ("tier", "back")]));
        s.upsert(labelled("b", "db", &[("app", "db"), ("legacy", "")]));
        s.upsert(labelled("b", "bare", &[]));
        assert_eq!(select(&s, None, "app=web"), ["a/web1", "a/web2"]);
        assert_eq!(select(&s, None, "app==web,tier=back"), ["a/web2"]);
        assert_eq!(select(&s, None, "app in (web,db),tier notin (front)"), ["a/web2", "b/db"]);
        assert_eq!(select(&s, None, "app!=web"), ["b/bare", "b/db"], "absent labels match !=");
        assert_eq!(select(&s, None, "legacy"), ["b/db"]);
        assert_eq!(select(&s, None, "!legacy"), ["a/web1", "a/web2", "b/bare"]);
        assert_eq!(select(&s, None, "rank>2"), ["a/web1"]);
        assert_eq!(select(&s, None, "rank<2"), Vec::<String>::new());
        assert_eq!(select(&s, None, "app=nope"), Vec::<String>::new());
        assert_eq!(select(&s, None, "nokey"), Vec::<String>::new());
        assert_eq!(select(&s, None, ""), ["a/web1", "a/web2", "b/bare", "b/db"]);
        assert_eq!(select(&s, Some("a"), "tier"), ["a/web1", "a/web2"]);
        assert_eq!(select(&s, Some("b"), ""), ["b/bare", "b/db"]);
        assert_eq!(select(&s, Some("b"), "app=web"), Vec::<String>::new());
        assert_eq!(select(&s, Some("c"), ""), Vec::<String>::new());
        assert_eq!(select(&s, Some(""), "app=db"), ["b/db"], "\"\" is every namespace");
        // Label changes move the object between postings.
        s.upsert(labelled("a", "web2", &[("app", "db")]));
        assert_eq!(select(&s, None, "app=db"), ["a/web2", "b/db"]);
        assert_eq!(select(&s, None, "tier"), ["a/web1"]);
        s.delete_key(&ObjectKey::new(Some("a"), "web2"));
        assert_eq!(select(&s, None, "app=db"), ["b/db"]);
    }

    #[test]
    fn by_owner_follows_owner_references() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
        let owned = |name: &str, uids: &[&str]| {
            let mut c = cm("a", name, "x", "1");
            c.metadata.owner_references =
                Some(uids.iter().map(|u| OwnerReference { uid: u.to_string(), ..Default::default() }).collect());
            c
        };
        let s = Writer::<ConfigMap>::new();
        s.upsert(owned("one", &["u1"]));
        s.upsert(owned("two", &["u1", "u2"]));
        s.upsert(cm("a", "free", "x", "1"));
        assert_eq!(names(s.by_owner("u1")), ["a/one", "a/two"]);
        assert_eq!(names(s.by_index(OWNER_INDEX, "u2").unwrap()), ["a/two"]);
        s.upsert(owned("two", &["u2"]));
        assert_eq!(names(s.by_owner("u1")), ["a/one"]);
        s.delete(&owned("one", &[]));
        assert!(s.by_owner("u1").is_empty());
        assert_eq!(s.list_index_values(OWNER_INDEX).unwrap(), ["u2"]);
    }

    #[test]
    fn slots_are_reused_and_lookups_stay_exact() {
        let s = Writer::<ConfigMap>::new();
        for round in 0..3 {
            for i in 0..100 {
                s.upsert(cm(&format!("ns{}", i % 7), &format!("o{i}"), "x", &round.to_string()));
            }
            for i in (0..100).step_by(2) {
                assert!(s.delete_key(&ObjectKey::new(Some(&format!("ns{}", i % 7)), format!("o{i}"))).is_some());
            }
            assert_eq!(s.len(), 50);
        }
        assert!(s.get_by(Some("ns1"), "o1").is_some());
        assert!(s.get_by(Some("ns0"), "o1").is_none(), "the namespace is part of the key");
        assert!(s.get_by(None, "o1").is_none());
        assert_eq!(
            s.by_index(NAMESPACE_INDEX, "ns1").unwrap().len(),
            s.select(Some("ns1"), &"".parse().unwrap()).len()
        );
        let cluster = Writer::<ConfigMap>::new();
        cluster.upsert(ConfigMap {
            metadata: ObjectMeta { name: Some("c".into()), ..Default::default() },
            ..Default::default()
        });
        assert!(cluster.get_by(Some(""), "c").is_some(), "\"\" is no namespace");
        assert!(cluster.get(&ObjectKey::new(None, "c")).is_some());
    }

    #[test]
    fn a_relist_that_changes_nothing_keeps_every_arc() {
        let s = Writer::<ConfigMap>::new();
        let listed: Vec<_> = (0..2000).map(|i| cm("a", &format!("o{i}"), "x", "1")).collect();
        assert_eq!(s.replace(listed.clone()).len(), 2000, "all added, in batches");
        let before = s.list();
        assert!(s.replace(listed).is_empty());
        for obj in before {
            assert!(Arc::ptr_eq(&obj, &s.get(&ObjectKey::from_object(obj.as_ref())).unwrap()));
        }
        let changes = s.replace(vec![cm("a", "o1", "x", "2")]);
        assert_eq!(changes.iter().filter(|c| matches!(c, Change::Removed(_))).count(), 1999);
        assert_eq!(s.keys(), [ObjectKey::new(Some("a"), "o1")]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Store operations over a small universe of keys and label values,
        /// so that updates, deletions and shared values are frequent.
        #[derive(Debug, Clone)]
        enum Op {
            Upsert { ns: u8, name: u8, labels: Vec<(u8, u8)> },
            Delete { ns: u8, name: u8 },
            Relist(Vec<Listed>),
        }

        /// A listed object: namespace, name and labels (as indexes).
        type Listed = (u8, u8, Vec<(u8, u8)>);

        const KEYS: [&str; 4] = ["app", "tier", "env", "example.com/team"];
        const VALUES: [&str; 4] = ["a", "b", "", "1"];

        fn object(ns: u8, name: u8, labels: &[(u8, u8)], rv: usize) -> ConfigMap {
            let labels: Vec<(&str, &str)> =
                labels.iter().map(|(k, v)| (KEYS[*k as usize % 4], VALUES[*v as usize % 4])).collect();
            let mut c = labelled(&format!("ns{}", ns % 3), &format!("o{}", name % 12), &labels);
            c.metadata.resource_version = Some(rv.to_string());
            c
        }

        fn labels() -> impl Strategy<Value = Vec<(u8, u8)>> {
            prop::collection::vec((0u8..4, 0u8..4), 0..4)
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (any::<u8>(), any::<u8>(), labels()).prop_map(|(ns, name, labels)| Op::Upsert { ns, name, labels }),
                2 => (any::<u8>(), any::<u8>()).prop_map(|(ns, name)| Op::Delete { ns, name }),
                1 => prop::collection::vec((any::<u8>(), any::<u8>(), labels()), 0..10).prop_map(Op::Relist),
            ]
        }

        fn requirement() -> impl Strategy<Value = String> {
            let key = (0usize..5).prop_map(|k| KEYS.get(k).copied().unwrap_or("absent").to_string());
            let value = (0usize..5).prop_map(|v| VALUES.get(v).copied().unwrap_or("zz").to_string());
            (key, 0u8..9, prop::collection::vec(value, 1..3)).prop_map(|(k, op, vs)| match op {
                0 => format!("{k}={}", vs[0]),
                1 => format!("{k}=={}", vs[0]),
                2 => format!("{k}!={}", vs[0]),
                3 => format!("{k} in ({})", vs.join(",")),
                4 => format!("{k} notin ({})", vs.join(",")),
                5 => k,
                6 => format!("!{k}"),
                7 => format!("{k}>0"),
                _ => format!("{k}<2"),
            })
        }

        proptest! {
            /// Whatever the history of writes, `select` returns exactly what a
            /// scan filtering with the selector returns.
            #[test]
            fn select_equals_a_scan(
                ops in prop::collection::vec(op(), 0..40),
                requirements in prop::collection::vec(requirement(), 0..4),
                namespace in prop::option::of(0u8..4),
            ) {
                let s = Writer::<ConfigMap>::new();
                for (rv, op) in ops.into_iter().enumerate() {
                    match op {
                        Op::Upsert { ns, name, labels } => { s.upsert(object(ns, name, &labels, rv)); }
                        Op::Delete { ns, name } => { s.delete(&object(ns, name, &[], rv)); }
                        Op::Relist(objects) => {
                            s.replace(objects.iter().map(|(ns, name, l)| object(*ns, *name, l, rv)).collect());
                        }
                    }
                }
                let selector: LabelSelector = requirements.join(",").parse().expect("generated selectors are valid");
                let ns = namespace.map(|n| format!("ns{n}"));
                let scanned: Vec<Arc<ConfigMap>> = s.list().into_iter()
                    .filter(|o| ns.is_none() || o.metadata.namespace == ns)
                    .filter(|o| selector.matches(o.metadata.labels.as_ref()))
                    .collect();
                prop_assert_eq!(names(s.select(ns.as_deref(), &selector)), names(scanned.clone()), "selector {}", selector);
                let planned = s.inner.read().select_planned(ns.as_deref(), &selector, false);
                prop_assert_eq!(names(planned), names(scanned), "selector {} through postings", selector);
                // `get` finds every listed object, the very Arc, and nothing else.
                let listed = s.list();
                for o in &listed {
                    let got = s.get_by(o.metadata.namespace.as_deref(), o.metadata.name.as_deref().unwrap_or_default());
                    prop_assert!(got.is_some_and(|g| Arc::ptr_eq(&g, o)), "get {:?}", o.metadata.name);
                }
                prop_assert_eq!(s.keys().len(), listed.len());
                // The other indexes agree with the objects too.
                for (i, ns) in (0..3).map(|n| format!("ns{n}")).enumerate() {
                    let by_ns = names(s.by_index(NAMESPACE_INDEX, &ns).unwrap());
                    let scanned = names(s.list().into_iter().filter(|o| o.metadata.namespace.as_deref() == Some(&ns)).collect());
                    prop_assert_eq!(by_ns, scanned, "namespace {}", i);
                }
            }
        }
    }
}
