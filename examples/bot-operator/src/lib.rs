//! Chatbot as a service: an operator reconciling `Bot`, `Event` and
//! `EventBinding` (`botops.dev/v1alpha1`) into a Deployment, a Service and a
//! rules ConfigMap per Bot.
//!
//! Built only from the generated code of `bot-api` (informers, listers,
//! clientset) and `bot-runtime` (shared informers of core kinds, workqueue,
//! controller). One informer factory watches Bots, Events, EventBindings,
//! Deployments, Services, ConfigMaps and Secrets; event handlers map every
//! change to the keys of the Bots it affects (see [`index`] for the reverse
//! lookups); a [`Controller`] with two workers reconciles Bot keys.
//!
//! # Reconciling a Bot
//!
//! 1. Its EventBindings (index [`index::BINDING_BY_BOT`]) are resolved to the
//!    Events their selectors match; each binding's status (`events`,
//!    `eventCount`, `observedGeneration`) is written.
//! 2. If the Secret named by `spec.credentialsSecret` is not in the cache, the
//!    Bot gets `CredentialsFound=False` (reason `SecretNotFound`) and
//!    `Ready=False`, nothing is applied, and the key is requeued after
//!    [`Config::missing_secret_retry`] (the Secret informer also triggers a
//!    reconcile as soon as the Secret appears). This is a status, not an error.
//!    Secrets are watched **metadata-only**: the operator never receives
//!    their data, and kubectl's last-applied annotation is dropped before
//!    caching.
//! 3. **Never adopt**: the ConfigMap `<bot>-rules`, the Deployment `<bot>`
//!    and the Service `<bot>` must each be absent or controlled by this Bot
//!    (a controller owner reference with the Bot's UID). If one exists
//!    otherwise (a user's Service of the same name, an object of a deleted
//!    Bot of the same name that is still being garbage-collected), nothing
//!    is written to any of them: the Bot gets `Applied=False` and
//!    `Ready=False` with reason `ResourceExists` naming the object, and is
//!    looked at again after [`Config::conflict_retry`]. Absent children are
//!    created (a create fails on a name taken meanwhile, so a race cannot
//!    take a user's object over either); controlled ones are server-side
//!    applied (field manager [`FIELD_MANAGER`], forced: the operator owns the
//!    fields it sets on its own objects). Deleting the Bot garbage-collects
//!    them.
//! 4. The Bot's status is applied through the status subresource, only when
//!    it changed.
//!
//! # Conditions
//!
//! | type | true when |
//! |---|---|
//! | `CredentialsFound` | the Secret exists |
//! | `Applied` | the three children are applied as the Bot asks |
//! | `Available` | the engine Deployment is available: its `Available` condition is true and a replica is ready |
//! | `Ready` | all three above: the bot can answer |
//! | `RulesResolved` | every EventBinding's selector is valid |
//!
//! On a control plane without kubelets (the tests and `make demo`), pods
//! stay Pending: `Applied=True`, `Available=False`, `Ready=False`.
//!
//! The pod template carries a checksum of the rules and the credentials
//! Secret's `resourceVersion`: editing an Event or rotating the credentials
//! rolls the engine's pods (the engine reads credentials from its
//! environment; it reloads rules by itself, the roll is a safety net).
//!
//! Failed API calls are logged by the controller and the key is requeued
//! with rate limiting; the Bot's `Ready` condition then says `ApplyFailed`.

pub mod index;
pub mod resources;

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context as _;
use bot_api::{
    applyconfigurations::botops_v1alpha1::{BotApply, BotStatusApply, EventBindingApply, EventBindingStatusApply},
    clientset::Clientset,
    informers::SharedInformerFactory,
    listers::botops_v1alpha1::{BotLister, EventBindingLister, EventLister},
    v1alpha1::{Bot, BotStatus, Event, EventBinding, EventBindingStatus},
};
use bot_derive::rbac;
use bot_runtime::{
    Action, Controller, HandlerFuncs, InformerFactory, Lister, ObjectKey, Priority, TypedClient, WorkQueue,
    events::{EventRecorder, EventType, Reporter},
    factory::KindScope,
    informer::SharedIndexInformer,
    leader::{LeaderElectionConfig, LeaderElector, LeaderQueue},
    metrics::RuntimeMetrics,
    reflector::Undecodable,
    server::{OperatorServer, SharedRegistry, informer_healthy, leadership},
};
use futures::FutureExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, ObjectReference, Secret, Service},
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, CustomResourceExt, Resource,
    api::{DeleteParams, PartialObjectMeta, PatchParams, PostParams, Preconditions},
};
use serde::de::DeserializeOwned;

use crate::{
    index::{binding_selector, bindings_selecting, bound_bot_key, controller_bot_key},
    resources::{APPLIED, AVAILABLE, CREDENTIALS_FOUND, READY, RULES_RESOLVED, Resolution, condition},
};

/// Field manager of every server-side apply of the operator.
pub const FIELD_MANAGER: &str = "bot-operator";

/// The parameters of every server-side apply of the operator: its field
/// manager, forced (it owns the fields it sets on its own objects).
fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// kubectl's annotation holding the last applied object, Secret data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How long the operator's client waits for bytes from the apiserver
/// before giving up on a request (see [`client_config`]).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// `config` with the operator's client timeouts: what the `bot-operator`
/// binary runs with, and what to use when running [`run`] yourself.
///
/// Without a read timeout, a request sent on a pooled connection that died
/// silently (a partition, a dead load balancer: no FIN, no RST) waits
/// forever, holding a worker and its Bot's key: that Bot is never
/// reconciled again while the others are.
///
/// kube 5 applies [`kube::Config::read_timeout`] to each connection
/// (hyper-timeout's `TimeoutConnector`): it bounds every wait for bytes on
/// the socket, not a whole request, so it also applies to the long
/// responses of watches, whose bytes come only with events. Every watch the
/// operator runs (each informer's, and leader election's watch of its Lease)
/// is one of the runtime's, which asks the apiserver to end it after 15-20 s
/// ([`bot_runtime::reflector::DEFAULT_WATCH_TIMEOUT`]); so a healthy watch
/// is never silent for more than 20 s, and 30 s leaves 10 s of slack. It is
/// also longer than kube's own idle limit on a watch (its timeout plus
/// 5 s, at most 25 s), which therefore notices a dead watch first. Were the
/// read timeout to end a watch anyway, kube would end that watch's stream
/// and the watcher resume from its last resourceVersion (no relist). (A kube
/// watcher left at its default 290-second timeout on a quiet kind would be
/// cut every 30 s this way: the operator runs none.)
///
/// With `reset_reader_on_write` the 30 s count from when a request is
/// sent, not from when its pooled connection went idle (up to 90 s
/// earlier), as kube's documentation advises.
pub fn client_config(mut config: kube::Config) -> kube::Config {
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    config
}

