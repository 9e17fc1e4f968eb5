//! `SharedIndexInformer<K>`: one watch, one indexed cache, many event handlers.

use std::{
    collections::BTreeMap,
    fmt::Debug,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use kube::{Api, Resource, runtime::watcher};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use crate::{
    lister::Lister,
    reflector::{Delta, Reflector, TransformFn, watch_stream},
    store::{IndexFn, Store},
};

/// Receives the events of a [`SharedIndexInformer`].
///
/// Each handler runs on a task of its own, fed by an unbounded channel, so a
/// slow handler delays only itself. Calls to one handler are sequential and
/// in the order of the cache's changes. Objects are shared: clone to modify.
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

/// Options of a [`SharedIndexInformer`].
pub struct InformerConfig<K> {
    /// The list/watch options (selectors, page size, streaming lists, ...).
    /// Default: [`watcher::Config::default()`] (everything, bookmarks on).
    pub watcher: watcher::Config,
    /// Default resync period of handlers added with
    /// [`SharedIndexInformer::add_event_handler`]: every period each such
    /// handler gets `on_update(obj, obj)` for every cached object. Default:
    /// `None` (no resync).
    pub resync: Option<Duration>,
    /// Applied to every object before it is cached. Default: `None`.
    pub transform: Option<TransformFn<K>>,
}

impl<K> Default for InformerConfig<K> {
    fn default() -> Self {
        Self { watcher: watcher::Config::default(), resync: None, transform: None }
    }
}

impl<K> Clone for InformerConfig<K> {
    fn clone(&self) -> Self {
        Self { watcher: self.watcher.clone(), resync: self.resync, transform: self.transform.clone() }
    }
}

impl<K> Debug for InformerConfig<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InformerConfig")
            .field("watcher", &self.watcher)
            .field("resync", &self.resync)
            .field("transform", &self.transform.is_some())
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
}

struct Dispatch<K> {
    reflector: Reflector<K>,
    listeners: BTreeMap<u64, mpsc::UnboundedSender<Delta<K>>>,
    next_id: u64,
}

