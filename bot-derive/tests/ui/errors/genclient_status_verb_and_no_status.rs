// A status verb together with no_status.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", status = "FooStatus")]
#[genclient(no_status, only_verbs(get, apply_status))]
pub struct FooSpec {
    pub replicas: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FooStatus {
    pub replicas: i32,
}

fn main() {}
