// kube-derive's no_spec_on_enum: an enum has no fields to lift onto the root.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "clux.dev", version = "v1", kind = "Foo", no_spec)]
enum FooFields {
    A,
    B,
}

fn main() {}
