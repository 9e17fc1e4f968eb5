//! Dynamic informers: shared informers for kinds known only at run time (client-go's `dynamicinformer`).
//!
//! A [`DynamicInformerFactory`] resolves a [`GroupVersionKind`] with kube's
//! discovery ([`kube::discovery::pinned_kind`]: its resource name and
//! scope), builds an `Api<DynamicObject>` from the [`ApiResource`] and runs
//! the ordinary [`SharedIndexInformer`] over it: one watch, one indexed
//! cache, many handlers, as for typed kinds. Objects are [`DynamicObject`]s
//! (metadata typed, the rest JSON), always with their `apiVersion` and `kind`
//! set. [`DynamicLister`] reads the cache.
//!
//! The typed [`Lister`](crate::Lister) is not used: it names the kind in its
//! `NotFound` error from `K::kind(&Default::default())`, and a
//! [`DynamicObject`]'s kind lives in its [`ApiResource`], which has no
//! default. [`DynamicLister`] carries the `ApiResource` instead and returns
//! the same [`lister::Error`].
//!
//! ```no_run
//! use std::sync::Arc;
//! use bot_runtime::{HandlerFuncs, dynamic::DynamicInformerFactory};
//! use kube::api::{DynamicObject, GroupVersionKind};
//!
//! # async fn demo(client: kube::Client) -> Result<(), bot_runtime::dynamic::Error> {
//! let factory = DynamicInformerFactory::new(client, None).with_namespace("default");
//! let bots = factory.for_resource(&GroupVersionKind::gvk("botops.dev", "v1alpha1", "Bot")).await?;
//! bots.informer().add_event_handler(HandlerFuncs::new().on_add(|bot: &Arc<DynamicObject>, _| {
//!     println!("bot {:?}: {}", bot.metadata.name, bot.data["spec"]["platform"]);
//! }));
//! factory.start();
//! factory.wait_for_cache_sync().await;
//! let greeter = bots.lister().namespaced("default").get("greeter");
//! # Ok(()) }
//! ```

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::Arc,
    time::Duration,
};

use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, ObjectMeta, TypeMeta},
    discovery::{self, ApiCapabilities, Scope},
    runtime::watcher,
};
use parking_lot::Mutex;

use crate::{
    informer::{InformerConfig, SharedIndexInformer},
    lister,
    selector::LabelSelector,
    store::Store,
};

/// Errors of dynamic informers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Discovery could not resolve the kind (unknown group, version or kind,
    /// or the API was unreachable).
    #[error("cannot resolve {gvk}: {source}")]
    Discovery {
        /// The kind asked for, `group/version/Kind`.
        gvk: String,
        /// What discovery reported.
        #[source]
        source: kube::Error,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn gvk_string(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        format!("{}/{}", gvk.version, gvk.kind)
    } else {
        format!("{}/{}/{}", gvk.group, gvk.version, gvk.kind)
    }
}

/// The shared informer of one run-time kind, with what discovery said about it.
///
/// ```no_run
/// # async fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) -> Result<(), bot_runtime::dynamic::Error> {
/// use kube::api::GroupVersionKind;
/// let deployments = factory.for_resource(&GroupVersionKind::gvk("apps", "v1", "Deployment")).await?;
/// assert_eq!(deployments.api_resource().plural, "deployments");
/// assert!(deployments.is_namespaced());
/// # Ok(()) }
/// ```
pub struct DynamicSharedInformer {
    resource: ApiResource,
    namespaced: bool,
    informer: Arc<SharedIndexInformer<DynamicObject>>,
}

impl fmt::Debug for DynamicSharedInformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicSharedInformer")
            .field("resource", &self.resource)
            .field("namespaced", &self.namespaced)
            .field("informer", &self.informer)
            .finish()
    }
}

impl DynamicSharedInformer {
    /// The informer (add handlers and indexers, run, wait for sync).
    ///
    /// ```no_run
    /// # fn demo(bots: &bot_runtime::dynamic::DynamicSharedInformer) {
    /// bots.informer().add_event_handler(bot_runtime::HandlerFuncs::new().on_delete(|bot: &std::sync::Arc<kube::api::DynamicObject>, _| {
    ///     println!("gone: {:?}", bot.metadata.name);
    /// }));
    /// # }
    /// ```
    pub fn informer(&self) -> &Arc<SharedIndexInformer<DynamicObject>> {
        &self.informer
    }

