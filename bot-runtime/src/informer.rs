//! `SharedIndexInformer<K>`: one watch, one indexed cache, many event handlers.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Debug,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc,
    },
    time::{Duration, Instant, SystemTime},
};

use futures::{StreamExt, future::BoxFuture};
use kube::{Api, Resource, runtime::watcher};
use parking_lot::Mutex;
use prometheus_client::metrics::gauge::Gauge;
use serde::de::DeserializeOwned;
use tokio::{
    sync::{oneshot, watch},
    task::JoinHandle,
};

use crate::{
    lister::Lister,
    metrics::{InformerKindMetrics, InformerMetrics, PanicSite},
    reflector::{
        Backoff, Decoded, Delta, ErrorClass, Omit, Reflector, TransformFn, Undecodable, decoded_watcher,
        default_watcher_config, is_expired, is_streaming_list_refused, with_default_watch_timeout,
    },
    store::{IndexFn, Store, Writer},
};

/// A handler's buffer depth at which the first "slow handler" warning is
/// logged (and at each doubling after; see [`SharedIndexInformer`]).
pub const BUFFER_WARNING_DEPTH: usize = 4096;

/// Receives the events of a [`SharedIndexInformer`].
///
/// **Threading contract.** Each handler runs on an OS thread of its own
/// (named `informer-handler-N`, inside the tokio runtime's context, so it
/// may call `tokio::spawn` or `Handle::current()`), fed by an unbounded
/// buffer. A handler may block (a slow API call, a lock, a `sleep`): that
/// delays only this handler; other handlers, the cache and the async
/// workers carry on. Calls to one handler are sequential and in the order
/// of the cache's changes. A panic in a callback is caught, logged and
/// counted (`informer_panics_total{site="handler"}`): that one event is lost
/// for that handler, which carries on with the next. Objects are shared:
/// clone to modify.
pub trait EventHandler<K>: Send + Sync + 'static {
    /// An object was added; `is_in_initial_list` is true for objects of the
    /// first list and for the synthetic adds a late handler receives.
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        let _ = (obj, is_in_initial_list);
    }
    /// An object changed; on a periodic resync `old` and `new` are the same object.
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        let _ = (old, new);
    }
    /// An object was deleted; `final_state_unknown` when the deletion was
    /// only inferred from a relist (`obj` is then the last cached state).
    fn on_delete(&self, obj: &Arc<K>, final_state_unknown: bool) {
        let _ = (obj, final_state_unknown);
    }
}

type AddFn<K> = Box<dyn Fn(&Arc<K>, bool) + Send + Sync>;
type UpdateFn<K> = Box<dyn Fn(&Arc<K>, &Arc<K>) + Send + Sync>;

/// An [`EventHandler`] made of closures; unset callbacks do nothing.
///
/// ```
/// # use bot_runtime::informer::HandlerFuncs;
/// # use k8s_openapi::api::core::v1::ConfigMap;
/// let handler = HandlerFuncs::<ConfigMap>::new()
///     .on_add(|cm, initial| println!("add {:?} {initial}", cm.metadata.name))
///     .on_delete(|cm, _| println!("delete {:?}", cm.metadata.name));
/// ```
pub struct HandlerFuncs<K> {
    add: Option<AddFn<K>>,
    update: Option<UpdateFn<K>>,
    delete: Option<AddFn<K>>,
}

impl<K> Default for HandlerFuncs<K> {
    fn default() -> Self {
        Self { add: None, update: None, delete: None }
    }
}

impl<K> Debug for HandlerFuncs<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerFuncs")
            .field("on_add", &self.add.is_some())
            .field("on_update", &self.update.is_some())
            .field("on_delete", &self.delete.is_some())
            .finish()
    }
}

impl<K> HandlerFuncs<K> {
    /// A handler that does nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the add callback `(obj, is_in_initial_list)`.
    pub fn on_add(mut self, f: impl Fn(&Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.add = Some(Box::new(f));
        self
    }

    /// Sets the update callback `(old, new)`.
    pub fn on_update(mut self, f: impl Fn(&Arc<K>, &Arc<K>) + Send + Sync + 'static) -> Self {
        self.update = Some(Box::new(f));
        self
    }

    /// Sets the delete callback `(obj, final_state_unknown)`.
    pub fn on_delete(mut self, f: impl Fn(&Arc<K>, bool) + Send + Sync + 'static) -> Self {
        self.delete = Some(Box::new(f));
        self
    }
}

impl<K: Send + Sync + 'static> EventHandler<K> for HandlerFuncs<K> {
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        if let Some(f) = &self.add {
            f(obj, is_in_initial_list);
        }
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        if let Some(f) = &self.update {
            f(old, new);
        }
    }
    fn on_delete(&self, obj: &Arc<K>, final_state_unknown: bool) {
        if let Some(f) = &self.delete {
            f(obj, final_state_unknown);
        }
    }
}

/// Identifies a registered handler, for [`SharedIndexInformer::remove_event_handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandlerId(u64);

/// A registered handler (client-go's `ResourceEventHandlerRegistration`):
/// its id, whether it has received the initial list, how much is buffered.
#[derive(Clone)]
pub struct HandlerRegistration {
    id: HandlerId,
    synced: Arc<AtomicBool>,
    buffer: Arc<Buffer>,
}

impl Debug for HandlerRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistration")
            .field("id", &self.id)
            .field("has_synced", &self.has_synced())
            .field("buffered", &self.buffered())
            .finish()
    }
}

impl HandlerRegistration {
    /// The handler's id.
    pub fn id(&self) -> HandlerId {
        self.id
    }

    /// Whether the handler has *handled* every object of the informer's
    /// initial list (for a handler added later: every object cached when it
    /// was added). Later than [`SharedIndexInformer::has_synced`], which only
    /// says the cache is complete.
    pub fn has_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Events buffered for the handler and not handled yet.
    pub fn buffered(&self) -> usize {
        self.buffer.depth.load(Ordering::Relaxed)
    }
}

impl From<&HandlerRegistration> for HandlerId {
    fn from(registration: &HandlerRegistration) -> Self {
        registration.id
    }
}

impl From<HandlerRegistration> for HandlerId {
    fn from(registration: HandlerRegistration) -> Self {
        registration.id
    }
}

