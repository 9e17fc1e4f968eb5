//! Cases: get, create and update, their errors, the status subresource,
//! generation and resourceVersion bookkeeping.

use anyhow::{Result, ensure};
use bot_api::v1alpha1::{Bot, BotStatus, Event};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{
    ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    harness::Ctx,
    objects::{bot, cm, deployment, event, rv},
};

/// Creates `body` as sent (no typed round trip).
pub(crate) async fn create_raw<K: kube::Resource + serde::de::DeserializeOwned>(
    c: &Ctx,
    api: &kube::Api<K>,
    body: &serde_json::Value,
) -> kube::Result<K> {
    let request = kube::core::Request::new(api.resource_url())
        .create(&pp(), serde_json::to_vec(body).map_err(kube::Error::SerdeError)?)
        .map_err(kube::Error::BuildRequest)?;
    c.client.request(request).await
}

fn pp() -> PostParams {
    PostParams { field_manager: Some("tester".into()), ..PostParams::default() }
}

/// 404 NotFound, for a built-in kind and a custom resource.
pub(crate) async fn get_missing_is_not_found(c: Ctx) -> Result<()> {
    let s = c.note_err("configmap", c.api::<ConfigMap>().get("missing").await)?;
    ensure!(s.code == 404 && s.reason == "NotFound", "{s:?}");
    let s = c.note_err("bot", c.api::<Bot>().get("missing").await)?;
    ensure!(s.code == 404 && s.is_not_found(), "{s:?}");
    Ok(())
}

/// A second create of a name is 409 AlreadyExists.
pub(crate) async fn create_existing_is_already_exists(c: Ctx) -> Result<()> {
    c.api::<ConfigMap>().create(&pp(), &cm("dup", json!({}), json!({}))).await?;
    let s = c.note_err("configmap", c.api::<ConfigMap>().create(&pp(), &cm("dup", json!({}), json!({}))).await)?;
    ensure!(s.code == 409 && s.is_already_exists(), "{s:?}");
    c.api::<Bot>().create(&pp(), &bot("dup", json!({}), json!({}))).await?;
    let s = c.note_err("bot", c.api::<Bot>().create(&pp(), &bot("dup", json!({}), json!({}))).await)?;
    ensure!(s.reason == "AlreadyExists", "{s:?}");
    Ok(())
}

/// A create gets uid, creationTimestamp, resourceVersion, managedFields;
/// custom resources get generation 1, schema defaults, and lose status.
pub(crate) async fn create_sets_system_fields(c: Ctx) -> Result<()> {
    let made = c.api::<ConfigMap>().create(&pp(), &cm("plain", json!({ "a": "b" }), json!({ "k": "v" }))).await?;
    ensure!(made.metadata.generation.is_none() && made.uid().is_some());
    c.note("configmap", &made);
    // Only the required fields (the schema's defaults fill in the rest), and a status.
    let body = json!({
        "apiVersion": "botops.dev/v1alpha1", "kind": "Bot", "metadata": { "name": "fresh" },
        "spec": { "platform": "line", "credentialsSecret": "creds" },
        "status": { "boundEventCount": 7 },
    });
    let made: Bot = create_raw(&c, &c.api::<Bot>(), &body).await?;
    ensure!(made.metadata.generation == Some(1) && made.status.is_none(), "{made:?}");
    c.note("bot", &made);
    Ok(())
}

/// `generateName` gets a 5-character suffix; the prefix is kept.
pub(crate) async fn create_with_generate_name(c: Ctx) -> Result<()> {
    let mut obj = cm("", json!({}), json!({}));
    obj.metadata.name = None;
    obj.metadata.generate_name = Some("gen-".into());
    let made = c.api::<ConfigMap>().create(&pp(), &obj).await?;
    let name = made.name_any();
    ensure!(name.len() == 9 && name.starts_with("gen-"), "{name}");
    c.note("generateName", &made.metadata.generate_name);
    c.note("name length", name.len());
    let fetched = c.api::<ConfigMap>().get(&name).await?;
    c.note("fetched", fetched.name_any() == name);
    Ok(())
}