/// A shared informer: one kube watcher feeding one indexed [`Store`] and any
/// number of [`EventHandler`]s. Hold it in an `Arc`.
///
/// Must be used inside a tokio runtime (handlers and the watch run on tasks).
pub struct SharedIndexInformer<K> {
    api: Api<K>,
    watcher_config: watcher::Config,
    resync: Option<Duration>,
    store: Store<K>,
    dispatch: Arc<Mutex<Dispatch<K>>>,
    started: AtomicBool,
    shutdown: watch::Sender<bool>,
    synced: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    handler_tasks: Mutex<BTreeMap<u64, JoinHandle<()>>>,
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
        let store = Store::new();
        let reflector = Reflector::new(store.clone(), config.transform);
        Self {
            api,
            watcher_config: config.watcher,
            resync: config.resync.filter(|p| !p.is_zero()),
            store,
            dispatch: Arc::new(Mutex::new(Dispatch { reflector, listeners: BTreeMap::new(), next_id: 0 })),
            started: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            synced: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            handler_tasks: Mutex::new(BTreeMap::new()),
        }
    }

    /// Registers a handler with the informer's default resync period. A
    /// handler added after the informer has cached objects first receives an
    /// `on_add(obj, true)` for each of them, then live events, with no gap and
    /// no duplicate.
    pub fn add_event_handler(&self, handler: impl EventHandler<K>) -> HandlerId {
        self.add_event_handler_with_resync(handler, self.resync)
    }

    /// As [`add_event_handler`](Self::add_event_handler), with a resync
    /// period of its own (`None` or zero: no resync): every `period`, once
    /// synced, the handler gets `on_update(obj, obj)` for every cached object.
    pub fn add_event_handler_with_resync(&self, handler: impl EventHandler<K>, resync: Option<Duration>) -> HandlerId {
        let (tx, mut rx) = mpsc::unbounded_channel::<Delta<K>>();
        let task = tokio::spawn(async move {
            while let Some(delta) = rx.recv().await {
                let call = AssertUnwindSafe(|| match &delta {
                    Delta::Added { obj, is_in_initial_list } => handler.on_add(obj, *is_in_initial_list),
                    Delta::Updated { old, new } => handler.on_update(old, new),
                    Delta::Deleted { obj, final_state_unknown } => handler.on_delete(obj, *final_state_unknown),
                });
                if std::panic::catch_unwind(call).is_err() {
                    tracing::error!("informer event handler panicked");
                }
            }
        });
        let id = {
            // Snapshot and registration under the lock the dispatcher holds:
            // no event is missed or delivered twice. The task is recorded
            // under it too, so a concurrent shutdown waits for it.
            let mut dispatch = self.dispatch.lock();
            for obj in self.store.list() {
                let _ = tx.send(Delta::Added { obj, is_in_initial_list: true });
            }
            let id = dispatch.next_id;
            dispatch.next_id += 1;
            if !*self.shutdown.borrow() {
                dispatch.listeners.insert(id, tx);
            } // else: after shutdown the handler gets the cache, then its channel closes.
            self.handler_tasks.lock().insert(id, task);
            id
        };
        if let Some(period) = resync.filter(|p| !p.is_zero()) {
            let (dispatch, store) = (self.dispatch.clone(), self.store.clone());
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
                            let Some(tx) = dispatch.listeners.get(&id) else { break };
                            if store.has_synced() {
                                for obj in store.list() {
                                    let _ = tx.send(Delta::Updated { old: obj.clone(), new: obj });
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
        HandlerId(id)
    }

    /// Unregisters a handler; events already queued for it are still
    /// delivered. Returns whether it was registered.
    pub fn remove_event_handler(&self, id: HandlerId) -> bool {
        let removed = self.dispatch.lock().listeners.remove(&id.0).is_some();
        self.handler_tasks.lock().remove(&id.0);
        removed
    }

    /// Adds (or replaces) an index; allowed at any time (computed over what is cached).
    pub fn add_indexer(&self, name: impl Into<String>, f: IndexFn<K>) {
        self.store.add_indexer(name, f);
    }

    /// The cache (reader side).
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
    pub fn run(self: &Arc<Self>) {
        if *self.shutdown.borrow() || self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(self);
        let mut stream = watch_stream(self.api.clone(), self.watcher_config.clone());
        let mut shutdown = self.shutdown.subscribe();
        let url = self.api.resource_url().to_string();
        let watch_task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => break,
                    event = stream.next() => match event {
                        Some(Ok(event)) => {
                            let Some(this) = weak.upgrade() else { break };
                            // A panicking transform or index function loses that
                            // event (the store is left as it was), not the informer.
                            if std::panic::catch_unwind(AssertUnwindSafe(|| this.process(event))).is_err() {
                                tracing::error!(%url, "a transform or index function panicked; event dropped");
                            }
                        }
                        Some(Err(e)) => tracing::warn!(%url, error = %e, "informer watch failed; retrying"),
                        None => break,
                    }
                }
            }
        });
        self.tasks.lock().push(watch_task);
    }

    /// Alias of [`run`](Self::run).
    pub fn start(self: &Arc<Self>) {
        self.run();
    }

    fn process(&self, event: watcher::Event<K>) {
        let mut dispatch = self.dispatch.lock();
        let deltas = dispatch.reflector.apply(event);
        for delta in deltas {
            for tx in dispatch.listeners.values() {
                let _ = tx.send(delta.clone());
            }
        }
        if self.store.has_synced() && !*self.synced.borrow() {
            self.synced.send_replace(true);
        }
    }

    /// Delivers `on_update(obj, obj)` for every cached object to every
    /// handler now (what the periodic resync does).
    pub fn resync_now(&self) {
        let dispatch = self.dispatch.lock();
        if !self.store.has_synced() {
            return;
        }
        for obj in self.store.list() {
            for tx in dispatch.listeners.values() {
                let _ = tx.send(Delta::Updated { old: obj.clone(), new: obj.clone() });
            }
        }
    }

    /// Whether the first complete list is cached.
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

    /// Stops the watch, lets every handler finish the events already queued
    /// for it, and waits for all tasks. The informer cannot be restarted.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
        // Dropping the senders ends each handler task once it has drained.
        self.dispatch.lock().listeners.clear();
        let handlers: Vec<_> = std::mem::take(&mut *self.handler_tasks.lock()).into_values().collect();
        for task in handlers {
            let _ = task.await;
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

    async fn settle(log: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
        while log.lock().len() < n {
            tokio::task::yield_now().await;
        }
        log.lock().clone()
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
}
