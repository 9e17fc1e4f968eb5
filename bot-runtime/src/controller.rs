//! A controller runner: N workers pulling keys from a [`WorkQueue`] and reconciling them.

use std::{
    any::Any,
    fmt::{Debug, Display},
    future::Future,
    hash::Hash,
    panic::AssertUnwindSafe,
    sync::Arc,
    time::Duration,
};

use futures::FutureExt;
use kube::Resource;
use tokio::time::Instant;

use crate::{
    informer::EventHandler,
    metrics::{ControllerHandles, ControllerMetrics},
    queue::{Priority, WorkQueue},
    store::{ObjectKey, ObjectKeyRef},
};

/// Default number of concurrent workers of a [`Controller`].
pub const DEFAULT_WORKERS: usize = 2;

/// Default time in-flight reconciles get to finish once a [`Controller`] is
/// asked to stop (controller-runtime's graceful shutdown timeout).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What to do with an item after a successful reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Finished: forget its retry history.
    Done,
    /// Retry with the queue's rate limiter (backoff grows).
    Requeue,
    /// Forget the retry history and reconcile again after this delay.
    RequeueAfter(Duration),
}

/// What [`Controller::run`] left undone when it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stopped {
    /// Queued items dropped at shutdown (never reconciled by this run).
    pub dropped: usize,
    /// Reconciles still in flight when the grace period ended (their
    /// futures were dropped).
    pub cancelled: usize,
}

/// Runs `reconcile` for each item of a queue on `workers` concurrent tasks.
///
/// On `Ok(Action::Done)` the item is forgotten; `Ok(Action::RequeueAfter(d))`
/// forgets it and adds it back after `d`; `Ok(Action::Requeue)` and `Err`
/// (logged) add it back rate-limited; a retry keeps the [`Priority`] the item
/// was queued at. [`WorkQueue::done`] is always called, so an item is never
/// reconciled by two workers at once.
///
/// A panic in `reconcile` (while building its future or while polling it)
/// is logged, counted (`controller_runtime_reconcile_panics_total`) and
/// retried like an error; the worker carries on.
pub struct Controller<T, F> {
    name: String,
    queue: WorkQueue<T>,
    reconcile: F,
    workers: usize,
    grace: Duration,
    metrics: Option<ControllerMetrics>,
}

impl<T, F> Debug for Controller<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("shutdown_grace", &self.grace)
            .finish()
    }
}

/// The outcome of one reconcile.
enum Outcome<E> {
    Ok(Action),
    Err(E),
    Panicked(String),
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string panic payload>".to_string())
}

