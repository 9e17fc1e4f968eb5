//! kube-derive 5.0.0 `tests/crd_enum_test.rs`: an enum spec.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin! {
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "FooEnum")]
    #[serde(rename_all = "camelCase")]
    pub enum FooEnumSpec {
        /// First variant with an int
        VariantOne { int: i32 },
        /// Second variant with an String
        VariantTwo { str: String },
        /// Third variant which doesn't has an attribute
        VariantThree {},
    }
}

#[test]
fn test_crd_name() {
    use kube::core::CustomResourceExt;
    assert_eq!("fooenums.clux.dev", bot_side::FooEnum::crd_name());
}

#[test]
fn test_serialized_matches_expected() {
    use bot_side::{FooEnum, FooEnumSpec};
    assert_eq!(
        serde_json::to_value(FooEnum::new("bar", FooEnumSpec::VariantOne { int: 42 })).unwrap(),
        expected!("enum.test_serialized_matches_expected")
    );
    assert_eq!(
        serde_json::to_value(FooEnum::new("bar", FooEnumSpec::VariantThree {})).unwrap(),
        expected!("enum.test_serialized_matches_expected.1")
    );
    assert_eq!(
        serde_json::to_value(kube_side::FooEnum::new("bar", kube_side::FooEnumSpec::VariantThree {})).unwrap(),
        expected!("enum.test_serialized_matches_expected.1")
    );
}

#[test]
fn test_crd_schema_matches_expected() {
    let crd = assert_same_crd!(self::FooEnum);
    assert_eq!(crd, expected!("enum.test_crd_schema_matches_expected"));
}
