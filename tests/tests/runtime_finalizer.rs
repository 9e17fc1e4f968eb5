//! bot-runtime's `finalizer` helper against a real kube-apiserver: added on
//! first reconcile, cleanup before deletion, and patches that fail rather
//! than clobber someone else's finalizers.
//!
//! KUBE_TESTENV=$PWD/target/testenv/kube-testenv cargo test -p bot-tests --test runtime_finalizer

mod common;
use common::eventually;

use std::sync::{Arc, Mutex};

use anyhow::Result;
use bot_runtime::{
    Action,
    finalizer::{Error, Event, finalizer},
    testenv::TestEnv,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

const FINALIZER: &str = "botops.dev/cleanup";

async fn configmap(env: &TestEnv, name: &str, finalizers: &[&str]) -> Result<Api<ConfigMap>> {
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": name, "finalizers": finalizers } }))?;
    api.create(&PostParams::default(), &cm).await?;
    Ok(api)
}

async fn finalizers(api: &Api<ConfigMap>, name: &str) -> Result<Vec<String>> {
    Ok(api.get(name).await?.metadata.finalizers.unwrap_or_default())
}

/// Someone else's edit of the finalizers, applied as a JSON patch.
async fn their_patch(api: &Api<ConfigMap>, name: &str, ops: serde_json::Value) -> Result<()> {
    api.patch(name, &PatchParams::default(), &Patch::<()>::Json(serde_json::from_value(ops)?)).await?;
    Ok(())
}

/// One reconcile of `obj` behind [`FINALIZER`]; logs what ran; a cleanup
/// fails while `fail_cleanups` is above zero (counting down).
async fn reconcile(
    api: &Api<ConfigMap>,
    obj: ConfigMap,
    log: &Arc<Mutex<Vec<String>>>,
    fail_cleanups: &Arc<Mutex<u32>>,
) -> Result<Action, Error<std::io::Error>> {
    let (log, fail_cleanups) = (log.clone(), fail_cleanups.clone());
    finalizer(api, FINALIZER, Arc::new(obj), |event| async move {
        match event {
            Event::Apply(cm) => {
                let has_ours = cm.metadata.finalizers.iter().flatten().any(|f| f == FINALIZER);
                log.lock().unwrap().push(format!("apply finalizer={has_ours}"));
                Ok(Action::Done)
            }
            Event::Cleanup(_) => {
                let mut failures = fail_cleanups.lock().unwrap();
                if *failures > 0 {
                    *failures -= 1;
                    log.lock().unwrap().push("cleanup failed".into());
                    return Err(std::io::Error::other("external system unavailable"));
                }
                log.lock().unwrap().push("cleanup".into());
                Ok(Action::Done)
            }
        }
    })
    .await
}

async fn gone(api: &Api<ConfigMap>, name: &str) -> Result<()> {
    eventually("the object to be deleted", || async { Ok(api.get_opt(name).await?.is_none().then_some(())) }).await
}

#[tokio::test]
async fn added_on_first_reconcile_then_cleanup_lets_the_deletion_finish() -> Result<()> {
    let env = TestEnv::start().await?;
    let api = configmap(&env, "lifecycle", &[]).await?;
    let (log, no_failures) = (Arc::default(), Arc::default());

    let action = reconcile(&api, api.get("lifecycle").await?, &log, &no_failures).await?;
    assert_eq!(action, Action::Done);
    assert_eq!(finalizers(&api, "lifecycle").await?, [FINALIZER]);
    reconcile(&api, api.get("lifecycle").await?, &log, &no_failures).await?;
    assert_eq!(*log.lock().unwrap(), ["apply finalizer=true", "apply finalizer=true"], "Apply sees the patched object");

    api.delete("lifecycle", &DeleteParams::default()).await?;
    let deleting = api.get("lifecycle").await?;
    assert!(deleting.metadata.deletion_timestamp.is_some(), "held by the finalizer");
    reconcile(&api, deleting.clone(), &log, &no_failures).await?;
    assert_eq!(log.lock().unwrap().last().map(String::as_str), Some("cleanup"));
    gone(&api, "lifecycle").await?;

    // A late reconcile of the deleting object (from a lagging cache) is a no-op.
    let mut finalized = deleting;
    finalized.metadata.finalizers = None;
    assert_eq!(reconcile(&api, finalized, &log, &no_failures).await?, Action::Done);
    assert_eq!(log.lock().unwrap().len(), 3);
    Ok(())
}

#[tokio::test]
async fn a_failed_cleanup_keeps_the_finalizer_and_the_object_until_a_retry_succeeds() -> Result<()> {
    let env = TestEnv::start().await?;
    let api = configmap(&env, "stubborn", &[FINALIZER]).await?;
    let (log, failures) = (Arc::default(), Arc::new(Mutex::new(1)));
    api.delete("stubborn", &DeleteParams::default()).await?;

    let err = reconcile(&api, api.get("stubborn").await?, &log, &failures).await.unwrap_err();
    assert!(matches!(err, Error::CleanupFailed(_)), "{err}");
    assert_eq!(err.to_string(), "failed to clean up object: external system unavailable");
    let still_there = api.get("stubborn").await?;
    assert!(still_there.metadata.deletion_timestamp.is_some());
    assert_eq!(still_there.metadata.finalizers.unwrap_or_default(), [FINALIZER]);

    reconcile(&api, api.get("stubborn").await?, &log, &failures).await?;
    assert_eq!(*log.lock().unwrap(), ["cleanup failed", "cleanup"]);
    gone(&api, "stubborn").await
}

#[tokio::test]
async fn adding_over_a_concurrent_change_fails_and_keeps_theirs() -> Result<()> {
    let env = TestEnv::start().await?;
    let (log, no_failures) = (Arc::default(), Arc::default());

    // Read with one finalizer; another controller appends one meanwhile.
    let api = configmap(&env, "shared", &["botops.dev/other-a"]).await?;
    let stale = api.get("shared").await?;
    their_patch(
        &api,
        "shared",
        json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "botops.dev/other-b"}]),
    )
    .await?;
    let err = reconcile(&api, stale, &log, &no_failures).await.unwrap_err();
    assert!(matches!(err, Error::AddFinalizer(_)) && err.is_conflict(), "{err:?}");
    assert_eq!(finalizers(&api, "shared").await?, ["botops.dev/other-a", "botops.dev/other-b"]);
    reconcile(&api, api.get("shared").await?, &log, &no_failures).await?;
    assert_eq!(finalizers(&api, "shared").await?, ["botops.dev/other-a", "botops.dev/other-b", FINALIZER]);

    // Read without finalizers; one appears meanwhile: `test null` fails on the real apiserver too.
    let api = configmap(&env, "bare", &[]).await?;
    let stale = api.get("bare").await?;
    their_patch(&api, "bare", json!([{"op": "add", "path": "/metadata/finalizers", "value": ["botops.dev/other-a"]}]))
        .await?;
    let err = reconcile(&api, stale, &log, &no_failures).await.unwrap_err();
    assert!(err.is_conflict(), "{err:?}");
    assert_eq!(finalizers(&api, "bare").await?, ["botops.dev/other-a"]);
    assert!(log.lock().unwrap().len() == 1, "Apply never ran on a failed add");
    Ok(())
}

