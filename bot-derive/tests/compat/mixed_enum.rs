//! kube-derive 5.0.0 `tests/crd_mixed_enum_test.rs`: enum specs whose
//! schema kube's structural rewriter accepts, and those it refuses (the same
//! panic from `crd()` with either derive).

use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin! {
    /// This enum is invalid, as "plain" (string) variants are mixed with object variants
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "InvalidEnum1")]
    pub enum InvalidEnum1Spec {
        /// Unit variant (represented as string)
        A,
        /// Takes an [`u32`] (represented as object)
        B(u32),
    }

    /// This enum is invalid, as "plain" (string) variants are mixed with object variants
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "InvalidEnum2")]
    pub enum InvalidEnum2Spec {
        /// Unit variant (represented as string)
        A,
        /// Takes a single field (represented as object)
        B { inner: u32 },
    }

    /// This enum is valid, as all variants are objects
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "ValidEnum3")]
    pub enum ValidEnum3Spec {
        /// Takes an [`String`] (represented as object)
        A(String),
        /// Takes an [`u32`] (represented as object)
        B(u32),
    }

    // This enum intentionally has no documentation to increase test coverage!
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "ValidEnum4")]
    pub enum ValidEnum4Spec {
        A(String),
        B { inner: u32 },
    }

    /// This enum is invalid, as the types of the `inner` fields differ.
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "InvalidEnum5")]
    #[serde(untagged)]
    pub enum InvalidEnum5Spec {
        A { inner: String },
        B { inner: u32 },
    }

    /// This enum is valid, as the `inner` fields are the same.
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "ValidEnum6")]
    #[serde(untagged)]
    pub enum ValidEnum6Spec {
        A {
            /// The inner fields need to have the same schema (so also same description)
            inner: u32,
            /// An additional field
            additional: String,
        },
        B {
            /// The inner fields need to have the same schema (so also same description)
            inner: u32,
        },
    }

    /// This enum is invalid, as the typed of `inner` fields are the same, *but* the description (which
    /// is part of the schema differs).
    #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "InvalidEnum7")]
    #[serde(untagged)]
    pub enum InvalidEnum7Spec {
        A {
            /// The inner fields need to have the same schema (so also same description)
            inner: u32,
            additional: String,
        },
        B {
            /// This description differs!
            inner: u32,
        },
    }
}

/// The panic message of `f`, which must panic.
fn panic_of(f: fn()) -> String {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let err = std::panic::catch_unwind(f).expect_err("crd() must panic");
    std::panic::set_hook(hook);
    err.downcast_ref::<String>().cloned().or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string())).unwrap()
}

const MIXED: &str = "Enum variant set [String(\"A\")] has type Single(String) but was already defined as Some(Single(Object)). The instance type must be equal for all subschema variants.";

#[test]
fn invalid_enum_1() {
    assert!(panic_of(|| drop(bot_side::InvalidEnum1::crd())).contains(MIXED));
    assert_eq!(panic_of(|| drop(bot_side::InvalidEnum1::crd())), panic_of(|| drop(kube_side::InvalidEnum1::crd())));
}

#[test]
fn invalid_enum_2() {
    assert!(panic_of(|| drop(bot_side::InvalidEnum2::crd())).contains(MIXED));
    assert_eq!(panic_of(|| drop(bot_side::InvalidEnum2::crd())), panic_of(|| drop(kube_side::InvalidEnum2::crd())));
}

#[test]
fn valid_enum_3() {
    assert_eq!(assert_same_crd!(self::ValidEnum3), expected!("mixed_enum.valid_enum_3"));
}

#[test]
fn valid_enum_4() {
    assert_eq!(assert_same_crd!(self::ValidEnum4), expected!("mixed_enum.valid_enum_4"));
}

#[test]
fn invalid_enum_5() {
    let msg = panic_of(|| drop(bot_side::InvalidEnum5::crd()));
    assert!(msg.starts_with("Property \"inner\" has the schema"), "{msg}");
    assert!(msg.ends_with("The schemas for a property used in multiple subschemas must be identical"), "{msg}");
    assert_eq!(msg, panic_of(|| drop(kube_side::InvalidEnum5::crd())));
}

#[test]
fn valid_enum_6() {
    assert_eq!(assert_same_crd!(self::ValidEnum6), expected!("mixed_enum.valid_enum_6"));
}

#[test]
fn invalid_enum_7() {
    let msg = panic_of(|| drop(bot_side::InvalidEnum7::crd()));
    assert!(msg.contains("This description differs!"), "{msg}");
    assert!(msg.ends_with("The schemas for a property used in multiple subschemas must be identical"), "{msg}");
    assert_eq!(msg, panic_of(|| drop(kube_side::InvalidEnum7::crd())));
}

#[test]
fn struct_with_enum_1() {
    mod bot {
        use super::*;
        use bot_derive::CustomResource;
        #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
        #[kube(group = "clux.dev", version = "v1", kind = "Foo")]
        pub struct FooSpec {
            foo: bot_side::InvalidEnum1,
        }
    }
    mod kube_twin {
        use super::*;
        use kube::CustomResource;
        #[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
        #[kube(group = "clux.dev", version = "v1", kind = "Foo")]
        pub struct FooSpec {
            foo: kube_side::InvalidEnum1,
        }
    }
    assert!(panic_of(|| drop(bot::Foo::crd())).contains(MIXED));
    assert_eq!(panic_of(|| drop(bot::Foo::crd())), panic_of(|| drop(kube_twin::Foo::crd())));
}
