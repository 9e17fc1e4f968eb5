// Every error of one type is reported in one go, each at its own key.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "Bad Group", version = "one", kind = "Foo", plural = "FOOS",
    printcolumn(name = "X", type = "text", json_path = ".spec.x"),
    scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas"))]
#[genclient(only_verbs(get), skip_verbs(get))]
pub struct FooSpec {
    pub replicas: i32,
}

fn main() {}
