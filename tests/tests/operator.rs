//! End-to-end tests of bot-operator against the real control plane: the
//! operator runs in-process on each test's runtime, scoped to the test's own
//! namespace, and every assertion polls the API server for real values.

mod common;
use common::eventually;

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result};
use bot_api::{
    clientset::Clientset,
    v1alpha1::{Bot, BotStatus, Event, EventBinding},
};
use bot_runtime::testenv::TestEnv;
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
        core::v1::{ConfigMap, Secret, Service},
    },
    apimachinery::pkg::apis::meta::v1::Condition,
};
use kube::{
    Api, Client, CustomResourceExt, Resource, ResourceExt,
    api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    discovery::{ApiResource, Discovery},
};
use serde_json::json;
use tokio::{sync::oneshot, task::JoinHandle};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The operator running on this test's runtime; stopped by [`Operator::stop`].
struct Operator {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<()>>,
}

impl Operator {
    fn start(client: Client, namespace: &str) -> Self {
        Self::start_with(client, namespace, |_| {})
    }

    fn start_with(client: Client, namespace: &str, tweak: impl FnOnce(&mut bot_operator::Config)) -> Self {
        let mut config = bot_operator::Config {
            namespace: Some(namespace.to_string()),
            // Long, so a test proves that the Secret informer (not the retry) reacts.
            missing_secret_retry: Duration::from_secs(600),
            ..bot_operator::Config::default()
        };
        tweak(&mut config);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(bot_operator::run(client, config, async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(TIMEOUT, self.task).await.context("operator did not stop")??
    }
}

/// A test environment with the CRDs installed and the operator running.
async fn setup() -> Result<(TestEnv, Operator)> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let operator = Operator::start(env.client(), env.namespace());
    Ok((env, operator))
}

struct Fixture {
    client: Client,
    ns: String,
    clientset: Clientset,
}

impl Fixture {
    fn new(env: &TestEnv) -> Self {
        let client = env.client();
        Self { clientset: Clientset::new(client.clone()), client, ns: env.namespace().to_string() }
    }

    fn api<K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn secret(&self, name: &str) -> Result<()> {
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": name },
            "stringData": { "channelSecret": "s3cr3t", "channelToken": "t0k3n" },
        }))?;
        self.api::<Secret>().create(&PostParams::default(), &secret).await?;
        Ok(())
    }

    async fn bot(&self, name: &str, secret: &str, replicas: i32, port: i32) -> Result<Bot> {
        self.bot_with(name, json!({ "credentialsSecret": secret, "replicas": replicas, "port": port })).await
    }

    /// A LINE Bot with `spec` merged over a test image.
    async fn bot_with(&self, name: &str, spec: serde_json::Value) -> Result<Bot> {
        let mut full = json!({ "platform": "line", "image": "example.com/bot-engine:test" });
        json_patch::merge(&mut full, &spec);
        let bot: Bot = serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Bot",
            "metadata": { "name": name },
            "spec": full,
        }))?;
        Ok(self.clientset.botops_v1alpha1().bots(&self.ns).create(&bot, &PostParams::default()).await?)
    }

    async fn event(&self, name: &str, labels: &[(&str, &str)], keyword: &str, reply: &str) -> Result<()> {
        let labels: BTreeMap<_, _> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let event: Event = serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Event",
            "metadata": { "name": name, "labels": labels },
            "spec": { "trigger": { "type": "message", "keywords": [keyword] }, "actions": [{ "reply": reply }] },
        }))?;
        self.clientset.botops_v1alpha1().events(&self.ns).create(&event, &PostParams::default()).await?;
        Ok(())
    }

    async fn binding(&self, name: &str, bot: &str, match_labels: &[(&str, &str)]) -> Result<()> {
        let labels: BTreeMap<_, _> = match_labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let binding: EventBinding = serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "EventBinding",
            "metadata": { "name": name },
            "spec": { "botRef": { "name": bot }, "selector": { "matchLabels": labels } },
        }))?;
        self.clientset.botops_v1alpha1().event_bindings(&self.ns).create(&binding, &PostParams::default()).await?;
        Ok(())
    }

    /// The Bot's status once `ok` accepts it.
    async fn bot_status(&self, bot: &str, what: &str, ok: impl Fn(&BotStatus) -> bool) -> Result<BotStatus> {
        let bots = self.clientset.botops_v1alpha1().bots(&self.ns);
        let last = std::sync::Mutex::new(None);
        let found = eventually(what, || async {
            let status = bots.get(bot).await?.status.unwrap_or_default();
            let done = ok(&status);
            *last.lock().unwrap() = Some(status.clone());
            Ok(done.then_some(status))
        })
        .await;
        found.with_context(|| format!("last status of Bot {bot}: {:?}", last.lock().unwrap()))
    }

    /// The object once it exists and `ok` accepts it.
    async fn object<K>(&self, name: &str, ok: impl Fn(&K) -> bool) -> Result<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api = self.api::<K>();
        let what = format!("{} {}/{name}", K::kind(&()), self.ns);
        eventually(&what, || async { Ok(api.get_opt(name).await?.filter(|o| ok(o))) }).await
    }

    async fn gone<K>(&self, name: &str) -> Result<()>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api = self.api::<K>();
        let what = format!("{} {}/{name} to be deleted", K::kind(&()), self.ns);
        eventually(&what, || async { Ok(api.get_opt(name).await?.is_none().then_some(())) }).await
    }
}

fn condition<'a>(status: &'a BotStatus, type_: &str) -> Option<&'a Condition> {
    status.conditions.iter().find(|c| c.type_ == type_)
}

fn is(status: &BotStatus, type_: &str, value: &str) -> bool {
    condition(status, type_).is_some_and(|c| c.status == value)
}

fn rules_json(cm: &ConfigMap) -> String {
    cm.data.as_ref().and_then(|d| d.get("rules.json").cloned()).unwrap_or_default()
}

fn rules_checksum(d: &Deployment) -> Option<String> {
    d.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get("botops.dev/rules-checksum").cloned()
}

fn controlled_by(meta: &kube::api::ObjectMeta, bot: &Bot) -> bool {
    meta.owner_references.iter().flatten().any(|r| {
        r.kind == "Bot"
            && r.api_version == "botops.dev/v1alpha1"
            && r.controller == Some(true)
            && Some(&r.uid) == bot.metadata.uid.as_ref()
            && Some(&r.name) == bot.metadata.name.as_ref()
    })
}

