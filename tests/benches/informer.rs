//! Benchmark of informer caches against the real control plane: time to
//! sync and memory per cached object for N ConfigMaps (the shape of
//! kube-runtime's own memory benchmark: 2 labels, a last-applied annotation,
//! ~160 B of data, created through the API so each carries one managedFields
//! entry), bot-runtime side by side with client-go and kube-rs; then lister
//! look-ups through the namespace index versus a full scan.
//!
//! ```sh
//! make bench-informer                       # 10,000 and 50,000, client-go built first
//! cargo bench -p bot-tests --bench informer -- 10000
//! ```
//!
//! The objects are created once per size; every measurement then runs in a
//! fresh process (this binary re-executed with `child MODE N`, or client-go's
//! `target/testenv/informer-bench` from `tests/testenv/bench/informer`),
//! modes interleaved, and the median of `BENCH_RUNS` (default 5) is printed.
//! Per process: time from starting the informer to synced; heap per object
//! (bot-runtime and kube-rs: live bytes of a counting allocator; client-go:
//! `HeapInuse` after a GC), both minus the same before the informer started;
//! resident set growth (`VmRSS`) per object, comparable on both sides.
//!
//! Environment: `BENCH_RUNS`; `BENCH_KUBECONFIG` to use a control plane that
//! is already running (objects already there are reused); `BENCH_MODES` (a
//! comma-separated subset of the modes below); `INFORMER_BENCH_GO` (path of
//! the client-go program). Results are written down in docs/benchmarks.md.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use bot_runtime::{SharedIndexInformer, factory::InformerFactory, testenv::TestEnv};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{reflector, watcher},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Counts live heap bytes and their peak: exact, unlike RSS (which keeps
/// what the allocator once had).
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

/// The namespaces the objects of one size are spread over.
const NAMESPACES: usize = 10;

/// What one process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    /// bot-runtime's `InformerFactory`, default settings.
    Bot,
    /// bot-runtime with `keep_managed_fields()` (objects as served).
    BotKeep,
    /// bot-runtime with `drop_last_applied()` too.
    BotLean,
    /// bot-runtime listing in pages of 500 (kube's `ListWatch`) instead of
    /// streaming the initial list.
    BotPaged,
    /// bot-runtime with the factory transform `|m| m.managed_fields = None`.
    BotTransform,
    /// bot-runtime watching in JSON (`prefer_json()`) instead of protobuf.
    BotJson,
    /// kube-rs 5: `kube::runtime::reflector` over `watcher` with its defaults.
    Kube,
    /// client-go's `SharedInformerFactory`, default settings.
    Go,
    /// client-go with `WithTransform` dropping managedFields.
    GoStrip,
    /// client-go with `ContentType: application/json` (its typed clients
    /// otherwise ask for protobuf).
    GoJson,
}

const MODES: [Mode; 10] = [
    Mode::Bot,
    Mode::BotKeep,
    Mode::BotLean,
    Mode::BotPaged,
    Mode::BotTransform,
    Mode::BotJson,
    Mode::Kube,
    Mode::Go,
    Mode::GoJson,
    Mode::GoStrip,
];

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Bot => "bot",
            Mode::BotKeep => "bot-keep",
            Mode::BotLean => "bot-lean",
            Mode::BotPaged => "bot-paged",
            Mode::BotTransform => "bot-transform",
            Mode::BotJson => "bot-json",
            Mode::GoJson => "go-json",
            Mode::Kube => "kube",
            Mode::Go => "go",
            Mode::GoStrip => "go-strip",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Mode::Bot => "bot-runtime, default",
            Mode::BotKeep => "bot-runtime, keep_managed_fields()",
            Mode::BotLean => "bot-runtime, drop_last_applied()",
            Mode::BotPaged => "bot-runtime, initial list in pages of 500",
            Mode::BotJson => "bot-runtime, prefer_json() (watched in JSON)",
            Mode::GoJson => "client-go, JSON instead of protobuf",
            Mode::BotTransform => "bot-runtime, with_transform(strip managedFields)",
            Mode::Kube => "kube-rs 5 reflector, default",
            Mode::Go => "client-go, default",
            Mode::GoStrip => "client-go, WithTransform(strip managedFields)",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        MODES.into_iter().find(|m| m.name() == name)
    }
}

