//! kube-derive 5.0.0 `tests/crd_no_spec_test.rs`: `#[kube(no_spec)]`
//! flattens the spec onto the root, on the wire and in the schema.

use kube::{CustomResourceExt, KubeSchema, core::object::HasSpec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin! {
    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
    #[kube(group = "clux.dev", version = "v1", kind = "Bucket", namespaced, no_spec, derive = "PartialEq")]
    pub struct BucketFields {
        pub name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub region: Option<String>,
    }

    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, JsonSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Crate",
        namespaced,
        no_spec,
        status = "CrateStatus",
        derive = "PartialEq"
    )]
    pub struct CrateFields {
        pub label: String,
    }

    // `KubeSchema` is a separate schema derive from `JsonSchema`, so cover the flattened path there too.
    #[derive(CustomResource, Serialize, Deserialize, Debug, PartialEq, Clone, KubeSchema)]
    #[kube(
        group = "clux.dev",
        version = "v1",
        kind = "Shard",
        namespaced,
        no_spec,
        derive = "PartialEq",
        validation = "has(self.replicas)"
    )]
    pub struct ShardFields {
        #[x_kube(validation = Rule::new("self >= 1").message("at least one replica"))]
        pub replicas: i32,
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Default, JsonSchema)]
pub struct CrateStatus {
    shipped: bool,
}

use bot_side::{Bucket, BucketFields, Crate, CrateFields, Shard};

#[test]
fn no_spec_serializes_fields_at_the_root() {
    let bucket = Bucket::new("blobs", BucketFields { name: "blobs".into(), region: Some("eu-west-1".into()) });
    assert_eq!(serde_json::to_value(&bucket).unwrap(), expected!("no_spec.no_spec_serializes_fields_at_the_root"));
    let kube = kube_side::Bucket::new(
        "blobs",
        kube_side::BucketFields { name: "blobs".into(), region: Some("eu-west-1".into()) },
    );
    assert_eq!(serde_json::to_value(&bucket).unwrap(), serde_json::to_value(&kube).unwrap());
}

#[test]
fn no_spec_omits_skipped_fields() {
    let bucket = Bucket::new("blobs", BucketFields { name: "blobs".into(), region: None });
    let value = serde_json::to_value(&bucket).unwrap();
    assert!(value.get("region").is_none(), "got {value}");
}

#[test]
fn no_spec_round_trips() {
    let bucket = Bucket::new("blobs", BucketFields { name: "blobs".into(), region: Some("eu-west-1".into()) });
    let json = serde_json::to_string(&bucket).unwrap();
    let back: Bucket = serde_json::from_str(&json).unwrap();
    assert_eq!(back, bucket);
    // the derived struct is still reachable as the spec
    assert_eq!(back.spec().name, "blobs");
}

#[test]
fn no_spec_status_stays_a_sibling_of_the_flattened_fields() {
    let mut krate = Crate::new("kube", CrateFields { label: "rust".into() });
    assert_eq!(
        serde_json::to_value(&krate).unwrap(),
        expected!("no_spec.no_spec_status_stays_a_sibling_of_the_flattened_fields")
    );
    krate.status = Some(CrateStatus { shipped: true });
    assert_eq!(
        serde_json::to_value(&krate).unwrap(),
        expected!("no_spec.no_spec_status_stays_a_sibling_of_the_flattened_fields.1")
    );
    let back: Crate = serde_json::from_value(serde_json::to_value(&krate).unwrap()).unwrap();
    assert_eq!(back, krate);
}

#[test]
fn no_spec_hoists_properties_into_the_crd_schema() {
    let crd = assert_same_crd!(self::Bucket);
    assert_same_crd!(self::Crate);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let props = schema["properties"].as_object().unwrap();
    assert!(props.contains_key("name") && props.contains_key("region") && !props.contains_key("spec"), "got {props:?}");
    assert_eq!(schema["required"], expected!("no_spec.no_spec_hoists_properties_into_the_crd_schema"));
}

#[test]
fn no_spec_hoists_validations_onto_the_root_schema() {
    let crd = assert_same_crd!(self::Shard);
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert_eq!(
        schema["x-kubernetes-validations"],
        expected!("no_spec.no_spec_hoists_validations_onto_the_root_schema")
    );
    assert_eq!(
        schema.pointer("/properties/replicas/x-kubernetes-validations").unwrap(),
        &expected!("no_spec.no_spec_hoists_validations_onto_the_root_schema.1")
    );
    let _ = Shard::crd();
}
