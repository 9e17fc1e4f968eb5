//! A deduplicating, delaying, rate-limited work queue with client-go's workqueue semantics.
//!
//! - An item added several times before a worker takes it is processed once.
//! - An item re-added while it is being processed is queued again only after
//!   [`WorkQueue::done`], so no item is ever processed by two workers at once.
//! - [`WorkQueue::add_after`] delays an item (the earliest pending time wins);
//!   [`WorkQueue::add_rate_limited`] delays by the [`RateLimiter`]; one timer
//!   task per queue serves every delayed item.
//! - [`Priority`]: higher priorities are handed out first
//!   ([`WorkQueue::add_with_priority`]); an item added again at a higher
//!   priority is promoted.
//! - Metrics: [`WorkQueue::with_metrics`] (client-go's `workqueue_*`).
//!
//! The hot path (docs/benchmarks.md, measured against client-go's
//! workqueue): each distinct item is stored once, in a slab of 64-byte slots
//! that are both client-go's dirty and processing sets, found through a
//! foldhash-keyed table of slot numbers; the priority lanes hold
//! `(slot, sequence)` pairs, not items. An item is hashed before the lock is
//! taken and cloned once, when a worker takes it ([`WorkQueue::add_ref`]
//! clones only an item the queue does not hold yet; an owned item is moved
//! in, or dropped after the lock is released). One waiting getter is woken
//! per item made available, none when no getter waits; `done` wakes no one
//! unless it re-queues the item or ends a draining shutdown.

use std::{
    collections::{BTreeMap, VecDeque},
    fmt::Debug,
    hash::{BuildHasher, Hash},
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

use hashbrown::{DefaultHashBuilder, Equivalent, HashMap, HashTable};
use parking_lot::Mutex;
use tokio::{sync::Notify, task::JoinHandle, time::Instant};

use crate::metrics::{QueueHandles, QueueProbe, WorkQueueMetrics};

/// Decides how long an item waits before it is retried.
pub trait RateLimiter<T>: Send + Sync {
    /// The delay for this attempt of `item` (records the attempt).
    fn when(&self, item: &T) -> Duration;
    /// Forgets the attempts of `item` (call after success).
    fn forget(&self, item: &T);
    /// How many attempts of `item` were recorded.
    fn num_requeues(&self, item: &T) -> u32;
}

/// Per-item exponential backoff: `base * 2^failures`, capped at `max`.
#[derive(Debug)]
pub struct ItemExponentialRateLimiter<T> {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<T, u32>>,
}

impl<T: Eq + Hash> ItemExponentialRateLimiter<T> {
    /// A limiter from `base` to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, failures: Mutex::new(HashMap::new()) }
    }
}

impl<T: Eq + Hash> Default for ItemExponentialRateLimiter<T> {
    /// 5 ms doubling up to 1000 s, as client-go's default.
    fn default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_secs(1000))
    }
}

impl<T: Eq + Hash + Clone + Send + Sync> RateLimiter<T> for ItemExponentialRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        let mut failures = self.failures.lock();
        let n = failures.entry(item.clone()).or_insert(0);
        let exp = *n;
        *n = n.saturating_add(1);
        let factor = 2u32.checked_pow(exp).unwrap_or(u32::MAX);
        self.base.checked_mul(factor).map_or(self.max, |d| d.min(self.max))
    }
    fn forget(&self, item: &T) {
        // Called after every successful reconcile: no hashing when nothing failed.
        let mut failures = self.failures.lock();
        if !failures.is_empty() {
            failures.remove(item);
        }
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.failures.lock().get(item).copied().unwrap_or(0)
    }
}

/// An overall token bucket: `qps` tokens per second, at most `burst` saved up.
#[derive(Debug)]
pub struct BucketRateLimiter {
    qps: f64,
    burst: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl BucketRateLimiter {
    /// A bucket refilled at `qps`, holding at most `burst` tokens (starts full).
    pub fn new(qps: f64, burst: u32) -> Self {
        Self { qps, burst: f64::from(burst), state: Mutex::new((f64::from(burst), None)) }
    }
}

impl Default for BucketRateLimiter {
    /// 10 qps, burst 100, as client-go's default.
    fn default() -> Self {
        Self::new(10.0, 100)
    }
}

impl<T> RateLimiter<T> for BucketRateLimiter {
    fn when(&self, _item: &T) -> Duration {
        let now = Instant::now();
        let mut state = self.state.lock();
        let (tokens, last) = &mut *state;
        if let Some(last) = *last {
            *tokens = (*tokens + now.duration_since(last).as_secs_f64() * self.qps).min(self.burst);
        }
        *last = Some(now);
        *tokens -= 1.0;
        if *tokens >= 0.0 || self.qps <= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-*tokens / self.qps) }
    }
    fn forget(&self, _item: &T) {}
    fn num_requeues(&self, _item: &T) -> u32 {
        0
    }
}

/// The longest delay of several limiters.
pub struct MaxOfRateLimiter<T> {
    limiters: Vec<Box<dyn RateLimiter<T>>>,
}

impl<T> Debug for MaxOfRateLimiter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxOfRateLimiter").field("limiters", &self.limiters.len()).finish()
    }
}

impl<T> MaxOfRateLimiter<T> {
    /// Combines `limiters`.
    pub fn new(limiters: Vec<Box<dyn RateLimiter<T>>>) -> Self {
        Self { limiters }
    }
}

impl<T> RateLimiter<T> for MaxOfRateLimiter<T> {
    fn when(&self, item: &T) -> Duration {
        self.limiters.iter().map(|l| l.when(item)).max().unwrap_or_default()
    }
    fn forget(&self, item: &T) {
        self.limiters.iter().for_each(|l| l.forget(item));
    }
    fn num_requeues(&self, item: &T) -> u32 {
        self.limiters.iter().map(|l| l.num_requeues(item)).max().unwrap_or(0)
    }
}