#[tokio::test]
async fn bot_gets_deployment_service_rules_and_status() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.event("hello", &[("bot", "greeter")], "hi", "Hello there!").await?;
    f.event("bye", &[("bot", "greeter"), ("lang", "en")], "bye", "Goodbye!").await?;
    f.event("other", &[("bot", "someone-else")], "x", "Not mine").await?;
    f.binding("greetings", "greeter", &[("bot", "greeter")]).await?;
    let bot = f.bot("greeter", "creds", 2, 9090).await?;

    let status = f
        .bot_status("greeter", "Applied=True with two bound events", |s| {
            is(s, "Applied", "True") && s.bound_event_count == 2
        })
        .await?;
    assert!(is(&status, "CredentialsFound", "True"), "{status:?}");
    assert!(is(&status, "RulesResolved", "True"), "{status:?}");
    // No kubelet here: the engine never becomes available, and Ready says so.
    assert!(is(&status, "Available", "False"), "{status:?}");
    assert!(is(&status, "Ready", "False"), "{status:?}");
    assert_eq!(condition(&status, "Ready").map(|c| c.reason.as_str()), Some("EngineNotReady"));
    assert_eq!(status.bound_events, ["greetings/bye", "greetings/hello"]);
    assert_eq!(status.endpoint.as_deref(), Some(format!("http://greeter.{}.svc:9090/webhook/line", f.ns).as_str()));
    assert_eq!(status.observed_generation, bot.metadata.generation);

    let cm = f.object::<ConfigMap>("greeter-rules", |_| true).await?;
    let rules: serde_json::Value = serde_json::from_str(&rules_json(&cm))?;
    let events: Vec<_> = rules["rules"].as_array().context("rules")?.iter().map(|r| r["event"].clone()).collect();
    assert_eq!(events, [json!("bye"), json!("hello")]);
    assert_eq!(rules["rules"][1]["actions"][0]["reply"], "Hello there!");
    assert_eq!(rules["rules"][0]["actions"][0]["reply"], "Goodbye!");
    assert_eq!(rules["rules"][1]["trigger"], json!({ "type": "message", "keywords": ["hi"] }));
    assert!(!rules_json(&cm).contains("Not mine"));
    assert!(controlled_by(&cm.metadata, &bot), "{:?}", cm.metadata.owner_references);

    let deploy = f.object::<Deployment>("greeter", |_| true).await?;
    assert!(controlled_by(&deploy.metadata, &bot));
    let spec = deploy.spec.as_ref().context("spec")?;
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().context("pod spec")?;
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some("example.com/bot-engine:test"));
    let env_from = container.env_from.as_ref().context("envFrom")?;
    assert_eq!(env_from[0].secret_ref.as_ref().map(|s| s.name.as_str()), Some("creds"));
    let volume = &pod.volumes.as_ref().context("volumes")?[0];
    assert_eq!(volume.config_map.as_ref().map(|c| c.name.as_str()), Some("greeter-rules"));
    assert!(rules_checksum(&deploy).is_some_and(|c| c.starts_with("fnv1a64:")));

    let svc = f.object::<Service>("greeter", |_| true).await?;
    assert!(controlled_by(&svc.metadata, &bot));
    let svc_spec = svc.spec.as_ref().context("service spec")?;
    assert_eq!(svc_spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(svc_spec.ports.as_ref().context("ports")?[0].port, 9090);

    let binding = f.clientset.botops_v1alpha1().event_bindings(&f.ns).get("greetings").await?;
    let bstatus = binding.status.context("binding status")?;
    assert_eq!(bstatus.events, ["bye", "hello"]);
    assert_eq!(bstatus.event_count, 2);
    assert_eq!(bstatus.observed_generation, binding.metadata.generation);

    // A spec change re-applies everything; what did not change is not
    // rewritten (server-side apply of the same configuration is a no-op).
    let bots = f.clientset.botops_v1alpha1().bots(&f.ns);
    bots.merge_patch("greeter", &json!({ "spec": { "replicas": 3 } }), &PatchParams::default()).await?;
    f.bot_status("greeter", "generation 2 observed", |s| s.observed_generation == Some(2) && is(s, "Applied", "True"))
        .await?;
    f.object::<Deployment>("greeter", |d| d.spec.as_ref().and_then(|s| s.replicas) == Some(3)).await?;
    let cm_after = f.api::<ConfigMap>().get("greeter-rules").await?;
    assert_eq!(cm_after.resource_version(), cm.resource_version(), "rules ConfigMap rewritten");
    let svc_after = f.api::<Service>().get("greeter").await?;
    assert_eq!(svc_after.resource_version(), svc.resource_version(), "Service rewritten");

    operator.stop().await
}

#[tokio::test]
async fn events_before_and_after_the_binding_are_both_bound() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.event("early", &[("team", "support")], "help", "How can I help?").await?;
    f.bot("helper", "creds", 1, 8080).await?;
    f.binding("support", "helper", &[("team", "support")]).await?;
    f.bot_status("helper", "the early event bound", |s| s.bound_events == ["support/early"]).await?;

    f.event("late", &[("team", "support")], "thanks", "You're welcome!").await?;
    let status =
        f.bot_status("helper", "both events bound", |s| s.bound_events == ["support/early", "support/late"]).await?;
    assert_eq!(status.bound_event_count, 2);
    let cm = f.object::<ConfigMap>("helper-rules", |cm| rules_json(cm).contains("You're welcome!")).await?;
    assert!(rules_json(&cm).contains("How can I help?"));
    let binding = f.clientset.botops_v1alpha1().event_bindings(&f.ns).get("support").await?;
    assert_eq!(binding.status.map(|s| s.events), Some(vec!["early".to_string(), "late".to_string()]));

    // Relabelling an Event away from the selector unbinds it.
    let events = f.clientset.botops_v1alpha1().events(&f.ns);
    events
        .merge_patch("early", &json!({ "metadata": { "labels": { "team": "sales" } } }), &PatchParams::default())
        .await?;
    f.bot_status("helper", "the relabelled event unbound", |s| s.bound_events == ["support/late"]).await?;
    f.object::<ConfigMap>("helper-rules", |cm| !rules_json(cm).contains("How can I help?")).await?;

    operator.stop().await
}

#[tokio::test]
async fn editing_an_event_updates_the_rules() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.event("hello", &[("bot", "echo")], "hi", "Version one").await?;
    f.binding("echo-events", "echo", &[("bot", "echo")]).await?;
    f.bot("echo", "creds", 1, 8080).await?;
    f.object::<ConfigMap>("echo-rules", |cm| rules_json(cm).contains("Version one")).await?;
    let before = rules_checksum(&f.object::<Deployment>("echo", |d| rules_checksum(d).is_some()).await?);

    let events = f.clientset.botops_v1alpha1().events(&f.ns);
    let mut event = events.get("hello").await?;
    event.spec.actions[0].reply = "Version two".into();
    events.update(&event, &PostParams::default()).await?;

    let cm = f.object::<ConfigMap>("echo-rules", |cm| rules_json(cm).contains("Version two")).await?;
    assert!(!rules_json(&cm).contains("Version one"));
    // The pod template follows, so pods would roll.
    f.object::<Deployment>("echo", |d| rules_checksum(d).is_some() && rules_checksum(d) != before).await?;

    operator.stop().await
}

