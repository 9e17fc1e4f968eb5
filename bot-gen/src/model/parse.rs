//! Parses `#[kube(...)]` and `#[genclient(...)]` on a spec struct into a
//! [`ResourceModel`], collecting every error with the span of its key.

use proc_macro2::Span;
use syn::{
    Attribute, DeriveInput, Ident, LitBool, LitInt, LitStr, Path, Token, meta::ParseNestedMeta, parenthesized,
    spanned::Spanned,
};

use super::{CelRule, Crates, ExtraMethod, PrintColumn, ResourceModel, Scale, Verb, VerbSet};

/// Errors collected while parsing; reported together, each at its own span.
#[derive(Default, Debug)]
pub struct Errors(Vec<syn::Error>);

impl Errors {
    /// Records an error at `span`.
    pub fn push(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.0.push(syn::Error::new(span, msg));
    }

    /// Records a `syn::Error`.
    pub fn push_err(&mut self, err: syn::Error) {
        self.0.push(err);
    }

    /// Whether nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// All errors combined into one (`None` when there are none).
    pub fn into_error(self) -> Option<syn::Error> {
        let mut iter = self.0.into_iter();
        let mut first = iter.next()?;
        for e in iter {
            first.combine(e);
        }
        Some(first)
    }
}

const KUBE_KEYS: &[&str] = &[
    "group",
    "version",
    "kind",
    "plural",
    "singular",
    "root",
    "namespaced",
    "status",
    "shortname",
    "category",
    "printcolumn",
    "selectable",
    "scale",
    "label",
    "annotation",
    "storage",
    "served",
    "deprecated",
    "validation",
    "derive",
    "doc",
    "crates",
];

const GENCLIENT_KEYS: &[&str] =
    &["no_status", "no_verbs", "readonly", "non_namespaced", "only_verbs", "skip_verbs", "method"];

const PRINTCOLUMN_TYPES: &[&str] = &["string", "integer", "number", "boolean", "date"];

/// The printer-column type meant by a common misspelling (`int` -> `integer`).
fn printcolumn_type_hint(t: &str) -> Option<&'static str> {
    match t.to_ascii_lowercase().as_str() {
        "int" | "int32" | "int64" | "i32" | "i64" | "long" => Some("integer"),
        "bool" => Some("boolean"),
        "float" | "double" | "f64" | "f32" | "decimal" => Some("number"),
        "str" | "text" => Some("string"),
        "datetime" | "date-time" | "timestamp" | "time" => Some("date"),
        other => did_you_mean(other, PRINTCOLUMN_TYPES),
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known key closest to `unknown`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = crate::model::to_snake(unknown);
    known
        .iter()
        .map(|k| (distance(&norm, k).min(distance(unknown, k)), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

fn unknown_key(errors: &mut Errors, meta: &ParseNestedMeta<'_>, attr: &str, known: &[&str]) -> syn::Result<()> {
    let path = &meta.path;
    let name =
        path.get_ident().map(|i| i.to_string()).unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""));
    let hint = match did_you_mean(&name, known) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => format!("; expected one of: {}", known.join(", ")),
    };
    // `attr` may be nested (`kube(printcolumn`): close every parenthesis.
    let close = ")".repeat(attr.matches('(').count());
    errors.push(meta.path.span(), format!("unknown key `{name}` in #[{attr}(...){close}]{hint}"));
    skip_value(meta)
}

/// Consumes `= value` or `(...)` after a key, so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("`{key}` takes a string: `{key} = \"...\"`")));
    }
    let value = meta.value()?;
    value
        .parse::<LitStr>()
        .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes a string literal: `{key} = \"...\"`")))
}

/// Records the error of one key and skips to the next `,`, so one bad value
/// does not hide the keys after it.
fn recover(meta: &ParseNestedMeta<'_>, res: syn::Result<()>, errors: &mut Errors) -> syn::Result<()> {
    if let Err(e) = res {
        errors.push_err(e);
        while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            meta.input.parse::<proc_macro2::TokenTree>()?;
        }
    }
    Ok(())
}

/// Stores a single-valued key, reporting a second occurrence at its span.
fn set_once(slot: &mut Option<LitStr>, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
    let lit = lit_str(meta)?;
    if slot.is_some() {
        let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        errors.push(meta.path.span(), format!("`{key}` is given twice in #[kube(...)]; keep one `{key} = \"...\"`"));
    } else {
        *slot = Some(lit);
    }
    Ok(())
}

fn flag_or_bool(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) { Ok(meta.value()?.parse::<LitBool>()?.value) } else { Ok(true) }
}