/// client-go's default: the max of per-item exponential (5 ms -> 1000 s) and
/// an overall bucket (10 qps, burst 100).
pub fn default_controller_rate_limiter<T: Eq + Hash + Clone + Send + Sync + 'static>() -> MaxOfRateLimiter<T> {
    MaxOfRateLimiter::new(vec![Box::new(ItemExponentialRateLimiter::default()), Box::new(BucketRateLimiter::default())])
}

/// How urgently an item should be processed: higher first, FIFO within a
/// priority (controller-runtime's priority queue).
///
/// Objects delivered by an initial list or a resync are queued [`Low`](Self::Low)
/// by [`enqueue_handler`](crate::enqueue_handler), so a live change is
/// reconciled before a backlog of thousands of unchanged objects. Lower
/// priorities are slowed, never starved: after 8 items of higher priorities
/// handed out while a lower one's items wait, one of those goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Background work: initial lists, resyncs.
    Low,
    /// Live changes; what [`WorkQueue::add`] uses.
    #[default]
    Normal,
    /// Ahead of live changes.
    High,
}

/// How many items of higher priorities may be handed out while a lower
/// priority's items wait before one of those is handed out (so a
/// backlog of live changes slows an initial list down to one item in 9, and
/// never stops it).
const PASSED_OVER_LIMIT: u32 = 8;

impl Priority {
    const ALL: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

    fn lane(self) -> usize {
        self as usize
    }
}

/// What [`State::add`] is given: an item, or something that compares equal
/// to one and builds it only when the queue does not hold it yet.
trait Candidate<T> {
    /// Whether `item` is this candidate.
    fn is(&self, item: &T) -> bool;
    /// The item, to store.
    fn into_item(self) -> T;
}

/// An owned item.
struct Owned<T>(T);

impl<T: Eq> Candidate<T> for Owned<T> {
    fn is(&self, item: &T) -> bool {
        self.0 == *item
    }
    fn into_item(self) -> T {
        self.0
    }
}

/// A borrowed item, cloned if stored.
struct Borrowed<'a, T>(&'a T);

impl<T: Eq + Clone> Candidate<T> for Borrowed<'_, T> {
    fn is(&self, item: &T) -> bool {
        self.0 == item
    }
    fn into_item(self) -> T {
        self.0.clone()
    }
}

/// A borrowed equivalent of an item, converted if stored.
struct Equivalently<'a, Q: ?Sized>(&'a Q);

impl<T, Q> Candidate<T> for Equivalently<'_, Q>
where
    Q: Equivalent<T> + ?Sized,
    for<'q> T: From<&'q Q>,
{
    fn is(&self, item: &T) -> bool {
        self.0.equivalent(item)
    }
    fn into_item(self) -> T {
        T::from(self.0)
    }
}

/// One distinct item the queue holds: queued, being processed, or both
/// (re-added while processing). Client-go's dirty and processing sets in one
/// slab, so the item is stored (and compared) once; 64 bytes for an
/// [`ObjectKey`](crate::ObjectKey), so a look-up touches one cache line
/// besides the item's own heap data.
struct Slot<T> {
    item: T,
    /// The sequence number of the live lane entry while queued.
    seq: u64,
    priority: Priority,
    /// Queued, or re-added while processing (client-go's dirty set).
    queued: bool,
    /// Handed out and not done yet (client-go's processing set).
    processing: bool,
}

/// When a slot's item was queued and taken; kept only when the queue has
/// metrics, beside the slots so that the hot path does not load them.
#[derive(Clone, Copy, Default)]
struct Times {
    added: Option<Instant>,
    started: Option<Instant>,
}

/// Items waiting for a delay, in one ordered structure served by one timer task.
struct Delayed<T> {
    by_time: BTreeMap<(Instant, u64), (T, Priority)>,
    by_item: HashMap<T, (Instant, u64)>,
}

struct State<T> {
    /// One FIFO per priority of `(slot, seq)`; an entry is live iff the
    /// slot is queued with that `seq` (promotions and slot reuse leave
    /// stale entries, skipped when taken).
    lanes: [VecDeque<(usize, u64)>; 3],
    /// The slots of the items, by hash.
    index: HashTable<usize>,
    /// `None`: free (listed in `free`).
    slots: Vec<Option<Slot<T>>>,
    /// Parallel to `slots`; written only when the queue has metrics.
    times: Vec<Times>,
    free: Vec<usize>,
    /// The queue's hasher, for growing `index`.
    hasher: DefaultHashBuilder,
    /// Per lane: items taken from higher lanes while this one held
    /// entries, since it was last served (the anti-starvation count).
    passed_over: [u32; 3],
    /// Live lane entries (the depth).
    queued: usize,
    /// Slots being processed.
    processing: usize,
    /// Getters waiting for an item.
    waiting: usize,
    next_seq: u64,
    delayed: Delayed<T>,
    timer: Option<JoinHandle<()>>,
    shutting_down: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// Hashes items before the state lock is taken (the same seed as `State::hasher`).
    hasher: DefaultHashBuilder,
    /// Wakes `get` callers.
    items: Notify,
    /// Wakes `shutdown_with_drain` when processing becomes empty.
    idle: Notify,
    /// Wakes the timer task (an earlier deadline, shutdown, or drop).
    timer_wake: Arc<Notify>,
    limiter: Box<dyn RateLimiter<T>>,
    metrics: OnceLock<QueueHandles>,
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        // The timer task holds only a weak reference: let it notice.
        self.timer_wake.notify_one();
    }
}

impl<T: Hash> Inner<T> {
    fn hash(&self, item: &T) -> u64 {
        self.hasher.hash_one(item)
    }

    /// Wakes up to `items` waiting getters (after the state lock is released).
    fn wake(&self, items: usize) {
        for _ in 0..items {
            self.items.notify_one();
        }
    }
}

impl<T: Clone + Eq + Hash> State<T> {
    fn new(hasher: DefaultHashBuilder) -> Self {
        Self {
            lanes: Default::default(),
            passed_over: [0; 3],
            index: HashTable::new(),
            slots: Vec::new(),
            times: Vec::new(),
            free: Vec::new(),
            hasher,
            queued: 0,
            processing: 0,
            waiting: 0,
            next_seq: 0,
            delayed: Delayed { by_time: BTreeMap::new(), by_item: HashMap::default() },
            timer: None,
            shutting_down: false,
        }
    }

