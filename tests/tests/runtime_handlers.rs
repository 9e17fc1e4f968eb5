//! bot-runtime's event-handler contract against a real kube-apiserver: a
//! slow handler delays only itself, per-handler sync, and cache-sync
//! timeouts that name the kinds that did not sync.

mod common;
use common::eventually_within;

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::Duration,
};

use anyhow::Result;
use bot_runtime::{
    HandlerFuncs, InformerFactory, SharedIndexInformer, factory, k8s_openapi::api::core::v1::ConfigMap,
    testenv::TestEnv,
};
use kube::{
    Api, CustomResource, ResourceExt,
    api::{ObjectMeta, PostParams},
    runtime::watcher,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const TIMEOUT: Duration = Duration::from_secs(30);

fn configmap(name: &str, suite: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("suite".to_string(), suite.to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn informer(env: &TestEnv, suite: &str) -> Arc<SharedIndexInformer<ConfigMap>> {
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let config =
        bot_runtime::InformerConfig::new().watcher(watcher::Config::default().labels(&format!("suite={suite}")));
    Arc::new(SharedIndexInformer::new(api, config))
}

/// A handler recording the names it is given, in order.
fn recorder() -> (Arc<Mutex<Vec<String>>>, HandlerFuncs<ConfigMap>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler = HandlerFuncs::new().on_add({
        let log = log.clone();
        move |cm: &Arc<ConfigMap>, _| log.lock().unwrap().push(cm.name_any())
    });
    (log, handler)
}

async fn create(env: &TestEnv, suite: &str, names: impl IntoIterator<Item = String>) -> Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    for name in names {
        api.create(&PostParams::default(), &configmap(&name, suite)).await?;
    }
    Ok(())
}

/// A handler blocked (here on a gate; in production, on a slow call) holds
/// back neither the cache nor another handler of the same informer, and its
/// backlog is visible; released, it catches up in order.
#[tokio::test]
async fn a_blocked_handler_delays_only_itself() -> Result<()> {
    let env = TestEnv::start().await?;
    let informer = informer(&env, "blocked");
    let (open, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let slow_log = Arc::new(Mutex::new(Vec::new()));
    let slow = informer.add_event_handler(HandlerFuncs::new().on_add({
        let log = slow_log.clone();
        move |cm: &Arc<ConfigMap>, _| {
            let _ = gate.lock().unwrap().recv(); // returns once `open` is dropped
            log.lock().unwrap().push(cm.name_any());
        }
    }));
    let (fast_log, fast) = recorder();
    let fast = informer.add_event_handler(fast);
    informer.run();
    assert!(informer.wait_for_sync_timeout(TIMEOUT).await, "the cache syncs while a handler is blocked");

    let names: Vec<String> = (0..20).map(|i| format!("cm-{i:02}")).collect();
    create(&env, "blocked", names.clone()).await?;
    eventually_within(TIMEOUT, "the fast handler sees every add", || async {
        Ok((fast_log.lock().unwrap().len() == 20).then_some(()))
    })
    .await?;
    assert_eq!(informer.store().len(), 20, "the cache is current");
    assert!(slow_log.lock().unwrap().is_empty(), "the slow handler is still on its first event");
    assert!(slow.buffered() >= 20, "its backlog is visible: {}", slow.buffered());
    assert_eq!(fast.buffered(), 0);

    drop(open);
    eventually_within(TIMEOUT, "the slow handler catches up", || async {
        Ok((slow_log.lock().unwrap().len() == 20).then_some(()))
    })
    .await?;
    assert_eq!(*slow_log.lock().unwrap(), names, "in order");
    assert_eq!(slow.buffered(), 0);
    informer.shutdown().await;
    Ok(())
}

/// The case: a handler that sleeps 30 s on an event. The other
/// handler and the cache see every change at once; the sleeper gets them all
/// after its sleep. (Takes about 30 s.)
#[tokio::test]
async fn a_handler_sleeping_30_seconds_delays_only_itself() -> Result<()> {
    let env = TestEnv::start().await?;
    let informer = informer(&env, "sleepy");
    let slept = Arc::new(AtomicUsize::new(0));
    let sleepy_log = Arc::new(Mutex::new(Vec::new()));
    let sleepy = informer.add_event_handler(HandlerFuncs::new().on_add({
        let (slept, log) = (slept.clone(), sleepy_log.clone());
        move |cm: &Arc<ConfigMap>, _| {
            if slept.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_secs(30));
            }
            log.lock().unwrap().push(cm.name_any());
        }
    }));
    let (fast_log, fast) = recorder();
    informer.add_event_handler(fast);
    informer.run();
    assert!(informer.wait_for_sync_timeout(TIMEOUT).await);

    let start = tokio::time::Instant::now();
    create(&env, "sleepy", (0..10).map(|i| format!("cm-{i}"))).await?;
    eventually_within(TIMEOUT, "the other handler sees every add", || async {
        Ok((fast_log.lock().unwrap().len() == 10).then_some(()))
    })
    .await?;
    let others_done = start.elapsed();
    assert!(sleepy_log.lock().unwrap().is_empty(), "the sleeper is still asleep after {others_done:?}");
    assert_eq!(informer.lister().namespaced(env.namespace()).list(&Default::default()).len(), 10);
    eventually_within(Duration::from_secs(45), "the sleeper catches up", || async {
        Ok((sleepy_log.lock().unwrap().len() == 10).then_some(()))
    })
    .await?;
    println!("other handler done after {others_done:?}; sleeper done after {:?}", start.elapsed());
    assert_eq!(sleepy.buffered(), 0);
    informer.shutdown().await;
    Ok(())
}

/// A handler has synced once it has *handled* the initial list, which can
/// be well after the informer's cache synced; a late handler syncs once it
/// has handled the cache it joined.
#[tokio::test]
async fn handler_has_synced_follows_its_own_progress() -> Result<()> {
    let env = TestEnv::start().await?;
    create(&env, "handler-sync", (0..5).map(|i| format!("cm-{i}"))).await?;
    let informer = informer(&env, "handler-sync");
    let (open, gate) = mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let handled = Arc::new(AtomicUsize::new(0));
    let gated = informer.add_event_handler(HandlerFuncs::new().on_add({
        let handled = handled.clone();
        move |_: &Arc<ConfigMap>, _| {
            let _ = gate.lock().unwrap().recv();
            handled.fetch_add(1, Ordering::SeqCst);
        }
    }));
    informer.run();
    assert!(informer.wait_for_sync_timeout(TIMEOUT).await);
    assert!(informer.has_synced());
    assert!(!gated.has_synced(), "the informer synced, the handler has not handled the list");

    let (late_log, late) = recorder();
    let late = informer.add_event_handler(late);
    eventually_within(TIMEOUT, "the late handler synced", || async { Ok(late.has_synced().then_some(())) }).await?;
    assert_eq!(late_log.lock().unwrap().len(), 5, "synced means every cached object handled");

    drop(open);
    eventually_within(TIMEOUT, "the gated handler synced", || async { Ok(gated.has_synced().then_some(())) }).await?;
    assert_eq!(handled.load(Ordering::SeqCst), 5);
    informer.shutdown().await;
    Ok(())
}

/// A kind whose CRD is never installed: its informer cannot list.
#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "missing.botops.dev", version = "v1", kind = "Missing", namespaced)]
pub struct MissingSpec {
    value: String,
}

#[tokio::test]
async fn wait_for_cache_sync_timeout_names_the_kinds_that_did_not_sync() -> Result<()> {
    let env = TestEnv::start().await?;
    let factory = InformerFactory::new(env.client(), None).with_namespace(env.namespace());
    let configmaps = factory.informer_for::<ConfigMap>();
    factory.informer_for::<Missing>();
    factory.start();
    let timeout = Duration::from_secs(3);
    let err = factory.wait_for_cache_sync_timeout(timeout).await.unwrap_err();
    assert_eq!(err, factory::Error::NotSynced { timeout, kinds: vec!["missing.botops.dev/v1/Missing".into()] });
    assert_eq!(err.to_string(), "informers not synced after 3s: missing.botops.dev/v1/Missing");
    assert!(configmaps.has_synced(), "the other kind synced meanwhile");
    factory.shutdown().await;
    Ok(())
}
