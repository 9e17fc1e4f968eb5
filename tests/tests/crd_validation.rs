//! CRDs from `#[derive(CustomResource)]` on the real control plane: every CRD
//! is accepted and Established; `kubectl explain` shows the doc comments; the
//! API server enforces range, length, pattern, enum, CEL (type and field
//! level), list-map keys; printer columns, selectable fields, the scale
//! subresource, deprecation warnings and multi-version CRDs work as declared.

// clippy reads repeated keys inside `#[kube(printcolumn(..), printcolumn(..))]`
// as duplicated attributes; they are separate columns.
#![allow(clippy::duplicated_attributes)]

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, Result, bail, ensure};
use bot_derive::CustomResource;
use bot_runtime::{client::TypedClient, testenv::TestEnv};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{
    Api, CustomResourceExt,
    api::{DynamicObject, Patch, PatchParams, PostParams},
    core::{ApiResource, GroupVersionKind},
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A gear of a gearbox: the test type with every CRD feature.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(
    group = "crdtest.example.com",
    version = "v1",
    kind = "Gear",
    namespaced,
    status = "GearStatus",
    shortname = "gr",
    category = "crdtest",
    printcolumn(name = "Teeth", type = "integer", json_path = ".spec.teeth", description = "number of teeth"),
    printcolumn(name = "Material", type = "string", json_path = ".spec.material"),
    printcolumn = r#"{"name":"Ready","type":"integer","jsonPath":".status.replicas"}"#,
    selectable = ".spec.color",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    label("crdtest.example.com/suite", "crd-validation"),
    annotation("crdtest.example.com/owner", "bot-tests"),
    validation(
        rule = "self.spec.teeth >= self.spec.replicas",
        message = "a gear needs at least one tooth per replica"
    )
)]
#[genclient(method(
    name = "GetScale",
    verb = "get",
    subresource = "scale",
    result = "k8s_openapi::api::autoscaling::v1::Scale"
))]
#[serde(rename_all = "camelCase")]
pub struct GearSpec {
    /// Number of teeth on the gear wheel.
    #[schemars(range(min = 3, max = 100))]
    pub teeth: i32,
    /// Desired number of identical gears.
    #[serde(default)]
    pub replicas: i32,
    /// Short name tag painted on the gear.
    #[schemars(length(min = 1, max = 16))]
    pub tag: String,
    /// Part number such as `GR-42`.
    #[schemars(regex(pattern = r"^[A-Z]{2}-[0-9]+$"))]
    pub part: String,
    /// What the gear is made of.
    pub material: Material,
    /// Paint colour, selectable with `--field-selector spec.color=...`.
    pub color: String,
    /// Tooth pitch in tenths of a millimetre; must be even.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self % 2 == 0", "message": "pitch must be even"}]))]
    pub pitch: i32,
    /// Shafts the gear sits on, a list map keyed by name.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub shafts: Vec<Shaft>,
    /// Port of the gear's telemetry, by number or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<IntOrString>,
    /// Free-form notes kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub notes: Option<Value>,
    /// A Kubernetes object embedded whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("type" = "object", "x-kubernetes-embedded-resource" = true, "x-kubernetes-preserve-unknown-fields" = true))]
    pub template: Option<Value>,
}

/// Gear materials.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Material {
    /// Hardened steel.
    Steel,
    /// Brass.
    Brass,
}

/// A shaft a gear sits on.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct Shaft {
    /// Shaft name, the list-map key.
    pub name: String,
    /// Diameter in millimetres.
    pub diameter: i32,
}

/// Observed state of a gear.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
pub struct GearStatus {
    /// Gears running.
    pub replicas: i32,
    /// Label selector of the running gears.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// Two versions of one kind, merged into one CRD with v1 as storage.
pub mod v1 {
    use super::*;

    /// A lever, v1.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
    #[kube(group = "crdtest.example.com", version = "v1", kind = "Lever", namespaced)]
    pub struct LeverSpec {
        /// Length in millimetres.
        pub length: i32,
    }
}
/// The deprecated, served-but-not-stored v1beta1 of Lever.
pub mod v1beta1 {
    use super::*;

