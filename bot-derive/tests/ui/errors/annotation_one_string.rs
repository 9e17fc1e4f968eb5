// annotation takes two strings.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", annotation("example.com/owner"))]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