/// The CRDs of the three kinds (Bot, Event, EventBinding).
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![Bot::crd(), Event::crd(), EventBinding::crd()]
}

/// The CRDs as a multi-document YAML stream (what `manifests/crds/` holds, one file each).
pub fn crds_yaml() -> anyhow::Result<String> {
    let mut out = String::from("# Generated by `bot-operator --print-crds`; do not edit.\n");
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}

/// Options of the operator.
#[derive(Clone, Debug)]
pub struct Config {
    /// Watch only this namespace (default: all namespaces).
    pub namespace: Option<String>,
    /// Concurrent reconciles (default 2).
    pub workers: usize,
    /// Informer resync period: every Bot is reconciled again at least this
    /// often (default 10 minutes).
    pub resync: Option<Duration>,
    /// How soon a Bot whose Secret is missing is looked at again, besides the
    /// Secret informer's own trigger (default 60 s).
    pub missing_secret_retry: Duration,
    /// How soon a Bot whose child name is taken by an object it does not
    /// control is looked at again (default 30 s): that object is not
    /// watched (it lacks the operator's label), so its removal is noticed
    /// by this retry.
    pub conflict_retry: Duration,
    /// Leader election (default: none, every instance reconciles). With it,
    /// every replica keeps its caches synced and only the lease holder
    /// reconciles; a new leader starts at once from a warm cache. The
    /// `bot-operator` binary turns it on by default.
    pub leader_election: Option<LeaderElectionConfig>,
    /// Where to serve `/metrics`, `/healthz` and `/readyz` (default: not
    /// served). `/readyz` passes once every informer has synced (and, with
    /// leader election, while a leader is within its renew deadline).
    pub http_address: Option<std::net::SocketAddr>,
    /// The registry `/metrics` serves; the operator registers its own
    /// metrics in it. Pass yours to add metrics of your own.
    pub registry: SharedRegistry,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: None,
            workers: 2,
            resync: Some(Duration::from_secs(600)),
            missing_secret_retry: Duration::from_secs(60),
            conflict_retry: Duration::from_secs(30),
            leader_election: None,
            http_address: None,
            registry: SharedRegistry::default(),
        }
    }
}

/// What the reconciler reads and writes with.
struct Context {
    client: Client,
    clientset: Clientset,
    bots: BotLister,
    events: EventLister,
    bindings: EventBindingLister,
    /// Secrets, metadata only: the operator never receives their data.
    secrets: Lister<PartialObjectMeta<Secret>>,
    deployments: Lister<Deployment>,
    services: Lister<Service>,
    configmaps: Lister<ConfigMap>,
    /// Per owned object (`Kind ns/name`): the stamp last applied and the
    /// `resourceVersion` that write replaced, to tell a lagging cache from
    /// a change by someone else.
    written: parking_lot::Mutex<std::collections::HashMap<String, (String, Option<String>)>>,
    /// Kubernetes Events about Bots (their transitions).
    recorder: EventRecorder,
    config: Config,
}

/// Restricts a watch to the objects this operator manages (label
/// `app.kubernetes.io/managed-by=bot-operator`, set on everything it applies).
fn owned_only(config: &mut kube::runtime::watcher::Config) {
    config.label_selector = Some(format!("app.kubernetes.io/managed-by={}", FIELD_MANAGER));
}

