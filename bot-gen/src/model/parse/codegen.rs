//! The generated root type: `status`, `no_spec`, `schema`, `derive`, `attr`,
//! `doc`, `crates(...)`, and `label` / `annotation` (on the CRD and on
//! objects made by `Root::new`).

use syn::{DeriveInput, LitStr, Meta, Path, Token, meta::ParseNestedMeta, parenthesized, spanned::Spanned};

use super::{
    Draft,
    support::{did_you_mean, flag_or_bool, lit_str, skip_value, unknown_key},
};
use crate::model::{Crates, SchemaMode};

pub(crate) fn status(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let s = lit_str(meta)?;
    match s.parse::<Path>() {
        Ok(p) => d.status = Some((p, s.span())),
        Err(_) => d.diag.error(s.span(), "`status` must name a type: `status = \"MyStatus\"`"),
    }
    Ok(())
}

pub(crate) fn no_spec(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    if flag_or_bool(meta)? {
        d.no_spec = Some(meta.path.span());
    }
    Ok(())
}

pub(crate) fn schema(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let s = lit_str(meta)?;
    match SchemaMode::parse(&s.value()) {
        Some(mode) => d.schema = Some((mode, s.span())),
        None => {
            let hint = match did_you_mean(&s.value().to_ascii_lowercase(), &SchemaMode::NAMES) {
                Some(k) => format!("did you mean `{k}`?"),
                None => format!("expected one of: {}", SchemaMode::NAMES.join(", ")),
            };
            d.diag.error(s.span(), format!("unknown schema mode `{}`; {hint}", s.value()));
        }
    }
    Ok(())
}

pub(crate) fn derive(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let s = lit_str(meta)?;
    match s.parse::<Path>() {
        Ok(p) => d.derives.push(p),
        Err(_) => d.diag.error(s.span(), "`derive` must name a trait: `derive = \"PartialEq\"`"),
    }
    Ok(())
}

/// `attr = "..."`: any attribute but `derive`, `serde` and `schemars` (which
/// would fight the generated ones), as in kube-derive.
pub(crate) fn attr(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let s = lit_str(meta)?;
    let parsed: Meta = s.parse().map_err(|e| {
        syn::Error::new(s.span(), format!("`attr` must be an attribute such as `attr = \"allow(deprecated)\"`: {e}"))
    })?;
    let name = parsed.path().get_ident().map(|i| i.to_string()).unwrap_or_default();
    match name.as_str() {
        "derive" => d.diag.error(
            s.span(),
            "`attr = \"derive(..)\"` is not allowed; use `derive = \"Trait\"` (one per trait) instead",
        ),
        "serde" | "schemars" => d.diag.error(
            s.span(),
            format!("`attr = \"{name}(..)\"` is not allowed: the root type's `{name}` attributes are generated; put it on the spec type"),
        ),
        _ => d.attrs.push(parsed),
    }
    Ok(())
}

pub(crate) fn doc(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.doc = Some(lit_str(meta)?.value());
    Ok(())
}

pub(crate) fn label(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.labels.push(key_value_pair(meta)?);
    Ok(())
}

pub(crate) fn annotation(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.annotations.push(key_value_pair(meta)?);
    Ok(())
}

fn key_value_pair(meta: &ParseNestedMeta<'_>) -> syn::Result<(String, String)> {
    let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
    let usage = || format!("`{key}` takes two strings: `{key}(\"example.com/key\", \"value\")`");
    if !meta.input.peek(syn::token::Paren) {
        let err = meta.error(usage());
        skip_value(meta)?;
        return Err(err);
    }
    let content;
    parenthesized!(content in meta.input);
    let parsed = (|| -> syn::Result<(LitStr, LitStr)> {
        let k: LitStr = content.parse()?;
        content.parse::<Token![,]>()?;
        let v: LitStr = content.parse()?;
        if !content.is_empty() {
            return Err(content.error("unexpected token"));
        }
        Ok((k, v))
    })();
    match parsed {
        Ok((k, v)) => Ok((k.value(), v.value())),
        Err(e) => Err(syn::Error::new(e.span(), usage())),
    }
}

