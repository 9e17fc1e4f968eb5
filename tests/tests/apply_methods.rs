//! `#[genclient(method(...))]` against the real control plane: every verb
//! client-gen accepts for an extra method (get, list, create, update, patch,
//! apply, apply_status), on the object and on the status and scale
//! subresources, with input and result types, makes the HTTP call
//! client-gen's template makes. The kind and its generated code are bot-gen's
//! golden fixture (`bot-gen/tests/fixtures/widgets.rs` rendered to
//! `bot-gen/tests/golden/widgets.rs`), so this runs exactly what the
//! generator emits.

mod common;

use std::sync::{Arc, Mutex};

use anyhow::Result;
use bot_runtime::testenv::TestEnv;
use k8s_openapi::api::autoscaling::v1::{Scale, ScaleSpec};
use kube::{
    Client, CustomResourceExt, ResourceExt,
    api::{ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::json;

#[path = "../../bot-gen/tests/fixtures/widgets.rs"]
mod widgets;

include!("../../bot-gen/tests/golden/widgets.rs");

use applyconfigurations::methods_v1::{
    ExtrasApply, GadgetApply, GadgetSpecApply, PartApply, ScrewApply, WidgetApply, WidgetSpecApply, WidgetStatusApply,
};
use widgets::{Extras, Part, Widget, WidgetSpec};

/// Every request a client sends, as `METHOD path?query [content-type]`.
#[derive(Clone, Default)]
struct Requests(Arc<Mutex<Vec<String>>>);

impl Requests {
    /// The requests since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A client of `env` recording its requests.
async fn recording_client(env: &TestEnv) -> Result<(Client, Requests)> {
    let options = KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(Kubeconfig::read_from(env.kubeconfig_path())?, &options).await?;
    let requests = Requests::default();
    let log = requests.clone();
    let layer = tower::util::MapRequestLayer::new(move |req: http::Request<kube::client::Body>| {
        let content_type = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let content_type = content_type.map(|c| format!(" [{c}]")).unwrap_or_default();
        // The query sorted, without empty pairs (kube writes `?&a=b`, or `?` for none).
        let mut query: Vec<&str> = req.uri().query().unwrap_or_default().split('&').filter(|p| !p.is_empty()).collect();
        query.sort_unstable();
        let query = if query.is_empty() { String::new() } else { format!("?{}", query.join("&")) };
        log.0.lock().unwrap().push(format!("{} {}{query}{content_type}", req.method(), req.uri().path()));
        req
    });
    Ok((kube::client::ClientBuilder::try_from(config)?.with_layer(&layer).build(), requests))
}

struct Fixture {
    _env: TestEnv,
    ns: String,
    widgets: clientset::methods_v1::WidgetClient,
    requests: Requests,
    /// `/apis/methods.botops.dev/v1/namespaces/<ns>/widgets`
    base: String,
}

impl Fixture {
    async fn new() -> Result<Self> {
        let env = TestEnv::start().await?;
        env.install_crds([Widget::crd()]).await?;
        let (client, requests) = recording_client(&env).await?;
        let widgets = clientset::Clientset::new(client).methods_v1().widgets(env.namespace());
        let base = format!("/apis/methods.botops.dev/v1/namespaces/{}/widgets", env.namespace());
        Ok(Self { ns: env.namespace().to_string(), _env: env, widgets, requests, base })
    }

    /// Asserts the requests since the last check, with `{base}` for the collection's path.
    fn saw(&self, expected: &[&str]) {
        let expected: Vec<String> = expected.iter().map(|e| e.replace("{base}", &self.base)).collect();
        assert_eq!(self.requests.take(), expected);
    }
}

fn widget(name: &str, replicas: i32) -> Widget {
    let spec = WidgetSpec {
        replicas,
        color: "red".into(),
        parts: Default::default(),
        extras: Default::default(),
        cache: String::new(),
        weight: 1,
    };
    Widget::new(name, spec)
}

const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";
const APPLY: &str = "application/apply-patch+yaml";

/// create (collection, with input and result types), get without a
/// subresource (result type), list of the collection (with a result type),
/// update of the object the input names, patch of the object.
#[tokio::test]
async fn methods_on_the_object_and_the_collection() -> Result<()> {
    let f = Fixture::new().await?;
    let pp = PostParams::default();

    let created: serde_json::Value = f.widgets.create_widget(&widget("a", 1), &pp).await?;
    assert_eq!(created["spec"]["replicas"], 1);
    f.saw(&[&format!("POST {{base}} [{JSON}]")]);

    let raw = f.widgets.get_raw("a").await?;
    assert_eq!(raw["metadata"]["name"], "a");
    f.saw(&["GET {base}/a"]);

    let all = f.widgets.list_all(&ListParams::default().labels("x!=y")).await?;
    assert_eq!(all.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["a"]);
    let names = f.widgets.list_names(&ListParams::default()).await?;
    assert_eq!(names.items[0].metadata.name.as_deref(), Some("a"));
    f.saw(&["GET {base}?labelSelector=x%21%3Dy", "GET {base}"]);

    let mut a = f.widgets.get("a").await?;
    a.spec.color = "blue".into();
    f.requests.take();
    let replaced = f.widgets.replace(&a, &pp).await?;
    assert_eq!(replaced.spec.color, "blue");
    f.saw(&[&format!("PUT {{base}}/a [{JSON}]")]);

    let green = Patch::Merge(json!({ "spec": { "color": "green" } }));
    let patched = f.widgets.patch_widget("a", &green, &PatchParams::default()).await?;
    assert_eq!(patched.metadata.name.as_deref(), Some("a"), "the result type is WidgetName");
    f.saw(&[&format!("PATCH {{base}}/a [{MERGE}]")]);
    assert_eq!(f.widgets.get("a").await?.spec.color, "green");
    Ok(())
}

/// The status subresource: get (result type), update, patch and
/// apply_status; list and create on it are sent as client-gen sends them
/// (a CRD's status does not list and refuses POST).
#[tokio::test]
async fn methods_on_the_status_subresource() -> Result<()> {
    let f = Fixture::new().await?;
    let pp = PostParams::default();
    let mut a = f.widgets.create(&widget("a", 1), &pp).await?;
    f.requests.take();

    assert_eq!(f.widgets.get_status_only("a").await?.status, None);
    f.saw(&["GET {base}/a/status"]);

    a.status = Some(widgets::WidgetStatus { replicas: 1, note: Some("put".into()) });
    let replaced = f.widgets.replace_status("a", &a, &pp).await?;
    assert_eq!(replaced.status.and_then(|s| s.note).as_deref(), Some("put"));
    f.saw(&[&format!("PUT {{base}}/a/status [{JSON}]")]);

    let patch = Patch::Merge(json!({ "status": { "note": "patched" } }));
    let patched = f.widgets.patch_on_status("a", &patch, &PatchParams::default()).await?;
    assert_eq!(patched.status.and_then(|s| s.note).as_deref(), Some("patched"));
    f.saw(&[&format!("PATCH {{base}}/a/status [{MERGE}]")]);

    let config = WidgetApply::new("a", &f.ns).status(WidgetStatusApply::default().note("applied"));
    // Forced: the patch above made `note` another manager's.
    let applied = f.widgets.apply_widget_status(&config, &PatchParams::apply("methods").force()).await?;
    assert_eq!(applied.status.and_then(|s| s.note).as_deref(), Some("applied"));
    f.saw(&[&format!("PATCH {{base}}/a/status?fieldManager=methods&force=true [{APPLY}]")]);

    // A CRD's status subresource neither lists nor accepts POST: the calls
    // go where client-gen sends them and the server's answer comes back.
    let listed = f.widgets.list_status("a", &ListParams::default().labels("k=v")).await;
    assert!(matches!(listed, Err(kube::Error::SerdeError(_))), "a Widget is not a list: {listed:?}");
    f.saw(&["GET {base}/a/status?labelSelector=k%3Dv"]);
    match f.widgets.create_on_status("a", &a, &pp).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 405, "{s:?}"),
        other => anyhow::bail!("POST on status must be refused, got {other:?}"),
    }
    f.saw(&[&format!("POST {{base}}/a/status [{JSON}]")]);
    Ok(())
}

/// The scale subresource with autoscaling/v1 Scale as input and result:
/// get, update, patch and apply (which kube-apiserver refuses for custom
/// resources).
#[tokio::test]
async fn methods_on_the_scale_subresource() -> Result<()> {
    let f = Fixture::new().await?;
    f.widgets.create(&widget("a", 1), &PostParams::default()).await?;
    f.requests.take();

    let scale = f.widgets.get_scale("a").await?;
    assert_eq!(scale.spec.as_ref().and_then(|s| s.replicas), Some(1));
    f.saw(&["GET {base}/a/scale"]);

    let mut update = scale.clone();
    update.spec = Some(ScaleSpec { replicas: Some(2) });
    let updated = f.widgets.update_scale("a", &update, &PostParams::default()).await?;
    assert_eq!(updated.spec.and_then(|s| s.replicas), Some(2));
    f.saw(&[&format!("PUT {{base}}/a/scale [{JSON}]")]);

    let patch = Patch::Merge(json!({ "spec": { "replicas": 3 } }));
    let patched = f.widgets.patch_scale("a", &patch, &PatchParams::default()).await?;
    assert_eq!(patched.spec.and_then(|s| s.replicas), Some(3));
    f.saw(&[&format!("PATCH {{base}}/a/scale [{MERGE}]")]);

    let config = Scale {
        metadata: kube::api::ObjectMeta { name: Some("a".into()), ..Default::default() },
        spec: Some(ScaleSpec { replicas: Some(4) }),
        status: None,
    };
    // kube-apiserver cannot server-side apply a custom resource's scale
    // subresource (it converts the Scale as if it were the custom resource);
    // the call is client-gen's all the same, and the server's answer comes back.
    match f.widgets.apply_scale("a", &config, &PatchParams::apply("scaler").force()).await {
        Err(kube::Error::Api(s)) => assert!(s.code == 500 && s.message.contains("convert"), "{s:?}"),
        other => anyhow::bail!("the API server learnt to apply a CR's scale; assert the result instead: {other:?}"),
    }
    f.saw(&[&format!("PATCH {{base}}/a/scale?fieldManager=scaler&force=true [{APPLY}]")]);
    assert_eq!(f.widgets.get("a").await?.spec.replicas, 3);
    Ok(())
}

/// apply with the kind's apply configuration (which names the object) and
/// with a raw input (which comes with the name).
#[tokio::test]
async fn apply_methods_name_their_object() -> Result<()> {
    let f = Fixture::new().await?;
    let config = WidgetApply::new("a", &f.ns).spec(WidgetSpecApply::default().replicas(5));
    let applied = f.widgets.apply_widget(&config, &PatchParams::apply("methods")).await?;
    assert_eq!(applied.spec.replicas, 5);
    f.saw(&[&format!("PATCH {{base}}/a?fieldManager=methods [{APPLY}]")]);

    let body = json!({ "apiVersion": "methods.botops.dev/v1", "kind": "Widget", "metadata": { "name": "b" },
                       "spec": { "replicas": 6 } });
    let applied = f.widgets.apply_named("b", &body, &PatchParams::apply("methods")).await?;
    assert_eq!(applied.spec.replicas, 6);
    f.saw(&[&format!("PATCH {{base}}/b?fieldManager=methods [{APPLY}]")]);

    // A configuration without a name is refused before any request.
    let unnamed = WidgetApply::default().spec(WidgetSpecApply::default().replicas(1));
    let err = f.widgets.apply_widget(&unnamed, &PatchParams::apply("methods")).await.unwrap_err();
    assert!(matches!(err, kube::Error::BuildRequest(_)), "{err:?}");
    f.saw(&[]);
    Ok(())
}

/// The apply configurations of the fixture serialize like their source
/// types: rename_all (camelCase, kebab-case), rename, flatten, a field with
/// its own serializer as raw JSON, a skipped field left out; only what is set.
#[test]
fn apply_configurations_follow_the_source_types_serde_attributes() -> Result<()> {
    assert_eq!(serde_json::to_value(WidgetSpecApply::default())?, json!({}));
    let bolt = PartApply::default().size_mm(3).kind("bolt").screws([ScrewApply::default().length(1)]);
    let spec = WidgetSpecApply::default()
        .replicas(2)
        .parts([("a".to_string(), bolt)])
        .extras(ExtrasApply::default().tier("gold"))
        .weight(json!("7"));
    let expected = json!({
        "replicas": 2,
        "parts": { "a": { "size-mm": 3, "type": "bolt", "screws": [{ "length": 1 }] } },
        "tierName": "gold",
        "weight": "7",
    });
    assert_eq!(serde_json::to_value(&spec)?, expected);
    assert_eq!(serde_json::from_value::<WidgetSpecApply>(expected)?, spec, "and back");

    // A source value converts to the configuration of everything it serializes.
    let part = Part { size_mm: 3, screws: vec![], kind: Some("bolt".into()) };
    let source = WidgetSpec {
        replicas: 2,
        color: "red".into(),
        parts: [("a".to_string(), part)].into(),
        extras: Extras { tier: Some("gold".into()) },
        cache: "never sent".into(),
        weight: 7,
    };
    let converted = WidgetSpecApply::try_from(&source)?;
    assert_eq!(serde_json::to_value(&converted)?, serde_json::to_value(&source)?);
    assert_eq!(converted.color.as_deref(), Some("red"));

    // no_spec, cluster-scoped: the fields sit at the root, no namespace.
    let gadget = GadgetApply::new("g").spec(GadgetSpecApply::default().display_name("G"));
    assert_eq!(
        serde_json::to_value(&gadget)?,
        json!({ "apiVersion": "methods.botops.dev/v1", "kind": "Gadget", "metadata": { "name": "g" }, "displayName": "G" })
    );
    assert_eq!(serde_json::from_value::<GadgetApply>(serde_json::to_value(&gadget)?)?, gadget);
    Ok(())
}