/// Runs the operator until `shutdown` completes: starts the informers,
/// waits for their caches, then reconciles Bots with [`Config::workers`]
/// workers. Returns early (with `Ok`) if `shutdown` completes while the
/// caches are still syncing (for example while the CRDs are not installed).
// RBAC (bot-gen writes manifests/rbac.yaml from these markers): informers
// list and watch; Bots are read from the cache only; of the kinds it owns,
// the operator watches its own objects (by label); Secrets metadata-only,
// so it never receives their data (and has no `get`).
#[rbac(groups = "botops.dev", resources = ["bots", "events", "eventbindings"], verbs = ["list", "watch"])]
#[rbac(groups = "apps", resources = "deployments", verbs = ["list", "watch"])]
#[rbac(groups = "", resources = ["services", "configmaps", "secrets"], verbs = ["list", "watch"])]
// Leader election on the Lease `bot-operator` in `botops-system` (the
// deployed defaults): candidates get and watch it, the winner creates or
// updates it.
#[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = "create", namespace = "botops-system")]
#[rbac(
    groups = "coordination.k8s.io",
    resources = "leases",
    verbs = ["get", "list", "watch", "update"],
    resource_names = "bot-operator",
    namespace = "botops-system"
)]
pub async fn run(
    client: Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let shutdown = shutdown.boxed().shared();
    // The cache keeps what reconciling needs: no managedFields anywhere (the
    // informers skip them while parsing, by default), and no credentials (the
    // operator only checks that the Secret exists; pods read it through
    // secretKeyRef).
    // workqueue_*, controller_runtime_*, reflector_*/informer_* and
    // leader_election_master_status, served at /metrics.
    let metrics = config.registry.with(RuntimeMetrics::register);
    let mut core = InformerFactory::new(client.clone(), config.resync)
        .with_metrics(&metrics)
        // Secrets come metadata-only; kubectl's last-applied annotation
        // would hold their data in clear, so it is never cached either.
        .with_transform_for::<PartialObjectMeta<Secret>>(|secret| {
            if let Some(annotations) = secret.metadata.annotations.as_mut() {
                annotations.remove(LAST_APPLIED);
            }
        })
        // Of the kinds it owns, the operator watches only what it made.
        .with_tweak_list_options_for::<Deployment>(owned_only)
        .with_tweak_list_options_for::<Service>(owned_only)
        .with_tweak_list_options_for::<ConfigMap>(owned_only);
    if let Some(ns) = &config.namespace {
        core = core.with_namespace(ns.clone());
    }
    let factory = SharedInformerFactory::from_core(core);
    // Every replica runs the informers (warm standby); keys are queued only
    // while this replica leads (always, without leader election).
    let queue = {
        let metrics = metrics.clone();
        LeaderQueue::<ObjectKey>::with_queue(move || WorkQueue::new().with_metrics("bot", &metrics))
    };

    let botops = factory.botops().v1alpha1();
    let (bots, events, bindings) = (botops.bots(), botops.events(), botops.event_bindings());
    // An object the operator cannot decode (a platform its Platform enum
    // lacks, say) is skipped; its owner sees why in `kubectl describe`.
    let recorder = EventRecorder::new(client.clone(), reporter(&config));
    report_undecodable(bots.informer(), &recorder);
    report_undecodable(events.informer(), &recorder);
    report_undecodable(bindings.informer(), &recorder);
    bots.informer().add_indexer(index::BOT_BY_SECRET, index::bot_by_secret());
    bindings.informer().add_indexer(index::BINDING_BY_BOT, index::binding_by_bot());
    bindings.informer().add_indexer(index::BINDING_BY_SELECTOR_LABEL, index::binding_by_selector_label());

    // Bot: itself, on every change, status-only ones included: a status
    // another writer changed is restored once (the reconcile writes only
    // what differs, so its own status write ends there).
    bots.informer().add_event_handler(queue.object_key_handler());

    // Only the Bots' handler (and the EventBindings', whose status is
    // written even when their Bot is missing) resync: resyncing the Bot's
    // children, Secrets and Events too would only queue the same Bots again
    // (a reconcile reads all of them from the caches anyway), three to four
    // times per period instead of once (measured with 1,000 Bots).

    // Owned objects: their controlling Bot.
    watch_owned::<Deployment>(&factory, &queue);
    watch_owned::<Service>(&factory, &queue);
    watch_owned::<ConfigMap>(&factory, &queue);

    // Secret: the Bots naming it, through the bot-by-secret index.
    let secrets = factory.core().metadata_informer_for::<Secret>();
    let bot_lister = bots.lister();
    let no_resync = None;
    secrets.add_event_handler_with_resync(
        fan_out(queue.clone(), move |s: &PartialObjectMeta<Secret>| {
            let ns = s.metadata.namespace.as_deref().unwrap_or_default();
            let value = index::ns_key(ns, s.metadata.name.as_deref().unwrap_or_default());
            bot_lister
                .by_index(index::BOT_BY_SECRET, &value)
                .unwrap_or_default()
                .iter()
                .map(|b| ObjectKey::from_object(b.as_ref()))
                .collect()
        }),
        no_resync,
    );

    // EventBinding: its botRef, old and new (status-only updates skipped).
    let q = queue.clone();
    bindings.informer().add_event_handler(
        HandlerFuncs::new()
            .on_add({
                let q = q.clone();
                move |b: &Arc<EventBinding>, initial| q.extend(bound_bot_key(b), Priority::for_add(initial))
            })
            .on_update({
                let q = q.clone();
                move |old, new| {
                    if Arc::ptr_eq(old, new) || spec_changed(old.meta(), new.meta()) {
                        let keys = bound_bot_key(old).into_iter().chain(bound_bot_key(new));
                        q.extend(keys, Priority::for_update(old, new));
                    }
                }
            })
            .on_delete(move |b, _| q.extend(bound_bot_key(b), Priority::Normal)),
    );

    // Event: the Bots of the bindings selecting it, with its old and new labels.
    let binding_lister = bindings.lister();
    let bots_for_event = move |e: &Event| -> Vec<ObjectKey> {
        bindings_selecting(&binding_lister, &e.metadata).iter().filter_map(|b| bound_bot_key(b)).collect()
    };
    let q = queue.clone();
    events.informer().add_event_handler_with_resync(
        HandlerFuncs::new()
            .on_add({
                let (q, f) = (q.clone(), bots_for_event.clone());
                move |e: &Arc<Event>, initial| q.extend(f(e), Priority::for_add(initial))
            })
            .on_update({
                let (q, f) = (q.clone(), bots_for_event.clone());
                move |old, new| q.extend(f(old).into_iter().chain(f(new)), Priority::for_update(old, new))
            })
            .on_delete(move |e, _| q.extend(bots_for_event(e), Priority::Normal)),
        no_resync,
    );

    let ctx = Arc::new(Context {
        clientset: Clientset::new(client.clone()),
        client: client.clone(),
        bots: bots.lister(),
        events: events.lister(),
        bindings: bindings.lister(),
        secrets: secrets.lister(),
        deployments: factory.core().informer_for::<Deployment>().lister(),
        services: factory.core().informer_for::<Service>().lister(),
        configmaps: factory.core().informer_for::<ConfigMap>().lister(),
        written: Default::default(),
        recorder,
        config: config.clone(),
    });

    let elector = match config.leader_election.clone() {
        Some(election) => Some(
            LeaderElector::new(client.clone(), election)
                .context("leader election")?
                .on_started_leading(|| tracing::info!("leading: reconciling Bots"))
                .on_stopped_leading(|| tracing::info!("not leading: standing by with warm caches"))
                .on_new_leader(|holder| tracing::info!(%holder, "the lease is held")),
        ),
        None => None,
    };
    if let Some(elector) = &elector {
        metrics.leader.observe_elector(elector);
    }
    factory.start();
    let server = match config.http_address {
        Some(addr) => {
            let mut checks = readiness_checks(&factory);
            if let Some(elector) = &elector {
                checks.push(("leader-election", Box::new(leadership(elector.gate()))));
            }
            Some(serve_http(addr, config.registry.clone(), checks, shutdown.clone()).await?)
        }
        None => None,
    };
    match wait_for_caches(&factory, &config, shutdown.clone()).await {
        Ok(Some(())) => {}
        stopped_or_failed => {
            factory.shutdown().await;
            return stopped_or_failed.map(|_| ());
        }
    }

    let bot_keys = {
        let bots = ctx.bots.clone();
        move || bots.list(&Default::default()).iter().map(|b| ObjectKey::from_object(b.as_ref())).collect::<Vec<_>>()
    };
    let workers = config.workers;
    let controller_metrics = metrics.clone();
    let controller = move |queue| {
        let metrics = controller_metrics.clone();
        let ctx = ctx.clone();
        Controller::new("bot", queue, move |key: ObjectKey| reconcile(ctx.clone(), key))
            .workers(workers)
            .metrics(&metrics)
    };
    match elector {
        Some(elector) => {
            tracing::info!(identity = %elector.config().identity, "caches synced; waiting for the lease");
            elector.run_controller(shutdown, queue, bot_keys, controller).await;
        }
        None => {
            let term = queue.begin_term(bot_keys);
            controller(term.queue().clone()).run(shutdown).await;
        }
    }
    if let Some(server) = server {
        let _ = server.await;
    }
    factory.shutdown().await;
    tracing::info!("operator stopped");
    Ok(())
}

