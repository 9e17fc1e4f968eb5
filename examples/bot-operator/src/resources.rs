//! What the operator wants to exist for a Bot: the resolved rules, the
//! owned ConfigMap, Deployment and Service (as server-side apply
//! configurations: typed k8s-openapi values, which serialize only the
//! fields set, so the operator's field manager owns exactly those), and the
//! status conditions. Pure functions, unit-tested.

use std::collections::{BTreeMap, BTreeSet};

pub use bot_api::rules::{Rule, Rules};
use bot_api::v1alpha1::{Bot, BotStatus, Event, EventBinding, ServiceType};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentSpec},
        core::v1::{
            Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvFromSource, EnvVar,
            HTTPGetAction, PodSpec, PodTemplateSpec, Probe, SecretEnvSource, SecurityContext, Service, ServicePort,
            ServiceSpec, Volume, VolumeMount,
        },
    },
    apimachinery::pkg::{
        apis::meta::v1::{Condition, LabelSelector, ObjectMeta, OwnerReference, Time},
        util::intstr::IntOrString,
    },
    jiff::Timestamp,
};
use kube::Resource;
use serde::Serialize;
use serde_json::{Map, Value};

/// Key of the rules in the rules ConfigMap.
pub const RULES_KEY: &str = "rules.json";
/// Where the engine container finds its rules.
pub const RULES_DIR: &str = "/etc/bot";
/// Pod template annotation carrying a checksum of the rules, so that pods
/// roll when the rules change.
pub const RULES_CHECKSUM_ANNOTATION: &str = "botops.dev/rules-checksum";
/// Label carrying the Bot's name on everything the operator creates (and the
/// Deployment's selector).
pub const BOT_LABEL: &str = "botops.dev/bot";

/// Pod template annotation carrying the credentials Secret's
/// `resourceVersion`, so that pods roll (and the engine reads the new
/// credentials from its environment) when the Secret changes.
pub const CREDENTIALS_VERSION_ANNOTATION: &str = "botops.dev/credentials-version";

/// Annotation on every owned object: a checksum of the apply configuration
/// the operator last wrote, so that an unchanged configuration is not sent
/// again (see [`up_to_date`]).
pub const APPLIED_HASH_ANNOTATION: &str = "botops.dev/applied-hash";

/// Condition type: the bot can answer (credentials found, every owned
/// object applied, the engine available).
pub const READY: &str = "Ready";
/// Condition type: the Deployment, Service and rules ConfigMap are applied
/// as the Bot asks.
pub const APPLIED: &str = "Applied";
/// Condition type: the engine Deployment is available (at least one ready
/// replica, the Deployment's own `Available` condition true).
pub const AVAILABLE: &str = "Available";
/// Condition type: the Secret named by `spec.credentialsSecret` exists.
pub const CREDENTIALS_FOUND: &str = "CredentialsFound";
/// Condition type: the Bot's EventBindings were resolved to rules.
pub const RULES_RESOLVED: &str = "RulesResolved";

/// Name of a Bot's rules ConfigMap.
pub fn rules_configmap_name(bot: &str) -> String {
    format!("{bot}-rules")
}

/// The URL the chat platform must call for `bot`, given its Service as
/// applied: `spec.service.publicUrl` when set; else the load balancer's
/// address (LoadBalancer, once assigned), a node port on any node's address
/// (NodePort: `http://<node-address>:<nodePort>`), or the in-cluster name
/// (ClusterIP); each followed by the platform's webhook path.
pub fn endpoint(bot: &Bot, service: Option<&Service>) -> String {
    let name = bot.metadata.name.as_deref().unwrap_or_default();
    let ns = bot.metadata.namespace.as_deref().unwrap_or_default();
    let path = bot.spec.platform.webhook_path();
    if let Some(url) = &bot.spec.service.public_url {
        return format!("{}{path}", url.trim_end_matches('/'));
    }
    let port = bot.spec.port;
    let service_port = || service?.spec.as_ref()?.ports.as_ref()?.first().cloned();
    match bot.spec.service.type_ {
        ServiceType::LoadBalancer => {
            let ingress = service
                .and_then(|s| s.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref()?.first().cloned())
                .and_then(|i| i.hostname.or(i.ip));
            match ingress {
                Some(host) => format!("http://{host}:{port}{path}"),
                None => format!("http://{name}.{ns}.svc:{port}{path} (load balancer address pending)"),
            }
        }
        ServiceType::NodePort => match service_port().and_then(|p| p.node_port) {
            Some(node_port) => format!("http://<node-address>:{node_port}{path}"),
            None => format!("http://{name}.{ns}.svc:{port}{path} (node port pending)"),
        },
        ServiceType::ClusterIP => format!("http://{name}.{ns}.svc:{port}{path}"),
    }
}

