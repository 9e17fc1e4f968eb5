//! Run-time tests of what `#[derive(CustomResource)]` generates: the CRD JSON
//! of every `#[kube(...)]` key, the schema of every schemars / serde field
//! attribute a CRD author uses, and the multi-version merge.

// clippy reads repeated keys inside `#[kube(printcolumn(..), printcolumn(..))]`
// as duplicated attributes; they are separate columns.
#![allow(clippy::duplicated_attributes)]
// The test types are `pub` (the derive gives the root type the spec's
// visibility) but not documented API.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use bot_derive::CustomResource;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResourceExt, Resource, core::object::HasSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Every resource-level key at once.
pub mod full {
    use super::*;

    /// Spec of a widget.
    #[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[kube(
        group = "derive.example.com",
        version = "v1beta1",
        kind = "Widget",
        plural = "widgetz",
        singular = "widgette",
        root = "WidgetRoot",
        namespaced,
        status = "WidgetStatus",
        shortname = "wg",
        shortname = "wgt",
        category = "all",
        category = "gadgets",
        printcolumn(
            name = "Replicas",
            type = "integer",
            json_path = ".spec.replicas",
            description = "desired replicas",
            priority = 0
        ),
        printcolumn = r#"{"name":"Seen","type":"date","jsonPath":".status.lastSeen","format":"date-time","priority":1}"#,
        selectable = ".spec.color",
        scale(
            spec_replicas_path = ".spec.replicas",
            status_replicas_path = ".status.replicas",
            label_selector_path = ".status.selector"
        ),
        label("example.com/team", "gadgets"),
        annotation("example.com/owner", "derive-tests"),
        storage,
        served = true,
        deprecated = "derive.example.com/v1beta1 Widget is deprecated; use v1",
        validation = "self.spec.replicas <= 10",
        validation(rule = "self.spec.color != 'black'", message = "black widgets are sold out"),
        derive = "PartialEq",
        doc = "A widget, made to order.",
        crates(
            kube = "::kube",
            k8s_openapi = "::k8s_openapi",
            schemars = "::schemars",
            serde = "::serde",
            serde_json = "::serde_json"
        )
    )]
    #[genclient(
        skip_verbs(delete_collection),
        method(
            name = "GetScale",
            verb = "get",
            subresource = "scale",
            result = "k8s_openapi::api::autoscaling::v1::Scale"
        )
    )]
    #[serde(rename_all = "camelCase")]
    pub struct WidgetSpec {
        /// Desired replicas.
        pub replicas: i32,
        /// Paint colour.
        pub color: String,
    }

    /// Observed widget state.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct WidgetStatus {
        /// Observed replicas.
        pub replicas: i32,
        /// Label selector of the pods.
        pub selector: Option<String>,
        /// Last time seen.
        pub last_seen: Option<String>,
    }
}

/// A cluster-scoped kind with kube-derive's JSON scale form, a bare
/// `deprecated`, and a version that is neither served nor stored.
pub mod cluster {
    use super::*;

    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(
        group = "derive.example.com",
        version = "v1alpha1",
        kind = "Gizmo",
        status = "GizmoStatus",
        scale = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas"}"#,
        deprecated,
        storage = false,
        served = false
    )]
    #[genclient(readonly)]
    pub struct GizmoSpec {
        pub replicas: i32,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct GizmoStatus {
        pub replicas: i32,
    }
}

/// Schema features: validation attributes, enums, defaults, CEL at field
/// level, list/map types, preserve-unknown-fields, int-or-string, embedded
/// resources, optional vs required.
pub mod schema {
    use super::*;

