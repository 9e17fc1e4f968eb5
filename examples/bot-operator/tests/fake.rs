//! Unit tests of the operator on the fake API server (`bot_runtime::fake`):
//! `bot_operator::run` starts its informers, listers, handlers and workers
//! unchanged against an in-memory apiserver, so each behaviour is checked
//! end to end in-process, in milliseconds, with no control plane
//! (tests/tests/operator.rs runs the same behaviours on a real one).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result};
use bot_api::v1alpha1::{Bot, BotStatus, Event, EventBinding};
use bot_operator::{Config, FIELD_MANAGER, resources};
use bot_runtime::{
    fake::{FakeCluster, status},
    server::SharedRegistry,
};
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Secret, Service},
    },
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::{sync::oneshot, task::JoinHandle};

const NS: &str = "default";

/// The operator running on a fake cluster.
struct Operator {
    cluster: FakeCluster,
    client: Client,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<()>>,
    started: Instant,
}

impl Operator {
    /// A fake cluster with the CRDs, and the operator on it (no resync, so
    /// that every write a test sees comes from a change).
    fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        // RUST_LOG=bot_operator=debug shows what the operator does.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let cluster = bot_api::clientset::fake::cluster(); // the generated fake clientset's cluster
        let client = cluster.client();
        let mut config = Config {
            namespace: Some(NS.into()),
            resync: None,
            missing_secret_retry: Duration::from_secs(600),
            ..Config::default()
        };
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(bot_operator::run(client.clone(), config, async move {
            let _ = stopped.await;
        }));
        Operator { cluster, client, stop, task, started: Instant::now() }
    }

    fn api<K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), NS)
    }

    async fn create<K>(&self, obj: Value) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let obj: K = serde_json::from_value(obj)?;
        Ok(self.api::<K>().create(&PostParams::default(), &obj).await?)
    }

    async fn secret(&self, name: &str) -> Result<()> {
        self.create::<Secret>(json!({ "metadata": { "name": name }, "stringData": { "channelSecret": "s" } })).await?;
        Ok(())
    }

    async fn event(&self, name: &str, bot: &str, reply: &str) -> Result<Event> {
        self.create(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Event",
            "metadata": { "name": name, "labels": { "bot": bot } },
            "spec": { "trigger": { "type": "message", "keywords": [name] }, "actions": [{ "reply": reply }] },
        }))
        .await
    }

    async fn binding(&self, name: &str, bot: &str) -> Result<EventBinding> {
        self.create(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "EventBinding",
            "metadata": { "name": name },
            "spec": { "botRef": { "name": bot }, "selector": { "matchLabels": { "bot": bot } } },
        }))
        .await
    }

    async fn bot(&self, name: &str, secret: &str, replicas: i32, port: i32) -> Result<Bot> {
        self.create(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "metadata": { "name": name },
            "spec": { "platform": "line", "credentialsSecret": secret, "replicas": replicas, "port": port,
                      "image": "example.com/bot-engine:test" },
        }))
        .await
    }

    /// The Bot's status once `ok` holds.
    async fn status(&self, bot: &str, what: &str, ok: impl Fn(&BotStatus) -> bool) -> Result<BotStatus> {
        let bots = self.api::<Bot>();
        until(what, || async { Ok(bots.get(bot).await?.status.filter(|s| ok(s))) }).await
    }

    /// Object `name` once it exists and `ok` holds.
    async fn object<K>(&self, name: &str, ok: impl Fn(&K) -> bool) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    {
        let api = self.api::<K>();
        until(&format!("{} {name}", K::kind(&())), || async { Ok(api.get_opt(name).await?.filter(|o| ok(o))) }).await
    }

    /// Writes (create, update, patch, delete) recorded so far, as `verb resource/name`.
    fn writes(&self) -> Vec<String> {
        self.cluster
            .actions()
            .into_iter()
            .filter(|a| matches!(a.verb.as_str(), "create" | "update" | "patch" | "delete"))
            .filter(|a| a.group != "events.k8s.io")
            .map(|a| format!("{} {}/{}", a.verb, a.resource, a.name.unwrap_or_default()))
            .collect()
    }

    /// Stops the operator; returns how long the test ran (at most 5 s).
    async fn stop(self, test: &str) -> Result<Duration> {
        self.stop_within(test, Duration::from_secs(5)).await
    }

    /// Stops the operator; returns how long the test ran (at most `limit`).
    async fn stop_within(self, test: &str, limit: Duration) -> Result<Duration> {
        let elapsed = self.started.elapsed();
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task).await.context("operator did not stop")???;
        eprintln!("{test}: {elapsed:?} on the fake API server");
        anyhow::ensure!(elapsed < limit, "{test} took {elapsed:?}");
        Ok(elapsed)
    }
}

