//! bot-runtime's informers, listers, factory, workqueue controller and typed
//! client against a real kube-apiserver.

mod common;
use common::eventually_within;

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result};
use bot_runtime::k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Secret},
};
use bot_runtime::{
    Action, Controller, HandlerFuncs, InformerConfig, InformerFactory, NAMESPACE_INDEX, ObjectKey, SharedIndexInformer,
    TypedClient, WorkQueue, client::Target, enqueue_object_keys, selector::LabelSelector, testenv::TestEnv,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, PatchParams, PostParams},
    runtime::watcher,
};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);

fn configmap(name: &str, labels: &[(&str, &str)], value: &str) -> Result<ConfigMap> {
    let labels: BTreeMap<_, _> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels },
        "data": { "value": value }
    }))?)
}

fn value(cm: &ConfigMap) -> String {
    cm.data.as_ref().and_then(|d| d.get("value").cloned()).unwrap_or_default()
}

/// A handler recording `add NAME INITIAL`, `update NAME OLD->NEW`, `delete NAME UNKNOWN`.
fn recorder() -> (Arc<Mutex<Vec<String>>>, HandlerFuncs<ConfigMap>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, u, d) = (log.clone(), log.clone(), log.clone());
    let handler = HandlerFuncs::new()
        .on_add(move |cm: &Arc<ConfigMap>, initial| a.lock().unwrap().push(format!("add {} {initial}", cm.name_any())))
        .on_update(move |old: &Arc<ConfigMap>, new: &Arc<ConfigMap>| {
            u.lock().unwrap().push(format!("update {} {}->{}", new.name_any(), value(old), value(new)))
        })
        .on_delete(move |cm: &Arc<ConfigMap>, unknown| {
            d.lock().unwrap().push(format!("delete {} {unknown}", cm.name_any()))
        });
    (log, handler)
}

async fn log_len(log: &Arc<Mutex<Vec<String>>>, n: usize, what: &str) -> Result<Vec<String>> {
    eventually_within(TIMEOUT, what, || async {
        let log = log.lock().unwrap().clone();
        Ok((log.len() >= n).then_some(log))
    })
    .await
}

fn selected(label: &str) -> InformerConfig<ConfigMap> {
    InformerConfig::new().watcher(watcher::Config::default().labels(&format!("suite={label}")))
}