/// A string list given as `key = "a, b"` or `key(a, b)` or `key("a", "b")`.
fn name_list(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<(String, Span)>> {
    if meta.input.peek(Token![=]) {
        let s = lit_str(meta)?;
        return Ok(s
            .value()
            .split(',')
            .map(|p| (p.trim().to_string(), s.span()))
            .filter(|(p, _)| !p.is_empty())
            .collect());
    }
    let mut out = Vec::new();
    let content;
    parenthesized!(content in meta.input);
    while !content.is_empty() {
        if content.peek(LitStr) {
            let s: LitStr = content.parse()?;
            out.push((s.value(), s.span()));
        } else {
            let ident: Ident = syn::ext::IdentExt::parse_any(&content)?;
            out.push((ident.to_string(), ident.span()));
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(out)
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

/// Parses the `#[kube]` and `#[genclient]` attributes of `input` into a model.
///
/// Every problem is reported, each at the span of the key it is about; the
/// returned error combines them all.
pub fn parse_resource(input: &DeriveInput) -> Result<ResourceModel, syn::Error> {
    let mut errors = Errors::default();
    let mut kube_attr_span = None;

    let mut group: Option<LitStr> = None;
    let mut version: Option<LitStr> = None;
    let mut kind: Option<LitStr> = None;
    let mut plural: Option<LitStr> = None;
    let mut singular: Option<LitStr> = None;
    let mut root: Option<LitStr> = None;
    let mut namespaced: Option<Span> = None;
    let mut status: Option<(Path, Span)> = None;
    let mut shortnames = Vec::new();
    let mut categories = Vec::new();
    let mut printcolumns: Vec<(PrintColumn, Span)> = Vec::new();
    let mut selectable = Vec::new();
    let mut scale: Option<(Scale, Span)> = None;
    let mut labels = Vec::new();
    let mut annotations = Vec::new();
    let mut storage = true;
    let mut served = true;
    let mut deprecated = None;
    let mut validations = Vec::new();
    let mut derives = Vec::new();
    let mut doc = None;
    let mut crates = Crates::default();
    // Keys present, even with a bad value (no "missing" error for those).
    let mut seen = std::collections::BTreeSet::new();

    for attr in input.attrs.iter().filter(|a| a.path().is_ident("kube")) {
        kube_attr_span.get_or_insert(attr.span());
        let res = attr.parse_nested_meta(|meta| {
            let r = (|| -> syn::Result<()> {
                let Some(key) = meta.path.get_ident().map(|i| i.to_string()) else {
                    return unknown_key(&mut errors, &meta, "kube", KUBE_KEYS);
                };
                seen.insert(key.clone());
                match key.as_str() {
                    "group" => set_once(&mut group, &meta, &mut errors)?,
                    "version" => set_once(&mut version, &meta, &mut errors)?,
                    "kind" => set_once(&mut kind, &meta, &mut errors)?,
                    "plural" => set_once(&mut plural, &meta, &mut errors)?,
                    "singular" => set_once(&mut singular, &meta, &mut errors)?,
                    "root" => set_once(&mut root, &meta, &mut errors)?,
                    "namespaced" => {
                        if flag_or_bool(&meta)? {
                            namespaced = Some(meta.path.span());
                        }
                    }
                    "status" => {
                        let s = lit_str(&meta)?;
                        match s.parse::<Path>() {
                            Ok(p) => status = Some((p, s.span())),
                            Err(_) => errors.push(s.span(), "`status` must name a type: `status = \"MyStatus\"`"),
                        }
                    }
                    "shortname" => shortnames.push(lit_str(&meta)?.value()),
                    "category" => categories.push(lit_str(&meta)?.value()),
                    "selectable" => selectable.push((lit_str(&meta)?.value(), meta.path.span())),
                    "printcolumn" => {
                        let span = meta.path.span();
                        if let Some(pc) = parse_printcolumn(&meta, &mut errors)? {
                            printcolumns.push((pc, span));
                        }
                    }
                    "scale" => {
                        let span = meta.path.span();
                        if let Some(s) = parse_scale(&meta, &mut errors)? {
                            scale = Some((s, span));
                        }
                    }
                    "label" => labels.push(key_value_pair(&meta)?),
                    "annotation" => annotations.push(key_value_pair(&meta)?),
                    "storage" => storage = flag_or_bool(&meta)?,
                    "served" => served = flag_or_bool(&meta)?,
                    "deprecated" => {
                        deprecated = Some(if meta.input.peek(Token![=]) { Some(lit_str(&meta)?.value()) } else { None })
                    }
                    "validation" => {
                        if meta.input.peek(Token![=]) {
                            validations.push(CelRule { rule: lit_str(&meta)?.value(), message: None });
                        } else {
                            let mut rule = None;
                            let mut message = None;
                            let span = meta.path.span();
                            meta.parse_nested_meta(|inner| {
                                match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
                                    Some("rule") => rule = Some(lit_str(&inner)?.value()),
                                    Some("message") => message = Some(lit_str(&inner)?.value()),
                                    _ => {
                                        return unknown_key(
                                            &mut errors,
                                            &inner,
                                            "kube(validation",
                                            &["rule", "message"],
                                        );
                                    }
                                }
                                Ok(())
                            })?;
                            match rule {
                                Some(rule) => validations.push(CelRule { rule, message }),
                                None => errors.push(span, "`validation(...)` needs `rule = \"<CEL expression>\"`"),
                            }
                        }
                    }
                    "derive" => {
                        let s = lit_str(&meta)?;
                        match s.parse::<Path>() {
                            Ok(p) => derives.push(p),
                            Err(_) => errors.push(s.span(), "`derive` must name a trait: `derive = \"PartialEq\"`"),
                        }
                    }
                    "doc" => doc = Some(lit_str(&meta)?.value()),
                    "crates" => meta.parse_nested_meta(|inner| {
                        let name = inner.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                        let slot = match name.as_str() {
                            "kube" => &mut crates.kube,
                            "kube_core" => {
                                // kube-derive's `kube_core` is `::kube::core`; the
                                // model keeps the `kube` crate and appends `::core`.
                                let s = lit_str(&inner)?;
                                let mut path: Path = s.parse()?;
                                let ends_in_core = path.segments.last().is_some_and(|seg| seg.ident == "core");
                                if ends_in_core && path.segments.len() > 1 {
                                    path.segments.pop();
                                    // Drop the trailing `::` the pop leaves behind.
                                    let last = path.segments.pop().expect("len > 1").into_value();
                                    path.segments.push(last);
                                    crates.kube = path;
                                } else {
                                    errors.push(
                                        s.span(),
                                        "`kube_core` must name kube's core module, such as `kube_core = \"::kube::core\"`; \
                                         or give the kube crate itself with `kube = \"...\"`",
                                    );
                                }
                                return Ok(());
                            }
                            "k8s_openapi" => &mut crates.k8s_openapi,
                            "schemars" => &mut crates.schemars,
                            "serde" => &mut crates.serde,
                            "serde_json" => &mut crates.serde_json,
                            _ => {
                                return unknown_key(
                                    &mut errors,
                                    &inner,
                                    "kube(crates",
                                    &["kube", "kube_core", "k8s_openapi", "schemars", "serde", "serde_json"],
                                );
                            }
                        };
                        let s = lit_str(&inner)?;
                        *slot = s.parse()?;
                        Ok(())
                    })?,
                    _ => return unknown_key(&mut errors, &meta, "kube", KUBE_KEYS),
                }
                Ok(())
            })();
            recover(&meta, r, &mut errors)
        });
        if let Err(e) = res {
            errors.push_err(e);
        }
    }

    let genclient = parse_genclient(&input.attrs, &mut errors);

    let span = kube_attr_span.unwrap_or_else(|| input.ident.span());
    if kube_attr_span.is_none() {
        errors.push(
            input.ident.span(),
            "#[derive(CustomResource)] needs a `#[kube(group = \"...\", version = \"...\", kind = \"...\")]` attribute",
        );
    }
    for (key, value) in [("group", &group), ("version", &version), ("kind", &kind)] {
        if value.is_none() && kube_attr_span.is_some() && !seen.contains(key) {
            errors.push(span, format!("#[kube(...)] is missing `{key} = \"...\"`"));
        }
    }
    if let Some(g) = &group {
        let v = g.value();
        if v.is_empty() || v.contains(['/', ' ']) || v != v.to_ascii_lowercase() {
            errors.push(g.span(), format!("`group = \"{v}\"` is not a DNS subdomain such as `example.com`"));
        }
    }
    if let Some(v) = &version {
        let s = v.value();
        let valid = s.starts_with('v') && s[1..].chars().next().is_some_and(|c| c.is_ascii_digit());
        if !valid {
            errors.push(v.span(), format!("`version = \"{s}\"` must look like `v1`, `v1beta1` or `v1alpha1`"));
        }
    }
    if let Some(k) = &kind {
        let s = k.value();
        if !s.chars().next().is_some_and(|c| c.is_ascii_uppercase()) || !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            errors.push(k.span(), format!("`kind = \"{s}\"` must be CamelCase alphanumerics, such as `Bot`"));
        }
    }
    for (name, lit) in [("plural", &plural), ("singular", &singular)] {
        if let Some(l) = lit {
            let s = l.value();
            if s != s.to_ascii_lowercase() || s.is_empty() {
                errors.push(l.span(), format!("`{name} = \"{s}\"` must be lower case"));
            }
        }
    }

    // genclient vs kube consistency.
    if let (Some(ns_span), Some(non_ns)) = (namespaced, genclient.non_namespaced) {
        errors.push(non_ns, "`non_namespaced` conflicts with #[kube(namespaced)]; keep one of them");
        let _ = ns_span;
    }
    let has_status = status.is_some();
    for (verb, vspan) in &genclient.explicit_status_verbs {
        if !has_status {
            errors.push(
                *vspan,
                format!("verb `{verb}` needs a status type; add `status = \"...\"` to #[kube(...)] or drop the verb"),
            );
        }
    }
    if let Some((_, s)) = &scale
        && !has_status
    {
        errors.push(*s, "a `scale` subresource needs a status type: add `status = \"...\"` to #[kube(...)]");
    }
    for (pc, pspan) in &printcolumns {
        if !has_status && (pc.json_path.starts_with(".status") || pc.json_path.starts_with("status")) {
            errors.push(
                *pspan,
                format!(
                    "printcolumn `{}` reads `{}` but this resource has no status; add `status = \"...\"`",
                    pc.name, pc.json_path
                ),
            );
        }
        if !PRINTCOLUMN_TYPES.contains(&pc.type_.as_str()) {
            errors.push(
                *pspan,
                format!(
                    "printcolumn `{}` has type `{}`; {}",
                    pc.name,
                    pc.type_,
                    match printcolumn_type_hint(&pc.type_) {
                        Some(t) => format!("did you mean `type = \"{t}\"`?"),
                        None => format!("expected one of: {}", PRINTCOLUMN_TYPES.join(", ")),
                    }
                ),
            );
        }
    }

    if let Some(r) = &root
        && syn::parse_str::<Ident>(&r.value()).is_err()
    {
        errors.push(
            r.span(),
            format!("`root = \"{}\"` is not a Rust identifier; use a type name such as `root = \"Bot\"`", r.value()),
        );
    }

    // JSONPaths into the spec must name a serialized field of the spec struct.
    let spec_fields = spec_field_names(input);
    let check_spec_path = |what: &str, path: &str, span: Span, errors: &mut Errors| {
        if let (Some(fields), Some(first)) = (&spec_fields, first_spec_segment(path))
            && !fields.iter().any(|f| f == first)
        {
            let known: Vec<&str> = fields.iter().map(String::as_str).collect();
            let hint = match did_you_mean(first, &known) {
                Some(k) => format!("did you mean `.spec.{k}`?"),
                None => format!("its serialized fields are: {}", known.join(", ")),
            };
            errors.push(
                span,
                format!("{what} reads `{path}` but `{}` has no serialized field `{first}`; {hint}", input.ident),
            );
        }
    };
    for (pc, pspan) in &printcolumns {
        if !pc.json_path.starts_with('.') {
            errors.push(
                *pspan,
                format!(
                    "printcolumn `{}` has json_path `{}`; a JSONPath starts with `.`, such as `.spec.replicas`",
                    pc.name, pc.json_path
                ),
            );
        }
        check_spec_path(&format!("printcolumn `{}`", pc.name), &pc.json_path, *pspan, &mut errors);
    }
    for (path, span) in &selectable {
        if !(path.starts_with(".spec.") || path.starts_with(".status.") || path.starts_with(".metadata.")) {
            errors.push(*span, format!("`selectable = \"{path}\"` must be a JSONPath such as `.spec.platform`"));
        }
        check_spec_path("`selectable`", path, *span, &mut errors);
    }
    if let Some((sc, sspan)) = &scale {
        if !sc.spec_replicas_path.starts_with(".spec.") {
            errors.push(
                *sspan,
                format!(
                    "scale `spec_replicas_path = \"{}\"` must be under `.spec.`, such as `.spec.replicas`",
                    sc.spec_replicas_path
                ),
            );
        }
        if !sc.status_replicas_path.starts_with(".status.") {
            errors.push(
                *sspan,
                format!(
                    "scale `status_replicas_path = \"{}\"` must be under `.status.`, such as `.status.replicas`",
                    sc.status_replicas_path
                ),
            );
        }
        if let Some(sel) = &sc.label_selector_path
            && !(sel.starts_with(".status.") || sel.starts_with(".spec."))
        {
            errors.push(*sspan, format!("scale `label_selector_path = \"{sel}\"` must be under `.status.` or `.spec.`, such as `.status.selector`"));
        }
        check_spec_path("scale `spec_replicas_path`", &sc.spec_replicas_path, *sspan, &mut errors);
    }
    for (m, mspan) in &genclient.methods {
        match m.subresource.as_deref() {
            Some("scale") if scale.is_none() => errors.push(
                *mspan,
                format!("method `{}` uses the `scale` subresource but #[kube(...)] declares none; add `scale(spec_replicas_path = \".spec.replicas\", status_replicas_path = \".status.replicas\")`", m.name),
            ),
            Some("status") if !has_status => errors.push(
                *mspan,
                format!("method `{}` uses the `status` subresource but the resource has no status; add `status = \"...\"` to #[kube(...)]", m.name),
            ),
            _ => {}
        }
    }

    let mut verbs = genclient.verbs;
    if !has_status || genclient.no_status {
        verbs.remove(Verb::UpdateStatus);
        verbs.remove(Verb::ApplyStatus);
    }

    if let Some(err) = errors.into_error() {
        return Err(err);
    }

    let kind_s = kind.expect("checked").value();
    let (singular, plural) = crate::model::default_names(
        &kind_s,
        singular.map(|s| s.value()).as_deref(),
        plural.map(|s| s.value()).as_deref(),
    );
    let root_ident = match &root {
        Some(r) => Ident::new(&r.value(), r.span()),
        None => Ident::new(&kind_s, Span::call_site()),
    };
    Ok(ResourceModel {
        spec_ident: input.ident.clone(),
        vis: input.vis.clone(),
        root_ident,
        group: group.expect("checked").value(),
        version: version.expect("checked").value(),
        kind: kind_s,
        plural,
        singular,
        namespaced: namespaced.is_some(),
        status: status.map(|(p, _)| p),
        shortnames,
        categories,
        printcolumns: printcolumns.into_iter().map(|(p, _)| p).collect(),
        selectable: selectable.into_iter().map(|(p, _)| p).collect(),
        scale: scale.map(|(s, _)| s),
        labels,
        annotations,
        storage,
        served,
        deprecated,
        validations,
        derives,
        doc,
        verbs,
        methods: genclient.methods.into_iter().map(|(m, _)| m).collect(),
        crates,
        span,
    })
}

fn parse_printcolumn(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<PrintColumn>> {
    let span = meta.path.span();
    let mut name = None;
    let mut type_ = None;
    let mut json_path = None;
    let mut description = None;
    let mut priority = None;
    let mut format = None;
    if meta.input.peek(Token![=]) {
        // kube-derive's form: printcolumn = r#"{"name": ..., "type": ..., "jsonPath": ...}"#
        let s = lit_str(meta)?;
        let Some(fields) = parse_flat_json_object(&s.value()) else {
            errors.push(s.span(), "printcolumn JSON must be an object such as {\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"}");
            return Ok(None);
        };
        for (k, v) in fields {
            match k.as_str() {
                "name" => name = Some(v),
                "type" => type_ = Some(v),
                "jsonPath" => json_path = Some(v),
                "description" => description = Some(v),
                "priority" => priority = v.parse().ok(),
                "format" => format = Some(v),
                other => errors.push(s.span(), format!("unknown printcolumn field `{other}`")),
            }
        }
    } else {
        meta.parse_nested_meta(|inner| {
            match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
                Some("name") => name = Some(lit_str(&inner)?.value()),
                Some("type" | "type_") => type_ = Some(lit_str(&inner)?.value()),
                Some("json_path" | "jsonPath") => json_path = Some(lit_str(&inner)?.value()),
                Some("description") => description = Some(lit_str(&inner)?.value()),
                Some("priority") => {
                    let lit = inner.value()?.parse::<LitInt>().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`priority` takes an integer: `priority = 1` (0 = default view, 1+ = `-o wide`)",
                        )
                    })?;
                    priority = Some(lit.base10_parse()?);
                }
                Some("format") => format = Some(lit_str(&inner)?.value()),
                _ => {
                    return unknown_key(
                        errors,
                        &inner,
                        "kube(printcolumn",
                        &["name", "type", "json_path", "description", "priority", "format"],
                    );
                }
            }
            Ok(())
        })?;
    }
    let mut missing = Vec::new();
    if name.is_none() {
        missing.push("name");
    }
    if type_.is_none() {
        missing.push("type");
    }
    if json_path.is_none() {
        missing.push("json_path");
    }
    if !missing.is_empty() {
        errors.push(
            span,
            format!(
                "printcolumn is missing {}",
                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        );
        return Ok(None);
    }
    Ok(Some(PrintColumn {
        name: name.unwrap_or_default(),
        type_: type_.unwrap_or_default(),
        json_path: json_path.unwrap_or_default(),
        description,
        priority,
        format,
    }))
}

