// Every error of one type is reported in one go, each at its own key.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", group = "other.example.com", version = "v1", kind = "Foo", root = "1Foo",
    printcolumn(name = "X", type = "string", json_pth = ".spec.x"),
    scale(spec_replicas_path = ".spec.replicas"), schema = "Derived", nmespaced)]
#[genclient(only_verbs(get), skip_verbs(get))]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
