//! kube's `crd_derive*` examples (kube 5): `crd_derive`, `crd_derive_schema`,
//! `crd_derive_custom_schema`, `crd_derive_no_schema`, `crd_derive_multi`.
//! (`crd_derive_cel` needs kube's `cel` feature; see `docs/migration.md`.)

use std::{borrow::Cow, marker::PhantomData};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResourceExt, KubeSchema, Resource};
use schemars::{JsonSchema, json_schema};
use serde::{Deserialize, Serialize};

use crate::twin::json_includes;

/// `crd_derive.rs`: root, plural, derive Default, attr, scale, printcolumn,
/// `selectable = "spec.name"`.
pub mod crd_derive {
    use super::*;

    twin! {
        /// Our spec for Foo
        ///
        /// A struct with our chosen Kind will be created for us, using the following kube attrs
        #[derive(CustomResource, Serialize, Deserialize, Default, Debug, PartialEq, Eq, Clone, JsonSchema)]
        #[kube(
            group = "clux.dev",
            version = "v1",
            kind = "Foo",
            plural = "fooz",
            root = "FooCrd",
            namespaced,
            doc = "Custom resource representing a Foo",
            status = "FooStatus",
            derive = "PartialEq",
            derive = "Default",
            attr = "allow(deprecated)",
            attr = "cfg_attr(docsrs,doc(cfg(feature = \"latest\")))",
            shortname = "f",
            scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"),
            printcolumn(name = "Spec", type_ = "string", description = "name of foo", json_path = ".spec.name"),
            selectable = "spec.name"
        )]
        pub struct MyFoo {
            pub name: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub info: Option<String>,
        }
    }

    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
    pub struct FooStatus {
        pub is_bad: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schemars(schema_with = "conditions")]
        pub conditions: Vec<Condition>,
    }

    fn conditions(_: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
        json_schema!({
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["type"],
            "items": {
                "type": "object",
                "properties": {
                    "lastTransitionTime": { "format": "date-time", "type": "string" },
                    "message": { "type": "string" },
                    "observedGeneration": { "type": "integer", "format": "int64", "default": 0 },
                    "reason": { "type": "string" },
                    "status": { "type": "string" },
                    "type": { "type": "string" }
                },
                "required": ["lastTransitionTime", "message", "reason", "status", "type"],
            },
        })
    }

    use bot_side::{FooCrd, MyFoo};

    #[test]
    fn verify_crd() {
        let crd = assert_same_crd!(self::FooCrd);
        assert!(json_includes(&expected!("crd_derive.verify_crd"), &crd), "{crd:#}");
        let mut foo = FooCrd::new("hi", MyFoo { name: "hi".into(), info: None });
        foo.status = Some(FooStatus { is_bad: true, conditions: vec![] });
        assert!(kube::core::object::HasStatus::status(&foo).is_some());
    }

    fn assert_impl_resource_default<T: Resource + Default>() {}
    fn assert_impl_json_schema<T: JsonSchema>() {}

    #[test]
    fn verify_resource() {
        assert_eq!(FooCrd::kind(&()), "Foo");
        assert_eq!(FooCrd::group(&()), "clux.dev");
        assert_eq!(FooCrd::version(&()), "v1");
        assert_eq!(FooCrd::api_version(&()), "clux.dev/v1");
        assert_impl_resource_default::<FooCrd>();
        assert_impl_json_schema::<MyFoo>();
    }

    #[test]
    fn verify_url_gen() {
        assert_eq!(FooCrd::url_path(&(), Some("myns")), "/apis/clux.dev/v1/namespaces/myns/fooz");
    }

    #[test]
    fn verify_default() {
        // kube's example compares serde_saphyr YAML; the same document as JSON.
        let fdef = FooCrd::default();
        assert_eq!(
            serde_json::to_value(&fdef).unwrap(),
            serde_json::json!({"apiVersion": "clux.dev/v1", "kind": "Foo", "metadata": {}, "spec": {"name": ""}})
        );
        assert_eq!(serde_json::to_value(&fdef).unwrap(), serde_json::to_value(kube_side::FooCrd::default()).unwrap());
    }
}

/// `crd_derive_schema.rs`: `KubeSchema` with `Rule` expressions on fields.
pub mod crd_derive_schema {
    use super::*;

