//! bot-derive as a drop-in for kube-derive 5: kube-derive 5.0.0's own test
//! cases (its `tests/` as published and kube's `crd_derive*` examples),
//! rewritten here with the same input types, attributes and expected JSON,
//! each derived twice, once by `kube::CustomResource` and once by
//! `bot_derive::CustomResource`, and the two CRDs compared as YAML.
//!
//! The list of cases, with every exception and why, is in
//! `docs/migration.md` ("Evidence").

// The reproduced cases keep kube-derive's paths that the spec lacks
// (`.spec.replicas` on a spec without `replicas`): bot-derive warns about
// them through `#[deprecated]`, see `compat/warnings.rs`.
#![allow(deprecated)]
#![allow(missing_docs, dead_code, unreachable_pub)]
#![allow(clippy::duplicated_attributes, clippy::enum_variant_names)]

#[macro_use]
mod twin;

mod complex_enum;
mod enums;
mod examples;
mod mixed_enum;
mod no_spec;
mod plurals;
mod resource;
mod schema;
mod subresource;
mod tuple_spec;
