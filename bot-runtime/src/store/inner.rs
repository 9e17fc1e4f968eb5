//! The state behind a store's lock: a slab of objects, a table finding a
//! slot by borrowed `(namespace, name)`, and the indexes, all filing slot
//! ids.

use std::{collections::HashMap, hash::BuildHasher, panic::AssertUnwindSafe, sync::Arc};

use hashbrown::{DefaultHashBuilder, HashTable};
use kube::Resource;

use super::{
    IndexFn, ObjectKey, ObjectKeyRef,
    postings::{Id, PostingMap},
};

/// One cached object. Its key is read from its metadata (the key was
/// computed from there): no second copy of every name and namespace.
pub(super) struct Slot<K> {
    pub(super) obj: Arc<K>,
}

impl<K: Resource> Slot<K> {
    /// The key, borrowed from the object.
    pub(super) fn key(&self) -> ObjectKeyRef<'_> {
        ObjectKeyRef::from_object(self.obj.as_ref())
    }
}

pub(super) struct Inner<K> {
    /// The objects; `None` is a free slot (listed in `free`).
    slots: Vec<Option<Slot<K>>>,
    free: Vec<Id>,
    /// Slot ids, hashed by `(namespace or "", name)` of their object.
    table: HashTable<Id>,
    hasher: DefaultHashBuilder,
    /// Label key -> label value -> slots.
    pub(super) labels: HashMap<String, PostingMap>,
    /// Namespace -> slots.
    pub(super) namespaces: PostingMap,
    /// Owner UID (every ownerReference) -> slots.
    pub(super) owners: PostingMap,
    /// User-registered index functions and their indexes.
    pub(super) indexers: HashMap<String, IndexFn<K>>,
    pub(super) indices: HashMap<String, PostingMap>,
    pub(super) synced: bool,
    /// Index functions that panicked since they were last taken: (object, index name).
    pub(super) index_failures: Vec<(ObjectKey, String)>,
}

fn hash_of(hasher: &DefaultHashBuilder, namespace: Option<&str>, name: &str) -> u64 {
    hasher.hash_one((namespace.unwrap_or(""), name))
}

impl<K> Inner<K> {
    /// Number of objects.
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn slot(&self, id: Id) -> Option<&Slot<K>> {
        self.slots.get(id as usize).and_then(Option::as_ref)
    }

    /// Every occupied slot.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Id, &Slot<K>)> {
        self.slots.iter().enumerate().filter_map(|(id, s)| s.as_ref().map(|s| (id as Id, s)))
    }

    /// Number of slots, occupied or free (ids are below it).
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

