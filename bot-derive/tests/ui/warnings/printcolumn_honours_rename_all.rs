// The column must use the serialized (camelCase) name, not the Rust one.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", printcolumn(name = "Level", type = "string", json_path = ".spec.log_level"))]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    pub log_level: String,
}

fn main() {}