/// One process's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Figures {
    n: usize,
    sync_ms: f64,
    heap_per_object: f64,
    rss_per_object: f64,
    /// Peak live heap during the initial list (counting allocator only).
    #[serde(default)]
    peak_per_object: Option<f64>,
}

fn rss() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn selector(n: usize) -> String {
    format!("app=bench-{n}")
}

fn namespace(n: usize, i: usize) -> String {
    format!("bench-{n}-{}", i % NAMESPACES)
}

async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let config =
        kube::Config::from_custom_kubeconfig(Kubeconfig::read_from(kubeconfig)?, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// `BENCH_LIST`: how the initial list is made, comma-separated (`streaming`,
/// `listwatch`, `any`: resourceVersion 0, `unpaged`); unset: each side's default.
fn list_knobs(c: &mut watcher::Config) {
    for knob in std::env::var("BENCH_LIST").unwrap_or_default().split(',') {
        match knob {
            "streaming" => c.initial_list_strategy = watcher::InitialListStrategy::StreamingList,
            "listwatch" => c.initial_list_strategy = watcher::InitialListStrategy::ListWatch,
            "any" => c.list_semantic = watcher::ListSemantic::Any,
            "unpaged" => c.page_size = None,
            _ => {}
        }
    }
}

/// The measurement in a child process: start, wait for synced, measure.
async fn child(mode: Mode, n: usize, kubeconfig: &Path) -> Result<Figures> {
    let client = client_from(kubeconfig).await?;
    let (heap_before, rss_before) = (HEAP.current_usage(), rss());
    HEAP.reset_peak_usage();
    let t = Instant::now();
    let keep: Box<dyn std::any::Any> = match mode {
        Mode::Bot | Mode::BotKeep | Mode::BotLean | Mode::BotPaged | Mode::BotTransform | Mode::BotJson => {
            let mut factory = InformerFactory::new(client, None).with_tweak_list_options(move |c| {
                c.label_selector = Some(selector(n));
                if mode == Mode::BotPaged {
                    c.initial_list_strategy = watcher::InitialListStrategy::ListWatch;
                }
                list_knobs(c);
            });
            match mode {
                Mode::BotKeep => factory = factory.keep_managed_fields(),
                Mode::BotLean => factory = factory.drop_last_applied(),
                Mode::BotJson => factory = factory.prefer_json(),
                Mode::BotTransform => {
                    factory = factory.keep_managed_fields().with_transform(|m| m.managed_fields = None);
                }
                _ => {}
            }
            let informer = factory.informer_for::<ConfigMap>();
            factory.start();
            factory.wait_for_cache_sync().await;
            ensure!(informer.store().len() == n, "cached {}, expected {n}", informer.store().len());
            Box::new((factory, informer))
        }
        Mode::Kube => {
            let (reader, writer) = reflector::store::<ConfigMap>();
            let mut config = watcher::Config::default().labels(&selector(n));
            list_knobs(&mut config);
            let stream = reflector::reflector(writer, watcher::watcher(Api::<ConfigMap>::all(client), config));
            let task = tokio::spawn(stream.for_each(|_| async {}));
            reader.wait_until_ready().await?;
            ensure!(reader.len() == n, "cached {}, expected {n}", reader.len());
            Box::new((reader, task))
        }
        Mode::Go | Mode::GoStrip | Mode::GoJson => bail!("{} runs in its own program", mode.name()),
    };
    let sync = t.elapsed();
    let (heap, peak, grown) = (
        HEAP.current_usage().saturating_sub(heap_before),
        HEAP.peak_usage().saturating_sub(heap_before),
        rss() - rss_before,
    );
    drop(keep);
    Ok(Figures {
        n,
        sync_ms: sync.as_secs_f64() * 1000.0,
        heap_per_object: heap as f64 / n as f64,
        rss_per_object: grown as f64 / n as f64,
        peak_per_object: Some(peak as f64 / n as f64),
    })
}

fn go_program() -> PathBuf {
    std::env::var_os("INFORMER_BENCH_GO")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/testenv/informer-bench"))
}

/// Runs one measurement in a fresh process.
fn measure(mode: Mode, n: usize, kubeconfig: &Path) -> Result<Figures> {
    let mut command = match mode {
        Mode::Go | Mode::GoStrip | Mode::GoJson => {
            let mut c = Command::new(go_program());
            c.arg("--kubeconfig").arg(kubeconfig).arg("--selector").arg(selector(n)).arg("--n").arg(n.to_string());
            if mode == Mode::GoStrip {
                c.arg("--strip-managed-fields");
            }
            if mode == Mode::GoJson {
                c.arg("--json");
            }
            c
        }
        _ => {
            let mut c = Command::new(std::env::current_exe()?);
            c.arg("child").arg(mode.name()).arg(n.to_string()).env("BENCH_CHILD_KUBECONFIG", kubeconfig);
            c
        }
    };
    let out = command.output().with_context(|| format!("running {}", mode.name()))?;
    ensure!(out.status.success(), "{} failed ({}): {}", mode.name(), out.status, String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).context("no figures printed")?;
    Ok(serde_json::from_str(line)?)
}

fn configmap(n: usize, i: usize) -> ConfigMap {
    let data = format!("{:0>160}", i);
    let labels = json!({ "app": format!("bench-{n}"), "shard": (i % 10).to_string() });
    let body = json!({ "metadata": { "name": format!("cm-{i}"), "labels": labels }, "data": { "payload": data } });
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("cm-{i}"),
            "labels": labels,
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": body.to_string() }
        },
        "data": { "payload": data }
    }))
    .expect("static manifest")
}

