//! Parses `#[kube(...)]` and `#[genclient(...)]` on a spec type into a
//! [`ResourceModel`], collecting every error with the span of its key.
//!
//! One module per attribute family, as kube-derive splits its attributes
//! (kube-rs#2050): [`names`] (names, scope, versions), [`printcolumn`],
//! [`scale`], [`selectable`], [`validation`], [`codegen`] (status, schema,
//! no_spec, crates, derive, attr, doc, labels and annotations),
//! [`genclient`], and [`serde_names`] (the serialized field names JSONPaths
//! are checked against). They are driven by one table, [`keys`]: the keys it
//! lists are the keys accepted, the keys "did you mean" suggests, and the
//! keys docs/migration.md must name (a test checks).

mod codegen;
mod genclient;
mod keys;
mod names;
mod printcolumn;
mod scale;
mod selectable;
mod serde_names;
mod support;
#[cfg(test)]
mod tests;
mod validation;

use std::collections::BTreeSet;

use proc_macro2::Span;
use syn::{DeriveInput, Expr, LitStr, Meta, Path, spanned::Spanned};

pub use keys::{Family, KeyDef, genclient_keys, kube_keys};
pub use support::Errors;

use super::{PrintColumn, ResourceModel, Scale, SchemaMode, default_names};
use support::Diagnostics;

/// What the `#[kube]` keys said so far; each family's handlers fill their part.
#[derive(Default)]
pub(crate) struct Draft {
    pub(crate) diag: Diagnostics,
    /// Keys present, even with a bad value (no "missing" error for those).
    pub(crate) seen: BTreeSet<String>,
    pub(crate) group: Option<LitStr>,
    pub(crate) version: Option<LitStr>,
    pub(crate) kind: Option<LitStr>,
    pub(crate) plural: Option<LitStr>,
    pub(crate) singular: Option<LitStr>,
    pub(crate) root: Option<LitStr>,
    pub(crate) namespaced: Option<Span>,
    pub(crate) shortnames: Vec<String>,
    pub(crate) categories: Vec<String>,
    pub(crate) storage: Option<bool>,
    pub(crate) served: Option<bool>,
    pub(crate) deprecated: Option<Option<String>>,
    pub(crate) status: Option<(Path, Span)>,
    pub(crate) no_spec: Option<Span>,
    pub(crate) schema: Option<(SchemaMode, Span)>,
    pub(crate) printcolumns: Vec<(PrintColumn, Span)>,
    pub(crate) selectable: Vec<(String, Span)>,
    pub(crate) scale: Option<(Scale, Span)>,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) annotations: Vec<(String, String)>,
    pub(crate) validations: Vec<Expr>,
    pub(crate) cel: Option<Span>,
    pub(crate) derives: Vec<Path>,
    pub(crate) attrs: Vec<Meta>,
    pub(crate) doc: Option<String>,
    pub(crate) crates: codegen::CratesDraft,
}

/// Parses the `#[kube]` and `#[genclient]` attributes of `input` into a model.
///
/// Every problem is reported, each at the span of the key it is about; the
/// returned error combines them all.
pub fn parse_resource(input: &DeriveInput) -> Result<ResourceModel, syn::Error> {
    match parse_resource_partial(input) {
        (Some(model), None) => Ok(model),
        (_, Some(err)) => Err(err),
        (None, None) => unreachable!("no model and no error"),
    }
}

