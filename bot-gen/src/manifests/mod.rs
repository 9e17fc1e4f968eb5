//! Manifests, as controller-gen writes them: the CRDs (one YAML file per
//! CRD) and the RBAC roles an operator needs, from `#[rbac(...)]` markers
//! placed next to the code that needs each permission.
//!
//! ```text
//! #[bot_derive::rbac(groups = "apps", resources = "deployments", verbs = ["get", "list", "watch"])]
//! async fn reconcile(..) { .. }
//! ```
//!
//! [`Manifests`] reads the markers from the source files (with `syn`, like
//! the rest of the generator: the attribute itself expands to its input
//! unchanged and only checks its arguments at compile time), merges them
//! into minimal rules ([`rbac::merge`]) and writes:
//!
//! - `<out>/crds/<group>_<plural>.yaml`, one per CRD given;
//! - `<out>/rbac.yaml`: a ClusterRole with the cluster-wide rules, a Role in
//!   each namespace markers name (`namespace = "..."`), and, given a
//!   service account, the account and a binding per role.
//!
//! Output is deterministic: rules, verbs, resources and files are sorted, and
//! files are rewritten only when their content changes. [`Manifests::check`]
//! fails when the files on disk are stale, for a test that keeps committed
//! manifests honest. The `bot-gen manifests` command does the same from the
//! command line; see `docs/manifests.md`.

pub mod marker;

#[cfg(feature = "emit")]
mod crd;
#[cfg(feature = "emit")]
mod generate;
#[cfg(feature = "emit")]
pub mod rbac;

#[cfg(feature = "emit")]
pub use generate::{HEADER, ManifestFile, Manifests, Written};

#[cfg(feature = "emit")]
pub use error::{Error, Result};

#[cfg(feature = "emit")]
mod error {
    use std::path::PathBuf;

    /// What can go wrong while generating manifests.
    #[derive(Debug, thiserror::Error)]
    pub enum Error {
        /// A file or directory could not be read or written.
        #[error("{path}: {source}")]
        Io {
            /// The file or directory.
            path: PathBuf,
            /// The underlying error.
            #[source]
            source: std::io::Error,
        },
        /// A source file is not valid Rust.
        #[error("{path}:{line}:{column}: {message}")]
        Syntax {
            /// The file.
            path: PathBuf,
            /// 1-based line.
            line: usize,
            /// 1-based column.
            column: usize,
            /// What syn said.
            message: String,
        },
        /// An `#[rbac(...)]` marker is invalid (the attribute reports the
        /// same at compile time).
        #[error("{path}:{line}:{column}: {message}")]
        Marker {
            /// The file.
            path: PathBuf,
            /// 1-based line of the offending key.
            line: usize,
            /// 1-based column of the offending key.
            column: usize,
            /// What is wrong.
            message: String,
        },
        /// A CRD given is not one, or cannot be serialized.
        #[error("{0}")]
        Crd(String),
        /// The options do not make sense together (no role name for the
        /// markers, two CRDs in one file, nothing to generate, ...).
        #[error("{0}")]
        Options(String),
        /// [`Manifests::check`](super::Manifests::check): files on disk differ from what would be generated.
        #[error("generated manifests are out of date: {}; regenerate them", .0.join("; "))]
        Stale(Vec<String>),
        /// No output directory was given and `OUT_DIR` is not set.
        #[error("no output directory: call Manifests::out_dir or run from a build script (OUT_DIR)")]
        NoOutDir,
        /// Output could not be rendered (a bug in bot-gen).
        #[error("bot-gen could not render a manifest (please report): {0}")]
        Internal(String),
    }

    /// Result alias of the manifest generator.
    pub type Result<T, E = Error> = std::result::Result<T, E>;
}
