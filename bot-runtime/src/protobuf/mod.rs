//! Lists and watches of built-in kinds in protobuf, as client-go makes them.
//!
//! client-go's typed clients ask for `application/vnd.kubernetes.protobuf`
//! for built-in kinds (ConfigMaps, Pods, Deployments, ...), and the
//! apiserver encodes protobuf much faster than JSON: on the local v1.36
//! control plane it streams 10,000 ConfigMaps in about 170 ms as protobuf
//! and 300 ms as JSON (docs/benchmarks.md). kube-client only speaks JSON.
//!
//! [`client`] wraps a [`kube::Client`] so that its lists and watches of
//! built-in collections are requested in protobuf and each watch event (or
//! each list, whole) is turned back, as it arrives, into exactly the JSON
//! the apiserver would have sent
//! (Go's `encoding/json` rules for the same object, from a table generated
//! from k8s.io/api: `make proto-schema`). Everything above the transport
//! (kube's watcher, the informer's per-object decoding) is unchanged.
//! Custom resources, aggregated APIs, single objects, subresources, writes
//! and requests for another representation (metadata-only, tables) go
//! through as they are. [`SharedIndexInformer`](crate::SharedIndexInformer) does this by
//! default; [`InformerConfig::prefer_json`](crate::InformerConfig::prefer_json)
//! turns it off.
//!
//! An event or list this table cannot turn into JSON (a kind newer than
//! the table, a malformed frame) ends that watch or list with an error;
//! the collection is then read in JSON for the client's lifetime, so
//! nothing is decoded wrongly, and a warning says so once.

mod client;
mod json;
mod schema;
mod wire;

pub use client::{ProtobufWatches, ResponseBody, client};

/// What went wrong turning protobuf into JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not valid protobuf.
    #[error("malformed protobuf: {0}")]
    Malformed(&'static str),
    /// An embedded object without the `k8s\0` prefix.
    #[error("an embedded object without the Kubernetes protobuf prefix")]
    NoEnvelope,
    /// A kind the table does not have (an apiserver newer than this crate).
    #[error("no protobuf table entry for {api_version} {kind}")]
    UnknownKind {
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
    /// A field's wire type is not the one the table says.
    #[error("field {field} of {message} does not have the wire type the table says")]
    Mismatch {
        /// The message (`core/v1.ConfigMap`).
        message: &'static str,
        /// The field number.
        field: u32,
    },
    /// A value with the wrong wire type (reported as [`Error::Mismatch`] with its field).
    #[error("a value with an unexpected wire type")]
    WireType,
    /// A compressed object (`contentEncoding`), which the apiserver does not send.
    #[error("content encoding {0:?} is not supported")]
    Encoding(String),
    /// Embedded JSON (`RawExtension`, `FieldsV1`) that is not well formed.
    #[error("malformed embedded JSON")]
    Json,
    /// A frame longer than [`MAX_FRAME`].
    #[error("a watch frame of {0} bytes (more than the limit)")]
    FrameTooLarge(usize),
    /// The stream ended inside a frame.
    #[error("the watch stream ended inside a frame")]
    Truncated,
}

/// The largest watch frame read (the apiserver's own request limit is 3 MiB
/// per object; this leaves room for large lists of embedded objects).
pub const MAX_FRAME: usize = 64 << 20;

/// Whether watches of `group` (`""` for core) / `version` are requested in
/// protobuf by [`client`]: the group-version has built-in kinds.
pub fn is_builtin(group: &str, version: &str) -> bool {
    schema::schema().has_group_version(group, version)
}

/// Where the kinds table came from (k8s.io/api's version).
pub fn table_origin() -> &'static str {
    schema::schema().origin
}

/// One frame of a protobuf watch stream (a `metav1.WatchEvent`, without its
/// 4-byte length) as one line of a JSON watch stream, appended to `out`
/// (newline included).
pub fn watch_event_to_json(frame: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    json::Transcoder::new(schema::schema(), false).watch_event(frame, out)
}

/// An enveloped protobuf object (`k8s\0` + `runtime.Unknown`, as the
/// apiserver sends it) as the JSON the apiserver would send for it.
pub fn object_to_json(enveloped: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(enveloped.len() * 5 / 4);
    json::Transcoder::new(schema::schema(), false).object(enveloped, &mut out)?;
    Ok(out)
}