    /// A lever, v1beta1.
    #[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
    #[kube(
        group = "crdtest.example.com",
        version = "v1beta1",
        kind = "Lever",
        namespaced,
        storage = false,
        deprecated = "crdtest.example.com/v1beta1 Lever is deprecated; use crdtest.example.com/v1"
    )]
    pub struct LeverSpec {
        /// Length in millimetres.
        pub length: i32,
    }
}

/// A cluster-scoped kind.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "crdtest.example.com", version = "v1", kind = "Gearbox", category = "crdtest")]
pub struct GearboxSpec {
    /// Gear ratio.
    pub ratio: String,
}

fn crds() -> Result<Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>> {
    let lever = v1::Lever::merged_crd([v1::Lever::crd(), v1beta1::Lever::crd()])?;
    Ok(vec![Gear::crd(), lever, Gearbox::crd()])
}

async fn env() -> Result<TestEnv> {
    let env = TestEnv::start().await?;
    env.install_crds(crds()?).await?;
    Ok(env)
}

fn kubectl(env: &TestEnv, args: &[&str]) -> Result<std::process::Output> {
    let bin = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/testenv/kubectl"));
    let out = Command::new(&bin)
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    Ok(out)
}

/// Runs kubectl until it succeeds and its stdout satisfies `ok` (discovery and
/// the OpenAPI of a new CRD are published a moment after it is Established).
async fn kubectl_until(env: &TestEnv, args: &[&str], ok: impl Fn(&str) -> bool) -> Result<(String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = kubectl(env, args)?;
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        if out.status.success() && ok(&stdout) {
            return Ok((stdout, stderr));
        }
        if tokio::time::Instant::now() > deadline {
            bail!("kubectl {args:?} did not succeed: {stdout}\n{stderr}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn valid_gear() -> Value {
    json!({
        "apiVersion": "crdtest.example.com/v1",
        "kind": "Gear",
        "metadata": { "name": "valid" },
        "spec": {
            "teeth": 20, "replicas": 1, "tag": "main", "part": "GR-42", "material": "steel", "color": "red",
            "pitch": 4, "shafts": [{"name": "a", "diameter": 8}], "telemetry": "metrics",
            "notes": {"anything": {"goes": [1, 2]}},
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "t"}, "data": {"k": "v"}}
        }
    })
}

fn gears(env: &TestEnv) -> Api<DynamicObject> {
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("crdtest.example.com", "v1", "Gear"), "gears");
    Api::namespaced_with(env.client(), env.namespace(), &ar)
}

async fn create_json(env: &TestEnv, name: &str, patch: impl FnOnce(&mut Value)) -> Result<DynamicObject, kube::Error> {
    let mut obj = valid_gear();
    obj["metadata"]["name"] = json!(name);
    patch(&mut obj);
    let obj: DynamicObject = serde_json::from_value(obj).expect("valid JSON object");
    gears(env).create(&PostParams::default(), &obj).await
}

#[tokio::test]
async fn every_crd_is_established_with_its_metadata() -> Result<()> {
    let env = env().await?;
    let api = Api::<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>::all(
        env.client(),
    );
    for name in ["gears.crdtest.example.com", "levers.crdtest.example.com", "gearboxes.crdtest.example.com"] {
        let crd = api.get(name).await?;
        let conditions = crd.status.and_then(|s| s.conditions).unwrap_or_default();
        ensure!(conditions.iter().any(|c| c.type_ == "Established" && c.status == "True"), "{name} not Established");
    }
    let gear = api.get("gears.crdtest.example.com").await?;
    assert_eq!(gear.metadata.labels.unwrap()["crdtest.example.com/suite"], "crd-validation");
    assert_eq!(gear.metadata.annotations.unwrap()["crdtest.example.com/owner"], "bot-tests");
    let lever = api.get("levers.crdtest.example.com").await?;
    let versions: Vec<(String, bool, bool)> =
        lever.spec.versions.iter().map(|v| (v.name.clone(), v.storage, v.deprecated.unwrap_or(false))).collect();
    assert_eq!(versions, [("v1".into(), true, false), ("v1beta1".into(), false, true)]);
    Ok(())
}

