//! kube-derive 5.0.0 `tests/typed_subresource.rs`: the struct and JSON forms
//! of `printcolumn` and `scale` give the same CRD.
//!
//! The spec has no `name` nor `replicas` field, so bot-derive warns about
//! `.spec.name` and `.spec.replicas` (allowed in `main.rs`); the CRD is the
//! same as kube-derive's.

use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin! {
    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Foo",
        status = "Status",
        printcolumn(json_path = ".spec.name", name = "Spec", type_ = "string"),
        scale(
            spec_replicas_path = ".spec.replicas",
            status_replicas_path = ".status.replicas",
            label_selector_path = ".spec.labelSelector"
        )
    )]
    pub struct FooSpec {}

    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Compat",
        printcolumn = r#"{"jsonPath": ".spec.name", "name": "Spec", "type": "string"}"#,
        status = "Status",
        scale = r#"{"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".spec.labelSelector"}"#
    )]
    pub struct CompatSpec {}
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    replicas: usize,
    label_selector: String,
}

use bot_side::{Compat, Foo};

#[test]
fn test_printcolumns_backwards_compatible() {
    assert_same_crd!(self::Foo);
    assert_same_crd!(self::Compat);
    assert_eq!(
        Compat::crd().spec.versions[0].additional_printer_columns,
        Foo::crd().spec.versions[0].additional_printer_columns
    );
}

#[test]
fn test_scale_backwards_compatible() {
    assert_eq!(
        Compat::crd().spec.versions[0].subresources.as_ref().map(|sr| sr.scale.clone()),
        Foo::crd().spec.versions[0].subresources.as_ref().map(|sr| sr.scale.clone())
    );
}
