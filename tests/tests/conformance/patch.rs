//! Cases: merge, JSON and strategic merge patches, and what updates record
//! in managedFields.

use anyhow::{Result, ensure};
use bot_api::v1alpha1::Bot;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use super::{
    harness::Ctx,
    objects::{bot, cm, deployment, fields_of, owners},
};

fn as_manager(manager: &str) -> PatchParams {
    PatchParams { field_manager: Some(manager.into()), ..PatchParams::default() }
}

/// RFC 7386: nested maps merge, `null` deletes, lists are replaced.
pub(crate) async fn merge_patch(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    api.create(&PostParams::default(), &cm("m", json!({ "a": "1", "b": "2" }), json!({ "x": "1", "y": "2" }))).await?;
    let patch = json!({ "metadata": { "labels": { "a": null, "c": "3" } }, "data": { "x": "9" } });
    let patched = api.patch("m", &as_manager("merger"), &Patch::Merge(patch)).await?;
    c.note("labels", &patched.metadata.labels);
    c.note("data", &patched.data);
    let bots = c.api::<Bot>();
    bots.create(&PostParams::default(), &bot("m", json!({}), json!({}))).await?;
    let patched = bots
        .patch(
            "m",
            &as_manager("merger"),
            &Patch::Merge(json!({ "spec": { "service": { "type": "NodePort" }, "replicas": 3 } })),
        )
        .await?;
    c.note("bot spec", &patched.spec);
    Ok(())
}

/// RFC 6902: add, replace, remove; a failed `test` is 422.
pub(crate) async fn json_patch(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    api.create(&PostParams::default(), &cm("j", json!({}), json!({ "x": "1", "y": "2" }))).await?;
    let ops = json!([
        { "op": "add", "path": "/data/z", "value": "3" },
        { "op": "replace", "path": "/data/x", "value": "9" },
        { "op": "remove", "path": "/data/y" },
    ]);
    let patched = api.patch("j", &as_manager("jp"), &Patch::<()>::Json(serde_json::from_value(ops)?)).await?;
    c.note("data", &patched.data);
    let failing = json!([{ "op": "test", "path": "/data/x", "value": "1" }, { "op": "remove", "path": "/data/x" }]);
    let s = c.note_err(
        "failed test",
        api.patch("j", &as_manager("jp"), &Patch::<()>::Json(serde_json::from_value(failing)?)).await,
    )?;
    ensure!(s.code == 422, "{s:?}");
    c.note("unchanged", api.get("j").await?.data);
    Ok(())
}

/// A patch carrying a stale resourceVersion is 409, like an update.
pub(crate) async fn patch_with_stale_resource_version_conflicts(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    let made = api.create(&PostParams::default(), &cm("pr", json!({}), json!({ "k": "1" }))).await?;
    api.patch("pr", &as_manager("p"), &Patch::Merge(json!({ "data": { "k": "2" } }))).await?;
    let stale = json!({ "metadata": { "resourceVersion": made.metadata.resource_version }, "data": { "k": "3" } });
    let s = c.note_err("stale", api.patch("pr", &as_manager("p"), &Patch::Merge(stale)).await)?;
    ensure!(s.code == 409, "{s:?}");
    Ok(())
}

/// Strategic merge patch: 415 for custom resources; for a Deployment,
/// containers merge by name.
pub(crate) async fn strategic_merge_patch(c: Ctx) -> Result<()> {
    let s = c.note_err(
        "custom resource",
        c.api::<Bot>()
            .patch("any", &PatchParams::default(), &Patch::Strategic(json!({ "spec": { "replicas": 2 } })))
            .await,
    )?;
    ensure!(s.code == 415, "{s:?}");
    let api = c.api::<Deployment>();
    api.create(&PostParams::default(), &deployment("smp", "nginx:1")).await?;
    let patch = json!({ "spec": { "template": { "spec": { "containers": [
        { "name": "sidecar", "image": "busybox:1" },
        { "name": "app", "image": "nginx:2" },
    ] } } } });
    let patched = api.patch("smp", &as_manager("smp"), &Patch::Strategic(patch)).await?;
    let containers: Vec<_> = patched
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers.into_iter().map(|c| (c.name, c.image)).collect())
        .unwrap_or_default();
    c.note("containers", containers);
    Ok(())
}

/// A create records its manager as an Update owning every field it set;
/// an update takes over the fields it changes.
pub(crate) async fn updates_record_managed_fields(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    let pp = PostParams { field_manager: Some("creator".into()), ..PostParams::default() };
    let made = api.create(&pp, &cm("owned", json!({ "l": "1" }), json!({ "a": "1", "b": "2" }))).await?;
    c.note("after create", owners(&made));
    let patched =
        api.patch("owned", &as_manager("editor"), &Patch::Merge(json!({ "data": { "a": "9", "c": "3" } }))).await?;
    c.note("after patch", owners(&patched));
    let patched = api.patch("owned", &as_manager("editor"), &Patch::Merge(json!({ "data": { "b": null } }))).await?;
    c.note("after removing b", owners(&patched));
    let bots = c.api::<Bot>();
    let made = bots.create(&pp, &bot("owned", json!({}), json!({}))).await?;
    c.note("bot create", fields_of(&made, "creator", "Update"));
    Ok(())
}

/// managedFields written by a client: `[]` resets ownership, a JSON patch
/// can drop one entry (the operator's hand-over after a create).
pub(crate) async fn managed_fields_written_by_clients(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    let pp = PostParams { field_manager: Some("creator".into()), ..PostParams::default() };
    api.create(&pp, &cm("mf", json!({}), json!({ "a": "1" }))).await?;
    let applied = api
        .patch("mf", &PatchParams::apply("applier").force(), &Patch::Apply(json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "mf" }, "data": { "a": "1", "b": "2" } })))
        .await?;
    c.note("two owners", owners(&applied));
    let i = applied
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .position(|e| e.manager.as_deref() == Some("creator"))
        .unwrap_or(0);
    let ops = json!([
        { "op": "test", "path": format!("/metadata/managedFields/{i}/manager"), "value": "creator" },
        { "op": "remove", "path": format!("/metadata/managedFields/{i}") },
    ]);
    let dropped = api.patch("mf", &PatchParams::default(), &Patch::<()>::Json(serde_json::from_value(ops)?)).await?;
    c.note("creator dropped", owners(&dropped));
    let reset =
        api.patch("mf", &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "managedFields": [] } }))).await?;
    c.note("reset", owners(&reset));
    Ok(())
}
