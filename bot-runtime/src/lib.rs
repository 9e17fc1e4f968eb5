//! The runtime under bot-gen's generated code: typed clients, indexed caches,
//! shared informers, listers, informer factories, a workqueue, a controller
//! runner, and a real local control plane for tests.
//!
//! The pieces mirror client-go: [`client::TypedClient`] (the verbs of a typed
//! clientset), [`store::Store`] (the `Indexer`), [`reflector`] (kube's
//! `watcher` into a store), [`informer::SharedIndexInformer`],
//! [`lister::Lister`], [`factory::InformerFactory`], [`queue::WorkQueue`] and
//! [`controller::Controller`].
//!
//! Server-side apply: [`apply`] (typed apply configurations, which bot-gen
//! generates per kind, and client-go's `ExtractX` over `managedFields`).
//!
//! For production operators: [`leader`] (leader election on a Lease),
//! [`events::EventRecorder`] (Events aggregated into series),
//! [`finalizer::finalizer`] (cleanup before deletion, conflict-safe
//! patches), [`dynamic::DynamicInformerFactory`] (informers for kinds known
//! at run time) and, with the `server` feature, `server::OperatorServer`
//! (`/metrics`, `/healthz`, `/readyz`).
//!
//! Selectors: [`selector`] (client-go's label and field selector strings).
//!
//! Under faults (docs/reliability.md): informers notice a dead watch
//! connection within 25 s, retry with jittered backoff reset by success,
//! skip and report objects their type cannot decode, and report their
//! health ([`informer::SharedIndexInformer::health`]).
//!
//! ```no_run
//! use bot_runtime::{Action, Controller, InformerFactory, ObjectKey, WorkQueue, enqueue_object_keys};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! # async fn demo(client: kube::Client) {
//! let factory = InformerFactory::new(client, None)
//!     .with_namespace("default")
//!     .with_transform(|meta| meta.managed_fields = None);
//! let configmaps = factory.informer_for::<ConfigMap>();
//! let queue = WorkQueue::<ObjectKey>::new();
//! configmaps.add_event_handler(enqueue_object_keys(queue.clone()));
//! factory.start();
//! factory.wait_for_cache_sync().await;
//!
//! let lister = configmaps.lister();
//! let reconcile = move |key: ObjectKey| {
//!     let lister = lister.clone();
//!     async move {
//!         match lister.namespaced(key.namespace.as_deref().unwrap_or_default()).get(&key.name) {
//!             Ok(cm) => println!("reconcile {:?}", cm.metadata.name),
//!             Err(e) if e.is_not_found() => println!("{key} is gone"),
//!             Err(e) => return Err(e),
//!         }
//!         Ok(Action::Done)
//!     }
//! };
//! Controller::new("configmaps", queue, reconcile).workers(4).run(tokio::signal::ctrl_c().map(|_| ())).await;
//! factory.shutdown().await;
//! # }
//! # use futures::FutureExt;
//! ```

pub mod apply;
pub mod client;
pub mod controller;
pub mod dynamic;
pub mod events;
pub mod factory;
pub mod finalizer;
pub mod informer;
pub mod leader;
pub mod lister;
pub mod metrics;
pub mod protobuf;
pub mod queue;
pub mod reflector;
pub mod selector;
pub mod store;

#[cfg(feature = "server")]
pub mod server;

#[cfg(feature = "fake")]
pub mod fake;

/// Without the `fake` feature, the fake clientset generated code asks for
/// (`clientset::fake`, see `fake::__fake_clientset`) is not emitted.
#[cfg(not(feature = "fake"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __fake_clientset {
    ($($tt:tt)*) => {};
}

#[cfg(feature = "testenv")]
pub mod testenv;

pub use client::TypedClient;
pub use controller::{Action, Controller, Stopped, enqueue_handler, enqueue_object_keys};
pub use dynamic::{DynamicInformerFactory, DynamicLister, DynamicSharedInformer};
pub use events::EventRecorder;
pub use factory::InformerFactory;
pub use finalizer::finalizer;
pub use informer::{
    EventHandler, HandlerFuncs, HandlerId, HandlerRegistration, InformerConfig, InformerHealth, SharedIndexInformer,
};
pub use leader::{LeaderElectionConfig, LeaderElector, LeaderGate, LeaderQueue, Leadership};
pub use lister::{Lister, NamespaceLister};
pub use queue::{Priority, WorkQueue};
pub use selector::{FieldSelector, LabelSelector};
pub use store::{IndexFn, NAMESPACE_INDEX, ObjectKey, ObjectKeyRef, Store, Writer};

#[cfg(feature = "server")]
pub use server::{OperatorServer, SharedRegistry};

/// Re-exported so generated code and users need no direct dependency.
pub use json_patch;
/// Re-exported so generated code and users need no direct dependency (the
/// final binary still picks the Kubernetes version feature).
pub use k8s_openapi;
/// Re-exported so generated code and users need no direct dependency.
pub use kube;

/// Re-exported for generated code.
pub use serde;
/// Re-exported for generated code.
pub use serde_json;

/// Pulls bot-gen's generated code (modules `clientset`, `listers`,
/// `informers`, `applyconfigurations`) into the current module: the one line
/// a user writes after calling `bot_gen::Config::generate()` in build.rs.
#[macro_export]
macro_rules! include_generated {
    () => {
        include!(concat!(env!("OUT_DIR"), "/bot_gen.rs"));
    };
}
