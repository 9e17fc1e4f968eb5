//! The kinds a fake cluster serves: common built-in kinds out of the box,
//! custom resources from their CRDs, anything else registered by type.

use k8s_openapi::{
    ClusterResourceScope, NamespaceResourceScope,
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet},
        batch::v1::Job,
        coordination::v1::Lease,
        core::v1::{ConfigMap, Event as CoreEvent, Namespace, Pod, Secret, Service, ServiceAccount},
        events::v1::Event,
    },
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use serde_json::{Value, json};

use super::schema::{Schema, object_meta};

/// When `metadata.generation` moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Generation {
    /// Never set (ConfigMap, Secret, Service, ...).
    None,
    /// Set to 1 on create, bumped when anything but metadata changes
    /// (custom resources).
    NonMetadata,
    /// Bumped when the spec changes (workloads).
    Spec,
    /// Bumped when the spec or the annotations change (Deployment).
    SpecAndAnnotations,
}

/// A kind the fake serves.
#[derive(Clone, Debug)]
pub(crate) struct Kind {
    /// API group (`""` for core).
    pub(crate) group: String,
    /// Version.
    pub(crate) version: String,
    /// Kind.
    pub(crate) kind: String,
    /// Resource name in URLs.
    pub(crate) plural: String,
    /// Namespaced or cluster-scoped.
    pub(crate) namespaced: bool,
    /// Has a status subresource: the main resource ignores status, the
    /// status subresource everything else.
    pub(crate) status: bool,
    /// Generation rule.
    pub(crate) generation: Generation,
    /// A custom resource: pruned and defaulted from its schema, no
    /// strategic merge patch, updates need a resourceVersion.
    pub(crate) custom: bool,
    /// Shape for apply, merge and pruning.
    pub(crate) schema: Schema,
    /// The empty object a create is compared with (Go's zero value).
    pub(crate) zero: Value,
    /// Field selectors beyond `metadata.name` and `metadata.namespace`.
    pub(crate) field_labels: Vec<String>,
}

impl Kind {
    /// `group/version`, or `version` for the core group.
    pub(crate) fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `plural.group` (or `plural`), as error messages name the resource.
    pub(crate) fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// Whether `(group, version, plural)` names this kind.
    pub(crate) fn serves(&self, group: &str, version: &str, plural: &str) -> bool {
        self.group == group && self.version == version && self.plural == plural
    }

