//! Cases: server-side apply — creation, ownership, conflicts, force,
//! removal of dropped fields, the status subresource, keyed lists and sets.

use anyhow::{Result, ensure};
use bot_api::v1alpha1::Bot;
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::{
    harness::Ctx,
    objects::{config, fields_of, owners, rv},
};

fn apply(manager: &str) -> PatchParams {
    PatchParams::apply(manager)
}

fn force(manager: &str) -> PatchParams {
    PatchParams::apply(manager).force()
}

async fn apply_cm(c: &Ctx, params: &PatchParams, name: &str, rest: Value) -> kube::Result<ConfigMap> {
    c.api::<ConfigMap>().patch(name, params, &Patch::Apply(config::<ConfigMap>(name, rest))).await
}

async fn apply_bot(c: &Ctx, params: &PatchParams, name: &str, rest: Value) -> kube::Result<Bot> {
    c.api::<Bot>().patch(name, params, &Patch::Apply(config::<Bot>(name, rest))).await
}

fn required_spec() -> Value {
    json!({ "spec": { "platform": "line", "credentialsSecret": "creds" } })
}

/// An apply creates a missing object; the applier owns what it set, not
/// the schema's defaults.
pub(crate) async fn apply_creates_and_owns_what_it_sets(c: Ctx) -> Result<()> {
    let made =
        apply_cm(&c, &apply("a"), "made", json!({ "metadata": { "labels": { "l": "1" } }, "data": { "k": "v" } }))
            .await?;
    c.note("configmap", &made);
    let b = apply_bot(&c, &apply("a"), "made", required_spec()).await?;
    ensure!(b.spec.replicas == 1 && b.metadata.generation == Some(1), "{b:?}");
    c.note("bot", &b);
    Ok(())
}

/// Applying the same configuration again writes nothing.
pub(crate) async fn apply_same_config_is_a_noop(c: Ctx) -> Result<()> {
    let body = json!({ "data": { "k": "v" } });
    let first = apply_cm(&c, &apply("a"), "same", body.clone()).await?;
    let second = apply_cm(&c, &apply("a"), "same", body).await?;
    c.note("same rv", rv(&first) == rv(&second));
    let b1 = apply_bot(&c, &force("a"), "same", required_spec()).await?;
    let b2 = apply_bot(&c, &force("a"), "same", required_spec()).await?;
    c.note("bot same rv", rv(&b1) == rv(&b2));
    ensure!(rv(&b1) == rv(&b2));
    Ok(())
}

/// Changing a field another manager owns is a 409 naming it and the
/// fields; several are grouped by manager.
pub(crate) async fn apply_conflicts_name_the_owner(c: Ctx) -> Result<()> {
    apply_cm(&c, &apply("first"), "c", json!({ "data": { "a": "1", "b": "2" } })).await?;
    let s = c.note_err("one", apply_cm(&c, &apply("second"), "c", json!({ "data": { "a": "9" } })).await)?;
    ensure!(s.code == 409 && s.reason == "Conflict", "{s:?}");
    c.note_err("two", apply_cm(&c, &apply("second"), "c", json!({ "data": { "a": "9", "b": "8" } })).await)?;
    let pp = PostParams { field_manager: Some("creator".into()), ..PostParams::default() };
    c.api::<ConfigMap>().create(&pp, &super::objects::cm("u", json!({}), json!({ "a": "1" }))).await?;
    c.note_err("with an updater", apply_cm(&c, &apply("second"), "u", json!({ "data": { "a": "9" } })).await)?;
    apply_bot(&c, &apply("first"), "c", required_spec()).await?;
    c.note_err("bot", apply_bot(&c, &apply("second"), "c", json!({ "spec": { "platform": "slack" } })).await)?;
    Ok(())
}

/// Applying the value a field already has shares its ownership; the field
/// stays while one owner still applies it.
pub(crate) async fn apply_shares_ownership_of_equal_values(c: Ctx) -> Result<()> {
    apply_cm(&c, &apply("one"), "s", json!({ "data": { "a": "1", "b": "2" } })).await?;
    let shared = apply_cm(&c, &apply("two"), "s", json!({ "data": { "a": "1", "c": "3" } })).await?;
    c.note("shared", owners(&shared));
    let after = apply_cm(&c, &apply("one"), "s", json!({})).await?;
    c.note("one stopped", (&after.data, owners(&after)));
    Ok(())
}