    /// A sprocket.
    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "derive.example.com", version = "v1", kind = "Sprocket", namespaced)]
    #[serde(rename_all = "camelCase")]
    pub struct SprocketSpec {
        /// Number of teeth.
        #[schemars(range(min = 3, max = 100))]
        pub teeth: i32,
        /// Name tag.
        #[schemars(length(min = 1, max = 16))]
        pub tag: String,
        /// Part number.
        #[schemars(regex(pattern = r"^[A-Z]{2}-[0-9]+$"))]
        pub part: String,
        /// Material.
        pub material: Material,
        /// Optional finish.
        pub finish: Option<Material>,
        /// Size, defaulted.
        #[serde(default = "default_size")]
        pub size: i32,
        /// Must be even (field-level CEL).
        #[schemars(extend("x-kubernetes-validations" = [{"rule": "self % 2 == 0", "message": "pitch must be even"}]))]
        pub pitch: i32,
        /// Ports, a list map keyed by name.
        #[serde(default)]
        #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
        pub ports: Vec<Port>,
        /// A set of strings.
        #[serde(default)]
        #[schemars(extend("x-kubernetes-list-type" = "set"))]
        pub tags: Vec<String>,
        /// Replaced as a whole by appliers.
        #[serde(default)]
        #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
        pub selector: BTreeMap<String, String>,
        /// Free-form settings.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
        pub settings: Option<Value>,
        /// A port number or name.
        pub target: IntOrString,
        /// An optional port number or name.
        pub fallback: Option<IntOrString>,
        /// An embedded Kubernetes object.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(extend("type" = "object", "x-kubernetes-embedded-resource" = true, "x-kubernetes-preserve-unknown-fields" = true))]
        pub template: Option<Value>,
        /// Skipped when empty, so optional.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        pub note: String,
    }

    fn default_size() -> i32 {
        10
    }

    /// A material.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Material {
        /// Steel.
        Steel,
        /// Brass.
        Brass,
    }

    /// A named port.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Port {
        /// Port name, the list-map key.
        pub name: String,
        /// Port number.
        pub port: i32,
    }
}

/// Two versions of one kind for the merge tests.
pub mod v1 {
    use super::*;

    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "derive.example.com", version = "v1", kind = "Cog", namespaced)]
    pub struct CogSpec {
        pub size: i32,
    }
}
pub mod v2 {
    use super::*;

    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "derive.example.com", version = "v2", kind = "Cog", namespaced, storage = false)]
    pub struct CogSpec {
        pub size: i64,
        pub unit: Option<String>,
    }
}
pub mod v2_stored {
    use super::*;

    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "derive.example.com", version = "v2", kind = "Cog", namespaced)]
    pub struct CogSpec {
        pub size: i64,
    }
}

fn crd_json<K: CustomResourceExt>() -> Value {
    serde_json::to_value(K::crd()).unwrap()
}

fn version0(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]
}

#[test]
fn names_scope_and_root() {
    let crd = crd_json::<full::WidgetRoot>();
    assert_eq!(crd["metadata"]["name"], "widgetz.derive.example.com");
    assert_eq!(crd["spec"]["group"], "derive.example.com");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(
        crd["spec"]["names"],
        json!({"kind": "Widget", "plural": "widgetz", "singular": "widgette",
               "shortNames": ["wg", "wgt"], "categories": ["all", "gadgets"]})
    );
    assert_eq!(version0(&crd)["name"], "v1beta1");
    assert_eq!(full::WidgetRoot::kind(&()), "Widget");
    assert_eq!(full::WidgetRoot::api_version(&()), "derive.example.com/v1beta1");
    assert_eq!(full::WidgetRoot::shortnames(), ["wg", "wgt"]);
    let w = full::WidgetRoot::new("w", full::WidgetSpec { replicas: 1, color: "red".into() });
    assert_eq!(w.spec().replicas, 1);
    let obj = serde_json::to_value(&w).unwrap();
    assert_eq!(obj["apiVersion"], "derive.example.com/v1beta1");
    assert_eq!(obj["kind"], "Widget");
    // derive = "PartialEq" on the root.
    assert_eq!(w, w.clone());

    let c = crd_json::<cluster::Gizmo>();
    assert_eq!(c["spec"]["scope"], "Cluster");
    assert_eq!(c["spec"]["names"]["plural"], "gizmos");
}

#[test]
fn printer_columns_struct_and_json_forms() {
    let crd = crd_json::<full::WidgetRoot>();
    assert_eq!(
        version0(&crd)["additionalPrinterColumns"],
        json!([
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas", "description": "desired replicas", "priority": 0},
            {"name": "Seen", "type": "date", "jsonPath": ".status.lastSeen", "format": "date-time", "priority": 1}
        ])
    );
}

