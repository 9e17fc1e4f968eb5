//! Listers: typed, read-only queries over an informer's [`Store`] (client-go's lister-gen).

use std::sync::Arc;

use kube::Resource;

use crate::{
    selector::{FieldSelector, LabelSelector},
    store::{self, Store},
};

/// Errors of listers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The object is not in the cache.
    #[error("{kind} {}{name:?} not found", namespace.as_ref().map(|ns| format!("{ns}/")).unwrap_or_default())]
    NotFound {
        /// The kind (from `Resource::kind`).
        kind: String,
        /// The namespace asked for; `None` for cluster-scoped kinds.
        namespace: Option<String>,
        /// The name asked for.
        name: String,
    },
    /// An index query failed (unknown index).
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Error {
    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn not_found<K: Resource>(namespace: Option<&str>, name: &str) -> Error
where
    K::DynamicType: Default,
{
    Error::NotFound {
        kind: K::kind(&Default::default()).into_owned(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

/// Lists and gets cached objects of one kind across namespaces.
pub struct Lister<K> {
    store: Store<K>,
}

impl<K> Clone for Lister<K> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone() }
    }
}

impl<K> std::fmt::Debug for Lister<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lister").field("store", &self.store).finish()
    }
}

impl<K: Resource + 'static> Lister<K>
where
    K::DynamicType: Default,
{
    /// A lister over `store`.
    pub fn new(store: Store<K>) -> Self {
        Self { store }
    }

    /// The underlying cache (read-only: only the informer's reflector writes).
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Every cached object whose labels match `selector` (in no particular
    /// order), answered from the store's label index (see [`Store::select`]).
    ///
    /// ```
    /// # use bot_runtime::{Lister, store::Writer, k8s_openapi::api::core::v1::ConfigMap};
    /// # fn main() -> Result<(), bot_runtime::selector::Error> {
    /// # let lister = Lister::new(Writer::<ConfigMap>::new().as_reader());
    /// let web = lister.list(&"app in (a,b),tier!=db".parse()?);
    /// let all = lister.list(&Default::default());
    /// # Ok(()) }
    /// ```
    pub fn list(&self, selector: &LabelSelector) -> Vec<Arc<K>> {
        self.store.select(None, selector)
    }

    /// The cached objects matching both a label and a field selector
    /// (`metadata.name`, `metadata.namespace`: what the API server
    /// supports for every kind), e.g.
    /// `lister.list_fields(&"app=web".parse()?, &"metadata.namespace!=kube-system".parse()?)`.
    pub fn list_fields(&self, labels: &LabelSelector, fields: &FieldSelector) -> Vec<Arc<K>> {
        self.store.select_fields(None, labels, fields)
    }

    /// The cached objects of which `uid` is an owner (any `ownerReferences`
    /// entry), from the store's owner index.
    pub fn by_owner(&self, uid: &str) -> Vec<Arc<K>> {
        self.store.by_owner(uid)
    }

    /// A lister restricted to `namespace`.
    pub fn namespaced(&self, namespace: &str) -> NamespaceLister<K> {
        NamespaceLister { store: self.store.clone(), namespace: namespace.to_string() }
    }

    /// Gets a cluster-scoped object by name.
    pub fn get(&self, name: &str) -> Result<Arc<K>> {
        self.store.get_by(None, name).ok_or_else(|| not_found::<K>(None, name))
    }

    /// The objects filed under `value` in the index `index`.
    pub fn by_index(&self, index: &str, value: &str) -> Result<Vec<Arc<K>>> {
        Ok(self.store.by_index(index, value)?)
    }
}

/// Lists and gets cached objects of one kind in one namespace.
pub struct NamespaceLister<K> {
    store: Store<K>,
    namespace: String,
}

impl<K> Clone for NamespaceLister<K> {
    fn clone(&self) -> Self {
        Self { store: self.store.clone(), namespace: self.namespace.clone() }
    }
}

impl<K> std::fmt::Debug for NamespaceLister<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamespaceLister").field("namespace", &self.namespace).finish()
    }
}