    /// Queues `item` at `priority` (or promotes it); how many getters to
    /// wake, and `item` back unless it was stored (for the caller to drop
    /// after releasing the lock).
    fn add<C: Candidate<T>>(
        &mut self,
        hash: u64,
        item: C,
        priority: Priority,
        metrics: Option<&QueueHandles>,
    ) -> (usize, Option<C>) {
        if self.shutting_down {
            return (0, Some(item));
        }
        let seq = self.next_seq;
        // An add that is not a promotion: counted, and timed for the metrics.
        let counted = || {
            metrics.map(|m| {
                m.adds.inc();
                Instant::now()
            })
        };
        let slots = &self.slots;
        let found = self.index.find(hash, |&id| slots[id].as_ref().is_some_and(|s| item.is(&s.item))).copied();
        let Some(id) = found else {
            self.next_seq += 1;
            let slot = Slot { item: item.into_item(), seq, priority, queued: true, processing: false };
            let id = match self.free.pop() {
                Some(id) => {
                    self.slots[id] = Some(slot);
                    id
                }
                None => {
                    self.slots.push(Some(slot));
                    self.times.push(Times::default());
                    self.slots.len() - 1
                }
            };
            self.times[id] = Times { added: counted(), started: None };
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.index.insert_unique(hash, id, |&id| slots[id].as_ref().map_or(0, |s| hasher.hash_one(&s.item)));
            self.push_live(id, priority, seq, metrics);
            return (self.waiting.min(1), None);
        };
        let Some(slot) = self.slots[id].as_mut() else { return (0, Some(item)) };
        if !slot.queued {
            // Being processed: queued again after `done`.
            self.next_seq += 1;
            (slot.queued, slot.seq, slot.priority) = (true, seq, priority);
            self.times[id].added = counted();
        } else if slot.priority < priority {
            // Promote: the old lane entry goes stale. Still one item: the
            // getter woken for it, if any, takes it.
            self.next_seq += 1;
            (slot.seq, slot.priority) = (seq, priority);
            if !slot.processing {
                self.lanes[priority.lane()].push_back((id, seq));
            }
        }
        (0, Some(item))
    }

    fn push_live(&mut self, id: usize, priority: Priority, seq: u64, metrics: Option<&QueueHandles>) {
        self.lanes[priority.lane()].push_back((id, seq));
        self.queued += 1;
        if let Some(m) = metrics {
            m.depth.inc();
        }
    }

    /// The next live item, highest priority first, now marked processing;
    /// but a lane passed over [`PASSED_OVER_LIMIT`] times while it waited
    /// is served once, so that lower priorities are slowed, never starved.
    fn take(&mut self, metrics: Option<&QueueHandles>) -> Option<(T, Priority)> {
        for priority in Priority::ALL {
            if self.passed_over[priority.lane()] >= PASSED_OVER_LIMIT {
                self.passed_over[priority.lane()] = 0;
                if let Some(taken) = self.take_from(priority, metrics) {
                    return Some(taken);
                }
            }
        }
        for priority in Priority::ALL.into_iter().rev() {
            if let Some(taken) = self.take_from(priority, metrics) {
                for lower in Priority::ALL.into_iter().filter(|p| *p < priority) {
                    if self.lanes[lower.lane()].is_empty() {
                        self.passed_over[lower.lane()] = 0;
                    } else {
                        self.passed_over[lower.lane()] += 1;
                    }
                }
                return Some(taken);
            }
        }
        None
    }

    /// The next live item of `priority`'s lane, now marked processing.
    fn take_from(&mut self, priority: Priority, metrics: Option<&QueueHandles>) -> Option<(T, Priority)> {
        {
            while let Some((id, seq)) = self.lanes[priority.lane()].pop_front() {
                let Some(slot) = self.slots[id].as_mut().filter(|s| s.queued && s.seq == seq) else { continue };
                slot.queued = false;
                slot.processing = true;
                self.processing += 1;
                self.queued -= 1;
                if let Some(m) = metrics {
                    let now = Instant::now();
                    let times = &mut self.times[id];
                    times.started = Some(now);
                    m.depth.dec();
                    if let Some(added) = times.added.take() {
                        m.queue_duration.observe(now.duration_since(added).as_secs_f64());
                    }
                }
                return Some((slot.item.clone(), priority));
            }
        }
        None
    }

    /// Marks `item` processed (queued again if it was re-added); how many
    /// getters to wake, and the queue's copy of the item if it was let go
    /// (for the caller to drop after releasing the lock).
    fn done(&mut self, hash: u64, item: &T, metrics: Option<&QueueHandles>) -> (usize, Option<T>) {
        let slots = &self.slots;
        let found = self.index.find_entry(hash, |&id| slots[id].as_ref().is_some_and(|s| s.item == *item));
        let Ok(found) = found else { return (0, None) };
        let id = *found.get();
        let Some(slot) = self.slots[id].as_mut().filter(|s| s.processing) else { return (0, None) };
        slot.processing = false;
        self.processing -= 1;
        if let (Some(m), Some(started)) = (metrics, self.times[id].started.take()) {
            m.work_duration.observe(started.elapsed().as_secs_f64());
        }
        if slot.queued {
            let (priority, seq) = (slot.priority, slot.seq);
            self.push_live(id, priority, seq, metrics);
            return (self.waiting.min(1), None);
        }
        found.remove();
        self.free.push(id);
        (0, self.slots[id].take().map(|s| s.item))
    }