#[tokio::test]
async fn informer_and_lister_observe_create_update_delete() -> Result<()> {
    let env = TestEnv::start().await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let informer = Arc::new(SharedIndexInformer::new(api.clone(), selected("crud")));
    let (log, handler) = recorder();
    informer.add_event_handler(handler);
    informer.run();
    informer.run(); // idempotent
    assert!(tokio::time::timeout(TIMEOUT, informer.wait_for_sync()).await?, "synced");
    assert!(informer.has_synced());
    let lister = informer.lister().namespaced(env.namespace());
    assert!(lister.list(&LabelSelector::everything()).is_empty());
    assert!(lister.get("a").unwrap_err().is_not_found());

    api.create(&PostParams::default(), &configmap("a", &[("suite", "crud")], "1")?).await?;
    let cached = eventually_within(TIMEOUT, "a in the lister", || async { Ok(lister.get("a").ok()) }).await?;
    assert_eq!(value(&cached), "1");

    let mut changed = (*cached).clone();
    changed.data = Some([("value".to_string(), "2".to_string())].into());
    api.replace("a", &PostParams::default(), &changed).await?;
    eventually_within(TIMEOUT, "the update in the lister", || async {
        Ok(lister.get("a").ok().filter(|cm| value(cm) == "2"))
    })
    .await?;
    assert_eq!(lister.list(&LabelSelector::everything()).len(), 1);

    api.delete("a", &DeleteParams::default()).await?;
    eventually_within(TIMEOUT, "a gone from the lister", || async { Ok(lister.get("a").is_err().then_some(())) })
        .await?;

    let log = log_len(&log, 3, "three events").await?;
    assert_eq!(log, ["add a false", "update a 1->2", "delete a false"]);
    informer.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn late_handler_gets_cached_objects_then_live_events() -> Result<()> {
    let env = TestEnv::start().await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    for name in ["x", "y"] {
        api.create(&PostParams::default(), &configmap(name, &[("suite", "late")], "1")?).await?;
    }
    let informer = Arc::new(SharedIndexInformer::new(api.clone(), selected("late")));
    let (early_log, early) = recorder();
    informer.add_event_handler(early);
    informer.run();
    assert!(tokio::time::timeout(TIMEOUT, informer.wait_for_sync()).await?);
    let mut initial = log_len(&early_log, 2, "the initial list").await?;
    initial.sort();
    assert_eq!(initial, ["add x true", "add y true"]);

    let (late_log, late) = recorder();
    let late_handler = informer.add_event_handler(late);
    api.create(&PostParams::default(), &configmap("z", &[("suite", "late")], "1")?).await?;
    let log = log_len(&late_log, 3, "synthetic adds then the live add").await?;
    let (mut synthetic, live) = (log[..2].to_vec(), log[2..].to_vec());
    synthetic.sort();
    assert_eq!(synthetic, ["add x true", "add y true"], "cached objects first");
    assert_eq!(live, ["add z false"], "then live events, no duplicate");

    assert!(informer.remove_event_handler(&late_handler));
    assert!(!informer.remove_event_handler(late_handler.id()));
    api.delete("x", &DeleteParams::default()).await?;
    log_len(&early_log, 4, "the delete at the remaining handler").await?;
    assert_eq!(early_log.lock().unwrap()[2..], ["add z false", "delete x false"]);
    assert_eq!(late_log.lock().unwrap().len(), 3, "a removed handler gets nothing more");
    informer.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn namespace_index_and_custom_indexes() -> Result<()> {
    let one = TestEnv::start().await?;
    let two = TestEnv::start().await?;
    let suite = one.namespace().to_string(); // unique to this test
    for (env, names) in [(&one, ["a", "b"]), (&two, ["c", "d"])] {
        let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
        for name in names {
            let tier = if name == "a" || name == "c" { "web" } else { "db" };
            api.create(&PostParams::default(), &configmap(name, &[("suite", &suite), ("tier", tier)], "1")?).await?;
        }
    }
    let informer = Arc::new(SharedIndexInformer::new(Api::<ConfigMap>::all(one.client()), selected(&suite)));
    informer.run();
    assert!(tokio::time::timeout(TIMEOUT, informer.wait_for_sync()).await?);
    let names = |objs: Vec<Arc<ConfigMap>>| {
        let mut v: Vec<String> = objs.iter().map(|o| ObjectKey::from_object(o.as_ref()).to_string()).collect();
        v.sort();
        v
    };
    let (ns1, ns2) = (one.namespace(), two.namespace());
    let lister = informer.lister();
    assert_eq!(
        names(lister.list(&LabelSelector::everything())),
        [format!("{ns1}/a"), format!("{ns1}/b"), format!("{ns2}/c"), format!("{ns2}/d")]
    );
    assert_eq!(
        names(lister.namespaced(ns1).list(&LabelSelector::everything())),
        [format!("{ns1}/a"), format!("{ns1}/b")]
    );
    let web: LabelSelector = "tier=web".parse()?;
    assert_eq!(names(lister.namespaced(ns2).list(&web)), [format!("{ns2}/c")]);
    assert_eq!(names(lister.by_index(NAMESPACE_INDEX, ns2)?), [format!("{ns2}/c"), format!("{ns2}/d")]);
    let mut values = informer.store().list_index_values(NAMESPACE_INDEX)?;
    values.sort();
    assert_eq!(values, [ns1.to_string(), ns2.to_string()]);

    // An index added after sync covers what is cached, and follows changes.
    informer.add_indexer("tier", Arc::new(|cm: &ConfigMap| cm.labels().get("tier").cloned().into_iter().collect()));
    assert_eq!(names(lister.by_index("tier", "db")?), [format!("{ns1}/b"), format!("{ns2}/d")]);
    Api::<ConfigMap>::namespaced(two.client(), ns2)
        .create(&PostParams::default(), &configmap("e", &[("suite", &suite), ("tier", "db")], "1")?)
        .await?;
    eventually_within(TIMEOUT, "e in the tier index", || async {
        Ok((lister.by_index("tier", "db")?.len() == 3).then_some(()))
    })
    .await?;
    assert!(lister.by_index("nope", "x").is_err());
    informer.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn factory_shares_one_informer_per_kind_and_starts_new_ones_only() -> Result<()> {
    let env = TestEnv::start().await?;
    let factory = InformerFactory::new(env.client(), None)
        .with_namespace(env.namespace())
        .with_transform(|meta| meta.managed_fields = None);
    let first = factory.informer_for::<ConfigMap>();
    let second = factory.clone().informer_for::<ConfigMap>();
    assert!(Arc::ptr_eq(&first, &second), "one informer per kind");
    assert_eq!(first.api().namespace(), Some(env.namespace()));

    factory.start();
    assert_eq!(factory.started(), 1);
    assert!(first.is_started());
    let secrets = factory.informer_for::<Secret>();
    let deployments = factory.informer_for::<Deployment>();
    assert!(!secrets.is_started(), "created, not started");
    factory.start();
    factory.start();
    assert_eq!(factory.started(), 3);
    assert!(secrets.is_started() && deployments.is_started());

    let synced = tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await?;
    let expected: BTreeMap<String, bool> = [("apps/v1/Deployment", true), ("v1/ConfigMap", true), ("v1/Secret", true)]
        .map(|(k, v)| (k.to_string(), v))
        .into();
    assert_eq!(synced, expected);

    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let created = api.create(&PostParams::default(), &configmap("t", &[], "1")?).await?;
    assert!(!created.managed_fields().is_empty(), "the server records managed fields");
    let lister = first.lister().namespaced(env.namespace());
    let cached = eventually_within(TIMEOUT, "t in the cache", || async { Ok(lister.get("t").ok()) }).await?;
    assert!(cached.metadata.managed_fields.is_none(), "the factory's transform applies");

    factory.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn factory_per_kind_transform_and_tweak() -> Result<()> {
    let env = TestEnv::start().await?;
    let ns = env.namespace();
    let factory = InformerFactory::new(env.client(), None)
        .with_namespace(ns)
        .with_transform(|meta| meta.managed_fields = None)
        .with_transform_for::<Secret>(|s| s.data = None)
        .with_tweak_list_options_for::<ConfigMap>(|c| *c = c.clone().labels("owned=yes"));
    let secrets = factory.informer_for::<Secret>();
    let configmaps = factory.informer_for::<ConfigMap>();
    factory.start();
    tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await?;

    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "creds" }, "stringData": { "token": "t0p-s3cret" }
    }))?;
    Api::<Secret>::namespaced(env.client(), ns).create(&PostParams::default(), &secret).await?;
    let cms: Api<ConfigMap> = Api::namespaced(env.client(), ns);
    cms.create(&PostParams::default(), &configmap("mine", &[("owned", "yes")], "1")?).await?;
    cms.create(&PostParams::default(), &configmap("other", &[("owned", "no")], "1")?).await?;

    let slister = secrets.lister().namespaced(ns);
    let cached =
        eventually_within(TIMEOUT, "the Secret in the cache", || async { Ok(slister.get("creds").ok()) }).await?;
    assert!(cached.data.is_none(), "the Secret's data is dropped before caching");
    assert!(cached.metadata.managed_fields.is_none(), "the all-kinds transform applies too");
    let clister = configmaps.lister().namespaced(ns);
    eventually_within(TIMEOUT, "mine in the cache", || async { Ok(clister.get("mine").ok()) }).await?;
    assert!(clister.get("other").is_err(), "the ConfigMap-only selector filters the watch");
    assert_eq!(clister.list(&Default::default()).len(), 1);
    factory.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn controller_reconciles_each_configmap() -> Result<()> {
    let env = TestEnv::start().await?;
    let ns = env.namespace().to_string();
    let client: TypedClient<ConfigMap> = TypedClient::new(Api::namespaced(env.client(), &ns));
    let factory = InformerFactory::new(env.client(), None)
        .with_namespace(&ns)
        .with_tweak_list_options(|c| *c = c.clone().labels("suite=controller"));
    let informer = factory.informer_for::<ConfigMap>();
    let queue = WorkQueue::<ObjectKey>::new();
    informer.add_event_handler(enqueue_object_keys(queue.clone()));
    factory.start();

    let reconciled = Arc::new(Mutex::new(Vec::<String>::new()));
    let lister = informer.lister();
    let controller = Controller::new("configmap-stamper", queue.clone(), {
        let (client, reconciled) = (client.clone(), reconciled.clone());
        move |key: ObjectKey| {
            let (client, reconciled, lister) = (client.clone(), reconciled.clone(), lister.clone());
            async move {
                let ns = key.namespace.as_deref().unwrap_or_default();
                let cm = match lister.namespaced(ns).get(&key.name) {
                    Ok(cm) => cm,
                    Err(e) if e.is_not_found() => return Ok(Action::Done),
                    Err(e) => return Err(e.to_string()),
                };
                if cm.annotations().contains_key("stamped") {
                    return Ok(Action::Done);
                }
                let patch = json!({ "metadata": { "annotations": { "stamped": value(&cm) } } });
                let pp = PatchParams { field_manager: Some("stamper".into()), ..PatchParams::default() };
                client.merge_patch(&key.name, &patch, &pp).await.map_err(|e| e.to_string())?;
                reconciled.lock().unwrap().push(key.name.clone());
                Ok::<_, String>(Action::Done)
            }
        }
    })
    .workers(3);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(controller.run(async move {
        let _ = stopped.await;
    }));

    for (i, name) in ["one", "two", "three"].into_iter().enumerate() {
        client.create(&configmap(name, &[("suite", "controller")], &i.to_string())?, &PostParams::default()).await?;
    }
    client.create(&configmap("ignored", &[], "x")?, &PostParams::default()).await?;
    eventually_within(TIMEOUT, "every ConfigMap stamped", || async {
        let list = client.list(&ListParams::default().labels("suite=controller")).await?;
        Ok(list.items.iter().all(|cm| cm.annotations().contains_key("stamped")).then_some(()))
    })
    .await?;
    for (i, name) in ["one", "two", "three"].into_iter().enumerate() {
        assert_eq!(client.get(name).await?.annotations()["stamped"], i.to_string());
    }
    assert!(!client.get("ignored").await?.annotations().contains_key("stamped"));
    let mut done = reconciled.lock().unwrap().clone();
    done.sort();
    assert_eq!(done, ["one", "three", "two"], "each stamped exactly once");

    stop.send(()).ok().context("controller still running")?;
    tokio::time::timeout(TIMEOUT, run).await??;
    assert!(queue.is_shutting_down());
    factory.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn typed_client_verbs() -> Result<()> {
    let env = TestEnv::start().await?;
    let client: TypedClient<ConfigMap> = TypedClient::new(Api::namespaced(env.client(), env.namespace()));
    let pp = PostParams::default();
    let created = client.create(&configmap("v", &[("suite", "verbs")], "1")?, &pp).await?;
    assert_eq!(value(&client.get("v").await?), "1");
    assert!(client.get_opt("missing").await?.is_none());

    let mut changed = created.clone();
    changed.data = Some([("value".to_string(), "2".to_string())].into());
    assert_eq!(value(&client.update(&changed, &pp).await?), "2");

    let merged = client.merge_patch("v", &json!({ "data": { "value": "3" } }), &PatchParams::default()).await?;
    assert_eq!(value(&merged), "3");
    let patch: bot_runtime::json_patch::Patch =
        serde_json::from_value(json!([{ "op": "replace", "path": "/data/value", "value": "4" }]))?;
    assert_eq!(value(&client.json_patch("v", &patch, &PatchParams::default()).await?), "4");

    let body = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "w", "labels": { "suite": "verbs" } }, "data": { "value": "a" } });
    let applied = client.apply_raw("w", &body, &PatchParams::apply("tester").force()).await?;
    assert_eq!(value(&applied), "a");
    assert!(applied.managed_fields().iter().any(|m| m.manager.as_deref() == Some("tester")));

    let listed = client.list(&ListParams::default().labels("suite=verbs")).await?;
    let mut names: Vec<_> = listed.items.iter().map(|c| c.name_any()).collect();
    names.sort();
    assert_eq!(names, ["v", "w"]);

    client.delete("v", &DeleteParams::default()).await?;
    assert!(client.get_opt("v").await?.is_none());
    client.delete_collection(&DeleteParams::default(), &ListParams::default().labels("suite=verbs")).await?;
    assert!(client.list(&ListParams::default().labels("suite=verbs")).await?.items.is_empty());
    Ok(())
}

