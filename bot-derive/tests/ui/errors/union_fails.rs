// kube-derive's union_fails: a spec is a struct or an enum. (serde refuses
// the union too.)
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, JsonSchema)]
union FooSpec {
    int: u32,
}

fn main() {}
