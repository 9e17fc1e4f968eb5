//! A controller runner: N workers pulling keys from a [`WorkQueue`] and reconciling them.

use std::{fmt::Display, future::Future, hash::Hash, panic::AssertUnwindSafe, sync::Arc, time::Duration};

use futures::FutureExt;

use kube::Resource;

use crate::{informer::EventHandler, queue::WorkQueue, store::ObjectKey};

/// Default number of concurrent workers of a [`Controller`].
pub const DEFAULT_WORKERS: usize = 2;

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

/// Runs `reconcile` for each item of a queue on `workers` concurrent tasks.
///
/// On `Ok(Action::Done)` the item is forgotten; `Ok(Action::RequeueAfter(d))`
/// forgets it and adds it back after `d`; `Ok(Action::Requeue)` and `Err`
/// (logged) add it back rate-limited. [`WorkQueue::done`] is always called, so
/// an item is never reconciled by two workers at once.
pub struct Controller<T, F> {
    name: String,
    queue: WorkQueue<T>,
    reconcile: F,
    workers: usize,
}

impl<T, F> std::fmt::Debug for Controller<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("name", &self.name).field("workers", &self.workers).finish()
    }
}

impl<T, F, Fut, E> Controller<T, F>
where
    T: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    /// A controller named `name` (used in logs) with [`DEFAULT_WORKERS`] workers.
    pub fn new(name: impl Into<String>, queue: WorkQueue<T>, reconcile: F) -> Self {
        Self { name: name.into(), queue, reconcile, workers: DEFAULT_WORKERS }
    }

    /// Sets the number of concurrent workers (at least 1; default [`DEFAULT_WORKERS`]).
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// The queue.
    pub fn queue(&self) -> &WorkQueue<T> {
        &self.queue
    }

    /// Runs until `shutdown` completes (or the queue is shut down elsewhere),
    /// then shuts the queue down, lets the workers finish what is queued and
    /// in flight (retries are no longer accepted), and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let reconcile = Arc::new(self.reconcile);
        let name: Arc<str> = self.name.into();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.workers {
            let (queue, reconcile, name) = (self.queue.clone(), reconcile.clone(), name.clone());
            workers.spawn(async move {
                while let Some(item) = queue.get().await {
                    // A panicking reconcile is a failed one: the item is
                    // retried, marked done, and the worker lives on.
                    let outcome = AssertUnwindSafe(reconcile(item.clone())).catch_unwind().await;
                    let outcome = match outcome {
                        Ok(result) => result,
                        Err(_) => {
                            tracing::error!(controller = %name, ?item, "reconcile panicked; requeueing");
                            queue.add_rate_limited(item.clone());
                            queue.done(&item);
                            continue;
                        }
                    };
                    match outcome {
                        Ok(Action::Done) => queue.forget(&item),
                        Ok(Action::RequeueAfter(delay)) => {
                            queue.forget(&item);
                            queue.add_after(item.clone(), delay);
                        }
                        Ok(Action::Requeue) => queue.add_rate_limited(item.clone()),
                        Err(e) => {
                            tracing::warn!(controller = %name, ?item, error = %e, "reconcile failed; requeueing");
                            queue.add_rate_limited(item.clone());
                        }
                    }
                    queue.done(&item);
                }
            });
        }
        // Workers only end once the queue is shut down (by `shutdown`, or by
        // whoever else owns the queue).
        tokio::select! {
            () = shutdown => {}
            Some(ended) = workers.join_next() => {
                if let Err(e) = ended {
                    tracing::error!(controller = %name, error = %e, "controller worker ended abnormally");
                }
            }
        }
        self.queue.shutdown();
        while workers.join_next().await.is_some() {}
        self.queue.shutdown_with_drain().await;
    }
}

/// An [`EventHandler`] that adds `key_fn(obj)` to `queue` on every add,
/// update (the new object) and delete; `None` keys are skipped.
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
    enqueue_handler(queue, |obj: &K| Some(ObjectKey::from_object(obj)))
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
    fn on_add(&self, obj: &Arc<K>, _: bool) {
        if let Some(key) = (self.key_fn)(obj) {
            self.queue.add(key);
        }
    }
    fn on_update(&self, _: &Arc<K>, new: &Arc<K>) {
        if let Some(key) = (self.key_fn)(new) {
            self.queue.add(key);
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
}
