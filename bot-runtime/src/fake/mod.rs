//! The fake clientset: an in-memory Kubernetes API server behind
//! [`kube::Client`], for unit tests of controllers (client-go's `fake`
//! package, without its gaps).
//!
//! [`FakeCluster::client`] is an ordinary [`kube::Client`] whose transport
//! is [`FakeApiServer`], a `tower::Service` answering HTTP requests with the
//! apiserver's REST semantics over an object tracker. So everything built
//! on a client runs unchanged: [`kube::Api`], [`crate::TypedClient`],
//! bot-gen's generated `Clientset::new(cluster.client())`, kube's watcher,
//! and therefore [`crate::InformerFactory`] and the generated
//! `SharedInformerFactory` (the "fake informer factory" is the ordinary
//! factory over a fake client). A controller's informers, listers, handlers
//! and reconcile run in-process, in milliseconds.
//!
//! Generated code gets client-gen's fake package too: with this feature on
//! (a dev-dependency is enough), bot-gen's `clientset::fake::new_clientset()`
//! returns a `Clientset` over a cluster serving the crate's kinds, and the
//! cluster; `new_simple_clientset(objects)` seeds it.
//!
//! ```
//! use bot_runtime::{InformerFactory, fake::FakeCluster};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, Patch, PatchParams};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = FakeCluster::new(); // built-in kinds; .with_crds(..) for yours
//! let client = cluster.client();
//! let factory = InformerFactory::new(client.clone(), None);
//! let informer = factory.informer_for::<ConfigMap>();
//! factory.start();
//! factory.wait_for_cache_sync().await;
//!
//! // The code under test writes through the client...
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let cm = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cfg" }, "data": { "k": "v" } });
//! cms.patch("cfg", &PatchParams::apply("my-controller"), &Patch::Apply(&cm)).await?;
//!
//! // ...the informer sees it, and the requests are there to assert on.
//! while informer.lister().namespaced("default").get("cfg").is_err() {
//!     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//! }
//! let applies = cluster.actions().into_iter().filter(|a| a.is_apply()).count();
//! assert_eq!(applies, 1);
//! factory.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # What it implements
//!
//! - **Verbs**: get, list (label selectors of every form, field selectors
//!   on `metadata.name`, `metadata.namespace` and a few built-in fields,
//!   `limit`/`continue`), watch (from a resourceVersion, or the current
//!   objects as ADDED events; `sendInitialEvents`; objects entering or
//!   leaving a selector are ADDED or DELETED), create (`generateName`,
//!   AlreadyExists), update (409 on a stale resourceVersion; custom
//!   resources require one), update of the status, patch (JSON, merge,
//!   strategic for built-in kinds), server-side apply, delete (404,
//!   preconditions, finalizers), delete-collection, metadata-only requests
//!   (`PartialObjectMetadata`), `dryRun`.
//! - **Bookkeeping as the apiserver does it**: one resourceVersion counter
//!   for all objects; uid, creationTimestamp; `generation` 1 on create and
//!   bumped on spec changes (custom resources: anything but metadata;
//!   Deployments also on annotations); the status subresource (the main
//!   resource ignores status, the status subresource everything else);
//!   deletion with finalizers sets `deletionTimestamp` and
//!   `deletionGracePeriodSeconds: 0` and removes the object when the last
//!   finalizer goes; writes that change nothing write nothing (same
//!   resourceVersion, no watch event).
//! - **Custom resources** from their CRDs ([`FakeCluster::with_crd`]): unknown
//!   fields pruned and defaults applied from the structural schema; a CRD
//!   without schema keeps everything (client-go's fake rejects such apply).
//! - **managedFields and server-side apply**: entries per manager and
//!   operation (and subresource); field sets computed as
//!   structured-merge-diff does, from the CRD schema (`x-kubernetes-list-type`,
//!   `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`) or, for built-in
//!   kinds, from a table of keyed lists (containers, ports, env, volumes,
//!   volumeMounts, conditions, ownerReferences, finalizers as a set, ...);
//!   conflicts (`409 Apply failed with N conflicts: conflict with "m": .data.a`)
//!   unless forced, ownership transfer, fields a manager stops applying
//!   removed when nobody else owns them, updaters taking over what they change.
//! - **Errors** as `metav1.Status` bodies, so [`kube::Error::Api`] carries
//!   the apiserver's code, reason and message (see [`status`]).
//! - **Reactors and recorded actions** (client-go's `PrependReactor` and
//!   `Actions()`): [`FakeCluster::prepend_reactor`], [`FakeCluster::actions`].
//!
//! The conformance suite (`tests/tests/conformance.rs`, 50 cases: errors,
//! generateName, status subresource, generation, selectors, pagination,
//! metadata-only reads, watches, finalizers, patches, managedFields and
//! apply) runs every case against this fake and against kube-apiserver
//! 1.36, and both must reproduce the transcript recorded from the real one,
//! error messages included. The differences below are outside the suite.
//!
//! # Deliberate differences from a real cluster
//!
//! - **No controllers**: no garbage collection of owned objects, no
//!   Deployment status, no namespace lifecycle (objects can be created in
//!   namespaces that do not exist), no `kube-root-ca.crt` ConfigMaps.
//! - **No admission or validation** beyond names, namespaces and
//!   resourceVersions: schemas' types, formats, enums, `required`, CEL rules
//!   and built-in kinds' validation are not checked, and built-in kinds are
//!   not defaulted (a Deployment keeps what was sent; a real one gets
//!   `strategy`, `revisionHistoryLimit`, container defaults, ... and its
//!   create's managedFields name them).
//! - **Strategic merge patch** supports map lists merged by key, `$patch:
//!   delete|replace` and `null` deletions, not `$retainKeys`,
//!   `$setElementOrder` or `$deleteFromPrimitiveList`. Apply bodies must
//!   be JSON (what kube sends), not YAML.
//! - **Watch**: no bookmarks besides the `sendInitialEvents` one; the
//!   history is never compacted (no 410 Gone); continue tokens do not pin a
//!   snapshot.
//! - Propagation policies are accepted and ignored; no discovery endpoints;
//!   the scale subresource is not served.