/// Who reports the operator's Events: `bot-operator`, instance `$POD_NAME`
/// (else the leader-election identity, else the host name).
fn reporter(config: &Config) -> Reporter {
    let instance = std::env::var("POD_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| config.leader_election.as_ref().map(|e| e.identity.clone()));
    match instance {
        Some(instance) => Reporter { controller: FIELD_MANAGER.into(), instance: Some(instance) },
        None => FIELD_MANAGER.into(),
    }
}

/// The reason of the Warning Event about an object the operator cannot decode.
pub const UNDECODABLE: &str = "Undecodable";

/// Publishes a Warning Event [`UNDECODABLE`] about each object of the
/// informer that cannot be decoded, once per object and resourceVersion
/// (the informer's own dedup): the object is skipped (neither cached nor
/// reconciled) until a new version decodes. Every replica publishes
/// (leader or not), as every replica logs it: the Events name their
/// reporting instance.
fn report_undecodable<K>(informer: &SharedIndexInformer<K>, recorder: &EventRecorder)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let (recorder, runtime) = (recorder.clone(), tokio::runtime::Handle::current());
    informer.on_undecodable(move |bad: &Undecodable| {
        let Some(regarding) = undecodable_ref::<K>(bad) else { return };
        let kind = K::kind(&());
        let mut error = bad.error.clone();
        if error.len() > 700 {
            let mut end = 700;
            while !error.is_char_boundary(end) {
                end -= 1;
            }
            error.truncate(end);
            error.push_str("...");
        }
        let note = format!("{FIELD_MANAGER} cannot read this {kind}, so it is skipped until it changes: {error}");
        let recorder = recorder.clone();
        runtime.spawn(async move {
            if let Err(e) = recorder.publish(&regarding, EventType::Warning, UNDECODABLE, note).await {
                let name = regarding.name.as_deref().unwrap_or_default();
                tracing::warn!(object = %name, error = %e, "could not publish an Undecodable Event");
            }
        });
    });
}

/// A reference to the object `bad` is (of kind `K`), if it has a name.
fn undecodable_ref<K: Resource<DynamicType = ()>>(bad: &Undecodable) -> Option<ObjectReference> {
    let meta = &bad.metadata;
    meta.name.as_ref()?;
    Some(ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        ..ObjectReference::default()
    })
}

type Check = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// One readiness check per informer: its cache has synced.
fn readiness_checks(factory: &SharedInformerFactory) -> Vec<(&'static str, Check)> {
    let botops = factory.botops().v1alpha1();
    let core = factory.core();
    vec![
        ("informer-bots", Box::new(informer_healthy(botops.bots().informer()))),
        ("informer-events", Box::new(informer_healthy(botops.events().informer()))),
        ("informer-eventbindings", Box::new(informer_healthy(botops.event_bindings().informer()))),
        ("informer-deployments", Box::new(informer_healthy(&core.informer_for::<Deployment>()))),
        ("informer-services", Box::new(informer_healthy(&core.informer_for::<Service>()))),
        ("informer-configmaps", Box::new(informer_healthy(&core.informer_for::<ConfigMap>()))),
        ("informer-secrets", Box::new(informer_healthy(&core.metadata_informer_for::<Secret>()))),
    ]
}