impl<T, F, Fut, E> Controller<T, F>
where
    T: Clone + Eq + Hash + Send + Sync + Debug + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    /// A controller named `name` (used in logs and metrics) with
    /// [`DEFAULT_WORKERS`] workers and [`DEFAULT_SHUTDOWN_GRACE`].
    pub fn new(name: impl Into<String>, queue: WorkQueue<T>, reconcile: F) -> Self {
        Self {
            name: name.into(),
            queue,
            reconcile,
            workers: DEFAULT_WORKERS,
            grace: DEFAULT_SHUTDOWN_GRACE,
            metrics: None,
        }
    }

    /// Sets the number of concurrent workers (at least 1; default [`DEFAULT_WORKERS`]).
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Sets how long in-flight reconciles may run once the controller is
    /// asked to stop (default [`DEFAULT_SHUTDOWN_GRACE`]); after that their
    /// futures are dropped.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Publishes `controller_runtime_*` metrics under this controller's name.
    /// `metrics`: a [`ControllerMetrics`] or a
    /// [`RuntimeMetrics`](crate::metrics::RuntimeMetrics). (The queue's
    /// `workqueue_*` metrics are the queue's: [`WorkQueue::with_metrics`].)
    #[must_use]
    pub fn metrics(mut self, metrics: impl AsRef<ControllerMetrics>) -> Self {
        self.metrics = Some(metrics.as_ref().clone());
        self
    }

    /// The queue.
    pub fn queue(&self) -> &WorkQueue<T> {
        &self.queue
    }

    /// Runs until `shutdown` completes (or the queue is shut down elsewhere
    /// and drained), then stops within the grace period: the queue is shut
    /// down and its queued items dropped (logged as a count; a restarted
    /// controller relists them anyway), in-flight reconciles get
    /// [`shutdown_grace`](Self::shutdown_grace) to finish, and those still
    /// running after it are cancelled (their futures dropped). Returns what
    /// was left undone.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Stopped {
        let handles = self.metrics.as_ref().map(|m| m.controller(&self.name, self.workers));
        let worker = Arc::new(Worker { name: self.name, queue: self.queue, reconcile: self.reconcile, handles });
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.workers {
            workers.spawn(worker.clone().work());
        }
        // Workers only end once the queue is shut down (by `shutdown`, or by
        // whoever else owns the queue).
        tokio::select! {
            () = shutdown => {}
            Some(ended) = workers.join_next() => {
                if let Err(e) = ended {
                    tracing::error!(controller = %worker.name, error = %e, "controller worker ended abnormally");
                }
            }
        }
        let dropped = worker.queue.shutdown_discarding();
        let in_flight = worker.queue.processing();
        if dropped > 0 || in_flight > 0 {
            tracing::info!(controller = %worker.name, dropped, in_flight, grace = ?self.grace, "controller stopping");
        }
        let grace = tokio::time::sleep(self.grace);
        tokio::pin!(grace);
        let mut cancelled = 0;
        loop {
            tokio::select! {
                next = workers.join_next() => if next.is_none() { break },
                () = &mut grace => {
                    cancelled = worker.queue.processing();
                    tracing::warn!(controller = %worker.name, cancelled, "grace period over; cancelling reconciles");
                    workers.abort_all();
                    while workers.join_next().await.is_some() {}
                    break;
                }
            }
        }
        Stopped { dropped, cancelled }
    }
}

/// What every worker of one controller shares.
struct Worker<T, F> {
    name: String,
    queue: WorkQueue<T>,
    reconcile: F,
    handles: Option<ControllerHandles>,
}

/// An item taken from the queue: marked done (and the active-workers gauge
/// lowered) when dropped, even when the reconcile panics or is cancelled.
struct InFlight<'a, T: Clone + Eq + Hash + Send + Sync + 'static> {
    queue: &'a WorkQueue<T>,
    item: &'a T,
    handles: Option<&'a ControllerHandles>,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Drop for InFlight<'_, T> {
    fn drop(&mut self) {
        if let Some(h) = self.handles {
            h.active.dec();
        }
        self.queue.done(self.item);
    }
}

impl<T, F, Fut, E> Worker<T, F>
where
    T: Clone + Eq + Hash + Send + Sync + Debug + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    async fn work(self: Arc<Self>) {
        while let Some((item, priority)) = self.queue.get_with_priority().await {
            if let Some(h) = &self.handles {
                h.active.inc();
            }
            let _in_flight = InFlight { queue: &self.queue, item: &item, handles: self.handles.as_ref() };
            let started = Instant::now();
            let outcome = self.reconcile_once(item.clone()).await;
            if let Some(h) = &self.handles {
                h.time.observe(started.elapsed().as_secs_f64());
            }
            // The rate limiter is user code too: a panic there must not end the worker.
            let finish = AssertUnwindSafe(|| self.finish(&item, priority, outcome));
            if let Err(payload) = std::panic::catch_unwind(finish) {
                let message = panic_message(payload.as_ref());
                tracing::error!(controller = %self.name, ?item, %message, "requeueing panicked; item dropped");
            }
        }
    }