    twin! {
        #[derive(CustomResource, KubeSchema, Serialize, Deserialize, Default, Debug, PartialEq, Eq, Clone)]
        #[kube(
            group = "clux.dev",
            version = "v1",
            kind = "Foo",
            namespaced,
            derive = "PartialEq",
            derive = "Default",
            validation = "self.metadata.name != 'forbidden'"
        )]
        #[serde(rename_all = "camelCase")]
        #[x_kube(validation = "self.nonNullable == oldSelf.nonNullable")]
        pub struct FooSpec {
            non_nullable: String,
            #[serde(default = "default_value")]
            non_nullable_with_default: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            nullable_skipped: Option<String>,
            nullable: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            #[serde(default = "default_nullable")]
            nullable_skipped_with_default: Option<String>,
            #[serde(default = "default_nullable")]
            nullable_with_default: Option<String>,
            /// Default listable field
            #[serde(default)]
            default_listable: Vec<u32>,
            #[serde(default)]
            #[schemars(schema_with = "set_listable_schema")]
            set_listable: Vec<u32>,
            #[serde(default = "default_legal")]
            #[x_kube(
                validation = Rule::new("self != 'illegal'").message(Message::Expression("'string cannot be illegal'".into())).reason(Reason::FieldValueForbidden),
                validation = Rule::new("self != 'not legal'").reason(Reason::FieldValueInvalid),
            )]
            cel_validated: Option<String>,
            /// Immutable field that uses optionalOldSelf
            #[serde(default)]
            #[x_kube(
                validation = Rule::new("oldSelf.optMap(o, o == self).orValue(true)").optional_old_self(true).message("Immutable after creation")
            )]
            immutable: Option<String>,
            #[x_kube(validation = Rule::new("self == oldSelf").message("is immutable"))]
            foo_sub_spec: Option<FooSubSpec>,
            #[serde(default = "FooSpec::default_value")]
            associated_default: bool,
        }

        impl FooSpec {
            fn default_value() -> bool {
                true
            }
        }
    }

    #[derive(KubeSchema, Serialize, Deserialize, Default, Debug, PartialEq, Eq, Clone)]
    pub struct FooSubSpec {
        /// Heterogenous CEL rule set
        #[x_kube(validation = "self != 'not legal'", validation = Rule::new("self != 'not that'"))]
        #[x_kube(validation = ("self != 'also not that'", "some pretty good reason"))]
        field: String,
        other: Option<String>,
    }

    fn set_listable_schema(_: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
        json_schema!({
            "type": "array",
            "items": {"format": "u32", "minimum": 0, "type": "integer"},
            "x-kubernetes-list-type": "set"
        })
    }

    fn default_value() -> String {
        "default_value".into()
    }

    fn default_legal() -> Option<String> {
        Some("legal".into())
    }

    fn default_nullable() -> Option<String> {
        Some("default_nullable".into())
    }

    #[test]
    fn crd_is_kube_derives() {
        let crd = assert_same_crd!(self::Foo);
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(
            spec["properties"]["celValidated"]["x-kubernetes-validations"][0],
            serde_json::json!({"rule": "self != 'illegal'", "messageExpression": "'string cannot be illegal'", "reason": "FieldValueForbidden"})
        );
    }
}

/// `crd_derive_custom_schema.rs`: `schema = "manual"`, `JsonSchema` by hand.
pub mod crd_derive_custom_schema {
    use super::*;

    twin! {
        /// CustomResource with manually implemented `JsonSchema`
        #[derive(CustomResource, Serialize, Deserialize, Debug, Clone)]
        #[kube(group = "clux.dev", version = "v1", kind = "Bar", namespaced, schema = "manual")]
        pub struct MyBar {
            pub bars: u32,
        }

        impl JsonSchema for Bar {
            fn schema_name() -> Cow<'static, str> {
                "Bar".into()
            }

            fn json_schema(__gen: &mut schemars::generate::SchemaGenerator) -> schemars::Schema {
                json_schema!({
                    "properties": {
                        "spec": {
                            "properties": {"bars": {"type": "integer"}},
                            "required": ["bars"],
                            "type": "object"
                        }
                    },
                    "required": ["spec"],
                    "title": "Bar"
                })
            }
        }
    }

    fn assert_impl<T: Resource + JsonSchema>() {}

    #[test]
    fn verify_bar_is_a_custom_resource() {
        use bot_side::{Bar, MyBar};
        assert_eq!(Bar::kind(&()), "Bar");
        let bar = Bar::new("five", MyBar { bars: 5 });
        assert_eq!(bar.spec.bars, 5);
        assert_impl::<Bar>();
        let crd = assert_same_crd!(self::Bar);
        assert!(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].is_object());
    }
}