/// Options of a [`SharedIndexInformer`].
pub struct InformerConfig<K> {
    /// The list/watch options (selectors, page size, streaming lists, ...).
    /// Default: [`default_watcher_config()`] (everything, bookmarks on, the
    /// initial list streamed, falling back to list + watch where the
    /// apiserver refuses that).
    pub watcher: watcher::Config,
    /// Default resync period of handlers added with
    /// [`SharedIndexInformer::add_event_handler`]: every period each such
    /// handler gets `on_update(obj, obj)` for every cached object. Default:
    /// `None` (no resync).
    pub resync: Option<Duration>,
    /// Applied to every object before it is cached. Default: `None`.
    pub transform: Option<TransformFn<K>>,
    /// Where the informer's `reflector_*` / `informer_*` metrics go. Default: `None`.
    pub metrics: Option<InformerKindMetrics>,
    /// What is left out of every object while it is decoded (never built,
    /// never cached). Default: [`Omit::default()`], `metadata.managedFields`
    /// left out; see [`keep_managed_fields`](Self::keep_managed_fields) and
    /// [`drop_last_applied`](Self::drop_last_applied).
    pub omit: Omit,
    /// Called once per object and resourceVersion that cannot be decoded
    /// (when the warning is logged). Default: `None`. See
    /// [`on_undecodable`](Self::on_undecodable).
    pub on_undecodable: Option<UndecodableFn>,
    /// Whether lists and watches of built-in kinds are made in protobuf, as client-go
    /// makes them, and read back as JSON ([`crate::protobuf`]). Default:
    /// `true`; see [`prefer_json`](Self::prefer_json). Custom resources are
    /// always watched in JSON.
    pub protobuf: bool,
}

/// A hook called with an object an informer cannot decode
/// ([`InformerConfig::on_undecodable`], [`SharedIndexInformer::on_undecodable`]).
pub type UndecodableFn = Arc<dyn Fn(&Undecodable) + Send + Sync>;

impl<K> Default for InformerConfig<K> {
    fn default() -> Self {
        Self {
            watcher: default_watcher_config(),
            resync: None,
            transform: None,
            metrics: None,
            omit: Omit::default(),
            on_undecodable: None,
            protobuf: true,
        }
    }
}

impl<K> Clone for InformerConfig<K> {
    fn clone(&self) -> Self {
        Self {
            watcher: self.watcher.clone(),
            resync: self.resync,
            transform: self.transform.clone(),
            metrics: self.metrics.clone(),
            omit: self.omit,
            on_undecodable: self.on_undecodable.clone(),
            protobuf: self.protobuf,
        }
    }
}

impl<K> Debug for InformerConfig<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InformerConfig")
            .field("watcher", &self.watcher)
            .field("resync", &self.resync)
            .field("transform", &self.transform.is_some())
            .field("metrics", &self.metrics)
            .field("omit", &self.omit)
            .field("on_undecodable", &self.on_undecodable.is_some())
            .field("protobuf", &self.protobuf)
            .finish()
    }
}

impl<K> InformerConfig<K> {
    /// The defaults (see the fields).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the list/watch options.
    #[must_use]
    pub fn watcher(mut self, config: watcher::Config) -> Self {
        self.watcher = config;
        self
    }

    /// Sets the resync period (`None` or zero: no resync).
    #[must_use]
    pub fn resync(mut self, period: Option<Duration>) -> Self {
        self.resync = period.filter(|p| !p.is_zero());
        self
    }

    /// Sets the transform applied before caching.
    #[must_use]
    pub fn transform(mut self, f: impl Fn(&mut K) + Send + Sync + 'static) -> Self {
        self.transform = Some(Arc::new(f));
        self
    }

    /// Publishes the informer's metrics labelled `kind="<kind>"`.
    /// `metrics`: an [`InformerMetrics`] or a
    /// [`RuntimeMetrics`](crate::metrics::RuntimeMetrics).
    #[must_use]
    pub fn metrics(mut self, metrics: impl AsRef<InformerMetrics>, kind: impl Into<String>) -> Self {
        self.metrics = Some(metrics.as_ref().for_kind(kind));
        self
    }

    /// Caches `metadata.managedFields` too (by default the parser skips it:
    /// controllers seldom read it, and it is often more than half of an
    /// object's memory).
    #[must_use]
    pub fn keep_managed_fields(mut self) -> Self {
        self.omit.managed_fields = false;
        self
    }

    /// Leaves out the `kubectl.kubernetes.io/last-applied-configuration`
    /// annotation while decoding (a second copy of the object as JSON text;
    /// kept by default). Other annotations are kept.
    #[must_use]
    pub fn drop_last_applied(mut self) -> Self {
        self.omit.last_applied = true;
        self
    }

    /// Sets what is left out of every object while it is decoded.
    #[must_use]
    pub fn omit(mut self, omit: Omit) -> Self {
        self.omit = omit;
        self
    }

    /// Watches in JSON even where the apiserver has protobuf (by default,
    /// lists and watches of built-in kinds are made in protobuf, which the apiserver
    /// encodes faster, and read back as JSON: [`crate::protobuf`]).
    #[must_use]
    pub fn prefer_json(mut self) -> Self {
        self.protobuf = false;
        self
    }

    /// Calls `f` with each object that cannot be decoded, once per object
    /// and resourceVersion (when the informer logs its warning; a new
    /// version that still cannot be decoded is reported again), e.g. to
    /// record a Kubernetes Event about it: the [`Undecodable`] carries the
    /// object's metadata (name, namespace, uid) and the decoding error.
    ///
    /// `f` runs on the informer's watch task: keep it short and never
    /// block (spawn the work); a panic in it is caught and logged.
    ///
    /// ```
    /// # use bot_runtime::informer::InformerConfig;
    /// # use k8s_openapi::api::core::v1::ConfigMap;
    /// let config = InformerConfig::<ConfigMap>::new().on_undecodable(|bad| {
    ///     eprintln!("cannot read {}: {}", bad.key(), bad.error);
    /// });
    /// ```
    #[must_use]
    pub fn on_undecodable(mut self, f: impl Fn(&Undecodable) + Send + Sync + 'static) -> Self {
        self.on_undecodable = Some(Arc::new(f));
        self
    }
}

/// How long the informer waits for the response headers of a watch request
/// before giving up on it (the connection it was sent on may be dead).
pub const WATCH_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the informer waits for the response headers of a list request.
pub const LIST_START_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest error text kept in [`InformerHealth::last_error`] and logged.
pub const MAX_ERROR_LEN: usize = 512;

