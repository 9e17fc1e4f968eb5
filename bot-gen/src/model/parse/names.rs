//! Names, scope and version flags: `group`, `version`, `kind`, `plural`,
//! `singular`, `root`, `namespaced`, `shortname`, `category`, `storage`,
//! `served`, `deprecated`.
//!
//! kube-derive accepts any string here; values the API server would refuse
//! (an upper-case plural, a version such as `one`) are warnings, not errors.

use proc_macro2::Span;
use syn::{Token, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    support::{flag_or_bool, lit_str, set_once},
};

pub(crate) fn group(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.group, meta, &mut d.diag)
}

pub(crate) fn version(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.version, meta, &mut d.diag)
}

pub(crate) fn kind(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.kind, meta, &mut d.diag)
}

pub(crate) fn plural(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.plural, meta, &mut d.diag)
}

pub(crate) fn singular(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.singular, meta, &mut d.diag)
}

pub(crate) fn root(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    set_once(&mut d.root, meta, &mut d.diag)
}

pub(crate) fn namespaced(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    if flag_or_bool(meta)? {
        d.namespaced = Some(meta.path.span());
    }
    Ok(())
}

pub(crate) fn shortname(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.shortnames.push(lit_str(meta)?.value());
    Ok(())
}

pub(crate) fn category(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.categories.push(lit_str(meta)?.value());
    Ok(())
}

pub(crate) fn storage(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.storage = Some(flag_or_bool(meta)?);
    Ok(())
}

pub(crate) fn served(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.served = Some(flag_or_bool(meta)?);
    Ok(())
}

pub(crate) fn deprecated(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.deprecated = Some(if meta.input.peek(Token![=]) { Some(lit_str(meta)?.value()) } else { None });
    Ok(())
}

/// `group`, `version` and `kind` are required (unless given with a bad value,
/// which has its own error).
pub(crate) fn check_required(d: &mut Draft, span: Span) {
    for (key, missing) in [("group", d.group.is_none()), ("version", d.version.is_none()), ("kind", d.kind.is_none())] {
        if missing && !d.seen.contains(key) {
            d.diag.error(span, format!("#[kube(...)] is missing `{key} = \"...\"`"));
        }
    }
}

/// Whether `s` is exactly a plain Rust identifier, one `Ident::new` takes
/// (`parse_str` alone also accepts surrounding whitespace and raw `r#`
/// identifiers, on which `Ident::new` panics).
pub(crate) fn is_ident(s: &str) -> bool {
    !s.starts_with("r#") && syn::parse_str::<syn::Ident>(s).is_ok_and(|i| i == s)
}

/// Errors where the root type cannot be generated; warnings where the API
/// server would refuse the CRD.
pub(crate) fn check(d: &mut Draft) {
    if let Some(r) = &d.root
        && !is_ident(&r.value())
    {
        let msg =
            format!("`root = \"{}\"` is not a Rust identifier; use a type name such as `root = \"Bot\"`", r.value());
        d.diag.error(r.span(), msg);
    }
    if let Some(k) = &d.kind {
        let s = k.value();
        if d.root.is_none() && !is_ident(&s) {
            let msg = format!(
                "`kind = \"{s}\"` names the generated root type but is not a Rust identifier; \
                 use CamelCase such as `kind = \"Bot\"`, or name the type with `root = \"...\"`"
            );
            d.diag.error(k.span(), msg);
        } else if !s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            || !s.chars().all(|c| c.is_ascii_alphanumeric())
        {
            d.diag.warn(k.span(), format!("`kind = \"{s}\"` should be CamelCase alphanumerics, such as `Bot`"));
        }
    }
    if let Some(g) = &d.group {
        let v = g.value();
        if v.is_empty() || v.contains(['/', ' ']) || v != v.to_ascii_lowercase() {
            let msg = format!(
                "`group = \"{v}\"` is not a DNS subdomain such as `example.com`; the API server will refuse the CRD"
            );
            d.diag.warn(g.span(), msg);
        }
    }
    if let Some(v) = &d.version {
        let s = v.value();
        let valid = s.strip_prefix('v').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if !valid {
            let msg = format!(
                "`version = \"{s}\"` should look like `v1`, `v1beta1` or `v1alpha1`; the API server will refuse the CRD"
            );
            d.diag.warn(v.span(), msg);
        }
    }
    for (name, lit) in [("plural", &d.plural), ("singular", &d.singular)] {
        if let Some(l) = lit {
            let s = l.value();
            if s != s.to_ascii_lowercase() || s.is_empty() {
                let msg = format!("`{name} = \"{s}\"` must be lower case; the API server will refuse the CRD");
                d.diag.warn(l.span(), msg);
            }
        }
    }
}