#[tokio::test]
async fn resync_redelivers_cached_objects_as_updates() -> Result<()> {
    let env = TestEnv::start().await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    api.create(&PostParams::default(), &configmap("r", &[("suite", "resync")], "1")?).await?;

    // On demand.
    let informer = Arc::new(SharedIndexInformer::new(api.clone(), selected("resync")));
    let (log, handler) = recorder();
    informer.add_event_handler(handler);
    informer.run();
    assert!(tokio::time::timeout(TIMEOUT, informer.wait_for_sync()).await?);
    log_len(&log, 1, "the initial add").await?;
    informer.resync_now();
    assert_eq!(log_len(&log, 2, "the resync").await?, ["add r true", "update r 1->1"]);
    informer.shutdown().await;

    // Periodically.
    let config = selected("resync").resync(Some(Duration::from_millis(200)));
    let informer = Arc::new(SharedIndexInformer::new(api, config));
    let (log, handler) = recorder();
    informer.add_event_handler(handler);
    informer.run();
    let (quiet_log, quiet) = recorder();
    informer.add_event_handler_with_resync(quiet, None);
    informer.run();
    let log = log_len(&log, 3, "two periodic resyncs").await?;
    assert_eq!(log[..3], ["add r true", "update r 1->1", "update r 1->1"]);
    assert_eq!(*quiet_log.lock().unwrap(), ["add r true"], "the resync period is per handler");
    informer.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn typed_client_watch_and_scale() -> Result<()> {
    use futures::TryStreamExt;
    use kube::api::{Patch, WatchEvent, WatchParams};

    let env = TestEnv::start().await?;
    let configmaps: TypedClient<ConfigMap> = TypedClient::new(Api::namespaced(env.client(), env.namespace()));
    let rv = configmaps.list(&ListParams::default()).await?.metadata.resource_version.context("list rv")?;
    let mut watch = configmaps.watch(&WatchParams::default().labels("suite=watch").timeout(30), &rv).await?;
    configmaps.create(&configmap("w", &[("suite", "watch")], "1")?, &PostParams::default()).await?;
    match tokio::time::timeout(TIMEOUT, watch.try_next()).await??.context("watch ended")? {
        WatchEvent::Added(cm) => assert_eq!(cm.name_any(), "w"),
        other => anyhow::bail!("expected ADDED, got {other:?}"),
    }

    let deployments: TypedClient<Deployment> = TypedClient::new(Api::namespaced(env.client(), env.namespace()));
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [ { "name": "main", "image": "example.invalid/app:1" } ] }
            }
        }
    }))?;
    deployments.create(&deployment, &PostParams::default()).await?;
    let mut scale = deployments.get_scale("web").await?;
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(1));
    scale.spec.get_or_insert_with(Default::default).replicas = Some(2);
    // The deployment controller writes the Deployment's status at any time,
    // which moves the resourceVersion the Scale carries: update unconditionally.
    scale.metadata.resource_version = None;
    let updated = deployments.update_scale("web", &scale, &PostParams::default()).await?;
    assert_eq!(updated.spec.and_then(|s| s.replicas), Some(2));
    let patched = deployments
        .patch_scale("web", &Patch::Merge(json!({ "spec": { "replicas": 3 } })), &PatchParams::default())
        .await?;
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(3));
    assert_eq!(deployments.get("web").await?.spec.and_then(|s| s.replicas), Some(3));
    // The generic subresource verbs decode the subresource's own type.
    let scale: bot_runtime::k8s_openapi::api::autoscaling::v1::Scale =
        deployments.get_as(Target::Subresource("web", "scale")).await?;
    assert_eq!(
        (scale.spec.and_then(|s| s.replicas), scale.status.map(|s| s.selector)),
        (Some(3), Some(Some("app=web".into())))
    );
    Ok(())
}