/// Whether an informer can list and watch ([`SharedIndexInformer::health`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformerHealth {
    /// The first complete list is cached.
    pub synced: bool,
    /// The last list or watch attempt succeeded (a response, or an event);
    /// `false` from the first failure until the next success.
    pub ok: bool,
    /// Since when `ok` has had its current value.
    pub since: SystemTime,
    /// The last failure (at most [`MAX_ERROR_LEN`] bytes), kept after recovery.
    pub last_error: Option<String>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Objects skipped because they could not be decoded (the cache keeps
    /// their last decodable state, if any).
    pub undecodable: usize,
}

impl InformerHealth {
    /// Synced, and the last list or watch attempt succeeded: what a
    /// readiness check should require.
    pub fn is_healthy(&self) -> bool {
        self.synced && self.ok
    }
}

struct HealthInner {
    ok: bool,
    since: SystemTime,
    last_error: Option<String>,
    consecutive_failures: u32,
    /// A success happened after the last failure: the next retry delay starts over.
    recovered: bool,
}

/// The informer's list/watch outcomes, fed by its request layer and its watch task.
struct HealthState {
    inner: Mutex<HealthInner>,
    /// Mirrors the store's `has_synced` (for the gauge).
    synced: AtomicBool,
    metrics: Option<InformerKindMetrics>,
}

impl HealthState {
    fn new(metrics: Option<InformerKindMetrics>) -> Self {
        let inner = HealthInner {
            ok: true,
            since: SystemTime::now(),
            last_error: None,
            consecutive_failures: 0,
            recovered: true,
        };
        Self { inner: Mutex::new(inner), synced: AtomicBool::new(false), metrics }
    }

    fn succeeded(&self) {
        let mut h = self.inner.lock();
        if !h.ok {
            h.ok = true;
            h.since = SystemTime::now();
        }
        h.consecutive_failures = 0;
        h.recovered = true;
        if let Some(m) = &self.metrics {
            m.set_healthy(self.synced.load(Ordering::Relaxed));
        }
    }

    fn failed(&self, error: &str) {
        let mut h = self.inner.lock();
        if h.ok {
            h.ok = false;
            h.since = SystemTime::now();
        }
        h.last_error = Some(truncate(error, MAX_ERROR_LEN));
        h.consecutive_failures = h.consecutive_failures.saturating_add(1);
        if let Some(m) = &self.metrics {
            m.set_healthy(false);
        }
    }

    /// Whether a success came after the previous failure (then clears it).
    fn take_recovered(&self) -> bool {
        std::mem::take(&mut self.inner.lock().recovered)
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}

/// The informer's client: every request of its list/watch goes through
/// here, so a response is a success (a watch that starts and then stays
/// quiet counts, which kube's watcher does not report), requests are
/// counted, and a request whose response headers do not come in time fails
/// (its connection may be dead).
#[derive(Clone)]
struct ObservedClient {
    client: kube::Client,
    health: Arc<HealthState>,
}

impl tower_service::Service<http::Request<kube::client::Body>> for ObservedClient {
    type Response = http::Response<kube::client::Body>;
    type Error = kube::Error;
    type Future = BoxFuture<'static, Result<Self::Response, kube::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), kube::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<kube::client::Body>) -> Self::Future {
        let (client, health) = (self.client.clone(), self.health.clone());
        let watch = request.uri().query().is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        let limit = if watch { WATCH_START_TIMEOUT } else { LIST_START_TIMEOUT };
        if let Some(m) = &health.metrics {
            m.request_sent();
        }
        Box::pin(async move {
            match tokio::time::timeout(limit, client.send(request)).await {
                Ok(Ok(response)) => {
                    if response.status().is_success() {
                        health.succeeded();
                    }
                    Ok(response)
                }
                Ok(Err(e)) => Err(e),
                Err(_) => Err(kube::Error::Service(format!("no response within {limit:?}").into())),
            }
        })
    }
}

/// What a handler's thread receives.
enum Message<K> {
    Delta(Delta<K>),
    /// Everything of the initial list was sent before this.
    Synced,
}

/// The depth of a handler's buffer, with its gauge and warning threshold.
struct Buffer {
    depth: AtomicUsize,
    warn_at: AtomicUsize,
    gauge: Option<Gauge>,
}

impl Buffer {
    fn new(gauge: Option<Gauge>) -> Self {
        Self { depth: AtomicUsize::new(0), warn_at: AtomicUsize::new(BUFFER_WARNING_DEPTH), gauge }
    }

    /// One more message buffered; warns when the depth reaches the threshold
    /// and exceeds twice the cache (a relist alone buffers up to the cache).
    fn pushed(&self, label: &str, id: u64, cached: usize) {
        let depth = self.depth.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(g) = &self.gauge {
            g.inc();
        }
        let warn_at = self.warn_at.load(Ordering::Relaxed);
        if depth >= warn_at
            && depth > cached.saturating_mul(2)
            && self
                .warn_at
                .compare_exchange(warn_at, depth.saturating_mul(2), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(informer = %label, handler = id, buffered = depth, "slow event handler: its buffer keeps growing");
        }
    }

    fn popped(&self) {
        if self.depth.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.warn_at.store(BUFFER_WARNING_DEPTH, Ordering::Relaxed);
        }
        if let Some(g) = &self.gauge {
            g.dec();
        }
    }
}

/// The dispatcher's end of a handler.
struct Listener<K> {
    id: u64,
    tx: mpsc::Sender<Message<K>>,
    buffer: Arc<Buffer>,
    /// The `Synced` marker is still to be sent.
    sync_pending: bool,
}

impl<K> Listener<K> {
    fn send(&self, message: Message<K>, label: &str, cached: usize) {
        self.buffer.pushed(label, self.id, cached);
        if self.tx.send(message).is_err() {
            self.buffer.popped(); // the thread is gone (cannot happen while registered)
        }
    }
}

/// What a handler's thread needs besides the handler.
struct HandlerThread {
    id: u64,
    label: Arc<str>,
    buffer: Arc<Buffer>,
    synced: Arc<AtomicBool>,
    metrics: Option<InformerKindMetrics>,
}