/// Polls `check` every 2 ms until it yields `Some`, for at most 5 s.
async fn until<T, F, Fut>(what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn condition<'a>(
    status: &'a BotStatus,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

fn is(status: &BotStatus, type_: &str, value: &str) -> bool {
    condition(status, type_).is_some_and(|c| c.status == value)
}

fn rules_json(cm: &ConfigMap) -> String {
    cm.data.as_ref().and_then(|d| d.get(resources::RULES_KEY).cloned()).unwrap_or_default()
}

fn rules_checksum(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(resources::RULES_CHECKSUM_ANNOTATION)
        .cloned()
}

/// A Bot gets its Deployment, Service and rules ConfigMap (all controlled
/// by it, owned by the operator's apply manager alone) and an honest status.
#[tokio::test]
async fn bot_gets_its_children_and_status() -> Result<()> {
    let op = Operator::start(|_| {});
    op.secret("creds").await?;
    op.event("hello", "greeter", "Hello there!").await?;
    op.event("bye", "greeter", "Goodbye!").await?;
    op.event("other", "someone-else", "Not mine").await?;
    op.binding("greetings", "greeter").await?;
    let bot = op.bot("greeter", "creds", 2, 9090).await?;

    let status = op
        .status("greeter", "Applied=True, two events", |s| is(s, "Applied", "True") && s.bound_event_count == 2)
        .await?;
    assert!(is(&status, "CredentialsFound", "True") && is(&status, "RulesResolved", "True"), "{status:?}");
    assert!(is(&status, "Available", "False") && is(&status, "Ready", "False"), "{status:?}");
    assert_eq!(condition(&status, "Ready").map(|c| c.reason.as_str()), Some("EngineNotReady"));
    assert_eq!(status.bound_events, ["greetings/bye", "greetings/hello"]);
    assert_eq!(status.endpoint.as_deref(), Some("http://greeter.default.svc:9090/webhook/line"));
    assert_eq!(status.observed_generation, bot.metadata.generation);

    let cm = op.object::<ConfigMap>("greeter-rules", |_| true).await?;
    assert!(resources::controlled_by(&cm.metadata, &bot));
    let rules: Value = serde_json::from_str(&rules_json(&cm))?;
    let events: Vec<_> = rules["rules"].as_array().context("rules")?.iter().map(|r| r["event"].clone()).collect();
    assert_eq!(events, [json!("bye"), json!("hello")]);
    assert!(!rules_json(&cm).contains("Not mine"));

    let deploy = op.object::<Deployment>("greeter", |_| true).await?;
    assert!(resources::controlled_by(&deploy.metadata, &bot));
    let spec = deploy.spec.as_ref().context("spec")?;
    assert_eq!(spec.replicas, Some(2));
    let container = &spec.template.spec.as_ref().context("pod spec")?.containers[0];
    assert_eq!(container.image.as_deref(), Some("example.com/bot-engine:test"));
    let env_from = container.env_from.as_ref().context("envFrom")?;
    assert_eq!(env_from[0].secret_ref.as_ref().map(|s| s.name.as_str()), Some("creds"));
    // Created, then handed to the apply manager: one owner, by apply.
    let owners: Vec<_> = deploy.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert_eq!(owners, [(Some(FIELD_MANAGER.to_string()), Some("Apply".to_string()))]);

    let svc = op.object::<Service>("greeter", |_| true).await?;
    assert!(resources::controlled_by(&svc.metadata, &bot));
    assert_eq!(svc.spec.as_ref().and_then(|s| s.ports.as_ref()).map(|p| p[0].port), Some(9090));

    let binding = op.api::<EventBinding>().get("greetings").await?;
    let bstatus = binding.status.context("binding status")?;
    assert_eq!((bstatus.events, bstatus.event_count), (vec!["bye".to_string(), "hello".to_string()], 2));
    op.stop("bot_gets_its_children_and_status").await?;
    Ok(())
}

/// A user's Service named like the Bot is never adopted: the Bot says
/// `ResourceExists`, nothing is written to the Service and nothing else is
/// made; once the name is free the Bot gets its own.
#[tokio::test]
async fn a_users_service_is_not_adopted() -> Result<()> {
    let op = Operator::start(|c| c.conflict_retry = Duration::from_millis(20));
    op.secret("creds").await?;
    let user: Service = op
        .create(json!({ "metadata": { "name": "taken" }, "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] } }))
        .await?;
    op.bot("taken", "creds", 1, 8080).await?;
    let status = op
        .status("taken", "Applied=False, ResourceExists", |s| {
            condition(s, "Applied").is_some_and(|c| c.status == "False" && c.reason == "ResourceExists")
        })
        .await?;
    let message = &condition(&status, "Ready").context("Ready")?.message;
    assert!(message.contains("Service default/taken already exists"), "{message}");
    // Several retries later: the Service untouched, no Deployment beside it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(op.api::<Service>().get("taken").await?.resource_version(), user.resource_version());
    assert!(op.api::<Deployment>().get_opt("taken").await?.is_none());
    assert!(
        !op.writes().iter().any(|w| w == "patch services/taken" || w == "update services/taken"),
        "{:?}",
        op.writes()
    );

    op.api::<Service>().delete("taken", &DeleteParams::default()).await?;
    op.status("taken", "Applied=True once the name is free", |s| is(s, "Applied", "True")).await?;
    let bot = op.api::<Bot>().get("taken").await?;
    op.object::<Service>("taken", |s| resources::controlled_by(&s.metadata, &bot)).await?;
    op.stop("a_users_service_is_not_adopted").await?;
    Ok(())
}

/// Editing an Event rewrites the rules ConfigMap and rolls the pod
/// template, in exactly two writes (the ConfigMap and the Deployment).
#[tokio::test]
async fn editing_an_event_updates_the_rules() -> Result<()> {
    let op = Operator::start(|_| {});
    op.secret("creds").await?;
    let event = op.event("hello", "echo", "Version one").await?;
    op.binding("echo-events", "echo").await?;
    op.bot("echo", "creds", 1, 8080).await?;
    op.object::<ConfigMap>("echo-rules", |cm| rules_json(cm).contains("Version one")).await?;
    let before = rules_checksum(&op.object::<Deployment>("echo", |d| rules_checksum(d).is_some()).await?);
    op.status("echo", "Applied=True", |s| is(s, "Applied", "True")).await?;
    settle(&op).await;

    op.cluster.clear_actions();
    let mut edited = event;
    edited.spec.actions[0].reply = "Version two".into();
    op.api::<Event>().replace("hello", &PostParams::default(), &edited).await?;
    let cm = op.object::<ConfigMap>("echo-rules", |cm| rules_json(cm).contains("Version two")).await?;
    assert!(!rules_json(&cm).contains("Version one"));
    op.object::<Deployment>("echo", |d| rules_checksum(d).is_some() && rules_checksum(d) != before).await?;
    settle(&op).await;
    let writes: Vec<_> = op.writes().into_iter().filter(|w| !w.starts_with("update events/")).collect();
    assert_eq!(writes, ["patch configmaps/echo-rules", "patch deployments/echo"]);
    op.stop("editing_an_event_updates_the_rules").await?;
    Ok(())
}

/// Waits until no write happened for 50 ms.
async fn settle(op: &Operator) {
    let mut last = op.cluster.resource_version();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = op.cluster.resource_version();
        if now == last {
            return;
        }
        last = now;
    }
}

/// Without its Secret a Bot says `CredentialsFound=False` and nothing is
/// applied; the Secret informer reacts when it appears.
#[tokio::test]
async fn missing_secret_is_a_status_until_it_appears() -> Result<()> {
    let op = Operator::start(|_| {});
    op.bot("patient", "late-creds", 1, 8080).await?;
    let status = op.status("patient", "CredentialsFound=False", |s| is(s, "CredentialsFound", "False")).await?;
    assert_eq!(condition(&status, "CredentialsFound").map(|c| c.reason.as_str()), Some("SecretNotFound"));
    assert!(op.api::<Deployment>().get_opt("patient").await?.is_none());
    op.secret("late-creds").await?;
    op.status("patient", "CredentialsFound=True and applied", |s| {
        is(s, "CredentialsFound", "True") && is(s, "Applied", "True")
    })
    .await?;
    op.object::<Deployment>("patient", |_| true).await?;
    op.stop("missing_secret_is_a_status_until_it_appears").await?;
    Ok(())
}

/// Once reconciled, an unchanged Bot costs no write at all.
#[tokio::test]
async fn steady_state_writes_nothing() -> Result<()> {
    let op = Operator::start(|_| {});
    op.secret("creds").await?;
    op.bot("calm", "creds", 1, 8080).await?;
    op.status("calm", "Applied=True", |s| is(s, "Applied", "True")).await?;
    settle(&op).await;
    op.cluster.clear_actions();
    // A no-op touch of the Bot (same spec) triggers a reconcile.
    op.api::<Bot>()
        .patch(
            "calm",
            &PatchParams::default(),
            &Patch::Merge(json!({ "metadata": { "labels": { "touched": "yes" } } })),
        )
        .await?;
    settle(&op).await;
    let writes: Vec<_> = op.writes().into_iter().filter(|w| w != "patch bots/calm").collect();
    assert!(writes.is_empty(), "{writes:?}");
    op.stop("steady_state_writes_nothing").await?;
    Ok(())
}

/// A failing API call (injected by a reactor) shows in the Bot's status
/// (`ApplyFailed`) and is retried once the API works again.
#[tokio::test]
async fn api_failures_show_in_the_status_and_are_retried() -> Result<()> {
    let op = Operator::start(|_| {});
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    op.cluster.prepend_reactor("create", "deployments", move |_| {
        flag.load(Ordering::SeqCst).then(|| Err(status::internal_error("etcd is on fire")))
    });
    op.secret("creds").await?;
    op.bot("unlucky", "creds", 1, 8080).await?;
    let status = op
        .status("unlucky", "Ready=False, ApplyFailed", |s| {
            condition(s, "Ready").is_some_and(|c| c.reason == "ApplyFailed")
        })
        .await?;
    assert!(condition(&status, "Ready").is_some_and(|c| c.message.contains("etcd is on fire")), "{status:?}");
    broken.store(false, Ordering::SeqCst);
    op.status("unlucky", "Applied=True after the retry", |s| is(s, "Applied", "True")).await?;
    op.stop("api_failures_show_in_the_status_and_are_retried").await?;
    Ok(())
}

/// Secrets are only ever listed and watched metadata-only: the operator
/// never receives their data.
#[tokio::test]
async fn secrets_are_read_metadata_only() -> Result<()> {
    let op = Operator::start(|_| {});
    op.secret("creds").await?;
    op.bot("private", "creds", 1, 8080).await?;
    op.status("private", "Applied=True", |s| is(s, "Applied", "True")).await?;
    let reads: Vec<_> =
        op.cluster.actions().into_iter().filter(|a| a.resource == "secrets" && a.verb != "create").collect();
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|a| a.metadata_only && matches!(a.verb.as_str(), "list" | "watch")), "{reads:?}");
    op.stop("secrets_are_read_metadata_only").await?;
    Ok(())
}

/// Ready follows the engine Deployment's availability (its status written
/// here as the deployment controller would).
#[tokio::test]
async fn ready_follows_the_deployment_status() -> Result<()> {
    let op = Operator::start(|_| {});
    op.secret("creds").await?;
    op.bot("lively", "creds", 1, 8080).await?;
    let deploy = op.object::<Deployment>("lively", |_| true).await?;
    let status = json!({ "status": {
        "observedGeneration": deploy.metadata.generation, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [{ "type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "ok" }],
    } });
    op.api::<Deployment>().patch_status("lively", &PatchParams::default(), &Patch::Merge(status)).await?;
    let status = op.status("lively", "Ready=True", |s| is(s, "Ready", "True")).await?;
    assert_eq!(status.ready_replicas, Some(1));
    op.stop("ready_follows_the_deployment_status").await?;
    Ok(())
}

/// How many Bots the steady-state tests create: `STEADY_STATE_BOTS`
/// (`make steady-state` sets 1,000), else `default`.
fn steady_state_bots(default: usize) -> usize {
    std::env::var("STEADY_STATE_BOTS").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// `controller_runtime_reconcile_total` of the operator's controller, all results.
fn reconciles(registry: &SharedRegistry) -> u64 {
    let text = registry.encode();
    text.lines()
        .filter(|l| l.starts_with("controller_runtime_reconcile_total{controller=\"bot\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// When each Bot was first seen with `Applied=True`, by name (a watch, so
/// that following 1,000 Bots costs the fake API server little).
fn watch_applied(op: &Operator) -> (Arc<Mutex<HashMap<String, Instant>>>, JoinHandle<()>) {
    use futures::StreamExt as _;
    use kube::runtime::{WatchStreamExt as _, watcher};
    let applied = Arc::new(Mutex::new(HashMap::new()));
    let (seen, bots) = (applied.clone(), op.api::<Bot>());
    let task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(watcher(bots, watcher::Config::default()).applied_objects());
        while let Some(Ok(bot)) = stream.next().await {
            if bot.status.as_ref().is_some_and(|s| is(s, "Applied", "True")) {
                seen.lock().unwrap().entry(bot.name_any()).or_insert_with(Instant::now);
            }
        }
    });
    (applied, task)
}

/// Unchanged Bots cost no write over resyncs, at scale: `n` Bots (100;
/// 1,000 with `make steady-state`) converge (each reports `Applied=True`),
/// then the operator is watched over resyncs (every 400 ms) until it has
/// run three reconciles per Bot more: it writes nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_unchanged_bots_write_nothing_over_resyncs() -> Result<()> {
    const RESYNC: Duration = Duration::from_millis(400);
    let n = steady_state_bots(100);
    let registry = SharedRegistry::default();
    let op = Operator::start(|c| {
        c.resync = Some(RESYNC);
        c.registry = registry.clone();
    });
    op.secret("creds").await?;
    let (applied, watching) = watch_applied(&op);
    let mut created = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("bot-{i:04}");
        op.bot(&name, "creds", 1, 8080).await?;
        created.push((name, Instant::now()));
    }
    let all_created = op.started.elapsed();

    // Convergence, reporting progress: a Bot whose key got lost would stay
    // pending while Bots created after it converge.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut report = Instant::now();
    loop {
        let pending: Vec<&str> = {
            let applied = applied.lock().unwrap();
            created.iter().filter(|(name, _)| !applied.contains_key(name)).map(|(name, _)| name.as_str()).collect()
        };
        if pending.is_empty() {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{} Bots never Applied: {:?}", pending.len(), &pending[..]);
        if report.elapsed() >= Duration::from_secs(10) {
            eprintln!("{:.0?}: {} of {n} Bots pending, oldest {}", op.started.elapsed(), pending.len(), pending[0]);
            report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watching.abort();
    let converged = op.started.elapsed();
    let mut latency: Vec<(Duration, &str)> = {
        let applied = applied.lock().unwrap();
        created.iter().map(|(name, at)| (applied[name].saturating_duration_since(*at), name.as_str())).collect()
    };
    latency.sort();
    let (p50, p99, max) = (latency[n / 2].0, latency[n * 99 / 100].0, latency[n - 1]);
    eprintln!(
        "{n} Bots created in {all_created:.1?}, all Applied after {converged:.1?}; create to Applied: \
         p50 {p50:.1?}, p99 {p99:.1?}, max {:.1?} ({})",
        max.0, max.1
    );

    // Steady state: resyncs (of the Bots and their children) reconcile
    // every Bot again and again; 3n reconciles is several rounds.
    settle(&op).await;
    op.cluster.clear_actions();
    let (before, since) = (reconciles(&registry), Instant::now());
    let wanted = before + 3 * u64::try_from(n)?;
    while reconciles(&registry) < wanted {
        anyhow::ensure!(since.elapsed() < Duration::from_secs(300), "resyncs did not reconcile every Bot");
        tokio::time::sleep(RESYNC).await;
    }
    let window = since.elapsed();
    let writes: Vec<_> = op
        .cluster
        .actions()
        .into_iter()
        .filter(|a| matches!(a.verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection"))
        .map(|a| format!("{} {}/{}", a.verb, a.resource, a.name.unwrap_or_default()))
        .collect();
    eprintln!(
        "steady state: {} reconciles of {n} unchanged Bots in {window:.1?} (resync every {RESYNC:?}), {} writes",
        reconciles(&registry) - before,
        writes.len()
    );
    anyhow::ensure!(writes.is_empty(), "writes in a steady state: {:?}", &writes[..writes.len().min(20)]);
    op.stop_within("many_unchanged_bots_write_nothing_over_resyncs", Duration::from_secs(900)).await?;
    Ok(())
}