/// `force` takes the conflicting fields over.
pub(crate) async fn apply_force_takes_ownership(c: Ctx) -> Result<()> {
    apply_cm(&c, &apply("old"), "f", json!({ "data": { "a": "1", "b": "2" } })).await?;
    let taken = apply_cm(&c, &force("new"), "f", json!({ "data": { "a": "9" } })).await?;
    c.note("taken", (&taken.data, owners(&taken)));
    let s = c.note_err(
        "old conflicts now",
        apply_cm(&c, &apply("old"), "f", json!({ "data": { "a": "1", "b": "2" } })).await,
    )?;
    ensure!(s.code == 409, "{s:?}");
    Ok(())
}

/// Fields a manager stops applying are removed, with maps left empty,
/// unless someone else owns them.
pub(crate) async fn apply_removes_fields_it_stops_applying(c: Ctx) -> Result<()> {
    let full =
        json!({ "metadata": { "labels": { "l": "1" }, "annotations": { "n": "1" } }, "data": { "a": "1", "b": "2" } });
    apply_cm(&c, &apply("m"), "r", full).await?;
    let fewer =
        apply_cm(&c, &apply("m"), "r", json!({ "metadata": { "annotations": { "n": "1" } }, "data": { "a": "1" } }))
            .await?;
    c.note(
        "dropped b and the labels",
        (&fewer.data, &fewer.metadata.labels, &fewer.metadata.annotations, owners(&fewer)),
    );
    let patched = c
        .api::<ConfigMap>()
        .patch(
            "r",
            &PatchParams { field_manager: Some("editor".into()), ..Default::default() },
            &Patch::Merge(json!({ "data": { "e": "5" } })),
        )
        .await?;
    c.note("editor added e", owners(&patched));
    let none = apply_cm(&c, &apply("m"), "r", json!({})).await?;
    c.note("dropped everything", (&none.data, &none.metadata.annotations, owners(&none)));
    let b = apply_bot(
        &c,
        &apply("m"),
        "r",
        json!({ "spec": { "platform": "line", "credentialsSecret": "creds", "replicas": 3 } }),
    )
    .await?;
    let b2 = apply_bot(&c, &apply("m"), "r", required_spec()).await?;
    c.note("bot replicas back to the default", (b.spec.replicas, b2.spec.replicas, fields_of(&b2, "m", "Apply")));
    Ok(())
}

/// The status subresource: an apply there owns status fields (entry with
/// subresource "status") and ignores the spec; an apply of the object
/// ignores the status.
pub(crate) async fn apply_status_subresource(c: Ctx) -> Result<()> {
    apply_bot(
        &c,
        &apply("spec-owner"),
        "st",
        json!({ "spec": { "platform": "line", "credentialsSecret": "creds" }, "status": { "boundEventCount": 3 } }),
    )
    .await?;
    let status = json!({ "spec": { "replicas": 7 }, "status": { "boundEventCount": 4, "endpoint": "http://x" } });
    let body = config::<Bot>("st", status);
    let b = c.api::<Bot>().patch_status("st", &apply("status-owner"), &Patch::Apply(&body)).await?;
    ensure!(b.spec.replicas == 1, "{b:?}");
    c.note("after status apply", (&b.spec, &b.status, owners(&b), b.metadata.generation));
    let b = apply_bot(
        &c,
        &apply("spec-owner"),
        "st",
        json!({ "spec": { "platform": "line", "credentialsSecret": "creds" }, "status": { "boundEventCount": 9 } }),
    )
    .await?;
    c.note("status unchanged by the object apply", &b.status);
    Ok(())
}

fn condition(type_: &str, status: &str) -> Value {
    json!({ "type": type_, "status": status, "reason": "Test", "message": "m", "lastTransitionTime": "2026-01-01T00:00:00Z" })
}