    /// The kinds of a CRD, one per served version.
    pub(crate) fn from_crd(crd: &CustomResourceDefinition) -> Vec<Kind> {
        let crd = serde_json::to_value(crd).unwrap_or_default();
        let spec = &crd["spec"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let versions = spec["versions"].as_array().cloned().unwrap_or_default();
        versions
            .iter()
            .filter(|v| v["served"].as_bool().unwrap_or(true))
            .map(|v| Kind {
                group: text(&spec["group"]),
                version: text(&v["name"]),
                kind: text(&spec["names"]["kind"]),
                plural: text(&spec["names"]["plural"]),
                namespaced: spec["scope"] == "Namespaced",
                status: v.pointer("/subresources/status").is_some(),
                generation: Generation::NonMetadata,
                custom: true,
                schema: Schema::from_crd(v.pointer("/schema/openAPIV3Schema")),
                zero: json!({}),
                field_labels: v["selectableFields"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["jsonPath"].as_str().map(|p| p.trim_start_matches('.').to_string()))
                    .collect(),
            })
            .collect()
    }

    /// A kind by its Rust type: a built-in kind without status subresource
    /// or generation, shaped loosely.
    pub(crate) fn of<K>() -> Kind
    where
        K: kube::Resource<DynamicType = ()>,
        K::Scope: Scoped,
    {
        Kind {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            plural: K::plural(&()).into_owned(),
            namespaced: <K::Scope as Scoped>::NAMESPACED,
            status: false,
            generation: Generation::None,
            custom: false,
            schema: Schema::loose([("metadata", object_meta())]),
            zero: json!({}),
            field_labels: Vec::new(),
        }
    }
}

/// Namespaced or cluster-scoped, from a kind's scope type.
pub trait Scoped {
    /// Whether objects of the kind live in namespaces.
    const NAMESPACED: bool;
}

impl Scoped for NamespaceResourceScope {
    const NAMESPACED: bool = true;
}

impl Scoped for ClusterResourceScope {
    const NAMESPACED: bool = false;
}

/// The built-in kinds served out of the box.
pub(crate) fn builtins() -> Vec<Kind> {
    let with = |mut kind: Kind, status: bool, generation: Generation, schema: Schema, zero: Value| {
        kind.status = status;
        kind.generation = generation;
        kind.schema = schema;
        kind.zero = zero;
        kind
    };
    let workload_zero = json!({
        "metadata": {}, "spec": { "template": { "metadata": {}, "spec": { "containers": [] } } }, "status": {}
    });
    let mut secret = with(Kind::of::<Secret>(), false, Generation::None, config_data(), json!({}));
    secret.field_labels = vec!["type".into()];
    let mut pod = with(Kind::of::<Pod>(), true, Generation::None, pod(), json!({ "spec": { "containers": [] } }));
    pod.field_labels = vec!["spec.nodeName".into(), "status.phase".into(), "spec.serviceAccountName".into()];
    let mut core_event = Kind::of::<CoreEvent>();
    core_event.field_labels =
        ["involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "reason", "type"]
            .map(String::from)
            .to_vec();
    vec![
        with(Kind::of::<ConfigMap>(), false, Generation::None, config_data(), json!({})),
        secret,
        with(Kind::of::<Service>(), true, Generation::None, service(), json!({ "spec": {}, "status": {} })),
        pod,
        with(Kind::of::<Namespace>(), true, Generation::None, namespace(), json!({ "spec": {}, "status": {} })),
        Kind::of::<ServiceAccount>(),
        core_event,
        Kind::of::<Event>(),
        Kind::of::<Lease>(),
        with(Kind::of::<Deployment>(), true, Generation::SpecAndAnnotations, workload(), workload_zero.clone()),
        with(Kind::of::<StatefulSet>(), true, Generation::Spec, workload(), workload_zero.clone()),
        with(Kind::of::<DaemonSet>(), true, Generation::Spec, workload(), workload_zero.clone()),
        with(Kind::of::<ReplicaSet>(), true, Generation::Spec, workload(), workload_zero.clone()),
        with(Kind::of::<Job>(), true, Generation::Spec, workload(), workload_zero),
    ]
}

fn conditions() -> Schema {
    Schema::loose([("conditions", Schema::map_list(&["type"], Schema::Loose))])
}

fn config_data() -> Schema {
    let scalars = || Schema::map(Schema::Atomic);
    Schema::loose([
        ("metadata", object_meta()),
        ("data", scalars()),
        ("binaryData", scalars()),
        ("stringData", scalars()),
    ])
}

/// Ports keyed by `key` and protocol (defaulted to TCP for the key).
fn ports(key: &str) -> Schema {
    let mut item = super::schema::ObjectSchema { other: Some(Schema::Loose), loose: true, ..Default::default() };
    item.defaults.insert("protocol".into(), json!("TCP"));
    Schema::map_list(&[key, "protocol"], Schema::Object(std::sync::Arc::new(item)))
}

fn container() -> Schema {
    Schema::loose([
        ("ports", ports("containerPort")),
        ("env", Schema::map_list(&["name"], Schema::Loose)),
        ("volumeMounts", Schema::map_list(&["mountPath"], Schema::Loose)),
        ("volumeDevices", Schema::map_list(&["devicePath"], Schema::Loose)),
    ])
}

fn pod_spec() -> Schema {
    Schema::loose([
        ("containers", Schema::map_list(&["name"], container())),
        ("initContainers", Schema::map_list(&["name"], container())),
        ("ephemeralContainers", Schema::map_list(&["name"], container())),
        ("volumes", Schema::map_list(&["name"], Schema::Loose)),
        ("imagePullSecrets", Schema::map_list(&["name"], Schema::Loose)),
        ("hostAliases", Schema::map_list(&["ip"], Schema::Loose)),
        ("resourceClaims", Schema::map_list(&["name"], Schema::Loose)),
        ("topologySpreadConstraints", Schema::map_list(&["topologyKey", "whenUnsatisfiable"], Schema::Loose)),
        ("nodeSelector", Schema::Atomic),
    ])
}

fn pod() -> Schema {
    Schema::loose([("metadata", object_meta()), ("spec", pod_spec()), ("status", conditions())])
}

fn workload() -> Schema {
    let template = Schema::loose([("metadata", object_meta()), ("spec", pod_spec())]);
    Schema::loose([
        ("metadata", object_meta()),
        ("spec", Schema::loose([("selector", Schema::Atomic), ("template", template)])),
        ("status", conditions()),
    ])
}

fn service() -> Schema {
    Schema::loose([
        ("metadata", object_meta()),
        ("spec", Schema::loose([("ports", ports("port")), ("selector", Schema::Atomic)])),
        ("status", conditions()),
    ])
}

fn namespace() -> Schema {
    Schema::loose([
        ("metadata", object_meta()),
        ("spec", Schema::loose([("finalizers", Schema::set())])),
        ("status", conditions()),
    ])
}