#[tokio::test]
async fn a_valid_object_with_every_schema_feature_is_accepted() -> Result<()> {
    let env = env().await?;
    let created = create_json(&env, "everything", |_| {}).await?;
    // Preserved unknown fields and the embedded object come back as written.
    assert_eq!(created.data["spec"]["notes"], json!({"anything": {"goes": [1, 2]}}));
    assert_eq!(created.data["spec"]["template"]["data"], json!({"k": "v"}));
    // Integer form of the int-or-string.
    create_json(&env, "numeric-telemetry", |o| o["spec"]["telemetry"] = json!(9090)).await?;
    // Typed round trip through the derived root type.
    let typed: Api<Gear> = Api::namespaced(env.client(), env.namespace());
    let g = typed.get("everything").await?;
    assert!(matches!(g.spec.material, Material::Steel));
    assert_eq!(g.spec.telemetry, Some(IntOrString::String("metrics".into())));
    Ok(())
}

async fn expect_422(env: &TestEnv, name: &str, field: &str, patch: impl FnOnce(&mut Value)) -> Result<String> {
    match create_json(env, name, patch).await {
        Err(kube::Error::Api(resp)) => {
            ensure!(resp.code == 422, "{name}: expected 422, got {} {}", resp.code, resp.message);
            ensure!(resp.message.contains(field), "{name}: message does not name `{field}`: {}", resp.message);
            Ok(resp.message)
        }
        Err(e) => bail!("{name}: expected a 422, got {e}"),
        Ok(_) => bail!("{name}: an invalid object was accepted"),
    }
}

#[tokio::test]
async fn objects_breaking_a_rule_are_refused_with_422_naming_the_field() -> Result<()> {
    let env = env().await?;
    // range
    expect_422(&env, "too-few-teeth", "spec.teeth", |o| o["spec"]["teeth"] = json!(2)).await?;
    expect_422(&env, "too-many-teeth", "spec.teeth", |o| o["spec"]["teeth"] = json!(101)).await?;
    // length
    expect_422(&env, "empty-tag", "spec.tag", |o| o["spec"]["tag"] = json!("")).await?;
    expect_422(&env, "long-tag", "spec.tag", |o| o["spec"]["tag"] = json!("x".repeat(17))).await?;
    // pattern
    expect_422(&env, "bad-part", "spec.part", |o| o["spec"]["part"] = json!("gr42")).await?;
    // enum
    let msg = expect_422(&env, "bad-material", "spec.material", |o| o["spec"]["material"] = json!("wood")).await?;
    assert!(msg.contains("steel") && msg.contains("brass"), "{msg}");
    // CEL at field level
    let msg = expect_422(&env, "odd-pitch", "spec.pitch", |o| o["spec"]["pitch"] = json!(3)).await?;
    assert!(msg.contains("pitch must be even"), "{msg}");
    // CEL at type level
    let msg = expect_422(&env, "too-many-replicas", "a gear needs at least one tooth per replica", |o| {
        o["spec"]["replicas"] = json!(50)
    })
    .await?;
    assert!(msg.contains("Gear.crdtest.example.com"), "{msg}");
    // required (serde: not Option, no default)
    expect_422(&env, "no-color", "spec.color", |o| {
        o["spec"].as_object_mut().unwrap().remove("color");
    })
    .await?;
    // list-map keys are unique
    expect_422(&env, "duplicate-shaft", "spec.shafts", |o| {
        o["spec"]["shafts"] = json!([{"name": "a", "diameter": 8}, {"name": "a", "diameter": 9}])
    })
    .await?;
    // int-or-string refuses other types
    expect_422(&env, "bool-telemetry", "spec.telemetry", |o| o["spec"]["telemetry"] = json!(true)).await?;
    // an embedded resource needs apiVersion and kind
    expect_422(&env, "bare-template", "spec.template", |o| o["spec"]["template"] = json!({"data": {}})).await?;
    Ok(())
}

#[tokio::test]
async fn kubectl_explain_shows_doc_comments() -> Result<()> {
    let env = env().await?;
    let (out, _) = kubectl_until(&env, &["explain", "gears.spec"], |s| s.contains("teeth")).await?;
    for text in [
        "Number of teeth on the gear wheel.",
        "Part number such as `GR-42`.",
        "Tooth pitch in tenths of a millimetre; must be even.",
        "What the gear is made of.",
    ] {
        assert!(out.contains(text), "explain lacks {text:?}:\n{out}");
    }
    let (out, _) = kubectl_until(&env, &["explain", "gears"], |s| s.contains("DESCRIPTION")).await?;
    assert!(out.contains("A gear of a gearbox"), "{out}");
    Ok(())
}