#[tokio::test]
async fn deleting_the_bot_garbage_collects_its_objects() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("doomed", "creds", 1, 8080).await?;
    f.bot_status("doomed", "Applied=True", |s| is(s, "Applied", "True")).await?;
    f.object::<Deployment>("doomed", |_| true).await?;
    f.object::<Service>("doomed", |_| true).await?;
    f.object::<ConfigMap>("doomed-rules", |_| true).await?;

    f.clientset.botops_v1alpha1().bots(&f.ns).delete("doomed", &DeleteParams::default()).await?;
    f.gone::<Deployment>("doomed").await?;
    f.gone::<Service>("doomed").await?;
    f.gone::<ConfigMap>("doomed-rules").await?;

    operator.stop().await
}

#[tokio::test]
async fn missing_secret_is_a_status_until_the_secret_appears() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.bot("patient", "late-creds", 1, 8080).await?;
    let status = f.bot_status("patient", "CredentialsFound=False", |s| is(s, "CredentialsFound", "False")).await?;
    let credentials = condition(&status, "CredentialsFound").context("condition")?;
    assert_eq!(credentials.reason, "SecretNotFound");
    assert!(is(&status, "Ready", "False"), "{status:?}");
    assert!(status.endpoint.is_none());
    assert!(f.api::<Deployment>().get_opt("patient").await?.is_none(), "no Deployment without credentials");
    assert!(f.api::<Service>().get_opt("patient").await?.is_none());

    f.secret("late-creds").await?;
    let status = f
        .bot_status("patient", "CredentialsFound=True", |s| {
            is(s, "CredentialsFound", "True") && is(s, "Applied", "True")
        })
        .await?;
    let flipped = condition(&status, "CredentialsFound").context("condition")?;
    assert!(flipped.last_transition_time >= credentials.last_transition_time);
    let deploy = f.object::<Deployment>("patient", |_| true).await?;
    let container = &deploy.spec.context("spec")?.template.spec.context("pod spec")?.containers[0];
    assert_eq!(
        container.env_from.as_ref().context("envFrom")?[0].secret_ref.as_ref().map(|s| s.name.clone()),
        Some("late-creds".into())
    );

    operator.stop().await
}

/// Applies every document of a manifest file with server-side apply.
async fn apply_manifest(client: &Client, path: &str) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| path.to_string())?;
    let discovery = Discovery::new(client.clone()).run().await?;
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let obj: DynamicObject = serde::Deserialize::deserialize(doc)?;
        let types = obj.types.clone().context("apiVersion and kind")?;
        let gvk = kube::api::GroupVersionKind::try_from(&types)?;
        let (resource, caps): (ApiResource, _) = discovery.resolve_gvk(&gvk).context("unknown kind")?;
        let api: Api<DynamicObject> = match (&caps.scope, obj.namespace()) {
            (kube::discovery::Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), &ns, &resource),
            _ => Api::all_with(client.clone(), &resource),
        };
        api.patch(&obj.name_any(), &PatchParams::apply("bot-tests").force(), &Patch::Apply(&obj)).await?;
    }
    Ok(())
}

/// `manifests/rbac.yaml` is enough to run the operator (every call it makes
/// is allowed when it impersonates the ServiceAccount) and denies what it
/// does not need.
#[tokio::test]
async fn rbac_manifest_is_sufficient_and_least_privilege() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let manifests = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/bot-operator/manifests");
    apply_manifest(&env.client(), &format!("{manifests}/rbac.yaml")).await?;

    let user = "system:serviceaccount:botops-system:bot-operator";
    let mut config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(env.kubeconfig_path())?,
        &KubeConfigOptions::default(),
    )
    .await?;
    config.auth_info.impersonate = Some(user.into());
    // As deployed: with leader election on the Lease the Role allows.
    let operator = Operator::start_with(Client::try_from(config)?, env.namespace(), |c| {
        let election = bot_runtime::leader::LeaderElectionConfig::new("bot-operator", "botops-system")
            .identity("rbac-test")
            .lease_duration(Duration::from_secs(3))
            .renew_deadline(Duration::from_secs(2))
            .retry_period(Duration::from_millis(500));
        c.leader_election = Some(election);
    });

    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.event("hello", &[("bot", "rbac")], "hi", "Hi from RBAC").await?;
    f.binding("rbac-events", "rbac", &[("bot", "rbac")]).await?;
    f.bot("rbac", "creds", 1, 8080).await?;
    f.bot_status("rbac", "Applied=True as the ServiceAccount", |s| {
        is(s, "Applied", "True") && s.bound_event_count == 1
    })
    .await?;
    f.object::<ConfigMap>("rbac-rules", |cm| rules_json(cm).contains("Hi from RBAC")).await?;
    f.object::<Deployment>("rbac", |_| true).await?;
    f.object::<Service>("rbac", |_| true).await?;
    let binding = f.clientset.botops_v1alpha1().event_bindings(&f.ns).get("rbac-events").await?;
    assert_eq!(binding.status.map(|s| s.event_count), Some(1));

    let reviews: Api<SubjectAccessReview> = Api::all(env.client());
    let allowed = |group: &str, resource: &str, verb: &str| {
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.into()),
                groups: Some(vec!["system:serviceaccounts".into(), "system:authenticated".into()]),
                resource_attributes: Some(ResourceAttributes {
                    group: Some(group.into()),
                    resource: Some(resource.into()),
                    verb: Some(verb.into()),
                    namespace: Some(f.ns.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let reviews = reviews.clone();
        async move { anyhow::Ok(reviews.create(&PostParams::default(), &review).await?.status.is_some_and(|s| s.allowed)) }
    };
    for (group, resource, verb) in
        // delete: stale objects a Bot controls are pruned (only those).
        [
            ("", "secrets", "watch"),
            ("apps", "deployments", "patch"),
            ("apps", "deployments", "delete"),
            ("botops.dev", "bots", "watch"),
        ]
    {
        assert!(allowed(group, resource, verb).await?, "{verb} {resource} should be allowed");
    }
    for (group, resource, verb) in [
        ("", "secrets", "get"),
        ("", "secrets", "create"),
        ("", "secrets", "update"),
        ("", "secrets", "delete"),
        ("apps", "deployments", "deletecollection"),
        ("", "pods", "list"),
        ("botops.dev", "bots", "update"),
        ("botops.dev", "bots", "delete"),
        ("botops.dev", "events", "create"),
    ] {
        assert!(!allowed(group, resource, verb).await?, "{verb} {resource} should be denied");
    }

    operator.stop().await
}

/// A user's Service and ConfigMap named like a Bot's children are never
/// adopted, changed or deleted: the Bot reports `ResourceExists` naming them
/// and writes nothing; once the user removes them, the Bot's own are made.
#[tokio::test]
async fn never_adopts_objects_it_does_not_control() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let operator =
        Operator::start_with(env.client(), env.namespace(), |c| c.conflict_retry = Duration::from_millis(300));
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    // The Service is not labelled (the operator's informers never see it:
    // found by a live lookup); the ConfigMap even carries the operator's
    // label (found in the cache), but neither is controlled by the Bot.
    let svc: Service = serde_json::from_value(json!({
        "metadata": { "name": "taken", "labels": { "team": "web" } },
        "spec": { "selector": { "app": "web" }, "ports": [{ "port": 80 }] },
    }))?;
    let svc = f.api::<Service>().create(&PostParams::default(), &svc).await?;
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "taken-rules", "labels": { "app.kubernetes.io/managed-by": "bot-operator" } },
        "data": { "keep": "me" },
    }))?;
    let cm = f.api::<ConfigMap>().create(&PostParams::default(), &cm).await?;

    f.bot("taken", "creds", 1, 8080).await?;
    let status = f
        .bot_status("taken", "Applied=False with ResourceExists", |s| {
            condition(s, "Applied").is_some_and(|c| c.status == "False" && c.reason == "ResourceExists")
        })
        .await?;
    assert!(is(&status, "Ready", "False"), "{status:?}");
    let message = &condition(&status, "Ready").context("Ready")?.message;
    assert!(message.contains(&format!("Service {}/taken already exists", f.ns)), "{message}");
    assert!(message.contains(&format!("ConfigMap {}/taken-rules already exists", f.ns)), "{message}");
    assert!(status.endpoint.is_none(), "{status:?}");

    // Several retries later, neither object was written, and nothing else was made.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let svc_now = f.api::<Service>().get("taken").await?;
    assert_eq!(svc_now.resource_version(), svc.resource_version(), "the user's Service was written");
    assert!(svc_now.owner_references().is_empty());
    let cm_now = f.api::<ConfigMap>().get("taken-rules").await?;
    assert_eq!(cm_now.resource_version(), cm.resource_version(), "the user's ConfigMap was written");
    assert_eq!(cm_now.data, cm.data);
    assert!(f.api::<Deployment>().get_opt("taken").await?.is_none(), "a Deployment was made beside taken names");

    // The names become free: the Bot's own children are made.
    f.api::<Service>().delete("taken", &DeleteParams::default()).await?;
    f.api::<ConfigMap>().delete("taken-rules", &DeleteParams::default()).await?;
    f.gone::<Service>("taken").await?;
    f.bot_status("taken", "Applied=True once the names are free", |s| is(s, "Applied", "True")).await?;
    let bot = f.clientset.botops_v1alpha1().bots(&f.ns).get("taken").await?;
    f.object::<Service>("taken", |s| controlled_by(&s.metadata, &bot)).await?;
    f.object::<ConfigMap>("taken-rules", |c| controlled_by(&c.metadata, &bot)).await?;

    operator.stop().await
}

