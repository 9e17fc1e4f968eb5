// priority is an integer.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", printcolumn(name = "Replicas", type = "integer", json_path = ".spec.replicas", priority = "1"))]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
