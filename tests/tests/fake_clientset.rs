//! The fake clientset in use: bot-api's generated `Clientset` and
//! `SharedInformerFactory` over `bot_runtime::fake::FakeCluster`, a
//! controller unit test as the README shows it, reactors, recorded
//! actions, seeded objects, kinds registered by type or by schema-less CRD.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use bot_api::{
    clientset::Clientset,
    informers::SharedInformerFactory,
    v1alpha1::{Bot, BotSpec},
};
use bot_runtime::{
    Action as Reconciled, Controller, ObjectKey, WorkQueue, enqueue_object_keys,
    fake::{Error, FakeCluster, PatchType, status},
};
use k8s_openapi::{
    api::core::v1::{ConfigMap, Node},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, CustomResourceExt, ResourceExt,
    api::{DynamicObject, ListParams, Patch, PatchParams, PostParams},
    discovery::ApiResource,
};
use serde_json::json;

fn spec() -> BotSpec {
    serde_json::from_value(json!({ "platform": "line", "credentialsSecret": "creds" })).expect("a valid spec")
}

/// Polls `check` every millisecond for up to 5 s.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = check() {
            return Ok(v);
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The controller under test: every Bot gets a ConfigMap `<bot>-config`.
async fn reconcile(client: kube::Client, key: ObjectKey) -> Result<Reconciled> {
    let ns = key.namespace.clone().unwrap_or_default();
    let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": { "name": format!("{}-config", key.name) }, "data": { "bot": key.name } });
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    api.patch(&format!("{}-config", key.name), &PatchParams::apply("my-controller"), &Patch::Apply(&cm)).await?;
    Ok(Reconciled::Done)
}

/// The README's example: a controller's informers, queue and reconcile run
/// unchanged on the generated fake clientset.
#[tokio::test]
async fn every_bot_gets_a_config_map() -> Result<()> {
    let (clientset, cluster) = bot_api::clientset::fake::new_clientset(); // in-memory API server
    let client = clientset.client().clone(); // an ordinary kube::Client
    let factory = SharedInformerFactory::new(client.clone(), None);
    let queue = WorkQueue::<ObjectKey>::new();
    factory.botops().v1alpha1().bots().informer().add_event_handler(enqueue_object_keys(queue.clone()));
    factory.start();
    factory.wait_for_cache_sync().await;
    let c = client.clone();
    let controller = Controller::new("bots", queue, move |key| reconcile(c.clone(), key));
    tokio::spawn(controller.run(std::future::pending()));

    clientset.botops_v1alpha1().bots("default").create(&Bot::new("greeter", spec()), &PostParams::default()).await?;

    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    while cms.get_opt("greeter-config").await?.is_none() {
        tokio::task::yield_now().await;
    }
    assert!(cluster.actions().iter().any(|a| a.is_apply() && a.field_manager.as_deref() == Some("my-controller")));
    Ok(())
}

/// The generated fake clientset (`clientset::fake`, client-gen's fake
/// package): a clientset over a fake cluster that serves the crate's kinds.
#[tokio::test]
async fn generated_fake_clientset() -> Result<()> {
    let (clientset, cluster) = bot_api::clientset::fake::new_simple_clientset([Bot::new("seeded", spec())]);
    let bots = clientset.botops_v1alpha1().bots("default");
    assert_eq!(bots.get("seeded").await?.spec.credentials_secret, "creds");
    let events = clientset.botops_v1alpha1().events("default");
    assert!(events.list(&ListParams::default()).await?.items.is_empty());
    assert_eq!(cluster.actions().iter().map(|a| a.verb.as_str()).collect::<Vec<_>>(), ["get", "list"]);
    let (empty, _) = bot_api::clientset::fake::new_clientset();
    assert!(empty.botops_v1alpha1().bots("").list(&ListParams::default()).await?.items.is_empty());
    Ok(())
}

