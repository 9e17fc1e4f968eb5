//! A deduplicating, delaying, rate-limited work queue with client-go's workqueue semantics.
//!
//! - An item added several times before a worker takes it is processed once.
//! - An item re-added while it is being processed is queued again only after
//!   [`WorkQueue::done`], so no item is ever processed by two workers at once.
//! - [`WorkQueue::add_after`] delays an item (the earliest pending time wins);
//!   [`WorkQueue::add_rate_limited`] delays by the [`RateLimiter`].

use std::{
    collections::{HashMap, HashSet, VecDeque},
    fmt::Debug,
    hash::Hash,
    sync::{Arc, Weak},
    time::Duration,
};

use parking_lot::Mutex;
use tokio::{sync::Notify, time::Instant};

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
        self.failures.lock().remove(item);
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

struct State<T> {
    queue: VecDeque<T>,
    dirty: HashSet<T>,
    processing: HashSet<T>,
    waiting: HashMap<T, Instant>,
    shutting_down: bool,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    /// Wakes `get` callers.
    items: Notify,
    /// Wakes `shutdown_with_drain` when processing becomes empty.
    idle: Notify,
    limiter: Box<dyn RateLimiter<T>>,
}

/// A work queue; clones share the same queue.
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
            .field("queued", &s.queue.len())
            .field("processing", &s.processing.len())
            .field("waiting", &s.waiting.len())
            .field("shutting_down", &s.shutting_down)
            .finish()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> Default for WorkQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// A queue with [`default_controller_rate_limiter`].
    pub fn new() -> Self {
        Self::with_rate_limiter(default_controller_rate_limiter())
    }

    /// A queue with a custom rate limiter.
    pub fn with_rate_limiter(limiter: impl RateLimiter<T> + 'static) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    waiting: HashMap::new(),
                    shutting_down: false,
                }),
                items: Notify::new(),
                idle: Notify::new(),
                limiter: Box::new(limiter),
            }),
        }
    }

    /// Queues `item` unless it is queued already (or the queue is shutting
    /// down); an item being processed is queued again after [`done`](Self::done).
    pub fn add(&self, item: T) {
        let mut s = self.inner.state.lock();
        if s.shutting_down || s.dirty.contains(&item) {
            return;
        }
        s.dirty.insert(item.clone());
        if s.processing.contains(&item) {
            return;
        }
        s.queue.push_back(item);
        drop(s);
        self.inner.items.notify_one();
    }

    /// Queues `item` after `delay` (at once when zero). If the item is
    /// already waiting, the earlier time wins. Needs a tokio runtime.
    pub fn add_after(&self, item: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(item);
        }
        let at = Instant::now() + delay;
        {
            let mut s = self.inner.state.lock();
            if s.shutting_down {
                return;
            }
            match s.waiting.get(&item) {
                Some(existing) if *existing <= at => return,
                _ => {
                    s.waiting.insert(item.clone(), at);
                }
            }
        }
        let weak: Weak<Inner<T>> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let Some(inner) = weak.upgrade() else { return };
            let queue = WorkQueue { inner };
            let due = {
                let mut s = queue.inner.state.lock();
                // Only the timer of the earliest pending time adds the item.
                if s.waiting.get(&item) == Some(&at) {
                    s.waiting.remove(&item);
                    true
                } else {
                    false
                }
            };
            if due {
                queue.add(item);
            }
        });
    }

    /// Queues `item` after the delay the rate limiter gives it.
    pub fn add_rate_limited(&self, item: T) {
        let delay = self.inner.limiter.when(&item);
        self.add_after(item, delay);
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
        loop {
            let notified = self.inner.items.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.inner.state.lock();
                if let Some(item) = s.queue.pop_front() {
                    s.dirty.remove(&item);
                    s.processing.insert(item.clone());
                    let more = !s.queue.is_empty();
                    drop(s);
                    if more {
                        // Pass the baton: a permit consumed by us may have been meant for another getter.
                        self.inner.items.notify_one();
                    }
                    return Some(item);
                }
                if s.shutting_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `item` as processed; if it was added meanwhile it is queued again.
    pub fn done(&self, item: &T) {
        let mut s = self.inner.state.lock();
        s.processing.remove(item);
        let requeue = s.dirty.contains(item);
        if requeue {
            s.queue.push_back(item.clone());
        }
        let idle = s.processing.is_empty();
        drop(s);
        if requeue {
            self.inner.items.notify_one();
        }
        if idle {
            self.inner.idle.notify_waiters();
        }
    }

    /// Number of queued items (not counting those processing or waiting).
    pub fn len(&self) -> usize {
        self.inner.state.lock().queue.len()
    }

    /// Whether no item is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of items being processed.
    pub fn processing(&self) -> usize {
        self.inner.state.lock().processing.len()
    }

    /// Stops accepting items; `get` hands out what is queued, then `None`.
    /// Delayed items not yet due are dropped.
    pub fn shutdown(&self) {
        let mut s = self.inner.state.lock();
        s.shutting_down = true;
        s.waiting.clear();
        drop(s);
        self.inner.items.notify_waiters();
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
            if self.inner.state.lock().processing.is_empty() {
                return;
            }
            idle.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue<&'static str> {
        WorkQueue::new()
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
}