/// No name and no generateName: 422 Invalid.
pub(crate) async fn create_without_name_is_invalid(c: Ctx) -> Result<()> {
    let mut obj = cm("", json!({}), json!({}));
    obj.metadata.name = None;
    let s = c.note_err("configmap", c.api::<ConfigMap>().create(&pp(), &obj).await)?;
    ensure!(s.code == 422 && s.is_invalid(), "{s:?}");
    Ok(())
}

/// A body naming another namespace than the URL: 400 BadRequest.
pub(crate) async fn create_in_another_namespace_is_bad_request(c: Ctx) -> Result<()> {
    let mut obj = cm("elsewhere", json!({}), json!({}));
    obj.metadata.namespace = Some("some-other-namespace".into());
    let s = c.note_err("configmap", c.api::<ConfigMap>().create(&pp(), &obj).await)?;
    ensure!(s.code == 400, "{s:?}");
    Ok(())
}

/// dryRun=All returns the object and stores nothing.
pub(crate) async fn dry_run_create_stores_nothing(c: Ctx) -> Result<()> {
    let params = PostParams { dry_run: true, field_manager: Some("tester".into()) };
    let made = c.api::<ConfigMap>().create(&params, &cm("dry", json!({}), json!({ "k": "v" }))).await?;
    c.note("returned data", &made.data);
    let stored = c.api::<ConfigMap>().get_opt("dry").await?;
    ensure!(stored.is_none(), "{stored:?}");
    c.note("stored", stored.is_some());
    Ok(())
}

/// An update with a stale resourceVersion is 409 Conflict.
pub(crate) async fn update_with_stale_resource_version_conflicts(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let first = api.create(&pp(), &bot("stale", json!({}), json!({}))).await?;
    let mut newer = first.clone();
    newer.spec.replicas = 2;
    api.replace("stale", &pp(), &newer).await?;
    let mut old = first;
    old.spec.replicas = 3;
    let s = c.note_err("bot", api.replace("stale", &pp(), &old).await)?;
    ensure!(s.code == 409 && s.is_conflict(), "{s:?}");
    let cms = c.api::<ConfigMap>();
    let first = cms.create(&pp(), &cm("stale", json!({}), json!({ "k": "1" }))).await?;
    cms.replace("stale", &pp(), &cm("stale", json!({}), json!({ "k": "2" }))).await?;
    let s = c.note_err("configmap", cms.replace("stale", &pp(), &first).await)?;
    ensure!(s.code == 409, "{s:?}");
    Ok(())
}

/// Without resourceVersion, a ConfigMap update is unconditional; a custom
/// resource's is 422.
pub(crate) async fn update_without_resource_version(c: Ctx) -> Result<()> {
    let cms = c.api::<ConfigMap>();
    cms.create(&pp(), &cm("free", json!({}), json!({ "k": "1" }))).await?;
    let replaced = cms.replace("free", &pp(), &cm("free", json!({}), json!({ "k": "2" }))).await?;
    c.note("configmap data", &replaced.data);
    let bots = c.api::<Bot>();
    bots.create(&pp(), &bot("strict", json!({}), json!({}))).await?;
    let s =
        c.note_err("bot", bots.replace("strict", &pp(), &bot("strict", json!({}), json!({ "replicas": 2 }))).await)?;
    ensure!(s.code == 422, "{s:?}");
    Ok(())
}

/// Updating a missing object is 404; a body named otherwise than the URL is 400.
pub(crate) async fn update_missing_or_misnamed(c: Ctx) -> Result<()> {
    let cms = c.api::<ConfigMap>();
    let s = c.note_err("missing", cms.replace("ghost", &pp(), &cm("ghost", json!({}), json!({}))).await)?;
    ensure!(s.code == 404, "{s:?}");
    cms.create(&pp(), &cm("named", json!({}), json!({}))).await?;
    let s = c.note_err("misnamed", cms.replace("named", &pp(), &cm("other", json!({}), json!({}))).await)?;
    ensure!(s.code == 400, "{s:?}");
    Ok(())
}