/// A metadata-only informer receives Secrets as `PartialObjectMetadata`
/// (the apiserver never sends their data), keeps labels, annotations and
/// resourceVersion, and is reported by its own key.
#[tokio::test]
async fn metadata_informer_never_receives_secret_data() -> Result<()> {
    use kube::core::PartialObjectMeta;
    let env = TestEnv::start().await?;
    let secrets: Api<Secret> = Api::namespaced(env.client(), env.namespace());
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {
            "name": "creds",
            "labels": { "team": "bots" },
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":\"s3cr3t\"}" },
        },
        "stringData": { "token": "s3cr3t" },
    }))?;
    let created = secrets.create(&PostParams::default(), &secret).await?;

    let factory = InformerFactory::new(env.client(), None)
        .with_namespace(env.namespace())
        .with_transform_for::<PartialObjectMeta<Secret>>(|s| {
            if let Some(a) = s.metadata.annotations.as_mut() {
                a.remove("kubectl.kubernetes.io/last-applied-configuration");
            }
        });
    let informer = factory.metadata_informer_for::<Secret>();
    assert!(Arc::ptr_eq(&informer, &factory.informer_for::<PartialObjectMeta<Secret>>()), "one informer");
    factory.start();
    let synced = tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await?;
    assert_eq!(synced.into_iter().collect::<Vec<_>>(), [("v1/Secret (metadata)".to_string(), true)]);

    let lister = informer.lister().namespaced(env.namespace());
    let cached = lister.get("creds")?;
    let types = cached.types.clone().context("types")?;
    assert_eq!((types.api_version.as_str(), types.kind.as_str()), ("meta.k8s.io/v1", "PartialObjectMetadata"));
    assert_eq!(cached.metadata.resource_version, created.metadata.resource_version);
    assert_eq!(cached.metadata.labels.as_ref().and_then(|l| l.get("team")).map(String::as_str), Some("bots"));
    assert!(cached.metadata.annotations.as_ref().is_none_or(|a| a.is_empty()), "{:?}", cached.metadata.annotations);
    assert!(!format!("{cached:?}").contains("s3cr3t"));
    factory.shutdown().await;
    Ok(())
}