/// Objects the Bot controls under other names than its children's (left
/// by an older naming) are deleted through the owner index; one the Bot
/// owns without controlling it, and one it controls that does not carry the
/// operator's label (not the operator's), are left alone.
#[tokio::test]
async fn stale_objects_the_bot_controls_are_pruned_and_nothing_else() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("pruner", "creds", 1, 8080).await?;
    f.bot_status("pruner", "Applied=True", |s| is(s, "Applied", "True")).await?;
    let bots = f.clientset.botops_v1alpha1().bots(&f.ns);
    let pruner = bots.get("pruner").await?;
    let make = |name: &str, labelled: bool, controller: bool| -> Result<ConfigMap> {
        let labels = if labelled { json!({ "app.kubernetes.io/managed-by": "bot-operator" }) } else { json!({}) };
        Ok(serde_json::from_value(json!({
            "metadata": { "name": name, "labels": labels, "ownerReferences": [{
                "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "name": "pruner",
                "uid": pruner.uid(), "controller": controller }] },
            "data": { "old": "rules" },
        }))?)
    };
    let cms = f.api::<ConfigMap>();
    let owned = cms.create(&PostParams::default(), &make("pruner-notes", true, false)?).await?;
    let unlabelled = cms.create(&PostParams::default(), &make("pruner-user", false, true)?).await?;
    cms.create(&PostParams::default(), &make("pruner-rules-v0", true, true)?).await?;
    // Its event reconciles the Bot, which deletes it.
    f.gone::<ConfigMap>("pruner-rules-v0").await?;
    bots.merge_patch("pruner", &json!({ "spec": { "replicas": 2 } }), &PatchParams::default()).await?;
    f.object::<Deployment>("pruner", |d| d.spec.as_ref().and_then(|s| s.replicas) == Some(2)).await?;
    f.object::<ConfigMap>("pruner-rules", |c| controlled_by(&c.metadata, &pruner)).await?;
    assert_eq!(cms.get("pruner-notes").await?.resource_version(), owned.resource_version(), "owned, not controlled");
    assert_eq!(cms.get("pruner-user").await?.resource_version(), unlabelled.resource_version(), "not the operator's");
    f.bot_status("pruner", "still Applied=True", |s| is(s, "Applied", "True")).await?;
    operator.stop().await
}

fn credentials_version(d: &Deployment) -> Option<String> {
    d.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get("botops.dev/credentials-version").cloned()
}

/// Rotating the credentials Secret changes the pod template, so the engine
/// rolls and reads the new credentials.
#[tokio::test]
async fn rotating_the_credentials_rolls_the_engine() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("rotor", "creds", 1, 8080).await?;
    let before = f.object::<Deployment>("rotor", |d| credentials_version(d).is_some()).await?;
    let version = credentials_version(&before);
    let secret = f.api::<Secret>().get("creds").await?;
    assert_eq!(version.as_deref(), secret.metadata.resource_version.as_deref());

    let patch = json!({ "stringData": { "channelToken": "rotated-token" } });
    f.api::<Secret>().patch("creds", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    let after = f
        .object::<Deployment>("rotor", |d| credentials_version(d).is_some_and(|v| Some(&v) != version.as_ref()))
        .await?;
    let rotated = f.api::<Secret>().get("creds").await?;
    assert_eq!(credentials_version(&after).as_deref(), rotated.metadata.resource_version.as_deref());

    operator.stop().await
}