impl<K: Resource + 'static> NamespaceLister<K>
where
    K::DynamicType: Default,
{
    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The objects of this namespace whose labels match `selector`, planned
    /// over the namespace and label indexes (never a scan of the whole
    /// cache; see [`Store::select`]). The namespace `""` means all
    /// namespaces, as in the generated clientset.
    pub fn list(&self, selector: &LabelSelector) -> Vec<Arc<K>> {
        self.store.select(Some(&self.namespace), selector)
    }

    /// The objects of this namespace matching both a label and a field
    /// selector (see [`Lister::list_fields`]).
    pub fn list_fields(&self, labels: &LabelSelector, fields: &FieldSelector) -> Vec<Arc<K>> {
        self.store.select_fields(Some(&self.namespace), labels, fields)
    }

    /// Gets an object of this namespace by name; [`Error::NotFound`] when not cached.
    pub fn get(&self, name: &str) -> Result<Arc<K>> {
        self.store.get_by(Some(&self.namespace), name).ok_or_else(|| not_found::<K>(Some(&self.namespace), name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
    use kube::{api::ObjectMeta, core::Selector};

    use crate::store::NAMESPACE_INDEX;

    fn cm(ns: &str, name: &str, app: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some(ns.into()),
                name: Some(name.into()),
                labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(objs: Vec<Arc<ConfigMap>>) -> Vec<String> {
        let mut v: Vec<_> = objs.iter().map(|o| crate::store::ObjectKey::from_object(o.as_ref()).to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn list_by_selector_and_namespace() {
        let writer = crate::store::Writer::new();
        writer.upsert(cm("a", "x", "web"));
        writer.upsert(cm("a", "y", "db"));
        writer.upsert(cm("b", "z", "web"));
        let lister = Lister::new(writer.as_reader());
        assert_eq!(names(lister.list(&LabelSelector::everything())), ["a/x", "a/y", "b/z"]);
        let web: LabelSelector = Selector::from_iter([("app", "web")]).into();
        assert_eq!(web, "app=web".parse().unwrap());
        assert_eq!(names(lister.list(&web)), ["a/x", "b/z"]);
        assert_eq!(names(lister.namespaced("a").list(&web)), ["a/x"]);
        assert_eq!(names(lister.namespaced("a").list(&LabelSelector::everything())), ["a/x", "a/y"]);
        assert!(lister.namespaced("c").list(&"".parse().unwrap()).is_empty());
        assert_eq!(names(lister.namespaced("").list(&web)), ["a/x", "b/z"], "\"\" is every namespace");
        assert_eq!(lister.namespaced("b").get("z").unwrap().metadata.name.as_deref(), Some("z"));
        assert_eq!(names(lister.by_index(NAMESPACE_INDEX, "b").unwrap()), ["b/z"]);
        assert!(!lister.by_index("nope", "b").unwrap_err().is_not_found());
        let fields = |s: &str| s.parse::<FieldSelector>().unwrap();
        let all = LabelSelector::everything();
        assert_eq!(names(lister.list_fields(&all, &fields("metadata.name=x"))), ["a/x"]);
        assert_eq!(names(lister.list_fields(&web, &fields("metadata.namespace=b"))), ["b/z"]);
        assert_eq!(names(lister.list_fields(&all, &fields("metadata.namespace!=a"))), ["b/z"]);
        assert_eq!(names(lister.namespaced("a").list_fields(&all, &fields("metadata.name==y"))), ["a/y"]);
        assert!(lister.namespaced("a").list_fields(&all, &fields("metadata.namespace=b")).is_empty());
        assert!(lister.namespaced("a").list_fields(&web, &fields("metadata.name=y")).is_empty());
    }

    #[test]
    fn get_missing_is_not_found() {
        let lister = Lister::new(crate::store::Writer::<ConfigMap>::new().as_reader());
        let err = lister.namespaced("a").get("x").unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err, Error::NotFound { kind: "ConfigMap".into(), namespace: Some("a".into()), name: "x".into() });
        assert_eq!(err.to_string(), "ConfigMap a/\"x\" not found");

        let ns_lister = Lister::new(crate::store::Writer::<Namespace>::new().as_reader());
        let err = ns_lister.get("kube-system").unwrap_err();
        assert_eq!(err.to_string(), "Namespace \"kube-system\" not found");
    }
}