#[test]
fn selectable_fields() {
    let crd = crd_json::<full::WidgetRoot>();
    assert_eq!(version0(&crd)["selectableFields"], json!([{"jsonPath": ".spec.color"}]));
}

#[test]
fn status_and_scale_subresources() {
    let crd = crd_json::<full::WidgetRoot>();
    assert_eq!(
        version0(&crd)["subresources"],
        json!({"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
               "labelSelectorPath": ".status.selector"}})
    );
    let c = crd_json::<cluster::Gizmo>();
    assert_eq!(
        version0(&c)["subresources"]["scale"],
        json!({"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"})
    );
    // Status verbs follow the status type; genclient(readonly) leaves get/list/watch.
    assert!(full::WidgetRoot::VERBS.contains(&"update_status"));
    assert!(!full::WidgetRoot::VERBS.contains(&"delete_collection"));
    assert_eq!(cluster::Gizmo::VERBS, ["get", "list", "watch"]);
}

#[test]
fn labels_and_annotations_on_the_crd() {
    let crd = crd_json::<full::WidgetRoot>();
    assert_eq!(crd["metadata"]["labels"], json!({"example.com/team": "gadgets"}));
    assert_eq!(crd["metadata"]["annotations"], json!({"example.com/owner": "derive-tests"}));
}

#[test]
fn storage_served_deprecated() {
    let crd = crd_json::<full::WidgetRoot>();
    let v = version0(&crd);
    assert_eq!((v["storage"].clone(), v["served"].clone()), (json!(true), json!(true)));
    assert_eq!(v["deprecated"], true);
    assert_eq!(v["deprecationWarning"], "derive.example.com/v1beta1 Widget is deprecated; use v1");
    let c = crd_json::<cluster::Gizmo>();
    let v = version0(&c);
    assert_eq!((v["storage"].clone(), v["served"].clone()), (json!(false), json!(false)));
    assert_eq!(v["deprecated"], true);
    assert!(v.get("deprecationWarning").is_none());
}

#[test]
fn root_cel_rules_and_doc() {
    let crd = crd_json::<full::WidgetRoot>();
    let schema = &version0(&crd)["schema"]["openAPIV3Schema"];
    assert_eq!(
        schema["x-kubernetes-validations"],
        json!([{"rule": "self.spec.replicas <= 10"},
               {"rule": "self.spec.color != 'black'", "message": "black widgets are sold out"}])
    );
    assert_eq!(schema["description"], "A widget, made to order.");
    assert_eq!(schema["properties"]["spec"]["properties"]["replicas"]["description"], "Desired replicas.");
    assert_eq!(schema["properties"]["status"]["properties"]["replicas"]["description"], "Observed replicas.");
    // Without `doc`, kube-derive's default describes the root and the spec's
    // doc comment describes `spec`.
    let s = crd_json::<schema::Sprocket>();
    let root = &version0(&s)["schema"]["openAPIV3Schema"];
    assert_eq!(root["description"], "Auto-generated derived type for SprocketSpec via `CustomResource`");
    assert_eq!(root["properties"]["spec"]["description"], "A sprocket.");
}

fn sprocket_spec() -> Value {
    let crd = crd_json::<schema::Sprocket>();
    version0(&crd)["schema"]["openAPIV3Schema"]["properties"]["spec"].clone()
}

#[test]
fn range_length_and_regex_land_in_the_schema() {
    let p = &sprocket_spec()["properties"];
    assert_eq!((p["teeth"]["minimum"].as_f64(), p["teeth"]["maximum"].as_f64()), (Some(3.0), Some(100.0)));
    assert_eq!((p["tag"]["minLength"].clone(), p["tag"]["maxLength"].clone()), (json!(1), json!(16)));
    assert_eq!(p["part"]["pattern"], "^[A-Z]{2}-[0-9]+$");
}

#[test]
fn enums_and_optional_enums() {
    let p = &sprocket_spec()["properties"];
    assert_eq!(p["material"]["enum"], json!(["steel", "brass"]));
    assert_eq!(p["material"]["type"], "string");
    assert_eq!(p["finish"]["enum"], json!(["steel", "brass"]));
    assert_eq!(p["finish"]["nullable"], true);
}