    /// Moves the delayed items due at `now` into the queue; how many getters to wake.
    fn release_due(&mut self, now: Instant, metrics: Option<&QueueHandles>) -> usize {
        let mut wake = 0;
        while let Some(entry) = self.delayed.by_time.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (item, priority) = entry.remove();
            self.delayed.by_item.remove(&item);
            let hash = self.hasher.hash_one(&item);
            wake += self.add(hash, Owned(item), priority, metrics).0;
        }
        wake.min(self.waiting)
    }

    /// Drops every queued item (and re-adds of items in flight); how many.
    fn discard_queued(&mut self) -> usize {
        let mut dropped = 0;
        let (slots, free) = (&mut self.slots, &mut self.free);
        self.index.retain(|&mut id| {
            let Some(slot) = slots[id].as_mut() else { return false };
            dropped += usize::from(slot.queued);
            slot.queued = false;
            if slot.processing {
                return true;
            }
            slots[id] = None;
            free.push(id);
            false
        });
        self.queued = 0;
        self.lanes = Default::default();
        dropped
    }
}

/// A work queue; clones share the same queue.
///
/// - An item added several times before a worker takes it is processed once;
///   added again at a higher [`Priority`] it moves up (never down).
/// - An item re-added while it is being processed is queued again only after
///   [`done`](Self::done), so no item is ever processed by two workers at once.
/// - Delayed adds ([`add_after`](Self::add_after),
///   [`add_rate_limited`](Self::add_rate_limited)) wait in one ordered map
///   served by one timer task per queue (not a task per item).
pub struct WorkQueue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for WorkQueue<T> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<T> Debug for WorkQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.state.lock();
        f.debug_struct("WorkQueue")
            .field("queued", &s.queued)
            .field("processing", &s.processing)
            .field("waiting", &s.delayed.by_item.len())
            .field("shutting_down", &s.shutting_down)
            .finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + Sync> QueueProbe for Inner<T> {
    fn in_flight_seconds(&self) -> (f64, f64) {
        let now = Instant::now();
        let s = self.state.lock();
        s.slots
            .iter()
            .zip(&s.times)
            .filter_map(|(slot, times)| times.started.filter(|_| slot.as_ref().is_some_and(|s| s.processing)))
            .map(|start| now.duration_since(start).as_secs_f64())
            .fold((0.0, 0.0), |(sum, max), d| (sum + d, f64::max(max, d)))
    }
}

/// A getter counted in [`State::waiting`]; uncounted when dropped (a
/// cancelled `get`).
struct Waiting<'a, T> {
    inner: &'a Inner<T>,
    counted: bool,
}