    /// Calls `reconcile`, catching a panic while building or polling its future.
    async fn reconcile_once(&self, item: T) -> Outcome<E> {
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| (self.reconcile)(item))) {
            Ok(future) => future,
            Err(payload) => return Outcome::Panicked(panic_message(payload.as_ref())),
        };
        match AssertUnwindSafe(future).catch_unwind().await {
            Ok(Ok(action)) => Outcome::Ok(action),
            Ok(Err(e)) => Outcome::Err(e),
            Err(payload) => Outcome::Panicked(panic_message(payload.as_ref())),
        }
    }

    /// Updates the metrics, if any.
    fn count(&self, update: impl FnOnce(&ControllerHandles)) {
        if let Some(h) = &self.handles {
            update(h);
        }
    }

    /// Counts the outcome and forgets or requeues the item.
    fn finish(&self, item: &T, priority: Priority, outcome: Outcome<E>) {
        match outcome {
            Outcome::Ok(Action::Done) => {
                self.count(|h| {
                    h.success.inc();
                });
                self.queue.forget(item);
            }
            Outcome::Ok(Action::RequeueAfter(delay)) => {
                self.count(|h| {
                    h.requeue_after.inc();
                });
                self.queue.forget(item);
                self.queue.add_after_with_priority(item.clone(), delay, priority);
            }
            Outcome::Ok(Action::Requeue) => {
                self.count(|h| {
                    h.requeue.inc();
                });
                self.queue.add_rate_limited_with_priority(item.clone(), priority);
            }
            Outcome::Err(e) => {
                self.count(|h| {
                    h.error.inc();
                    h.errors.inc();
                });
                tracing::warn!(controller = %self.name, ?item, error = %e, "reconcile failed; requeueing");
                self.queue.add_rate_limited_with_priority(item.clone(), priority);
            }
            Outcome::Panicked(message) => {
                self.count(|h| {
                    h.error.inc();
                    h.errors.inc();
                    h.panics.inc();
                });
                tracing::error!(controller = %self.name, ?item, %message, "reconcile panicked; requeueing");
                self.queue.add_rate_limited_with_priority(item.clone(), priority);
            }
        }
    }
}

impl Priority {
    /// The priority of an add event: [`Low`](Self::Low) for an object of
    /// an initial list (or a handler's catch-up of the cache), else
    /// [`Normal`](Self::Normal).
    pub fn for_add(is_in_initial_list: bool) -> Self {
        if is_in_initial_list { Self::Low } else { Self::Normal }
    }

    /// The priority of an update event: [`Low`](Self::Low) for a resync
    /// (`old` and `new` are the same `Arc`), else [`Normal`](Self::Normal).
    pub fn for_update<K>(old: &Arc<K>, new: &Arc<K>) -> Self {
        if Arc::ptr_eq(old, new) { Self::Low } else { Self::Normal }
    }
}

/// An [`EventHandler`] that adds `key_fn(obj)` to `queue` on every add,
/// update (the new object) and delete; `None` keys are skipped.
///
/// Objects of an initial list and resyncs are queued at [`Priority::Low`],
/// live changes at [`Priority::Normal`] ([`Priority::for_add`],
/// [`Priority::for_update`]), so live changes are reconciled first.
pub fn enqueue_handler<K, T>(
    queue: WorkQueue<T>,
    key_fn: impl Fn(&K) -> Option<T> + Send + Sync + 'static,
) -> impl EventHandler<K>
where
    K: Send + Sync + 'static,
    T: Clone + Eq + Hash + Send + Sync + 'static,
{
    EnqueueHandler { queue, key_fn }
}

/// [`enqueue_handler`] with [`ObjectKey`]s (`namespace/name`) as items.
pub fn enqueue_object_keys<K>(queue: WorkQueue<ObjectKey>) -> impl EventHandler<K>
where
    K: Resource + Send + Sync + 'static,
{
    EnqueueKeys { queue, kind: std::marker::PhantomData }
}

/// [`enqueue_object_keys`]: adds each object's key borrowed from its
/// metadata, so an event for an object already queued allocates nothing.
struct EnqueueKeys<K> {
    queue: WorkQueue<ObjectKey>,
    kind: std::marker::PhantomData<fn(&K)>,
}

impl<K: Resource + Send + Sync + 'static> EventHandler<K> for EnqueueKeys<K> {
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        self.queue.add_equivalent(&ObjectKeyRef::from_object(obj.as_ref()), Priority::for_add(is_in_initial_list));
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        self.queue.add_equivalent(&ObjectKeyRef::from_object(new.as_ref()), Priority::for_update(old, new));
    }
    fn on_delete(&self, obj: &Arc<K>, _: bool) {
        self.queue.add_equivalent(&ObjectKeyRef::from_object(obj.as_ref()), Priority::Normal);
    }
}