fn parse_scale(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<Scale>> {
    let span = meta.path.span();
    let mut spec = None;
    let mut status = None;
    let mut selector = None;
    if meta.input.peek(Token![=]) {
        let s = lit_str(meta)?;
        let Some(fields) = parse_flat_json_object(&s.value()) else {
            errors.push(s.span(), "scale JSON must be an object with specReplicasPath and statusReplicasPath");
            return Ok(None);
        };
        for (k, v) in fields {
            match k.as_str() {
                "specReplicasPath" => spec = Some(v),
                "statusReplicasPath" => status = Some(v),
                "labelSelectorPath" => selector = Some(v),
                other => errors.push(s.span(), format!("unknown scale field `{other}`")),
            }
        }
    } else {
        meta.parse_nested_meta(|inner| {
            match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
                Some("spec_replicas_path") => spec = Some(lit_str(&inner)?.value()),
                Some("status_replicas_path") => status = Some(lit_str(&inner)?.value()),
                Some("label_selector_path") => selector = Some(lit_str(&inner)?.value()),
                _ => {
                    return unknown_key(
                        errors,
                        &inner,
                        "kube(scale",
                        &["spec_replicas_path", "status_replicas_path", "label_selector_path"],
                    );
                }
            }
            Ok(())
        })?;
    }
    match (spec, status) {
        (Some(spec_replicas_path), Some(status_replicas_path)) => {
            Ok(Some(Scale { spec_replicas_path, status_replicas_path, label_selector_path: selector }))
        }
        _ => {
            errors.push(span, "scale needs `spec_replicas_path` and `status_replicas_path`");
            Ok(None)
        }
    }
}

