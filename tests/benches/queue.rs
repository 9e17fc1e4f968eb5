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
//! 3. Hot path, against client-go's workqueue in the same run: 1,000,000
//!    adds over 10,000 distinct keys from 4 producer threads while 4 worker
//!    threads loop get + done (wall time until the queue is shut down and
//!    drained); the cost of adding a key that is already queued; the cost of
//!    one add + get + done cycle. With `ObjectKey`s (and `String`s for
//!    reference), each added as `add(key.clone())` and as `add_ref(&key)`.
//!    The Go side is `tests/testenv/bench/workqueue` (built by
//!    `make bench-queue`; path from `WORKQUEUE_BENCH_GO`, default
//!    `target/testenv/workqueue-bench`), run one round before each Rust
//!    round; a ratio is the median of the per-round ratios, so both sides of
//!    it saw about the same machine load.
//!
//! ```sh
//! cargo bench -p bot-tests --bench queue                     # N = 10000, 5 rounds, every section
//! cargo bench -p bot-tests --bench queue -- 10000 9          # N, rounds
//! cargo bench -p bot-tests --bench queue -- 10000 9 hot-path # one section: priority, metrics or hot-path
//! make bench-queue                                           # builds the Go side, then the above
//! ```
//!
//! Results are written down in docs/benchmarks.md.

use std::{
    collections::HashMap,
    hash::Hash,
    path::{Path, PathBuf},
    process::Command,
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

const HOT_KEYS: usize = 10_000;
const HOT_ADDS: usize = 1_000_000;
const PRODUCERS: usize = 4;
const HOT_WORKERS: usize = 4;

/// `ns-N/cm-NNNNN`, 10 namespaces (the Go side's keys).
fn object_keys() -> Vec<ObjectKey> {
    (0..HOT_KEYS).map(|i| ObjectKey::new(Some(&format!("ns-{}", i % 10)), format!("cm-{i:05}"))).collect()
}

fn string_keys() -> Vec<String> {
    object_keys().iter().map(ToString::to_string).collect()
}

/// How a caller hands a key it holds to the queue.
#[derive(Clone, Copy, PartialEq)]
enum Add {
    /// `add(key.clone())`: the caller's clone (and, for a duplicate, its free) counted in.
    Owned,
    /// `add_ref(&key)`: cloned by the queue only when not queued yet.
    Borrowed,
}

impl Add {
    fn name(self) -> &'static str {
        match self {
            Add::Owned => "add(key.clone())",
            Add::Borrowed => "add_ref(&key)",
        }
    }

    fn call<T: Clone + Eq + Hash + Send + Sync + 'static>(self, queue: &WorkQueue<T>, key: &T) {
        match self {
            Add::Owned => queue.add(key.clone()),
            Add::Borrowed => queue.add_ref(key),
        }
    }
}

/// 1,000,000 adds over the keys from 4 producer threads (producer p starts
/// at key p * keys / 4 and walks all keys in order) while 4 worker threads
/// get + done, until the queue is shut down and drained; wall time and how
/// many items the workers took.
fn throughput<T: Clone + Eq + Hash + Send + Sync + 'static>(keys: &[T], add: Add) -> (Duration, usize) {
    let queue = WorkQueue::<T>::new();
    let start = Instant::now();
    let processed = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..HOT_WORKERS)
            .map(|_| {
                let queue = &queue;
                scope.spawn(move || {
                    futures::executor::block_on(async {
                        let mut n = 0usize;
                        while let Some(key) = queue.get().await {
                            n += 1;
                            queue.done(&key);
                        }
                        n
                    })
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let queue = &queue;
                scope.spawn(move || {
                    let offset = p * keys.len() / PRODUCERS;
                    for j in 0..HOT_ADDS / PRODUCERS {
                        add.call(queue, &keys[(offset + j) % keys.len()]);
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().expect("producer"));
        queue.shutdown();
        workers.into_iter().map(|w| w.join().expect("worker")).sum::<usize>()
    });
    (start.elapsed(), processed)
}

/// The time of one add of a key that is already queued (every key queued first).
fn add_queued<T: Clone + Eq + Hash + Send + Sync + 'static>(keys: &[T], add: Add) -> Duration {
    let queue = WorkQueue::<T>::new();
    keys.iter().for_each(|k| queue.add(k.clone()));
    let start = Instant::now();
    for j in 0..HOT_ADDS {
        add.call(&queue, &keys[j % keys.len()]);
    }
    let elapsed = start.elapsed();
    assert_eq!(queue.len(), keys.len());
    elapsed / HOT_ADDS as u32
}

/// The time of one add + get + done on an otherwise empty queue.
fn cycle<T: Clone + Eq + Hash + Send + Sync + 'static>(keys: &[T], add: Add) -> Duration {
    let queue = WorkQueue::<T>::new();
    let start = Instant::now();
    futures::executor::block_on(async {
        for j in 0..HOT_ADDS {
            add.call(&queue, &keys[j % keys.len()]);
            let key = queue.get().await.expect("queued");
            queue.done(&key);
        }
    });
    start.elapsed() / HOT_ADDS as u32
}

/// Figures of one round of the Go program: (figure, key) -> value (ns, or items for `processed`).
type GoRound = HashMap<(String, String), u64>;

fn go_bench_path() -> PathBuf {
    std::env::var_os("WORKQUEUE_BENCH_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/testenv/workqueue-bench"))
}