/// `spec.service` picks the Service type and node port; `status.endpoint` is
/// the URL the platform must call, from `publicUrl` when given.
#[tokio::test]
async fn service_type_and_endpoint_follow_the_spec() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    let node_port = 30000 + i32::try_from(std::process::id() % 2000)?;
    f.bot_with(
        "exposed",
        json!({ "credentialsSecret": "creds", "service": { "type": "NodePort", "nodePort": node_port } }),
    )
    .await?;
    let svc = f.object::<Service>("exposed", |_| true).await?;
    let spec = svc.spec.context("spec")?;
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    assert_eq!(spec.ports.context("ports")?[0].node_port, Some(node_port));
    f.bot_status("exposed", "the node port endpoint", |s| {
        s.endpoint.as_deref() == Some(&format!("http://<node-address>:{node_port}/webhook/line"))
    })
    .await?;

    let bots = f.clientset.botops_v1alpha1().bots(&f.ns);
    let patch = json!({ "spec": { "service": { "publicUrl": "https://bots.example.com/exposed/" } } });
    bots.merge_patch("exposed", &patch, &PatchParams::default()).await?;
    f.bot_status("exposed", "the public endpoint", |s| {
        s.endpoint.as_deref() == Some("https://bots.example.com/exposed/webhook/line")
    })
    .await?;

    operator.stop().await
}

/// Names a Bot's Service and labels cannot carry are refused at admission.
#[tokio::test]
async fn bot_names_the_children_cannot_use_are_refused() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let f = Fixture::new(&env);
    for name in ["my.bot".to_string(), "b".repeat(64), "9lives".to_string()] {
        let err = f.bot(&name, "creds", 1, 8080).await.expect_err(&name);
        let api = err.downcast_ref::<kube::Error>().and_then(|e| match e {
            kube::Error::Api(s) => Some(s.clone()),
            _ => None,
        });
        let api = api.with_context(|| format!("{name}: {err:#}"))?;
        assert_eq!(api.code, 422, "{name}: {api:?}");
        assert!(api.message.contains("DNS-1035 label"), "{name}: {}", api.message);
    }
    f.bot(&"b".repeat(63), "creds", 1, 8080).await?;
    Ok(())
}

/// Plays the kubelet for the Deployment's pods: binds them to a node and
/// marks them running and ready.
async fn make_pods_ready(f: &Fixture, bot: &str) -> Result<()> {
    use k8s_openapi::api::core::v1::Pod;
    let pods = f.api::<Pod>();
    let lp = kube::api::ListParams::default().labels(&format!("botops.dev/bot={bot}"));
    let listed = eventually("the engine's pods", || async {
        let list = pods.list(&lp).await?;
        Ok((!list.items.is_empty()).then_some(list.items))
    })
    .await?;
    for pod in listed {
        let name = pod.name_any();
        let binding = json!({
            "apiVersion": "v1", "kind": "Binding", "metadata": { "name": name },
            "target": { "apiVersion": "v1", "kind": "Node", "name": "fake-node" },
        });
        let _: serde_json::Value = pods.create_subresource("binding", &name, &PostParams::default(), &binding).await?;
        let now = k8s_openapi::jiff::Timestamp::now().to_string();
        let status = json!({ "status": {
            "phase": "Running",
            "conditions": [
                { "type": "Ready", "status": "True", "lastTransitionTime": now },
                { "type": "ContainersReady", "status": "True", "lastTransitionTime": now },
            ],
        }});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    }
    Ok(())
}

/// `Ready` means the bot can answer: it turns true only when the engine's
/// Deployment is available (here a test plays the kubelet).
#[tokio::test]
async fn ready_follows_the_engines_availability() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("avail", "creds", 1, 8080).await?;
    let status = f.bot_status("avail", "Applied=True", |s| is(s, "Applied", "True")).await?;
    assert!(is(&status, "Available", "False") && is(&status, "Ready", "False"), "{status:?}");

    make_pods_ready(&f, "avail").await?;
    let status = f.bot_status("avail", "Ready=True", |s| is(s, "Ready", "True")).await?;
    assert!(is(&status, "Available", "True"), "{status:?}");
    assert_eq!(status.ready_replicas, Some(1));

    operator.stop().await
}

/// The requests a client sends: every write (not GET) as `METHOD path`,
/// and the reads apart.
#[derive(Clone, Default)]
struct Writes {
    writes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Writes {
    /// The writes sent since the last call, as `METHOD path`.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().unwrap())
    }

    /// The reads sent since the last call, as `GET path` or `WATCH path`.
    fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().unwrap())
    }
}

/// `METHOD path` requests counted by verb and resource: `PATCH
/// bots/status`, `POST events`, `LIST bots`, `WATCH configmaps`, ...
fn by_verb_and_resource(requests: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in requests {
        let (method, path) = request.split_once(' ').unwrap_or((request, ""));
        // /api/v1/... or /apis/<group>/<version>/..., then namespaces/<ns>/ when namespaced.
        let mut parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        parts.drain(..if parts.first() == Some(&"api") { 2 } else { 3 }.min(parts.len()));
        if parts.first() == Some(&"namespaces") && parts.len() > 2 {
            parts.drain(..2);
        }
        let (resource, name, sub) = (parts.first().copied().unwrap_or("?"), parts.get(1), parts.get(2));
        let verb = match (method, name) {
            ("GET", None) => "LIST",
            (verb, _) => verb,
        };
        let key = match sub {
            Some(sub) => format!("{verb} {resource}/{sub}"),
            None => format!("{verb} {resource}"),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// A client of `env` with the operator binary's timeouts
/// ([`bot_operator::client_config`]), recording its requests.
async fn counting_client(env: &TestEnv) -> Result<(Client, Writes)> {
    let config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::read_from(env.kubeconfig_path())?,
        &KubeConfigOptions::default(),
    )
    .await?;
    let writes = Writes::default();
    let log = writes.clone();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let path = req.uri().path();
        if req.method() != http::Method::GET {
            log.writes.lock().unwrap().push(format!("{} {path}", req.method()));
        } else if req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "watch=true")) {
            log.reads.lock().unwrap().push(format!("WATCH {path}"));
        } else {
            log.reads.lock().unwrap().push(format!("GET {path}"));
        }
        req
    });
    let config = bot_operator::client_config(config);
    Ok((kube::client::ClientBuilder::try_from(config)?.with_layer(&layer).build(), writes))
}