/// Parses a flat JSON object of string and number values (all the
/// kube-derive JSON forms need) without pulling serde_json into proc macros.
fn parse_flat_json_object(s: &str) -> Option<Vec<(String, String)>> {
    let s = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    let read_string = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<String> {
        let mut v = String::new();
        loop {
            match chars.next()? {
                '"' => return Some(v),
                '\\' => v.push(chars.next()?),
                c => v.push(c),
            }
        }
    };
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {}
            Some(_) => return None,
        }
        let key = read_string(&mut chars)?;
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next()? != ':' {
            return None;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let value = if chars.peek() == Some(&'"') {
            chars.next();
            read_string(&mut chars)?
        } else {
            let mut v = String::new();
            while chars.peek().is_some_and(|c| *c != ',' && !c.is_whitespace()) {
                v.push(chars.next()?);
            }
            v
        };
        out.push((key, value));
    }
}

/// The first field name after `.spec.` in a JSONPath (`.spec.botRef.name` ->
/// `botRef`), or `None` when the path does not start there or uses brackets.
fn first_spec_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(".spec.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    let seg = &rest[..end];
    (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')).then_some(seg)
}

/// Applies a serde `rename_all` rule to a snake_case field name.
fn apply_rename_all(rule: &str, field: &str) -> String {
    let pascal = || -> String {
        field
            .split('_')
            .map(|p| {
                let mut c = p.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect()
    };
    match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "PascalCase" => pascal(),
        "camelCase" => {
            let p = pascal();
            let mut c = p.chars();
            c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
        }
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.replace('_', "-").to_uppercase(),
        _ => field.to_string(),
    }
}

/// The names the spec struct's fields serialize to, honouring
/// `#[serde(rename_all = "...")]`, `#[serde(rename = "...")]` and
/// `#[serde(skip)]`; `None` when they cannot be known (`flatten`, not a struct
/// with named fields).
fn spec_field_names(input: &DeriveInput) -> Option<Vec<String>> {
    let syn::Data::Struct(data) = &input.data else { return None };
    let syn::Fields::Named(fields) = &data.fields else { return None };
    // Reads `key = "v"` or `key(serialize = "v", ..)` from #[serde(...)].
    let serde_value = |meta: &ParseNestedMeta<'_>| -> syn::Result<Option<String>> {
        if meta.input.peek(Token![=]) {
            return Ok(meta.value()?.parse::<LitStr>().ok().map(|s| s.value()));
        }
        let mut out = None;
        if meta.input.peek(syn::token::Paren) {
            meta.parse_nested_meta(|inner| {
                if inner.path.is_ident("serialize") {
                    out = Some(inner.value()?.parse::<LitStr>()?.value());
                } else {
                    skip_value(&inner)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    };
    let mut rename_all = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename_all") {
                rename_all = serde_value(&meta)?;
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        });
    }
    let mut names = Vec::new();
    for field in &fields.named {
        let ident = field.ident.as_ref()?;
        let raw = ident.to_string();
        let raw = raw.strip_prefix("r#").unwrap_or(&raw);
        let mut name = match &rename_all {
            Some(rule) => apply_rename_all(rule, raw),
            None => raw.to_string(),
        };
        let mut skipped = false;
        let mut flatten = false;
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    if let Some(n) = serde_value(&meta)? {
                        name = n;
                    }
                } else if meta.path.is_ident("skip") || meta.path.is_ident("skip_serializing") {
                    skipped = true;
                } else if meta.path.is_ident("flatten") {
                    flatten = true;
                } else {
                    skip_value(&meta)?;
                }
                Ok(())
            });
        }
        if flatten {
            return None;
        }
        if !skipped {
            names.push(name);
        }
    }
    Some(names)
}