impl<K: Resource> Inner<K> {
    pub(super) fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            table: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            labels: HashMap::new(),
            namespaces: PostingMap::default(),
            owners: PostingMap::default(),
            indexers: HashMap::new(),
            indices: HashMap::new(),
            synced: false,
            index_failures: Vec::new(),
        }
    }

    /// Whether any cached object has a namespace (false for cluster-scoped kinds).
    pub(super) fn namespaced(&self) -> bool {
        self.namespaces.len() > 0
    }

    /// The slot of `namespace/name`, without allocating.
    pub(super) fn find(&self, namespace: Option<&str>, name: &str) -> Option<Id> {
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let hash = hash_of(&self.hasher, namespace, name);
        self.table
            .find(hash, |&id| {
                self.slot(id).is_some_and(|s| {
                    let key = s.key();
                    key.name == name && key.namespace == namespace
                })
            })
            .copied()
    }

    /// The object under `namespace/name`.
    pub(super) fn get(&self, namespace: Option<&str>, name: &str) -> Option<&Arc<K>> {
        self.find(namespace, name).and_then(|id| self.slot(id)).map(|s| &s.obj)
    }

    /// Stores `obj` under its key; returns what was stored before.
    pub(super) fn upsert(&mut self, obj: Arc<K>) -> Option<Arc<K>> {
        let key = ObjectKeyRef::from_object(obj.as_ref());
        match self.find(key.namespace, key.name) {
            Some(id) => {
                let old = std::mem::replace(&mut self.slots[id as usize].as_mut().expect("found").obj, obj.clone());
                self.reindex(id, &old, &obj);
                Some(old)
            }
            None => {
                let id = self.insert_slot(obj.clone());
                self.file(id, &obj);
                None
            }
        }
    }

    /// Removes the object under `namespace/name`.
    pub(super) fn remove(&mut self, namespace: Option<&str>, name: &str) -> Option<Arc<K>> {
        let id = self.find(namespace, name)?;
        let Slot { obj } = self.slots[id as usize].take().expect("found");
        let key = ObjectKeyRef::from_object(obj.as_ref());
        let hash = hash_of(&self.hasher, key.namespace, key.name);
        self.table.find_entry(hash, |&other| other == id).expect("the table files every slot").remove();
        self.free.push(id);
        self.unindex(id, &obj);
        Some(obj)
    }

    fn insert_slot(&mut self, obj: Arc<K>) -> Id {
        let key = ObjectKeyRef::from_object(obj.as_ref());
        let hash = hash_of(&self.hasher, key.namespace, key.name);
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(Slot { obj });
                id
            }
            None => {
                let id = Id::try_from(self.slots.len()).expect("fewer than 2^32 cached objects");
                self.slots.push(Some(Slot { obj }));
                id
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.table.insert_unique(hash, id, |&other| {
            let key = slots[other as usize].as_ref().expect("filed slots are occupied").key();
            hash_of(hasher, key.namespace, key.name)
        });
        id
    }

    /// Files a new object under every index.
    fn file(&mut self, id: Id, obj: &K) {
        for_each_label(obj, |k, v| self.labels.entry(k.to_string()).or_default().insert(v, id));
        if let Some(ns) = ObjectKeyRef::from_object(obj).namespace {
            self.namespaces.insert(ns, id);
        }
        for_each_owner(obj, |uid| self.owners.insert(uid, id));
        self.refile(id, None, Some(obj));
    }

    /// Removes a stored object from every index.
    fn unindex(&mut self, id: Id, obj: &K) {
        self.unindex_labels(id, obj);
        if let Some(ns) = ObjectKeyRef::from_object(obj).namespace {
            self.namespaces.remove(ns, id);
        }
        for_each_owner(obj, |uid| self.owners.remove(uid, id));
        self.refile(id, Some(obj), None);
    }

    fn unindex_labels(&mut self, id: Id, obj: &K) {
        for_each_label(obj, |k, v| {
            if let Some(values) = self.labels.get_mut(k) {
                values.remove(v, id);
                if values.len() == 0 {
                    self.labels.remove(k);
                }
            }
        });
    }

    /// Moves a replaced object's slot from the old object's index values to
    /// the new one's (labels and owners only when they changed).
    fn reindex(&mut self, id: Id, old: &K, new: &K) {
        if old.meta().labels != new.meta().labels {
            self.unindex_labels(id, old);
            for_each_label(new, |k, v| self.labels.entry(k.to_string()).or_default().insert(v, id));
        }
        if old.meta().owner_references != new.meta().owner_references {
            for_each_owner(old, |uid| self.owners.remove(uid, id));
            for_each_owner(new, |uid| self.owners.insert(uid, id));
        }
        self.refile(id, Some(old), Some(new));
    }

    /// Moves slot `id` in every registered index from the values of `old`
    /// to those of `new` (`None`: a new or a removed object). Index
    /// functions are user code: one that panics on `old` leaves its values
    /// unknown (the slot is taken out of every value), one that panics on
    /// `new` files the object without a value there (the failure recorded).
    fn refile(&mut self, id: Id, old: Option<&K>, new: Option<&K>) {
        let Self { indexers, indices, index_failures, .. } = self;
        let values_of = |f: &IndexFn<K>, obj: &K| std::panic::catch_unwind(AssertUnwindSafe(|| f(obj))).ok();
        for (name, f) in indexers.iter() {
            let Some(index) = indices.get_mut(name) else { continue };
            match old.map(|old| values_of(f, old)) {
                Some(Some(values)) => values.iter().for_each(|v| index.remove(v, id)),
                Some(None) => index.purge(id),
                None => {}
            }
            match new.map(|new| values_of(f, new)) {
                Some(Some(values)) => values.iter().for_each(|v| index.insert(v, id)),
                Some(None) => {
                    if let Some(new) = new {
                        index_failures.push((ObjectKey::from_object(new), name.clone()));
                    }
                }
                None => {}
            }
        }
    }

    /// An index over the current objects by `f` (a panic propagates).
    pub(super) fn build_index(&self, f: &IndexFn<K>) -> PostingMap {
        let mut index = PostingMap::default();
        for (id, slot) in self.iter() {
            f(&slot.obj).iter().for_each(|v| index.insert(v, id));
        }
        index
    }
}

fn for_each_label<K: Resource>(obj: &K, mut f: impl FnMut(&str, &str)) {
    obj.meta().labels.iter().flatten().for_each(|(k, v)| f(k, v));
}

fn for_each_owner<K: Resource>(obj: &K, mut f: impl FnMut(&str)) {
    obj.meta().owner_references.iter().flatten().for_each(|r| f(&r.uid));
}
