// The version must look like v1, v1beta1, v1alpha1.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "1.0", kind = "Foo")]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