struct GenClient {
    verbs: VerbSet,
    no_status: bool,
    non_namespaced: Option<Span>,
    explicit_status_verbs: Vec<(Verb, Span)>,
    methods: Vec<(ExtraMethod, Span)>,
}

fn parse_genclient(attrs: &[Attribute], errors: &mut Errors) -> GenClient {
    let mut no_status = false;
    let mut no_verbs: Option<Span> = None;
    let mut readonly: Option<Span> = None;
    let mut non_namespaced = None;
    let mut only: Option<(Vec<(Verb, Span)>, Span)> = None;
    let mut skip: Vec<(Verb, Span)> = Vec::new();
    let mut methods = Vec::new();

    for attr in attrs.iter().filter(|a| a.path().is_ident("genclient")) {
        if matches!(attr.meta, syn::Meta::Path(_)) {
            continue; // bare #[genclient]: all defaults
        }
        let res = attr.parse_nested_meta(|meta| {
            let r = (|| -> syn::Result<()> {
                let raw = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
                let key = crate::model::to_snake(&raw);
                match key.as_str() {
                    "no_status" => no_status = flag_or_bool(&meta)?,
                    "no_verbs" => {
                        if flag_or_bool(&meta)? {
                            no_verbs = Some(meta.path.span())
                        }
                    }
                    "readonly" => {
                        if flag_or_bool(&meta)? {
                            readonly = Some(meta.path.span())
                        }
                    }
                    "non_namespaced" => {
                        if flag_or_bool(&meta)? {
                            non_namespaced = Some(meta.path.span())
                        }
                    }
                    "only_verbs" | "skip_verbs" => {
                        let span = meta.path.span();
                        let mut verbs = Vec::new();
                        for (name, vspan) in name_list(&meta)? {
                            match Verb::parse(&name) {
                                Some(v) => verbs.push((v, vspan)),
                                None => {
                                    let names: Vec<&str> = Verb::ALL.iter().map(|v| v.name()).collect();
                                    let hint = match did_you_mean(&name, &names) {
                                        Some(k) => format!("did you mean `{k}`?"),
                                        None => format!("expected one of: {}", names.join(", ")),
                                    };
                                    errors.push(vspan, format!("unknown verb `{name}` in `{key}`; {hint}"));
                                }
                            }
                        }
                        if key == "only_verbs" {
                            only = Some((verbs, span));
                        } else {
                            skip.extend(verbs);
                        }
                    }
                    "method" => {
                        let span = meta.path.span();
                        if let Some(m) = parse_method(&meta, errors)? {
                            methods.push((m, span));
                        }
                    }
                    _ => return unknown_key(errors, &meta, "genclient", GENCLIENT_KEYS),
                }
                Ok(())
            })();
            recover(&meta, r, errors)
        });
        if let Err(e) = res {
            errors.push_err(e);
        }
    }

    let mut verbs = VerbSet::all();
    let mut explicit_status_verbs = Vec::new();
    if let Some(span) = no_verbs {
        verbs = VerbSet::empty();
        if let Some(r) = readonly {
            errors.push(r, "`readonly` conflicts with `no_verbs`; keep one of them");
        }
        if let Some((_, s)) = &only {
            errors.push(*s, "`only_verbs` conflicts with `no_verbs`; keep one of them");
        }
        let _ = span;
    }
    if let Some(r) = readonly {
        if no_verbs.is_none() {
            verbs = VerbSet::readonly();
        }
        if let Some((_, s)) = &only {
            errors.push(*s, "`only_verbs` conflicts with `readonly` (which means only_verbs(get, list, watch))");
        }
        let _ = r;
    }
    if let Some((list, _)) = &only {
        if no_verbs.is_none() && readonly.is_none() {
            verbs = list.iter().map(|(v, _)| *v).collect();
        }
        for (v, s) in list {
            if v.is_status() {
                explicit_status_verbs.push((*v, *s));
            }
        }
    }
    for (v, s) in &skip {
        if let Some((list, _)) = &only
            && list.iter().any(|(o, _)| o == v)
        {
            errors.push(*s, format!("verb `{v}` is both in `only_verbs` and in `skip_verbs`; keep it in one"));
        }
        verbs.remove(*v);
    }
    if no_status {
        for (v, s) in &explicit_status_verbs {
            errors.push(*s, format!("verb `{v}` conflicts with `no_status`"));
        }
        explicit_status_verbs.clear();
    }
    GenClient { verbs, no_status, non_namespaced, explicit_status_verbs, methods }
}

