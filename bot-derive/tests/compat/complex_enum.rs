//! kube-derive 5.0.0 `tests/crd_complex_enum_test.rs`: specs with unit,
//! complex, optional, untagged and flattened enums.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A very simple enum with unit variants
#[derive(Serialize, Deserialize, Debug, Clone, JsonSchema)]
pub enum NormalEnum {
    /// First variant
    A,
    /// Second variant
    B,

    // No doc-comments on these variants
    C,
    D,
}

#[derive(Serialize, Deserialize, Debug, Clone, JsonSchema)]
pub enum NormalEnumWithoutDescriptions {
    A,
    B,
    C,
    D,
}

/// A complex enum with tuple and struct variants
#[derive(Serialize, Deserialize, Debug, Clone, JsonSchema)]
pub enum ComplexEnum {
    /// Override documentation on the Normal variant
    Normal(NormalEnum),

    /// Documentation on the Hardcore variant
    Hardcore { hard: String, core: NormalEnum, without_description: NormalEnumWithoutDescriptions },
}

/// An untagged enum with a nested enum inside
#[derive(Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub enum UntaggedEnum {
    /// Used in case the `one` field of type [`u32`] is present
    ///
    /// This should not appear in the schema because the "variant" disappears
    /// and this comment cannot pertain to all fields within the struct variant.
    A { one: String },
    /// Used in case the `two` field of type [`NormalEnum`] is present
    ///
    /// This should not appear in the schema because the "variant" disappears
    /// and this comment cannot pertain to all fields within the struct variant.
    B { two: NormalEnum, three: String },
    /// Used in case no fields are present
    ///
    /// This should not appear in the schema because the "variant" disappears
    /// and this comment cannot pertain to all fields within the struct variant.
    C {},
}

/// Put a [`UntaggedEnum`] behind `#[serde(flatten)]`
#[derive(Serialize, Deserialize, Debug, Clone, JsonSchema)]
pub struct FlattenedUntaggedEnum {
    #[serde(flatten)]
    inner: UntaggedEnum,
}

twin! {
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "NormalEnumTest")]
    pub struct NormalEnumTestSpec {
        foo: NormalEnum,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "OptionalEnumTest")]
    pub struct OptionalEnumTestSpec {
        foo: Option<NormalEnum>,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "NormalEnumWithoutDescriptionsTest")]
    pub struct NormalEnumWithoutDescriptionsTestSpec {
        foo: NormalEnumWithoutDescriptions,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "ComplexEnumTest")]
    pub struct ComplexEnumTestSpec {
        foo: ComplexEnum,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "OptionalComplexEnumTest")]
    pub struct OptionalComplexEnumTestSpec {
        /// Optional complex enum field
        // When this doc-comment is missing, we suggest using the doc-comment of the
        // inner type - though that is debatable
        foo: Option<ComplexEnum>,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "FlattenedUntaggedEnumTest")]
    pub struct FlattenedUntaggedEnumTestSpec {
        foo: FlattenedUntaggedEnum,
    }
}

#[test]
fn complex_enum() {
    assert_eq!(assert_same_crd!(self::ComplexEnumTest), expected!("complex_enum.complex_enum"));
}

#[test]
fn normal_enum() {
    assert_eq!(assert_same_crd!(self::NormalEnumTest), expected!("complex_enum.normal_enum"));
}

#[test]
fn optional_enum() {
    assert_eq!(assert_same_crd!(self::OptionalEnumTest), expected!("complex_enum.optional_enum"));
}

#[test]
fn normal_enum_without_descriptions() {
    assert_eq!(
        assert_same_crd!(self::NormalEnumWithoutDescriptionsTest),
        expected!("complex_enum.normal_enum_without_descriptions")
    );
}

#[test]
fn optional_complex_enum() {
    assert_eq!(assert_same_crd!(self::OptionalComplexEnumTest), expected!("complex_enum.optional_complex_enum"));
}

#[test]
fn flattened_untagged_enum() {
    assert_eq!(assert_same_crd!(self::FlattenedUntaggedEnumTest), expected!("complex_enum.flattened_untagged_enum"));
}
