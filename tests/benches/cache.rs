//! The informer cache in memory (no control plane), bot-runtime's
//! [`Store`] against kube-rs 5's `reflector::Store`, in one run, at 1k, 10k
//! and 100k ConfigMaps of the informer bench's shape (2 labels, a
//! last-applied annotation, ~160 B of data; `app` takes 100 values, so
//! `app=a7` selects 1%; 1,000 objects per namespace):
//!
//! - heap per cached object (a counting allocator: the objects themselves
//!   plus the store's map and indexes), and what the store adds to the
//!   objects alone;
//! - load: the initial list written into an empty store;
//! - `get` by namespace and name (ns per call, allocations per call);
//! - the objects of one namespace;
//! - a label-selector list (`app=a7`): bot-runtime's index-planned
//!   `Lister::list`, a scan of bot-runtime's store, and kube-rs's
//!   `state_filter_selector`.
//!
//! ```sh
//! cargo bench -p bot-tests --bench cache                  # 1000 10000 100000
//! cargo bench -p bot-tests --bench cache -- 1000 10000    # chosen sizes
//! ```
//!
//! Results are written down in docs/benchmarks.md.

use std::{
    alloc::System,
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use bot_runtime::{Lister, k8s_openapi::api::core::v1::ConfigMap, selector::LabelSelector, store::Writer};
use kube::{
    core::Selector,
    runtime::{
        reflector::{self, ObjectRef},
        watcher,
    },
};
use serde_json::json;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// Counts allocations and bytes (live = allocated - deallocated).
#[global_allocator]
static HEAP: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn live() -> isize {
    let stats = HEAP.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

fn allocations() -> usize {
    let stats = HEAP.stats();
    stats.allocations + stats.reallocations
}

const PER_NAMESPACE: usize = 1000;
const APPS: usize = 100;

fn configmap(i: usize) -> ConfigMap {
    let name = format!("cm-{i}");
    let namespace = format!("ns-{}", i / PER_NAMESPACE);
    let labels = json!({ "app": format!("a{}", i % APPS), "shard": (i % 10).to_string() });
    let data = json!({ "payload": format!("{:0>160}", i) });
    let applied = json!({ "metadata": { "name": name, "namespace": namespace, "labels": labels }, "data": data });
    serde_json::from_value(json!({
        "metadata": {
            "name": name, "namespace": namespace, "labels": labels,
            "resourceVersion": (1000 + i).to_string(), "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": applied.to_string() }
        },
        "data": data
    }))
    .expect("static manifest")
}

/// Median of `rounds` runs of `f`, each timed over `iterations` calls; per call.
fn per_call(rounds: usize, iterations: usize, mut f: impl FnMut(usize)) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            for i in 0..iterations {
                f(i);
            }
            t.elapsed() / iterations as u32
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

/// Heap bytes `f` leaves live.
fn heap_of<T>(f: impl FnOnce() -> T) -> (T, isize) {
    let before = live();
    let out = f();
    (out, live() - before)
}

fn fmt(d: Duration) -> String {
    if d < Duration::from_micros(10) { format!("{} ns", d.as_nanos()) } else { format!("{d:.1?}") }
}

struct Row {
    label: &'static str,
    bot: String,
    kube: String,
    ratio: String,
}

fn row(label: &'static str, bot: Duration, kube: Duration) -> Row {
    Row { label, bot: fmt(bot), kube: fmt(kube), ratio: format!("{:.2}x", kube.as_secs_f64() / bot.as_secs_f64()) }
}

fn bench(n: usize) -> Vec<Row> {
    let objects: Vec<ConfigMap> = (0..n).map(configmap).collect();
    let rounds = 5;
    let mut rows = Vec::new();

    // Memory: the objects alone (in `Arc`s), then each store holding them.
    let (alone, objects_bytes) = heap_of(|| objects.iter().cloned().map(Arc::new).collect::<Vec<_>>());
    drop(alone);
    let t = Instant::now();
    let (writer, bot_bytes) = heap_of(|| {
        let w = Writer::<ConfigMap>::new();
        w.replace(objects.clone());
        w
    });
    let bot_load = t.elapsed();
    let t = Instant::now();
    let ((kube_store, kube_writer), kube_bytes) = heap_of(|| {
        let mut w = reflector::store::Writer::<ConfigMap>::default();
        w.apply_watcher_event(&watcher::Event::Init);
        for o in &objects {
            w.apply_watcher_event(&watcher::Event::InitApply(o.clone()));
        }
        w.apply_watcher_event(&watcher::Event::InitDone);
        (w.as_reader(), w)
    });
    let kube_load = t.elapsed();
    let per = |b: isize| b as f64 / n as f64;
    rows.push(Row {
        label: "heap per object (store + objects)",
        bot: format!("{:.0} B", per(bot_bytes)),
        kube: format!("{:.0} B", per(kube_bytes)),
        ratio: format!("{:.2}x", kube_bytes as f64 / bot_bytes as f64),
    });
    rows.push(Row {
        label: "  of which the store (map, keys, indexes)",
        bot: format!("{:.0} B", per(bot_bytes - objects_bytes)),
        kube: format!("{:.0} B", per(kube_bytes - objects_bytes)),
        ratio: format!("{:.2}x", (kube_bytes - objects_bytes) as f64 / (bot_bytes - objects_bytes) as f64),
    });
    rows.push(row("load (initial list, incl. clones)", bot_load, kube_load));

    // get: keys spread over the store, in a fixed pseudo-random order.
    let keys: Vec<(String, String)> =
        (0..4096).map(|i| (i * 7919) % n).map(|i| (format!("ns-{}", i / PER_NAMESPACE), format!("cm-{i}"))).collect();
    let store = writer.as_reader();
    let bot_get = per_call(rounds, 200_000, |i| {
        let (ns, name) = &keys[i % keys.len()];
        black_box(store.get_by(Some(ns), name));
    });
    let before = allocations();
    for (ns, name) in &keys {
        black_box(store.get_by(Some(ns), name));
    }
    let bot_allocs = allocations() - before;
    let kube_get = per_call(rounds, 200_000, |i| {
        let (ns, name) = &keys[i % keys.len()];
        black_box(kube_store.get(&ObjectRef::new(name).within(ns)));
    });
    let before = allocations();
    for (ns, name) in &keys {
        black_box(kube_store.get(&ObjectRef::new(name).within(ns)));
    }
    let kube_allocs = allocations() - before;
    rows.push(row("get", bot_get, kube_get));
    rows.push(Row {
        label: "  allocations per get",
        bot: format!("{:.1}", bot_allocs as f64 / keys.len() as f64),
        kube: format!("{:.1}", kube_allocs as f64 / keys.len() as f64),
        ratio: String::new(),
    });

    // The objects of one namespace.
    let lister = Lister::new(store.clone());
    let everything = LabelSelector::everything();
    let iterations = (1_000_000 / n).clamp(5, 1000);
    let bot_ns = per_call(rounds, iterations, |_| {
        assert_eq!(lister.namespaced("ns-0").list(&everything).len(), n.min(PER_NAMESPACE))
    });
    let kube_ns = per_call(rounds, iterations, |_| {
        assert_eq!(
            kube_store.state_filter(|o| o.metadata.namespace.as_deref() == Some("ns-0")).len(),
            n.min(PER_NAMESPACE)
        )
    });
    rows.push(row("list one namespace", bot_ns, kube_ns));

    // A label selector matching 1%.
    let wanted = n / APPS;
    let selector: LabelSelector = "app=a7".parse().expect("a valid selector");
    let kube_selector: Selector = [("app", "a7")].into_iter().collect();
    let bot_label = per_call(rounds, iterations * 10, |_| assert_eq!(lister.list(&selector).len(), wanted));
    let bot_scan = per_call(rounds, iterations, |_| {
        let hits = store.list().into_iter().filter(|o| selector.matches(o.metadata.labels.as_ref())).count();
        assert_eq!(hits, wanted)
    });
    let kube_label =
        per_call(rounds, iterations, |_| assert_eq!(kube_store.state_filter_selector(&kube_selector).len(), wanted));
    rows.push(row("list app=a7 (1%): index vs kube-rs", bot_label, kube_label));
    rows.push(row("  index vs a scan of the same store", bot_label, bot_scan));
    rows.push(relist_stall(&writer, &objects));
    drop(kube_writer);
    rows
}

/// What a reader sees while a relist changes every object (each listed
/// object at a new resourceVersion): how many `get`s it completed during
/// the relist and their 99.9th percentile (a store that held its write lock
/// for the whole relist would serve about none).
fn relist_stall(writer: &Writer<ConfigMap>, objects: &[ConfigMap]) -> Row {
    use std::sync::atomic::{AtomicU8, Ordering::SeqCst};
    let relisted: Vec<ConfigMap> = objects
        .iter()
        .cloned()
        .map(|mut o| {
            o.metadata.resource_version = Some(format!("{}-2", o.metadata.resource_version.unwrap_or_default()));
            o
        })
        .collect();
    let store = writer.as_reader();
    // 0: before the relist, 1: during, 2: after.
    let phase = Arc::new(AtomicU8::new(0));
    let reader = {
        let phase = phase.clone();
        std::thread::spawn(move || {
            let mut during = Vec::new();
            loop {
                let before = phase.load(SeqCst);
                let t = Instant::now();
                black_box(store.get_by(Some("ns-0"), "cm-0"));
                let took = t.elapsed();
                match (before, phase.load(SeqCst)) {
                    (1, 1) => during.push(took),
                    (_, 2) => break,
                    _ => {}
                }
            }
            during.sort();
            during
        })
    };
    std::thread::sleep(Duration::from_millis(20));
    phase.store(1, SeqCst);
    let t = Instant::now();
    let changes = writer.replace(relisted);
    let took = t.elapsed();
    phase.store(2, SeqCst);
    assert_eq!(changes.len(), objects.len());
    let during = reader.join().expect("reader");
    let p999 = during.get(during.len() * 999 / 1000).copied().unwrap_or_default();
    Row {
        label: "relist of every object: gets served, p99.9",
        bot: format!("{} {}", during.len(), fmt(p999)),
        kube: String::new(),
        ratio: format!("relist {}", fmt(took)),
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![1000, 10_000, 100_000] } else { sizes };
    for n in sizes {
        println!("\n{n} ConfigMaps: bot-runtime vs kube-rs 5 (ratio: kube-rs / bot-runtime, > 1 = bot-runtime better)");
        println!("| {:<42} | {:>12} | {:>12} | {:>8} |", "", "bot-runtime", "kube-rs", "ratio");
        println!("|{:-<44}|{:->14}|{:->14}|{:->10}|", "", "", "", "");
        for r in bench(n) {
            println!("| {:<42} | {:>12} | {:>12} | {:>8} |", r.label, r.bot, r.kube, r.ratio);
        }
    }
}
