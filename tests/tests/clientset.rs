//! The generated clientset, listers and informers of the botops.dev kinds,
//! against the real control plane: every typed verb round-trips for each
//! kind; informers and listers observe create, update and delete.

mod common;
use common::eventually;

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, Result};
use bot_api::{
    applyconfigurations::botops_v1alpha1::{
        ActionApply, BotApply, BotRefApply, BotSpecApply, BotStatusApply, EventApply, EventBindingApply,
        EventBindingSpecApply, EventBindingStatusApply, EventSpecApply, TriggerApply,
    },
    clientset::Clientset,
    informers::SharedInformerFactory,
    v1alpha1::{
        Action, Bot, BotRef, BotSpec, BotStatus, Event, EventBinding, EventBindingSpec, EventBindingStatus, EventSpec,
        LogLevel, Platform, Trigger, TriggerType,
    },
};
use bot_runtime::testenv::TestEnv;
use futures::TryStreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{
    CustomResourceExt, ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
};
use serde_json::json;

async fn env() -> Result<TestEnv> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    Ok(env)
}

fn bot(name: &str) -> Bot {
    Bot::new(
        name,
        BotSpec {
            platform: Platform::Line,
            credentials_secret: "line-creds".into(),
            image: "bot-engine:1".into(),
            replicas: 1,
            port: 8080,
            log_level: LogLevel::Info,
            service: Default::default(),
        },
    )
}

fn event(name: &str, reply: &str) -> Event {
    let mut e = Event::new(
        name,
        EventSpec {
            trigger: Trigger {
                type_: TriggerType::Message,
                keywords: vec!["hi".into()],
                pattern: None,
                schedule: None,
            },
            actions: vec![Action { reply: reply.into() }],
        },
    );
    e.labels_mut().insert("bot".into(), "greeter".into());
    e
}

