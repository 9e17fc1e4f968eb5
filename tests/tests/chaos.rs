//! Fault injection on a real control plane of its own, while writers run.
//!
//! One informer (ConfigMaps, churned by a writer) and the operator
//! (`bot_operator::run`, Bots and Events churned by a writer) run through the
//! control plane's fault proxy; faults are injected one after another, round
//! robin over every kind: SIGSTOP/SIGCONT of kube-apiserver and of etcd,
//! kube-apiserver killed and started again, etcd compacted and the apiserver
//! restarted while the proxied clients are cut off (their resourceVersions
//! are gone: `410 Gone`, relist), every proxied connection reset, and every
//! proxied connection frozen (packets held, no RST; new connections work).
//!
//! After each fault the writers pause and the suite checks, against a fresh
//! LIST through a direct client:
//!
//! - the informer's cache holds exactly the listed keys at the listed
//!   resourceVersions, and so does the model its event handler built
//!   (no update for an absent key, no add for a present one, every final
//!   state delivered);
//! - every Bot converged: status for its generation with `Applied=True`,
//!   a Deployment with its replicas, a Service with its port, rules holding
//!   its Event's current reply;
//! - the time from the end of the fault (the apiserver answering again) to
//!   both, and for a frozen connection the time from the freeze to the
//!   informer seeing a write made after it (detection and reconnection while
//!   the old connection stays frozen).
//!
//! It also counts the operator's writes per user mutation, its writes in a
//! steady state over resyncs, and the informer's requests per second while
//! the apiserver is down. `CHAOS_FAULTS` sets the number of faults (default
//! 12; `make chaos` runs 100 with more objects), `CHAOS_REPORT` a file for
//! the results (Markdown). Performance figures are reported, never asserted;
//! the assertions are correctness (0 differences, 0 anomalies) and
//! generous liveness bounds.

mod common;

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use bot_api::v1alpha1::{Bot, Event, EventBinding};
use bot_runtime::{
    informer::{HandlerFuncs, InformerConfig, SharedIndexInformer},
    metrics::InformerMetrics,
    testenv::ControlPlane,
};
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Namespace, Secret, Service},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, CustomResourceExt, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams},
    runtime::wait::{await_condition, conditions},
};
use serde_json::json;

/// A generous bound for anything to converge (liveness, not performance).
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(90);
/// Timeout of one writer request (a paused etcd holds writes).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const CM_NS: &str = "chaos-informer";
const BOT_NS: &str = "chaos-operator";

/// The kinds of fault, injected round robin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Fault {
    PauseApiserver,
    PauseEtcd,
    KillApiserver,
    CompactAndRestart,
    ResetConnections,
    FreezeConnections,
}

const FAULTS: [Fault; 6] = [
    Fault::PauseApiserver,
    Fault::PauseEtcd,
    Fault::KillApiserver,
    Fault::CompactAndRestart,
    Fault::ResetConnections,
    Fault::FreezeConnections,
];

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::PauseApiserver => "SIGSTOP/SIGCONT kube-apiserver",
            Self::PauseEtcd => "SIGSTOP/SIGCONT etcd",
            Self::KillApiserver => "kube-apiserver killed, down, started",
            Self::CompactAndRestart => "etcd compaction + apiserver restart",
            Self::ResetConnections => "connections reset (RST)",
            Self::FreezeConnections => "connections frozen (no RST)",
        }
    }
}

/// Sizes of a run.
struct Plan {
    faults: usize,
    configmaps: usize,
    bots: usize,
    /// How long a pause or a kill lasts.
    down: Duration,
}

impl Plan {
    fn from_env() -> Self {
        let faults = std::env::var("CHAOS_FAULTS").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
        if faults >= 50 {
            Self { faults, configmaps: 1000, bots: 50, down: Duration::from_secs(4) }
        } else {
            Self { faults, configmaps: 150, bots: 10, down: Duration::from_secs(3) }
        }
    }
}

