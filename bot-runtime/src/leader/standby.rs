//! Warm standby: informers run on every replica, work is queued only on the leader.

use std::{
    fmt::{self, Display},
    future::Future,
    hash::Hash,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use kube::Resource;
use parking_lot::RwLock;

use super::{LeaderElector, Leadership};
use crate::{
    Action, Controller,
    informer::EventHandler,
    queue::{Priority, WorkQueue},
    store::{ObjectKey, ObjectKeyRef},
};

type MakeQueue<T> = Box<dyn Fn() -> WorkQueue<T> + Send + Sync>;

/// A work queue that exists only while this replica leads.
///
/// Each term gets a fresh [`WorkQueue`]; between terms there is none, and
/// [`add`](Self::add) (hence the [`handler`](Self::handler)s) drops items,
/// so a follower's informers keep their caches warm without queue growth.
/// When a term begins ([`run_controller`](Self::run_controller) or
/// [`begin_term`](Self::begin_term)) the queue is installed *first* and the
/// initial keys (every cached key) listed and added *after*, so an event
/// landing in between is queued rather than lost, and keys the cache had
/// not synced yet arrive through the handler.
pub struct LeaderQueue<T> {
    inner: Arc<Inner<T>>,
}

struct Inner<T> {
    current: RwLock<Option<(u64, WorkQueue<T>)>>,
    terms: AtomicU64,
    make: MakeQueue<T>,
}

impl<T> Clone for LeaderQueue<T> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<T> fmt::Debug for LeaderQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderQueue").field("current", &self.inner.current.read().as_ref().map(|(_, q)| q)).finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for LeaderQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> LeaderQueue<T> {
    /// Terms get a [`WorkQueue::new`] each.
    pub fn new() -> Self {
        Self::with_queue(WorkQueue::new)
    }

    /// Terms get a `make()` each (a custom rate limiter, say).
    pub fn with_queue(make: impl Fn() -> WorkQueue<T> + Send + Sync + 'static) -> Self {
        Self { inner: Arc::new(Inner { current: RwLock::new(None), terms: AtomicU64::new(0), make: Box::new(make) }) }
    }

    /// Queues `item` if a term is open; returns whether it was offered to a queue.
    pub fn add(&self, item: T) -> bool {
        self.add_with_priority(item, Priority::Normal)
    }

    /// Queues `item` at `priority` if a term is open (see
    /// [`WorkQueue::add_with_priority`]); returns whether it was offered to a queue.
    pub fn add_with_priority(&self, item: T, priority: Priority) -> bool {
        match &*self.inner.current.read() {
            Some((_, queue)) => {
                queue.add_with_priority(item, priority);
                true
            }
            None => false,
        }
    }

    /// The current term's queue, if any.
    pub fn current(&self) -> Option<WorkQueue<T>> {
        self.inner.current.read().as_ref().map(|(_, q)| q.clone())
    }

    /// An [`EventHandler`] adding `key_fn(obj)` on add, update and delete,
    /// while a term is open (like [`enqueue_handler`](crate::enqueue_handler),
    /// with the same priorities: initial lists and resyncs low).
    pub fn handler<K>(&self, key_fn: impl Fn(&K) -> Option<T> + Send + Sync + 'static) -> impl EventHandler<K>
    where
        K: Send + Sync + 'static,
    {
        GatedEnqueue { queue: self.clone(), key_fn }
    }

    /// Opens a term: installs a fresh queue, then adds `initial()`'s items
    /// at [`Priority::Low`] (like an initial list: live changes go first).
    /// The term ends (queue shut down and uninstalled) when the returned
    /// guard is dropped.
    pub fn begin_term<I: IntoIterator<Item = T>>(&self, initial: impl FnOnce() -> I) -> QueueTerm<T> {
        let id = self.inner.terms.fetch_add(1, Ordering::Relaxed);
        let queue = (self.inner.make)();
        *self.inner.current.write() = Some((id, queue.clone()));
        for item in initial() {
            queue.add_with_priority(item, Priority::Low);
        }
        let (inner, ended) = (self.inner.clone(), queue.clone());
        let end = move || {
            {
                let mut current = inner.current.write();
                if current.as_ref().is_some_and(|(current, _)| *current == id) {
                    *current = None;
                }
            }
            // No drain: `Controller::run` gives in-flight reconciles its
            // grace period on a graceful stop (queued keys are dropped; the
            // next term queues every key again); after a loss nothing more
            // may run.
            ended.shutdown();
        };
        QueueTerm { id, queue, end: Some(Box::new(end)) }
    }

    /// One term of a controller: opens a term with `initial()` queued, runs
    /// `build(queue)` until `leadership` is cancelled, and closes the term.
    /// If the term is lost, the future is dropped and the guard still closes it.
    pub async fn run_controller<F, Fut, E, I>(
        &self,
        leadership: &Leadership,
        initial: impl FnOnce() -> I,
        build: impl FnOnce(WorkQueue<T>) -> Controller<T, F>,
    ) where
        T: fmt::Debug,
        I: IntoIterator<Item = T>,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let term = self.begin_term(initial);
        build(term.queue().clone()).run(leadership.cancelled()).await;
        drop(term);
    }
}

impl LeaderQueue<ObjectKey> {
    /// [`handler`](Self::handler) with `namespace/name` keys, each added
    /// borrowed from the object's metadata
    /// ([`WorkQueue::add_equivalent`]): an event for an object already
    /// queued allocates nothing.
    pub fn object_key_handler<K: Resource + Send + Sync + 'static>(&self) -> impl EventHandler<K> {
        GatedKeys { queue: self.clone(), kind: std::marker::PhantomData }
    }
}

/// [`LeaderQueue::object_key_handler`].
struct GatedKeys<K> {
    queue: LeaderQueue<ObjectKey>,
    kind: std::marker::PhantomData<fn(&K)>,
}