#[tokio::test]
async fn bot_verbs_round_trip() -> Result<()> {
    let env = env().await?;
    let bots = Clientset::new(env.client()).botops_v1alpha1().bots(env.namespace());
    let pp = PostParams::default();

    // create / get / get_opt / list
    let created = bots.create(&bot("alpha"), &pp).await?;
    assert_eq!(created.spec.platform, Platform::Line);
    assert!(created.uid().is_some());
    assert_eq!(bots.get("alpha").await?.spec.credentials_secret, "line-creds");
    assert!(bots.get_opt("missing").await?.is_none());
    bots.create(&bot("beta"), &pp).await?;
    let names: Vec<String> = bots.list(&ListParams::default()).await?.items.iter().map(|b| b.name_any()).collect();
    assert_eq!(names, ["alpha", "beta"]);

    // update (replace) keeps optimistic concurrency
    let mut alpha = bots.get("alpha").await?;
    alpha.spec.replicas = 3;
    let updated = bots.update(&alpha, &pp).await?;
    assert_eq!(updated.spec.replicas, 3);
    match bots.update(&alpha, &pp).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409, "a stale resourceVersion conflicts"),
        other => anyhow::bail!("expected a conflict, got {other:?}"),
    }

    // update_status writes only the status subresource
    let mut with_status = updated.clone();
    with_status.status = Some(BotStatus { ready_replicas: Some(2), bound_event_count: 4, ..Default::default() });
    with_status.spec.replicas = 9; // ignored by the status subresource
    let after = bots.update_status(&with_status, &pp).await?;
    assert_eq!(after.status.as_ref().unwrap().bound_event_count, 4);
    assert_eq!(bots.get("alpha").await?.spec.replicas, 3);

    // patch: merge, JSON patch, status patch
    let tests = PatchParams { field_manager: Some("tests".into()), ..PatchParams::default() };
    let merged = bots.merge_patch("alpha", &json!({ "spec": { "logLevel": "debug" } }), &tests).await?;
    assert_eq!(merged.spec.log_level, LogLevel::Debug);
    let ops: bot_runtime::json_patch::Patch =
        serde_json::from_value(json!([{ "op": "replace", "path": "/spec/port", "value": 9090 }]))?;
    assert_eq!(bots.json_patch("alpha", &ops, &PatchParams::default()).await?.spec.port, 9090);
    let st = bots
        .patch_status("alpha", &Patch::Merge(json!({ "status": { "endpoint": "http://x" } })), &PatchParams::default())
        .await?;
    assert_eq!(st.status.unwrap().endpoint.as_deref(), Some("http://x"));

    // server-side apply of spec and status, with a field manager
    let gamma = BotApply::new("gamma", env.namespace());
    let spec = BotSpecApply::default().platform(Platform::Slack).credentials_secret("slack-creds");
    let applied = bots.apply(&gamma.clone().spec(spec), &PatchParams::apply("tests")).await?;
    assert_eq!(applied.spec.platform, Platform::Slack);
    assert_eq!(applied.spec.replicas, 1, "the CRD schema's default applies");
    assert!(applied.managed_fields().iter().any(|m| m.manager.as_deref() == Some("tests")));
    let status = BotStatusApply::default().bound_event_count(7);
    let applied = bots.apply_status(&gamma.status(status), &PatchParams::apply("tests").force()).await?;
    assert_eq!(applied.status.unwrap().bound_event_count, 7);

    // watch sees a deletion; delete and delete_collection
    let rv = bots.list(&ListParams::default()).await?.metadata.resource_version.context("rv")?;
    let mut watch = bots.watch(&WatchParams::default().timeout(20), &rv).await?;
    bots.delete("beta", &DeleteParams::default()).await?;
    let ev = tokio::time::timeout(Duration::from_secs(20), watch.try_next()).await??.context("event")?;
    assert!(matches!(ev, WatchEvent::Deleted(b) if b.name_any() == "beta"));
    bots.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;
    eventually("all bots deleted", || async {
        Ok(bots.list(&ListParams::default()).await?.items.is_empty().then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn event_and_binding_verbs_round_trip() -> Result<()> {
    let env = env().await?;
    let cs = Clientset::new(env.client());
    let v1 = cs.botops_v1alpha1();
    let (events, bindings) = (v1.events(env.namespace()), v1.event_bindings(env.namespace()));
    let pp = PostParams::default();

    let rv = events.list(&ListParams::default()).await?.metadata.resource_version.context("rv")?;
    let mut watch = events.watch(&WatchParams::default().timeout(20), &rv).await?;
    let e = events.create(&event("hello", "Hello!"), &pp).await?;
    assert_eq!(e.spec.actions[0].reply, "Hello!");
    let ev = tokio::time::timeout(Duration::from_secs(20), watch.try_next()).await??.context("event")?;
    assert!(matches!(ev, WatchEvent::Added(e) if e.name_any() == "hello"));
    assert!(events.get_opt("nope").await?.is_none());
    let mut e = events.get("hello").await?;
    e.spec.actions[0].reply = "Hi there!".into();
    assert_eq!(events.update(&e, &pp).await?.spec.actions[0].reply, "Hi there!");
    let patched = events
        .merge_patch("hello", &json!({ "metadata": { "labels": { "tier": "gold" } } }), &PatchParams::default())
        .await?;
    assert_eq!(patched.labels()["tier"], "gold");
    assert_eq!(events.list(&ListParams::default().labels("tier=gold")).await?.items.len(), 1);
    let ops: bot_runtime::json_patch::Patch =
        serde_json::from_value(json!([{ "op": "add", "path": "/spec/trigger/keywords/-", "value": "hey" }]))?;
    assert_eq!(events.json_patch("hello", &ops, &PatchParams::default()).await?.spec.trigger.keywords, ["hi", "hey"]);
    let p = events
        .patch("hello", &Patch::Merge(json!({ "spec": { "trigger": { "pattern": "^h" } } })), &PatchParams::default())
        .await?;
    assert_eq!(p.spec.trigger.pattern.as_deref(), Some("^h"));
    let spec = EventSpecApply::default()
        .trigger(TriggerApply::default().type_(TriggerType::Follow))
        .actions([ActionApply::default().reply("Bye")]);
    let applied =
        events.apply(&EventApply::new("bye", env.namespace()).spec(spec), &PatchParams::apply("tests")).await?;
    assert_eq!(applied.spec.trigger.type_, TriggerType::Follow);
    events.delete("bye", &DeleteParams::default()).await?;
    events.delete_collection(&DeleteParams::default(), &ListParams::default()).await?;

    let binding = EventBinding::new(
        "greeter",
        EventBindingSpec {
            bot_ref: BotRef { name: "alpha".into() },
            selector: LabelSelector {
                match_labels: Some(BTreeMap::from([("bot".into(), "greeter".into())])),
                ..Default::default()
            },
        },
    );
    let rv = bindings.list(&ListParams::default()).await?.metadata.resource_version.context("rv")?;
    let mut watch = bindings.watch(&WatchParams::default().timeout(20), &rv).await?;
    let created = bindings.create(&binding, &pp).await?;
    let ev = tokio::time::timeout(Duration::from_secs(20), watch.try_next()).await??.context("event")?;
    assert!(matches!(ev, WatchEvent::Added(b) if b.name_any() == "greeter"));
    let mut changed = created.clone();
    changed.spec.bot_ref.name = "beta".into();
    let created = bindings.update(&changed, &pp).await?;
    assert_eq!(created.spec.bot_ref.name, "beta");
    let merged = bindings
        .merge_patch("greeter", &json!({ "spec": { "botRef": { "name": "alpha" } } }), &PatchParams::default())
        .await?;
    assert_eq!(merged.spec.bot_ref.name, "alpha");
    let ops: bot_runtime::json_patch::Patch =
        serde_json::from_value(json!([{ "op": "add", "path": "/metadata/labels", "value": { "team": "a" } }]))?;
    assert_eq!(bindings.json_patch("greeter", &ops, &PatchParams::default()).await?.labels()["team"], "a");
    let p = bindings
        .patch("greeter", &Patch::Merge(json!({ "metadata": { "labels": { "team": "b" } } })), &PatchParams::default())
        .await?;
    assert_eq!(p.labels()["team"], "b");
    assert_eq!(bindings.list(&ListParams::default().labels("team=b")).await?.items.len(), 1);
    let created = bindings.get("greeter").await?;
    let mut with_status = created.clone();
    with_status.status =
        Some(EventBindingStatus { events: vec!["hello".into()], event_count: 1, observed_generation: Some(1) });
    let st = bindings.update_status(&with_status, &pp).await?;
    assert_eq!(st.status.unwrap().events, ["hello"]);
    let status = EventBindingStatusApply::default().event_count(2);
    let config = EventBindingApply::new("greeter", env.namespace()).status(status);
    let st = bindings.apply_status(&config, &PatchParams::apply("tests").force()).await?;
    assert_eq!(st.status.unwrap().event_count, 2);
    let ps = bindings
        .patch_status("greeter", &Patch::Merge(json!({ "status": { "eventCount": 3 } })), &PatchParams::default())
        .await?;
    assert_eq!(ps.status.unwrap().event_count, 3);
    let spec = EventBindingSpecApply::default()
        .bot_ref(BotRefApply::default().name("gamma"))
        .selector(LabelSelector::default());
    let other = EventBindingApply::new("other", env.namespace()).spec(spec);
    let applied = bindings.apply(&other, &PatchParams::apply("tests")).await?;
    assert_eq!(applied.spec.bot_ref.name, "gamma");
    assert_eq!(bindings.get("greeter").await?.spec.bot_ref.name, "alpha");
    bindings.delete("greeter", &DeleteParams::default()).await?;
    assert!(bindings.get_opt("greeter").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn the_schema_refuses_invalid_objects() -> Result<()> {
    let env = env().await?;
    let bots = Clientset::new(env.client()).botops_v1alpha1().bots(env.namespace());
    let mut b = bot("toomany");
    b.spec.replicas = 50;
    match bots.create(&b, &PostParams::default()).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(s.message.contains("spec.replicas"), "{}", s.message);
        }
        other => anyhow::bail!("replicas 50 must be refused, got {other:?}"),
    }
    let bad = json!({ "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "metadata": { "name": "x" },
                      "spec": { "platform": "myspace", "credentialsSecret": "c" } });
    match bots.apply_raw("x", &bad, &PatchParams::apply("tests")).await {
        Err(kube::Error::Api(s)) => assert!(s.message.contains("spec.platform"), "{}", s.message),
        other => anyhow::bail!("an unknown platform must be refused, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn informers_and_listers_observe_create_update_delete() -> Result<()> {
    let env = env().await?;
    let ns = env.namespace().to_string();
    let cs = Clientset::new(env.client());
    let factory = SharedInformerFactory::new(env.client(), None).with_namespace(&ns);
    let bots_informer = factory.botops().v1alpha1().bots();
    // One informer per kind, however often asked.
    assert!(std::sync::Arc::ptr_eq(bots_informer.informer(), factory.botops().v1alpha1().bots().informer()));
    let lister = bots_informer.lister();
    factory.start();
    let synced = factory.wait_for_cache_sync().await;
    assert_eq!(synced, BTreeMap::from([("botops.dev/v1alpha1/Bot".to_string(), true)]));

    let bots = cs.botops_v1alpha1().bots(&ns);
    bots.create(&bot("watched"), &PostParams::default()).await?;
    let seen =
        eventually("the lister to see the new Bot", || async { Ok(lister.bots(&ns).get("watched").ok()) }).await?;
    assert_eq!(seen.spec.replicas, 1);
    assert_eq!(lister.list(&Default::default()).len(), 1);

    bots.merge_patch("watched", &json!({ "spec": { "replicas": 4 } }), &PatchParams::default()).await?;
    eventually("the lister to see the update", || async {
        Ok(lister.bots(&ns).get("watched").ok().filter(|b| b.spec.replicas == 4))
    })
    .await?;

    // A second kind asked for later starts with a second start().
    let events_informer = factory.botops().v1alpha1().events();
    factory.start();
    events_informer.informer().wait_for_sync().await;
    cs.botops_v1alpha1().events(&ns).create(&event("e1", "hey"), &PostParams::default()).await?;
    let elister = events_informer.lister();
    eventually("the Event lister", || async { Ok(elister.events(&ns).get("e1").ok()) }).await?;
    let by_label: bot_runtime::selector::LabelSelector = "bot=greeter".parse()?;
    assert_eq!(elister.events(&ns).list(&by_label).len(), 1);

    bots.delete("watched", &DeleteParams::default()).await?;
    eventually("the lister to drop the Bot", || async {
        Ok(lister.bots(&ns).get("watched").err().filter(|e| e.is_not_found()))
    })
    .await?;
    factory.shutdown().await;
    Ok(())
}
