// The derive needs #[kube(group, version, kind)].
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
