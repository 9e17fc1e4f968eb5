//! client-gen's options in `#[genclient(...)]`: which verbs the typed client
//! has, and extra methods on subresources.

use proc_macro2::Span;
use syn::{Attribute, Ident, Path, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    keys::{genclient_keys, names_of},
    support::{Diagnostics, did_you_mean, flag_or_bool, lit_str, name_list, recover, unknown_key},
};
use crate::model::{ExtraMethod, Verb, VerbSet};

/// The options as read, before they are checked against `#[kube]`.
#[derive(Default)]
pub(crate) struct GenClient {
    verbs: VerbSet,
    no_status: bool,
    non_namespaced: Option<Span>,
    explicit_status_verbs: Vec<(Verb, Span)>,
    pub(crate) methods: Vec<(ExtraMethod, Span)>,
}

impl GenClient {
    /// The verbs, without the status verbs when there is no status.
    pub(crate) fn verbs_for(&self, has_status: bool) -> VerbSet {
        let mut verbs = self.verbs;
        if !has_status || self.no_status {
            verbs.remove(Verb::UpdateStatus);
            verbs.remove(Verb::ApplyStatus);
        }
        verbs
    }
}

/// The keys as written, before the verb set is worked out.
#[derive(Default)]
struct Keys {
    no_status: bool,
    no_verbs: Option<Span>,
    readonly: Option<Span>,
    non_namespaced: Option<Span>,
    only: Option<(Vec<(Verb, Span)>, Span)>,
    skip: Vec<(Verb, Span)>,
    methods: Vec<(ExtraMethod, Span)>,
}

pub(crate) fn parse(attrs: &[Attribute], diag: &mut Diagnostics) -> GenClient {
    let mut keys = Keys::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("genclient")) {
        if matches!(attr.meta, syn::Meta::Path(_)) {
            continue; // bare #[genclient]: all defaults
        }
        let res = attr.parse_nested_meta(|meta| {
            let r = read_key(&meta, &mut keys, diag);
            recover(&meta, r, diag)
        });
        if let Err(e) = res {
            diag.errors.push_err(e);
        }
    }
    resolve(keys, diag)
}

fn read_key(meta: &ParseNestedMeta<'_>, keys: &mut Keys, diag: &mut Diagnostics) -> syn::Result<()> {
    let raw = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
    let key = crate::model::to_snake(&raw);
    let span = meta.path.span();
    let flag = |set: bool| set.then_some(span);
    match key.as_str() {
        "no_status" => keys.no_status = flag_or_bool(meta)?,
        "no_verbs" => keys.no_verbs = flag(flag_or_bool(meta)?),
        "readonly" => keys.readonly = flag(flag_or_bool(meta)?),
        "non_namespaced" => keys.non_namespaced = flag(flag_or_bool(meta)?),
        "only_verbs" | "skip_verbs" => {
            let verbs = verb_list(meta, &key, diag)?;
            if key == "only_verbs" {
                keys.only = Some((verbs, span));
            } else {
                keys.skip.extend(verbs);
            }
        }
        "method" => {
            if let Some(m) = parse_method(meta, diag)? {
                keys.methods.push((m, span));
            }
        }
        _ => return unknown_key(diag, meta, "genclient", &names_of(genclient_keys())),
    }
    Ok(())
}

fn verb_list(meta: &ParseNestedMeta<'_>, key: &str, diag: &mut Diagnostics) -> syn::Result<Vec<(Verb, Span)>> {
    let mut verbs = Vec::new();
    for (name, vspan) in name_list(meta)? {
        match Verb::parse(&name) {
            Some(v) => verbs.push((v, vspan)),
            None => {
                let names: Vec<&str> = Verb::ALL.iter().map(|v| v.name()).collect();
                let hint = match did_you_mean(&name, &names) {
                    Some(k) => format!("did you mean `{k}`?"),
                    None => format!("expected one of: {}", names.join(", ")),
                };
                diag.error(vspan, format!("unknown verb `{name}` in `{key}`; {hint}"));
            }
        }
    }
    Ok(verbs)
}

