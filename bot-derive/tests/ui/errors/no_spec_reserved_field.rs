// kube-derive's no_spec_reserved_field: `metadata` is already at the root.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "clux.dev", version = "v1", kind = "Foo", no_spec)]
struct FooFields {
    metadata: String,
}

fn main() {}