/// Creates the `n` ConfigMaps of size `n` that are missing (64 at a time).
async fn ensure_objects(client: &Client, n: usize) -> Result<()> {
    let existing: BTreeSet<String> = Api::<ConfigMap>::all(client.clone())
        .list_metadata(&ListParams::default().labels(&selector(n)))
        .await?
        .items
        .into_iter()
        .map(|m| format!("{}/{}", m.namespace().unwrap_or_default(), m.name_any()))
        .collect();
    let missing: Vec<usize> = (0..n).filter(|i| !existing.contains(&format!("{}/cm-{i}", namespace(n, *i)))).collect();
    if missing.is_empty() {
        println!("{n} ConfigMaps already there");
        return Ok(());
    }
    for i in 0..NAMESPACES {
        let obj: Namespace = serde_json::from_value(json!({ "metadata": { "name": namespace(n, i) } }))?;
        match Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &obj).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let t = Instant::now();
    let created = missing.len();
    stream::iter(missing)
        .map(|i| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace(n, i));
            async move { api.create(&PostParams::default(), &configmap(n, i)).await.map(|_| ()) }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!("created {created} ConfigMaps in {NAMESPACES} namespaces in {:.1?}", t.elapsed());
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 }
}

/// Median figures of every mode at size `n`, modes interleaved run by run.
fn compare(n: usize, runs: usize, modes: &[Mode], kubeconfig: &Path) -> Result<BTreeMap<Mode, Figures>> {
    let mut all: BTreeMap<Mode, Vec<Figures>> = BTreeMap::new();
    for run in 0..runs {
        for &mode in modes {
            let f = measure(mode, n, kubeconfig)?;
            eprintln!(
                "  n={n} run {run} {:<14} sync {:>7.1} ms  heap {:>6.0} B/object  rss {:>6.0} B/object",
                mode.name(),
                f.sync_ms,
                f.heap_per_object,
                f.rss_per_object
            );
            all.entry(mode).or_default().push(f);
        }
    }
    Ok(all
        .into_iter()
        .map(|(mode, v)| {
            let peak = v.iter().filter_map(|f| f.peak_per_object).collect::<Vec<_>>();
            let f = Figures {
                n,
                sync_ms: median(v.iter().map(|f| f.sync_ms).collect()),
                heap_per_object: median(v.iter().map(|f| f.heap_per_object).collect()),
                rss_per_object: median(v.iter().map(|f| f.rss_per_object).collect()),
                peak_per_object: (!peak.is_empty()).then(|| median(peak)),
            };
            (mode, f)
        })
        .collect())
}

