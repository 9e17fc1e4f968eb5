//! Benchmark of the shared informer against the real control plane: memory
//! of the cache for N ConfigMaps (the shape of kube-runtime's own memory
//! benchmark: 2 labels, a last-applied annotation, ~160 B of data), time to
//! sync, and lister look-ups through the namespace index versus a full scan.
//!
//! ```sh
//! make testenv && cargo bench -p bot-tests --bench informer -- 10000
//! ```
//!
//! Results are written down in docs/benchmarks.md.

use std::{sync::Arc, time::Instant};

use anyhow::Result;
use bot_runtime::{factory::InformerFactory, testenv::TestEnv};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    core::Selector,
};
use serde_json::json;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn configmap(i: usize) -> ConfigMap {
    let data = format!("{:0>160}", i);
    let body = json!({ "metadata": { "name": format!("cm-{i}"), "labels": { "app": "bench", "shard": (i % 10).to_string() } },
                       "data": { "payload": data } });
    serde_json::from_value(json!({
        "metadata": {
            "name": format!("cm-{i}"),
            "labels": { "app": "bench", "shard": (i % 10).to_string() },
            "annotations": { "kubectl.kubernetes.io/last-applied-configuration": body.to_string() }
        },
        "data": { "payload": data }
    }))
    .expect("static manifest")
}

#[tokio::main]
async fn main() -> Result<()> {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let namespaces = 10;
    let env = TestEnv::start().await?;
    let client = env.client();
    let ns_names: Vec<String> = (0..namespaces).map(|i| format!("{}-{i}", env.namespace())).collect();
    for ns in &ns_names {
        let obj: Namespace = serde_json::from_value(json!({ "metadata": { "name": ns } }))?;
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &obj).await?;
    }
    let t = Instant::now();
    stream::iter(0..n)
        .map(|i| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns_names[i % namespaces]);
            async move { api.create(&PostParams::default(), &configmap(i)).await.map(|_| ()) }
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    println!("created {n} ConfigMaps in {} namespaces in {:.1?}", namespaces, t.elapsed());

    // Baseline: a plain LIST of everything, dropped.
    let before_list = rss_kib();
    let listed = Api::<ConfigMap>::all(client.clone()).list(&ListParams::default().labels("app=bench")).await?;
    let list_kib = rss_kib().saturating_sub(before_list);
    assert_eq!(listed.items.len(), n);
    drop(listed);

    let before = rss_kib();
    let factory = InformerFactory::new(client.clone(), None)
        .with_tweak_list_options(|c| c.label_selector = Some("app=bench".into()));
    let informer = factory.informer_for::<ConfigMap>();
    let t = Instant::now();
    factory.start();
    factory.wait_for_cache_sync().await;
    let sync = t.elapsed();
    let after = rss_kib();
    let store = informer.store();
    assert_eq!(store.len(), n);
    println!(
        "informer sync: {sync:.1?}; RSS +{} KiB ({:.0} B/object); a plain LIST of the same grew RSS +{} KiB",
        after.saturating_sub(before),
        (after.saturating_sub(before) * 1024) as f64 / n as f64,
        list_kib
    );

    // Lister: namespace index versus scan.
    let lister = informer.lister();
    let all = Selector::default();
    let iters = 200;
    let t = Instant::now();
    let mut found = 0;
    for i in 0..iters {
        found += lister.namespaced(&ns_names[i % namespaces]).list(&all).len();
    }
    let indexed = t.elapsed() / iters as u32;
    let t = Instant::now();
    let mut scanned = 0;
    for i in 0..iters {
        let ns = &ns_names[i % namespaces];
        scanned += lister.list(&all).iter().filter(|c| c.namespace().as_deref() == Some(ns)).count();
    }
    let scan = t.elapsed() / iters as u32;
    assert_eq!(found, scanned);
    println!("namespace listing of {} objects: index {indexed:.1?}, full scan {scan:.1?}", n / namespaces);
    let t = Instant::now();
    for i in 0..10_000 {
        let _ = lister.namespaced(&ns_names[i % namespaces]).get(&format!("cm-{i}"));
    }
    println!("get by key: {:.0?} per call", t.elapsed() / 10_000);

    // Sharing, not copying: every reader holds the same Arc.
    let a = lister.namespaced(&ns_names[0]).get("cm-0")?;
    let b = store.list().into_iter().find(|c| c.name_any() == "cm-0").expect("cached");
    assert!(Arc::ptr_eq(&a, &b));
    factory.shutdown().await;
    for ns in &ns_names {
        Api::<Namespace>::all(client.clone()).delete(ns, &Default::default()).await?;
    }
    Ok(())
}
