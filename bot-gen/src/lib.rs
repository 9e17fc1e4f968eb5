//! Build-time generator for Kubernetes custom resources: reads structs
//! annotated with `#[derive(CustomResource)]`, `#[kube(...)]` and
//! `#[genclient(...)]` and emits typed clientsets, caching listers and shared
//! informers over `bot-runtime`.
//!
//! The [`model`] module is the one parser of those attributes; `bot-derive`
//! uses it too, so the derive and the generator always agree.

pub mod model;