/// The generated informers, listers and handlers over the fake: creates,
/// updates and deletes reach the cache and the handlers, in order.
#[tokio::test]
async fn generated_informer_factory_runs_on_the_fake() -> Result<()> {
    let cluster = FakeCluster::new().with_crds([Bot::crd()]).with_objects([Bot::new("seeded", spec())]);
    let factory = SharedInformerFactory::new(cluster.client(), None).with_namespace("default");
    let bots = factory.botops().v1alpha1().bots();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen.clone());
    bots.informer().add_event_handler(
        bot_runtime::HandlerFuncs::new()
            .on_add(move |b: &std::sync::Arc<Bot>, initial| {
                s1.lock().expect("lock").push(format!("add {} {initial}", b.name_any()))
            })
            .on_update(move |_, b| {
                s2.lock().expect("lock").push(format!("update {} {}", b.name_any(), b.spec.replicas))
            })
            .on_delete(move |b, _| s3.lock().expect("lock").push(format!("delete {}", b.name_any()))),
    );
    factory.start();
    factory.wait_for_cache_sync().await;
    let lister = bots.lister();
    assert!(lister.bots("default").get("seeded").is_ok());

    let client = Clientset::new(cluster.client()).botops_v1alpha1().bots("default");
    client.create(&Bot::new("live", spec()), &PostParams::default()).await?;
    client.patch("live", &Patch::Merge(json!({ "spec": { "replicas": 3 } })), &PatchParams::default()).await?;
    client.delete("live", &Default::default()).await?;
    until("the delete", || seen.lock().expect("lock").iter().any(|s| s == "delete live").then_some(())).await?;
    assert_eq!(*seen.lock().expect("lock"), ["add seeded true", "add live false", "update live 3", "delete live"]);
    assert!(lister.bots("default").get("live").is_err());
    factory.shutdown().await;
    Ok(())
}

/// Reactors answer first (last prepended first), by verb and resource,
/// `*` and `resource/subresource` included; `None` passes the action on.
#[tokio::test]
async fn reactors_inject_answers_and_errors() -> Result<()> {
    let cluster = FakeCluster::new().with_crds([Bot::crd()]);
    let bots: Api<Bot> = Api::namespaced(cluster.client(), "default");
    bots.create(&PostParams::default(), &Bot::new("b", spec())).await?;
    cluster.prepend_reactor("*", "*", |_| None);
    cluster.prepend_reactor("update", "bots", |a| {
        Some(Err(status::conflict("bots.botops.dev", a.name.as_deref().unwrap_or_default())))
    });
    cluster.prepend_reactor("update", "bots/status", |_| Some(Err(status::internal_error("status is broken"))));
    cluster.prepend_reactor("get", "bots", |a| {
        (a.name.as_deref() == Some("ghost")).then(|| {
            Ok(json!({ "apiVersion": "botops.dev/v1alpha1", "kind": "Bot",
            "metadata": { "name": "ghost" }, "spec": { "platform": "slack", "credentialsSecret": "x" } }))
        })
    });

    let b = bots.get("b").await?; // passed on to the tracker
    match bots.replace("b", &PostParams::default(), &b).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
        other => anyhow::bail!("expected a conflict, got {other:?}"),
    }
    match bots.replace_status("b", &PostParams::default(), &b).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!((s.code, s.message.as_str()), (500, "Internal error occurred: status is broken"))
        }
        other => anyhow::bail!("expected an internal error, got {other:?}"),
    }
    assert_eq!(bots.get("ghost").await?.spec.credentials_secret, "x");
    Ok(())
}

/// Every request is recorded with what a test asserts on.
#[tokio::test]
async fn actions_record_every_request() -> Result<()> {
    let cluster = FakeCluster::new();
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client(), "ns1");
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "a" }, "data": { "k": "v" } }))?;
    cms.create(&PostParams { field_manager: Some("me".into()), ..Default::default() }, &cm).await?;
    cms.list(&ListParams::default().labels("x=y")).await?;
    cms.patch(
        "a",
        &PatchParams::apply("applier").force(),
        &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap", "data": { "k": "w" } })),
    )
    .await?;
    cms.get_metadata("a").await?;
    cms.delete("a", &Default::default()).await?;
    let summary: Vec<_> = cluster
        .actions()
        .iter()
        .map(|a| {
            (
                a.verb.clone(),
                a.resource.clone(),
                a.namespace.clone(),
                a.name.clone(),
                a.patch_type,
                a.field_manager.clone(),
            )
        })
        .collect();
    let ns = Some("ns1".to_string());
    let a = Some("a".to_string());
    assert_eq!(
        summary,
        [
            ("create".into(), "configmaps".into(), ns.clone(), None, None, Some("me".into())),
            ("list".into(), "configmaps".into(), ns.clone(), None, None, None),
            (
                "patch".into(),
                "configmaps".into(),
                ns.clone(),
                a.clone(),
                Some(PatchType::Apply),
                Some("applier".into())
            ),
            ("get".into(), "configmaps".into(), ns.clone(), a.clone(), None, None),
            ("delete".into(), "configmaps".into(), ns, a, None, None),
        ]
    );
    let actions = cluster.actions();
    assert_eq!(actions[1].label_selector.as_deref(), Some("x=y"));
    assert!(actions[2].force && actions[2].is_apply() && actions[3].metadata_only);
    assert_eq!(actions[0].body_as::<ConfigMap>().and_then(|c| c.data), cm.data);
    assert!(actions[0].matches("create", "configmaps") && !actions[0].matches("create", "secrets"));
    cluster.clear_actions();
    assert!(cluster.actions().is_empty());
    Ok(())
}