/// By default the parser leaves managedFields out of cached objects (the
/// server records them); `keep_managed_fields()` keeps them, and
/// `drop_last_applied()` leaves out the last-applied annotation only.
#[tokio::test]
async fn managed_fields_are_left_out_by_default_and_kept_on_request() -> Result<()> {
    let env = TestEnv::start().await?;
    let ns = env.namespace();
    let api: Api<ConfigMap> = Api::namespaced(env.client(), ns);
    let mut cm = configmap("applied", &[("app", "x")], "1")?;
    cm.annotations_mut().extend([
        ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{}".to_string()),
        ("keep".into(), "1".into()),
    ]);
    let created = api.create(&PostParams::default(), &cm).await?;
    assert!(!created.managed_fields().is_empty(), "the server records managed fields");

    let cached = |factory: InformerFactory| async move {
        let informer = factory.informer_for::<ConfigMap>();
        factory.start();
        tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await?;
        let obj = informer.lister().namespaced(ns).get("applied")?;
        factory.shutdown().await;
        anyhow::Ok(obj)
    };
    let default = cached(InformerFactory::new(env.client(), None).with_namespace(ns)).await?;
    assert!(default.metadata.managed_fields.is_none(), "left out by default");
    assert_eq!(default.annotations().len(), 2, "annotations kept by default");
    assert_eq!(default.labels(), created.labels());
    assert_eq!(default.data, created.data);

    let kept = cached(InformerFactory::new(env.client(), None).with_namespace(ns).keep_managed_fields()).await?;
    assert_eq!(kept.metadata.managed_fields, created.metadata.managed_fields, "kept on request");
    assert_eq!(*kept, created, "the object as served");

    let lean = cached(InformerFactory::new(env.client(), None).with_namespace(ns).drop_last_applied()).await?;
    assert!(lean.metadata.managed_fields.is_none());
    assert_eq!(lean.annotations().keys().collect::<Vec<_>>(), ["keep"], "only the last-applied annotation is left out");
    Ok(())
}