#[test]
fn defaults() {
    let p = &sprocket_spec()["properties"];
    assert_eq!(p["size"]["default"], 10);
}

#[test]
fn field_level_cel() {
    let p = &sprocket_spec()["properties"];
    assert_eq!(
        p["pitch"]["x-kubernetes-validations"],
        json!([{"rule": "self % 2 == 0", "message": "pitch must be even"}])
    );
}

#[test]
fn list_and_map_types() {
    let p = &sprocket_spec()["properties"];
    assert_eq!(p["ports"]["x-kubernetes-list-type"], "map");
    assert_eq!(p["ports"]["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(p["tags"]["x-kubernetes-list-type"], "set");
    assert_eq!(p["selector"]["x-kubernetes-map-type"], "atomic");
}

#[test]
fn preserve_unknown_fields_int_or_string_and_embedded() {
    let p = &sprocket_spec()["properties"];
    assert_eq!(p["settings"]["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(p["target"]["x-kubernetes-int-or-string"], true);
    assert_eq!(p["fallback"]["x-kubernetes-int-or-string"], true);
    assert_eq!(p["template"]["x-kubernetes-embedded-resource"], true);
    assert_eq!(p["template"]["type"], "object");
}

#[test]
fn required_matches_serde() {
    let spec = sprocket_spec();
    let mut required: Vec<&str> = spec["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    required.sort_unstable();
    // Option, #[serde(default)] and default + skip_serializing_if are optional.
    assert_eq!(required, ["material", "part", "pitch", "tag", "target", "teeth"]);
}

#[test]
fn merged_crd_has_one_storage_version() {
    let merged = v1::Cog::merged_crd([v1::Cog::crd(), v2::Cog::crd()]).unwrap();
    let versions: Vec<(String, bool)> = merged.spec.versions.iter().map(|v| (v.name.clone(), v.storage)).collect();
    assert_eq!(versions, [("v1".to_string(), true), ("v2".to_string(), false)]);
    // kube's own merge works too when the storage version is named.
    let k = kube::core::crd::merge_crds(vec![v1::Cog::crd(), v2::Cog::crd()], "v1").unwrap();
    assert_eq!(k.spec.versions.len(), 2);
}

#[test]
fn merged_crd_refuses_two_storage_versions() {
    let err = v1::Cog::merged_crd([v1::Cog::crd(), v2_stored::Cog::crd()]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = err.to_string();
    assert!(err.contains(r#"versions ["v1", "v2"] are all storage versions"#), "{err}");
    assert!(err.contains("storage = false"), "{err}");
    let err = v2::Cog::merged_crd([v2::Cog::crd()]).unwrap_err().to_string();
    assert!(err.contains("none of the versions"), "{err}");
    let err = v1::Cog::merged_crd([v1::Cog::crd(), v1::Cog::crd()]).unwrap_err().to_string();
    assert!(err.contains("`v1` is given twice"), "{err}");
    let err = v1::Cog::merged_crd([v1::Cog::crd(), cluster::Gizmo::crd()]).unwrap_err().to_string();
    assert!(err.contains("mismatching"), "{err}");
}

/// The derive's own output does not depend on prelude names: a module that
/// defines its own `Option` and `Default` still compiles. (`Some` and `None`
/// are left out: the serde and schemars derives on the root type need them.)
mod hygiene {
    #![allow(dead_code, unreachable_pub)]
    use bot_derive::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    struct Option;
    trait Default {}

    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(
        group = "hygiene.example.com",
        version = "v1",
        kind = "Clean",
        namespaced,
        status = "CleanStatus",
        shortname = "cl",
        printcolumn(name = "N", type = "integer", json_path = ".spec.n")
    )]
    pub struct CleanSpec {
        pub n: i32,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct CleanStatus {
        pub ok: bool,
    }

    #[test]
    fn compiles_and_works_beside_shadowed_prelude_names() {
        use kube::CustomResourceExt;
        let c = Clean::new("x", CleanSpec { n: 1 });
        assert!(c.status.is_none());
        assert_eq!(Clean::crd().spec.names.short_names, std::option::Option::Some(vec!["cl".to_string()]));
    }
}
