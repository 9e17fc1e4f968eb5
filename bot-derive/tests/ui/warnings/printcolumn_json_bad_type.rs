// The JSON form is checked like the struct form.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", printcolumn = r#"{"name":"Replicas","type":"int","jsonPath":".spec.replicas"}"#)]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