    /// A lister over the informer's cache.
    ///
    /// ```no_run
    /// # fn demo(bots: &bot_runtime::dynamic::DynamicSharedInformer) {
    /// let all = bots.lister().list(&Default::default());
    /// # }
    /// ```
    pub fn lister(&self) -> DynamicLister {
        DynamicLister::new(self.informer.store(), self.resource.clone())
    }

    /// The resource (group, version, kind, plural) informed on.
    ///
    /// ```no_run
    /// # fn demo(bots: &bot_runtime::dynamic::DynamicSharedInformer) {
    /// assert_eq!(bots.api_resource().kind, "Bot");
    /// # }
    /// ```
    pub fn api_resource(&self) -> &ApiResource {
        &self.resource
    }

    /// Whether the kind is namespaced.
    ///
    /// ```no_run
    /// # fn demo(bots: &bot_runtime::dynamic::DynamicSharedInformer) {
    /// let scope = if bots.is_namespaced() { "namespaced" } else { "cluster" };
    /// # }
    /// ```
    pub fn is_namespaced(&self) -> bool {
        self.namespaced
    }
}

type TweakFn = Arc<dyn Fn(&mut watcher::Config) + Send + Sync>;
type MetaTransformFn = Arc<dyn Fn(&mut ObjectMeta) + Send + Sync>;

struct Entry {
    informer: Arc<DynamicSharedInformer>,
    started: bool,
}

/// Creates and owns dynamic shared informers, one per kind however often asked.
///
/// Cheap to clone (clones share the informers); configure with the `with_*`
/// builders before the first [`for_resource`](Self::for_resource).
///
/// ```no_run
/// # use bot_runtime::dynamic::DynamicInformerFactory;
/// # async fn demo(client: kube::Client) -> Result<(), bot_runtime::dynamic::Error> {
/// use kube::api::GroupVersionKind;
/// let factory = DynamicInformerFactory::new(client, Some(std::time::Duration::from_secs(600)))
///     .with_transform(|meta| meta.managed_fields = None);
/// let gvk = GroupVersionKind::gvk("apps", "v1", "Deployment");
/// let a = factory.for_resource(&gvk).await?;
/// let b = factory.for_resource(&gvk).await?;
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// factory.start();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamicInformerFactory {
    client: Client,
    default_resync: Option<Duration>,
    namespace: Option<String>,
    tweak: Option<TweakFn>,
    transform: Option<MetaTransformFn>,
    informers: Arc<Mutex<HashMap<GroupVersionKind, Entry>>>,
}

impl fmt::Debug for DynamicInformerFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = self.informers.lock().keys().map(gvk_string).collect();
        f.debug_struct("DynamicInformerFactory")
            .field("namespace", &self.namespace)
            .field("default_resync", &self.default_resync)
            .field("informers", &kinds)
            .finish()
    }
}

impl DynamicInformerFactory {
    /// A factory watching all namespaces with `default_resync` (`None`: no resync).
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// let factory = bot_runtime::dynamic::DynamicInformerFactory::new(client, None);
    /// # }
    /// ```
    pub fn new(client: Client, default_resync: Option<Duration>) -> Self {
        Self { client, default_resync, namespace: None, tweak: None, transform: None, informers: Arc::default() }
    }

    /// Watches only `namespace` (for namespaced kinds; cluster-scoped kinds
    /// are watched whole). Default: all namespaces.
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// let factory = bot_runtime::dynamic::DynamicInformerFactory::new(client, None).with_namespace("default");
    /// # }
    /// ```
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Adjusts every informer's list/watch options (e.g. a label selector).
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// let factory = bot_runtime::dynamic::DynamicInformerFactory::new(client, None)
    ///     .with_tweak_list_options(|c| *c = c.clone().labels("app=bot"));
    /// # }
    /// ```
    #[must_use]
    pub fn with_tweak_list_options(mut self, f: impl Fn(&mut watcher::Config) + Send + Sync + 'static) -> Self {
        self.tweak = Some(Arc::new(f));
        self
    }

