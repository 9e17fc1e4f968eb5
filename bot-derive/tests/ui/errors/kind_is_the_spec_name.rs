// The root type would have the spec type's name.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[kube(group = "example.org", version = "v1", kind = "Foo")]
struct Foo {
    foo: String,
}

fn main() {}
