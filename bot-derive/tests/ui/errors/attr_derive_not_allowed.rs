// kube-derive's attr_derive_not_allowed: attr cannot set derives.
// (With the derives every spec needs: kube-derive stops at the attribute
// error; bot-derive also emits the root type, so later uses of it are not
// errors, and that needs them.)
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "clux.dev", version = "v1", kind = "FooEnum")]
#[kube(attr = "derive(Serialize)")]
struct FooSpec {
    int: u32,
}

fn main() {}
