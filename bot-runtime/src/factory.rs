//! `InformerFactory`: one shared informer per kind, the generic core of generated informer factories.

use std::{
    any::{Any, TypeId},
    collections::{BTreeMap, HashMap},
    fmt::Debug,
    sync::Arc,
    time::Duration,
};

use futures::future::BoxFuture;
use kube::{
    Api, Client, Resource,
    api::ObjectMeta,
    core::{ClusterResourceScope, NamespaceResourceScope, PartialObjectMeta},
    runtime::watcher,
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::{
    informer::{InformerConfig, SharedIndexInformer},
    metrics::InformerMetrics,
    reflector::{Omit, default_watcher_config},
};

/// Errors of the informer factory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Some started informers had not synced when the wait ended (timed
    /// out, or shut down first).
    #[error("informers not synced after {timeout:?}: {}", kinds.join(", "))]
    NotSynced {
        /// How long the wait was.
        timeout: Duration,
        /// The [`kind_key`]s of the informers not synced, sorted.
        kinds: Vec<String>,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The scope of a kind, known at compile time; builds its [`Api`].
///
/// Implemented for k8s-openapi's [`NamespaceResourceScope`] and
/// [`ClusterResourceScope`], the scopes of k8s-openapi types and of derived
/// custom resources.
pub trait KindScope {
    /// Whether objects of the kind live in namespaces.
    const NAMESPACED: bool;
    /// An [`Api`] over `namespace` when given and the kind is namespaced, else over all.
    fn api<K>(client: Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>;
}

impl KindScope for NamespaceResourceScope {
    const NAMESPACED: bool = true;
    fn api<K>(client: Client, namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        match namespace {
            Some(ns) => Api::namespaced(client, ns),
            None => Api::all(client),
        }
    }
}

impl KindScope for ClusterResourceScope {
    const NAMESPACED: bool = false;
    fn api<K>(client: Client, _namespace: Option<&str>) -> Api<K>
    where
        K: Resource<Scope = Self, DynamicType = ()>,
    {
        Api::all(client)
    }
}

/// Whether kind `K` is namespaced.
pub fn is_namespaced<K>() -> bool
where
    K: Resource<DynamicType = ()>,
    K::Scope: KindScope,
{
    <K::Scope as KindScope>::NAMESPACED
}

/// An [`Api`] for `K` over `namespace` (ignored for cluster-scoped kinds) or all namespaces.
pub fn api_for<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = ()>,
    K::Scope: KindScope,
{
    <K::Scope as KindScope>::api::<K>(client, namespace)
}

/// The key of a kind in [`InformerFactory::wait_for_cache_sync`]: `group/version/Kind`
/// (`v1/ConfigMap` for the core group), with ` (metadata)` appended for a
/// metadata-only informer ([`InformerFactory::metadata_informer_for`]).
pub fn kind_key<K: Resource<DynamicType = ()>>() -> String {
    let suffix = if K::metadata_api() { " (metadata)" } else { "" };
    format!("{}/{}{suffix}", K::api_version(&()), K::kind(&()))
}

type TweakFn = Arc<dyn Fn(&mut watcher::Config) + Send + Sync>;
type MetaTransformFn = Arc<dyn Fn(&mut ObjectMeta) + Send + Sync>;

#[derive(Clone, Default)]
struct Options {
    default_resync: Option<Duration>,
    namespace: Option<String>,
    tweak: Option<TweakFn>,
    transform: Option<MetaTransformFn>,
    custom_resync: HashMap<TypeId, Duration>,
    /// Per kind: `Arc<dyn Fn(&mut K) + Send + Sync>` behind `Any`.
    custom_transform: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    custom_tweak: HashMap<TypeId, TweakFn>,
    metrics: Option<InformerMetrics>,
    omit: Omit,
    json_only: bool,
}

trait ErasedInformer: Send + Sync {
    fn start(&self);
    fn has_synced(&self) -> bool;
    fn wait_for_sync(&self) -> BoxFuture<'_, bool>;
    fn shutdown(&self) -> BoxFuture<'_, ()>;
    fn as_any(&self) -> &(dyn Any + Send + Sync);
}

impl<K> ErasedInformer for Arc<SharedIndexInformer<K>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    fn start(&self) {
        self.run();
    }
    fn has_synced(&self) -> bool {
        SharedIndexInformer::has_synced(self)
    }
    fn wait_for_sync(&self) -> BoxFuture<'_, bool> {
        Box::pin(SharedIndexInformer::wait_for_sync(self))
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(SharedIndexInformer::shutdown(self))
    }
    fn as_any(&self) -> &(dyn Any + Send + Sync) {
        self
    }
}

struct Entry {
    key: String,
    informer: Arc<dyn ErasedInformer>,
    started: bool,
}

/// Creates and owns shared informers, one per kind however often asked.
///
/// Cheap to clone (clones share the informers); configure with the `with_*`
/// builders before the first [`informer_for`](Self::informer_for).
///
/// Defaults: all namespaces, no resync, no transform, the list/watch options
/// of [`default_watcher_config`] (kube's, with the initial list streamed:
/// set `initial_list_strategy` in
/// [`with_tweak_list_options`](Self::with_tweak_list_options) to list in
/// pages instead), and `metadata.managedFields` left out of
/// every cached object while it is decoded ([`Omit`]; opt out with
/// [`keep_managed_fields`](Self::keep_managed_fields)); the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation is kept
/// unless [`drop_last_applied`](Self::drop_last_applied). Built-in kinds are
/// watched in protobuf, as client-go watches them ([`crate::protobuf`]; opt
/// out with [`prefer_json`](Self::prefer_json)).
#[derive(Clone)]
pub struct InformerFactory {
    client: Client,
    options: Arc<Options>,
    informers: Arc<Mutex<HashMap<TypeId, Entry>>>,
}

impl Debug for InformerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<String> = self.informers.lock().values().map(|e| e.key.clone()).collect();
        f.debug_struct("InformerFactory")
            .field("namespace", &self.options.namespace)
            .field("default_resync", &self.options.default_resync)
            .field("informers", &keys)
            .finish()
    }
}

