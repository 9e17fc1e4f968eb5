// A misspelt key is named, with the key it was probably meant to be.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", versoin = "v1", version = "v1", kind = "Foo")]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