/// A map list (`x-kubernetes-list-type: map`, keyed by `type`): each
/// manager owns its items; dropping one removes only it; the same item is
/// a conflict.
pub(crate) async fn apply_map_list_by_key(c: Ctx) -> Result<()> {
    apply_bot(&c, &apply("creator"), "ml", required_spec()).await?;
    let api = c.api::<Bot>();
    let status = |conds: Vec<Value>| config::<Bot>("ml", json!({ "status": { "conditions": conds } }));
    api.patch_status(
        "ml",
        &apply("a"),
        &Patch::Apply(status(vec![condition("A", "True"), condition("Shared", "True")])),
    )
    .await?;
    let b = api.patch_status("ml", &apply("b"), &Patch::Apply(status(vec![condition("B", "False")]))).await?;
    c.note("both", (&b.status, fields_of(&b, "a", "Apply"), fields_of(&b, "b", "Apply")));
    let s = c.note_err(
        "same key",
        api.patch_status(
            "ml",
            &apply("b"),
            &Patch::Apply(status(vec![condition("B", "False"), condition("Shared", "False")])),
        )
        .await,
    )?;
    ensure!(s.code == 409, "{s:?}");
    let b = api.patch_status("ml", &apply("a"), &Patch::Apply(status(vec![condition("Shared", "True")]))).await?;
    c.note("a dropped A", &b.status);
    Ok(())
}

/// Built-in keyed lists: containers by name, ports by containerPort and
/// protocol (defaulted to TCP in the key), env by name.
pub(crate) async fn apply_deployment_keyed_lists(c: Ctx) -> Result<()> {
    let api = c.api::<Deployment>();
    let container = |name: &str, image: &str| json!({ "name": name, "image": image, "ports": [{ "containerPort": 8080 }], "env": [{ "name": "A", "value": "1" }] });
    let spec = |containers: Vec<Value>| {
        config::<Deployment>(
            "d",
            json!({ "spec": {
        "selector": { "matchLabels": { "app": "d" } },
        "template": { "metadata": { "labels": { "app": "d" } }, "spec": { "containers": containers } },
    } }),
        )
    };
    let d = api.patch("d", &apply("app-owner"), &Patch::Apply(spec(vec![container("app", "nginx:1")]))).await?;
    c.note("app-owner", fields_of(&d, "app-owner", "Apply"));
    let side = config::<Deployment>(
        "d",
        json!({ "spec": { "template": { "spec": { "containers": [{ "name": "side", "image": "busybox:1" }] } } } }),
    );
    let d = api.patch("d", &apply("side-owner"), &Patch::Apply(side)).await?;
    let names: Vec<_> = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    c.note("containers", names);
    c.note("side-owner", fields_of(&d, "side-owner", "Apply"));
    let s = c.note_err(
        "image conflict",
        api.patch("d", &apply("side-owner"), &Patch::Apply(spec(vec![container("app", "nginx:2")]))).await,
    )?;
    ensure!(s.code == 409, "{s:?}");
    Ok(())
}

/// A set (`metadata.finalizers`): each manager owns its values.
pub(crate) async fn apply_set_list(c: Ctx) -> Result<()> {
    apply_cm(&c, &apply("one"), "set", json!({ "metadata": { "finalizers": ["example.com/one"] } })).await?;
    let both = apply_cm(&c, &apply("two"), "set", json!({ "metadata": { "finalizers": ["example.com/two"] } })).await?;
    c.note("both", (&both.metadata.finalizers, owners(&both)));
    let one = apply_cm(&c, &apply("two"), "set", json!({})).await?;
    c.note("two dropped its value", &one.metadata.finalizers);
    c.api::<ConfigMap>()
        .patch("set", &PatchParams::default(), &Patch::Merge(json!({ "metadata": { "finalizers": null } })))
        .await?;
    Ok(())
}

/// An apply carrying a stale resourceVersion is 409.
pub(crate) async fn apply_with_stale_resource_version(c: Ctx) -> Result<()> {
    let first = apply_cm(&c, &apply("m"), "arv", json!({ "data": { "a": "1" } })).await?;
    apply_cm(&c, &apply("m"), "arv", json!({ "data": { "a": "2" } })).await?;
    let stale = json!({ "metadata": { "resourceVersion": first.metadata.resource_version }, "data": { "a": "3" } });
    let s = c.note_err("stale", apply_cm(&c, &apply("m"), "arv", stale).await)?;
    ensure!(s.code == 409, "{s:?}");
    Ok(())
}