impl<T> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        if self.counted {
            self.inner.state.lock().waiting -= 1;
        }
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// A queue with [`default_controller_rate_limiter`].
    pub fn new() -> Self {
        Self::with_rate_limiter(default_controller_rate_limiter())
    }

    /// A queue with a custom rate limiter.
    pub fn with_rate_limiter(limiter: impl RateLimiter<T> + 'static) -> Self {
        let hasher = DefaultHashBuilder::default();
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::new(hasher.clone())),
                hasher,
                items: Notify::new(),
                idle: Notify::new(),
                timer_wake: Arc::new(Notify::new()),
                limiter: Box::new(limiter),
                metrics: OnceLock::new(),
            }),
        }
    }

    /// Publishes this queue's `workqueue_*` metrics as `name` (client-go's
    /// queue name; give each queue its own). Once per queue: a second call
    /// is ignored. `metrics`: a [`WorkQueueMetrics`] or a
    /// [`RuntimeMetrics`](crate::metrics::RuntimeMetrics).
    #[must_use]
    pub fn with_metrics(self, name: impl Into<String>, metrics: impl AsRef<WorkQueueMetrics>) -> Self {
        let name = name.into();
        if self.inner.metrics.get().is_some() {
            tracing::warn!(queue = %name, "this work queue already has metrics; ignored");
            return self;
        }
        let inner: Arc<dyn QueueProbe> = self.inner.clone();
        let handles = metrics.as_ref().queue(&name, Arc::downgrade(&inner));
        drop(inner);
        // Under the state lock, where every depth change happens: items
        // queued before now are counted once.
        let state = self.inner.state.lock();
        if self.inner.metrics.set(handles.clone()).is_ok() {
            handles.depth.inc_by(i64::try_from(state.queued).unwrap_or(i64::MAX));
        }
        drop(state);
        self
    }

    fn metrics(&self) -> Option<&QueueHandles> {
        self.inner.metrics.get()
    }

    /// Queues `item` at [`Priority::Normal`]; see [`add_with_priority`](Self::add_with_priority).
    pub fn add(&self, item: T) {
        self.add_with_priority(item, Priority::Normal);
    }

    /// Queues `item` at `priority` unless it is queued already at that
    /// priority or higher (an item queued lower is promoted), or the queue
    /// is shutting down. An item being processed is queued again after
    /// [`done`](Self::done), at the highest priority it was added with.
    pub fn add_with_priority(&self, item: T, priority: Priority) {
        let hash = self.inner.hash(&item);
        let (wake, unused) = self.inner.state.lock().add(hash, Owned(item), priority, self.metrics());
        drop(unused);
        self.inner.wake(wake);
    }

    /// As [`add`](Self::add), for a caller that keeps its item: `item` is
    /// cloned only if the queue does not hold it yet, so adding an item that
    /// is already queued or being processed allocates nothing.
    pub fn add_ref(&self, item: &T) {
        self.add_ref_with_priority(item, Priority::Normal);
    }

    /// As [`add_with_priority`](Self::add_with_priority), cloning `item` only
    /// if the queue does not hold it yet (see [`add_ref`](Self::add_ref)).
    pub fn add_ref_with_priority(&self, item: &T, priority: Priority) {
        let hash = self.inner.hash(item);
        let (wake, _) = self.inner.state.lock().add(hash, Borrowed(item), priority, self.metrics());
        self.inner.wake(wake);
    }

    /// As [`add_ref_with_priority`](Self::add_ref_with_priority), for a
    /// borrowed form of the item (hashing like it, see
    /// [`hashbrown::Equivalent`]): the item is built only if the queue does
    /// not hold it yet. [`enqueue_object_keys`](crate::enqueue_object_keys)
    /// adds an object's [`ObjectKeyRef`](crate::store::ObjectKeyRef) this
    /// way, so an event for an already queued object allocates nothing.
    pub fn add_equivalent<Q>(&self, item: &Q, priority: Priority)
    where
        Q: Hash + Equivalent<T> + ?Sized,
        for<'q> T: From<&'q Q>,
    {
        let hash = self.inner.hasher.hash_one(item);
        let (wake, _) = self.inner.state.lock().add(hash, Equivalently(item), priority, self.metrics());
        self.inner.wake(wake);
    }

    /// Queues `item` at [`Priority::Normal`] after `delay`; see
    /// [`add_after_with_priority`](Self::add_after_with_priority).
    pub fn add_after(&self, item: T, delay: Duration) {
        self.add_after_with_priority(item, delay, Priority::Normal);
    }

    /// Queues `item` at `priority` after `delay` (at once when zero). If the
    /// item is already waiting, the earlier time wins (and the higher
    /// priority). Delayed items wait in one ordered map; one timer task per
    /// queue (started on the first delayed add, so this needs a tokio
    /// runtime) moves them in when due.
    pub fn add_after_with_priority(&self, item: T, delay: Duration, priority: Priority) {
        if delay.is_zero() {
            return self.add_with_priority(item, priority);
        }
        let at = Instant::now() + delay;
        let mut s = self.inner.state.lock();
        if s.shutting_down {
            return;
        }
        let seq = s.next_seq;
        s.next_seq += 1;
        let earliest = s.delayed.by_time.first_key_value().map(|(k, _)| k.0);
        let delayed = &mut s.delayed;
        if let Some(&existing) = delayed.by_item.get(&item) {
            if existing.0 <= at {
                let queued = delayed.by_time.get_mut(&existing).expect("both maps hold the item");
                queued.1 = queued.1.max(priority);
                return;
            }
            delayed.by_time.remove(&existing);
        }
        delayed.by_item.insert(item.clone(), (at, seq));
        delayed.by_time.insert((at, seq), (item, priority));
        self.ensure_timer(&mut s);
        drop(s);
        if earliest.is_none_or(|e| at < e) {
            self.inner.timer_wake.notify_one();
        }
    }

    /// Starts the timer task unless it runs.
    fn ensure_timer(&self, s: &mut State<T>) {
        if s.timer.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let (weak, wake) = (Arc::downgrade(&self.inner), self.inner.timer_wake.clone());
        s.timer = Some(tokio::spawn(run_timer(weak, wake)));
    }

    /// Queues `item` after the delay the rate limiter gives it (counted in
    /// `workqueue_retries_total`).
    pub fn add_rate_limited(&self, item: T) {
        self.add_rate_limited_with_priority(item, Priority::Normal);
    }

    /// As [`add_rate_limited`](Self::add_rate_limited), at `priority`.
    pub fn add_rate_limited_with_priority(&self, item: T, priority: Priority) {
        if let Some(m) = self.metrics() {
            m.retries.inc();
        }
        let delay = self.inner.limiter.when(&item);
        self.add_after_with_priority(item, delay, priority);
    }

    /// Clears the rate limiter's history of `item` (call on success).
    pub fn forget(&self, item: &T) {
        self.inner.limiter.forget(item);
    }

    /// How many times `item` was rate-limited since it was last forgotten.
    pub fn num_requeues(&self, item: &T) -> u32 {
        self.inner.limiter.num_requeues(item)
    }

    /// Takes the next item, waiting for one; `None` once the queue is shut
    /// down and empty. Call [`done`](Self::done) when finished with it.
    pub async fn get(&self) -> Option<T> {
        self.get_with_priority().await.map(|(item, _)| item)
    }

    /// As [`get`](Self::get), with the priority the item was queued at.
    pub async fn get_with_priority(&self) -> Option<(T, Priority)> {
        // An item is queued: one lock, no waiter registered.
        {
            let mut s = self.inner.state.lock();
            if let Some(taken) = s.take(self.metrics()) {
                return Some(taken);
            }
            if s.shutting_down {
                return None;
            }
        }
        let mut waiting = Waiting { inner: &self.inner, counted: false };
        loop {
            // Registered before the state is checked, so an add after the
            // check wakes this getter (every add that makes an item
            // available while a getter is counted wakes one).
            let notified = self.inner.items.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.inner.state.lock();
                if waiting.counted {
                    s.waiting -= 1;
                    waiting.counted = false;
                }
                if let Some(taken) = s.take(self.metrics()) {
                    return Some(taken);
                }
                if s.shutting_down {
                    return None;
                }
                s.waiting += 1;
                waiting.counted = true;
            }
            notified.await;
        }
    }

    /// Marks `item` as processed; if it was added meanwhile it is queued
    /// again. An item not being processed is ignored.
    pub fn done(&self, item: &T) {
        let hash = self.inner.hash(item);
        let mut s = self.inner.state.lock();
        let (wake, released) = s.done(hash, item, self.metrics());
        // Only a draining shutdown waits for the last item.
        let idle = s.shutting_down && s.processing == 0;
        drop(s);
        drop(released);
        self.inner.wake(wake);
        if idle {
            self.inner.idle.notify_waiters();
        }
    }

    /// Number of queued items (not counting those processing or waiting).
    pub fn len(&self) -> usize {
        self.inner.state.lock().queued
    }

    /// Whether no item is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of items being processed.
    pub fn processing(&self) -> usize {
        self.inner.state.lock().processing
    }

    /// Number of items waiting for a delay.
    pub fn waiting(&self) -> usize {
        self.inner.state.lock().delayed.by_item.len()
    }

    /// Stops accepting items; `get` hands out what is queued, then `None`.
    /// Delayed items not yet due are dropped.
    pub fn shutdown(&self) {
        let mut s = self.inner.state.lock();
        s.shutting_down = true;
        s.delayed.by_time.clear();
        s.delayed.by_item.clear();
        drop(s);
        self.inner.items.notify_waiters();
        self.inner.timer_wake.notify_one();
    }

    /// Stops accepting items and drops every queued one (and the delayed
    /// ones, and re-adds of items in flight); `get` returns `None` at once.
    /// Items in flight are unaffected ([`done`](Self::done) still applies).
    /// Returns how many queued items were dropped.
    pub fn shutdown_discarding(&self) -> usize {
        let mut s = self.inner.state.lock();
        s.shutting_down = true;
        if let Some(m) = self.metrics() {
            m.depth.dec_by(i64::try_from(s.queued).unwrap_or(i64::MAX));
        }
        let dropped = s.discard_queued();
        s.delayed.by_time.clear();
        s.delayed.by_item.clear();
        drop(s);
        self.inner.items.notify_waiters();
        self.inner.timer_wake.notify_one();
        dropped
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.state.lock().shutting_down
    }

    /// Shuts down, then waits until no item is being processed.
    pub async fn shutdown_with_drain(&self) {
        self.shutdown();
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.inner.state.lock().processing == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// The timer task of a queue: moves due delayed items into the queue,
/// sleeps until the next deadline or a wake-up, and ends when the queue is
/// shut down or dropped.
async fn run_timer<T: Clone + Eq + Hash + Send + Sync + 'static>(queue: Weak<Inner<T>>, wake: Arc<Notify>) {
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = {
            let Some(inner) = queue.upgrade() else { return };
            let mut s = inner.state.lock();
            if s.shutting_down {
                return;
            }
            let wake = s.release_due(Instant::now(), inner.metrics.get());
            let next = s.delayed.by_time.first_key_value().map(|(k, _)| k.0);
            drop(s);
            inner.wake(wake);
            next
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = &mut notified => {}
                }
            }
            None => notified.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new()
    }

    #[test]
    fn a_slot_of_an_object_key_fits_a_cache_line() {
        assert!(size_of::<Option<Slot<crate::ObjectKey>>>() <= 64);
    }

    /// An item that counts its clones.
    #[derive(Debug)]
    struct Counted(u32, Arc<std::sync::atomic::AtomicUsize>);

    impl Clone for Counted {
        fn clone(&self) -> Self {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Self(self.0, self.1.clone())
        }
    }
    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Counted {}
    impl Hash for Counted {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }

    #[tokio::test]
    async fn an_item_is_cloned_once_per_hand_out_and_add_ref_clones_only_new_items() {
        let clones = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cloned = || clones.load(std::sync::atomic::Ordering::SeqCst);
        let (a, b) = (Counted(1, clones.clone()), Counted(2, clones.clone()));
        let q = WorkQueue::<Counted>::new();
        q.add_ref(&a);
        assert_eq!(cloned(), 1, "a new item is cloned into the queue");
        q.add_ref(&a);
        q.add_ref_with_priority(&a, Priority::High);
        assert_eq!(cloned(), 1, "a queued one is not");
        q.add(b);
        assert_eq!(cloned(), 1, "an owned item is moved in");
        let taken = q.get().await.unwrap();
        assert_eq!((taken.0, cloned()), (1, 2), "one clone to hand it out");
        q.add_ref(&a);
        assert_eq!(cloned(), 2, "nor one being processed");
        q.done(&taken);
        assert_eq!(cloned(), 2, "done clones nothing");
        let taken = q.get().await.unwrap();
        assert_eq!((taken.0, cloned()), (2, 3));
        q.done(&taken);
        assert_eq!(q.get().await.map(|i| i.0), Some(1), "re-queued after done");
        assert_eq!(cloned(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn many_adders_and_getters_some_cancelled_leave_nothing_behind() {
        const KEYS: u32 = 2_000;
        let q = WorkQueue::<u32>::new();
        // Per key: times processed, and whether a worker has it now.
        let seen = Arc::new(Mutex::new(vec![(0u32, false); KEYS as usize]));
        let adding = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut workers = Vec::new();
        for w in 0..6 {
            let (q, seen, adding) = (q.clone(), seen.clone(), adding.clone());
            workers.push(tokio::spawn(async move {
                loop {
                    // Two workers give up waiting now and then (a cancelled
                    // get), and stop once the adds are over: the last items
                    // must wake the others.
                    let item = if w < 4 {
                        q.get().await
                    } else if !adding.load(std::sync::atomic::Ordering::SeqCst) {
                        return;
                    } else {
                        match tokio::time::timeout(Duration::from_micros(50), q.get()).await {
                            Ok(item) => item,
                            Err(_) => continue,
                        }
                    };
                    let Some(item) = item else { return };
                    {
                        let mut seen = seen.lock();
                        let slot = &mut seen[item as usize];
                        assert!(!slot.1, "{item} handed to two workers at once");
                        *slot = (slot.0 + 1, true);
                    }
                    tokio::task::yield_now().await;
                    seen.lock()[item as usize].1 = false;
                    q.done(&item);
                }
            }));
        }
        let mut adders = Vec::new();
        for p in 0..4u32 {
            let q = q.clone();
            adders.push(tokio::spawn(async move {
                for j in 0..20_000u32 {
                    let key = (j * 7 + p * 500) % KEYS;
                    if j % 3 == 0 {
                        q.add(key)
                    } else {
                        q.add_ref(&key)
                    }
                    if j % 64 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for a in adders {
            a.await.unwrap();
        }
        adding.store(false, std::sync::atomic::Ordering::SeqCst);
        // The last adds, while every worker may be asleep.
        tokio::time::sleep(Duration::from_millis(20)).await;
        for key in 0..KEYS {
            q.add(key);
        }
        tokio::time::timeout(Duration::from_secs(20), async {
            while !(q.is_empty() && q.processing() == 0) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("every queued item is taken: no getter sleeps while items wait");
        assert!(seen.lock().iter().all(|&(n, busy)| n > 1 && !busy), "every key, again after the last adds");
        q.shutdown();
        for w in workers {
            tokio::time::timeout(Duration::from_secs(5), w).await.expect("workers end on shutdown").unwrap();
        }
        assert_eq!(q.inner.state.lock().waiting, 0, "no getter left counted");
    }

    #[tokio::test]
    async fn dedups_items_added_before_processing() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn re_add_while_processing_waits_for_done() {
        let q = queue();
        q.add("a");
        let item = q.get().await.unwrap();
        q.add("a");
        q.add("a");
        assert_eq!(q.len(), 0, "not handed to a second worker while processing");
        q.done(&item);
        assert_eq!(q.len(), 1, "queued again once after done");
        assert_eq!(q.get().await, Some("a"));
        q.done(&"a");
        assert_eq!(q.len(), 0);
        assert_eq!(q.processing(), 0);
    }

    #[tokio::test]
    async fn get_waits_for_an_add() {
        let q = queue();
        let getter = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.add("x");
        assert_eq!(getter.await.unwrap(), Some("x"));
    }

    #[tokio::test]
    async fn shutdown_hands_out_queued_items_then_none() {
        let q = queue();
        q.add("a");
        q.shutdown();
        q.add("b");
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, None);
        let waiting = tokio::spawn({
            let q = queue();
            let q2 = q.clone();
            async move {
                let h = tokio::spawn(async move { q2.get().await });
                tokio::task::yield_now().await;
                q.shutdown();
                h.await.unwrap()
            }
        });
        assert_eq!(waiting.await.unwrap(), None, "a blocked get is woken by shutdown");
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_delays_and_keeps_the_earliest_time() {
        let q = queue();
        q.add_after("a", Duration::from_secs(10));
        q.add_after("a", Duration::from_secs(5));
        q.add_after("a", Duration::from_secs(20));
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(q.len(), 0);
        let start = Instant::now();
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(1), "due at 5 s");
        q.done(&"a");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(q.len(), 0, "later timers of the same item do not add it again");
    }

    #[tokio::test(start_paused = true)]
    async fn add_rate_limited_backs_off_and_forget_resets() {
        let q: WorkQueue<&str> = WorkQueue::with_rate_limiter(ItemExponentialRateLimiter::new(
            Duration::from_secs(1),
            Duration::from_secs(3),
        ));
        for expected in [1, 2, 3, 3] {
            let start = Instant::now();
            q.add_rate_limited("a");
            assert_eq!(q.get().await, Some("a"));
            assert_eq!(start.elapsed(), Duration::from_secs(expected));
            q.done(&"a");
        }
        assert_eq!(q.num_requeues(&"a"), 4);
        q.forget(&"a");
        assert_eq!(q.num_requeues(&"a"), 0);
    }

    #[test]
    fn item_exponential_limiter() {
        let l = ItemExponentialRateLimiter::default();
        let delays: Vec<_> = (0..4).map(|_| l.when(&"a")).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis));
        assert_eq!(l.when(&"b"), Duration::from_millis(5), "per item");
        for _ in 0..100 {
            l.when(&"a");
        }
        assert_eq!(l.when(&"a"), Duration::from_secs(1000), "capped, no overflow");
        l.forget(&"a");
        assert_eq!(l.when(&"a"), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn bucket_limiter_allows_burst_then_paces() {
        let l = BucketRateLimiter::new(10.0, 3);
        let delays: Vec<_> = (0..5).map(|_| RateLimiter::<()>::when(&l, &())).collect();
        assert_eq!(delays[..3], [Duration::ZERO; 3]);
        assert_eq!(delays[3], Duration::from_millis(100));
        assert_eq!(delays[4], Duration::from_millis(200));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(RateLimiter::<()>::when(&l, &()), Duration::ZERO, "refilled");
    }

    #[test]
    fn max_of_takes_the_longest() {
        let l = MaxOfRateLimiter::new(vec![
            Box::new(ItemExponentialRateLimiter::new(Duration::from_millis(1), Duration::from_secs(1))),
            Box::new(ItemExponentialRateLimiter::new(Duration::from_millis(3), Duration::from_secs(1))),
        ]);
        assert_eq!(l.when(&"a"), Duration::from_millis(3));
        assert_eq!(l.when(&"a"), Duration::from_millis(6));
        assert_eq!(l.num_requeues(&"a"), 2);
        l.forget(&"a");
        assert_eq!(l.num_requeues(&"a"), 0);
    }

    #[tokio::test]
    async fn shutdown_with_drain_waits_for_in_flight_items() {
        let q = queue();
        q.add("a");
        let item = q.get().await.unwrap();
        let drained = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let drain = tokio::spawn({
            let (q, drained) = (q.clone(), drained.clone());
            async move {
                q.shutdown_with_drain().await;
                drained.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!drained.load(std::sync::atomic::Ordering::SeqCst), "still processing");
        q.done(&item);
        drain.await.unwrap();
        assert!(drained.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(q.get().await, None);
    }
    #[tokio::test]
    async fn a_borrowed_key_finds_the_queued_one() {
        use crate::store::{ObjectKey, ObjectKeyRef};
        let q = WorkQueue::new();
        q.add_with_priority(ObjectKey::new(Some("a"), "x"), Priority::Low);
        q.add_equivalent(&ObjectKeyRef::new(Some("a"), "x"), Priority::High);
        assert_eq!(q.len(), 1, "the same item");
        q.add_equivalent(&ObjectKeyRef::new(None, "x"), Priority::Normal);
        assert_eq!(q.len(), 2, "another namespace, another item");
        assert_eq!(q.get_with_priority().await, Some((ObjectKey::new(Some("a"), "x"), Priority::High)), "promoted");
        assert_eq!(q.get_with_priority().await, Some((ObjectKey::new(None, "x"), Priority::Normal)));
    }

    #[tokio::test]
    async fn lower_priorities_are_slowed_never_starved() {
        let q = WorkQueue::new();
        for i in 0..3 {
            q.add_with_priority(format!("low-{i}"), Priority::Low);
        }
        for i in 0..20 {
            q.add(format!("live-{i}"));
        }
        let mut order = Vec::new();
        while !q.is_empty() {
            let item = q.get().await.expect("queued");
            q.done(&item);
            order.push(item);
        }
        let lows: Vec<usize> = order.iter().enumerate().filter(|(_, i)| i.starts_with("low")).map(|(n, _)| n).collect();
        assert_eq!(lows, [8, 17, 22], "{order:?}");
        assert_eq!(order[..8], (0..8).map(|i| format!("live-{i}")).collect::<Vec<_>>()[..], "live first");
    }

    #[tokio::test]
    async fn higher_priorities_first_fifo_within_and_promotion() {
        let q = queue();
        q.add_with_priority("low-1", Priority::Low);
        q.add_with_priority("low-2", Priority::Low);
        q.add_with_priority("low-3", Priority::Low);
        q.add("normal-1");
        q.add_with_priority("high", Priority::High);
        q.add("low-2"); // promoted
        q.add_with_priority("normal-1", Priority::Low); // never demoted
        assert_eq!(q.len(), 5, "a promotion is not a second item");
        let mut order = Vec::new();
        while let Some((item, priority)) = q.inner.state.lock().take(None) {
            order.push((item, priority));
        }
        assert_eq!(
            order,
            [
                ("high", Priority::High),
                ("normal-1", Priority::Normal),
                ("low-2", Priority::Normal),
                ("low-1", Priority::Low),
                ("low-3", Priority::Low),
            ]
        );
        assert_eq!(q.len(), 0);
    }

    #[tokio::test]
    async fn a_re_add_while_processing_keeps_its_highest_priority() {
        let q = queue();
        q.add_with_priority("a", Priority::Low);
        q.add_with_priority("b", Priority::Low);
        let (item, _) = q.get_with_priority().await.unwrap();
        assert_eq!(item, "a");
        q.add_with_priority("a", Priority::Low);
        q.add("a");
        q.done(&"a");
        assert_eq!(q.get_with_priority().await, Some(("a", Priority::Normal)), "ahead of b");
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_items_come_due_in_time_order_with_one_timer() {
        let q = WorkQueue::<u32>::new();
        for i in (0..1000u32).rev() {
            q.add_after(i, Duration::from_millis(u64::from(i) + 1));
        }
        assert_eq!(q.waiting(), 1000);
        assert_eq!(q.len(), 0);
        let start = Instant::now();
        for i in 0..1000u32 {
            assert_eq!(q.get().await, Some(i));
            assert_eq!(start.elapsed(), Duration::from_millis(u64::from(i) + 1));
            q.done(&i);
        }
        assert_eq!(q.waiting(), 0);
        // An earlier deadline added while the timer sleeps on a later one wakes it.
        q.add_after(1, Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        q.add_after(2, Duration::from_secs(1));
        assert_eq!(q.get().await, Some(2));
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_add_keeps_the_higher_priority() {
        let q = queue();
        q.add_after_with_priority("a", Duration::from_secs(1), Priority::Low);
        q.add_after_with_priority("a", Duration::from_secs(2), Priority::High);
        q.add_with_priority("b", Priority::Normal);
        while q.len() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(q.get_with_priority().await, Some(("a", Priority::High)), "due after 1 s, at the higher priority");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_discarding_drops_queued_delayed_and_re_added_items() {
        let q = queue();
        q.add("a");
        q.add("b");
        q.add("c");
        q.add_after("d", Duration::from_secs(1));
        let a = q.get().await.unwrap();
        q.add("a"); // re-added while processing
        assert_eq!(q.shutdown_discarding(), 3, "b, c and the re-add of a");
        assert_eq!(q.get().await, None, "nothing handed out after");
        q.done(&a);
        assert_eq!(q.len(), 0, "the re-add was dropped");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 0, "the delayed item was dropped");
        assert_eq!(q.processing(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_queue_ends_its_timer_task() {
        let q = queue();
        q.add_after("a", Duration::from_secs(3600));
        let timer = q.inner.state.lock().timer.take().unwrap();
        drop(q);
        tokio::time::timeout(Duration::from_secs(1), timer).await.expect("the timer task ends").unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn metrics_follow_adds_gets_retries_and_work() {
        use crate::metrics::{WorkQueueMetrics, test_util::value};
        let mut registry = prometheus_client::registry::Registry::default();
        let metrics = WorkQueueMetrics::register(&mut registry);
        let q = queue();
        q.add("early"); // before the metrics: counted in the depth, not in the adds
        let q = q.with_metrics("test", &metrics);
        q.add("a");
        q.add("a");
        q.add_with_priority("a", Priority::High); // a promotion is not an add
        let v = |series: &str| value(&registry, series).unwrap_or_else(|| panic!("{series} missing"));
        assert_eq!(v("workqueue_depth{name=\"test\"}"), 2.0);
        assert_eq!(v("workqueue_adds_total{name=\"test\"}"), 1.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let a = q.get().await.unwrap();
        assert_eq!(a, "a");
        assert_eq!(v("workqueue_depth{name=\"test\"}"), 1.0);
        assert_eq!(v("workqueue_queue_duration_seconds_count{name=\"test\"}"), 1.0);
        assert!((v("workqueue_queue_duration_seconds_sum{name=\"test\"}") - 0.02).abs() < 1e-9);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!((v("workqueue_unfinished_work_seconds{name=\"test\"}") - 0.5).abs() < 1e-9);
        assert!((v("workqueue_longest_running_processor_seconds{name=\"test\"}") - 0.5).abs() < 1e-9);
        q.add_rate_limited(a);
        q.done(&a);
        assert_eq!(v("workqueue_work_duration_seconds_count{name=\"test\"}"), 1.0);
        assert_eq!(v("workqueue_unfinished_work_seconds{name=\"test\"}"), 0.0);
        assert_eq!(v("workqueue_retries_total{name=\"test\"}"), 1.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(v("workqueue_adds_total{name=\"test\"}"), 2.0, "the retry came due");
        assert_eq!(q.shutdown_discarding(), 2);
        assert_eq!(v("workqueue_depth{name=\"test\"}"), 0.0);
        drop(q);
        assert!(value(&registry, "workqueue_unfinished_work_seconds{name=\"test\"}").is_none(), "gone with the queue");
    }
}