fn print_table(n: usize, runs: usize, figures: &BTreeMap<Mode, Figures>) {
    println!(
        "\n{n} ConfigMaps, median of {runs} fresh processes per row; ratios to client-go default / client-go stripping managedFields"
    );
    println!(
        "| what | sync | heap/object | RSS growth/object | peak heap/object | sync ratio | heap ratio | RSS ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let ratio = |ours: f64, bar: fn(&Figures) -> f64| {
        let of = |mode| figures.get(&mode).map_or("-".to_string(), |theirs| format!("{:.2}", ours / bar(theirs)));
        format!("{} / {}", of(Mode::Go), of(Mode::GoStrip))
    };
    for (mode, f) in figures {
        println!(
            "| {} | {:.0} ms | {:.0} B | {:.0} B | {} | {} | {} | {} |",
            mode.describe(),
            f.sync_ms,
            f.heap_per_object,
            f.rss_per_object,
            f.peak_per_object.map_or("".into(), |p| format!("{p:.0} B")),
            ratio(f.sync_ms, |b| b.sync_ms),
            ratio(f.heap_per_object, |b| b.heap_per_object),
            ratio(f.rss_per_object, |b| b.rss_per_object),
        );
    }
}

/// Lister look-ups on a synced cache of the `n` objects (in this process).
async fn lister_lookups(client: &Client, n: usize) -> Result<()> {
    let factory = InformerFactory::new(client.clone(), None)
        .with_tweak_list_options(move |c| c.label_selector = Some(selector(n)));
    let informer: Arc<SharedIndexInformer<ConfigMap>> = factory.informer_for::<ConfigMap>();
    factory.start();
    factory.wait_for_cache_sync().await;
    let store = informer.store();
    let lister = informer.lister();
    let all = bot_runtime::selector::LabelSelector::everything();
    let iters = 200;
    let t = Instant::now();
    let mut found = 0;
    for i in 0..iters {
        found += lister.namespaced(&namespace(n, i)).list(&all).len();
    }
    let indexed = t.elapsed() / iters as u32;
    let t = Instant::now();
    let mut scanned = 0;
    for i in 0..iters {
        let ns = namespace(n, i);
        scanned += lister.list(&all).iter().filter(|c| c.namespace().as_deref() == Some(&ns)).count();
    }
    let scan = t.elapsed() / iters as u32;
    assert_eq!(found, scanned);
    println!("\nnamespace listing of {} objects: index {indexed:.1?}, full scan {scan:.1?}", n / NAMESPACES);
    let t = Instant::now();
    for i in 0..10_000 {
        let _ = lister.namespaced(&namespace(n, i)).get(&format!("cm-{}", i % n));
    }
    println!("get by key: {:.0?} per call", t.elapsed() / 10_000);

    // Sharing, not copying: every reader holds the same Arc.
    let a = lister.namespaced(&namespace(n, 0)).get("cm-0")?;
    let b = store.list().into_iter().find(|c| c.name_any() == "cm-0" && c.namespace() == a.namespace());
    assert!(Arc::ptr_eq(&a, &b.expect("cached")));
    factory.shutdown().await;
    Ok(())
}