/// The operator writes only what differs from what its informers show: no
/// write at all for unchanged Bots across resyncs and owned objects' status
/// changes, and two writes (rules ConfigMap, Deployment template) when one
/// Bot's Event changes.
#[tokio::test]
async fn no_writes_in_steady_state_and_few_per_change() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let (client, writes) = counting_client(&env).await?;
    let operator = Operator::start_with(client, env.namespace(), |c| c.resync = Some(Duration::from_millis(500)));
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    let bots = ["quiet-0", "quiet-1", "quiet-2"];
    for bot in bots {
        f.event(&format!("{bot}-hello"), &[("bot", bot)], "hi", "Hello").await?;
        f.binding(&format!("{bot}-events"), bot, &[("bot", bot)]).await?;
        f.bot(bot, "creds", 1, 8080).await?;
    }
    for bot in bots {
        f.bot_status(bot, "Applied with its event", |s| is(s, "Applied", "True") && s.bound_event_count == 1).await?;
    }
    let setup = writes.take();
    eprintln!("writes while setting up {} Bots: {}", bots.len(), setup.len());

    // Steady state: several resyncs, the Deployments' status settling.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _settling = writes.take();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let steady = writes.take();
    assert!(steady.is_empty(), "writes with nothing changing: {steady:#?}");

    let events = f.clientset.botops_v1alpha1().events(&f.ns);
    events
        .merge_patch(
            "quiet-0-hello",
            &json!({ "spec": { "actions": [{ "reply": "Changed" }] } }),
            &PatchParams::default(),
        )
        .await?;
    f.object::<ConfigMap>("quiet-0-rules", |cm| rules_json(cm).contains("Changed")).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let change = writes.take();
    eprintln!("writes for one Event edit: {change:#?}");
    let ns = &f.ns;
    assert_eq!(
        change,
        [
            format!("PATCH /api/v1/namespaces/{ns}/configmaps/quiet-0-rules"),
            format!("PATCH /apis/apps/v1/namespaces/{ns}/deployments/quiet-0"),
        ]
    );

    operator.stop().await
}

/// How many Bots [`unchanged_bots_cost_no_writes_over_resyncs`] creates:
/// `STEADY_STATE_BOTS` (`make steady-state` sets 1,000), else 20.
fn steady_state_bots() -> usize {
    std::env::var("STEADY_STATE_BOTS").ok().and_then(|n| n.parse().ok()).unwrap_or(20)
}

