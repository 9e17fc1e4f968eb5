//! bot-runtime's dynamic informers against a real kube-apiserver: a kind
//! resolved at run time (a CRD and a built-in), its events and its lister.
//!
//! KUBE_TESTENV=$PWD/target/testenv/kube-testenv cargo test -p bot-tests --test runtime_dynamic

mod common;
use common::eventually;

use std::sync::{Arc, Mutex};

use anyhow::Result;
use bot_api::v1alpha1::Bot;
use bot_runtime::{HandlerFuncs, dynamic::DynamicInformerFactory, selector::LabelSelector, testenv::TestEnv};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, CustomResourceExt, ResourceExt,
    api::{DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams},
};
use serde_json::json;

/// A handler logging `add NAME`, `update NAME PLATFORM`, `delete NAME`.
fn recorder() -> (Arc<Mutex<Vec<String>>>, HandlerFuncs<DynamicObject>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, u, d) = (log.clone(), log.clone(), log.clone());
    let handler = HandlerFuncs::new()
        .on_add(move |o: &Arc<DynamicObject>, _| a.lock().unwrap().push(format!("add {}", o.name_any())))
        .on_update(move |_, new: &Arc<DynamicObject>| {
            let platform = new.data["spec"]["platform"].as_str().unwrap_or_default().to_string();
            u.lock().unwrap().push(format!("update {} {platform}", new.name_any()))
        })
        .on_delete(move |o: &Arc<DynamicObject>, _| d.lock().unwrap().push(format!("delete {}", o.name_any())));
    (log, handler)
}

async fn logged(log: &Arc<Mutex<Vec<String>>>, entry: &str) -> Result<()> {
    eventually(entry, || async { Ok(log.lock().unwrap().iter().any(|e| e == entry).then_some(())) }).await
}

fn bot(name: &str, platform: &str, team: &str) -> Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "botops.dev/v1alpha1",
        "kind": "Bot",
        "metadata": { "name": name, "labels": { "team": team } },
        "spec": { "platform": platform, "credentialsSecret": format!("{name}-credentials") }
    }))?)
}

#[tokio::test]
async fn dynamic_informer_for_a_crd_sees_create_update_delete_and_lists() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd()]).await?;
    let factory = DynamicInformerFactory::new(env.client(), None).with_namespace(env.namespace());
    let gvk = GroupVersionKind::gvk("botops.dev", "v1alpha1", "Bot");
    let bots = factory.for_resource(&gvk).await?;
    assert!(Arc::ptr_eq(&bots, &factory.for_resource(&gvk).await?), "one informer per kind");
    assert_eq!((bots.api_resource().plural.as_str(), bots.is_namespaced()), ("bots", true));

    let api: Api<DynamicObject> = Api::namespaced_with(env.client(), env.namespace(), bots.api_resource());
    api.create(&PostParams::default(), &bot("early", "line", "a")?).await?;
    let (log, handler) = recorder();
    bots.informer().add_event_handler(handler);
    factory.start();
    assert_eq!(
        factory.wait_for_cache_sync().await.into_iter().collect::<Vec<_>>(),
        [("botops.dev/v1alpha1/Bot".to_string(), true)]
    );
    assert!(factory.has_synced());
    logged(&log, "add early").await?;

    api.create(&PostParams::default(), &bot("late", "slack", "b")?).await?;
    logged(&log, "add late").await?;
    let patch = json!({ "spec": { "platform": "discord" } });
    api.patch("late", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    logged(&log, "update late discord").await?;

    let lister = bots.lister();
    let late = lister.namespaced(env.namespace()).get("late")?;
    assert_eq!(late.data["spec"]["platform"], "discord");
    assert_eq!(late.types.as_ref().map(|t| t.kind.as_str()), Some("Bot"));
    let team_a: LabelSelector = "team=a".parse()?;
    let names = |objs: Vec<Arc<DynamicObject>>| objs.iter().map(|o| o.name_any()).collect::<Vec<_>>();
    assert_eq!(names(lister.list(&team_a)), ["early"]);
    assert_eq!(names(lister.namespaced(env.namespace()).list(&team_a)), ["early"]);
    assert!(lister.namespaced("elsewhere").list(&LabelSelector::everything()).is_empty());

    api.delete("late", &DeleteParams::default()).await?;
    logged(&log, "delete late").await?;
    let err = lister.namespaced(env.namespace()).get("late").unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.to_string(), format!("Bot {}/\"late\" not found", env.namespace()));
    factory.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn dynamic_informer_for_a_built_in_kind_fills_in_api_version_and_kind() -> Result<()> {
    let env = TestEnv::start().await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "listed" }, "data": { "k": "v" } }))?;
    configmaps.create(&PostParams::default(), &cm).await?;

    let factory = DynamicInformerFactory::new(env.client(), None)
        .with_namespace(env.namespace())
        .with_transform(|meta| meta.managed_fields = None);
    let informer = factory.for_resource(&GroupVersionKind::gvk("", "v1", "ConfigMap")).await?;
    factory.start();
    factory.wait_for_cache_sync().await;
    let listed = informer.lister().namespaced(env.namespace()).get("listed")?;
    let types = listed.types.clone().unwrap_or_default();
    assert_eq!((types.api_version.as_str(), types.kind.as_str()), ("v1", "ConfigMap"), "set even on list items");
    assert_eq!(listed.data["data"]["k"], "v");
    assert!(listed.metadata.managed_fields.is_none(), "the factory's transform ran");
    factory.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_unknown_kind_is_a_discovery_error() -> Result<()> {
    let env = TestEnv::start().await?;
    let factory = DynamicInformerFactory::new(env.client(), None);
    let err = factory.for_resource(&GroupVersionKind::gvk("apps", "v1", "Nonexistent")).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot resolve apps/v1/Nonexistent: "), "{err}");
    let err = factory.for_resource(&GroupVersionKind::gvk("nowhere.example", "v1", "Thing")).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot resolve nowhere.example/v1/Thing: "), "{err}");
    Ok(())
}