/// Binds `addr` (an error if it cannot) and serves `/metrics`, `/healthz`
/// and `/readyz` on a task until `shutdown`.
async fn serve_http(
    addr: std::net::SocketAddr,
    registry: SharedRegistry,
    checks: Vec<(&'static str, Check)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut builder = OperatorServer::builder().bind(addr).registry(registry);
    for (name, check) in checks {
        builder = builder.readiness(name, check);
    }
    let listening = builder.build().listen().await.with_context(|| format!("serving HTTP on {addr}"))?;
    Ok(tokio::spawn(async move {
        if let Err(e) = listening.serve(shutdown).await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    }))
}

/// Waits until every informer has synced: `Some(())`, or `None` when
/// `shutdown` came first; an error when an informer stopped unsynced.
async fn wait_for_caches(
    factory: &SharedInformerFactory,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<Option<()>> {
    tracing::info!(namespace = config.namespace.as_deref().unwrap_or("<all>"), "waiting for informer caches");
    let mut synced = std::pin::pin!(factory.wait_for_cache_sync());
    let mut shutdown = std::pin::pin!(shutdown);
    let synced = loop {
        tokio::select! {
            synced = &mut synced => break synced,
            () = &mut shutdown => return Ok(None),
            () = tokio::time::sleep(Duration::from_secs(15)) => {
                tracing::warn!("informer caches not synced yet: are the CRDs installed (`bot-operator --print-crds`) and is the operator allowed to list and watch?");
            }
        }
    };
    if let Some((kind, _)) = synced.iter().find(|(_, ok)| !**ok) {
        anyhow::bail!("informer of {kind} did not sync");
    }
    tracing::info!(workers = config.workers, "caches synced");
    Ok(Some(()))
}

/// Whether an update changed more than the status: generation (spec),
/// labels, or the deletion timestamp.
fn spec_changed(old: &kube::api::ObjectMeta, new: &kube::api::ObjectMeta) -> bool {
    old.generation != new.generation || old.labels != new.labels || old.deletion_timestamp != new.deletion_timestamp
}

/// An event handler adding every key `keys_of(obj)` yields (on add, on update
/// for the new object, on delete).
fn fan_out<K: Send + Sync + 'static>(
    queue: LeaderQueue<ObjectKey>,
    keys_of: impl Fn(&K) -> Vec<ObjectKey> + Send + Sync + 'static,
) -> HandlerFuncs<K> {
    let keys_of = Arc::new(keys_of);
    let (q1, q2, f1, f2) = (queue.clone(), queue.clone(), keys_of.clone(), keys_of.clone());
    HandlerFuncs::new()
        .on_add(move |o: &Arc<K>, initial| q1.extend(f1(o), Priority::for_add(initial)))
        .on_update(move |old, new| q2.extend(f2(new), Priority::for_update(old, new)))
        .on_delete(move |o, _| queue.extend(keys_of(o), Priority::Normal))
}

/// Extending a queue with many keys at one priority (initial lists and
/// resyncs low, so live changes are reconciled first).
trait AddAll {
    fn extend(&self, keys: impl IntoIterator<Item = ObjectKey>, priority: Priority);
}

impl AddAll for LeaderQueue<ObjectKey> {
    fn extend(&self, keys: impl IntoIterator<Item = ObjectKey>, priority: Priority) {
        for key in keys {
            self.add_with_priority(key, priority);
        }
    }
}

/// Enqueues the controlling Bot of every change of an owned kind.
fn watch_owned<K>(factory: &SharedInformerFactory, queue: &LeaderQueue<ObjectKey>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::Scope: KindScope,
{
    let handler = queue.handler(|o: &K| controller_bot_key(o.meta()));
    factory.core().informer_for::<K>().add_event_handler_with_resync(handler, None); // the Bot's own resync covers it
}

/// Resolves the EventBindings of Bot `ns/bot` (the Bot need not exist).
fn resolve(ctx: &Context, ns: &str, bot: &str) -> anyhow::Result<(Vec<Arc<EventBinding>>, Resolution)> {
    let mut bindings = ctx.bindings.by_index(index::BINDING_BY_BOT, &index::ns_key(ns, bot))?;
    bindings.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let events = ctx.events.events(ns);
    let resolution = resolves(&bindings, |b| {
        let selector = binding_selector(b)?;
        Some(events.list(&selector.into()))
    });
    Ok((bindings, resolution))
}

fn resolves(
    bindings: &[Arc<EventBinding>],
    events_of: impl FnMut(&EventBinding) -> Option<Vec<Arc<Event>>>,
) -> Resolution {
    resources::resolve(bindings.iter().map(|b| b.as_ref()), events_of)
}

async fn reconcile(ctx: Arc<Context>, key: ObjectKey) -> anyhow::Result<Action> {
    let ns = key.namespace.as_deref().context("Bot keys are namespaced")?;
    let (bindings, resolution) = resolve(&ctx, ns, &key.name)?;
    update_binding_statuses(&ctx, ns, &bindings, &resolution).await?;

    let bot = match ctx.bots.bots(ns).get(&key.name) {
        Ok(bot) => bot,
        Err(e) if e.is_not_found() => {
            // Owned objects are garbage-collected; forget what was written to them.
            ctx.written.lock().retain(|what, _| !resources::names_child_of(what, ns, &key.name));
            return Ok(Action::Done);
        }
        Err(e) => return Err(e.into()),
    };
    if bot.metadata.deletion_timestamp.is_some() {
        return Ok(Action::Done);
    }
    let existing = bot.status.clone().unwrap_or_default();
    let generation = bot.metadata.generation;
    let cond = |type_: &str, ok: bool, reason: &str, msg: String| {
        condition(&existing.conditions, type_, ok, reason, msg, generation)
    };
    let rules_condition = if resolution.invalid.is_empty() {
        let n = resolution.rules.rules.len();
        cond(RULES_RESOLVED, true, "Resolved", format!("{n} event(s) from {} binding(s)", bindings.len()))
    } else {
        cond(RULES_RESOLVED, false, "InvalidSelector", format!("invalid selector in {}", resolution.invalid.join(", ")))
    };
    let mut status = BotStatus {
        observed_generation: generation,
        bound_events: resolution.bound_events(),
        bound_event_count: i32::try_from(resolution.rules.rules.len()).unwrap_or(i32::MAX),
        ..BotStatus::default()
    };

    // Not applied (yet): Ready, CredentialsFound, Applied, Available, RulesResolved.
    let not_applied = |status: &mut BotStatus, credentials: Condition, reason: &str, msg: String| {
        status.conditions = vec![
            cond(READY, false, reason, msg.clone()),
            credentials,
            cond(APPLIED, false, reason, msg.clone()),
            cond(AVAILABLE, false, reason, msg),
            rules_condition.clone(),
        ];
    };

    let secret_name = &bot.spec.credentials_secret;
    let Ok(secret) = ctx.secrets.namespaced(ns).get(secret_name) else {
        let msg = format!("Secret {ns}/{secret_name} not found");
        not_applied(&mut status, cond(CREDENTIALS_FOUND, false, "SecretNotFound", msg.clone()), "SecretNotFound", msg);
        write_bot_status(&ctx, &bot, status).await?;
        return Ok(Action::RequeueAfter(ctx.config.missing_secret_retry));
    };
    let credentials = cond(CREDENTIALS_FOUND, true, "SecretFound", format!("Secret {secret_name} found"));

    // Never adopt: every child must be absent or controlled by this Bot.
    let taken = children_taken(&ctx, ns, &bot).await?;
    if !taken.is_empty() {
        let msg = format!("{}; the operator changes only objects this Bot controls", taken.join("; "));
        tracing::warn!(bot = %key, "{msg}");
        not_applied(&mut status, credentials, "ResourceExists", msg);
        write_bot_status(&ctx, &bot, status).await?;
        return Ok(Action::RequeueAfter(ctx.config.conflict_retry));
    }

    let credentials_version = secret.metadata.resource_version.clone().unwrap_or_default();
    match apply_owned(&ctx, ns, &bot, &resolution, &credentials_version).await {
        Ok(Applied::Done { deployment, service }) => {
            prune_stale_children(&ctx, ns, &bot).await?;
            let (available, reason, msg) = resources::availability(Some(&deployment));
            let ready = if available {
                cond(READY, true, "Ready", "credentials found, objects applied, engine available".into())
            } else {
                cond(READY, false, reason, format!("applied, but the engine is not available: {msg}"))
            };
            status.conditions = vec![
                ready,
                credentials,
                cond(APPLIED, true, "Applied", "Deployment, Service and rules ConfigMap applied".into()),
                cond(AVAILABLE, available, reason, msg),
                rules_condition,
            ];
            status.ready_replicas = deployment.status.as_ref().and_then(|s| s.ready_replicas);
            status.endpoint = Some(resources::endpoint(&bot, Some(&service)));
            write_bot_status(&ctx, &bot, status).await?;
            Ok(Action::Done)
        }
        Ok(Applied::Taken(what)) => {
            // Created by someone else between our check and our create.
            not_applied(&mut status, credentials, "ResourceExists", what);
            write_bot_status(&ctx, &bot, status).await?;
            Ok(Action::RequeueAfter(ctx.config.conflict_retry))
        }
        Err(e) => {
            not_applied(&mut status, credentials, "ApplyFailed", format!("{e:#}"));
            if let Err(status_error) = write_bot_status(&ctx, &bot, status).await {
                tracing::warn!(bot = %key, error = %status_error, "could not record the failure in the status");
            }
            Err(e)
        }
    }
}

/// The Bot's children that exist but are not controlled by it, described.
///
/// Reads the (label-filtered) caches first; a child missing there is looked
/// up on the API server, since an object of the user's without the
/// operator's label is not in the cache.
async fn children_taken(ctx: &Context, ns: &str, bot: &Bot) -> anyhow::Result<Vec<String>> {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let cm_name = resources::rules_configmap_name(name);
    let found = [
        described(existing_child::<ConfigMap>(ctx, &ctx.configmaps, ns, &cm_name).await?),
        described(existing_child::<Deployment>(ctx, &ctx.deployments, ns, name).await?),
        described(existing_child::<Service>(ctx, &ctx.services, ns, name).await?),
    ];
    Ok(found
        .into_iter()
        .flatten()
        .filter(|(_, meta)| !resources::controlled_by(meta, bot))
        .map(|(what, meta)| format!("{what} already exists and is controlled by {}", resources::controller_of(&meta)))
        .collect())
}

/// The object `ns/name`, from the (label-filtered) cache or else the API server.
#[rbac(groups = "apps", resources = "deployments", verbs = "get")]
#[rbac(groups = "", resources = ["services", "configmaps"], verbs = "get")]
async fn existing_child<K>(ctx: &Context, cache: &Lister<K>, ns: &str, name: &str) -> anyhow::Result<Option<K>>
where
    K: Child,
{
    if let Ok(cached) = cache.namespaced(ns).get(name) {
        return Ok(Some(cached.as_ref().clone()));
    }
    let what = format!("{} {ns}/{name}", K::kind(&()));
    typed::<K>(ctx, ns).get_opt(name).await.with_context(|| format!("reading {what}"))
}

/// `Kind ns/name` of the object, with its metadata.
fn described<K: Child>(obj: Option<K>) -> Option<(String, kube::api::ObjectMeta)> {
    obj.map(|o| {
        let meta = o.meta();
        let what = format!(
            "{} {}/{}",
            K::kind(&()),
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default()
        );
        (what, meta.clone())
    })
}

/// What [`apply_owned`] did.
enum Applied {
    /// Everything applied: the Deployment and Service as the API server returned them.
    Done { deployment: Box<Deployment>, service: Box<Service> },
    /// A child appeared, not ours, before we created it; nothing else was written.
    Taken(String),
}

/// Applies the ConfigMap, Deployment and Service, each either created
/// (when absent) or server-side applied (when controlled by the Bot; the
/// caller checked). A create that finds the name taken (409) stops at once.
async fn apply_owned(
    ctx: &Context,
    ns: &str,
    bot: &Bot,
    resolution: &Resolution,
    credentials_version: &str,
) -> anyhow::Result<Applied> {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let rules_json = resolution.rules.to_json();
    let cm_name = resources::rules_configmap_name(name);
    let checksum = resources::checksum(&rules_json);
    let cm = resources::configmap(bot, &rules_json);
    if let Err(taken) = create_or_apply(ctx, bot, &ctx.configmaps, ns, &cm_name, &cm).await? {
        return Ok(Applied::Taken(taken));
    }
    let dep = resources::deployment(bot, &checksum, credentials_version);
    let deployment = match create_or_apply(ctx, bot, &ctx.deployments, ns, name, &dep).await? {
        Ok(d) => d,
        Err(taken) => return Ok(Applied::Taken(taken)),
    };
    let service = match create_or_apply(ctx, bot, &ctx.services, ns, name, &resources::service(bot)).await? {
        Ok(s) => s,
        Err(taken) => return Ok(Applied::Taken(taken)),
    };
    Ok(Applied::Done { deployment: Box::new(deployment), service: Box::new(service) })
}

/// Makes the object `name` match `desired`, writing only when needed:
///
/// - known (in the cache, or live: the caller checked it is the Bot's) and
///   [`resources::up_to_date`]: nothing is sent;
/// - known and different: server-side applied (forced);
/// - absent: created, so that an object someone else made meanwhile is
///   never taken over (`Err(description)` on 409), then its fields are
///   handed to the apply manager (see [`apply_and_own`]).
#[rbac(groups = "apps", resources = "deployments", verbs = ["create", "patch"])]
#[rbac(groups = "", resources = ["services", "configmaps"], verbs = ["create", "patch"])]
// Owner references with blockOwnerDeletion need update on the owner's
// finalizers where the OwnerReferencesPermissionEnforcement admission
// plugin is enabled.
#[rbac(groups = "botops.dev", resources = "bots/finalizers", verbs = "update")]
async fn create_or_apply<K>(
    ctx: &Context,
    bot: &Bot,
    cache: &Lister<K>,
    ns: &str,
    name: &str,
    desired: &K,
) -> anyhow::Result<Result<K, String>>
where
    K: Child,
{
    let what = format!("{} {ns}/{name}", K::kind(&()));
    let unstamped = serde_json::to_value(desired)?;
    let desired = resources::stamp(unstamped.clone());
    let client = typed::<K>(ctx, ns);
    let current = existing_child(ctx, cache, ns, name).await?;
    if let Some(current) = current {
        // Checked again here, at the last moment: someone may have made an
        // object of this name since `children_taken` looked.
        if !resources::controlled_by(current.meta(), bot) {
            let controller = resources::controller_of(current.meta());
            return Ok(Err(format!("{what} already exists and is controlled by {controller}")));
        }
        if resources::up_to_date(&desired, &serde_json::to_value(&current)?) {
            return Ok(Ok(current));
        }
        // The cache may still show the version our last write replaced
        // (another event of this Bot arrived first): that write stands.
        let stamp = desired.pointer("/metadata/annotations").and_then(|a| a.get(resources::APPLIED_HASH_ANNOTATION));
        let written =
            (stamp.and_then(|s| s.as_str()).unwrap_or_default().to_string(), current.meta().resource_version.clone());
        if ctx.written.lock().get(&what) == Some(&written) {
            return Ok(Ok(current));
        }
        // The UID of the object checked above: if it was deleted and
        // replaced (by anyone) since, the apiserver refuses the apply
        // (a UID cannot change) instead of writing to the newcomer.
        let mut guarded = desired.clone();
        if let (Some(meta), Some(uid)) = (guarded.get_mut("metadata"), current.meta().uid.clone()) {
            meta["uid"] = serde_json::Value::String(uid);
        }
        tracing::debug!(object = %what, "applying");
        let applied = apply_and_own(&client, name, &guarded).await.with_context(|| format!("applying {what}"))?;
        ctx.written.lock().insert(what, written);
        return Ok(Ok(applied));
    }
    // Created without the stamp: until the apply that follows succeeds, the
    // next reconcile sees the object as not up to date and finishes the job.
    let obj: K = serde_json::from_value(unstamped).with_context(|| format!("building {what}"))?;
    let pp = PostParams { field_manager: Some(FIELD_MANAGER.into()), ..PostParams::default() };
    match client.create(&obj, &pp).await {
        Ok(created) => {
            let mut guarded = desired.clone();
            if let (Some(meta), Some(uid)) = (guarded.get_mut("metadata"), created.meta().uid.clone()) {
                meta["uid"] = serde_json::Value::String(uid);
            }
            Ok(Ok(apply_and_own(&client, name, &guarded).await.with_context(|| format!("owning {what}"))?))
        }
        Err(kube::Error::Api(e)) if e.code == 409 => {
            Ok(Err(format!("{what} was created by someone else; the operator changes only objects this Bot controls")))
        }
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating {what}"))),
    }
}

/// Applies `desired` (forced: the operator owns the fields it sets on its
/// own objects), then drops a leftover `Update` entry of the operator's
/// create from `managedFields` (guarded by JSON-patch tests), so the apply
/// manager alone owns the fields. Without this, a field later dropped from
/// the configuration would stay, still owned by the create.
async fn apply_and_own<K>(client: &TypedClient<K>, name: &str, desired: &serde_json::Value) -> anyhow::Result<K>
where
    K: Resource + Clone + serde::Serialize + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
{
    let applied = client.apply_raw(name, desired, &apply_params()).await?;
    let entries = applied.meta().managed_fields.as_deref().unwrap_or_default();
    let Some(i) = entries
        .iter()
        .position(|m| m.manager.as_deref() == Some(FIELD_MANAGER) && m.operation.as_deref() == Some("Update"))
    else {
        return Ok(applied);
    };
    let patch: bot_runtime::json_patch::Patch = serde_json::from_value(serde_json::json!([
        { "op": "test", "path": format!("/metadata/managedFields/{i}/manager"), "value": FIELD_MANAGER },
        { "op": "test", "path": format!("/metadata/managedFields/{i}/operation"), "value": "Update" },
        { "op": "remove", "path": format!("/metadata/managedFields/{i}") },
    ]))?;
    Ok(client.json_patch(name, &patch, &PatchParams::default()).await?)
}

/// Deletes what this Bot controls but no longer wants: objects of the
/// children's kinds that the owner index of the operator's caches files
/// under the Bot's UID (so labelled as the operator's, with the Bot as
/// their controller) under another name than the Bot's children (leftovers
/// of an earlier naming, a child whose name scheme changed). Nothing else
/// is ever deleted, and each deletion is conditional on the object's UID,
/// so a replacement made meanwhile under the same name is left alone.
/// Returns how many were deleted.
async fn prune_stale_children(ctx: &Context, ns: &str, bot: &Bot) -> anyhow::Result<usize> {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let deleted = prune_stale::<Deployment>(ctx, &ctx.deployments, ns, bot, name).await?
        + prune_stale::<Service>(ctx, &ctx.services, ns, bot, name).await?
        + prune_stale::<ConfigMap>(ctx, &ctx.configmaps, ns, bot, &resources::rules_configmap_name(name)).await?;
    Ok(deleted)
}

/// [`prune_stale_children`] for one kind whose child is named `keep`.
#[rbac(groups = "apps", resources = "deployments", verbs = "delete")]
#[rbac(groups = "", resources = ["services", "configmaps"], verbs = "delete")]
async fn prune_stale<K: Child>(
    ctx: &Context,
    cache: &Lister<K>,
    ns: &str,
    bot: &Bot,
    keep: &str,
) -> anyhow::Result<usize> {
    let Some(uid) = bot.metadata.uid.as_deref() else { return Ok(0) };
    let stale: Vec<Arc<K>> = cache
        .by_owner(uid)
        .into_iter()
        .filter(|o| {
            let meta = o.meta();
            meta.namespace.as_deref() == Some(ns)
                && meta.name.as_deref() != Some(keep)
                && resources::controlled_by(meta, bot)
        })
        .collect();
    let mut deleted = 0;
    for obj in stale {
        let meta = obj.meta();
        let what = format!("{} {ns}/{}", K::kind(&()), meta.name.as_deref().unwrap_or_default());
        let only_this = DeleteParams {
            preconditions: Some(Preconditions { uid: meta.uid.clone(), resource_version: None }),
            ..DeleteParams::default()
        };
        match typed::<K>(ctx, ns).delete(meta.name.as_deref().unwrap_or_default(), &only_this).await {
            Ok(_) => {
                tracing::info!(bot = %bot.metadata.name.as_deref().unwrap_or_default(), "deleted {what}, controlled by the Bot but not one of its children");
                deleted += 1;
            }
            // Gone already, or replaced by another object of that name.
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {what}")),
        }
    }
    Ok(deleted)
}

/// What the operator's children (and the helpers reading and writing them) need of a kind.
trait Child:
    Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
    + Clone
    + serde::Serialize
    + DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Child for K where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::Serialize
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

fn typed<K>(ctx: &Context, ns: &str) -> TypedClient<K>
where
    K: Child,
{
    TypedClient::new(Api::namespaced(ctx.client.clone(), ns))
}

/// Applies the Bot's status unless the cached one already holds it
/// ([`resources::status_holds`]: conditions of other writers' types do not count).
#[rbac(groups = "botops.dev", resources = "bots/status", verbs = "patch")]
async fn write_bot_status(ctx: &Context, bot: &Bot, status: BotStatus) -> anyhow::Result<()> {
    if bot.status.as_ref().is_some_and(|actual| resources::status_holds(actual, &status)) {
        return Ok(());
    }
    announce(ctx, bot, &status).await;
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let ns = bot.metadata.namespace.as_deref().unwrap_or_default();
    if let Some(ready) = status.conditions.iter().find(|c| c.type_ == READY) {
        tracing::info!(
            bot = %format!("{ns}/{name}"),
            ready = %ready.status,
            reason = %ready.reason,
            bound_events = status.bound_event_count,
            "Bot status"
        );
    }
    let config = BotApply::new(name, ns).status(BotStatusApply::try_from(&status)?);
    ctx.clientset
        .botops_v1alpha1()
        .bots(ns)
        .apply_status(&config, &apply_params())
        .await
        .with_context(|| format!("writing the status of Bot {ns}/{name}"))?;
    Ok(())
}

/// Publishes a Kubernetes Event (seen in `kubectl describe bot`) for each
/// transition `status` makes: credentials missing, children taken by
/// someone else or failing to apply (warnings), applied, ready. A failure to
/// publish is logged, never fails the reconcile.
#[rbac(groups = "events.k8s.io", resources = "events", verbs = ["create", "patch"])]
async fn announce(ctx: &Context, bot: &Bot, status: &BotStatus) {
    let before = bot.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    let changed = |type_: &str| {
        let now = status.conditions.iter().find(|c| c.type_ == type_)?;
        let was = before.iter().find(|c| c.type_ == type_);
        (was.map(|c| (&c.status, &c.reason)) != Some((&now.status, &now.reason))).then_some(now)
    };
    let mut events = Vec::new();
    if let Some(c) = changed(CREDENTIALS_FOUND).filter(|c| c.status == "False") {
        events.push((EventType::Warning, c.reason.clone(), c.message.clone()));
    }
    if let Some(c) = changed(APPLIED) {
        let type_ = if c.status == "True" { EventType::Normal } else { EventType::Warning };
        if c.status == "True" || c.reason != "SecretNotFound" {
            events.push((type_, c.reason.clone(), c.message.clone()));
        }
    }
    if let Some(c) = changed(READY).filter(|c| c.status == "True") {
        events.push((EventType::Normal, READY.to_string(), c.message.clone()));
    }
    let regarding = bot.object_ref(&());
    for (type_, reason, note) in events {
        if let Err(e) = ctx.recorder.publish(&regarding, type_, &reason, note).await {
            tracing::warn!(bot = %regarding.name.as_deref().unwrap_or_default(), error = %e, "could not publish an Event");
        }
    }
}

/// Applies each binding's status (`events`, `eventCount`, `observedGeneration`) when it changed.
#[rbac(groups = "botops.dev", resources = "eventbindings/status", verbs = "patch")]
async fn update_binding_statuses(
    ctx: &Context,
    ns: &str,
    bindings: &[Arc<EventBinding>],
    resolution: &Resolution,
) -> anyhow::Result<()> {
    let client = ctx.clientset.botops_v1alpha1().event_bindings(ns);
    for binding in bindings {
        let name = binding.metadata.name.as_deref().unwrap_or_default();
        let events = resolution.per_binding.get(name).cloned().unwrap_or_default();
        let status = EventBindingStatus {
            observed_generation: binding.metadata.generation,
            event_count: i32::try_from(events.len()).unwrap_or(i32::MAX),
            events,
        };
        if binding.status.as_ref() == Some(&status) {
            continue;
        }
        tracing::info!(binding = %format!("{ns}/{name}"), events = status.event_count, "EventBinding status");
        let config = EventBindingApply::new(name, ns).status(EventBindingStatusApply::try_from(&status)?);
        client
            .apply_status(&config, &apply_params())
            .await
            .with_context(|| format!("writing the status of EventBinding {ns}/{name}"))?;
    }
    Ok(())
}
