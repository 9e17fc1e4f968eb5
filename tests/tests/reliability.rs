//! Informers under bad input and an unreachable apiserver: an object the
//! Rust type cannot decode is skipped and reported without blocking the list
//! or the watch, and an apiserver that cannot be reached is asked at a
//! bounded rate while the informer reports itself unhealthy. (Faults of a
//! running control plane are in chaos.rs.)

mod common;
use common::eventually;

use std::{sync::Arc, time::Duration};

use anyhow::{Result, ensure};
use bot_runtime::{
    informer::{HandlerFuncs, InformerConfig, SharedIndexInformer},
    metrics::InformerMetrics,
    testenv::TestEnv,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api, CustomResource, CustomResourceExt, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
};
use prometheus_client::registry::Registry;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// A kind whose Rust type is stricter than its CRD: the CRD takes any
/// string as `mode`, the enum only `A` and `B` (as a CRD updated before the
/// operator that reads it).
#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "strict.botops.dev", version = "v1", kind = "Strict", namespaced)]
pub struct StrictSpec {
    mode: Mode,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
enum Mode {
    A,
    B,
}

fn metric(registry: &Registry, name: &str, kind: &str) -> f64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).expect("encode");
    let series = format!("{name}{{kind=\"{kind}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&series)).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

#[tokio::test]
async fn an_undecodable_object_is_skipped_and_reported_never_blocking_the_kind() -> Result<()> {
    let env = TestEnv::start().await?;
    let mut crd = serde_json::to_value(Strict::crd())?;
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"] =
        json!({ "type": "string" });
    env.install_crds([serde_json::from_value(crd)?]).await?;
    let raw: Api<DynamicObject> =
        Api::namespaced_with(env.client(), env.namespace(), &ApiResource::erase::<Strict>(&()));
    let create = |name: &str, mode: &str| {
        let obj: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "strict.botops.dev/v1", "kind": "Strict",
            "metadata": { "name": name }, "spec": { "mode": mode },
        }))
        .expect("static object");
        let raw = raw.clone();
        async move { raw.create(&PostParams::default(), &obj).await }
    };
    let set_mode = |name: &str, mode: &str| {
        let (raw, name, patch) = (raw.clone(), name.to_string(), json!({ "spec": { "mode": mode } }));
        async move { raw.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await }
    };
    create("good-1", "A").await?;
    create("bad", "Z").await?;
    create("good-2", "B").await?;

    let mut registry = Registry::default();
    let metrics = InformerMetrics::register(&mut registry);
    let start = |kind: &str| {
        let api = Api::<Strict>::namespaced(env.client(), env.namespace());
        let informer = Arc::new(SharedIndexInformer::new(api, InformerConfig::new().metrics(&metrics, kind)));
        informer.run();
        informer
    };
    let names = |informer: &SharedIndexInformer<Strict>| {
        let mut names: Vec<String> = informer.store().list().iter().map(|s| s.name_any()).collect();
        names.sort();
        names
    };

    // The list succeeds: the bad object is skipped, the others are cached.
    let informer = start("strict");
    ensure!(informer.wait_for_sync_timeout(Duration::from_secs(60)).await, "did not sync with a bad object listed");
    assert_eq!(names(&informer), ["good-1", "good-2"]);
    let health = informer.health();
    assert!(health.is_healthy(), "{health:?}");
    assert_eq!(health.undecodable, 1);
    assert_eq!(metric(&registry, "reflector_decode_errors_total", "strict"), 1.0);

    // The watch goes on past it: a new version of it (still bad) is counted,
    // a later good object arrives, and once it decodes it is cached.
    set_mode("bad", "Y").await?;
    create("good-3", "A").await?;
    eventually("good-3 cached", || async { Ok(informer.store().get_by(Some(env.namespace()), "good-3").map(drop)) })
        .await?;
    assert_eq!(metric(&registry, "reflector_decode_errors_total", "strict"), 2.0);
    set_mode("bad", "B").await?;
    eventually("the fixed object cached", || async {
        Ok(informer.store().get_by(Some(env.namespace()), "bad").filter(|b| b.spec.mode == Mode::B).map(drop))
    })
    .await?;
    assert_eq!(informer.health().undecodable, 0);

    // A cached object turning undecodable keeps its last decodable state;
    // deleting it deletes it.
    set_mode("good-1", "Q").await?;
    eventually("good-1 reported", || async { Ok((informer.health().undecodable == 1).then_some(())) }).await?;
    assert_eq!(informer.store().get_by(Some(env.namespace()), "good-1").map(|g| g.spec.mode.clone()), Some(Mode::A));
    raw.delete("good-1", &DeleteParams::default()).await?;
    eventually("good-1 deleted", || async {
        Ok(informer.store().get_by(Some(env.namespace()), "good-1").is_none().then_some(()))
    })
    .await?;
    assert_eq!(informer.health().undecodable, 0);

    // A fresh informer syncs with a bad object in the list.
    set_mode("good-2", "Nope").await?;
    let fresh = start("strict-fresh");
    ensure!(fresh.wait_for_sync_timeout(Duration::from_secs(60)).await, "a fresh informer did not sync");
    assert_eq!(names(&fresh), ["bad", "good-3"]);
    assert!(fresh.health().is_healthy());
    informer.shutdown().await;
    fresh.shutdown().await;
    Ok(())
}

