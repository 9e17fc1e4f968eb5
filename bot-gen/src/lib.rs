//! Build-time generator for Kubernetes custom resources: reads structs
//! annotated with `#[derive(CustomResource)]`, `#[kube(...)]` and
//! `#[genclient(...)]` and emits, over `bot-runtime`:
//!
//! - a **clientset**: `Clientset::new(client).botops_v1alpha1().bots("ns")`, a
//!   typed client with exactly the verbs `#[genclient]` allows;
//! - **listers**: `BotLister { list(&selector), bots(ns) -> { list, get } }`
//!   over an informer's indexed cache;
//! - **informers**: `SharedInformerFactory` with
//!   `factory.botops().v1alpha1().bots() -> { informer(), lister() }`;
//! - **apply configurations** (client-go's applyconfiguration-gen):
//!   `BotApply::new("name", "ns").spec(BotSpecApply::default().replicas(2))`,
//!   an all-optional `<Type>Apply` for every struct the spec and status use
//!   (serde renames copied from the source), and `extract_bot(&obj, manager)`
//!   for the fields a manager owns.
//!
//! In `build.rs` (the output goes to `OUT_DIR`, formatted, `@generated`,
//! rewritten only when it changes, with `cargo:rerun-if-changed` per input):
//!
//! ```no_run
//! bot_gen::Config::new().input("src/v1alpha1.rs").generate().unwrap();
//! ```
//!
//! and in the crate, one line pulls the code in (modules `clientset`,
//! `listers`, `informers`, `applyconfigurations`):
//!
//! ```text
//! bot_runtime::include_generated!();
//! ```
//!
//! The pipeline is parse -> model -> emit: [`model`] is the one parser of the
//! attributes (bot-derive uses it too, so the derive and the generator always
//! agree); `emit` renders the model with `quote` and formats it with
//! `prettyplease`.
//!
//! [`manifests`] writes what controller-gen writes: the CRDs, one YAML file
//! each, and the RBAC roles from `#[rbac(...)]` markers in the operator's
//! code (`bot-gen manifests` on the command line).

pub mod manifests;
pub mod model;

#[cfg(feature = "emit")]
mod config;
#[cfg(feature = "emit")]
pub mod emit;
#[cfg(feature = "emit")]
mod error;

#[cfg(feature = "emit")]
pub use config::{Config, Generated, OUTPUT_FILE};
#[cfg(feature = "emit")]
pub use error::{Error, Result};
