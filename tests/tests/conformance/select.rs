//! Cases: lists with label and field selectors, pagination, metadata-only
//! reads.

use anyhow::{Result, ensure};
use bot_api::v1alpha1::Bot;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    ResourceExt,
    api::{ListParams, PostParams},
};
use serde_json::json;

use super::{
    harness::Ctx,
    objects::{bot, cm},
};

/// Bots `a` (tier=web, team=x), `b` (tier=db), `c` (no labels).
async fn three_bots(c: &Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    for (name, labels) in
        [("a", json!({ "tier": "web", "team": "x" })), ("b", json!({ "tier": "db" })), ("c", json!({}))]
    {
        api.create(&PostParams::default(), &bot(name, labels, json!({}))).await?;
    }
    Ok(())
}

/// Names of the Bots `selector` lists.
async fn names(c: &Ctx, lp: &ListParams) -> Result<Vec<String>> {
    Ok(c.api::<Bot>().list(lp).await?.items.iter().map(|b| b.name_any()).collect())
}

/// `=`, `==`, `!=` (which matches objects without the label).
pub(crate) async fn label_selector_equality(c: Ctx) -> Result<()> {
    three_bots(&c).await?;
    for selector in ["tier=web", "tier==db", "tier!=web", "tier=web,team=x", "tier=web,team=y"] {
        c.note(selector, names(&c, &ListParams::default().labels(selector)).await?);
    }
    ensure!(names(&c, &ListParams::default().labels("tier!=web")).await? == ["b", "c"]);
    Ok(())
}

/// `in`, `notin` (which matches objects without the label).
pub(crate) async fn label_selector_set_based(c: Ctx) -> Result<()> {
    three_bots(&c).await?;
    for selector in ["tier in (web,db)", "tier in (web)", "tier notin (web)", "tier notin (web,db)"] {
        c.note(selector, names(&c, &ListParams::default().labels(selector)).await?);
    }
    ensure!(names(&c, &ListParams::default().labels("tier notin (web)")).await? == ["b", "c"]);
    Ok(())
}

/// Existence: `key` and `!key`.
pub(crate) async fn label_selector_exists(c: Ctx) -> Result<()> {
    three_bots(&c).await?;
    for selector in ["tier", "!tier", "team,tier", "!team,tier"] {
        c.note(selector, names(&c, &ListParams::default().labels(selector)).await?);
    }
    ensure!(names(&c, &ListParams::default().labels("!tier")).await? == ["c"]);
    Ok(())
}

/// A selector that does not parse is 400 BadRequest.
pub(crate) async fn invalid_label_selector_is_bad_request(c: Ctx) -> Result<()> {
    let s =
        c.note_err("in without parentheses", c.api::<Bot>().list(&ListParams::default().labels("tier in web")).await)?;
    ensure!(s.code == 400, "{s:?}");
    Ok(())
}

/// Field selectors on metadata.name (`=`, `!=`) and metadata.namespace.
pub(crate) async fn field_selector_metadata(c: Ctx) -> Result<()> {
    three_bots(&c).await?;
    for selector in ["metadata.name=a", "metadata.name!=a", "metadata.name==b,metadata.name!=a"] {
        c.note(selector, names(&c, &ListParams::default().fields(selector)).await?);
    }
    let ns = format!("metadata.namespace={}", c.ns);
    c.note("metadata.namespace", names(&c, &ListParams::default().fields(&ns)).await?);
    ensure!(names(&c, &ListParams::default().fields("metadata.name!=a")).await? == ["b", "c"]);
    Ok(())
}

/// A field a custom resource cannot be selected on is 400 BadRequest.
pub(crate) async fn unsupported_field_selector_is_bad_request(c: Ctx) -> Result<()> {
    let s =
        c.note_err("spec.platform", c.api::<Bot>().list(&ListParams::default().fields("spec.platform=line")).await)?;
    ensure!(s.code == 400, "{s:?}");
    Ok(())
}

/// `limit` and `continue`: pages in name order, remainingItemCount.
pub(crate) async fn list_pagination(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    for name in ["p1", "p2", "p3", "p4", "p5"] {
        api.create(&PostParams::default(), &bot(name, json!({}), json!({}))).await?;
    }
    let first = api.list(&ListParams::default().limit(2)).await?;
    let token = first.metadata.continue_.clone().unwrap_or_default();
    c.note("page 1", first.items.iter().map(|b| b.name_any()).collect::<Vec<_>>());
    c.note("page 1 remaining", first.metadata.remaining_item_count);
    c.note("page 1 has a token", !token.is_empty());
    let second = api.list(&ListParams::default().limit(2).continue_token(&token)).await?;
    c.note("page 2", second.items.iter().map(|b| b.name_any()).collect::<Vec<_>>());
    let token = second.metadata.continue_.clone().unwrap_or_default();
    let last = api.list(&ListParams::default().limit(2).continue_token(&token)).await?;
    c.note("page 3", last.items.iter().map(|b| b.name_any()).collect::<Vec<_>>());
    c.note("page 3 token", last.metadata.continue_.as_deref().unwrap_or_default());
    ensure!(last.items.len() == 1);
    Ok(())
}

/// A list's resourceVersion is at least each item's; items carry their own.
pub(crate) async fn list_resource_version(c: Ctx) -> Result<()> {
    let api = c.api::<Bot>();
    let a = api.create(&PostParams::default(), &bot("rv-a", json!({}), json!({}))).await?;
    let b = api.create(&PostParams::default(), &bot("rv-b", json!({}), json!({}))).await?;
    let list = api.list(&ListParams::default()).await?;
    let num = |s: Option<String>| s.and_then(|s| s.parse::<u64>().ok()).unwrap_or_default();
    let (ra, rb, rl) =
        (num(a.resource_version()), num(b.resource_version()), num(list.metadata.resource_version.clone()));
    c.note("ordered", ra < rb && rb <= rl);
    c.note("kind", (&list.types.kind, &list.types.api_version));
    c.note("items", &list.items);
    ensure!(ra < rb && rb <= rl);
    Ok(())
}

/// `as=PartialObjectMetadata`: metadata only, for get and list.
pub(crate) async fn metadata_only_reads(c: Ctx) -> Result<()> {
    let cms = c.api::<ConfigMap>();
    cms.create(&PostParams::default(), &cm("meta", json!({ "sel": "m" }), json!({ "secret": "data" }))).await?;
    let one = cms.get_metadata("meta").await?;
    c.note("get", &one);
    let list = cms.list_metadata(&ListParams::default().labels("sel=m")).await?;
    c.note("list kind", (&list.types.kind, &list.types.api_version));
    c.note("list", &list.items);
    ensure!(list.items.len() == 1 && serde_json::to_value(&list.items[0])?.get("data").is_none());
    Ok(())
}