/// The initial list is streamed by default (one watch with
/// `sendInitialEvents`, no LIST); an apiserver that refuses that (422, as
/// before v1.27 or with the WatchList gate off) gets list + watch instead.
#[tokio::test]
async fn the_initial_list_is_streamed_and_falls_back_to_list_and_watch() -> Result<()> {
    use bot_runtime::fake::{FakeCluster, status};
    use std::sync::atomic::{AtomicBool, Ordering};

    let objects = [configmap("a", &[], "1")?, configmap("b", &[], "2")?].map(|mut c| {
        c.metadata.namespace = Some("ns".into());
        c
    });
    let streamed = FakeCluster::new().with_objects(objects.clone());
    let factory = InformerFactory::new(streamed.client(), None).with_namespace("ns");
    let informer = factory.informer_for::<ConfigMap>();
    factory.start();
    tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await?;
    assert_eq!(informer.store().len(), 2);
    let verbs: Vec<String> = streamed.actions().into_iter().map(|a| a.verb).collect();
    assert!(!verbs.contains(&"list".to_string()), "streamed, not listed: {verbs:?}");
    factory.shutdown().await;

    // Watches are refused until the informer lists.
    let old = FakeCluster::new().with_objects(objects);
    let listed = Arc::new(AtomicBool::new(false));
    let seen = listed.clone();
    old.prepend_reactor("list", "configmaps", move |_| {
        seen.store(true, Ordering::SeqCst);
        None
    });
    let seen = listed.clone();
    old.prepend_reactor("watch", "configmaps", move |_| {
        let forbidden = "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled";
        (!seen.load(Ordering::SeqCst))
            .then(|| Err(status::invalid("ConfigMap", "", "sendInitialEvents", "FieldValueForbidden", forbidden)))
    });
    let factory = InformerFactory::new(old.client(), None).with_namespace("ns");
    let informer = factory.informer_for::<ConfigMap>();
    factory.start();
    tokio::time::timeout(TIMEOUT, factory.wait_for_cache_sync()).await.context("synced by list + watch")?;
    assert_eq!(informer.store().len(), 2);
    assert!(listed.load(Ordering::SeqCst));
    assert!(informer.health().is_healthy(), "{:?}", informer.health());
    factory.shutdown().await;
    Ok(())
}