/// Stamps `desired` (an apply configuration) with
/// [`APPLIED_HASH_ANNOTATION`], a checksum of its content without the stamp.
pub fn stamp(mut desired: Value) -> Value {
    let hash = checksum(&desired.to_string());
    if let Some(meta) = desired.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(APPLIED_HASH_ANNOTATION.into(), Value::String(hash));
        }
    }
    desired
}

/// Whether applying the stamped configuration `desired` to `actual` would
/// change nothing: `actual` carries the same stamp (so the configuration,
/// including what it no longer sets, is what was last applied) and contains
/// every value `desired` sets (so nobody changed them since).
pub fn up_to_date(desired: &Value, actual: &Value) -> bool {
    let stamp_of = |v: &Value| v.pointer("/metadata/annotations").and_then(|a| a.get(APPLIED_HASH_ANNOTATION)).cloned();
    stamp_of(desired).is_some() && stamp_of(desired) == stamp_of(actual) && contains(actual, desired)
}

/// Whether `actual` holds every value of `desired`: objects by key (extra
/// keys in `actual`, such as defaults and status, are ignored), lists
/// element by element in order, scalars by equality.
pub fn contains(actual: &Value, desired: &Value) -> bool {
    match (actual, desired) {
        (Value::Object(a), Value::Object(d)) => d.iter().all(|(k, dv)| a.get(k).is_some_and(|av| contains(av, dv))),
        (Value::Array(a), Value::Array(d)) => a.len() == d.len() && a.iter().zip(d).all(|(av, dv)| contains(av, dv)),
        (Value::Null, Value::Null) => true,
        (a, d) => a == d,
    }
}

/// Whether `what` (`Kind ns/name`, as the operator describes objects) is one
/// of Bot `ns/bot`'s children.
pub fn names_child_of(what: &str, ns: &str, bot: &str) -> bool {
    let rules = rules_configmap_name(bot);
    [format!("ConfigMap {ns}/{rules}"), format!("Deployment {ns}/{bot}"), format!("Service {ns}/{bot}")]
        .iter()
        .any(|child| child == what)
}

/// Whether `meta` names `bot` (by UID) as its controller: the only objects
/// the operator changes.
pub fn controlled_by(meta: &ObjectMeta, bot: &Bot) -> bool {
    let Some(uid) = bot.metadata.uid.as_deref() else { return false };
    meta.owner_references.iter().flatten().any(|r| {
        r.controller == Some(true) && r.uid == uid && r.kind == Bot::kind(&()) && r.api_version == Bot::api_version(&())
    })
}

/// Who controls `meta`, for messages: `Kind name` of its controller, or
/// "no controller".
pub fn controller_of(meta: &ObjectMeta) -> String {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| format!("{} {} (uid {})", r.kind, r.name, r.uid))
        .unwrap_or_else(|| "no controller".into())
}

/// Whether the engine Deployment is available: its `Available` condition is
/// true and at least one replica is ready, and the status describes the
/// Deployment's current generation. Returns the reason and a message.
pub fn availability(deployment: Option<&Deployment>) -> (bool, &'static str, String) {
    let Some(d) = deployment else {
        return (false, "DeploymentMissing", "the engine Deployment does not exist yet".into());
    };
    let status = d.status.clone().unwrap_or_default();
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let ready = status.ready_replicas.unwrap_or(0);
    let current = status.observed_generation.is_some() && status.observed_generation == d.metadata.generation;
    let available = status.conditions.iter().flatten().any(|c| c.type_ == "Available" && c.status == "True");
    if wanted == 0 {
        (false, "ScaledToZero", "spec.replicas is 0: no engine runs".into())
    } else if current && available && ready > 0 {
        (true, "MinimumReplicasAvailable", format!("{ready}/{wanted} engine replicas ready"))
    } else {
        (false, "EngineNotReady", format!("{ready}/{wanted} engine replicas ready"))
    }
}