impl HandlerThread {
    /// Runs `handler` on a thread of its own until the channel closes; the
    /// returned receiver completes when the thread ends.
    fn spawn<K, H>(self, handler: H, rx: mpsc::Receiver<Message<K>>) -> oneshot::Receiver<()>
    where
        K: Send + Sync + 'static,
        H: EventHandler<K>,
    {
        let runtime = tokio::runtime::Handle::try_current().ok();
        let (ended, ended_rx) = oneshot::channel::<()>();
        let name = format!("informer-handler-{}", self.id);
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _runtime = runtime.as_ref().map(tokio::runtime::Handle::enter);
                let _ended = ended; // dropped (completing the receiver) when the thread ends
                for message in rx {
                    match message {
                        Message::Synced => self.synced.store(true, Ordering::Release),
                        Message::Delta(delta) => self.deliver(&handler, &delta),
                    }
                    self.buffer.popped();
                }
            })
            .expect("the OS refused a thread for an informer event handler");
        ended_rx
    }

    fn deliver<K, H: EventHandler<K>>(&self, handler: &H, delta: &Delta<K>) {
        let call = AssertUnwindSafe(|| match delta {
            Delta::Added { obj, is_in_initial_list } => handler.on_add(obj, *is_in_initial_list),
            Delta::Updated { old, new } => handler.on_update(old, new),
            Delta::Deleted { obj, final_state_unknown } => handler.on_delete(obj, *final_state_unknown),
        });
        if std::panic::catch_unwind(call).is_err() {
            tracing::error!(informer = %self.label, handler = self.id, "event handler panicked; event skipped");
            if let Some(m) = &self.metrics {
                m.panicked(PanicSite::Handler);
            }
        }
    }
}

struct Dispatch<K> {
    reflector: Reflector<K>,
    listeners: BTreeMap<u64, Listener<K>>,
    next_id: u64,
}

/// A shared informer: one kube watcher feeding one indexed [`Store`] and any
/// number of [`EventHandler`]s. Hold it in an `Arc`.
///
/// Must be used inside a tokio runtime (the watch and resyncs run on tasks;
/// handlers on threads of their own, see [`EventHandler`]).
///
/// **Handler buffers** are unbounded, like client-go's growing ring
/// buffers: the watch never waits for a handler, so a slow handler holds
/// back neither the cache nor the other handlers, and its backlog is
/// visible as `informer_handler_buffer_depth{kind,handler}` (and
/// [`HandlerRegistration::buffered`]). A warning is logged when a buffer
/// reaches [`BUFFER_WARNING_DEPTH`] events and more than twice the cached
/// objects (a relist alone buffers up to the cache), then at each doubling.
/// The memory cost is one `Arc` pair per buffered event.
pub struct SharedIndexInformer<K> {
    api: Api<K>,
    label: Arc<str>,
    watcher_config: watcher::Config,
    omit: Omit,
    protobuf: bool,
    resync: Option<Duration>,
    store: Store<K>,
    dispatch: Arc<Mutex<Dispatch<K>>>,
    started: AtomicBool,
    shutdown: watch::Sender<bool>,
    synced: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    handler_threads: Mutex<BTreeMap<u64, oneshot::Receiver<()>>>,
    metrics: Option<InformerKindMetrics>,
    health: Arc<HealthState>,
    /// Undecodable objects by key, with the resourceVersion last warned about.
    undecodable: Mutex<HashMap<String, String>>,
    /// Called when an undecodable object is warned about.
    undecodable_hooks: Mutex<Vec<UndecodableFn>>,
}

impl<K: Resource> Debug for SharedIndexInformer<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedIndexInformer")
            .field("url", &self.api.resource_url())
            .field("store", &self.store)
            .field("started", &self.started.load(Ordering::Relaxed))
            .finish()
    }
}