    /// Transforms the metadata of every object before caching (e.g.
    /// `|m| m.managed_fields = None`).
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// let factory = bot_runtime::dynamic::DynamicInformerFactory::new(client, None)
    ///     .with_transform(|meta| meta.managed_fields = None);
    /// # }
    /// ```
    #[must_use]
    pub fn with_transform(mut self, f: impl Fn(&mut ObjectMeta) + Send + Sync + 'static) -> Self {
        self.transform = Some(Arc::new(f));
        self
    }

    /// The client.
    ///
    /// ```no_run
    /// # fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// let client = factory.client().clone();
    /// # }
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace watched, if restricted.
    ///
    /// ```no_run
    /// # fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// assert_eq!(factory.with_namespace("default").namespace(), Some("default"));
    /// # }
    /// ```
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The shared informer of `gvk`, resolved with discovery and created
    /// (not started) on first request; later requests return the same one.
    ///
    /// ```no_run
    /// # async fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) -> Result<(), bot_runtime::dynamic::Error> {
    /// use kube::api::GroupVersionKind;
    /// let bots = factory.for_resource(&GroupVersionKind::gvk("botops.dev", "v1alpha1", "Bot")).await?;
    /// # Ok(()) }
    /// ```
    pub async fn for_resource(&self, gvk: &GroupVersionKind) -> Result<Arc<DynamicSharedInformer>> {
        if let Some(entry) = self.informers.lock().get(gvk) {
            return Ok(entry.informer.clone());
        }
        let (resource, capabilities) = discovery::pinned_kind(&self.client, gvk)
            .await
            .map_err(|source| Error::Discovery { gvk: gvk_string(gvk), source })?;
        Ok(self.for_api_resource(&resource, &capabilities))
    }

    /// The shared informer of an already resolved resource (no discovery
    /// request), created on first request; keyed by its group, version and kind.
    ///
    /// ```no_run
    /// # fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// use kube::{api::ApiResource, discovery::{ApiCapabilities, Scope}};
    /// let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    /// let caps = ApiCapabilities { scope: Scope::Namespaced, subresources: vec![], operations: vec![] };
    /// let configmaps = factory.for_api_resource(&resource, &caps);
    /// # }
    /// ```
    pub fn for_api_resource(
        &self,
        resource: &ApiResource,
        capabilities: &ApiCapabilities,
    ) -> Arc<DynamicSharedInformer> {
        let gvk = GroupVersionKind::gvk(&resource.group, &resource.version, &resource.kind);
        let mut informers = self.informers.lock();
        if let Some(entry) = informers.get(&gvk) {
            return entry.informer.clone();
        }
        let namespaced = matches!(capabilities.scope, Scope::Namespaced);
        let api = match (&self.namespace, namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, resource),
            _ => Api::all_with(self.client.clone(), resource),
        };
        let informer = Arc::new(SharedIndexInformer::new(api, self.informer_config(resource)));
        let informer = Arc::new(DynamicSharedInformer { resource: resource.clone(), namespaced, informer });
        informers.insert(gvk, Entry { informer: informer.clone(), started: false });
        informer
    }

    fn informer_config(&self, resource: &ApiResource) -> InformerConfig<DynamicObject> {
        let mut watcher_config = crate::reflector::default_watcher_config();
        if let Some(tweak) = &self.tweak {
            tweak(&mut watcher_config);
        }
        let types = TypeMeta { api_version: resource.api_version.clone(), kind: resource.kind.clone() };
        let meta_transform = self.transform.clone();
        InformerConfig::new().watcher(watcher_config).resync(self.default_resync).transform(
            move |obj: &mut DynamicObject| {
                // List items of built-in kinds come without apiVersion/kind.
                if obj.types.is_none() {
                    obj.types = Some(types.clone());
                }
                if let Some(f) = &meta_transform {
                    f(&mut obj.metadata);
                }
            },
        )
    }

    /// Starts every informer not started yet; call again after asking for more kinds.
    ///
    /// ```no_run
    /// # fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// factory.start();
    /// # }
    /// ```
    pub fn start(&self) {
        for entry in self.informers.lock().values_mut().filter(|e| !e.started) {
            entry.informer.informer.run();
            entry.started = true;
        }
    }

    /// Waits until every started informer has synced; reports each by
    /// `group/version/Kind` (`false`: shut down before it synced).
    ///
    /// ```no_run
    /// # async fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// assert!(factory.wait_for_cache_sync().await.values().all(|synced| *synced));
    /// # }
    /// ```
    pub async fn wait_for_cache_sync(&self) -> BTreeMap<String, bool> {
        let started: Vec<(String, Arc<DynamicSharedInformer>)> = {
            let informers = self.informers.lock();
            informers.iter().filter(|(_, e)| e.started).map(|(gvk, e)| (gvk_string(gvk), e.informer.clone())).collect()
        };
        let mut result = BTreeMap::new();
        for (key, informer) in started {
            result.insert(key, informer.informer.wait_for_sync().await);
        }
        result
    }

    /// Whether every started informer has synced (for a readiness check).
    ///
    /// ```no_run
    /// # fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// let ready = factory.has_synced();
    /// # }
    /// ```
    pub fn has_synced(&self) -> bool {
        self.informers.lock().values().filter(|e| e.started).all(|e| e.informer.informer.has_synced())
    }

    /// Stops every informer and waits for their tasks.
    ///
    /// ```no_run
    /// # async fn demo(factory: bot_runtime::dynamic::DynamicInformerFactory) {
    /// factory.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(&self) {
        let all: Vec<Arc<DynamicSharedInformer>> = self.informers.lock().values().map(|e| e.informer.clone()).collect();
        for informer in all {
            informer.informer.shutdown().await;
        }
    }
}

