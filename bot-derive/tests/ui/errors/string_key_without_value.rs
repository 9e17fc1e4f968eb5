// A string key written as a flag.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group, version = "v1", kind = "Foo")]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
