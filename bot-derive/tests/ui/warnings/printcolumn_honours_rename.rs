// A field renamed with #[serde(rename)] is read under its new name only.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", printcolumn(name = "Type", type = "string", json_path = ".spec.kind_"))]
pub struct FooSpec {
    #[serde(rename = "type")]
    pub kind_: String,
}

fn main() {}