/// A kind whose CRD is not installed: every LIST is answered 404.
#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "absent.botops.dev", version = "v1", kind = "Absent", namespaced)]
pub struct AbsentSpec {
    value: String,
}

/// An apiserver that answers every LIST with an error is asked less and
/// less often (0.8 s doubling, jittered down by up to half), not in a tight
/// loop, and the informer says why it is unhealthy.
#[tokio::test]
async fn a_list_that_keeps_failing_backs_off_exponentially() -> Result<()> {
    let env = TestEnv::start().await?;
    let mut registry = Registry::default();
    let metrics = InformerMetrics::register(&mut registry);
    let informer = Arc::new(SharedIndexInformer::new(
        Api::<Absent>::namespaced(env.client(), env.namespace()),
        InformerConfig::new().metrics(&metrics, "absent"),
    ));
    informer.run();
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let requests = metric(&registry, "reflector_requests_total", "absent");
    let health = informer.health();
    eprintln!("{requests} LIST requests in {window:?}, each answered 404; {health:?}");
    assert!(!health.is_healthy(), "{health:?}");
    assert!(health.last_error.as_deref().is_some_and(|e| e.contains("404")), "{health:?}");
    // Delays of at least 0.4, 0.8, 1.6, 3.2 s...: at most 5 attempts in 10 s.
    assert!((2.0..=6.0).contains(&requests), "{requests} requests in {window:?}");
    informer.shutdown().await;
    Ok(())
}

/// Nothing listens at the address: every attempt fails at once, and the
/// informer retries with growing, capped delays (at most one attempt per
/// 0.4 s, then per 0.8-1.6 s), reporting itself unhealthy with the error.
#[tokio::test]
async fn an_unreachable_apiserver_is_asked_at_a_bounded_rate_and_reported() -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // closed again at once
    let client = kube::Client::try_from(kube::Config::new(format!("http://127.0.0.1:{port}").parse()?))?;
    let mut registry = Registry::default();
    let metrics = InformerMetrics::register(&mut registry);
    let informer = Arc::new(SharedIndexInformer::new(
        Api::<ConfigMap>::namespaced(client, "default"),
        InformerConfig::new().metrics(&metrics, "unreachable"),
    ));
    informer.add_event_handler(HandlerFuncs::new());
    informer.run();
    let window = Duration::from_secs(8);
    tokio::time::sleep(window).await;
    let requests = metric(&registry, "reflector_requests_total", "unreachable");
    let health = informer.health();
    eprintln!("{requests} requests in {window:?} to an unreachable apiserver; {health:?}");
    assert!(!health.is_healthy() && !health.synced && !health.ok, "{health:?}");
    assert!(health.last_error.as_deref().is_some_and(|e| !e.is_empty()), "{health:?}");
    assert!(health.consecutive_failures >= 2, "{health:?}");
    // 8 s: one attempt at once, then delays of at least 0.4, 0.8 and 0.8 s...
    assert!((2.0..=14.0).contains(&requests), "{requests} requests in {window:?}");
    assert_eq!(metric(&registry, "reflector_healthy", "unreachable"), 0.0);
    informer.shutdown().await;
    Ok(())
}
