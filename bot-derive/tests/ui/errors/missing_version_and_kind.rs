// Every required key that is missing is reported.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com")]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