/// Like [`parse_resource`], but on errors also returns the best model that
/// can be read (missing group or version filled in), so the derive can emit a
/// root type with the user's `derive`s, status and names next to the errors
/// and they are the only errors. The model is `None` when the root type
/// cannot be named (no usable `kind`).
pub fn parse_resource_partial(input: &DeriveInput) -> (Option<ResourceModel>, Option<syn::Error>) {
    let mut draft = Draft::default();
    let mut kube_attr_span = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("kube")) {
        kube_attr_span.get_or_insert(attr.span());
        let res = attr.parse_nested_meta(|meta| {
            let r = keys::dispatch(&meta, &mut draft);
            support::recover(&meta, r, &mut draft.diag)
        });
        if let Err(e) = res {
            draft.diag.errors.push_err(e);
        }
    }
    let genclient = genclient::parse(&input.attrs, &mut draft.diag);
    let span = kube_attr_span.unwrap_or_else(|| input.ident.span());
    if kube_attr_span.is_none() {
        draft.diag.error(
            input.ident.span(),
            "#[derive(CustomResource)] needs a `#[kube(group = \"...\", version = \"...\", kind = \"...\")]` attribute",
        );
    } else {
        names::check_required(&mut draft, span);
    }
    check(input, &mut draft, &genclient);

    let model = build(input, draft.take_model_parts(), genclient, span);
    let Draft { diag, .. } = draft;
    let Diagnostics { errors, warnings } = diag;
    let model = model.map(|mut m| {
        m.warnings = warnings;
        m
    });
    (model, errors.into_error())
}

/// Every check across families, after all keys are read.
fn check(input: &DeriveInput, draft: &mut Draft, genclient: &genclient::GenClient) {
    names::check(draft);
    codegen::check(input, draft);
    validation::check(draft);
    let fields = if draft.no_spec.is_some() { None } else { serde_names::spec_field_names(input) };
    let spec = selectable::SpecFields { ident: &input.ident, fields: fields.as_deref() };
    printcolumn::check(draft, &spec);
    selectable::check(draft, &spec);
    scale::check(draft, &spec);
    genclient::check(draft, genclient);
}

/// The parts of a draft the model is built from (the diagnostics stay).
struct Parts(Draft);

impl Draft {
    fn take_model_parts(&mut self) -> Parts {
        let mut parts = std::mem::take(self);
        std::mem::swap(&mut self.diag, &mut parts.diag);
        Parts(parts)
    }
}

/// The model from what was read; placeholders where a required key is
/// missing or bad, `None` when the root type cannot be named (or would take
/// the spec type's name).
fn build(input: &DeriveInput, Parts(d): Parts, genclient: genclient::GenClient, span: Span) -> Option<ResourceModel> {
    let valid_ident = names::is_ident;
    let kind = d.kind.map(|k| k.value()).filter(|k| valid_ident(k));
    let root = d.root.map(|r| r.value()).filter(|r| valid_ident(r));
    let root_name = root.or_else(|| kind.clone()).filter(|r| input.ident != r)?;
    let kind = kind.unwrap_or_else(|| root_name.clone());
    let (singular, plural) =
        default_names(&kind, d.singular.map(|s| s.value()).as_deref(), d.plural.map(|s| s.value()).as_deref());
    let has_status = d.status.is_some();
    Some(ResourceModel {
        spec_ident: input.ident.clone(),
        vis: input.vis.clone(),
        root_ident: syn::Ident::new(&root_name, Span::call_site()),
        group: d.group.map_or_else(|| "invalid.example.com".into(), |g| g.value()),
        version: d.version.map_or_else(|| "v1".into(), |v| v.value()),
        kind,
        plural,
        singular,
        namespaced: d.namespaced.is_some(),
        status: d.status.map(|(p, _)| p),
        no_spec: d.no_spec.is_some(),
        shortnames: d.shortnames,
        categories: d.categories,
        printcolumns: d.printcolumns.into_iter().map(|(p, _)| p).collect(),
        selectable: d.selectable.into_iter().map(|(p, _)| p).collect(),
        scale: d.scale.map(|(s, _)| s),
        labels: d.labels,
        annotations: d.annotations,
        storage: d.storage.unwrap_or(true),
        served: d.served.unwrap_or(true),
        deprecated: d.deprecated,
        validations: d.validations,
        cel: d.cel.is_some(),
        derives: d.derives,
        attrs: d.attrs,
        doc: d.doc,
        schema: d.schema.map(|(s, _)| s).unwrap_or_default(),
        verbs: genclient.verbs_for(has_status),
        methods: genclient.methods.into_iter().map(|(m, _)| m).collect(),
        crates: d.crates.finish(),
        warnings: Vec::new(),
        span,
    })
}
