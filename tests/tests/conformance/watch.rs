//! Cases: watch event order, resuming from a resourceVersion, the initial
//! state, selectors entering and leaving, streaming lists.

use std::time::Duration;

use anyhow::{Result, ensure};
use bot_api::v1alpha1::Bot;
use futures::StreamExt;
use kube::{
    ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchParams},
};
use serde_json::{Value, json};

use super::{
    harness::{Ctx, next_events, quiet},
    objects::{bot, rv},
};

fn summary(events: &[(String, Bot)]) -> Vec<Value> {
    events.iter().map(|(t, b)| json!([t, b.name_any(), b.spec.replicas, b.labels().get("tier")])).collect()
}

/// The current resourceVersion of the Bots in the namespace.
async fn list_rv(c: &Ctx) -> Result<String> {
    Ok(c.api::<Bot>().list(&ListParams::default()).await?.metadata.resource_version.unwrap_or_default())
}

/// Create, update, delete: ADDED, MODIFIED, DELETED in order, increasing
/// resourceVersions; the DELETED object is the last state.
pub(crate) async fn watch_event_order(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let start = list_rv(&c).await?;
    let mut stream = api.watch(&WatchParams::default().timeout(30), &start).await?.boxed();
    api.create(&PostParams::default(), &bot("w", json!({}), json!({}))).await?;
    api.patch("w", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 2 } }))).await?;
    api.patch("w", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 3 } }))).await?;
    api.delete("w", &DeleteParams::default()).await?;
    let events = next_events(&mut stream, 4).await?;
    c.note("events", summary(&events));
    let rvs: Vec<u64> = events.iter().map(|(_, b)| rv(b).parse().unwrap_or_default()).collect();
    c.note("increasing", rvs.windows(2).all(|w| w[0] < w[1]));
    c.note("deleted object", &events[3].1);
    ensure!(rvs.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

/// A watch from a resourceVersion replays only what came after it.
pub(crate) async fn watch_resumes_from_resource_version(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    api.create(&PostParams::default(), &bot("r1", json!({}), json!({}))).await?;
    let second = api.create(&PostParams::default(), &bot("r2", json!({}), json!({}))).await?;
    api.patch("r1", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 5 } }))).await?;
    api.delete("r2", &DeleteParams::default()).await?;
    let mut stream = api.watch(&WatchParams::default().timeout(30), &rv(&second)).await?.boxed();
    let events = next_events(&mut stream, 2).await?;
    c.note("after r2's creation", summary(&events));
    c.note("nothing more", quiet(&mut stream, Duration::from_millis(500)).await?);
    Ok(())
}

/// From resourceVersion "0": the current objects as ADDED, then changes.
pub(crate) async fn watch_from_zero_starts_with_current_objects(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    api.create(&PostParams::default(), &bot("z1", json!({}), json!({}))).await?;
    api.create(&PostParams::default(), &bot("z2", json!({}), json!({ "replicas": 2 }))).await?;
    let mut stream = api.watch(&WatchParams::default().timeout(30), "0").await?.boxed();
    let mut initial = next_events(&mut stream, 2).await?;
    initial.sort_by_key(|(_, b)| b.name_any());
    c.note("initial", summary(&initial));
    api.delete("z1", &DeleteParams::default()).await?;
    c.note("then", summary(&next_events(&mut stream, 1).await?));
    Ok(())
}

/// With a label selector, an object entering the selection is ADDED,
/// leaving it DELETED, changing outside it silent.
pub(crate) async fn watch_selector_transitions(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let start = list_rv(&c).await?;
    let params = WatchParams::default().labels("tier=web").timeout(30);
    let mut stream = api.watch(&params, &start).await?.boxed();
    let label = |tier: &str| Patch::Merge(json!({ "metadata": { "labels": { "tier": tier } } }));
    api.create(&PostParams::default(), &bot("t", json!({ "tier": "db" }), json!({}))).await?;
    api.patch("t", &PatchParams::default(), &label("web")).await?;
    api.patch("t", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 2 } }))).await?;
    api.patch("t", &PatchParams::default(), &label("db")).await?;
    api.patch("t", &PatchParams::default(), &Patch::Merge(json!({ "spec": { "replicas": 3 } }))).await?;
    api.patch("t", &PatchParams::default(), &label("web")).await?;
    api.delete("t", &DeleteParams::default()).await?;
    let events = next_events(&mut stream, 5).await?;
    c.note("events", summary(&events));
    c.note("nothing more", quiet(&mut stream, Duration::from_millis(500)).await?);
    Ok(())
}

/// Streaming list (`sendInitialEvents=true`): the current objects, the
/// initial-events-end bookmark, then changes.
pub(crate) async fn watch_streaming_list(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    api.create(&PostParams::default(), &bot("s1", json!({}), json!({}))).await?;
    let mut stream = api.watch(&WatchParams::streaming_lists().timeout(30), "").await?.boxed();
    let mut seen = Vec::new();
    let mut bookmark_end = false;
    while !bookmark_end {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await?;
        match event {
            Some(Ok(kube::api::WatchEvent::Added(b))) => seen.push(json!(["ADDED", b.name_any()])),
            Some(Ok(kube::api::WatchEvent::Bookmark(b))) => {
                bookmark_end = b.metadata.annotations.contains_key("k8s.io/initial-events-end");
                if bookmark_end {
                    seen.push(json!(["BOOKMARK", "initial-events-end"]));
                }
            }
            other => anyhow::bail!("unexpected {other:?}"),
        }
    }
    api.create(&PostParams::default(), &bot("s2", json!({}), json!({}))).await?;
    let then = next_events(&mut stream, 1).await?;
    c.note("initial", seen);
    c.note("then", summary(&then));
    Ok(())
}

/// A metadata-only watch (`as=PartialObjectMetadata`): events carry
/// metadata only.
pub(crate) async fn watch_metadata_only(c: Ctx) -> Result<()> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let api = c.api::<ConfigMap>();
    let start =
        api.list_metadata(&ListParams::default().labels("w=m")).await?.metadata.resource_version.unwrap_or_default();
    let params = WatchParams::default().labels("w=m").timeout(30);
    let mut stream = api.watch_metadata(&params, &start).await?.boxed();
    let cm = super::objects::cm("meta-watch", json!({ "w": "m" }), json!({ "secret": "value" }));
    api.create(&PostParams::default(), &cm).await?;
    api.delete("meta-watch", &DeleteParams::default()).await?;
    let events = next_events(&mut stream, 2).await?;
    for (type_, obj) in &events {
        c.note(type_, obj);
    }
    ensure!(events.iter().all(|(_, o)| serde_json::to_value(o).is_ok_and(|v| v.get("data").is_none())));
    Ok(())
}
