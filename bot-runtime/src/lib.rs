//! The runtime under bot-gen's generated code: typed clients, indexed caches,
//! shared informers, listers, informer factories, a workqueue, a controller
//! runner, and a real local control plane for tests.
//!
//! The pieces mirror client-go: [`client::TypedClient`] (the verbs of a typed
//! clientset), [`store::Store`] (the `Indexer`), [`reflector`] (kube's
//! `watcher` into a store), [`informer::SharedIndexInformer`],
//! [`lister::Lister`], [`factory::InformerFactory`], [`queue::WorkQueue`] and
//! [`controller::Controller`].

pub mod client;
pub mod controller;
pub mod factory;
pub mod informer;
pub mod lister;
pub mod queue;
pub mod reflector;
pub mod store;

#[cfg(feature = "testenv")]
pub mod testenv;

pub use client::TypedClient;
pub use controller::{Action, Controller, enqueue_handler, enqueue_object_keys};
pub use factory::InformerFactory;
pub use informer::{EventHandler, HandlerFuncs, HandlerId, InformerConfig, SharedIndexInformer};
pub use lister::{Lister, NamespaceLister};
pub use queue::WorkQueue;
pub use store::{IndexFn, NAMESPACE_INDEX, ObjectKey, Store};

/// Re-exported so generated code and users need no direct dependency.
pub use json_patch;
/// Re-exported so generated code and users need no direct dependency (the
/// final binary still picks the Kubernetes version feature).
pub use k8s_openapi;
/// Re-exported so generated code and users need no direct dependency.
pub use kube;
