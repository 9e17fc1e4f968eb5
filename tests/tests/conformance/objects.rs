//! Objects the cases write: ConfigMaps, Bots, Events, Deployments.

use bot_api::v1alpha1::{Bot, Event};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::ConfigMap};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

/// A ConfigMap `name` with `labels` and `data`.
pub(crate) fn cm(name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({ "metadata": { "name": name, "labels": labels }, "data": data }))
        .expect("a valid ConfigMap")
}

/// A LINE Bot `name` with `labels`; `spec` merged over the required fields.
pub(crate) fn bot(name: &str, labels: Value, spec: Value) -> Bot {
    let mut full = json!({ "platform": "line", "credentialsSecret": "creds" });
    json_patch::merge(&mut full, &spec);
    serde_json::from_value(json!({
        "apiVersion": "botops.dev/v1alpha1", "kind": "Bot",
        "metadata": { "name": name, "labels": labels },
        "spec": full,
    }))
    .expect("a valid Bot")
}

/// An Event `name` with `labels` replying `reply` to "hi".
pub(crate) fn event(name: &str, labels: Value, reply: &str) -> Event {
    serde_json::from_value(json!({
        "apiVersion": "botops.dev/v1alpha1", "kind": "Event",
        "metadata": { "name": name, "labels": labels },
        "spec": { "trigger": { "type": "message", "keywords": ["hi"] }, "actions": [{ "reply": reply }] },
    }))
    .expect("a valid Event")
}

/// A Deployment `name` of one container `app` running `image`.
pub(crate) fn deployment(name: &str, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": image }] },
            },
        },
    }))
    .expect("a valid Deployment")
}

/// An apply configuration: `apiVersion`, `kind` and `name` of `K`, plus `rest`.
pub(crate) fn config<K: Resource<DynamicType = ()>>(name: &str, rest: Value) -> Value {
    let mut obj = json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "metadata": { "name": name } });
    json_patch::merge(&mut obj, &rest);
    obj
}

/// The resourceVersion of `obj`.
pub(crate) fn rv<K: Resource>(obj: &K) -> String {
    obj.resource_version().unwrap_or_default()
}

/// `(manager, operation, subresource, fieldsV1)` of each managedFields entry, sorted.
pub(crate) fn owners<K: Resource>(obj: &K) -> Vec<Value> {
    let mut out: Vec<Value> = obj
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .map(|e| {
            json!({
                "manager": e.manager, "operation": e.operation,
                "subresource": e.subresource, "fields": e.fields_v1.as_ref().map(|f| &f.0),
            })
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// The managedFields entry of `manager` (and `operation`), its fieldsV1.
pub(crate) fn fields_of<K: Resource>(obj: &K, manager: &str, operation: &str) -> Value {
    obj.meta()
        .managed_fields
        .iter()
        .flatten()
        .find(|e| e.manager.as_deref() == Some(manager) && e.operation.as_deref() == Some(operation))
        .and_then(|e| e.fields_v1.as_ref().map(|f| f.0.clone()))
        .unwrap_or(Value::Null)
}
