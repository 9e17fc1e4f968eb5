//! Protobuf watches (`bot_runtime::protobuf`) against a real kube-apiserver:
//! for every watchable built-in resource the apiserver serves, the JSON
//! written from its protobuf watch equals the JSON the apiserver itself
//! sends, object by object, over the objects the control plane keeps and a
//! set created here to reach every special encoding (quantities,
//! int-or-strings, micro-times, embedded objects, bytes, inline structs,
//! pointers to zero values); and informers cache the same objects either way.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use bot_runtime::k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Secret, Service},
};
use bot_runtime::{InformerConfig, SharedIndexInformer, protobuf::ProtobufWatches, testenv::TestEnv};
use futures::future::try_join_all;
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{ApiResource, DynamicObject, GroupVersionKind, PostParams},
    discovery::{Discovery, Scope, verbs},
};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Objects that reach every special JSON encoding the apiserver has.
fn objects(ns: &str) -> Vec<(GroupVersionKind, &'static str, Value)> {
    let gvk = |g: &str, v: &str, k: &str| GroupVersionKind::gvk(g, v, k);
    let pod_spec = json!({
        "containers": [{
            "name": "app", "image": "example.invalid/app:1",
            "ports": [{ "name": "http", "containerPort": 8080, "protocol": "TCP" }],
            "env": [{ "name": "NODE", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } },
                    { "name": "EMPTY", "value": "" }],
            "resources": { "requests": { "cpu": "100m", "memory": "64Mi" }, "limits": { "cpu": "1.5", "memory": "1Gi" } },
            "readinessProbe": { "httpGet": { "path": "/ready", "port": "http" }, "periodSeconds": 3 },
            "livenessProbe": { "tcpSocket": { "port": 8080 }, "initialDelaySeconds": 0 },
            "securityContext": { "runAsUser": 0, "runAsNonRoot": false, "allowPrivilegeEscalation": false,
                                 "capabilities": { "drop": ["ALL"] } },
            "volumeMounts": [{ "name": "scratch", "mountPath": "/scratch" }, { "name": "config", "mountPath": "/config", "readOnly": true }]
        }],
        "volumes": [
            { "name": "scratch", "emptyDir": { "sizeLimit": "500Mi" } },
            { "name": "config", "configMap": { "name": "protobuf-cm", "defaultMode": 420, "optional": true } },
            { "name": "projected", "projected": { "sources": [{ "configMap": { "name": "protobuf-cm", "items": [{ "key": "k", "path": "k", "mode": 256 }] } },
                                                               { "downwardAPI": { "items": [{ "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } }] } }] } }
        ],
        "tolerations": [{ "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }],
        "affinity": { "nodeAffinity": { "preferredDuringSchedulingIgnoredDuringExecution": [
            { "weight": 10, "preference": { "matchExpressions": [{ "key": "zone", "operator": "In", "values": ["a", "b"] }] } }
        ] } },
        "terminationGracePeriodSeconds": 0,
        "enableServiceLinks": false
    });
    vec![
        (
            gvk("", "v1", "ConfigMap"),
            "configmaps",
            json!({
                "metadata": { "name": "protobuf-cm", "labels": { "a": "1", "empty": "" },
                              "annotations": { "note": "línea \"quoted\" <tag> & \u{2028} \t tab" } },
                "data": { "k": "v", "json": "{\n  \"pretty\": true\n}", "empty": "" },
                "binaryData": { "bin": "AAEC/w==" },
                "immutable": false
            }),
        ),
        (
            gvk("", "v1", "Secret"),
            "secrets",
            json!({
                "metadata": { "name": "protobuf-secret" },
                "type": "Opaque",
                "data": { "raw": "gICA/w==", "empty": "" },
                "stringData": { "text": "hello" }
            }),
        ),
        (
            gvk("", "v1", "Service"),
            "services",
            json!({
                "metadata": { "name": "protobuf-svc" },
                "spec": {
                    "selector": { "app": "protobuf" },
                    "ports": [{ "name": "int", "port": 80, "targetPort": 8080 }, { "name": "named", "port": 81, "targetPort": "http" }],
                    "sessionAffinity": "ClientIP",
                    "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 600 } }
                }
            }),
        ),
        (
            gvk("apps", "v1", "Deployment"),
            "deployments",
            json!({
                "metadata": { "name": "protobuf-deploy" },
                "spec": {
                    "replicas": 2,
                    "selector": { "matchLabels": { "app": "protobuf" } },
                    "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": 0 } },
                    "template": { "metadata": { "labels": { "app": "protobuf" } }, "spec": pod_spec.clone() }
                }
            }),
        ),
        (gvk("", "v1", "Pod"), "pods", json!({ "metadata": { "name": "protobuf-pod" }, "spec": pod_spec })),
        (
            gvk("coordination.k8s.io", "v1", "Lease"),
            "leases",
            json!({
                "metadata": { "name": "protobuf-lease" },
                "spec": { "holderIdentity": "me", "leaseDurationSeconds": 15, "leaseTransitions": 0,
                          "acquireTime": "2026-11-28T10:00:00.123456Z", "renewTime": "2026-11-28T10:00:05.000001Z" }
            }),
        ),
        (
            gvk("events.k8s.io", "v1", "Event"),
            "events",
            json!({
                "metadata": { "name": "protobuf-event" },
                "eventTime": "2026-11-28T10:00:00.500000Z",
                "reportingController": "example.com/protobuf", "reportingInstance": "protobuf-1",
                "action": "Test", "reason": "Tested", "type": "Normal", "note": "a note",
                "regarding": { "kind": "ConfigMap", "namespace": ns, "name": "protobuf-cm", "apiVersion": "v1" },
                "series": { "count": 2, "lastObservedTime": "2026-11-28T10:00:01.250000Z" }
            }),
        ),
        (
            gvk("", "v1", "Event"),
            "events",
            json!({
                "metadata": { "name": "protobuf-core-event" },
                "involvedObject": { "kind": "ConfigMap", "namespace": ns, "name": "protobuf-cm" },
                "reason": "Tested", "message": "core event", "type": "Warning", "count": 3,
                "firstTimestamp": "2026-11-28T09:00:00Z", "lastTimestamp": "2026-11-28T10:00:00Z",
                "source": { "component": "protobuf-test" }
            }),
        ),
        (
            gvk("apps", "v1", "ControllerRevision"),
            "controllerrevisions",
            json!({
                "metadata": { "name": "protobuf-rev" },
                "revision": 3,
                "data": { "spec": { "template": { "nested": [1, 2.5, "three", null, true, { "deep": {} }] } }, "text": "a b\nc" }
            }),
        ),
        (
            gvk("batch", "v1", "CronJob"),
            "cronjobs",
            json!({
                "metadata": { "name": "protobuf-cron" },
                "spec": { "schedule": "*/5 * * * *", "suspend": true, "timeZone": "Etc/UTC", "successfulJobsHistoryLimit": 0,
                          "jobTemplate": { "spec": { "backoffLimit": 0, "activeDeadlineSeconds": 60, "template": { "spec": {
                              "restartPolicy": "Never", "containers": [{ "name": "job", "image": "example.invalid/job:1" }] } } } } }
            }),
        ),
        (
            gvk("autoscaling", "v2", "HorizontalPodAutoscaler"),
            "horizontalpodautoscalers",
            json!({
                "metadata": { "name": "protobuf-hpa" },
                "spec": {
                    "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "protobuf-deploy" },
                    "minReplicas": 1, "maxReplicas": 5,
                    "metrics": [{ "type": "Resource", "resource": { "name": "cpu", "target": { "type": "Utilization", "averageUtilization": 50 } } },
                                { "type": "Resource", "resource": { "name": "memory", "target": { "type": "AverageValue", "averageValue": "100Mi" } } }],
                    "behavior": { "scaleDown": { "stabilizationWindowSeconds": 0, "policies": [{ "type": "Percent", "value": 10, "periodSeconds": 60 }] } }
                }
            }),
        ),
        (
            gvk("networking.k8s.io", "v1", "NetworkPolicy"),
            "networkpolicies",
            json!({
                "metadata": { "name": "protobuf-netpol" },
                "spec": {
                    "podSelector": {},
                    "policyTypes": ["Ingress"],
                    "ingress": [{ "from": [{ "ipBlock": { "cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"] } }],
                                  "ports": [{ "protocol": "TCP", "port": 80, "endPort": 90 }, { "port": "http" }] }]
                }
            }),
        ),
        (
            gvk("", "v1", "ResourceQuota"),
            "resourcequotas",
            json!({
                "metadata": { "name": "protobuf-quota" },
                "spec": { "hard": { "pods": "100", "requests.cpu": "40", "requests.memory": "1.5Gi" } }
            }),
        ),
        (
            gvk("", "v1", "LimitRange"),
            "limitranges",
            json!({
                "metadata": { "name": "protobuf-limits" },
                "spec": { "limits": [{ "type": "Container", "default": { "cpu": "500m" }, "defaultRequest": { "cpu": "0" } }] }
            }),
        ),
        (
            gvk("policy", "v1", "PodDisruptionBudget"),
            "poddisruptionbudgets",
            json!({
                "metadata": { "name": "protobuf-pdb" },
                "spec": { "minAvailable": "50%", "selector": { "matchLabels": { "app": "protobuf" } } }
            }),
        ),
        (
            gvk("", "v1", "ServiceAccount"),
            "serviceaccounts",
            json!({
                "metadata": { "name": "protobuf-sa" }, "automountServiceAccountToken": false
            }),
        ),
        (
            gvk("networking.k8s.io", "v1", "Ingress"),
            "ingresses",
            json!({
                "metadata": { "name": "protobuf-ingress" },
                "spec": { "rules": [{ "host": "example.invalid", "http": { "paths": [
                    { "path": "/", "pathType": "Prefix", "backend": { "service": { "name": "protobuf-svc", "port": { "number": 80 } } } },
                    { "path": "/n", "pathType": "Exact", "backend": { "service": { "name": "protobuf-svc", "port": { "name": "named" } } } }
                ] } }] }
            }),
        ),
        (
            gvk("apps", "v1", "StatefulSet"),
            "statefulsets",
            json!({
                "metadata": { "name": "protobuf-sts" },
                "spec": {
                    "replicas": 0, "serviceName": "protobuf-svc",
                    "selector": { "matchLabels": { "app": "protobuf-sts" } },
                    "persistentVolumeClaimRetentionPolicy": { "whenDeleted": "Delete", "whenScaled": "Retain" },
                    "template": { "metadata": { "labels": { "app": "protobuf-sts" } },
                                  "spec": { "containers": [{ "name": "db", "image": "example.invalid/db:1" }] } },
                    "volumeClaimTemplates": [{ "metadata": { "name": "data" },
                                               "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "2Gi" } } } }]
                }
            }),
        ),
        (
            gvk("apps", "v1", "DaemonSet"),
            "daemonsets",
            json!({
                "metadata": { "name": "protobuf-ds" },
                "spec": {
                    "selector": { "matchLabels": { "app": "protobuf-ds" } },
                    "updateStrategy": { "rollingUpdate": { "maxUnavailable": "10%", "maxSurge": 0 } },
                    "template": { "metadata": { "labels": { "app": "protobuf-ds" } },
                                  "spec": { "containers": [{ "name": "agent", "image": "example.invalid/agent:1" }] } }
                }
            }),
        ),
        (
            gvk("batch", "v1", "Job"),
            "jobs",
            json!({
                "metadata": { "name": "protobuf-job" },
                "spec": { "suspend": true, "parallelism": 2, "completions": 4, "completionMode": "Indexed", "backoffLimitPerIndex": 1,
                          "template": { "spec": { "restartPolicy": "Never", "containers": [{ "name": "job", "image": "example.invalid/job:1" }] } } }
            }),
        ),
        (
            gvk("", "v1", "PersistentVolumeClaim"),
            "persistentvolumeclaims",
            json!({
                "metadata": { "name": "protobuf-pvc" },
                "spec": { "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } }, "storageClassName": "" }
            }),
        ),
    ]
}

/// Cluster-scoped objects (named after the test's namespace), harmless to
/// the rest of the control plane.
fn cluster_objects(ns: &str) -> Vec<(GroupVersionKind, &'static str, Value)> {
    let gvk = |g: &str, v: &str, k: &str| GroupVersionKind::gvk(g, v, k);
    vec![
        (
            gvk("storage.k8s.io", "v1", "StorageClass"),
            "storageclasses",
            json!({
                "metadata": { "name": format!("{ns}-sc") },
                "provisioner": "example.invalid/none", "parameters": { "type": "fast", "empty": "" },
                "reclaimPolicy": "Retain", "allowVolumeExpansion": true, "mountOptions": ["ro"], "volumeBindingMode": "WaitForFirstConsumer"
            }),
        ),
        (
            gvk("", "v1", "PersistentVolume"),
            "persistentvolumes",
            json!({
                "metadata": { "name": format!("{ns}-pv") },
                "spec": { "capacity": { "storage": "10Gi" }, "accessModes": ["ReadWriteOnce"], "hostPath": { "path": "/tmp/pv", "type": "" },
                          "persistentVolumeReclaimPolicy": "Retain", "storageClassName": format!("{ns}-sc") }
            }),
        ),
        (
            gvk("networking.k8s.io", "v1", "IngressClass"),
            "ingressclasses",
            json!({
                "metadata": { "name": format!("{ns}-ic") }, "spec": { "controller": "example.invalid/ingress" }
            }),
        ),
        (
            gvk("node.k8s.io", "v1", "RuntimeClass"),
            "runtimeclasses",
            json!({
                "metadata": { "name": format!("{ns}-rc") }, "handler": "runc",
                "overhead": { "podFixed": { "cpu": "250m", "memory": "120Mi" } },
                "scheduling": { "nodeSelector": { "runtime": "runc" }, "tolerations": [{ "key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule" }] }
            }),
        ),
        (
            gvk("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"),
            "validatingwebhookconfigurations",
            json!({
                "metadata": { "name": format!("{ns}-webhook") },
                "webhooks": [{
                    "name": "check.example.invalid", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Ignore", "timeoutSeconds": 1, "matchPolicy": "Equivalent",
                    "clientConfig": { "url": "https://example.invalid/check", "caBundle": "AAECAwQFBgcICQ==" },
                    "rules": [{ "apiGroups": ["example.invalid"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["nothing"], "scope": "*" }],
                    "namespaceSelector": { "matchExpressions": [{ "key": "never", "operator": "Exists" }] }
                }]
            }),
        ),
    ]
}

/// The objects of `ar`'s collection, by `namespace/name`, as one watch
/// from resourceVersion 0 reports them (their last state before the timeout).
async fn watched(client: &Client, ar: &ApiResource, namespaced: bool) -> Result<BTreeMap<String, Value>> {
    let prefix = if ar.group.is_empty() { "/api".to_string() } else { format!("/apis/{}", ar.group) };
    let _ = namespaced;
    let uri = format!("{prefix}/{}/{}?watch=1&resourceVersion=0&timeoutSeconds=2", ar.version, ar.plural);
    let text = client.request_text(http::Request::get(uri).body(Vec::new())?).await?;
    let mut objects = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let event: Value = serde_json::from_str(line).with_context(|| format!("a watch line of {}", ar.plural))?;
        let object = event["object"].clone();
        let key = || -> Result<String> {
            Ok(format!(
                "{}/{}",
                object["metadata"]["namespace"].as_str().unwrap_or(""),
                object["metadata"]["name"].as_str().context("a name")?
            ))
        };
        // Objects the control plane changes meanwhile come again; the last state counts.
        match event["type"].as_str() {
            Some("ADDED" | "MODIFIED") => {
                objects.insert(key()?, object);
            }
            Some("DELETED") => {
                objects.remove(&key()?);
            }
            other => anyhow::bail!("{}: unexpected event {other:?}", ar.plural),
        }
    }
    Ok(objects)
}

/// The kind of `ar`'s list and its items by `namespace/name`, as one list
/// (unpaged) returns them.
async fn listed(client: &Client, ar: &ApiResource) -> Result<(Value, BTreeMap<String, Value>)> {
    let prefix = if ar.group.is_empty() { "/api".to_string() } else { format!("/apis/{}", ar.group) };
    let uri = format!("{prefix}/{}/{}", ar.version, ar.plural);
    let text = client.request_text(http::Request::get(&uri).body(Vec::new())?).await.with_context(|| uri.clone())?;
    let list: Value = serde_json::from_str(&text).with_context(|| format!("the list of {}", ar.plural))?;
    let mut items = BTreeMap::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let key = format!(
            "{}/{}",
            item["metadata"]["namespace"].as_str().unwrap_or(""),
            item["metadata"]["name"].as_str().context("a name")?
        );
        items.insert(key, item.clone());
    }
    Ok((json!([list["kind"], list["apiVersion"]]), items))
}

/// `got` equals `expected` for every key of both at the same resourceVersion;
/// how many were compared.
fn same_objects(what: &str, got: &BTreeMap<String, Value>, expected: &BTreeMap<String, Value>) -> Result<usize> {
    let mut same = 0;
    for (key, expected) in expected {
        let Some(got) = got.get(key) else { continue };
        if got["metadata"]["resourceVersion"] != expected["metadata"]["resourceVersion"] {
            continue; // changed between the two reads
        }
        ensure!(
            got == expected,
            "{what} {key}: from protobuf\n{}\nfrom the apiserver's JSON\n{}",
            serde_json::to_string_pretty(got)?,
            serde_json::to_string_pretty(expected)?
        );
        same += 1;
    }
    Ok(same)
}

#[tokio::test]
async fn protobuf_watches_read_as_the_apiservers_own_json() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client();
    let ns = env.namespace().to_string();
    for (gvk, plural, body) in objects(&ns) {
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
        let mut object: DynamicObject = serde_json::from_value(body)?;
        object.types = Some(kube::api::TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
        api.create(&PostParams::default(), &object).await.with_context(|| format!("creating a {}", gvk.kind))?;
    }
    for (gvk, plural, body) in cluster_objects(&ns) {
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let mut object: DynamicObject = serde_json::from_value(body)?;
        object.types = Some(kube::api::TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
        api.create(&PostParams::default(), &object).await.with_context(|| format!("creating a {}", gvk.kind))?;
    }
    // The controller-manager makes ReplicaSets, Pods and EndpointSlices of its own.
    common::eventually("the Deployment's ReplicaSet", || async {
        let rs: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            &ns,
            &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("apps", "v1", "ReplicaSet"), "replicasets"),
        );
        Ok((!rs.list(&Default::default()).await?.items.is_empty()).then_some(()))
    })
    .await?;

    let watches = ProtobufWatches::new(client.clone());
    let protobuf = Client::new(watches.clone(), ns.clone());
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut resources = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            let builtin = bot_runtime::protobuf::is_builtin(&ar.group, &ar.version);
            if builtin && caps.supports_operation(verbs::WATCH) && !ar.plural.contains('/') {
                resources.push((ar, caps.scope == Scope::Namespaced));
            }
        }
    }
    ensure!(resources.len() >= 30, "only {} watchable built-in resources discovered", resources.len());
    let compared = try_join_all(resources.iter().map(|(ar, namespaced)| {
        let (json_client, protobuf) = (client.clone(), protobuf.clone());
        async move {
            let (from_json, from_protobuf) =
                futures::try_join!(watched(&json_client, ar, *namespaced), watched(&protobuf, ar, *namespaced))?;
            let same = same_objects(&format!("{} (watched)", ar.plural), &from_protobuf, &from_json)?;
            let ((json_kind, json_items), (protobuf_kind, protobuf_items)) =
                futures::try_join!(listed(&json_client, ar), listed(&protobuf, ar))?;
            ensure!(json_kind == protobuf_kind, "{}: list kinds {json_kind} and {protobuf_kind}", ar.plural);
            let listed_same = same_objects(&format!("{} (listed)", ar.plural), &protobuf_items, &json_items)?;
            ensure!(
                listed_same + 2 >= json_items.len().min(protobuf_items.len()),
                "{}: only {listed_same} of {} listed objects compared",
                ar.plural,
                json_items.len()
            );
            Ok::<_, anyhow::Error>((format!("{}/{}", ar.group, ar.plural), same, listed_same))
        }
    }))
    .await?;
    let listed_total: usize = compared.iter().map(|(_, _, listed)| listed).sum();
    let compared: BTreeMap<String, usize> = compared.into_iter().map(|(key, watched, _)| (key, watched)).collect();
    eprintln!("objects compared per resource: {compared:?}");
    ensure!(watches.fallen_back().is_empty(), "fell back to JSON: {:?}", watches.fallen_back());
    let total: usize = compared.values().sum();
    ensure!(watches.events_read() as usize >= total, "{} events read in protobuf", watches.events_read());
    for (gvk, plural, _) in objects(&ns).into_iter().chain(cluster_objects(&ns)) {
        let key = format!("{}/{plural}", gvk.group);
        ensure!(compared.get(&key).copied().unwrap_or(0) >= 1, "no {key} compared");
    }
    for key in
        ["apps/replicasets", "/pods", "discovery.k8s.io/endpointslices", "rbac.authorization.k8s.io/clusterroles"]
    {
        ensure!(compared.get(key).copied().unwrap_or(0) >= 1, "no {key} compared");
    }
    eprintln!("{total} watched and {listed_total} listed objects of {} resources equal", compared.len());
    ensure!(listed_total >= total / 2, "only {listed_total} listed objects compared");

    // A request for another representation is left as it is: a metadata-only
    // watch of Secrets gets metadata, never the data.
    let before = watches.events_read();
    let request =
        http::Request::get(format!("/api/v1/namespaces/{ns}/secrets?watch=1&resourceVersion=0&timeoutSeconds=1"))
            .header("Accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
            .body(Vec::new())?;
    let text = protobuf.request_text(request).await?;
    ensure!(text.contains("\"PartialObjectMetadata\"") && text.contains("protobuf-secret"), "{text}");
    ensure!(!text.contains("\"data\"") && !text.contains("gICA"), "secret data in a metadata watch");
    ensure!(watches.events_read() == before, "a metadata watch was read in protobuf");
    Ok(())
}

/// Every cached object of `informer`, as JSON, by key.
fn cached<K>(informer: &SharedIndexInformer<K>) -> BTreeMap<String, Value>
where
    K: Resource + serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    informer
        .store()
        .list()
        .iter()
        .map(|o| {
            (format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()), serde_json::to_value(&**o).unwrap())
        })
        .collect()
}

async fn same_cache<K>(client: &Client, ns: &str, keep_managed_fields: bool) -> Result<usize>
where
    K: Resource<DynamicType = (), Scope = bot_runtime::k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let config = |json: bool| {
        let mut c = InformerConfig::<K>::new();
        if keep_managed_fields {
            c = c.keep_managed_fields();
        }
        if json { c.prefer_json() } else { c }
    };
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let (a, b) = (
        Arc::new(SharedIndexInformer::new(api.clone(), config(false))),
        Arc::new(SharedIndexInformer::new(api, config(true))),
    );
    a.run();
    b.run();
    ensure!(tokio::time::timeout(TIMEOUT, a.wait_for_sync()).await?, "synced (protobuf)");
    ensure!(tokio::time::timeout(TIMEOUT, b.wait_for_sync()).await?, "synced (JSON)");
    let (mut from_protobuf, mut from_json) = (cached(&a), cached(&b));
    // Objects the controller-manager keeps updating may differ in version.
    from_protobuf.retain(|k, v| {
        from_json.get(k).is_some_and(|j| j["metadata"]["resourceVersion"] == v["metadata"]["resourceVersion"])
    });
    from_json.retain(|k, _| from_protobuf.contains_key(k));
    ensure!(from_protobuf == from_json, "{} caches differ:\n{from_protobuf:#?}\n{from_json:#?}", K::kind(&()));
    a.shutdown().await;
    b.shutdown().await;
    Ok(from_protobuf.len())
}

#[tokio::test]
async fn informers_cache_the_same_objects_from_protobuf_and_json() -> Result<()> {
    let env = TestEnv::start().await?;
    let client = env.client();
    let ns = env.namespace().to_string();
    for (gvk, plural, body) in objects(&ns).into_iter().take(4) {
        let ar = ApiResource::from_gvk_with_plural(&gvk, plural);
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
        let mut object: DynamicObject = serde_json::from_value(body)?;
        object.types = Some(kube::api::TypeMeta { api_version: ar.api_version.clone(), kind: ar.kind.clone() });
        api.create(&PostParams::default(), &object).await?;
    }
    for keep in [false, true] {
        ensure!(same_cache::<ConfigMap>(&client, &ns, keep).await? >= 1, "ConfigMaps compared");
        ensure!(same_cache::<Secret>(&client, &ns, keep).await? >= 1, "Secrets compared");
        ensure!(same_cache::<Service>(&client, &ns, keep).await? >= 1, "Services compared");
        ensure!(same_cache::<Deployment>(&client, &ns, keep).await? >= 1, "Deployments compared");
    }
    Ok(())
}

/// The kinds table checked in (`bot-runtime/src/protobuf/schema.txt`) is
/// what `make proto-schema` generates from the k8s.io/api pinned in
/// tests/testenv/go.mod (Go is needed here as for the control plane).
#[test]
fn the_kinds_table_is_generated_from_the_pinned_k8s_api() -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("protoschema-{}.txt", std::process::id()));
    let status = std::process::Command::new("go")
        .args(["run", "./protoschema", "-o"])
        .arg(&out)
        .current_dir(root.join("tests/testenv"))
        .status()
        .context("running `go run ./protoschema` (Go >= 1.26 is needed, as for the control plane)")?;
    ensure!(status.success(), "go run ./protoschema failed: {status}");
    let generated = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    let checked_in = std::fs::read_to_string(root.join("bot-runtime/src/protobuf/schema.txt"))?;
    ensure!(generated == checked_in, "bot-runtime/src/protobuf/schema.txt is stale: run `make proto-schema`");
    Ok(())
}