fn not_found(resource: &ApiResource, namespace: Option<&str>, name: &str) -> lister::Error {
    lister::Error::NotFound {
        kind: resource.kind.clone(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
    }
}

/// Lists and gets cached [`DynamicObject`]s of one kind across namespaces.
///
/// ```no_run
/// # fn demo(bots: &bot_runtime::dynamic::DynamicSharedInformer) -> Result<(), bot_runtime::lister::Error> {
/// let lister = bots.lister();
/// for bot in lister.list(&"platform=slack".parse().expect("a valid selector")) {
///     println!("{:?}", bot.metadata.name);
/// }
/// let greeter = lister.namespaced("default").get("greeter")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DynamicLister {
    store: Store<DynamicObject>,
    resource: ApiResource,
}

impl fmt::Debug for DynamicLister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicLister").field("kind", &self.resource.kind).field("store", &self.store).finish()
    }
}

impl DynamicLister {
    /// A lister over `store`, which holds objects of `resource`.
    ///
    /// ```no_run
    /// # use bot_runtime::{SharedIndexInformer, dynamic::DynamicLister};
    /// use kube::api::{ApiResource, DynamicObject};
    /// # fn demo(informer: &SharedIndexInformer<DynamicObject>) {
    /// let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    /// let lister = DynamicLister::new(informer.store(), resource);
    /// assert!(lister.namespaced("default").get("missing").unwrap_err().is_not_found());
    /// # }
    /// ```
    pub fn new(store: Store<DynamicObject>, resource: ApiResource) -> Self {
        Self { store, resource }
    }

    /// The underlying store.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// let cached = lister.store().len();
    /// # }
    /// ```
    pub fn store(&self) -> &Store<DynamicObject> {
        &self.store
    }

    /// The resource listed.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// let plural = &lister.api_resource().plural;
    /// # }
    /// ```
    pub fn api_resource(&self) -> &ApiResource {
        &self.resource
    }

    /// Every cached object whose labels match `selector` (in no particular order).
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// let team_a = lister.list(&"team=a".parse().expect("a valid selector"));
    /// # }
    /// ```
    pub fn list(&self, selector: &LabelSelector) -> Vec<Arc<DynamicObject>> {
        self.store.select(None, selector)
    }

    /// A lister restricted to `namespace` (`""`: every namespace).
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// let in_default = lister.namespaced("default");
    /// # }
    /// ```
    pub fn namespaced(&self, namespace: &str) -> DynamicNamespaceLister {
        DynamicNamespaceLister { lister: self.clone(), namespace: namespace.to_string() }
    }