/// What turning the apiserver's protobuf back into JSON costs, per object,
/// beside decoding that JSON into the typed object (in this process).
async fn protobuf_costs(client: &Client, n: usize) -> Result<()> {
    let uri = format!("/api/v1/configmaps?labelSelector=app%3Dbench-{n}&watch=1&resourceVersion=0&timeoutSeconds=2");
    let request = http::Request::get(uri)
        .header("Accept", "application/vnd.kubernetes.protobuf, application/json")
        .body(kube::client::Body::empty())?;
    let body = client.send(request).await?.into_body().collect_bytes().await?;
    let mut frames = Vec::new();
    let mut rest = &body[..];
    while let Some(len) = rest.get(..4) {
        let len = u32::from_be_bytes(len.try_into()?) as usize;
        frames.push(&rest[4..4 + len]);
        rest = &rest[4 + len..];
    }
    ensure!(frames.len() == n, "{} frames for {n} objects", frames.len());
    let mut lines = Vec::with_capacity(body.len() * 3 / 2);
    let t = Instant::now();
    for frame in &frames {
        bot_runtime::protobuf::watch_event_to_json(frame, &mut lines)?;
    }
    let transcode = t.elapsed() / n as u32;
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        #[serde(borrow)]
        object: &'a serde_json::value::RawValue,
    }
    let objects: Vec<&str> = lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| Ok(serde_json::from_slice::<Line<'_>>(l)?.object.get()))
        .collect::<Result<_>>()?;
    let t = Instant::now();
    for object in &objects {
        let cm: ConfigMap = bot_runtime::reflector::decode(object, bot_runtime::reflector::Omit::default())?;
        std::hint::black_box(cm);
    }
    let decode = t.elapsed() / n as u32;
    println!(
        "protobuf watch event -> JSON line: {transcode:.2?} per object ({} B of protobuf -> {} B of JSON); JSON -> ConfigMap (managedFields skipped): {decode:.2?}",
        body.len() / n,
        lines.len() / n
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        let mode = args.get(1).and_then(|m| Mode::parse(m)).context("child MODE N")?;
        let n: usize = args.get(2).context("child MODE N")?.parse()?;
        let kubeconfig = PathBuf::from(std::env::var_os("BENCH_CHILD_KUBECONFIG").context("BENCH_CHILD_KUBECONFIG")?);
        let figures = child(mode, n, &kubeconfig).await?;
        println!("{}", serde_json::to_string(&figures)?);
        return Ok(());
    }
    let mut sizes: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes.push(10_000);
    }
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut modes: Vec<Mode> = match std::env::var("BENCH_MODES") {
        Ok(list) => list
            .split(',')
            .map(|m| Mode::parse(m.trim()).with_context(|| format!("mode {m}")))
            .collect::<Result<_>>()?,
        Err(_) => MODES.to_vec(),
    };
    if !go_program().exists() {
        println!("{} missing (make bench-informer builds it): client-go not measured", go_program().display());
        modes.retain(|m| !matches!(m, Mode::Go | Mode::GoStrip | Mode::GoJson));
    }

    // A control plane already running (BENCH_KUBECONFIG), or one of our own.
    let env;
    let kubeconfig = match std::env::var_os("BENCH_KUBECONFIG") {
        Some(path) => PathBuf::from(path),
        None => {
            env = TestEnv::start().await?;
            env.kubeconfig_path().to_path_buf()
        }
    };
    let client = client_from(&kubeconfig).await?;
    for &n in &sizes {
        ensure_objects(&client, n).await?;
    }
    // Let the apiserver settle after the creates.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for &n in &sizes {
        let figures = compare(n, runs, &modes, &kubeconfig)?;
        print_table(n, runs, &figures);
    }
    lister_lookups(&client, sizes[0]).await?;
    protobuf_costs(&client, sizes[0]).await
}
