//! A tuple-struct spec: kube-derive accepts it, so bot-derive does too
//! (it was refused before; the refusal's UI case is now `union_fails`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

twin! {
    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "ui.example.com", version = "v1", kind = "Foo")]
    pub struct FooSpec(pub i32);
}

#[test]
fn tuple_spec_compiles_with_kube_derives_crd() {
    let crd = assert_same_crd!(self::Foo);
    assert_eq!(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"], "integer");
    let foo = bot_side::Foo::new("a", bot_side::FooSpec(3));
    assert_eq!(serde_json::to_value(&foo).unwrap()["spec"], 3);
}
