// When the attributes are wrong, the root type still exists (as a stub), so
// the attribute error is the only error: no "cannot find type `Foo`".
use bot_derive::CustomResource;
use kube::{CustomResourceExt, Resource};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", namespaced, status = "FooStatus", printcolumn(name = "R", type = "int", json_path = ".spec.replicas"))]
pub struct FooSpec {
    pub replicas: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FooStatus {
    pub replicas: i32,
}

fn main() {
    let foo = Foo::new("a", FooSpec { replicas: 1 });
    let _ = (foo.status.as_ref(), foo.meta().name.as_ref(), Foo::crd());
}