mod action;
mod fieldset;
mod kinds;
mod managed;
mod merge;
mod read;
mod request;
mod schema;
mod selector;
mod server;
mod state;
pub mod status;
mod tracker;
mod write;

use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::Status;
use parking_lot::Mutex;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

pub use action::{Action, PatchType, Reaction};
pub use kinds::Scoped;
pub use server::{FakeApiServer, ResponseBody};

use self::{action::Reactor, kinds::Kind, request::Call, server::Shared, state::State};

/// The fake clientset of generated code (client-gen's `fake` package):
/// bot-gen's clientset ends with `::bot_runtime::__fake_clientset!(<kinds>)`,
/// which declares `clientset::fake` when this feature is on (a test's
/// dev-dependency `bot-runtime = { features = ["fake"] }` is enough) and
/// nothing otherwise, so the generating crate needs no feature of its own.
///
/// ```ignore
/// let (clientset, cluster) = bot_api::clientset::fake::new_clientset();
/// clientset.botops_v1alpha1().bots("default").create(&bot, &PostParams::default()).await?;
/// assert_eq!(cluster.actions().len(), 1);
/// ```
#[doc(hidden)]
#[macro_export]
macro_rules! __fake_clientset {
    ($($kind:ty),* $(,)?) => {
        /// The fake clientset (client-gen's `fake` package): this crate's
        /// [`Clientset`](super::Clientset) over bot-runtime's in-memory API
        /// server (`bot_runtime::fake`), which serves the built-in kinds and
        /// this crate's custom resources. Declared when bot-runtime's `fake`
        /// feature is on.
        pub mod fake {
            /// A fake cluster serving the built-in kinds and this crate's kinds.
            pub fn cluster() -> $crate::fake::FakeCluster {
                $crate::fake::FakeCluster::new().with_crds([$(<$kind as $crate::kube::CustomResourceExt>::crd()),*])
            }

            /// A clientset over a new, empty fake cluster, and the cluster
            /// (reactors, recorded actions, seeding).
            pub fn new_clientset() -> (super::Clientset, $crate::fake::FakeCluster) {
                let cluster = cluster();
                (super::Clientset::new(cluster.client()), cluster)
            }

            /// A clientset over a new fake cluster holding `objects`
            /// (client-gen's `NewSimpleClientset`), and the cluster.
            ///
            /// # Panics
            ///
            /// If an object cannot be stored (see `FakeCluster::with_objects`).
            pub fn new_simple_clientset<T: $crate::serde::Serialize>(
                objects: impl IntoIterator<Item = T>,
            ) -> (super::Clientset, $crate::fake::FakeCluster) {
                let cluster = cluster().with_objects(objects);
                (super::Clientset::new(cluster.client()), cluster)
            }
        }
    };
}