/// `controller_runtime_reconcile_total` of the operator's controller, all results.
fn reconciles(registry: &bot_runtime::server::SharedRegistry) -> u64 {
    registry
        .encode()
        .lines()
        .filter(|l| l.starts_with("controller_runtime_reconcile_total{controller=\"bot\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// The p-th percentile (0-100) of sorted `durations`.
fn percentile(durations: &[Duration], p: usize) -> Duration {
    durations[(durations.len() * p / 100).min(durations.len() - 1)]
}

/// Issue 12's steady state: unchanged Bots cost no write over resyncs.
/// `n` Bots ([`steady_state_bots`]: 20 here, 1,000 with `make
/// steady-state`) converge (each reports `Applied=True`), the Deployments'
/// status settles, then over at least three resync periods, and until the
/// operator has run three reconciles per Bot more, it sends no write at all
/// (counted by verb and resource on its client, which has the binary's read
/// timeout). Prints the figures docs/reliability.md quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_bots_cost_no_writes_over_resyncs() -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let n = steady_state_bots();
    // Long enough that a round of reconciles fits in a period with 1,000 Bots.
    let resync = if n > 100 { Duration::from_secs(10) } else { Duration::from_secs(1) };
    let converge_within = Duration::from_secs(if n > 100 { 1200 } else { 120 });
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    if n > 100 {
        more_service_ips(&env).await?;
    }
    let (client, requests) = counting_client(&env).await?;
    let registry = bot_runtime::server::SharedRegistry::default();
    let operator = Operator::start_with(client, env.namespace(), |c| {
        c.resync = Some(resync);
        c.registry = registry.clone();
    });
    let f = Fixture::new(&env);
    f.secret("creds").await?;

    // When each Bot is first seen Applied, from a watch of the test's own.
    let applied = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<String, tokio::time::Instant>::new()));
    let watching = {
        use kube::runtime::{WatchStreamExt, watcher};
        let (applied, bots) = (applied.clone(), f.api::<Bot>());
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(watcher(bots, watcher::Config::default()).applied_objects());
            // Errors are retried by the watcher.
            while let Some(bot) = stream.next().await {
                let Ok(bot) = bot else { continue };
                if bot.status.as_ref().is_some_and(|s| is(s, "Applied", "True")) {
                    applied.lock().unwrap().entry(bot.name_any()).or_insert_with(tokio::time::Instant::now);
                }
            }
        })
    };
    let started = tokio::time::Instant::now();
    let created: Vec<(String, tokio::time::Instant)> = futures::stream::iter(0..n)
        .map(|i| {
            let (f, name) = (&f, format!("steady-{i:04}"));
            async move {
                f.bot(&name, "creds", 1, 8080).await?;
                anyhow::Ok((name, tokio::time::Instant::now()))
            }
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let all_created = started.elapsed();
    let mut progress = tokio::time::Instant::now();
    loop {
        let pending: Vec<&str> = {
            let applied = applied.lock().unwrap();
            created.iter().filter(|(name, _)| !applied.contains_key(name)).map(|(name, _)| name.as_str()).collect()
        };
        if pending.is_empty() {
            break;
        }
        if started.elapsed() > converge_within {
            let bot = f.clientset.botops_v1alpha1().bots(&f.ns).get(pending[0]).await?;
            let ready = bot.status.as_ref().and_then(|s| condition(s, "Ready")).map(|c| c.message.clone());
            anyhow::bail!("{} of {n} Bots not Applied; {}: {ready:?}", pending.len(), pending[0]);
        }
        let pending = pending.len();
        if progress.elapsed() >= Duration::from_secs(15) {
            eprintln!("{:.0?}: {pending} of {n} Bots not Applied yet", started.elapsed());
            progress = tokio::time::Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converged = started.elapsed();
    watching.abort();
    let (mut latencies, slowest) = {
        let applied = applied.lock().unwrap();
        let latency = |(name, at): &(String, tokio::time::Instant)| applied[name].saturating_duration_since(*at);
        let slowest = created.iter().max_by_key(|c| latency(c)).map(|(name, _)| name.clone()).unwrap_or_default();
        (created.iter().map(latency).collect::<Vec<_>>(), slowest)
    };
    latencies.sort();
    let converging = by_verb_and_resource(&requests.take());

    // The Deployments' status settles (the controller-manager makes
    // ReplicaSets and Pods, which stay Pending): no write for 5 s.
    let settle_start = tokio::time::Instant::now();
    let mut settling = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let more = requests.take();
        if more.is_empty() {
            break;
        }
        settling.extend(more);
        anyhow::ensure!(
            settle_start.elapsed() < converge_within,
            "writes never stop: {:?}",
            by_verb_and_resource(&settling)
        );
    }
    let settled = started.elapsed();

    // The steady state.
    requests.take_reads();
    let (before, since) = (reconciles(&registry), tokio::time::Instant::now());
    let wanted = before + 3 * u64::try_from(n)?;
    while since.elapsed() < 3 * resync || reconciles(&registry) < wanted {
        anyhow::ensure!(since.elapsed() < converge_within, "resyncs did not reconcile every Bot");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (window, steady_reconciles) = (since.elapsed(), reconciles(&registry) - before);
    let steady = requests.take();
    let steady_reads = by_verb_and_resource(&requests.take_reads());

    let writes_while_converging: usize = converging.values().sum();
    eprintln!(
        "{n} Bots on the real control plane: created in {all_created:.1?}, all Applied after {converged:.1?} \
         (create to Applied: p50 {:.1?}, p99 {:.1?}, max {:.1?}: {slowest}), settled after {settled:.1?}",
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        percentile(&latencies, 100),
    );
    eprintln!(
        "operator writes until all Applied: {writes_while_converging} ({:.2} per Bot) {converging:?}; while settling: {} {:?}",
        writes_while_converging as f64 / n as f64,
        settling.len(),
        by_verb_and_resource(&settling),
    );
    eprintln!(
        "steady state: {window:.1?} (resync every {resync:?}), {steady_reconciles} reconciles of {n} unchanged Bots, \
         {} writes {:?}, reads {steady_reads:?}",
        steady.len(),
        by_verb_and_resource(&steady),
    );
    assert!(steady.is_empty(), "writes with nothing changing: {:?}", by_verb_and_resource(&steady));
    operator.stop().await
}

/// Widens the shared control plane's Service IP range (a /24: about 250
/// Services) with a second `ServiceCIDR` of 4,096 addresses, for tests with
/// more Bots (each has a Service) than that.
async fn more_service_ips(env: &TestEnv) -> Result<()> {
    use k8s_openapi::api::networking::v1::ServiceCIDR;
    let cidrs: Api<ServiceCIDR> = Api::all(env.client());
    let extra = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
        "metadata": { "name": "bot-tests-more-services" }, "spec": { "cidrs": ["10.0.16.0/20"] },
    });
    cidrs.patch("bot-tests-more-services", &PatchParams::apply("bot-tests"), &Patch::Apply(&extra)).await?;
    eventually("the extra ServiceCIDR ready", || async {
        let cidr = cidrs.get("bot-tests-more-services").await?;
        let ready = cidr.status.and_then(|s| s.conditions).unwrap_or_default();
        Ok(ready.iter().any(|c| c.type_ == "Ready" && c.status == "True").then_some(()))
    })
    .await
}

/// A Bot the operator cannot decode (a platform the CRD allows but the
/// operator's `Platform` enum lacks, as when the CRD is upgraded before the
/// operator) is skipped and reported with a Warning Event `Undecodable` on
/// the Bot, once; it blocks neither the operator's start nor the other
/// Bots, and once it decodes again it is reconciled.
#[tokio::test]
async fn an_undecodable_bot_gets_a_warning_event_and_blocks_nothing() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    // A Bot CRD allowing one more platform, for as long as it takes to
    // create the Bot (stored objects are not validated again when the CRD
    // changes). The other tests of this process install the stock CRD
    // meanwhile: a create they undo is retried.
    let mut loose = serde_json::to_value(Bot::crd())?;
    loose["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["platform"]["enum"]
        .as_array_mut()
        .context("the platform enum")?
        .push(json!("myspace"));
    let loose: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_json::from_value(loose)?;
    let raw: Api<DynamicObject> = Api::namespaced_with(env.client(), &f.ns, &ApiResource::erase::<Bot>(&()));
    let alien: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "metadata": { "name": "alien" },
        "spec": { "platform": "myspace", "credentialsSecret": "creds", "image": "example.com/bot-engine:test" },
    }))?;
    let alien = eventually("a Bot on platform myspace", || async {
        env.install_crds([loose.clone()]).await?;
        match raw.create(&PostParams::default(), &alien).await {
            Ok(created) => Ok(Some(created)),
            Err(kube::Error::Api(s)) if s.code == 422 => Ok(None),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    env.install_crds([Bot::crd()]).await?;

    // The operator starts (its first list holds the Bot) and reconciles the others.
    let operator = Operator::start(env.client(), env.namespace());
    f.bot("native", "creds", 1, 8080).await?;
    f.bot_status("native", "Applied=True beside an undecodable Bot", |s| is(s, "Applied", "True")).await?;
    let events: Api<k8s_openapi::api::events::v1::Event> = f.api();
    let warning = eventually("an Undecodable Event about the Bot", || async {
        let list = events.list(&Default::default()).await?;
        let about: Vec<_> = list
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(bot_operator::UNDECODABLE))
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("alien"))
            .collect();
        Ok((!about.is_empty()).then_some(about))
    })
    .await?;
    assert_eq!(warning.len(), 1, "{warning:#?}");
    let (event, regarding) = (&warning[0], warning[0].regarding.as_ref().context("regarding")?);
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(
        (regarding.kind.as_deref(), regarding.api_version.as_deref()),
        (Some("Bot"), Some("botops.dev/v1alpha1"))
    );
    assert_eq!(
        (regarding.namespace.as_deref(), regarding.uid.as_ref()),
        (Some(f.ns.as_str()), alien.metadata.uid.as_ref())
    );
    let note = event.note.as_deref().unwrap_or_default();
    assert!(note.contains("myspace"), "{note}");
    let status = raw.get("alien").await?.data.get("status").cloned();
    assert_eq!(status, None, "an undecodable Bot was reconciled");

    // Fixed, it decodes: reconciled like any other.
    raw.patch("alien", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "platform": "line" } }))).await?;
    f.bot_status("alien", "Applied=True once it decodes", |s| is(s, "Applied", "True")).await?;
    operator.stop().await
}

/// What the operator creates is owned by its apply manager alone, so a
/// field later dropped from its configuration is removed: switching a
/// NodePort Bot to ClusterIP drops the node port.
#[tokio::test]
async fn operator_owns_its_fields_by_apply() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot_with("owned", json!({ "credentialsSecret": "creds", "service": { "type": "NodePort" } })).await?;
    // Right after the create, the create's own entry briefly exists; then
    // only the apply manager remains.
    let managers = |s: &Service| -> Vec<(String, String)> {
        s.metadata
            .managed_fields
            .iter()
            .flatten()
            .map(|m| (m.manager.clone().unwrap_or_default(), m.operation.clone().unwrap_or_default()))
            .filter(|(m, _)| m.starts_with("bot-operator"))
            .collect()
    };
    let apply_only = [("bot-operator".to_string(), "Apply".to_string())];
    let svc = f.object::<Service>("owned", |s| managers(s) == apply_only).await?;
    assert_eq!(svc.spec.as_ref().and_then(|s| s.type_.as_deref()), Some("NodePort"));
    let managers = managers(&svc);
    assert_eq!(managers, [("bot-operator".to_string(), "Apply".to_string())]);

    let bots = f.clientset.botops_v1alpha1().bots(&f.ns);
    bots.merge_patch("owned", &json!({ "spec": { "service": { "type": "ClusterIP" } } }), &PatchParams::default())
        .await?;
    let svc =
        f.object::<Service>("owned", |s| s.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ClusterIP")).await?;
    let port = &svc.spec.context("spec")?.ports.context("ports")?[0];
    assert_eq!(port.node_port, None, "{port:?}");
    f.bot_status("owned", "the in-cluster endpoint", |s| {
        s.endpoint.as_deref() == Some(&format!("http://owned.{}.svc:8080/webhook/line", f.ns))
    })
    .await?;

    operator.stop().await
}