/// Seeded objects are stored as created (uid, resourceVersion, defaults),
/// without managedFields; unknown kinds are refused.
#[tokio::test]
async fn seeded_objects_and_unknown_kinds() -> Result<()> {
    let cluster = FakeCluster::new().with_crds([Bot::crd()]);
    let stored = cluster.add(&Bot::new("s", spec()))?;
    assert!(stored.uid().is_some() && stored.resource_version().is_some());
    assert_eq!((stored.metadata.generation, stored.metadata.namespace.as_deref()), (Some(1), Some("default")));
    assert!(stored.metadata.managed_fields.is_none());
    let unknown = json!({ "apiVersion": "example.com/v1", "kind": "Widget", "metadata": { "name": "w" } });
    assert!(matches!(cluster.add(&unknown), Err(Error::UnknownKind(k)) if k == "example.com/v1/Widget"));
    let again = cluster.add(&Bot::new("s", spec()));
    assert!(matches!(again, Err(Error::Rejected(s)) if s.reason == "AlreadyExists"));
    Ok(())
}

/// `with_kind` serves a built-in kind that is not preloaded (here the
/// cluster-scoped Node).
#[tokio::test]
async fn kinds_registered_by_type() -> Result<()> {
    let plain = FakeCluster::new();
    let missing = Api::<Node>::all(plain.client()).list(&ListParams::default()).await;
    assert!(matches!(missing, Err(kube::Error::Api(s)) if s.code == 404));
    let cluster = FakeCluster::new().with_kind::<Node>();
    let nodes: Api<Node> = Api::all(cluster.client());
    let node: Node = serde_json::from_value(json!({ "metadata": { "name": "n1", "labels": { "zone": "a" } } }))?;
    nodes.create(&PostParams::default(), &node).await?;
    let listed = nodes.list(&ListParams::default().labels("zone=a")).await?;
    assert_eq!(listed.items.iter().map(|n| n.name_any()).collect::<Vec<_>>(), ["n1"]);
    assert!(listed.items[0].namespace().is_none());
    Ok(())
}

/// A CRD without schema (preserve-unknown-fields) still supports
/// server-side apply, with ownership deduced from the object (client-go's
/// fake fails here).
#[tokio::test]
async fn apply_on_a_crd_without_schema() -> Result<()> {
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "gizmos.example.com" },
        "spec": { "group": "example.com", "scope": "Namespaced",
                  "names": { "kind": "Gizmo", "plural": "gizmos", "singular": "gizmo", "listKind": "GizmoList" },
                  "versions": [{ "name": "v1", "served": true, "storage": true,
                                 "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }] },
    }))?;
    let cluster = FakeCluster::new().with_crd(crd);
    let resource =
        ApiResource::from_gvk_with_plural(&kube::api::GroupVersionKind::gvk("example.com", "v1", "Gizmo"), "gizmos");
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client(), "default", &resource);
    let config = |v: i32| json!({ "apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": { "name": "g" }, "spec": { "size": v, "tags": { "a": "b" } } });
    api.patch("g", &PatchParams::apply("one"), &Patch::Apply(config(1))).await?;
    let conflict = api.patch("g", &PatchParams::apply("two"), &Patch::Apply(config(2))).await;
    assert!(
        matches!(conflict, Err(kube::Error::Api(s)) if s.message.contains("conflict with \"one\"")),
        "two managers"
    );
    let g = api.patch("g", &PatchParams::apply("two").force(), &Patch::Apply(config(2))).await?;
    assert_eq!(g.data["spec"]["size"], 2);
    let owners: Vec<_> = g.managed_fields().iter().map(|m| m.manager.clone().unwrap_or_default()).collect();
    assert_eq!(owners, ["one", "two"], "one still owns the tags it shares");
    Ok(())
}

/// A watch that times out on the server is resumed by kube's watcher: an
/// informer keeps seeing changes.
#[tokio::test]
async fn informers_resume_after_watch_timeouts() -> Result<()> {
    let cluster = FakeCluster::new();
    let factory =
        bot_runtime::InformerFactory::new(cluster.client(), None).with_tweak_list_options(|c| c.timeout = Some(1));
    let informer = factory.informer_for::<ConfigMap>();
    factory.start();
    factory.wait_for_cache_sync().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client(), "default");
    cms.create(&PostParams::default(), &serde_json::from_value(json!({ "metadata": { "name": "late" } }))?).await?;
    let lister = informer.lister();
    until("the informer to see it after a re-watch", || lister.namespaced("default").get("late").ok())
        .await
        .context("informer after a watch timeout")?;
    let watches = cluster.actions().iter().filter(|a| a.verb == "watch").count();
    assert!(watches >= 2, "{watches} watches");
    factory.shutdown().await;
    Ok(())
}