/// What a Bot's EventBindings resolve to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resolution {
    /// Per binding name: the names of the Events its selector matches, sorted.
    pub per_binding: BTreeMap<String, Vec<String>>,
    /// Bindings whose selector is invalid (they match nothing).
    pub invalid: Vec<String>,
    /// The rules.
    pub rules: Rules,
}

impl Resolution {
    /// `binding/event` for every binding and Event it selects, sorted.
    pub fn bound_events(&self) -> Vec<String> {
        self.per_binding.iter().flat_map(|(b, events)| events.iter().map(move |e| format!("{b}/{e}"))).collect()
    }
}

/// Resolves `bindings`: `events_of(binding)` gives the Events a binding
/// selects, or `None` when its selector is invalid.
pub fn resolve<'a>(
    bindings: impl IntoIterator<Item = &'a EventBinding>,
    mut events_of: impl FnMut(&EventBinding) -> Option<Vec<std::sync::Arc<Event>>>,
) -> Resolution {
    let mut per_binding = BTreeMap::new();
    let mut invalid = Vec::new();
    let mut by_event: BTreeMap<String, (BTreeSet<String>, std::sync::Arc<Event>)> = BTreeMap::new();
    for binding in bindings {
        let name = binding.metadata.name.clone().unwrap_or_default();
        let Some(events) = events_of(binding) else {
            invalid.push(name.clone());
            per_binding.insert(name, Vec::new());
            continue;
        };
        let mut names: Vec<String> = events.iter().map(|e| e.metadata.name.clone().unwrap_or_default()).collect();
        names.sort();
        names.dedup();
        for event in events {
            let event_name = event.metadata.name.clone().unwrap_or_default();
            by_event.entry(event_name).or_insert_with(|| (BTreeSet::new(), event)).0.insert(name.clone());
        }
        per_binding.insert(name, names);
    }
    invalid.sort();
    let rules = by_event
        .into_iter()
        .map(|(event, (bindings, obj))| Rule {
            event,
            bindings: bindings.into_iter().collect(),
            trigger: obj.spec.trigger.clone(),
            actions: obj.spec.actions.clone(),
        })
        .collect();
    Resolution { per_binding, invalid, rules: Rules { version: bot_api::rules::RULES_VERSION, rules } }
}

/// FNV-1a (64 bit) of `data` as `fnv1a64:<hex>`: a stable, dependency-free
/// change detector (not a cryptographic hash).
pub fn checksum(data: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in data.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}