#[tokio::test]
async fn removing_with_a_stale_index_fails_instead_of_removing_theirs() -> Result<()> {
    let env = TestEnv::start().await?;
    let (log, no_failures) = (Arc::default(), Arc::default());
    let api = configmap(&env, "crowded", &["botops.dev/other-a", FINALIZER, "botops.dev/other-b"]).await?;
    api.delete("crowded", &DeleteParams::default()).await?;

    // Our copy says index 1; other-a is removed meanwhile, so index 1 is now other-b.
    let stale = api.get("crowded").await?;
    their_patch(
        &api,
        "crowded",
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "botops.dev/other-a"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
        ]),
    )
    .await?;
    let err = reconcile(&api, stale, &log, &no_failures).await.unwrap_err();
    assert!(matches!(err, Error::RemoveFinalizer(_)) && err.is_conflict(), "{err:?}");
    assert_eq!(finalizers(&api, "crowded").await?, [FINALIZER, "botops.dev/other-b"], "other-b survives");

    // The retry on a fresh copy runs the (idempotent) cleanup again and removes ours only.
    reconcile(&api, api.get("crowded").await?, &log, &no_failures).await?;
    assert_eq!(finalizers(&api, "crowded").await?, ["botops.dev/other-b"]);
    assert_eq!(*log.lock().unwrap(), ["cleanup", "cleanup"]);
    their_patch(&api, "crowded", json!([{"op": "remove", "path": "/metadata/finalizers/0"}])).await?;
    gone(&api, "crowded").await
}

#[tokio::test]
async fn a_recreated_object_of_the_same_name_is_never_patched() -> Result<()> {
    let env = TestEnv::start().await?;
    let (log, no_failures) = (Arc::default(), Arc::default());
    let api = configmap(&env, "phoenix", &[]).await?;
    let old = api.get("phoenix").await?;
    api.delete("phoenix", &DeleteParams::default()).await?;
    gone(&api, "phoenix").await?;
    configmap(&env, "phoenix", &[]).await?;

    let err = reconcile(&api, old, &log, &no_failures).await.unwrap_err();
    assert!(err.is_conflict(), "the uid test fails: {err:?}");
    assert!(finalizers(&api, "phoenix").await?.is_empty());
    Ok(())
}