struct EnqueueHandler<T, F> {
    queue: WorkQueue<T>,
    key_fn: F,
}

impl<K, T, F> EventHandler<K> for EnqueueHandler<T, F>
where
    K: Send + Sync + 'static,
    T: Clone + Eq + Hash + Send + Sync + 'static,
    F: Fn(&K) -> Option<T> + Send + Sync + 'static,
{
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        if let Some(key) = (self.key_fn)(obj) {
            self.queue.add_with_priority(key, Priority::for_add(is_in_initial_list));
        }
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        if let Some(key) = (self.key_fn)(new) {
            self.queue.add_with_priority(key, Priority::for_update(old, new));
        }
    }
    fn on_delete(&self, obj: &Arc<K>, _: bool) {
        if let Some(key) = (self.key_fn)(obj) {
            self.queue.add(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_panicking_reconcile_is_retried_and_does_not_stop_the_controller() {
        let queue = WorkQueue::<u32>::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let controller = Controller::new("panics", queue.clone(), {
            let calls = calls.clone();
            move |item: u32| {
                let calls = calls.clone();
                async move {
                    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                        panic!("first attempt at {item} panics");
                    }
                    Ok::<_, String>(Action::Done)
                }
            }
        })
        .workers(1);
        queue.add(1);
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while calls.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        queue.add(2);
        while calls.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), run).await.expect("run returns").unwrap();
        assert_eq!(queue.processing(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn reconciles_retries_and_drains() {
        let queue = WorkQueue::<u32>::new();
        let attempts = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let concurrent = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let controller = Controller::new("test", queue.clone(), {
            let (attempts, concurrent) = (attempts.clone(), concurrent.clone());
            move |item: u32| {
                let (attempts, concurrent) = (attempts.clone(), concurrent.clone());
                async move {
                    assert_eq!(concurrent.fetch_add(1, Ordering::SeqCst), 0, "one at a time for one item");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    concurrent.fetch_sub(1, Ordering::SeqCst);
                    let n = {
                        let mut a = attempts.lock();
                        a.push(item);
                        a.len()
                    };
                    if n < 3 { Err(format!("attempt {n}")) } else { Ok(Action::Done) }
                }
            }
        })
        .workers(4);
        queue.add(7);
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while attempts.lock().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(*attempts.lock(), [7, 7, 7]);
        assert_eq!(queue.num_requeues(&7), 0, "forgotten after success");
        tx.send(()).unwrap();
        run.await.unwrap();
        assert!(queue.is_shutting_down());
    }
    #[tokio::test(start_paused = true)]
    async fn a_reconcile_panicking_before_its_future_exists_is_retried() {
        let queue = WorkQueue::<u32>::new();
        let calls = Arc::new(AtomicUsize::new(0));
        let controller = Controller::new("sync-panic", queue.clone(), {
            let calls = calls.clone();
            move |item: u32| {
                assert_ne!(calls.fetch_add(1, Ordering::SeqCst), 0, "first call panics synchronously");
                async move { Ok::<_, String>(if item == 1 { Action::Done } else { Action::Requeue }) }
            }
        })
        .workers(1);
        queue.add(1);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while calls.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tx.send(()).unwrap();
        let stopped = tokio::time::timeout(Duration::from_secs(5), run).await.expect("run returns").unwrap();
        assert_eq!(stopped, Stopped::default());
        assert_eq!(queue.processing(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_drops_the_backlog_and_cancels_reconciles_after_the_grace_period() {
        let queue = WorkQueue::<u32>::new();
        let started = Arc::new(AtomicUsize::new(0));
        let controller = Controller::new("stuck", queue.clone(), {
            let started = started.clone();
            move |item: u32| {
                started.fetch_add(1, Ordering::SeqCst);
                async move {
                    if item < 2 {
                        std::future::pending::<()>().await; // never finishes
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await; // finishes within the grace
                    Ok::<_, String>(Action::Done)
                }
            }
        })
        .workers(3)
        .shutdown_grace(Duration::from_secs(10));
        for i in 0..1000 {
            queue.add(i);
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while started.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tx.send(()).unwrap();
        let begun = Instant::now();
        let stopped = run.await.unwrap();
        assert_eq!(begun.elapsed(), Duration::from_secs(10), "within the grace period, not after the backlog");
        assert_eq!(stopped, Stopped { dropped: 997, cancelled: 2 }, "item 2 finished within the grace");
        assert_eq!(started.load(Ordering::SeqCst), 3, "no queued item was started after the stop");
        assert_eq!(queue.processing(), 0, "cancelled items are marked done");
        assert!(queue.is_shutting_down());
    }

    #[tokio::test(start_paused = true)]
    async fn live_changes_are_reconciled_before_an_initial_backlog() {
        let queue = WorkQueue::<ObjectKey>::new();
        let handler = enqueue_object_keys::<k8s_openapi::api::core::v1::ConfigMap>(queue.clone());
        let cm = |name: &str| {
            let mut cm = k8s_openapi::api::core::v1::ConfigMap::default();
            cm.metadata.namespace = Some("ns".into());
            cm.metadata.name = Some(name.into());
            Arc::new(cm)
        };
        for i in 0..100 {
            handler.on_add(&cm(&format!("initial-{i}")), true);
        }
        let resynced = cm("resynced");
        handler.on_update(&resynced, &resynced);
        handler.on_update(&cm("live"), &cm("live"));
        handler.on_add(&cm("created"), false);
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let controller = Controller::new("priority", queue.clone(), {
            let order = order.clone();
            move |key: ObjectKey| {
                order.lock().push(key.name);
                async { Ok::<_, String>(Action::Done) }
            }
        })
        .workers(1);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while order.lock().len() < 103 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tx.send(()).unwrap();
        run.await.unwrap();
        let order = order.lock();
        assert_eq!(order[..3], ["live", "created", "initial-0"], "live changes first, then the backlog in order");
        assert_eq!(order[102], "resynced", "a resync is low priority too");
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_count_results_errors_panics_and_time() {
        use crate::metrics::{ControllerMetrics, test_util::value};
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = ControllerMetrics::register(&mut registry);
        // Retries wait an hour: each outcome below happens exactly once.
        let hour = Duration::from_secs(3600);
        let queue = WorkQueue::<u32>::with_rate_limiter(crate::queue::ItemExponentialRateLimiter::new(hour, hour));
        let done = Arc::new(AtomicUsize::new(0));
        let controller = Controller::new("m", queue.clone(), {
            let done = done.clone();
            move |item: u32| {
                let done = done.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    done.fetch_add(1, Ordering::SeqCst);
                    match item {
                        0 => Ok(Action::Done),
                        1 => Ok(Action::RequeueAfter(Duration::from_secs(3600))),
                        2 => Err("boom"),
                        _ => panic!("reconcile panics"),
                    }
                }
            }
        })
        .workers(1)
        .metrics(&metrics);
        for i in 0..4 {
            queue.add(i);
        }
        let v = |result: &str| {
            value(&registry, &format!("controller_runtime_reconcile_total{{controller=\"m\",result=\"{result}\"}}"))
        };
        assert_eq!(v("success"), None, "registered when the controller runs");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(controller.run(async move {
            let _ = rx.await;
        }));
        while done.load(Ordering::SeqCst) < 4 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(v("success"), Some(1.0));
        assert_eq!(v("requeue_after"), Some(1.0));
        assert_eq!(v("requeue"), Some(0.0));
        assert_eq!(v("error"), Some(2.0), "the error and the panic");
        let one = |name: &str| value(&registry, &format!("{name}{{controller=\"m\"}}")).unwrap();
        assert_eq!(one("controller_runtime_reconcile_errors_total"), 2.0);
        assert_eq!(one("controller_runtime_reconcile_panics_total"), 1.0);
        assert_eq!(one("controller_runtime_max_concurrent_reconciles"), 1.0);
        assert_eq!(one("controller_runtime_reconcile_time_seconds_count"), 4.0);
        assert!((one("controller_runtime_reconcile_time_seconds_sum") - 0.08).abs() < 1e-9);
        tx.send(()).unwrap();
        run.await.unwrap();
        assert_eq!(one("controller_runtime_active_workers"), 0.0);
    }
}
