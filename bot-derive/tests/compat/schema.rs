//! kube-derive 5.0.0 `tests/crd_schema_test.rs`.

use std::collections::{HashMap, HashSet};

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::twin::{TimestampLike as Timestamp, timestamp_zero};

twin! {
    // See `crd_derive_schema` example for how the schema generated from this struct affects defaulting and validation.
    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, KubeSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Foo",
        category = "clux",
        namespaced,
        doc = "Custom resource representing a Foo",
        derive = "PartialEq",
        shortname = "fo",
        shortname = "f",
        served = false,
        storage = false,
        deprecated = "my warning",
        selectable = ".spec.nonNullable",
        selectable = ".spec.nullable",
        annotation("clux.dev", "cluxingv1"),
        annotation("clux.dev/firewall", "enabled"),
        label("clux.dev", "cluxingv1"),
        label("clux.dev/persistence", "disabled"),
        validation = "self.metadata.name == 'singleton'",
        status = "Status",
        printcolumn(json_path = ".spec.name", name = "Spec", type_ = "string"),
        scale(
            spec_replicas_path = ".spec.replicas",
            status_replicas_path = ".status.replicas",
            label_selector_path = ".status.labelSelector"
        )
    )]
    #[x_kube(validation = "has(self.nonNullable)")]
    #[serde(rename_all = "camelCase")]
    pub struct FooSpec {
        pub non_nullable: String,

        #[serde(default = "default_value")]
        pub non_nullable_with_default: String,

        #[serde(skip_serializing_if = "Option::is_none")]
        pub nullable_skipped: Option<String>,
        pub nullable: Option<String>,

        #[serde(skip_serializing_if = "Option::is_none")]
        #[serde(default = "default_nullable")]
        pub nullable_skipped_with_default: Option<String>,

        #[serde(default = "default_nullable")]
        pub nullable_with_default: Option<String>,

        pub timestamp: Timestamp,

        /// This is a complex enum with a description
        #[x_kube(validation = "!has(self.variantOne) || self.variantOne.int > 22")]
        pub complex_enum: ComplexEnum,

        /// This is a untagged enum with a description
        pub untagged_enum_person: UntaggedEnumPerson,

        #[validate(length(min = 1))]
        pub my_list: Vec<String>,

        pub set: HashSet<String>,

        #[serde(default = "FooSpec::default_value")]
        pub associated_default: bool,

        #[x_kube(merge_strategy = ListMerge::Set)]
        pub x_kubernetes_set: Vec<String>,

        pub optional_enum: Option<Gender>,

        /// Preferred gender
        pub optional_enum_with_doc: Option<Gender>,
    }

    impl FooSpec {
        fn default_value() -> bool {
            true
        }
    }

    #[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "Flattening")]
    pub struct FlatteningSpec {
        pub foo: String,
        #[serde(flatten)]
        pub arbitrary: HashMap<String, serde_json::Value>,
    }

    // Test for Option<IntOrString> nullable handling (issue #1869)
    #[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "IntOrStringTest")]
    pub struct IntOrStringTestSpec {
        pub required_int_or_string: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
        pub optional_int_or_string: Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
    }

    // Test for deny_unknown_fields handling (issue #1828)
    #[derive(CustomResource, Deserialize, Serialize, Clone, Debug, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "DenyUnknown")]
    pub struct DenyUnknownSpec {
        pub subitem: SubItemDenyUnknown,
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    replicas: usize,
    label_selector: String,
}

fn default_value() -> String {
    "default_value".into()
}

fn default_nullable() -> Option<String> {
    Some("default_nullable".into())
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ComplexEnum {
    /// First variant with an int
    VariantOne { int: i32 },
    /// Second variant with an String
    VariantTwo { str: String },
    /// Third variant which doesn't has an attribute
    VariantThree {},
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[serde(untagged)]
pub enum UntaggedEnumPerson {
    GenderAndAge(GenderAndAge),
    GenderAndDateOfBirth(GenderAndDateOfBirth),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenderAndAge {
    /// Gender of the person
    gender: Gender,
    /// Age of the person in years
    age: i32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenderAndDateOfBirth {
    /// Gender of the person
    gender: Gender,
    /// Date of birth of the person as ISO 8601 date
    date_of_birth: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub enum Gender {
    Female,
    Male,
    /// This variant has a comment!
    Other,
}

#[derive(Deserialize, Serialize, Clone, Debug, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubItemDenyUnknown {
    pub one: String,
    pub two: bool,
    pub three: i32,
}

#[test]
fn test_crd_name() {
    use kube::core::CustomResourceExt;
    assert_eq!("foos.clux.dev", bot_side::Foo::crd_name());
    assert_eq!(kube_side::Foo::crd_name(), bot_side::Foo::crd_name());
}

#[test]
fn test_shortnames() {
    use kube::core::CustomResourceExt;
    assert_eq!(&["fo", "f"], bot_side::Foo::shortnames());
}

macro_rules! foo_spec {
    ($side:ident) => {
        $side::FooSpec {
            non_nullable: "asdf".to_string(),
            non_nullable_with_default: "asdf".to_string(),
            nullable_skipped: None,
            nullable: None,
            nullable_skipped_with_default: None,
            nullable_with_default: None,
            timestamp: timestamp_zero(),
            complex_enum: ComplexEnum::VariantOne { int: 23 },
            untagged_enum_person: UntaggedEnumPerson::GenderAndAge(GenderAndAge { age: 42, gender: Gender::Male }),
            associated_default: false,
            my_list: vec!["".into()],
            set: HashSet::from(["foo".to_owned()]),
            x_kubernetes_set: vec![],
            optional_enum: Some(Gender::Other),
            optional_enum_with_doc: Some(Gender::Other),
        }
    };
}

#[test]
fn test_serialized_matches_expected() {
    let bot = serde_json::to_value(bot_side::Foo::new("bar", foo_spec!(bot_side))).unwrap();
    let kube = serde_json::to_value(kube_side::Foo::new("bar", foo_spec!(kube_side))).unwrap();
    assert_eq!(bot, expected!("schema.test_serialized_matches_expected"));
    assert_eq!(bot, kube);
}

#[test]
fn test_crd_schema_matches_expected() {
    let crd = assert_same_crd!(self::Foo);
    assert_eq!(crd, expected!("schema.test_crd_schema_matches_expected"));
}

#[test]
fn flattening() {
    let crd = assert_same_crd!(self::Flattening);
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], true);
    assert!(spec.get("additionalProperties").is_none());
}

#[test]
fn deny_unknown_fields() {
    let crd = assert_same_crd!(self::DenyUnknown);
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert!(spec["properties"]["subitem"].get("additionalProperties").is_none());
}

#[test]
fn test_optional_int_or_string_nullable() {
    let crd = assert_same_crd!(self::IntOrStringTest);
    let properties = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    let required = &properties["required_int_or_string"];
    assert_eq!(required["x-kubernetes-int-or-string"], true);
    assert!(required.get("nullable").is_none());
    let optional = &properties["optional_int_or_string"];
    assert_eq!(optional["x-kubernetes-int-or-string"], true);
    assert_eq!(optional["nullable"], true);
}
