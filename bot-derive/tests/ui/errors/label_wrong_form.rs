// label takes two strings.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", label = "app=foo")]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