impl<K> SharedIndexInformer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// An informer over `api` (its scope decides what is watched); not started.
    pub fn new(api: Api<K>, config: InformerConfig<K>) -> Self {
        let writer = Writer::new();
        let store = writer.as_reader();
        let reflector = Reflector::new(writer, config.transform);
        let label: Arc<str> = match &config.metrics {
            Some(m) => m.kind().into(),
            None => api.resource_url().into(),
        };
        Self {
            api,
            label,
            watcher_config: config.watcher,
            omit: config.omit,
            protobuf: config.protobuf,
            resync: config.resync.filter(|p| !p.is_zero()),
            store,
            dispatch: Arc::new(Mutex::new(Dispatch { reflector, listeners: BTreeMap::new(), next_id: 0 })),
            started: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            synced: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            handler_threads: Mutex::new(BTreeMap::new()),
            health: Arc::new(HealthState::new(config.metrics.clone())),
            metrics: config.metrics,
            undecodable: Mutex::new(HashMap::new()),
            undecodable_hooks: Mutex::new(config.on_undecodable.into_iter().collect()),
        }
    }

    /// Registers a handler with the informer's default resync period. A
    /// handler added after the informer has cached objects first receives an
    /// `on_add(obj, true)` for each of them, then live events, with no gap and
    /// no duplicate. See [`EventHandler`] for the threading contract.
    pub fn add_event_handler(&self, handler: impl EventHandler<K>) -> HandlerRegistration {
        self.add_event_handler_with_resync(handler, self.resync)
    }

    /// As [`add_event_handler`](Self::add_event_handler), with a resync
    /// period of its own (`None` or zero: no resync): every `period`, once
    /// synced, the handler gets `on_update(obj, obj)` for every cached object.
    pub fn add_event_handler_with_resync(
        &self,
        handler: impl EventHandler<K>,
        resync: Option<Duration>,
    ) -> HandlerRegistration {
        let (tx, rx) = mpsc::channel();
        let synced = Arc::new(AtomicBool::new(false));
        // Snapshot and registration under the lock the dispatcher holds:
        // no event is missed or delivered twice. The thread is recorded
        // under it too, so a concurrent shutdown waits for it.
        let mut dispatch = self.dispatch.lock();
        let id = dispatch.next_id;
        dispatch.next_id += 1;
        let buffer = Arc::new(Buffer::new(self.metrics.as_ref().map(|m| m.handler_depth(id))));
        let thread = HandlerThread {
            id,
            label: self.label.clone(),
            buffer: buffer.clone(),
            synced: synced.clone(),
            metrics: self.metrics.clone(),
        };
        let ended = thread.spawn(handler, rx);
        let mut listener = Listener { id, tx, buffer: buffer.clone(), sync_pending: true };
        let cached = self.store.list();
        let len = cached.len();
        for obj in cached {
            listener.send(Message::Delta(Delta::Added { obj, is_in_initial_list: true }), &self.label, len);
        }
        if self.store.has_synced() {
            listener.send(Message::Synced, &self.label, len);
            listener.sync_pending = false;
        }
        if *self.shutdown.borrow() {
            // After shutdown the handler gets the cache, then its channel closes.
            drop(listener);
            if let Some(m) = &self.metrics {
                m.remove_handler(id);
            }
        } else {
            dispatch.listeners.insert(id, listener);
        }
        self.handler_threads.lock().insert(id, ended);
        drop(dispatch);
        if let Some(period) = resync.filter(|p| !p.is_zero()) {
            self.spawn_resync(id, period);
        }
        HandlerRegistration { id: HandlerId(id), synced, buffer }
    }

    /// Every `period`, once synced, sends `on_update(obj, obj)` for every
    /// cached object to handler `id`, until it is removed or the informer stops.
    fn spawn_resync(&self, id: u64, period: Duration) {
        let (dispatch, store, label) = (self.dispatch.clone(), self.store.clone(), self.label.clone());
        let mut shutdown = self.shutdown.subscribe();
        let resync_task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    _ = ticks.tick() => {
                        // Under the dispatch lock, so a resync never overtakes a live event.
                        let dispatch = dispatch.lock();
                        let Some(listener) = dispatch.listeners.get(&id) else { break };
                        if store.has_synced() {
                            let cached = store.list();
                            let len = cached.len();
                            for obj in cached {
                                listener.send(Message::Delta(Delta::Updated { old: obj.clone(), new: obj }), &label, len);
                            }
                        }
                    }
                }
            }
        });
        let mut tasks = self.tasks.lock();
        // Resync tasks of removed handlers end on their next tick: drop
        // their handles so handler churn does not grow the list.
        tasks.retain(|t| !t.is_finished());
        tasks.push(resync_task);
    }

    /// Unregisters a handler (by [`HandlerId`] or [`HandlerRegistration`]);
    /// events already buffered for it are still delivered, then its thread
    /// ends. Returns whether it was registered.
    pub fn remove_event_handler(&self, id: impl Into<HandlerId>) -> bool {
        let id = id.into().0;
        let removed = self.dispatch.lock().listeners.remove(&id).is_some();
        self.handler_threads.lock().remove(&id);
        if removed && let Some(m) = &self.metrics {
            m.remove_handler(id);
        }
        removed
    }

    /// Adds (or replaces) an index; allowed at any time (computed over what
    /// is cached). A panicking index function panics here, leaving the
    /// indexes as they were.
    pub fn add_indexer(&self, name: impl Into<String>, f: IndexFn<K>) {
        self.store.add_indexer(name, f);
    }

    /// The cache (read-only: only the informer writes it, so every change
    /// reaches the handlers).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// A lister over the cache.
    pub fn lister(&self) -> Lister<K>
    where
        K::DynamicType: Default,
    {
        Lister::new(self.store.clone())
    }

    /// The [`Api`] watched.
    pub fn api(&self) -> &Api<K> {
        &self.api
    }

    /// Whether the informer was started.
    pub fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// Starts the watch on tokio; idempotent; does
    /// nothing after [`shutdown`](Self::shutdown).
    ///
    /// The watch is kube's watcher with a server-side timeout from
    /// [`DEFAULT_WATCH_TIMEOUT`](crate::reflector::DEFAULT_WATCH_TIMEOUT)
    /// unless the [`watcher::Config`] sets one (a dead connection is then
    /// noticed within about 25 s), each object decoded on its own
    /// ([`Decoded`]: an undecodable one is skipped and reported, see
    /// [`health`](Self::health)) leaving out what [`InformerConfig::omit`]
    /// says, a streaming initial list that the apiserver refuses replaced by
    /// list + watch for the informer's lifetime, requests without response headers in
    /// [`WATCH_START_TIMEOUT`] / [`LIST_START_TIMEOUT`] abandoned, and a
    /// [`Backoff`] delay after each failure (reset by the next success).
    pub fn run(self: &Arc<Self>) {
        if *self.shutdown.borrow() || self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(self);
        let namespace = self.api.namespace().unwrap_or("default").to_string();
        let mut client = self.api.clone().into_client();
        if self.protobuf {
            let watches = crate::protobuf::ProtobufWatches::new(client).omit_managed_fields(self.omit.managed_fields);
            client = kube::Client::new(watches, namespace.clone());
        }
        let observed = ObservedClient { client, health: self.health.clone() };
        let client = kube::Client::new(observed, namespace);
        let config = with_default_watch_timeout(self.watcher_config.clone());
        let mut streaming = config.initial_list_strategy == watcher::InitialListStrategy::StreamingList;
        let mut stream = decoded_watcher(&self.api, client.clone(), config.clone(), self.omit);
        let (api, omit) = (self.api.clone(), self.omit);
        let mut shutdown = self.shutdown.subscribe();
        let (label, health) = (self.label.clone(), self.health.clone());
        let watch_task = tokio::spawn(async move {
            let mut backoff = Backoff::default();
            let mut last_logged: Option<Instant> = None;
            loop {
                let event = tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    event = stream.next() => event,
                };
                match event {
                    Some(Ok(event)) => {
                        let Some(this) = weak.upgrade() else { break };
                        if !matches!(event, watcher::Event::Init) {
                            health.succeeded();
                        }
                        this.process_decoded(event);
                    }
                    Some(Err(e)) if is_expired(&e) => {
                        // 410: kube's watcher relists next, at once.
                        tracing::debug!(informer = %label, "watch expired (410); relisting");
                    }
                    Some(Err(e)) if streaming && is_streaming_list_refused(&e) => {
                        // An apiserver without streaming lists (before v1.27, or
                        // the WatchList gate off): list + watch from now on.
                        tracing::info!(
                            informer = %label,
                            error = %truncate(&e.to_string(), MAX_ERROR_LEN),
                            "the apiserver refuses streaming lists; listing and watching instead"
                        );
                        streaming = false;
                        let mut config = config.clone();
                        config.initial_list_strategy = watcher::InitialListStrategy::ListWatch;
                        stream = decoded_watcher(&api, client.clone(), config, omit);
                    }
                    Some(Err(e)) => {
                        let error = e.to_string();
                        health.failed(&error);
                        if health.take_recovered() {
                            backoff.reset();
                        }
                        let delay = backoff.next_delay(ErrorClass::of(&e));
                        // Bounded: one warning per failure streak and at most one
                        // every 30 s while it lasts, each at most MAX_ERROR_LEN.
                        let first = backoff.failures() == 1;
                        if first || last_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
                            last_logged = Some(Instant::now());
                            tracing::warn!(
                                informer = %label,
                                error = %truncate(&error, MAX_ERROR_LEN),
                                failures = backoff.failures(),
                                retry_in = ?delay,
                                "informer list/watch failed; retrying"
                            );
                        } else {
                            tracing::debug!(informer = %label, error = %truncate(&error, MAX_ERROR_LEN), retry_in = ?delay, "informer list/watch failed again");
                        }
                        if let Some(this) = weak.upgrade()
                            && let Some(m) = &this.metrics
                        {
                            m.watch_error();
                        }
                        tokio::select! {
                            _ = shutdown.wait_for(|stop| *stop) => break,
                            () = tokio::time::sleep(delay) => {}
                        }
                    }
                    None => break,
                }
            }
        });
        self.tasks.lock().push(watch_task);
    }

    /// Whether the informer can list and watch: synced, the outcome of its
    /// last list or watch attempt, since when, the last error and how many
    /// objects it had to skip. [`InformerHealth::is_healthy`] turns false
    /// while the informer cannot list or watch, and back once it can.
    pub fn health(&self) -> InformerHealth {
        let h = self.health.inner.lock();
        InformerHealth {
            synced: self.store.has_synced(),
            ok: h.ok,
            since: h.since,
            last_error: h.last_error.clone(),
            consecutive_failures: h.consecutive_failures,
            undecodable: self.undecodable.lock().len(),
        }
    }

    /// One event of the watch, objects decoded on their own: a decoded
    /// object goes on as usual; an undecodable one is reported (once per
    /// object and resourceVersion) and skipped, the cache keeping the last
    /// state it could decode (a relist keeps the cached object; a deletion
    /// still deletes it).
    fn process_decoded(&self, event: watcher::Event<Decoded<K>>) {
        let event = match event {
            watcher::Event::Init => watcher::Event::Init,
            watcher::Event::InitDone => watcher::Event::InitDone,
            watcher::Event::InitApply(Decoded(Ok(obj))) => {
                self.decodable(&obj);
                watcher::Event::InitApply(obj)
            }
            watcher::Event::Apply(Decoded(Ok(obj))) => {
                self.decodable(&obj);
                watcher::Event::Apply(obj)
            }
            watcher::Event::Delete(Decoded(Ok(obj))) => {
                self.decodable(&obj);
                watcher::Event::Delete(obj)
            }
            watcher::Event::InitApply(Decoded(Err(bad))) => {
                self.report_undecodable(&bad);
                match self.cached(&bad) {
                    Some(cached) => watcher::Event::InitApply(cached),
                    None => return,
                }
            }
            watcher::Event::Apply(Decoded(Err(bad))) => {
                self.report_undecodable(&bad);
                return;
            }
            watcher::Event::Delete(Decoded(Err(bad))) => {
                self.undecodable.lock().remove(&bad.key());
                match self.cached(&bad) {
                    Some(cached) => watcher::Event::Delete(cached),
                    None => return,
                }
            }
        };
        self.process_guarded(event);
    }

    fn cached(&self, bad: &Undecodable) -> Option<K> {
        let name = bad.metadata.name.as_deref()?;
        self.store.get_by(bad.metadata.namespace.as_deref(), name).map(|obj| (*obj).clone())
    }

    fn decodable(&self, obj: &K) {
        let mut undecodable = self.undecodable.lock();
        if !undecodable.is_empty() {
            let meta = obj.meta();
            let key = match &meta.namespace {
                Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or_default()),
                None => meta.name.clone().unwrap_or_default(),
            };
            undecodable.remove(&key);
        }
    }

    fn report_undecodable(&self, bad: &Undecodable) {
        if let Some(m) = &self.metrics {
            m.decode_error();
        }
        let key = bad.key();
        let rv = bad.metadata.resource_version.clone().unwrap_or_default();
        let mut undecodable = self.undecodable.lock();
        if undecodable.get(&key) != Some(&rv) {
            tracing::warn!(
                informer = %self.label,
                object = %key,
                resource_version = %rv,
                error = %truncate(&bad.error, MAX_ERROR_LEN),
                "object cannot be decoded; skipped (the cache keeps its last decodable state, if any)"
            );
            undecodable.insert(key, rv);
            drop(undecodable);
            // Outside the lock: a hook may ask for `health()`.
            let hooks = self.undecodable_hooks.lock().clone();
            for hook in hooks {
                if std::panic::catch_unwind(AssertUnwindSafe(|| hook(bad))).is_err() {
                    tracing::error!(informer = %self.label, object = %bad.key(), "an on_undecodable hook panicked");
                }
            }
        }
    }

    /// Adds a hook called with each object that cannot be decoded, once per
    /// object and resourceVersion, as
    /// [`InformerConfig::on_undecodable`] does: for an informer made by a
    /// factory. Objects already reported are not reported to it again, so
    /// add it before the informer starts.
    pub fn on_undecodable(&self, f: impl Fn(&Undecodable) + Send + Sync + 'static) {
        self.undecodable_hooks.lock().push(Arc::new(f));
    }

    /// Alias of [`run`](Self::run).
    pub fn start(self: &Arc<Self>) {
        self.run();
    }

    /// [`process`](Self::process), surviving any panic left: the informer
    /// goes on. (Neither a panicking transform nor a panicking index
    /// function gets here: the reflector keeps the object's cached state
    /// for the first, the store files the object without that index's
    /// value for the second.)
    fn process_guarded(&self, event: watcher::Event<K>) {
        if std::panic::catch_unwind(AssertUnwindSafe(|| self.process(event))).is_err() {
            tracing::error!(informer = %self.label, "processing an event panicked; event dropped");
            if let Some(m) = &self.metrics {
                m.panicked(PanicSite::TransformOrIndex);
            }
        }
    }

    fn process(&self, event: watcher::Event<K>) {
        let mut dispatch = self.dispatch.lock();
        if let Some(m) = &self.metrics {
            match &event {
                watcher::Event::Init => m.list_begun(),
                watcher::Event::Apply(_) | watcher::Event::Delete(_) => m.watch_event(),
                watcher::Event::InitApply(_) | watcher::Event::InitDone => {}
            }
        }
        let deltas = dispatch.reflector.apply(event);
        let index_failures = dispatch.reflector.take_index_failures() + dispatch.reflector.take_transform_failures();
        let len = self.store.len();
        for delta in deltas {
            for listener in dispatch.listeners.values() {
                listener.send(Message::Delta(delta.clone()), &self.label, len);
            }
        }
        if self.store.has_synced() {
            for listener in dispatch.listeners.values_mut().filter(|l| l.sync_pending) {
                listener.send(Message::Synced, &self.label, len);
                listener.sync_pending = false;
            }
            if !*self.synced.borrow() {
                self.synced.send_replace(true);
                self.health.synced.store(true, Ordering::Relaxed);
                if let Some(m) = &self.metrics {
                    m.set_healthy(self.health.inner.lock().ok);
                }
            }
        }
        if let Some(m) = &self.metrics {
            m.applied(len);
            for _ in 0..index_failures {
                m.panicked(PanicSite::TransformOrIndex);
            }
        }
    }

    /// Delivers `on_update(obj, obj)` for every cached object to every
    /// handler now (what the periodic resync does).
    pub fn resync_now(&self) {
        let dispatch = self.dispatch.lock();
        if !self.store.has_synced() {
            return;
        }
        let cached = self.store.list();
        let len = cached.len();
        for obj in cached {
            for listener in dispatch.listeners.values() {
                let delta = Delta::Updated { old: obj.clone(), new: obj.clone() };
                listener.send(Message::Delta(delta), &self.label, len);
            }
        }
    }

    /// Whether the first complete list is cached (handlers may not have
    /// handled it yet: see [`HandlerRegistration::has_synced`]).
    pub fn has_synced(&self) -> bool {
        self.store.has_synced()
    }

    /// Waits until the first complete list is cached; `false` if the
    /// informer was shut down before that.
    pub async fn wait_for_sync(&self) -> bool {
        let mut synced = self.synced.subscribe();
        let mut shutdown = self.shutdown.subscribe();
        tokio::select! {
            r = synced.wait_for(|s| *s) => r.is_ok(),
            _ = shutdown.wait_for(|s| *s) => self.has_synced(),
        }
    }

    /// As [`wait_for_sync`](Self::wait_for_sync), giving up after `timeout`
    /// (`false`).
    pub async fn wait_for_sync_timeout(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wait_for_sync()).await.unwrap_or(false)
    }

    /// Stops the watch, lets every handler finish the events already
    /// buffered for it, and waits for all tasks and handler threads. The
    /// informer cannot be restarted. A handler that never returns keeps this
    /// waiting: bound it with `tokio::time::timeout` if handlers may hang
    /// (the handler threads are detached, so dropping the wait leaks only
    /// them).
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
        // Dropping the senders ends each handler thread once it has drained.
        let ids: Vec<u64> = std::mem::take(&mut self.dispatch.lock().listeners).into_keys().collect();
        if let Some(m) = &self.metrics {
            ids.into_iter().for_each(|id| m.remove_handler(id));
        }
        let threads: Vec<_> = std::mem::take(&mut *self.handler_threads.lock()).into_values().collect();
        for ended in threads {
            let _ = ended.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use watcher::Event;

    fn informer() -> Arc<SharedIndexInformer<ConfigMap>> {
        // Never started: events are fed by hand, so no request is ever sent.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        Arc::new(SharedIndexInformer::new(Api::namespaced(client, "ns"), InformerConfig::new()))
    }

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn recorder() -> (Arc<Mutex<Vec<String>>>, HandlerFuncs<ConfigMap>) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (a, u, d) = (log.clone(), log.clone(), log.clone());
        let name = |c: &Arc<ConfigMap>| c.metadata.name.clone().unwrap();
        let rv = |c: &Arc<ConfigMap>| c.metadata.resource_version.clone().unwrap();
        let handler = HandlerFuncs::new()
            .on_add(move |c, initial| a.lock().push(format!("add {} {initial}", name(c))))
            .on_update(move |o, n| u.lock().push(format!("update {} {}->{}", name(n), rv(o), rv(n))))
            .on_delete(move |c, unknown| d.lock().push(format!("delete {} {unknown}", name(c))));
        (log, handler)
    }

    /// Waits until `log` holds `n` entries (handlers run on threads of their own).
    async fn settle(log: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
        while log.lock().len() < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        log.lock().clone()
    }

    async fn until(mut done: impl FnMut() -> bool) {
        while !done() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn informer_with_metrics() -> (Arc<SharedIndexInformer<ConfigMap>>, prometheus_client::registry::Registry) {
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = InformerMetrics::register(&mut registry);
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let config = InformerConfig::new().metrics(&metrics, "v1/ConfigMap");
        (Arc::new(SharedIndexInformer::new(Api::namespaced(client, "ns"), config)), registry)
    }

    fn list(inf: &SharedIndexInformer<ConfigMap>, objects: impl IntoIterator<Item = ConfigMap>) {
        inf.process_guarded(Event::Init);
        for obj in objects {
            inf.process_guarded(Event::InitApply(obj));
        }
        inf.process_guarded(Event::InitDone);
    }

    #[tokio::test]
    async fn a_blocked_handler_holds_back_neither_the_cache_nor_other_handlers() {
        use crate::metrics::test_util::value;
        let (inf, registry) = informer_with_metrics();
        // The blocked handler waits on `gate` until the test drops its sender.
        let (open, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let blocked_calls = Arc::new(AtomicUsize::new(0));
        let blocked = inf.add_event_handler(HandlerFuncs::new().on_add({
            let (gate, calls) = (gate.clone(), blocked_calls.clone());
            move |_, _| {
                let _ = gate.lock().recv(); // blocks this handler's thread only
                calls.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let (log, handler) = recorder();
        let free = inf.add_event_handler(handler);
        list(&inf, (0..100).map(|i| cm(&format!("o{i}"), "1")));
        assert_eq!(inf.store().len(), 100, "the cache is current");
        assert_eq!(settle(&log, 100).await.len(), 100, "the other handler got everything");
        until(|| free.has_synced()).await;
        assert!(!blocked.has_synced(), "the blocked handler has not handled the list");
        // 100 adds and the synced marker; the first add is in the handler, blocked.
        assert_eq!(blocked.buffered(), 101);
        let depth = |id: HandlerId| {
            let series = format!("informer_handler_buffer_depth{{kind=\"v1/ConfigMap\",handler=\"{}\"}}", id.0);
            value(&registry, &series)
        };
        assert_eq!(depth(blocked.id()), Some(101.0));
        assert_eq!(depth(free.id()), Some(0.0));
        drop(open);
        until(|| blocked.has_synced()).await;
        assert_eq!(blocked_calls.load(Ordering::SeqCst), 100);
        assert_eq!(blocked.buffered(), 0);
        assert!(inf.remove_event_handler(&blocked));
        assert_eq!(depth(blocked.id()), None, "a removed handler's series goes away");
        inf.shutdown().await;
    }

    #[tokio::test]
    async fn handlers_run_in_the_runtime_context_on_threads_of_their_own() {
        let inf = informer();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let reg = inf.add_event_handler(HandlerFuncs::new().on_add({
            let seen = seen.clone();
            move |_, _| {
                let thread = std::thread::current().name().map(str::to_string);
                let in_runtime = tokio::runtime::Handle::try_current().is_ok();
                seen.lock().push((thread, in_runtime));
            }
        }));
        list(&inf, [cm("a", "1")]);
        until(|| reg.has_synced()).await;
        assert_eq!(*seen.lock(), [(Some(format!("informer-handler-{}", reg.id().0)), true)]);
        inf.shutdown().await;
    }

    #[tokio::test]
    async fn panics_in_handlers_transforms_and_index_functions_are_counted_and_survived() {
        use crate::metrics::test_util::value;
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = InformerMetrics::register(&mut registry);
        let client = kube::Client::try_from(kube::Config::new("http://127.0.0.1:9".parse().unwrap())).unwrap();
        let config = InformerConfig::new().metrics(&metrics, "cm").transform(|c: &mut ConfigMap| {
            assert_ne!(c.metadata.name.as_deref(), Some("bad-transform"), "transform panics");
        });
        let inf = Arc::new(SharedIndexInformer::new(Api::namespaced(client, "ns"), config));
        inf.add_indexer(
            "picky",
            Arc::new(|c: &ConfigMap| {
                assert_ne!(c.metadata.name.as_deref(), Some("bad-index"), "index function panics");
                vec![]
            }),
        );
        let (log, recording) = recorder();
        inf.add_event_handler(recording);
        let reg = inf.add_event_handler(HandlerFuncs::new().on_add(|c: &Arc<ConfigMap>, _| {
            assert_ne!(c.metadata.name.as_deref(), Some("a"), "handler panics");
        }));
        list(&inf, [cm("a", "1"), cm("bad-transform", "1"), cm("bad-index", "1"), cm("b", "1")]);
        assert!(inf.has_synced(), "one bad object does not keep the informer from syncing");
        inf.process_guarded(Event::Apply(cm("bad-index", "2")));
        inf.process_guarded(Event::Apply(cm("c", "3")));
        let mut seen = settle(&log, 5).await;
        seen.sort();
        // The object an index function panics on is cached and delivered all the same.
        assert_eq!(seen, ["add a true", "add b true", "add bad-index true", "add c false", "update bad-index 1->2"]);
        assert!(inf.store().get_by(Some("ns"), "bad-index").is_some());
        assert!(inf.store().get_by(Some("ns"), "bad-transform").is_none(), "a panicking transform drops the event");
        until(|| reg.has_synced()).await;
        let count = |site: &str| value(&registry, &format!("informer_panics_total{{kind=\"cm\",site=\"{site}\"}}"));
        // The InitApply of bad-transform, the listed and the watched bad-index.
        assert_eq!(count("transform_or_index"), Some(3.0));
        assert_eq!(count("handler"), Some(1.0));
        inf.shutdown().await;
    }

    #[tokio::test]
    async fn handlers_see_lists_events_relists_and_late_joins() {
        let inf = informer();
        let (early, handler) = recorder();
        inf.add_event_handler(handler);
        inf.process(Event::Init);
        inf.process(Event::InitApply(cm("a", "1")));
        assert!(!inf.has_synced());
        inf.process(Event::InitDone);
        assert!(inf.has_synced());
        assert!(inf.wait_for_sync_timeout(Duration::from_secs(1)).await);
        assert!(inf.wait_for_sync().await);
        inf.process(Event::Apply(cm("b", "2")));
        inf.process(Event::Apply(cm("a", "3")));

        let (late, handler) = recorder();
        let id = inf.add_event_handler(handler);
        inf.process(Event::Delete(cm("b", "4")));
        // Relist: a changed, b already gone, c new; nothing else missing.
        inf.process(Event::Init);
        inf.process(Event::InitApply(cm("a", "5")));
        inf.process(Event::InitApply(cm("c", "6")));
        inf.process(Event::InitDone);
        inf.resync_now();

        let mut early_log = settle(&early, 8).await;
        early_log[6..].sort(); // a resync walks the cache in no particular order
        assert_eq!(
            early_log,
            [
                "add a true",
                "add b false",
                "update a 1->3",
                "delete b false",
                "update a 3->5",
                "add c false",
                "update a 5->5",
                "update c 6->6",
            ]
        );
        let mut late_log = settle(&late, 7).await;
        late_log[..2].sort();
        assert_eq!(late_log[..3], ["add a true", "add b true", "delete b false"]);

        assert!(inf.remove_event_handler(id));
        inf.process(Event::Apply(cm("d", "7")));
        settle(&early, 9).await;
        inf.shutdown().await;
        assert_eq!(late.lock().len(), 7, "removed handlers get nothing more");
        assert!(inf.wait_for_sync().await, "it had synced before the shutdown");
        inf.run();
        assert!(!inf.is_started(), "no restart after shutdown");
    }

    /// The hooks see each undecodable object once per resourceVersion
    /// (the warning's dedup), a panicking hook included, and the config's
    /// hook and one added later both run.
    #[tokio::test]
    async fn on_undecodable_hooks_run_once_per_object_and_resource_version() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (a, b) = (seen.clone(), seen.clone());
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let config = InformerConfig::new().on_undecodable(move |bad: &Undecodable| {
            a.lock().push(format!("config {} {}", bad.key(), bad.metadata.resource_version.clone().unwrap_or_default()))
        });
        let inf = SharedIndexInformer::<ConfigMap>::new(Api::namespaced(client, "ns"), config);
        inf.on_undecodable(|_| panic!("a broken hook"));
        inf.on_undecodable(move |bad| b.lock().push(format!("added {}", bad.key())));
        let bad = |rv: &str| {
            let metadata = cm("bad", rv).metadata;
            Event::Apply(Decoded(Err(Box::new(Undecodable { metadata, error: "unknown variant".into() }))))
        };
        for event in [bad("1"), bad("1"), bad("2")] {
            inf.process_decoded(event);
        }
        assert_eq!(*seen.lock(), ["config ns/bad 1", "added ns/bad", "config ns/bad 2", "added ns/bad"]);
        assert_eq!(inf.health().undecodable, 1);
    }
}