#[tokio::test]
async fn printer_columns_and_selectable_fields_show_in_kubectl_get() -> Result<()> {
    let env = env().await?;
    create_json(&env, "red", |_| {}).await?;
    create_json(&env, "blue", |o| {
        o["spec"]["color"] = json!("blue");
        o["spec"]["material"] = json!("brass");
        o["spec"]["teeth"] = json!(33);
    })
    .await?;
    let ns = env.namespace();
    let (out, _) = kubectl_until(&env, &["get", "gears", "-n", ns], |s| s.contains("blue")).await?;
    let header = out.lines().next().unwrap_or_default();
    for col in ["NAME", "TEETH", "MATERIAL", "READY"] {
        assert!(header.contains(col), "no column {col}: {out}");
    }
    let blue = out.lines().find(|l| l.starts_with("blue")).unwrap();
    assert!(blue.contains("33") && blue.contains("brass"), "{out}");
    // The category and the short name work too.
    kubectl_until(&env, &["get", "crdtest", "-n", ns], |s| s.contains("gear.crdtest.example.com/blue")).await?;
    kubectl_until(&env, &["get", "gr", "-n", ns], |s| s.contains("red")).await?;
    // selectable = ".spec.color"
    let (out, _) =
        kubectl_until(&env, &["get", "gears", "-n", ns, "--field-selector", "spec.color=blue"], |_| true).await?;
    assert!(out.contains("blue") && !out.contains("red"), "{out}");
    Ok(())
}

#[tokio::test]
async fn scale_subresource_works_through_kubectl_and_typed_client() -> Result<()> {
    let env = env().await?;
    create_json(&env, "scaled", |_| {}).await?;
    let typed: Api<Gear> = Api::namespaced(env.client(), env.namespace());
    typed
        .patch_status(
            "scaled",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1, "selector": "app=scaled"}})),
        )
        .await?;
    let ns = env.namespace();
    kubectl_until(&env, &["scale", "gear/scaled", "-n", ns, "--replicas=3"], |_| true).await?;
    let g = typed.get("scaled").await?;
    assert_eq!(g.spec.replicas, 3);
    // The generated-style get_scale.
    let client = TypedClient::new(typed);
    let scale = client.get_scale("scaled").await?;
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(3));
    let status = scale.status.context("scale status")?;
    assert_eq!((status.replicas, status.selector.as_deref()), (1, Some("app=scaled")));
    // The type-level CEL rule also guards writes through /scale.
    let out = kubectl(&env, &["scale", "gear/scaled", "-n", ns, "--replicas=50"])?;
    assert!(!out.status.success(), "scaling past the CEL rule succeeded");
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least one tooth per replica"));
    Ok(())
}

#[tokio::test]
async fn deprecated_version_warns_and_both_versions_serve_one_object() -> Result<()> {
    let env = env().await?;
    let levers: Api<v1::Lever> = Api::namespaced(env.client(), env.namespace());
    levers.create(&PostParams::default(), &v1::Lever::new("l", v1::LeverSpec { length: 120 })).await?;
    let ns = env.namespace();
    let (out, err) =
        kubectl_until(&env, &["get", "levers.v1beta1.crdtest.example.com", "l", "-n", ns, "-o", "json"], |_| true)
            .await?;
    let obj: Value = serde_json::from_str(&out)?;
    assert_eq!(obj["apiVersion"], "crdtest.example.com/v1beta1");
    assert_eq!(obj["spec"]["length"], 120);
    assert!(err.contains("crdtest.example.com/v1beta1 Lever is deprecated; use crdtest.example.com/v1"), "{err}");
    // The cluster-scoped kind has no namespace.
    let boxes: Api<Gearbox> = Api::all(env.client());
    let name = format!("box-{ns}");
    boxes.create(&PostParams::default(), &Gearbox::new(&name, GearboxSpec { ratio: "3:1".into() })).await?;
    boxes.delete(&name, &Default::default()).await?;
    Ok(())
}