impl InformerFactory {
    /// A factory watching all namespaces with `default_resync` (`None`: no resync).
    pub fn new(client: Client, default_resync: Option<Duration>) -> Self {
        let options = Options { default_resync, ..Options::default() };
        Self { client, options: Arc::new(options), informers: Arc::default() }
    }

    /// Watches only `namespace` (for namespaced kinds; cluster-scoped kinds
    /// are watched whole). Default: all namespaces.
    #[must_use]
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.options).namespace = Some(namespace.into());
        self
    }

    /// Adjusts every informer's list/watch options (e.g. a label selector).
    #[must_use]
    pub fn with_tweak_list_options(mut self, f: impl Fn(&mut watcher::Config) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.options).tweak = Some(Arc::new(f));
        self
    }

    /// Transforms the metadata of every object of every kind before caching
    /// (e.g. `|m| m.owner_references = None`). managedFields need no
    /// transform: they are left out by default, more cheaply, while parsing.
    #[must_use]
    pub fn with_transform(mut self, f: impl Fn(&mut ObjectMeta) + Send + Sync + 'static) -> Self {
        Arc::make_mut(&mut self.options).transform = Some(Arc::new(f));
        self
    }

    /// Transforms objects of kind `K` before caching, after the
    /// [`with_transform`](Self::with_transform) of every kind; e.g. drop the
    /// `data` of Secrets a controller only needs to know exist.
    #[must_use]
    pub fn with_transform_for<K: 'static>(mut self, f: impl Fn(&mut K) + Send + Sync + 'static) -> Self {
        let f: Arc<dyn Fn(&mut K) + Send + Sync> = Arc::new(f);
        Arc::make_mut(&mut self.options).custom_transform.insert(TypeId::of::<K>(), Arc::new(f));
        self
    }

    /// Adjusts the list/watch options of kind `K` only (after the tweak of
    /// every kind); e.g. watch only the ConfigMaps a controller labels.
    #[must_use]
    pub fn with_tweak_list_options_for<K: 'static>(
        mut self,
        f: impl Fn(&mut watcher::Config) + Send + Sync + 'static,
    ) -> Self {
        Arc::make_mut(&mut self.options).custom_tweak.insert(TypeId::of::<K>(), Arc::new(f));
        self
    }

    /// Overrides the resync period of kind `K`.
    #[must_use]
    pub fn with_custom_resync<K: 'static>(mut self, period: Duration) -> Self {
        Arc::make_mut(&mut self.options).custom_resync.insert(TypeId::of::<K>(), period);
        self
    }

    /// Publishes every informer's `reflector_*` / `informer_*` metrics,
    /// labelled by [`kind_key`] (informers created after this call).
    /// `metrics`: an [`InformerMetrics`] or a
    /// [`RuntimeMetrics`](crate::metrics::RuntimeMetrics).
    #[must_use]
    pub fn with_metrics(mut self, metrics: impl AsRef<InformerMetrics>) -> Self {
        Arc::make_mut(&mut self.options).metrics = Some(metrics.as_ref().clone());
        self
    }

    /// Caches `metadata.managedFields` too, for every kind. By default the
    /// parser skips them: controllers seldom read them, and for small objects
    /// they are most of the memory (a 1 KB ConfigMap created with kubectl:
    /// about 6.8 KB cached with them, 2.8 KB without).
    #[must_use]
    pub fn keep_managed_fields(mut self) -> Self {
        Arc::make_mut(&mut self.options).omit.managed_fields = false;
        self
    }

    /// Leaves the `kubectl.kubernetes.io/last-applied-configuration`
    /// annotation (a second copy of each object applied with client-side
    /// `kubectl apply`, as JSON text) out of every cached object of every
    /// kind, while parsing. Other annotations are kept. Default: kept.
    #[must_use]
    pub fn drop_last_applied(mut self) -> Self {
        Arc::make_mut(&mut self.options).omit.last_applied = true;
        self
    }

    /// Watches every kind in JSON, even built-in kinds, which are otherwise
    /// watched in protobuf as client-go watches them and read back as JSON
    /// ([`crate::protobuf`]; the apiserver encodes protobuf faster).
    #[must_use]
    pub fn prefer_json(mut self) -> Self {
        Arc::make_mut(&mut self.options).json_only = true;
        self
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The namespace watched, if restricted.
    pub fn namespace(&self) -> Option<&str> {
        self.options.namespace.as_deref()
    }

    /// The shared informer of kind `K`, created (not started) on first request.
    pub fn informer_for<K>(&self) -> Arc<SharedIndexInformer<K>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::Scope: KindScope,
    {
        let type_id = TypeId::of::<K>();
        let mut informers = self.informers.lock();
        if let Some(entry) = informers.get(&type_id) {
            return entry
                .informer
                .as_any()
                .downcast_ref::<Arc<SharedIndexInformer<K>>>()
                .expect("informers are keyed by the TypeId of their kind")
                .clone();
        }
        let opts = &self.options;
        let mut watcher_config = default_watcher_config();
        if let Some(tweak) = &opts.tweak {
            tweak(&mut watcher_config);
        }
        if let Some(tweak) = opts.custom_tweak.get(&type_id) {
            tweak(&mut watcher_config);
        }
        let resync = opts.custom_resync.get(&type_id).copied().or(opts.default_resync);
        let mut config = InformerConfig::<K>::new().watcher(watcher_config).resync(resync).omit(opts.omit);
        if opts.json_only {
            config = config.prefer_json();
        }
        if let Some(metrics) = &opts.metrics {
            config = config.metrics(metrics, kind_key::<K>());
        }
        let custom = opts
            .custom_transform
            .get(&type_id)
            .and_then(|f| f.downcast_ref::<Arc<dyn Fn(&mut K) + Send + Sync>>())
            .cloned();
        match (opts.transform.clone(), custom) {
            (Some(meta), Some(custom)) => {
                config = config.transform(move |obj: &mut K| {
                    meta(obj.meta_mut());
                    custom(obj);
                })
            }
            (Some(meta), None) => config = config.transform(move |obj: &mut K| meta(obj.meta_mut())),
            (None, Some(custom)) => config = config.transform(move |obj: &mut K| custom(obj)),
            (None, None) => {}
        }
        let api = api_for::<K>(self.client.clone(), opts.namespace.as_deref());
        let informer = Arc::new(SharedIndexInformer::new(api, config));
        informers.insert(type_id, Entry { key: kind_key::<K>(), informer: Arc::new(informer.clone()), started: false });
        informer
    }

    /// The shared metadata-only informer of kind `K`, created (not started)
    /// on first request: it lists and watches `K` through the apiserver's
    /// metadata API (`PartialObjectMetadata`), so the process never receives
    /// the objects' bodies. Use it to learn that a Secret exists (and its
    /// labels, annotations, owners and resourceVersion) without ever holding
    /// its data.
    ///
    /// It is the informer of [`PartialObjectMeta<K>`]: options given for
    /// `PartialObjectMeta<K>` (transform, tweak, resync) apply to it, the
    /// factory-wide metadata transform too, and it is separate from a full
    /// informer of `K`.
    ///
    /// ```no_run
    /// # use bot_runtime::InformerFactory;
    /// use k8s_openapi::api::core::v1::Secret;
    /// # fn demo(client: kube::Client) {
    /// let factory = InformerFactory::new(client, None);
    /// let secrets = factory.metadata_informer_for::<Secret>(); // never sees `data`
    /// factory.start();
    /// # }
    /// ```
    pub fn metadata_informer_for<K>(&self) -> Arc<SharedIndexInformer<PartialObjectMeta<K>>>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
        K::Scope: KindScope,
    {
        self.informer_for::<PartialObjectMeta<K>>()
    }

    /// Starts every informer not started yet; call again after asking for more kinds.
    pub fn start(&self) {
        let mut informers = self.informers.lock();
        for entry in informers.values_mut().filter(|e| !e.started) {
            entry.informer.start();
            entry.started = true;
        }
    }

    /// Number of informers started by [`start`](Self::start) so far.
    pub fn started(&self) -> usize {
        self.informers.lock().values().filter(|e| e.started).count()
    }

    fn started_informers(&self) -> Vec<(String, Arc<dyn ErasedInformer>)> {
        let informers = self.informers.lock();
        informers.values().filter(|e| e.started).map(|e| (e.key.clone(), e.informer.clone())).collect()
    }

    /// Waits until every started informer has synced; reports each by
    /// [`kind_key`] (`false`: shut down before it synced). Waits forever for
    /// an informer that cannot list (missing CRD, missing RBAC): prefer
    /// [`wait_for_cache_sync_timeout`](Self::wait_for_cache_sync_timeout).
    pub async fn wait_for_cache_sync(&self) -> BTreeMap<String, bool> {
        let started = self.started_informers();
        let mut result = BTreeMap::new();
        for (key, informer) in started {
            let synced = informer.wait_for_sync().await;
            result.insert(key, synced);
        }
        result
    }

    /// Waits until every started informer has synced, for at most
    /// `timeout`; [`Error::NotSynced`] names the kinds ([`kind_key`]) that
    /// had not synced by then (timed out, or shut down first).
    ///
    /// ```no_run
    /// # async fn demo(factory: bot_runtime::InformerFactory) {
    /// # use std::time::Duration;
    /// if let Err(e) = factory.wait_for_cache_sync_timeout(Duration::from_secs(60)).await {
    ///     eprintln!("{e}"); // informers not synced after 60s: botops.dev/v1alpha1/Bot
    /// }
    /// # }
    /// ```
    pub async fn wait_for_cache_sync_timeout(&self, timeout: Duration) -> Result<()> {
        let started = self.started_informers();
        let all = futures::future::join_all(started.iter().map(|(_, informer)| informer.wait_for_sync()));
        let _ = tokio::time::timeout(timeout, all).await;
        let mut kinds: Vec<String> =
            started.iter().filter(|(_, informer)| !informer.has_synced()).map(|(key, _)| key.clone()).collect();
        if kinds.is_empty() {
            return Ok(());
        }
        kinds.sort();
        Err(Error::NotSynced { timeout, kinds })
    }

    /// Stops every informer and waits for their tasks.
    pub async fn shutdown(&self) {
        let all: Vec<Arc<dyn ErasedInformer>> = self.informers.lock().values().map(|e| e.informer.clone()).collect();
        for informer in all {
            informer.shutdown().await;
        }
    }
}
