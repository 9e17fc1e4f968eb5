// When the attributes are wrong, the root type still exists, built from
// what did parse (its `derive`s, status and names), so the attribute error is
// the only error: no "cannot find type `Foo`", no "`Foo: Default` is not
// satisfied".
use bot_derive::CustomResource;
use kube::{CustomResourceExt, Resource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", root = "FooCrd", namespacd, status = "FooStatus",
       derive = "Default", derive = "PartialEq")]
pub struct FooSpec {
    pub replicas: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FooStatus {
    pub replicas: i32,
}

fn main() {
    let foo = FooCrd::new("a", FooSpec { replicas: 1 });
    let _ = (foo.status.as_ref(), foo.meta().name.as_ref(), FooCrd::crd(), FooCrd::default() == foo);
}
