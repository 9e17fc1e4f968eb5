//! Errors of the generator.

use std::path::PathBuf;

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input file or directory could not be read, or output not written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An input file is not valid Rust.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What syn said.
        message: String,
    },
    /// An annotated type has invalid `#[kube]` / `#[genclient]` attributes
    /// (the derive reports the same at compile time, with spans).
    #[error("{path}:{line}:{column}: {message}")]
    Attribute {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key.
        line: usize,
        /// 1-based column of the offending key.
        column: usize,
        /// The message, naming the key and the fix.
        message: String,
    },
    /// The resources cannot be generated together.
    #[error("{0}")]
    Conflict(String),
    /// `OUT_DIR` is not set and no output directory was given.
    #[error("no output directory: call Config::out_dir or run from a build script (OUT_DIR)")]
    NoOutDir,
    /// The generated code did not parse (a bug in bot-gen).
    #[error("bot-gen produced invalid Rust (please report): {0}")]
    Internal(String),
}

/// Result alias of the generator.
pub type Result<T, E = Error> = std::result::Result<T, E>;
