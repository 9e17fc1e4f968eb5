// A column reading .status on a resource without status.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", printcolumn(name = "Ready", type = "string", json_path = ".status.ready"))]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
