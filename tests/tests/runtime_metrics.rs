//! bot-runtime's metrics against a real kube-apiserver: an informer, a
//! queue and a controller publishing into one registry; after N objects
//! the OpenMetrics text shows the expected counts.

mod common;
use common::eventually_within;

use std::time::Duration;

use anyhow::Result;
use bot_runtime::{
    Action, Controller, InformerFactory, ObjectKey, WorkQueue, enqueue_object_keys,
    k8s_openapi::api::core::v1::ConfigMap,
    metrics::{self, RuntimeMetrics, prometheus_client::registry::Registry},
    testenv::TestEnv,
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams},
};

const TIMEOUT: Duration = Duration::from_secs(30);
const N: usize = 10;

/// The value of one sample line of the registry's text, e.g.
/// `workqueue_adds_total{name="configmaps"}`.
fn value(registry: &Registry, series: &str) -> Option<f64> {
    metrics::encode(registry).lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn wait_for(registry: &Registry, series: &str, expected: f64) -> Result<()> {
    eventually_within(TIMEOUT, &format!("{series} = {expected}"), || async {
        Ok((value(registry, series) == Some(expected)).then_some(()))
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e}; last value {:?}\n{}", value(registry, series), metrics::encode(registry)))
}

#[tokio::test]
async fn informer_queue_and_controller_metrics_count_what_happened() -> Result<()> {
    let env = TestEnv::start().await?;
    let mut registry = Registry::default();
    let metrics = RuntimeMetrics::register(&mut registry);

    let factory = InformerFactory::new(env.client(), None)
        .with_namespace(env.namespace())
        .with_tweak_list_options(|c| c.label_selector = Some("suite=metrics".into()))
        .with_metrics(&metrics);
    let informer = factory.informer_for::<ConfigMap>();
    let queue = WorkQueue::<ObjectKey>::new().with_metrics("configmaps", &metrics);
    informer.add_event_handler(enqueue_object_keys(queue.clone()));
    factory.start();
    factory.wait_for_cache_sync_timeout(TIMEOUT).await?;

    let controller = Controller::new("configmaps", queue.clone(), |_key: ObjectKey| async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, std::convert::Infallible>(Action::Done)
    })
    .workers(2)
    .metrics(&metrics);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(controller.run(async move {
        let _ = stopped.await;
    }));

    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    for i in 0..N {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("cm-{i}")),
                labels: Some([("suite".to_string(), "metrics".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &cm).await?;
    }
    let n = N as f64;
    let kind = r#"kind="v1/ConfigMap""#;
    wait_for(&registry, r#"controller_runtime_reconcile_total{controller="configmaps",result="success"}"#, n).await?;
    assert_eq!(value(&registry, &format!("reflector_objects{{{kind}}}")), Some(n));
    assert_eq!(value(&registry, &format!("reflector_lists_total{{{kind}}}")), Some(1.0));
    assert_eq!(value(&registry, &format!("reflector_watch_events_total{{{kind}}}")), Some(n));
    assert_eq!(value(&registry, &format!("reflector_watch_errors_total{{{kind}}}")), Some(0.0));
    assert_eq!(value(&registry, r#"workqueue_adds_total{name="configmaps"}"#), Some(n));
    assert_eq!(value(&registry, r#"workqueue_work_duration_seconds_count{name="configmaps"}"#), Some(n));
    assert_eq!(value(&registry, r#"workqueue_queue_duration_seconds_count{name="configmaps"}"#), Some(n));
    assert_eq!(value(&registry, r#"workqueue_depth{name="configmaps"}"#), Some(0.0));
    assert_eq!(
        value(&registry, r#"controller_runtime_reconcile_time_seconds_count{controller="configmaps"}"#),
        Some(n)
    );
    assert_eq!(value(&registry, r#"controller_runtime_reconcile_errors_total{controller="configmaps"}"#), Some(0.0));
    assert_eq!(value(&registry, r#"controller_runtime_max_concurrent_reconciles{controller="configmaps"}"#), Some(2.0));
    let last_event = value(&registry, &format!("reflector_last_event_timestamp_seconds{{{kind}}}")).unwrap_or(0.0);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs_f64();
    assert!(now - last_event < TIMEOUT.as_secs_f64(), "the last event is recent: {last_event} vs {now}");

    // One update and one delete: two more watch events, adds and reconciles.
    let patch = serde_json::json!({ "data": { "changed": "yes" } });
    api.patch("cm-0", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    api.delete("cm-1", &DeleteParams::default()).await?;
    wait_for(&registry, r#"controller_runtime_reconcile_total{controller="configmaps",result="success"}"#, n + 2.0)
        .await?;
    assert_eq!(value(&registry, &format!("reflector_watch_events_total{{{kind}}}")), Some(n + 2.0));
    assert_eq!(value(&registry, &format!("reflector_objects{{{kind}}}")), Some(n - 1.0));
    assert_eq!(value(&registry, r#"workqueue_adds_total{name="configmaps"}"#), Some(n + 2.0));

    stop.send(()).ok();
    tokio::time::timeout(TIMEOUT, run).await??;
    assert_eq!(value(&registry, r#"controller_runtime_active_workers{controller="configmaps"}"#), Some(0.0));
    factory.shutdown().await;
    let text = metrics::encode(&registry);
    assert!(!text.contains("informer_handler_buffer_depth{"), "handler series go with the informer:\n{text}");
    Ok(())
}
