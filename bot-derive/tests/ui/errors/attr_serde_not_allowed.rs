// kube-derive's attr_serde_not_allowed: attr cannot set serde attributes.
// (With the derives every spec needs: kube-derive stops at the attribute
// error; bot-derive also emits the root type, so later uses of it are not
// errors, and that needs them.)
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[kube(group = "clux.dev", version = "v1", kind = "FooEnum")]
#[kube(attr = "serde(rename_all=\"snake_case\")")]
struct FooSpec {
    int: u32,
}

fn main() {}
