//! Benchmarks of the work queue, in memory (no control plane):
//!
//! 1. Priority: the time from a live update to its reconcile while an
//!    initial list of N objects (default 10,000) drains through a controller
//!    whose reconcile takes 100 µs (a busy wait, so the figure is not tokio's
//!    1 ms timer grain), two workers; with the runtime's
//!    `enqueue_object_keys` handler (initial list at low priority) and
//!    without priority (every event a plain `add`, the behaviour before
//!    priorities).
//! 2. Metrics: the cost of one add + get + done cycle, with and without
//!    `workqueue_*` metrics.
//!
//! ```sh
//! cargo bench -p bot-tests --bench queue            # N = 10000, 5 rounds
//! cargo bench -p bot-tests --bench queue -- 10000 9 # N, rounds
//! ```
//!
//! Results are written down in docs/benchmarks.md.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bot_runtime::{
    Action, Controller, EventHandler, HandlerFuncs, ObjectKey, WorkQueue, enqueue_object_keys,
    k8s_openapi::api::core::v1::ConfigMap,
};

const RECONCILE: Duration = Duration::from_micros(100);
const WORKERS: usize = 2;
const LIVE: &str = "live";

fn configmap(name: &str, rv: &str) -> Arc<ConfigMap> {
    let mut cm = ConfigMap::default();
    cm.metadata.namespace = Some("bench".into());
    cm.metadata.name = Some(name.into());
    cm.metadata.resource_version = Some(rv.into());
    Arc::new(cm)
}

/// What one round measured.
struct Round {
    /// From the live update to the start of its reconcile.
    live_latency: Duration,
    /// Items reconciled before the live one (after the live update).
    overtaken_by: usize,
    /// From the start to the last item reconciled.
    drain: Duration,
}

/// The handler an informer would call: the runtime's, or plain adds.
fn handler(queue: &WorkQueue<ObjectKey>, with_priority: bool) -> Box<dyn EventHandler<ConfigMap>> {
    if with_priority {
        return Box::new(enqueue_object_keys::<ConfigMap>(queue.clone()));
    }
    let key = |cm: &Arc<ConfigMap>| ObjectKey::from_object(cm.as_ref());
    let (q1, q2) = (queue.clone(), queue.clone());
    Box::new(
        HandlerFuncs::<ConfigMap>::new().on_add(move |cm, _| q1.add(key(cm))).on_update(move |_, new| q2.add(key(new))),
    )
}

async fn round(n: usize, with_priority: bool) -> Round {
    let queue = WorkQueue::<ObjectKey>::new();
    let handler = handler(&queue, with_priority);
    for i in 0..n {
        handler.on_add(&configmap(&format!("cm-{i:05}"), "1"), true); // the initial list
    }
    // (reconciled count, when the live one started, count at that time)
    let seen = Arc::new(Mutex::new((0usize, None::<(Instant, usize)>, Instant::now())));
    let controller = Controller::new("bench", queue.clone(), {
        let seen = seen.clone();
        move |key: ObjectKey| {
            let now = Instant::now();
            {
                let mut seen = seen.lock().unwrap();
                if key.name == LIVE {
                    seen.1 = Some((now, seen.0));
                }
                seen.0 += 1;
                seen.2 = now;
            }
            while now.elapsed() < RECONCILE {
                std::hint::spin_loop();
            }
            async { Ok::<_, std::convert::Infallible>(Action::Done) }
        }
    })
    .workers(WORKERS);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let start = Instant::now();
    let run = tokio::spawn(controller.run(async move {
        let _ = stopped.await;
    }));
    // Let a tenth of the backlog drain, then a live change arrives.
    while seen.lock().unwrap().0 < n / 10 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let updated = Instant::now();
    let before = seen.lock().unwrap().0;
    handler.on_update(&configmap(LIVE, "1"), &configmap(LIVE, "2"));
    while seen.lock().unwrap().0 < n + 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    stop.send(()).ok();
    run.await.expect("controller");
    let seen = seen.lock().unwrap();
    let (live_at, count_at) = seen.1.expect("the live key was reconciled");
    Round { live_latency: live_at - updated, overtaken_by: count_at - before, drain: seen.2 - start }
}

/// Time per add + get + done cycle over `n` items (all added, then all taken).
async fn queue_cycle(n: usize, metrics: bool) -> Duration {
    let mut registry = bot_runtime::metrics::prometheus_client::registry::Registry::default();
    let mut queue = WorkQueue::<u64>::new();
    if metrics {
        let m = bot_runtime::metrics::WorkQueueMetrics::register(&mut registry);
        queue = queue.with_metrics("bench", &m);
    }
    let start = Instant::now();
    for i in 0..n as u64 {
        queue.add(i);
    }
    for _ in 0..n {
        let i = queue.get().await.expect("queued");
        queue.done(&i);
    }
    start.elapsed() / u32::try_from(n).unwrap_or(u32::MAX)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS + 1).enable_all().build().expect("runtime");
    println!("backlog {n} (initial list), reconcile {RECONCILE:?} busy, {WORKERS} workers, {rounds} rounds");
    for with_priority in [true, false] {
        let results: Vec<Round> = (0..rounds).map(|_| runtime.block_on(round(n, with_priority))).collect();
        let latencies: Vec<Duration> = results.iter().map(|r| r.live_latency).collect();
        let (min, max) = (latencies.iter().min().unwrap(), latencies.iter().max().unwrap());
        let overtaken: Vec<usize> = results.iter().map(|r| r.overtaken_by).collect();
        println!(
            "{}: live update -> reconcile median {:.2?} (min {min:.2?}, max {max:.2?}); reconciles started in between {overtaken:?}; whole backlog drained in {:.2?} (median)",
            if with_priority { "with priority   " } else { "without priority" },
            median(latencies.clone()),
            median(results.iter().map(|r| r.drain).collect()),
        );
    }
    let cycles = 100_000;
    for metrics in [false, true] {
        let per_item: Vec<Duration> = (0..rounds).map(|_| runtime.block_on(queue_cycle(cycles, metrics))).collect();
        println!(
            "queue add + get + done, {cycles} items, {}: {} ns per item (median of {rounds})",
            if metrics { "with metrics   " } else { "without metrics" },
            median(per_item).as_nanos(),
        );
    }
}