/// One round of client-go's workqueue (`None` when the program is missing or fails).
fn go_round(path: &Path) -> Option<GoRound> {
    let out = Command::new(path).args(["-rounds", "1"]).output().ok()?;
    if !out.status.success() {
        eprintln!("{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let figures = stdout
        .lines()
        .filter_map(|line| {
            let mut f = line.strip_prefix("RESULT ")?.split_whitespace();
            let (figure, key, value) = (f.next()?, f.next()?, f.next()?.parse().ok()?);
            Some(((figure.to_string(), key.to_string()), value))
        })
        .collect();
    Some(figures)
}

/// Every round's value of each (figure, variant): ns, or items for `processed`.
#[derive(Default)]
struct Figures(HashMap<(String, String), Vec<u64>>);

impl Figures {
    fn push(&mut self, figure: &str, variant: &str, value: u64) {
        self.0.entry((figure.to_string(), variant.to_string())).or_default().push(value);
    }

    fn push_time(&mut self, figure: &str, variant: &str, d: Duration) {
        self.push(figure, variant, u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    fn rounds(&self, figure: &str, variant: &str) -> Option<&Vec<u64>> {
        self.0.get(&(figure.to_string(), variant.to_string()))
    }

    fn median(&self, figure: &str, variant: &str) -> Option<u64> {
        let mut v = self.rounds(figure, variant)?.clone();
        v.sort_unstable();
        Some(v[v.len() / 2])
    }

    /// The median over the rounds of `variant / other` within each round
    /// (the two measured seconds apart, under the same machine load).
    fn median_ratio(&self, figure: &str, variant: &str, other: &str) -> Option<f64> {
        let (a, b) = (self.rounds(figure, variant)?, self.rounds(figure, other)?);
        let mut ratios: Vec<f64> = a.iter().zip(b).map(|(&a, &b)| a as f64 / b.max(1) as f64).collect();
        ratios.sort_by(f64::total_cmp);
        ratios.get(ratios.len() / 2).copied()
    }
}

fn hot_path_round<T: Clone + Eq + Hash + Send + Sync + 'static>(
    name: &str,
    keys: &[T],
    adds: &[Add],
    figures: &mut Figures,
) {
    for &add in adds {
        let variant = format!("{name} {}", add.name());
        let (elapsed, processed) = throughput(keys, add);
        assert!((keys.len()..=HOT_ADDS).contains(&processed), "{processed} items processed");
        figures.push_time("throughput", &variant, elapsed);
        figures.push("processed", &variant, processed as u64);
        figures.push_time("add_queued", &variant, add_queued(keys, add));
        figures.push_time("cycle", &variant, cycle(keys, add));
    }
}

fn hot_path(rounds: usize) {
    let go = go_bench_path();
    let (objects, strings) = (object_keys(), string_keys());
    let adds = [Add::Owned, Add::Borrowed];
    println!(
        "hot path: {HOT_ADDS} adds over {HOT_KEYS} keys from {PRODUCERS} producer threads, {HOT_WORKERS} worker threads (get + done); {rounds} rounds, a Go round before each"
    );
    let mut figures = Figures::default();
    let mut go_rounds = 0;
    for _ in 0..rounds {
        if let Some(round) = go_round(&go) {
            go_rounds += 1;
            for ((figure, key), value) in round {
                figures.push(&figure, &format!("client-go {key}"), value);
            }
        }
        hot_path_round("ObjectKey", &objects, &adds, &mut figures);
        hot_path_round("String", &strings, &adds, &mut figures);
    }
    if go_rounds == 0 {
        println!("(no Go figures: build {} with `make bench-queue`, or set WORKQUEUE_BENCH_GO)", go.display());
    }
    let mut variants: Vec<String> = ["ObjectKey", "String"]
        .into_iter()
        .flat_map(|key| adds.iter().map(move |a| format!("{key} {}", a.name())))
        .collect();
    variants.extend(["client-go string".to_string(), "client-go struct".to_string()]);
    // Rust / Go, against Go's string keys and Go's struct keys: the median
    // of the ratios within each round (a Go round, then the Rust round, so
    // both see about the same machine load).
    let ratios = |figure: &str, variant: &str| {
        if variant.starts_with("client-go") || go_rounds != rounds {
            return String::new();
        }
        let ratio = |key| figures.median_ratio(figure, variant, key).map_or("-".to_string(), |r| format!("{r:.2}"));
        format!("({} / {})", ratio("client-go string"), ratio("client-go struct"))
    };
    println!(
        "{:<28} {:>24} {:>12} {:>24} {:>24}",
        "median (Rust/Go: string / struct)", "throughput", "items taken", "add of a queued key", "add + get + done"
    );
    for variant in &variants {
        let median = |figure| figures.median(figure, variant);
        let (Some(t), Some(p), Some(a), Some(c)) =
            (median("throughput"), median("processed"), median("add_queued"), median("cycle"))
        else {
            continue;
        };
        println!(
            "{variant:<28} {:>24} {p:>12} {:>24} {:>24}",
            format!("{:.1} ms {}", t as f64 / 1e6, ratios("throughput", variant)),
            format!("{a} ns {}", ratios("add_queued", variant)),
            format!("{c} ns {}", ratios("cycle", variant)),
        );
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let section = args.next();
    let run = |name: &str| section.as_deref().is_none_or(|s| s == name);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(WORKERS + 1).enable_all().build().expect("runtime");
    for with_priority in [true, false].into_iter().filter(|_| run("priority")) {
        if with_priority {
            println!("backlog {n} (initial list), reconcile {RECONCILE:?} busy, {WORKERS} workers, {rounds} rounds");
        }
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
    for metrics in [false, true].into_iter().filter(|_| run("metrics")) {
        let per_item: Vec<Duration> = (0..rounds).map(|_| runtime.block_on(queue_cycle(cycles, metrics))).collect();
        println!(
            "queue add + get + done, {cycles} items, {}: {} ns per item (median of {rounds})",
            if metrics { "with metrics   " } else { "without metrics" },
            median(per_item).as_nanos(),
        );
    }
    if run("hot-path") {
        hot_path(rounds);
    }
}