/// What one fault measured.
struct Outcome {
    fault: Fault,
    /// From the end of the fault to the informer's cache equalling a fresh LIST.
    informer_converged: Duration,
    /// From the end of the fault to every Bot converged.
    operator_converged: Duration,
    /// Frozen connections: from the freeze to the informer seeing a later write.
    detected: Option<Duration>,
    /// Lists the informer began during the fault and its recovery (relists).
    relists: u64,
    /// Informer requests per second while the apiserver was down or paused.
    down_request_rate: Option<f64>,
    /// Whether the informer reported itself unhealthy during the fault.
    unhealthy_seen: bool,
    differences: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_while_writers_run() -> Result<()> {
    let plan = Plan::from_env();
    let plane = ControlPlane::start().await?;
    let admin = plane.client().await?;
    // Clients through the fault proxy; a read timeout so a request on a
    // frozen pooled connection fails instead of hanging (the informer's
    // watches are renewed every 15-20 s, well within it).
    let mut proxied_config = plane.proxy_config().await?;
    proxied_config.read_timeout = Some(Duration::from_secs(30));
    proxied_config.reset_reader_on_write = true;

    for ns in [CM_NS, BOT_NS] {
        let ns: Namespace = serde_json::from_value(json!({ "metadata": { "name": ns } }))?;
        Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns).await?;
    }
    install_crds(&admin, [Bot::crd(), Event::crd(), EventBinding::crd()]).await?;

