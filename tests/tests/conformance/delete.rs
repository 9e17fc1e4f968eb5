//! Cases: delete (status, preconditions), finalizers and
//! deletionTimestamp, delete-collection.

use anyhow::{Result, ensure};
use bot_api::v1alpha1::Bot;
use bot_runtime::client::Either;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    ResourceExt,
    api::{DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions},
};
use serde_json::json;

use super::{
    harness::Ctx,
    objects::{bot, cm, rv},
};

/// Deleting a missing object is 404; a delete returns a Success status
/// naming the object; a second delete is 404.
pub(crate) async fn delete_returns_status(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    c.note_err("missing", api.delete("ghost", &DeleteParams::default()).await)?;
    let made = api.create(&PostParams::default(), &bot("doomed", json!({}), json!({}))).await?;
    match api.delete("doomed", &DeleteParams::default()).await? {
        Either::Right(status) => {
            ensure!(status.details.as_ref().is_some_and(|d| Some(&d.uid) == made.uid().as_ref()), "{status:?}");
            c.note("status", &status);
        }
        Either::Left(obj) => anyhow::bail!("expected a status, got {obj:?}"),
    }
    c.note_err("again", api.delete("doomed", &DeleteParams::default()).await)?;
    let cms = c.api::<ConfigMap>();
    cms.create(&PostParams::default(), &cm("doomed", json!({}), json!({}))).await?;
    c.note("configmap", cms.delete("doomed", &DeleteParams::default()).await?.right());
    Ok(())
}

/// Preconditions on uid and resourceVersion: 409 when they do not hold.
pub(crate) async fn delete_preconditions(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    let made = api.create(&PostParams::default(), &cm("guarded", json!({}), json!({}))).await?;
    let wrong_uid =
        DeleteParams::default().preconditions(Preconditions { uid: Some("0000".into()), resource_version: None });
    let s = c.note_err("uid", api.delete("guarded", &wrong_uid).await)?;
    ensure!(s.code == 409, "{s:?}");
    let newer = api.patch("guarded", &PatchParams::default(), &Patch::Merge(json!({ "data": { "k": "2" } }))).await?;
    c.mask(format!("({})", rv(&made)), "(<rv of the create>)");
    c.mask(format!("({})", rv(&newer)), "(<rv of the patch>)");
    let wrong_rv =
        DeleteParams::default().preconditions(Preconditions { uid: None, resource_version: Some(rv(&made)) });
    c.note_err("stale resourceVersion", api.delete("guarded", &wrong_rv).await)?;
    let right =
        DeleteParams::default().preconditions(Preconditions { uid: made.uid(), resource_version: Some(rv(&newer)) });
    c.note("matching", api.delete("guarded", &right).await?.is_right());
    Ok(())
}

/// With finalizers, a delete sets deletionTimestamp and
/// deletionGracePeriodSeconds (and bumps a custom resource's generation),
/// returns the object, and a second delete changes nothing; removing the
/// last finalizer deletes it.
pub(crate) async fn finalizers_hold_deletion(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let mut b = bot("held", json!({}), json!({}));
    b.metadata.finalizers = Some(vec!["botops.dev/a".into(), "botops.dev/b".into()]);
    api.create(&PostParams::default(), &b).await?;
    let deleting = match api.delete("held", &DeleteParams::default()).await? {
        Either::Left(obj) => obj,
        Either::Right(s) => anyhow::bail!("deleted at once: {s:?}"),
    };
    ensure!(deleting.metadata.deletion_timestamp.is_some());
    c.note("deleting", &deleting);
    let again = api.delete("held", &DeleteParams::default()).await?.left();
    c.note("second delete kept rv", again.as_ref().map(rv) == Some(rv(&deleting)));
    let patch = json!([{ "op": "remove", "path": "/metadata/finalizers/0" }]);
    let one_left =
        api.patch("held", &PatchParams::default(), &Patch::<()>::Json(serde_json::from_value(patch)?)).await?;
    c.note("one finalizer left", (&one_left.metadata.finalizers, one_left.metadata.deletion_timestamp.is_some()));
    let last = api
        .patch("held", &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "finalizers": null } })))
        .await?;
    c.note("last removed: returned finalizers", &last.metadata.finalizers);
    c.note("gone", api.get_opt("held").await?.is_none());
    Ok(())
}

/// An object being deleted keeps its deletionTimestamp through updates.
pub(crate) async fn deletion_timestamp_survives_updates(c: Ctx) -> Result<()> {
    let api = c.api::<ConfigMap>();
    let mut obj = cm("sticky", json!({}), json!({ "k": "1" }));
    obj.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    api.create(&PostParams::default(), &obj).await?;
    let deleting = api.delete("sticky", &DeleteParams::default()).await?.left();
    let mut changed = deleting.clone().unwrap_or_default();
    changed.data = Some([("k".to_string(), "2".to_string())].into());
    changed.metadata.deletion_timestamp = None;
    let updated = api.replace("sticky", &PostParams::default(), &changed).await?;
    c.note(
        "updated",
        (&updated.data, updated.metadata.deletion_timestamp.is_some(), updated.metadata.deletion_grace_period_seconds),
    );
    api.patch("sticky", &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "finalizers": [] } }))).await?;
    c.note("gone", api.get_opt("sticky").await?.is_none());
    Ok(())
}

/// delete-collection deletes what the selector matches (finalized ones
/// only marked) and returns the list.
pub(crate) async fn delete_collection_by_label(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    api.create(&PostParams::default(), &bot("x1", json!({ "batch": "x" }), json!({}))).await?;
    api.create(&PostParams::default(), &bot("x2", json!({ "batch": "x" }), json!({}))).await?;
    let mut held = bot("x3", json!({ "batch": "x" }), json!({}));
    held.metadata.finalizers = Some(vec!["botops.dev/hold".into()]);
    api.create(&PostParams::default(), &held).await?;
    api.create(&PostParams::default(), &bot("y1", json!({ "batch": "y" }), json!({}))).await?;
    let deleted = api.delete_collection(&DeleteParams::default(), &ListParams::default().labels("batch=x")).await?;
    let listed = deleted
        .left()
        .map(|l| l.items.iter().map(|b| (b.name_any(), b.metadata.deletion_timestamp.is_some())).collect::<Vec<_>>());
    c.note("returned", listed);
    let left: Vec<_> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|b| (b.name_any(), b.metadata.deletion_timestamp.is_some()))
        .collect();
    c.note("left", left);
    Ok(())
}