/// Another writer changing a Bot's conditions (under its own field manager)
/// gets them restored by the operator once per change, never in a loop;
/// a condition type of its own is left alone (conditions are a map list).
#[tokio::test]
async fn a_status_changed_by_another_writer_is_restored_once() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let (client, writes) = counting_client(&env).await?;
    let operator = Operator::start(client, env.namespace());
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("contested", "creds", 1, 8080).await?;
    let ours = f.bot_status("contested", "Applied=True", |s| is(s, "Applied", "True")).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    writes.take();

    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let theirs = json!({
        "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "metadata": { "name": "contested" },
        "status": { "conditions": [
            { "type": "Applied", "status": "False", "reason": "Meddling", "message": "", "lastTransitionTime": now },
            { "type": "Audited", "status": "True", "reason": "Checked", "message": "", "lastTransitionTime": now },
        ]},
    });
    let bots: Api<Bot> = f.api();
    bots.patch_status("contested", &PatchParams::apply("auditor").force(), &Patch::Apply(&theirs)).await?;
    let restored = f
        .bot_status("contested", "Applied restored", |s| {
            condition(s, "Applied").is_some_and(|c| c.reason == "Applied") && is(s, "Audited", "True")
        })
        .await?;
    assert_eq!(condition(&restored, "Ready"), condition(&ours, "Ready"), "Ready untouched");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status_writes: Vec<_> = writes.take().into_iter().filter(|w| w.ends_with("/status")).collect();
    assert_eq!(status_writes.len(), 1, "{status_writes:#?}");
    let after = bots.get_status("contested").await?.status.context("status")?;
    assert!(is(&after, "Audited", "True"), "the other writer's own condition stays: {after:?}");

    operator.stop().await
}

/// `GET path` on `addr` over plain HTTP/1.0: (status, body).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.split(' ').nth(1).context("status line")?.parse()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// The operator serves `/healthz`, `/readyz` (informers synced, leadership
/// within its deadline) and `/metrics` when given an address, and publishes
/// Kubernetes Events for a Bot's transitions.
#[tokio::test]
async fn serves_probes_and_metrics_and_publishes_events() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let ns = env.namespace().to_string();
    let operator = Operator::start_with(env.client(), env.namespace(), |c| {
        c.http_address = Some(addr);
        c.leader_election = Some(
            bot_runtime::leader::LeaderElectionConfig::new("bot-operator", &ns)
                .identity("probe-test")
                .lease_duration(Duration::from_secs(3))
                .renew_deadline(Duration::from_secs(2))
                .retry_period(Duration::from_millis(500)),
        );
    });
    let healthz = eventually("/healthz answering", || async { Ok(http_get(addr, "/healthz").await.ok()) }).await?;
    assert_eq!(healthz.0, 200, "{healthz:?}");
    let (status, body) =
        eventually("/readyz 200", || async { Ok(http_get(addr, "/readyz?verbose").await.ok().filter(|r| r.0 == 200)) })
            .await?;
    assert_eq!(status, 200);
    for check in ["informer-bots", "informer-secrets", "leader-election"] {
        assert!(body.contains(check), "{check} missing from {body}");
    }
    let (status, metrics) = http_get(addr, "/metrics").await?;
    assert_eq!(status, 200);
    assert!(metrics.ends_with("# EOF\n"), "OpenMetrics text: {metrics}");

    let f = Fixture::new(&env);
    f.bot("announced", "late", 1, 8080).await?;
    f.bot_status("announced", "SecretNotFound", |s| is(s, "CredentialsFound", "False")).await?;
    f.secret("late").await?;
    f.bot_status("announced", "Applied", |s| is(s, "Applied", "True")).await?;
    let events: Api<k8s_openapi::api::events::v1::Event> = f.api();
    let seen = eventually("SecretNotFound and Applied Events about the Bot", || async {
        let list = events.list(&Default::default()).await?;
        let about_bot: Vec<(String, String, String)> = list
            .items
            .iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("announced"))
            .map(|e| {
                let kind = e.regarding.as_ref().and_then(|r| r.kind.clone()).unwrap_or_default();
                (kind, e.type_.clone().unwrap_or_default(), e.reason.clone().unwrap_or_default())
            })
            .collect();
        let has = |t: &str, r: &str| about_bot.iter().any(|(k, ty, re)| k == "Bot" && ty == t && re == r);
        Ok((has("Warning", "SecretNotFound") && has("Normal", "Applied")).then_some(about_bot))
    })
    .await?;
    eprintln!("events about the Bot: {seen:?}");

    // The runtime's metrics, as the leader sees them after reconciling.
    let (_, metrics) = http_get(addr, "/metrics").await?;
    for family in [
        "workqueue_adds_total{name=\"bot\"}",
        "workqueue_depth{name=\"bot\"}",
        "controller_runtime_reconcile_total{controller=\"bot\",result=\"success\"}",
        "controller_runtime_reconcile_time_seconds_bucket{",
        "leader_election_master_status{name=\"bot-operator\"} 1",
    ] {
        assert!(metrics.contains(family), "{family} missing from /metrics:\n{metrics}");
    }
    assert!(metrics.contains("kind=\"botops.dev/v1alpha1/Bot\""), "per-kind informer metrics:\n{metrics}");

    operator.stop().await
}

/// The Bot has a scale subresource: scaling the Bot (as `kubectl scale bot`
/// or an autoscaler does) reaches the engine Deployment through the operator.
#[tokio::test]
async fn scaling_the_bot_scales_the_engine() -> Result<()> {
    let (env, operator) = setup().await?;
    let f = Fixture::new(&env);
    f.secret("creds").await?;
    f.bot("scaled", "creds", 1, 8080).await?;
    f.bot_status("scaled", "Applied=True", |s| is(s, "Applied", "True")).await?;
    let bots: Api<Bot> = f.api();
    let scale = bots.get_scale("scaled").await?;
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(1));
    bots.patch_scale("scaled", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 3 } }))).await?;
    f.object::<Deployment>("scaled", |d| d.spec.as_ref().and_then(|s| s.replicas) == Some(3)).await?;
    operator.stop().await
}
