//! bot-runtime's operator HTTP server over real TCP: `/metrics`, `/healthz`,
//! `/readyz` (with checks on a real informer and a leader elector), graceful
//! shutdown.
//!
//! KUBE_TESTENV=$PWD/target/testenv/kube-testenv cargo test -p bot-tests --test runtime_server

mod common;
use common::eventually;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Result;
use bot_runtime::server::prometheus_client::metrics::counter::Counter;
use bot_runtime::{
    InformerConfig, LeaderElectionConfig, LeaderElector, SharedIndexInformer,
    server::{Error, OPENMETRICS_CONTENT_TYPE, OperatorServer, SharedRegistry, informer_synced, leadership},
    testenv::TestEnv,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use tokio::sync::oneshot;

async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String, String)> {
    let response = reqwest::get(format!("http://{addr}{path}")).await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok((status, content_type, response.text().await?))
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[tokio::test]
async fn serves_metrics_health_and_readiness_that_flips_then_shuts_down_gracefully() -> Result<()> {
    let registry = SharedRegistry::default();
    let reconciles = Counter::<u64>::default();
    registry.with(|r| r.register("reconciles", "Reconciles run", reconciles.clone()));
    let warmed_up = Arc::new(AtomicBool::new(false));
    let flag = warmed_up.clone();

    let listening = OperatorServer::builder()
        .bind(localhost())
        .registry(registry.clone())
        .readiness("always", || Ok(()))
        .readiness("warm-up", move || if flag.load(Ordering::SeqCst) { Ok(()) } else { Err("warming up".into()) })
        .build()
        .listen()
        .await?;
    let addr = listening.local_addr();
    assert_ne!(addr.port(), 0, "port 0 resolved to a real port");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(listening.serve(async {
        let _ = stopped.await;
    }));

    assert_eq!(get(addr, "/healthz").await?, (200, "text/plain; charset=utf-8".into(), "ok".into()));

    reconciles.inc_by(3);
    let (status, content_type, body) = get(addr, "/metrics").await?;
    assert_eq!((status, content_type.as_str()), (200, OPENMETRICS_CONTENT_TYPE));
    assert!(body.contains("# TYPE reconciles counter\n") && body.contains("reconciles_total 3\n"), "{body}");
    assert!(body.ends_with("# EOF\n"));
    // Metrics registered after the server started are served too.
    let late = Counter::<u64>::default();
    registry.with(|r| r.register("late", "Registered late", late.clone()));
    assert!(get(addr, "/metrics").await?.2.contains("late_total 0\n"));

    let (status, _, body) = get(addr, "/readyz").await?;
    assert_eq!(status, 503);
    assert_eq!(body, "[+]always ok\n[-]warm-up failed: warming up\nreadyz check failed\n");
    warmed_up.store(true, Ordering::SeqCst);
    assert_eq!(get(addr, "/readyz").await?, (200, "text/plain; charset=utf-8".into(), "ok".into()));
    let (status, _, body) = get(addr, "/readyz?verbose").await?;
    assert_eq!((status, body.as_str()), (200, "[+]always ok\n[+]warm-up ok\nreadyz check passed\n"));
    assert_eq!(get(addr, "/nope").await?.0, 404);

    let _ = stop.send(());
    server.await??;
    assert!(reqwest::get(format!("http://{addr}/healthz")).await.is_err(), "no longer listening");
    Ok(())
}

#[tokio::test]
async fn readiness_follows_a_real_informer_and_passes_for_follower_and_leader() -> Result<()> {
    let env = TestEnv::start().await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let informer = Arc::new(SharedIndexInformer::new(api, InformerConfig::new()));
    // Never run: the elector is idle, as a follower waiting for the lease is.
    let elector = LeaderElector::new(env.client(), LeaderElectionConfig::new("server-test", env.namespace()))?;

    let listening = OperatorServer::builder()
        .bind(localhost())
        .readiness("configmaps", informer_synced(&informer))
        .readiness("leader-election", leadership(elector.gate()))
        .build()
        .listen()
        .await?;
    let addr = listening.local_addr();
    let server = tokio::spawn(listening.serve(std::future::pending()));

    let (status, _, body) = get(addr, "/readyz").await?;
    assert_eq!(status, 503);
    assert_eq!(body, "[-]configmaps failed: cache not synced\n[+]leader-election ok\nreadyz check failed\n");
    informer.run();
    eventually("/readyz to pass", || async { Ok((get(addr, "/readyz").await?.0 == 200).then_some(())) }).await?;
    assert_eq!(get(addr, "/metrics").await?.0, 404, "no registry configured");

    // Leading is ready too.
    let gate = elector.gate();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(elector.run(
        async {
            let _ = stopped.await;
        },
        |leadership| async move { leadership.cancelled().await },
    ));
    tokio::time::timeout(common::TIMEOUT, gate.wait_for_leadership()).await?;
    let (status, _, body) = get(addr, "/readyz?verbose").await?;
    assert_eq!((status, body.as_str()), (200, "[+]configmaps ok\n[+]leader-election ok\nreadyz check passed\n"));

    let _ = stop.send(());
    running.await?;
    informer.shutdown().await;
    server.abort();
    Ok(())
}

#[tokio::test]
async fn off_without_an_address_and_bind_errors_are_reported() -> Result<()> {
    // Not configured: serve nothing, return when the shutdown signal fires.
    OperatorServer::builder().bind_opt(None).serve(async {}).await?;
    assert!(matches!(OperatorServer::builder().build().listen().await, Err(Error::NoAddress)));

    let taken = OperatorServer::builder().bind(localhost()).build().listen().await?;
    let err = OperatorServer::builder().bind(taken.local_addr()).build().listen().await.unwrap_err();
    assert!(matches!(err, Error::Bind { addr, .. } if addr == taken.local_addr()), "{err}");
    Ok(())
}