    // The informer under test, with a handler checking event consistency.
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = InformerMetrics::register(&mut registry);
    let informer_client = Client::try_from(proxied_config.clone())?;
    let informer = Arc::new(SharedIndexInformer::new(
        Api::<ConfigMap>::namespaced(informer_client, CM_NS),
        InformerConfig::new().metrics(&metrics, "chaos-configmaps"),
    ));
    let model = Model::default();
    informer.add_event_handler(model.handler());
    informer.run();
    ensure!(informer.wait_for_sync_timeout(CONVERGE_TIMEOUT).await, "informer did not sync");
    let counter = |name: &str| -> u64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.lines()
            .find(|l| l.starts_with(name) && l.contains("chaos-configmaps"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };

    // The operator, through the proxy, its requests counted.
    let traffic = Traffic::default();
    let operator_client = traffic.client(proxied_config.clone())?;
    let (stop_operator, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator_config = bot_operator::Config {
        namespace: Some(BOT_NS.to_string()),
        resync: Some(Duration::from_secs(5)),
        ..bot_operator::Config::default()
    };
    let operator = tokio::spawn(bot_operator::run(operator_client, operator_config, async move {
        let _ = stopped.await;
    }));

    // Objects, then the writers.
    let bots = Bots { client: admin.clone(), count: plan.bots };
    bots.create().await?;
    let cms = ConfigMaps { api: Api::namespaced(admin.clone(), CM_NS), count: plan.configmaps };
    cms.create().await?;
    let (cm_converged, _) =
        converge(&informer, &model, &admin, &bots, Instant::now()).await.context("initial convergence")?;
    eprintln!("chaos: set up {} ConfigMaps and {} Bots, converged in {cm_converged:?}", plan.configmaps, plan.bots);
    let setup_writes = traffic.take_writes();
    eprintln!("chaos: operator writes while setting up: {}", setup_writes.len());

    let writing = Arc::new(AtomicBool::new(true));
    let mutations = Arc::new(AtomicU64::new(0));
    let writers = vec![
        tokio::spawn(cms.clone().churn(writing.clone())),
        tokio::spawn(bots.clone().churn(writing.clone(), mutations.clone())),
    ];

    let started = Instant::now();
    let mut outcomes = Vec::new();
    for i in 0..plan.faults {
        let fault = FAULTS[i % FAULTS.len()];
        writing.store(true, Ordering::SeqCst);
        // Let the writers work a little before the fault, and during it.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let lists_before = counter("reflector_lists_total");
        let requests_before = counter("reflector_requests_total");
        let (ended, detected, down_window, unhealthy_seen) =
            inject(fault, &plane, &plan, &informer, &admin).await.with_context(|| format!("fault {i} {fault:?}"))?;
        let down_request_rate = down_window.map(|window| {
            let requests = counter("reflector_requests_total").saturating_sub(requests_before);
            requests as f64 / window.as_secs_f64()
        });
        // Writers stop so that convergence has a fixed target.
        writing.store(false, Ordering::SeqCst);
        let (informer_converged, operator_converged) = converge(&informer, &model, &admin, &bots, ended)
            .await
            .with_context(|| format!("after fault {i} {fault:?}"))?;
        let outcome = Outcome {
            fault,
            informer_converged,
            operator_converged,
            detected,
            relists: counter("reflector_lists_total").saturating_sub(lists_before),
            down_request_rate,
            unhealthy_seen,
            differences: 0,
        };
        eprintln!(
            "chaos: fault {:>3} {:<42} informer {:>6.2}s operator {:>6.2}s{}{} relists {}",
            i + 1,
            fault.name(),
            outcome.informer_converged.as_secs_f64(),
            outcome.operator_converged.as_secs_f64(),
            detected.map(|d| format!(" detected {:.1}s", d.as_secs_f64())).unwrap_or_default(),
            down_request_rate.map(|r| format!(" {r:.2} req/s down")).unwrap_or_default(),
            outcome.relists,
        );
        outcomes.push(outcome);
    }
    let run_time = started.elapsed();
    writing.store(false, Ordering::SeqCst);
    for writer in writers {
        writer.abort();
    }
    let (_, _) = converge(&informer, &model, &admin, &bots, Instant::now()).await.context("final convergence")?;

    // Writes per user mutation over the whole run; then a steady state over resyncs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let run_writes = traffic.take_writes();
    let user_mutations = mutations.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(12)).await;
    let steady_writes = traffic.take_writes();

    let anomalies = model.anomalies.lock().unwrap().clone();
    let report = report(&plan, &outcomes, run_time, &run_writes, user_mutations, &steady_writes, &anomalies);
    eprintln!("{report}");
    if let Ok(path) = std::env::var("CHAOS_REPORT") {
        std::fs::write(&path, &report).with_context(|| format!("writing {path}"))?;
    }

    let _ = stop_operator.send(());
    tokio::time::timeout(Duration::from_secs(60), operator).await.context("operator did not stop")???;
    informer.shutdown().await;

    ensure!(anomalies.is_empty(), "handler anomalies: {anomalies:#?}");
    ensure!(steady_writes.is_empty(), "writes in a steady state: {steady_writes:#?}");
    ensure!(
        outcomes.iter().filter(|o| o.fault == Fault::FreezeConnections).all(|o| o.detected.is_some()),
        "a frozen connection was never noticed"
    );
    Ok(())
}

/// Injects `fault`; returns when it ended (the apiserver answering again),
/// the detection time of a frozen connection, how long the apiserver was
/// unreachable (for the request rate) and whether the informer reported
/// itself unhealthy meanwhile.
async fn inject(
    fault: Fault,
    plane: &ControlPlane,
    plan: &Plan,
    informer: &SharedIndexInformer<ConfigMap>,
    admin: &Client,
) -> Result<(Instant, Option<Duration>, Option<Duration>, bool)> {
    let mut unhealthy = false;
    let mut watch_health = async |duration: Duration| {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            unhealthy |= !informer.health().is_healthy();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    match fault {
        Fault::PauseApiserver => {
            plane.pause_apiserver().await?;
            let began = Instant::now();
            watch_health(plan.down).await;
            let window = began.elapsed();
            plane.resume_apiserver().await?;
            Ok((Instant::now(), None, Some(window), unhealthy))
        }
        Fault::PauseEtcd => {
            plane.pause_etcd().await?;
            watch_health(plan.down).await;
            plane.resume_etcd().await?;
            Ok((Instant::now(), None, None, unhealthy))
        }
        Fault::KillApiserver => {
            plane.stop_apiserver(false).await?;
            let began = Instant::now();
            watch_health(plan.down).await;
            let window = began.elapsed();
            plane.start_apiserver().await?;
            Ok((Instant::now(), None, Some(window), unhealthy))
        }
        Fault::CompactAndRestart => {
            // Every proxied connection is held (new ones too) while the
            // writers move etcd's revision on; then history is compacted and
            // the apiserver restarted with a new watch cache: the informer's
            // resourceVersion is compacted away (a 410 and a relist when the
            // new apiserver cannot serve it; the report counts relists).
            plane.proxy().freeze_all().await?;
            watch_health(plan.down).await;
            plane.compact().await?;
            plane.restart_apiserver().await?;
            plane.proxy().heal().await?;
            Ok((Instant::now(), None, None, unhealthy))
        }
        Fault::ResetConnections => {
            plane.proxy().reset().await?;
            Ok((Instant::now(), None, None, unhealthy))
        }
        Fault::FreezeConnections => {
            let frozen_at = Instant::now();
            plane.proxy().freeze().await?;
            // A write after the freeze (direct, not through the proxy): the
            // informer sees it only once it has given up the frozen watch.
            let marker = format!("marker-{}", frozen_at.elapsed().as_nanos());
            let api = Api::<ConfigMap>::namespaced(admin.clone(), CM_NS);
            let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": marker } }))?;
            api.create(&PostParams::default(), &cm).await?;
            let mut detected = None;
            while frozen_at.elapsed() < Duration::from_secs(120) {
                if informer.store().get_by(Some(CM_NS), &marker).is_some() {
                    detected = Some(frozen_at.elapsed());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            plane.proxy().heal().await?;
            api.delete(&marker, &DeleteParams::default()).await?;
            Ok((Instant::now(), detected, None, unhealthy))
        }
    }
}

/// Waits until the informer's cache and its handler's model equal a fresh
/// LIST and every Bot has converged; returns both times from `since`.
async fn converge(
    informer: &SharedIndexInformer<ConfigMap>,
    model: &Model,
    admin: &Client,
    bots: &Bots,
    since: Instant,
) -> Result<(Duration, Duration)> {
    let api = Api::<ConfigMap>::namespaced(admin.clone(), CM_NS);
    let (mut informer_done, mut operator_done) = (None, None);
    let mut last = (Vec::new(), Vec::new());
    while since.elapsed() < CONVERGE_TIMEOUT {
        if informer_done.is_none() {
            match api.list(&ListParams::default()).await {
                Ok(list) => {
                    let listed: BTreeMap<String, String> = list
                        .items
                        .iter()
                        .map(|c| (format!("{CM_NS}/{}", c.name_any()), c.resource_version().unwrap_or_default()))
                        .collect();
                    let cached: BTreeMap<String, String> = informer
                        .store()
                        .list()
                        .iter()
                        .map(|c| (format!("{CM_NS}/{}", c.name_any()), c.resource_version().unwrap_or_default()))
                        .collect();
                    let handled = model.state.lock().unwrap().clone();
                    let diff = differences(&listed, &cached, "cache");
                    let diff2 = differences(&listed, &handled, "handler");
                    if diff.is_empty() && diff2.is_empty() {
                        informer_done = Some(since.elapsed());
                    } else {
                        last.0 = [diff, diff2].concat();
                    }
                }
                Err(e) => last.0 = vec![format!("list failed: {e}")],
            }
        }
        if operator_done.is_none() {
            match bots.differences().await {
                Ok(diff) if diff.is_empty() => operator_done = Some(since.elapsed()),
                Ok(diff) => last.1 = diff,
                Err(e) => last.1 = vec![format!("check failed: {e}")],
            }
        }
        if let (Some(i), Some(o)) = (informer_done, operator_done) {
            return Ok((i, o));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!(
        "not converged after {CONVERGE_TIMEOUT:?}: informer {} differences {:?}; operator {} differences {:?}",
        last.0.len(),
        last.0.iter().take(10).collect::<Vec<_>>(),
        last.1.len(),
        last.1.iter().take(10).collect::<Vec<_>>()
    )
}

fn differences(listed: &BTreeMap<String, String>, seen: &BTreeMap<String, String>, what: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, rv) in listed {
        match seen.get(key) {
            None => out.push(format!("{what}: {key} missing")),
            Some(v) if v != rv => out.push(format!("{what}: {key} at {v}, listed at {rv}")),
            Some(_) => {}
        }
    }
    out.extend(seen.keys().filter(|k| !listed.contains_key(*k)).map(|k| format!("{what}: {k} not listed")));
    out
}

/// What an event handler saw: key -> resourceVersion, and every anomaly.
#[derive(Clone, Default)]
struct Model {
    state: Arc<Mutex<BTreeMap<String, String>>>,
    anomalies: Arc<Mutex<Vec<String>>>,
}

impl Model {
    fn handler(&self) -> HandlerFuncs<ConfigMap> {
        let key = |c: &ConfigMap| format!("{CM_NS}/{}", c.name_any());
        let rv = |c: &ConfigMap| c.resource_version().unwrap_or_default();
        let (s1, a1, s2, a2, s3) = (
            self.state.clone(),
            self.anomalies.clone(),
            self.state.clone(),
            self.anomalies.clone(),
            self.state.clone(),
        );
        HandlerFuncs::new()
            .on_add(move |c, _| {
                if let Some(old) = s1.lock().unwrap().insert(key(c), rv(c)) {
                    a1.lock().unwrap().push(format!("add for present {} (had {old}, now {})", key(c), rv(c)));
                }
            })
            .on_update(move |_, c| {
                if s2.lock().unwrap().insert(key(c), rv(c)).is_none() {
                    a2.lock().unwrap().push(format!("update for absent {} at {}", key(c), rv(c)));
                }
            })
            .on_delete(move |c, _| {
                // A delete for an object never cached is allowed: the
                // informer delivers it once, with its final state.
                s3.lock().unwrap().remove(&key(c));
            })
    }
}

/// The ConfigMaps churned under the informer.
#[derive(Clone)]
struct ConfigMaps {
    api: Api<ConfigMap>,
    count: usize,
}

impl ConfigMaps {
    async fn create(&self) -> Result<()> {
        for i in 0..self.count {
            let cm: ConfigMap =
                serde_json::from_value(json!({ "metadata": { "name": format!("cm-{i}") }, "data": { "v": "0" } }))?;
            self.api.create(&PostParams::default(), &cm).await?;
        }
        Ok(())
    }

    /// Creates, updates and deletes ConfigMaps at ~40 operations per second
    /// while `writing`; errors (the apiserver down) are ignored.
    async fn churn(self, writing: Arc<AtomicBool>) {
        let mut n: u64 = 0;
        loop {
            if !writing.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            n += 1;
            let name = format!("cm-{}", (n.wrapping_mul(2_654_435_761)) % self.count as u64);
            let op = async {
                match n % 5 {
                    0 => {
                        let _ = self.api.delete(&name, &DeleteParams::default()).await;
                    }
                    1 => {
                        let cm: ConfigMap = serde_json::from_value(
                            json!({ "metadata": { "name": name }, "data": { "v": n.to_string() } }),
                        )
                        .expect("static");
                        let _ = self.api.create(&PostParams::default(), &cm).await;
                    }
                    _ => {
                        let patch = json!({ "data": { "v": n.to_string() } });
                        let _ = self.api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await;
                    }
                }
            };
            let _ = tokio::time::timeout(WRITE_TIMEOUT, op).await;
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The Bots (one Secret, one Event and one EventBinding each) under the operator.
#[derive(Clone)]
struct Bots {
    client: Client,
    count: usize,
}

impl Bots {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), BOT_NS)
    }

    async fn create(&self) -> Result<()> {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": "creds" },
            "stringData": { "channelSecret": "s3cr3t", "channelToken": "t0k3n" },
        }))?;
        self.api::<Secret>().create(&PostParams::default(), &secret).await?;
        for i in 0..self.count {
            let name = format!("bot-{i}");
            let event: Event = serde_json::from_value(json!({
                "apiVersion": "botops.dev/v1alpha1", "kind": "Event",
                "metadata": { "name": format!("{name}-hello"), "labels": { "bot": name } },
                "spec": { "trigger": { "type": "message", "keywords": ["hi"] }, "actions": [{ "reply": "reply-0" }] },
            }))?;
            self.api::<Event>().create(&PostParams::default(), &event).await?;
            let binding: EventBinding = serde_json::from_value(json!({
                "apiVersion": "botops.dev/v1alpha1", "kind": "EventBinding",
                "metadata": { "name": format!("{name}-events") },
                "spec": { "botRef": { "name": name }, "selector": { "matchLabels": { "bot": name } } },
            }))?;
            self.api::<EventBinding>().create(&PostParams::default(), &binding).await?;
            let bot: Bot = serde_json::from_value(json!({
                "apiVersion": "botops.dev/v1alpha1", "kind": "Bot",
                "metadata": { "name": name },
                "spec": { "platform": "line", "image": "example.com/bot-engine:test",
                          "credentialsSecret": "creds", "replicas": 1, "port": 8080 },
            }))?;
            self.api::<Bot>().create(&PostParams::default(), &bot).await?;
        }
        Ok(())
    }

    /// Edits a Bot's replicas or an Event's reply about 5 times a second
    /// while `writing`, counting the edits the apiserver accepted.
    async fn churn(self, writing: Arc<AtomicBool>, mutations: Arc<AtomicU64>) {
        let mut n: u64 = 0;
        loop {
            if !writing.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            n += 1;
            let name = format!("bot-{}", (n.wrapping_mul(2_654_435_761)) % self.count as u64);
            let op = async {
                if n.is_multiple_of(2) {
                    let patch = json!({ "spec": { "replicas": 1 + (n / 2) % 3 } });
                    self.api::<Bot>().patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(drop)
                } else {
                    let patch = json!({ "spec": { "actions": [{ "reply": format!("reply-{n}") }] } });
                    self.api::<Event>()
                        .patch(&format!("{name}-hello"), &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map(drop)
                }
            };
            if let Ok(Ok(())) = tokio::time::timeout(WRITE_TIMEOUT, op).await {
                mutations.fetch_add(1, Ordering::SeqCst);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// What is not (yet) as the operator should make it, from fresh LISTs.
    async fn differences(&self) -> Result<Vec<String>> {
        let lp = ListParams::default();
        let bots = self.api::<Bot>().list(&lp).await?.items;
        let replies: HashMap<String, String> = self
            .api::<Event>()
            .list(&lp)
            .await?
            .items
            .into_iter()
            .map(|e| {
                let reply = serde_json::to_value(&e.spec)
                    .ok()
                    .and_then(|s| s["actions"][0]["reply"].as_str().map(str::to_string));
                (e.name_any(), reply.unwrap_or_default())
            })
            .collect();
        let deployments: HashMap<String, Deployment> =
            self.api::<Deployment>().list(&lp).await?.items.into_iter().map(|d| (d.name_any(), d)).collect();
        let services: HashMap<String, Service> =
            self.api::<Service>().list(&lp).await?.items.into_iter().map(|s| (s.name_any(), s)).collect();
        let rules: HashMap<String, ConfigMap> =
            self.api::<ConfigMap>().list(&lp).await?.items.into_iter().map(|c| (c.name_any(), c)).collect();
        let mut out = Vec::new();
        ensure!(bots.len() == self.count, "{} Bots listed, {} expected", bots.len(), self.count);
        for bot in &bots {
            let name = bot.name_any();
            let applied = bot.status.as_ref().is_some_and(|s| {
                s.observed_generation == bot.metadata.generation
                    && s.conditions.iter().any(|c| c.type_ == "Applied" && c.status == "True")
            });
            if !applied {
                out.push(format!("{name}: status not Applied for generation {:?}", bot.metadata.generation));
            }
            let replicas = deployments.get(&name).and_then(|d| d.spec.as_ref()?.replicas);
            if replicas != Some(bot.spec.replicas) {
                out.push(format!("{name}: Deployment replicas {replicas:?}, spec {}", bot.spec.replicas));
            }
            let port = services.get(&name).and_then(|s| Some(s.spec.as_ref()?.ports.as_ref()?.first()?.port));
            if port != Some(bot.spec.port) {
                out.push(format!("{name}: Service port {port:?}, spec {}", bot.spec.port));
            }
            let reply = replies.get(&format!("{name}-hello")).cloned().unwrap_or_default();
            let rules_json =
                rules.get(&format!("{name}-rules")).and_then(|c| c.data.as_ref()?.get("rules.json").cloned());
            if !rules_json.as_deref().is_some_and(|r| r.contains(&format!("\"{reply}\""))) {
                out.push(format!("{name}: rules without the current reply {reply:?}"));
            }
        }
        Ok(out)
    }
}

/// Every request the operator's client sends: writes as `METHOD path`.
#[derive(Clone, Default)]
struct Traffic {
    writes: Arc<Mutex<Vec<String>>>,
}

impl Traffic {
    fn client(&self, config: kube::Config) -> Result<Client> {
        let writes = self.writes.clone();
        let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
            if req.method() != http::Method::GET {
                writes.lock().unwrap().push(format!("{} {}", req.method(), req.uri().path()));
            }
            req
        });
        Ok(kube::client::ClientBuilder::try_from(config)?.with_layer(&layer).build())
    }

    fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().unwrap())
    }
}

async fn install_crds(client: &Client, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Result<()> {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    for crd in crds {
        let name = crd.name_any();
        api.patch(&name, &PatchParams::apply("chaos").force(), &Patch::Apply(&crd)).await?;
        tokio::time::timeout(CONVERGE_TIMEOUT, await_condition(api.clone(), &name, conditions::is_crd_established()))
            .await
            .with_context(|| format!("CRD {name} not established"))??;
    }
    Ok(())
}

fn report(
    plan: &Plan,
    outcomes: &[Outcome],
    run_time: Duration,
    run_writes: &[String],
    user_mutations: u64,
    steady_writes: &[String],
    anomalies: &[String],
) -> String {
    let mut out = String::new();
    let secs = |d: Duration| d.as_secs_f64();
    let _ = writeln!(
        out,
        "## Chaos run: {} faults, {} ConfigMaps under one informer, {} Bots under the operator, {:.0} s\n",
        outcomes.len(),
        plan.configmaps,
        plan.bots,
        run_time.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "| fault | count | informer converged avg / max (s) | operator converged avg / max (s) | frozen noticed avg / max (s) | relists | informer req/s while down (max) | unhealthy reported |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    let mut by_kind: BTreeMap<Fault, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        by_kind.entry(o.fault).or_default().push(o);
    }
    let avg_max = |v: &[f64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            format!("{:.2} / {:.2}", v.iter().sum::<f64>() / v.len() as f64, v.iter().copied().fold(0.0, f64::max))
        }
    };
    for (fault, list) in &by_kind {
        let inf: Vec<f64> = list.iter().map(|o| secs(o.informer_converged)).collect();
        let op: Vec<f64> = list.iter().map(|o| secs(o.operator_converged)).collect();
        let det: Vec<f64> = list.iter().filter_map(|o| o.detected.map(secs)).collect();
        let rate = list
            .iter()
            .filter_map(|o| o.down_request_rate)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
        let unhealthy = list.iter().filter(|o| o.unhealthy_seen).count();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {unhealthy}/{} |",
            fault.name(),
            list.len(),
            avg_max(&inf),
            avg_max(&op),
            avg_max(&det),
            list.iter().map(|o| o.relists).sum::<u64>(),
            rate.map_or("-".to_string(), |r| format!("{r:.2}")),
            list.len(),
        );
    }
    let all_inf: Vec<f64> = outcomes.iter().map(|o| secs(o.informer_converged)).collect();
    let all_op: Vec<f64> = outcomes.iter().map(|o| secs(o.operator_converged)).collect();
    let _ = writeln!(out, "| **all** | {} | {} | {} | | | | |\n", outcomes.len(), avg_max(&all_inf), avg_max(&all_op));
    let differences: usize = outcomes.iter().map(|o| o.differences).sum();
    let _ = writeln!(
        out,
        "- differences from a fresh LIST after convergence: {differences} (informer cache and handler model, keys and resourceVersions; operator: every Bot's children and status)"
    );
    let _ = writeln!(out, "- handler anomalies (update for an absent key, add for a present one): {}", anomalies.len());
    let mut by_target: BTreeMap<String, usize> = BTreeMap::new();
    for w in run_writes {
        let mut parts = w.splitn(2, ' ');
        let method = parts.next().unwrap_or_default();
        let path = parts.next().unwrap_or_default();
        let segments: Vec<&str> = path.split('/').collect();
        // .../namespaces/NS/RESOURCE/NAME[/status]
        let resource =
            segments.iter().position(|s| *s == "namespaces").and_then(|i| segments.get(i + 2)).copied().unwrap_or(path);
        let sub = if path.ends_with("/status") { "/status" } else { "" };
        *by_target.entry(format!("{method} {resource}{sub}")).or_default() += 1;
    }
    let _ = writeln!(
        out,
        "- operator writes during the faults: {} for {} user mutations = {:.2} per mutation ({})",
        run_writes.len(),
        user_mutations,
        run_writes.len() as f64 / user_mutations.max(1) as f64,
        by_target.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        out,
        "- operator writes in a steady state (12 s, resync every 5 s, {} unchanged Bots): {}",
        plan.bots,
        steady_writes.len()
    );
    out
}
