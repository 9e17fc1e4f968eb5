// kube-derive's cel_requires_derived_schema: `cel` validates against the
// derived schema, so it cannot be combined with schema = "manual". (As with
// kube-derive, the manual schema this type lacks is a second error.)
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Debug, Clone, JsonSchema)]
#[kube(group = "clux.dev", version = "v1", kind = "Foo", schema = "manual", cel)]
struct FooSpec {
    foo: String,
}

fn main() {}