/// With a status subresource, an update of the object ignores status (and
/// a status-only change moves no generation); an update of the status
/// ignores the spec.
pub(crate) async fn status_subresource_semantics(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let made = api.create(&pp(), &bot("split", json!({}), json!({}))).await?;
    let mut with_status = made.clone();
    with_status.status = Some(BotStatus { bound_event_count: 5, ..BotStatus::default() });
    let replaced = api.replace("split", &pp(), &with_status).await?;
    ensure!(replaced.status.is_none() && replaced.metadata.generation == Some(1), "{replaced:?}");
    c.note("status ignored by update", &replaced);
    c.note("update was a no-op", rv(&replaced) == rv(&made));

    let mut status_write = replaced.clone();
    status_write.status = Some(BotStatus { bound_event_count: 5, ..BotStatus::default() });
    status_write.spec.replicas = 9;
    let after = api.replace_status("split", &pp(), &status_write).await?;
    ensure!(after.spec.replicas == 1 && after.status.as_ref().is_some_and(|s| s.bound_event_count == 5));
    c.note("spec ignored by update_status", &after);
    Ok(())
}

/// Generation moves on spec changes only; every write moves the
/// resourceVersion; a write that changes nothing moves nothing.
pub(crate) async fn generation_and_resource_version(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let made = api.create(&pp(), &bot("gen", json!({}), json!({}))).await?;
    let mp = PatchParams { field_manager: Some("tester".into()), ..PatchParams::default() };
    let labelled = api.patch("gen", &mp, &Patch::Merge(json!({ "metadata": { "labels": { "a": "b" } } }))).await?;
    let respec = api.patch("gen", &mp, &Patch::Merge(json!({ "spec": { "replicas": 4 } }))).await?;
    let same = api.patch("gen", &mp, &Patch::Merge(json!({ "spec": { "replicas": 4 } }))).await?;
    let replaced = api.replace("gen", &mp_post(), &same).await?;
    c.note("generations", [&made, &labelled, &respec, &same, &replaced].map(|b| b.metadata.generation));
    c.note("label moved rv", rv(&labelled) != rv(&made));
    c.note("spec moved rv", rv(&respec) != rv(&labelled));
    c.note("no-op patch kept rv", rv(&same) == rv(&respec));
    c.note("no-op update kept rv", rv(&replaced) == rv(&respec));
    ensure!(rv(&same) == rv(&respec) && respec.metadata.generation == Some(2));

    let events = c.api::<Event>();
    let e = events.create(&pp(), &event("gen", json!({}), "one")).await?;
    let mut e2 = e.clone();
    e2.spec.actions[0].reply = "two".into();
    let e2 = events.replace("gen", &pp(), &e2).await?;
    c.note("event generations", [e.metadata.generation, e2.metadata.generation]);
    Ok(())
}

fn mp_post() -> PostParams {
    pp()
}

/// A Deployment's generation moves on spec and annotation changes, not on labels.
pub(crate) async fn deployment_generation(c: Ctx) -> Result<()> {
    let api = c.api::<Deployment>();
    let made = api.create(&pp(), &deployment("web", "nginx:1")).await?;
    let mp = PatchParams::default();
    let annotated =
        api.patch("web", &mp, &Patch::Merge(json!({ "metadata": { "annotations": { "a": "b" } } }))).await?;
    let labelled = api.patch("web", &mp, &Patch::Merge(json!({ "metadata": { "labels": { "a": "b" } } }))).await?;
    let scaled = api.patch("web", &mp, &Patch::Merge(json!({ "spec": { "replicas": 2 } }))).await?;
    let gens = [&made, &annotated, &labelled, &scaled].map(|d| d.metadata.generation);
    ensure!(gens == [Some(1), Some(2), Some(2), Some(3)], "{gens:?}");
    c.note("generations", gens);
    Ok(())
}