/// The controller owner reference to `bot` put on every owned object.
pub fn owner_reference(bot: &Bot) -> OwnerReference {
    OwnerReference {
        api_version: Bot::api_version(&()).into_owned(),
        kind: Bot::kind(&()).into_owned(),
        name: bot.metadata.name.clone().unwrap_or_default(),
        uid: bot.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn lowercase<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn labels(bot: &str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/name", "bot-engine"),
        ("app.kubernetes.io/instance", bot),
        ("app.kubernetes.io/managed-by", crate::FIELD_MANAGER),
        (BOT_LABEL, bot),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn metadata(bot: &Bot, name: &str) -> ObjectMeta {
    let bot_name = bot.metadata.name.as_deref().unwrap_or_default();
    ObjectMeta {
        name: Some(name.into()),
        namespace: bot.metadata.namespace.clone(),
        labels: Some(labels(bot_name)),
        owner_references: Some(vec![owner_reference(bot)]),
        ..ObjectMeta::default()
    }
}

/// The apply configuration of the rules ConfigMap `<bot>-rules` (a typed
/// value: it serializes only the fields set here).
pub fn configmap(bot: &Bot, rules_json: &str) -> ConfigMap {
    let name = rules_configmap_name(bot.metadata.name.as_deref().unwrap_or_default());
    ConfigMap {
        metadata: metadata(bot, &name),
        data: Some([(RULES_KEY.to_string(), rules_json.to_string())].into()),
        ..ConfigMap::default()
    }
}

/// The apply configuration of the engine Deployment `<bot>`: the credentials
/// Secret as environment (`envFrom`), the rules ConfigMap mounted at
/// [`RULES_DIR`], and the rules' checksum on the pod template.
pub fn deployment(bot: &Bot, rules_checksum: &str, credentials_version: &str) -> Deployment {
    let name = bot.metadata.name.clone().unwrap_or_default();
    let annotations =
        [(RULES_CHECKSUM_ANNOTATION, rules_checksum), (CREDENTIALS_VERSION_ANNOTATION, credentials_version)];
    Deployment {
        metadata: metadata(bot, &name),
        spec: Some(DeploymentSpec {
            replicas: Some(bot.spec.replicas),
            selector: LabelSelector {
                match_labels: Some([(BOT_LABEL.to_string(), name.clone())].into()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&name)),
                    annotations: Some(annotations.into_iter().map(|(k, v)| (k.into(), v.into())).collect()),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![engine_container(bot)],
                    volumes: Some(vec![Volume {
                        name: "rules".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: rules_configmap_name(&name),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// The engine container of a Bot's Deployment.
fn engine_container(bot: &Bot) -> Container {
    let spec = &bot.spec;
    let env = |name: &str, value: String| EnvVar { name: name.into(), value: Some(value), ..EnvVar::default() };
    let http_get = |path: &str| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        ..Probe::default()
    };
    Container {
        name: "engine".into(),
        image: Some(spec.image.clone()),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: spec.port,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        env: Some(vec![
            env("BOT_NAME", bot.metadata.name.clone().unwrap_or_default()),
            env("BOT_PLATFORM", lowercase(&spec.platform)),
            env("BOT_LOG_LEVEL", lowercase(&spec.log_level)),
            env("BOT_PORT", spec.port.to_string()),
            env("BOT_RULES", format!("{RULES_DIR}/{RULES_KEY}")),
        ]),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource { name: spec.credentials_secret.clone(), ..SecretEnvSource::default() }),
            ..EnvFromSource::default()
        }]),
        volume_mounts: Some(vec![VolumeMount {
            name: "rules".into(),
            mount_path: RULES_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        readiness_probe: Some(http_get("/readyz")),
        liveness_probe: Some(http_get("/healthz")),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".into()]), ..Capabilities::default() }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The apply configuration of the Service `<bot>` on `spec.port`, of the
/// type `spec.service` asks (with its node port, if given).
pub fn service(bot: &Bot) -> Service {
    let name = bot.metadata.name.clone().unwrap_or_default();
    let node_port = match bot.spec.service.type_ {
        ServiceType::NodePort | ServiceType::LoadBalancer => bot.spec.service.node_port,
        ServiceType::ClusterIP => None,
    };
    Service {
        metadata: metadata(bot, &name),
        spec: Some(ServiceSpec {
            type_: Some(bot.spec.service.type_.as_str().into()),
            selector: Some([(BOT_LABEL.to_string(), name)].into()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: bot.spec.port,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                node_port,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// Whether `actual` holds everything of `desired`: the same fields, and for
/// each condition type of `desired` the same condition (in any order).
/// Conditions of other types, set by other writers (conditions are a map
/// list keyed by `type`), are theirs and do not count.
pub fn status_holds(actual: &BotStatus, desired: &BotStatus) -> bool {
    let ours_in_actual: Option<Vec<&Condition>> =
        desired.conditions.iter().map(|d| actual.conditions.iter().find(|a| a.type_ == d.type_)).collect();
    let same_conditions = ours_in_actual.is_some_and(|a| a.into_iter().eq(desired.conditions.iter()));
    let fields = |s: &BotStatus| BotStatus { conditions: Vec::new(), ..s.clone() };
    same_conditions && fields(actual) == fields(desired)
}

/// A condition; its `lastTransitionTime` is kept from `existing` when a
/// condition of the same type already has the same status, else now.
pub fn condition(
    existing: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = existing
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| Time(Timestamp::now()));
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn event(name: &str, reply: &str) -> Arc<Event> {
        let mut e: Event = serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "Event",
            "metadata": { "name": name, "namespace": "ns" },
            "spec": { "trigger": { "type": "message", "keywords": [name] }, "actions": [{ "reply": reply }] }
        }))
        .unwrap();
        e.metadata.uid = Some(name.into());
        Arc::new(e)
    }

    fn binding(name: &str) -> EventBinding {
        serde_json::from_value(json!({
            "apiVersion": "botops.dev/v1alpha1", "kind": "EventBinding",
            "metadata": { "name": name, "namespace": "ns" },
            "spec": { "botRef": { "name": "bot" }, "selector": { "matchLabels": { "bot": "x" } } }
        }))
        .unwrap()
    }

    #[test]
    fn resolution_is_sorted_and_deduplicated() {
        let (b1, b2, b3) = (binding("b1"), binding("b2"), binding("bad"));
        let r = resolve([&b2, &b3, &b1], |b| match b.metadata.name.as_deref() {
            Some("b1") => Some(vec![event("hello", "Hi!"), event("bye", "Bye!")]),
            Some("b2") => Some(vec![event("hello", "Hi!")]),
            _ => None,
        });
        assert_eq!(r.bound_events(), ["b1/bye", "b1/hello", "b2/hello"]);
        assert_eq!(r.invalid, ["bad"]);
        let names: Vec<_> = r.rules.rules.iter().map(|r| (r.event.as_str(), r.bindings.join(","))).collect();
        assert_eq!(names, [("bye", "b1".to_string()), ("hello", "b1,b2".to_string())]);
        let json = r.rules.to_json();
        assert!(json.contains("\"reply\": \"Hi!\""), "{json}");
        assert_eq!(checksum(&json), checksum(&r.rules.to_json()));
        assert_ne!(checksum(&json), checksum(""));
        assert_eq!(checksum(""), "fnv1a64:cbf29ce484222325");
    }

    #[test]
    fn up_to_date_needs_the_same_stamp_and_every_value() {
        let desired = stamp(json!({ "metadata": { "name": "a" }, "spec": { "ports": [{ "port": 80 }], "x": 1 } }));
        let hash = desired.pointer("/metadata/annotations/botops.dev~1applied-hash").cloned().unwrap();
        let actual = json!({
            "metadata": { "name": "a", "uid": "u", "annotations": { APPLIED_HASH_ANNOTATION: hash } },
            "spec": { "ports": [{ "port": 80, "protocol": "TCP" }], "x": 1, "defaulted": true },
            "status": {},
        });
        assert!(up_to_date(&desired, &actual));
        let mut drifted = actual.clone();
        drifted["spec"]["x"] = json!(2);
        assert!(!up_to_date(&desired, &drifted), "a value changed by someone else");
        let mut extra = actual.clone();
        extra["spec"]["ports"] = json!([{ "port": 80 }, { "port": 81 }]);
        assert!(!up_to_date(&desired, &extra), "a list of another length");
        let mut unstamped = actual;
        unstamped["metadata"]["annotations"] = json!({});
        assert!(!up_to_date(&desired, &unstamped), "not applied by this configuration");
        let other = stamp(json!({ "metadata": { "name": "a" }, "spec": { "ports": [{ "port": 80 }] } }));
        assert!(!up_to_date(&other, &extra), "a field dropped from the configuration changes the stamp");
    }

    #[test]
    fn status_holds_ignores_other_writers_conditions_and_order() {
        let c = |t: &str, ok: bool| condition(&[], t, ok, "R", "", Some(1));
        let desired = BotStatus { conditions: vec![c(READY, true), c(APPLIED, true)], ..BotStatus::default() };
        let mut actual = desired.clone();
        actual.conditions.reverse();
        actual.conditions.push(c("Audited", true));
        assert!(status_holds(&actual, &desired));
        actual.conditions[0].status = "False".into();
        assert!(!status_holds(&actual, &desired));
        let mut missing = desired.clone();
        missing.conditions.pop();
        assert!(!status_holds(&missing, &desired));
        let other_field = BotStatus { bound_event_count: 3, ..desired.clone() };
        assert!(!status_holds(&other_field, &desired));
    }

    #[test]
    fn transition_time_kept_while_status_unchanged() {
        let old = condition(&[], READY, false, "A", "", Some(1));
        let same = condition(std::slice::from_ref(&old), READY, false, "B", "other", Some(2));
        assert_eq!(same.last_transition_time, old.last_transition_time);
        assert_eq!((same.reason.as_str(), same.observed_generation), ("B", Some(2)));
        let flipped = condition(std::slice::from_ref(&old), READY, true, "B", "", Some(2));
        assert!(flipped.last_transition_time >= old.last_transition_time);
        assert_eq!(flipped.status, "True");
    }
}