/// Errors of [`FakeCluster`]'s own methods (requests through the client
/// fail with [`kube::Error::Api`] as on a real cluster).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object could not be serialized to JSON.
    #[error("cannot serialize the object: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The stored object could not be read back as the requested type.
    #[error("cannot deserialize the stored object: {0}")]
    Deserialize(#[source] serde_json::Error),
    /// No registered kind has this apiVersion and kind.
    #[error("the fake cluster does not serve {0}; register it with with_crd or with_kind")]
    UnknownKind(String),
    /// The cluster refused the object (it exists, it has no name, ...).
    #[error("the fake cluster refused the object: {0}")]
    Rejected(#[source] Box<Status>),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An in-memory cluster; cheap to clone (clones share everything).
#[derive(Clone)]
pub struct FakeCluster {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("FakeCluster")
            .field("kinds", &state.kinds.iter().map(|k| format!("{}/{}", k.api_version(), k.kind)).collect::<Vec<_>>())
            .field("resource_version", &state.tracker.rv())
            .finish()
    }
}

impl Default for FakeCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeCluster {
    /// An empty cluster serving common built-in kinds: ConfigMap, Secret,
    /// Service, Pod, Namespace, ServiceAccount, Event (core and
    /// `events.k8s.io`), Lease, Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job.
    pub fn new() -> Self {
        let shared = Shared {
            state: Mutex::new(State::new(kinds::builtins())),
            changes: tokio::sync::watch::channel(0).0,
            reactors: Mutex::new(Vec::new()),
            actions: Mutex::new(Vec::new()),
        };
        FakeCluster { shared: Arc::new(shared) }
    }

    /// Serves the custom resource of `crd` (every served version).
    pub fn with_crd(self, crd: CustomResourceDefinition) -> Self {
        self.with_crds([crd])
    }

    /// Serves the custom resources of `crds`.
    pub fn with_crds(self, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Self {
        {
            let mut state = self.shared.state.lock();
            for crd in crds {
                for kind in Kind::from_crd(&crd) {
                    state.register(kind);
                }
            }
        }
        self
    }

    /// Serves kind `K` (a built-in kind not served out of the box): no
    /// status subresource, no generation, lists atomic for apply.
    pub fn with_kind<K>(self) -> Self
    where
        K: kube::Resource<DynamicType = ()>,
        K::Scope: Scoped,
    {
        self.shared.state.lock().register(Kind::of::<K>());
        self
    }

    /// Starts with `objects` (as created, without managedFields).
    ///
    /// # Panics
    ///
    /// If an object cannot be stored ([`FakeCluster::add`] returns the error):
    /// this is test set-up.
    pub fn with_objects<K: Serialize>(self, objects: impl IntoIterator<Item = K>) -> Self {
        for obj in objects {
            if let Err(e) = self.add_value(serde_json::to_value(&obj).map_err(Error::Serialize).unwrap_or_default()) {
                panic!("FakeCluster::with_objects: {e}");
            }
        }
        self
    }

    /// Stores `obj` as created (uid, resourceVersion, timestamps,
    /// generation, defaults), without managedFields; returns it as stored.
    /// Its `apiVersion` and `kind` must be set; a namespaced object without
    /// namespace goes to `default`.
    pub fn add<K: Serialize + DeserializeOwned>(&self, obj: &K) -> Result<K> {
        let stored = self.add_value(serde_json::to_value(obj).map_err(Error::Serialize)?)?;
        serde_json::from_value(stored).map_err(Error::Deserialize)
    }

    fn add_value(&self, obj: Value) -> Result<Value> {
        let mut state = self.shared.state.lock();
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind_name = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = state
            .kinds
            .iter()
            .position(|k| k.group == group && k.version == version && k.kind == kind_name)
            .ok_or_else(|| Error::UnknownKind(format!("{api_version}/{kind_name}")))?;
        let namespace = obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
        let call = Call::seed(kind, namespace, obj);
        let before = state.tracker.rv();
        let stored = write::seed(&mut state, &call).map_err(Error::Rejected)?.1;
        let rv = state.tracker.rv();
        drop(state);
        if rv != before {
            self.shared.changes.send_replace(rv);
        }
        Ok(stored)
    }

    /// A client of this cluster (default namespace `default`).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }

    /// The API server itself, to wrap in layers before [`kube::Client::new`].
    pub fn service(&self) -> FakeApiServer {
        FakeApiServer { shared: self.shared.clone() }
    }

    /// Answers `verb` on `resource` with `reaction` before the object
    /// tracker and before reactors added earlier (client-go's
    /// `PrependReactor`). `verb` and `resource` may be `"*"`; `resource`
    /// may name a subresource (`bots/status`). Reactions to `watch` can
    /// only fail it.
    ///
    /// ```
    /// # use bot_runtime::fake::{FakeCluster, status};
    /// let cluster = FakeCluster::new();
    /// // Every update of a ConfigMap conflicts, as if someone always wrote first.
    /// cluster.prepend_reactor("update", "configmaps", |action| {
    ///     Some(Err(status::conflict("configmaps", action.name.as_deref().unwrap_or_default())))
    /// });
    /// ```
    pub fn prepend_reactor(
        &self,
        verb: &str,
        resource: &str,
        reaction: impl Fn(&Action) -> Reaction + Send + Sync + 'static,
    ) {
        let reactor = Reactor { verb: verb.to_string(), resource: resource.to_string(), react: Arc::new(reaction) };
        self.shared.reactors.lock().insert(0, reactor);
    }

    /// Every request so far, in order (client-go's `Actions()`).
    pub fn actions(&self) -> Vec<Action> {
        self.shared.actions.lock().clone()
    }

    /// Forgets the recorded requests (client-go's `ClearActions()`).
    pub fn clear_actions(&self) {
        self.shared.actions.lock().clear();
    }

    /// The current resourceVersion (the number of writes so far).
    pub fn resource_version(&self) -> u64 {
        self.shared.state.lock().tracker.rv()
    }
}
