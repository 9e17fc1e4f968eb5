// A scale method on a resource without the scale subresource.
use bot_derive::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[kube(group = "ui.example.com", version = "v1", kind = "Foo", status = "FooStatus")]
#[genclient(method(name = "GetScale", verb = "get", subresource = "scale", result = "k8s_openapi::api::autoscaling::v1::Scale"))]
pub struct FooSpec {
    pub replicas: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct FooStatus {
    pub replicas: i32,
}

fn main() {}
