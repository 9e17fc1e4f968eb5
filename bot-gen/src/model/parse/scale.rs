//! `scale`: kube-derive's JSON form `scale = r#"{"specReplicasPath": ...}"#`
//! and its struct form `scale(spec_replicas_path = "", status_replicas_path = "")`.

use syn::{Token, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    selectable::SpecFields,
    support::{lit_str, unknown_key},
};
use crate::model::Scale;

const FIELDS: &[&str] = &["spec_replicas_path", "status_replicas_path", "label_selector_path"];

pub(crate) fn parse(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let span = meta.path.span();
    let (mut spec, mut status, mut selector) = (None, None, None);
    if meta.input.peek(Token![=]) {
        let s = lit_str(meta)?;
        let usage = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas"}"#;
        let obj = match serde_json::from_str::<serde_json::Value>(&s.value()) {
            Ok(serde_json::Value::Object(obj)) => obj,
            Ok(_) => return Err(syn::Error::new(s.span(), format!("scale JSON must be an object such as {usage}"))),
            Err(e) => {
                return Err(syn::Error::new(s.span(), format!("scale is not valid JSON ({e}); expected {usage}")));
            }
        };
        for (k, v) in obj {
            let v = v
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| syn::Error::new(s.span(), format!("scale field `{k}` must be a string")))?;
            match k.as_str() {
                "specReplicasPath" => spec = Some(v),
                "statusReplicasPath" => status = Some(v),
                "labelSelectorPath" => selector = Some(v),
                other => d.diag.warn(
                    s.span(),
                    format!("scale field `{other}` is ignored; known: specReplicasPath, statusReplicasPath, labelSelectorPath"),
                ),
            }
        }
    } else {
        meta.parse_nested_meta(|inner| {
            match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
                Some("spec_replicas_path") => spec = Some(lit_str(&inner)?.value()),
                Some("status_replicas_path") => status = Some(lit_str(&inner)?.value()),
                Some("label_selector_path") => selector = Some(lit_str(&inner)?.value()),
                _ => return unknown_key(&mut d.diag, &inner, "kube(scale", FIELDS),
            }
            Ok(())
        })?;
    }
    match (spec, status) {
        (Some(spec_replicas_path), Some(status_replicas_path)) => {
            let scale = Scale { spec_replicas_path, status_replicas_path, label_selector_path: selector };
            d.scale = Some((scale, span));
        }
        _ => d.diag.error(span, "scale needs `spec_replicas_path` and `status_replicas_path`"),
    }
    Ok(())
}

/// Warnings: kube-derive accepts any scale, and drops it without a status.
pub(crate) fn check(d: &mut Draft, spec: &SpecFields<'_>) {
    let Some((sc, span)) = &d.scale else { return };
    let span = *span;
    let mut warnings = Vec::new();
    if d.status.is_none() {
        warnings.push(
            "a `scale` subresource needs a status type, so it is left out of the CRD (as kube-derive does): add `status = \"...\"` to #[kube(...)]"
                .to_string(),
        );
    }
    if !sc.spec_replicas_path.starts_with(".spec.") {
        warnings.push(format!(
            "scale `spec_replicas_path = \"{}\"` must be under `.spec.`, such as `.spec.replicas`; the API server will refuse it",
            sc.spec_replicas_path
        ));
    }
    if !sc.status_replicas_path.starts_with(".status.") {
        warnings.push(format!(
            "scale `status_replicas_path = \"{}\"` must be under `.status.`, such as `.status.replicas`; the API server will refuse it",
            sc.status_replicas_path
        ));
    }
    if let Some(sel) = &sc.label_selector_path
        && !(sel.starts_with(".status.") || sel.starts_with(".spec."))
    {
        warnings.push(format!(
            "scale `label_selector_path = \"{sel}\"` must be under `.status.` or `.spec.`, such as `.status.selector`"
        ));
    }
    warnings.extend(spec.missing_field("scale `spec_replicas_path`", &sc.spec_replicas_path));
    for msg in warnings {
        d.diag.warn(span, msg);
    }
}