const CRATES: &[&str] = &["kube", "kube_core", "k8s_openapi", "schemars", "serde", "serde_json", "std"];

/// `crates(...)` as read; [`CratesDraft::finish`] applies the defaults.
#[derive(Default)]
pub(crate) struct CratesDraft {
    kube: Option<Path>,
    kube_core: Option<Path>,
    k8s_openapi: Option<Path>,
    schemars: Option<Path>,
    serde: Option<Path>,
    serde_json: Option<Path>,
    std: Option<Path>,
}

impl CratesDraft {
    /// kube-derive's defaults; `kube_core` defaults to `<kube>::core` when
    /// only `kube` is given.
    pub(crate) fn finish(self) -> Crates {
        let d = Crates::default();
        let kube_core = self.kube_core.unwrap_or_else(|| match &self.kube {
            Some(kube) => syn::parse_quote!(#kube::core),
            None => d.kube_core,
        });
        Crates {
            kube: self.kube.unwrap_or(d.kube),
            kube_core,
            k8s_openapi: self.k8s_openapi.unwrap_or(d.k8s_openapi),
            schemars: self.schemars.unwrap_or(d.schemars),
            serde: self.serde.unwrap_or(d.serde),
            serde_json: self.serde_json.unwrap_or(d.serde_json),
            std: self.std.unwrap_or(d.std),
        }
    }
}

pub(crate) fn crates(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    meta.parse_nested_meta(|inner| {
        let name = inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        let c = &mut d.crates;
        let slot = match name.as_str() {
            "kube" => &mut c.kube,
            "kube_core" => &mut c.kube_core,
            "k8s_openapi" => &mut c.k8s_openapi,
            "schemars" => &mut c.schemars,
            "serde" => &mut c.serde,
            "serde_json" => &mut c.serde_json,
            "std" => &mut c.std,
            _ => return unknown_key(&mut d.diag, &inner, "kube(crates", CRATES),
        };
        *slot = Some(lit_str(&inner)?.parse()?);
        Ok(())
    })
}

/// Fields a `no_spec` type cannot have: they are already at the root.
const RESERVED_ROOT_FIELDS: [&str; 5] = ["apiVersion", "api_version", "kind", "metadata", "status"];

/// The shape of the spec type against `no_spec`, and the root's name
/// against the spec's, as in kube-derive.
pub(crate) fn check(input: &DeriveInput, d: &mut Draft) {
    let root = d.root.as_ref().or(d.kind.as_ref()).map(LitStr::value);
    if root.as_deref().is_some_and(|r| input.ident == r) {
        let span = d.root.as_ref().or(d.kind.as_ref()).map_or_else(|| input.ident.span(), LitStr::span);
        d.diag.error(
            span,
            format!("the generated root type would be named `{}` like the spec type; rename the spec (e.g. `{}Spec`) or give `root = \"...\"`", input.ident, input.ident),
        );
    }
    if d.no_spec.is_none() {
        return;
    }
    let fields = match &input.data {
        syn::Data::Struct(s) => &s.fields,
        _ => {
            d.diag.error(
                input.ident.span(),
                "`kube(no_spec)` requires a struct with named fields; an enum has no properties to lift onto the root",
            );
            return;
        }
    };
    let syn::Fields::Named(named) = fields else {
        d.diag.error(
            input.ident.span(),
            "`kube(no_spec)` requires a struct with named fields; a tuple or unit struct has no properties to lift onto the root",
        );
        return;
    };
    for ident in named.named.iter().filter_map(|f| f.ident.as_ref()) {
        if RESERVED_ROOT_FIELDS.iter().any(|r| ident == r) {
            d.diag.error(
                ident.span(),
                format!("`kube(no_spec)` lifts this field onto the root object, where `{ident}` is already taken"),
            );
        }
    }
}