impl<K: Resource + Send + Sync + 'static> GatedKeys<K> {
    fn offer(&self, obj: &K, priority: Priority) {
        if let Some((_, queue)) = &*self.queue.inner.current.read() {
            queue.add_equivalent(&ObjectKeyRef::from_object(obj), priority);
        }
    }
}

impl<K: Resource + Send + Sync + 'static> EventHandler<K> for GatedKeys<K> {
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        self.offer(obj, Priority::for_add(is_in_initial_list));
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        self.offer(new, Priority::for_update(old, new));
    }
    fn on_delete(&self, obj: &Arc<K>, _: bool) {
        self.offer(obj, Priority::Normal);
    }
}

/// An open term of a [`LeaderQueue`]; dropping it ends the term.
pub struct QueueTerm<T> {
    id: u64,
    queue: WorkQueue<T>,
    end: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl<T> fmt::Debug for QueueTerm<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueTerm").field("id", &self.id).field("queue", &self.queue).finish()
    }
}

impl<T> QueueTerm<T> {
    /// This term's queue.
    pub fn queue(&self) -> &WorkQueue<T> {
        &self.queue
    }
}

impl<T> Drop for QueueTerm<T> {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            end();
        }
    }
}

struct GatedEnqueue<T, F> {
    queue: LeaderQueue<T>,
    key_fn: F,
}

impl<K, T, F> EventHandler<K> for GatedEnqueue<T, F>
where
    K: Send + Sync + 'static,
    T: Clone + Eq + Hash + Send + Sync + 'static,
    F: Fn(&K) -> Option<T> + Send + Sync + 'static,
{
    fn on_add(&self, obj: &Arc<K>, is_in_initial_list: bool) {
        self.offer(obj, Priority::for_add(is_in_initial_list));
    }
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>) {
        self.offer(new, Priority::for_update(old, new));
    }
    fn on_delete(&self, obj: &Arc<K>, _: bool) {
        self.offer(obj, Priority::Normal);
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static, F> GatedEnqueue<T, F> {
    fn offer<K>(&self, obj: &K, priority: Priority)
    where
        F: Fn(&K) -> Option<T>,
    {
        // Cheap on followers: no key is computed when no term is open.
        if let Some((_, queue)) = &*self.queue.inner.current.read()
            && let Some(key) = (self.key_fn)(obj)
        {
            queue.add_with_priority(key, priority);
        }
    }
}

impl LeaderElector {
    /// Runs a [`Controller`] only while leading (warm standby): each term
    /// opens a fresh queue in `queue`, adds `initial()` (typically every key
    /// of an informer's synced cache: `move || lister.store().keys()`), runs
    /// `build(queue)` until the term ends, and starts over when leadership
    /// comes back. Informers feeding `queue` via [`LeaderQueue::handler`] run
    /// on every replica, so a new leader starts from a warm cache.
    pub async fn run_controller<S, T, F, Fut, E, I>(
        self,
        shutdown: S,
        queue: LeaderQueue<T>,
        initial: impl Fn() -> I + Send + Sync + 'static,
        build: impl Fn(WorkQueue<T>) -> Controller<T, F> + Send + Sync + 'static,
    ) where
        S: Future<Output = ()>,
        T: Clone + Eq + Hash + Send + Sync + fmt::Debug + 'static,
        I: IntoIterator<Item = T>,
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let (initial, build) = (Arc::new(initial), Arc::new(build));
        self.run(shutdown, move |leadership| {
            let (queue, initial, build) = (queue.clone(), initial.clone(), build.clone());
            async move { queue.run_controller(&leadership, || initial(), |q| build(q)).await }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::state::Shared;
    use std::time::Duration;
    use tokio::{sync::watch, time::Instant};

    #[test]
    fn followers_queue_nothing_and_a_term_starts_with_the_initial_keys() {
        let queue = LeaderQueue::<u32>::new();
        assert!(!queue.add(1), "no term: dropped");
        assert!(queue.current().is_none());
        let term = queue.begin_term(|| {
            // Installed before the initial keys are listed: an event racing
            // the listing is queued, not lost.
            assert!(queue.add(99));
            [1, 2, 3]
        });
        assert!(queue.add(4));
        assert_eq!(term.queue().len(), 5);
        let q = term.queue().clone();
        let next = queue.begin_term(Vec::new);
        drop(term);
        assert!(q.is_shutting_down(), "an ended term's queue is shut down");
        assert!(queue.current().is_some(), "ending a stale term leaves the new one alone");
        drop(next);
        assert!(queue.current().is_none());
        assert!(!queue.add(5));
    }

    #[tokio::test(start_paused = true)]
    async fn run_controller_reconciles_initial_keys_until_cancelled_then_closes_the_term() {
        let shared = Arc::new(Shared::new("me".into()));
        let term = shared.begin_term(Instant::now() + Duration::from_secs(10));
        let (cancel, cancelled) = watch::channel(false);
        let leadership = Leadership::new(shared, term, cancelled);
        let queue = LeaderQueue::<u32>::new();
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let run = tokio::spawn({
            let (queue, seen) = (queue.clone(), seen.clone());
            async move {
                queue
                    .run_controller(
                        &leadership,
                        || [1, 2],
                        move |q| {
                            Controller::new("t", q, move |k: u32| {
                                seen.lock().push(k);
                                async { Ok::<_, String>(Action::Done) }
                            })
                        },
                    )
                    .await;
            }
        });
        while seen.lock().len() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(queue.add(3));
        while seen.lock().len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cancel.send(true).unwrap();
        run.await.unwrap();
        assert!(queue.current().is_none(), "the term closed with the controller");
        let mut seen = seen.lock().clone();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
    }
}
