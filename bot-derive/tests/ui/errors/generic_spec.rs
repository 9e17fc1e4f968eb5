// Generic spec structs are not supported.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo")]
pub struct FooSpec<T> {
    pub value: T,
}

fn main() {}