fn parse_method(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Option<ExtraMethod>> {
    let span = meta.path.span();
    let mut name: Option<Ident> = None;
    let mut verb: Option<(Verb, Span)> = None;
    let mut subresource = None;
    let mut input = None;
    let mut result = None;
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("name") => {
                let s = lit_str(&inner)?;
                name = Some(Ident::new(&crate::model::to_snake(&s.value()), s.span()));
            }
            Some("verb") => {
                let s = lit_str(&inner)?;
                match Verb::parse(&s.value()) {
                    Some(v) => verb = Some((v, s.span())),
                    None => errors.push(s.span(), format!("unknown verb `{}`", s.value())),
                }
            }
            Some("subresource") => subresource = Some(lit_str(&inner)?.value()),
            Some("input") => input = Some(lit_str(&inner)?.parse::<Path>()?),
            Some("result") => result = Some(lit_str(&inner)?.parse::<Path>()?),
            _ => {
                return unknown_key(
                    errors,
                    &inner,
                    "genclient(method",
                    &["name", "verb", "subresource", "input", "result"],
                );
            }
        }
        Ok(())
    })?;
    let (Some(name), Some((verb, vspan))) = (name, verb) else {
        errors.push(span, "`method(...)` needs `name = \"...\"` and `verb = \"...\"`");
        return Ok(None);
    };
    if matches!(verb, Verb::UpdateStatus | Verb::DeleteCollection | Verb::Watch | Verb::Delete) {
        errors.push(vspan, format!("extra methods cannot use verb `{verb}`; use get, create, update, patch or apply"));
        return Ok(None);
    }
    Ok(Some(ExtraMethod { name, verb, subresource, input, result }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<ResourceModel, String> {
        let input: DeriveInput = syn::parse_str(src).unwrap();
        parse_resource(&input).map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    }

    #[test]
    fn full_model() {
        let m = parse(
            r##"
            #[kube(group = "botops.dev", version = "v1alpha1", kind = "Bot", namespaced,
                   status = "BotStatus", shortname = "bot", category = "botops",
                   printcolumn(name = "Platform", type = "string", json_path = ".spec.platform"),
                   printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready","priority":1}"#)]
            #[genclient(skip_verbs(delete_collection))]
            pub struct BotSpec { platform: String }
            "##,
        )
        .unwrap();
        assert_eq!(m.root_ident, "Bot");
        assert_eq!(m.plural, "bots");
        assert!(m.namespaced);
        assert_eq!(m.printcolumns.len(), 2);
        assert_eq!(m.printcolumns[1].priority, Some(1));
        assert!(!m.verbs.contains(Verb::DeleteCollection));
        assert!(m.verbs.contains(Verb::UpdateStatus));
    }

    #[test]
    fn no_status_type_removes_status_verbs() {
        let m = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo")] struct FooSpec;"#).unwrap();
        assert!(!m.verbs.contains(Verb::UpdateStatus) && !m.verbs.contains(Verb::ApplyStatus));
        assert!(!m.namespaced);
    }

    #[test]
    fn kube_core_names_the_core_module_as_in_kube_derive() {
        let m = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo", crates(kube_core = "::my_kube::core"))] struct FooSpec {}"#,
        )
        .unwrap();
        assert_eq!(
            {
                let k = &m.crates.kube;
                quote::quote!(#k)
            }
            .to_string()
            .replace(' ', ""),
            "::my_kube"
        );
        let err = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo", crates(kube_core = "::my_kube"))] struct FooSpec {}"#)
            .unwrap_err();
        assert!(err.contains("`kube_core` must name kube's core module"), "{err}");
    }

    #[test]
    fn readonly() {
        let m =
            parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo")] #[genclient(readonly)] struct FooSpec;"#)
                .unwrap();
        assert_eq!(m.verbs, VerbSet::readonly());
    }

    #[test]
    fn errors_are_collected_with_suggestions() {
        let err = parse(
            r#"#[kube(group = "a.io", versoin = "v1", kind = "Foo", namespaced)]
               #[genclient(only_verbs(get, list), skip_verbs(get), onlyVerbz = "x")]
               struct FooSpec;"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown key `versoin` in #[kube(...)]; did you mean `version`?"), "{err}");
        assert!(err.contains("missing `version"), "{err}");
        assert!(err.contains("both in `only_verbs` and in `skip_verbs`"), "{err}");
        assert!(err.contains("did you mean `only_verbs`?"), "{err}");
    }

    #[test]
    fn conflicts() {
        let err = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                      scale(spec_replicas_path = ".spec.r", status_replicas_path = ".status.r"),
                      printcolumn(name = "R", type = "integer", json_path = ".status.r"))]
               #[genclient(only_verbs(get, update_status))]
               struct FooSpec;"#,
        )
        .unwrap_err();
        assert!(err.contains("verb `update_status` needs a status type"), "{err}");
        assert!(err.contains("scale` subresource needs a status type"), "{err}");
        assert!(err.contains("has no status"), "{err}");
    }

    #[test]
    fn spec_paths_follow_serde_names() {
        let ok = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                      printcolumn(name = "R", type = "string", json_path = ".spec.botRef.name"),
                      printcolumn(name = "T", type = "string", json_path = ".spec.type"),
                      selectable = ".spec.botRef")]
               #[serde(rename_all = "camelCase")]
               struct FooSpec { bot_ref: String, #[serde(rename = "type")] kind_: String }"#,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let err = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                      printcolumn(name = "R", type = "string", json_path = ".spec.bot_ref"))]
               #[serde(rename_all = "camelCase")]
               struct FooSpec { bot_ref: String }"#,
        )
        .unwrap_err();
        assert!(err.contains("no serialized field `bot_ref`; did you mean `.spec.botRef`?"), "{err}");
    }

    #[test]
    fn duplicate_keys_and_bad_root() {
        let err = parse(
            r#"#[kube(group = "a.io", group = "b.io", version = "v1", kind = "Foo", root = "1x")] struct FooSpec;"#,
        )
        .unwrap_err();
        assert!(err.contains("`group` is given twice"), "{err}");
        assert!(err.contains("not a Rust identifier"), "{err}");
    }

    #[test]
    fn scale_paths_and_methods() {
        let err = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo", status = "S",
                      scale(spec_replicas_path = ".status.r", status_replicas_path = ".spec.r"))]
               #[genclient(method(name = "GetStatusX", verb = "get", subresource = "statusx"))]
               struct FooSpec { r: i32 }"#,
        )
        .unwrap_err();
        assert!(err.contains("must be under `.spec.`"), "{err}");
        assert!(err.contains("must be under `.status.`"), "{err}");
        let err = parse(
            r#"#[kube(group = "a.io", version = "v1", kind = "Foo")]
               #[genclient(method(name = "GetScale", verb = "get", subresource = "scale"))]
               struct FooSpec { r: i32 }"#,
        )
        .unwrap_err();
        assert!(err.contains("declares none"), "{err}");
    }
}
