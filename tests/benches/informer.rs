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
use bot_runtime::{SharedIndexInformer, factory::InformerFactory, testenv::TestEnv};
use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api, ResourceExt,
    api::{ListParams, PostParams},
    core::Selector,
};
use serde_json::json;

/// Counts live heap bytes and their peak: exact, unlike RSS (which keeps
/// what the allocator once had).
#[global_allocator]
static HEAP: peak_alloc::PeakAlloc = peak_alloc::PeakAlloc;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Syncs one informer over the bench ConfigMaps and reports its heap cost.
async fn measure(
    client: &kube::Client,
    n: usize,
    label: &str,
    strip_managed_fields: bool,
) -> Result<Arc<SharedIndexInformer<ConfigMap>>> {
    let base = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let mut factory = InformerFactory::new(client.clone(), None)
        .with_tweak_list_options(|c| c.label_selector = Some("app=bench".into()));
    if strip_managed_fields {
        factory = factory.with_transform(|m| m.managed_fields = None);
    }
    let informer = factory.informer_for::<ConfigMap>();
    let t = Instant::now();
    factory.start();
    factory.wait_for_cache_sync().await;
    let sync = t.elapsed();
    assert_eq!(informer.store().len(), n);
    let live = HEAP.current_usage().saturating_sub(base);
    let peak = HEAP.peak_usage().saturating_sub(base);
    println!(
        "{label}: sync {sync:.2?}; cache {:.1} MiB live ({:.0} B/object), peak during the initial list {:.1} MiB",
        mib(live),
        live as f64 / n as f64,
        mib(peak)
    );
    Ok(informer)
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

    // A plain LIST of everything, for scale: what one copy of the objects costs.
    let base = HEAP.current_usage();
    let listed = Api::<ConfigMap>::all(client.clone()).list(&ListParams::default().labels("app=bench")).await?;
    assert_eq!(listed.items.len(), n);
    println!("a plain LIST holds {:.1} MiB", mib(HEAP.current_usage().saturating_sub(base)));
    drop(listed);

    let stripped = measure(&client, n, "informer, managedFields stripped", true).await?;
    stripped.shutdown().await;
    drop(stripped);
    let informer = measure(&client, n, "informer, objects as served", false).await?;
    let store = informer.store();

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
    informer.shutdown().await;
    for ns in &ns_names {
        Api::<Namespace>::all(client.clone()).delete(ns, &Default::default()).await?;
    }
    Ok(())
}