/// `crd_derive_no_schema.rs`: `schema = "disabled"`, no `JsonSchema` at all.
pub mod crd_derive_no_schema {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceDefinition, CustomResourceValidation, JSONSchemaProps,
    };

    use super::*;

    twin! {
        /// CustomResource with manually implemented schema
        #[derive(CustomResource, Serialize, Deserialize, Debug, Clone)]
        #[kube(group = "clux.dev", version = "v1", kind = "Bar", namespaced, schema = "disabled")]
        pub struct MyBar {
            pub bars: u32,
        }

        impl Bar {
            pub fn crd_with_manual_schema() -> CustomResourceDefinition {
                let schema: JSONSchemaProps = serde_yaml::from_str(MANUAL_SCHEMA).expect("invalid schema");
                let mut crd = <Self as CustomResourceExt>::crd();
                crd.spec.versions.iter_mut().for_each(|v| {
                    v.schema = Some(CustomResourceValidation { open_api_v3_schema: Some(schema.clone()) })
                });
                crd
            }
        }
    }

    const MANUAL_SCHEMA: &str = r#"
type: object
properties:
  spec:
    type: object
    properties:
      bars:
        type: int
    required:
    - bars
"#;

    /// `assert_not_impl_any!` without static_assertions: an inherent method
    /// (bounded) wins over the trait method on `&Probe` when the bound holds.
    struct Probe<T>(PhantomData<T>);
    trait NotJsonSchema {
        fn is_json_schema(&self) -> bool {
            false
        }
    }
    impl<T> NotJsonSchema for &Probe<T> {}
    impl<T: JsonSchema> Probe<T> {
        fn is_json_schema(&self) -> bool {
            true
        }
    }

    #[test]
    fn verify_bar_is_a_custom_resource() {
        use bot_side::{Bar, MyBar};
        assert_eq!(Bar::kind(&()), "Bar");
        let bar = Bar::new("five", MyBar { bars: 5 });
        assert_eq!(bar.spec.bars, 5);
        assert!(!(&Probe::<MyBar>(PhantomData)).is_json_schema());
        assert!(!(&Probe::<Bar>(PhantomData)).is_json_schema());
        assert!(Probe::<u32>(PhantomData).is_json_schema());
        let crd = assert_same_crd!(self::Bar);
        assert!(crd["spec"]["versions"][0]["schema"].get("openAPIV3Schema").is_none());
        for v in Bar::crd_with_manual_schema().spec.versions {
            assert!(v.schema.unwrap().open_api_v3_schema.is_some());
        }
    }
}

/// `crd_derive_multi.rs`: two versions of one kind, the status type of v2
/// named through v1's module.
pub mod crd_derive_multi {
    use super::*;

    pub mod v1 {
        use super::*;
        // spec that is forwards compatible with v2 (can upgrade by truncating)
        twin! {
            #[derive(CustomResource, Serialize, Deserialize, Default, Debug, Clone, JsonSchema)]
            #[kube(group = "kube.rs", version = "v1", kind = "ManyDerive", status = "ManyDeriveStatus", namespaced)]
            pub struct ManyDeriveSpec {
                pub name: String,
                pub oldprop: u32,
            }
        }
        #[derive(Serialize, Deserialize, Default, Debug, Clone, JsonSchema)]
        pub struct ManyDeriveStatus {
            pub condition: Option<bool>,
        }
    }

    pub mod v2 {
        use super::*;
        // spec that is NOT backwards compatible with v1 (cannot retrieve oldprop if truncated)
        twin! {
            #[derive(CustomResource, Serialize, Deserialize, Default, Debug, Clone, JsonSchema)]
            #[kube(
                group = "kube.rs",
                version = "v2",
                kind = "ManyDerive",
                namespaced,
                status = "v1::ManyDeriveStatus" // cross-referencing from v1 module
            )]
            pub struct ManyDeriveSpec {
                pub name: String,
                pub extra: Option<String>,
            }
        }
    }

    #[test]
    fn merged_crds_are_kube_derives() {
        assert_same_crd!(v1::ManyDerive);
        assert_same_crd!(v2::ManyDerive);
        let merge = |a, b| serde_yaml::to_string(&kube::core::crd::merge_crds(vec![a, b], "v1").unwrap()).unwrap();
        assert_eq!(
            merge(v1::bot_side::ManyDerive::crd(), v2::bot_side::ManyDerive::crd()),
            merge(v1::kube_side::ManyDerive::crd(), v2::kube_side::ManyDerive::crd())
        );
    }
}