    /// Gets a cluster-scoped object by name; `NotFound` when not cached.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) -> Result<(), bot_runtime::lister::Error> {
    /// let crd = lister.get("bots.botops.dev")?;
    /// # Ok(()) }
    /// ```
    pub fn get(&self, name: &str) -> lister::Result<Arc<DynamicObject>> {
        self.store.get_by(None, name).ok_or_else(|| not_found(&self.resource, None, name))
    }

    /// The objects filed under `value` in the index `index`.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) -> Result<(), bot_runtime::lister::Error> {
    /// let in_default = lister.by_index(bot_runtime::NAMESPACE_INDEX, "default")?;
    /// # Ok(()) }
    /// ```
    pub fn by_index(&self, index: &str, value: &str) -> lister::Result<Vec<Arc<DynamicObject>>> {
        Ok(self.store.by_index(index, value)?)
    }
}

/// Lists and gets cached [`DynamicObject`]s of one kind in one namespace.
///
/// ```no_run
/// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
/// let in_default = lister.namespaced("default").list(&Default::default());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct DynamicNamespaceLister {
    lister: DynamicLister,
    namespace: String,
}

impl DynamicNamespaceLister {
    /// The namespace.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// assert_eq!(lister.namespaced("default").namespace(), "default");
    /// # }
    /// ```
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The objects of this namespace whose labels match `selector`, via the
    /// namespace and label indexes; the namespace `""` means all namespaces.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) {
    /// let everything_in_default = lister.namespaced("default").list(&Default::default());
    /// # }
    /// ```
    pub fn list(&self, selector: &LabelSelector) -> Vec<Arc<DynamicObject>> {
        self.lister.store.select(Some(&self.namespace), selector)
    }

    /// Gets an object of this namespace by name; `NotFound` when not cached.
    ///
    /// ```no_run
    /// # fn demo(lister: bot_runtime::dynamic::DynamicLister) -> Result<(), bot_runtime::lister::Error> {
    /// match lister.namespaced("default").get("greeter") {
    ///     Ok(bot) => println!("{}", bot.data["spec"]),
    ///     Err(e) if e.is_not_found() => println!("no such bot"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get(&self, name: &str) -> lister::Result<Arc<DynamicObject>> {
        let lister = &self.lister;
        lister
            .store
            .get_by(Some(&self.namespace), name)
            .ok_or_else(|| not_found(&lister.resource, Some(&self.namespace), name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(ns: &str, name: &str, app: &str) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Bot",
            "metadata": { "namespace": ns, "name": name, "labels": { "app": app } },
            "spec": { "platform": "slack" }
        }))
        .unwrap()
    }

    #[test]
    fn selectors_filter_and_not_found_names_the_kind() {
        let writer = crate::store::Writer::new();
        for o in [obj("a", "x", "web"), obj("a", "y", "db"), obj("b", "z", "web")] {
            writer.upsert(o);
        }
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        let lister = DynamicLister { store: writer.as_reader(), resource };
        let names = |objs: Vec<Arc<DynamicObject>>| -> Vec<String> {
            let mut names: Vec<_> = objs.iter().map(|o| o.metadata.name.clone().unwrap()).collect();
            names.sort();
            names
        };
        assert_eq!(names(lister.list(&"app=web".parse().unwrap())), ["x", "z"]);
        assert_eq!(names(lister.list(&Default::default())), ["x", "y", "z"]);
        assert_eq!(names(lister.namespaced("a").list(&"app!=web".parse().unwrap())), ["y"]);
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("botops.dev", "v1alpha1", "Bot"));
        let err = not_found(&resource, Some("b"), "x");
        assert!(err.is_not_found());
        assert_eq!(err.to_string(), "Bot b/\"x\" not found");
    }

    #[test]
    fn gvk_strings_match_kind_keys() {
        assert_eq!(gvk_string(&GroupVersionKind::gvk("", "v1", "ConfigMap")), "v1/ConfigMap");
        assert_eq!(gvk_string(&GroupVersionKind::gvk("apps", "v1", "Deployment")), "apps/v1/Deployment");
    }
}