/// The verb set from the keys, with their conflicts.
fn resolve(keys: Keys, diag: &mut Diagnostics) -> GenClient {
    let Keys { no_status, no_verbs, readonly, non_namespaced, only, skip, methods } = keys;
    let mut verbs = VerbSet::all();
    let mut explicit_status_verbs = Vec::new();
    if no_verbs.is_some() {
        verbs = VerbSet::empty();
        if let Some(r) = readonly {
            diag.error(r, "`readonly` conflicts with `no_verbs`; keep one of them");
        }
        if let Some((_, s)) = &only {
            diag.error(*s, "`only_verbs` conflicts with `no_verbs`; keep one of them");
        }
    }
    if readonly.is_some() {
        if no_verbs.is_none() {
            verbs = VerbSet::readonly();
        }
        if let Some((_, s)) = &only {
            diag.error(*s, "`only_verbs` conflicts with `readonly` (which means only_verbs(get, list, watch))");
        }
    }
    if let Some((list, _)) = &only {
        if no_verbs.is_none() && readonly.is_none() {
            verbs = list.iter().map(|(v, _)| *v).collect();
        }
        explicit_status_verbs.extend(list.iter().filter(|(v, _)| v.is_status()).copied());
    }
    for (v, s) in &skip {
        if let Some((list, _)) = &only
            && list.iter().any(|(o, _)| o == v)
        {
            diag.error(*s, format!("verb `{v}` is both in `only_verbs` and in `skip_verbs`; keep it in one"));
        }
        verbs.remove(*v);
    }
    if no_status {
        for (v, s) in &explicit_status_verbs {
            diag.error(*s, format!("verb `{v}` conflicts with `no_status`"));
        }
        explicit_status_verbs.clear();
    }
    GenClient { verbs, no_status, non_namespaced, explicit_status_verbs, methods }
}

fn parse_method(meta: &ParseNestedMeta<'_>, diag: &mut Diagnostics) -> syn::Result<Option<ExtraMethod>> {
    let span = meta.path.span();
    let mut name: Option<Ident> = None;
    let mut bad_name = false;
    let mut verb: Option<(Verb, Span)> = None;
    let (mut subresource, mut input, mut result) = (None, None, None);
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("name") => {
                let s = lit_str(&inner)?;
                let snake = crate::model::to_snake(&s.value());
                if super::names::is_ident(&snake) {
                    name = Some(Ident::new(&snake, s.span()));
                } else {
                    bad_name = true;
                    diag.error(s.span(), format!("method `name = \"{}\"` is not a Rust identifier", s.value()));
                }
            }
            Some("verb") => {
                let s = lit_str(&inner)?;
                match Verb::parse(&s.value()) {
                    Some(v) => verb = Some((v, s.span())),
                    None => diag.error(s.span(), format!("unknown verb `{}`", s.value())),
                }
            }
            Some("subresource") => subresource = Some(lit_str(&inner)?.value()),
            Some("input") => input = Some(lit_str(&inner)?.parse::<Path>()?),
            Some("result") => result = Some(lit_str(&inner)?.parse::<Path>()?),
            _ => {
                let known = ["name", "verb", "subresource", "input", "result"];
                return unknown_key(diag, &inner, "genclient(method", &known);
            }
        }
        Ok(())
    })?;
    if bad_name {
        return Ok(None);
    }
    let (Some(name), Some((verb, vspan))) = (name, verb) else {
        diag.error(span, "`method(...)` needs `name = \"...\"` and `verb = \"...\"`");
        return Ok(None);
    };
    if matches!(verb, Verb::UpdateStatus | Verb::DeleteCollection | Verb::Watch | Verb::Delete) {
        diag.error(vspan, format!("extra methods cannot use verb `{verb}`; use get, create, update, patch or apply"));
        return Ok(None);
    }
    Ok(Some(ExtraMethod { name, verb, subresource, input, result }))
}

/// `#[genclient]` against `#[kube]`: scope, status verbs and subresource
/// methods need what they use.
pub(crate) fn check(d: &mut Draft, g: &GenClient) {
    if let (Some(_), Some(non_ns)) = (d.namespaced, g.non_namespaced) {
        d.diag.error(non_ns, "`non_namespaced` conflicts with #[kube(namespaced)]; keep one of them");
    }
    let has_status = d.status.is_some();
    if !has_status {
        for (verb, vspan) in &g.explicit_status_verbs {
            d.diag.error(
                *vspan,
                format!("verb `{verb}` needs a status type; add `status = \"...\"` to #[kube(...)] or drop the verb"),
            );
        }
    }
    for (m, mspan) in &g.methods {
        match m.subresource.as_deref() {
            Some("scale") if d.scale.is_none() || !has_status => d.diag.error(
                *mspan,
                format!(
                    "method `{}` uses the `scale` subresource but #[kube(...)] declares none; add `status = \"...\"` and \
                     `scale(spec_replicas_path = \".spec.replicas\", status_replicas_path = \".status.replicas\")`",
                    m.name
                ),
            ),
            Some("status") if !has_status => d.diag.error(
                *mspan,
                format!(
                    "method `{}` uses the `status` subresource but the resource has no status; add `status = \"...\"` to #[kube(...)]",
                    m.name
                ),
            ),
            _ => {}
        }
    }
}
