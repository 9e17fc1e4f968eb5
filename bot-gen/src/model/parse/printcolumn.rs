//! `printcolumn`: kube-derive's JSON form `printcolumn = r#"{...}"#` and its
//! struct form `printcolumn(name = "", type_ = "", json_path = "", ...)`.

use proc_macro2::Span;
use syn::{LitInt, Token, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    selectable::SpecFields,
    support::{Diagnostics, did_you_mean, lit_str, unknown_key},
};
use crate::model::PrintColumn;

const FIELDS: &[&str] = &["name", "type", "type_", "json_path", "description", "priority", "format"];
const TYPES: &[&str] = &["string", "integer", "number", "boolean", "date"];

/// The fields read so far.
#[derive(Default)]
struct Column {
    name: Option<String>,
    type_: Option<String>,
    json_path: Option<String>,
    description: Option<String>,
    priority: Option<i32>,
    format: Option<String>,
}

pub(crate) fn parse(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    let span = meta.path.span();
    let col = if meta.input.peek(Token![=]) { from_json(meta, &mut d.diag)? } else { from_list(meta, &mut d.diag)? };
    let Some(col) = col else { return Ok(()) };
    let missing: Vec<&str> =
        [("name", col.name.is_none()), ("type", col.type_.is_none()), ("json_path", col.json_path.is_none())]
            .into_iter()
            .filter_map(|(k, m)| m.then_some(k))
            .collect();
    if !missing.is_empty() {
        let list = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
        d.diag.error(span, format!("printcolumn is missing {list}"));
        return Ok(());
    }
    let pc = PrintColumn {
        name: col.name.unwrap_or_default(),
        type_: col.type_.unwrap_or_default(),
        json_path: col.json_path.unwrap_or_default(),
        description: col.description,
        priority: col.priority,
        format: col.format,
    };
    d.printcolumns.push((pc, span));
    Ok(())
}

/// `printcolumn = r#"{"name": ..., "type": ..., "jsonPath": ...}"#`, read
/// with serde_json as kube-derive does (unknown fields: a warning, where
/// kube-derive ignores them).
fn from_json(meta: &ParseNestedMeta<'_>, diag: &mut Diagnostics) -> syn::Result<Option<Column>> {
    let s = lit_str(meta)?;
    let example = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#;
    let obj = match serde_json::from_str::<serde_json::Value>(&s.value()) {
        Ok(serde_json::Value::Object(obj)) => obj,
        Ok(_) => {
            return Err(syn::Error::new(s.span(), format!("printcolumn JSON must be an object such as {example}")));
        }
        Err(e) => {
            return Err(syn::Error::new(s.span(), format!("printcolumn is not valid JSON ({e}); expected {example}")));
        }
    };
    let mut col = Column::default();
    for (k, v) in obj {
        let string = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| syn::Error::new(s.span(), format!("printcolumn field `{k}` must be a string")))
        };
        match k.as_str() {
            "name" => col.name = Some(string()?),
            "type" => col.type_ = Some(string()?),
            "jsonPath" => col.json_path = Some(string()?),
            "description" => col.description = Some(string()?),
            "format" => col.format = Some(string()?),
            "priority" => {
                let p = v.as_i64().and_then(|n| i32::try_from(n).ok());
                col.priority = Some(p.ok_or_else(|| syn::Error::new(s.span(), "printcolumn `priority` must be an integer"))?);
            }
            other => diag.warn(
                s.span(),
                format!("printcolumn field `{other}` is not a column field and is ignored; known: name, type, jsonPath, description, priority, format"),
            ),
        }
    }
    Ok(Some(col))
}

fn from_list(meta: &ParseNestedMeta<'_>, diag: &mut Diagnostics) -> syn::Result<Option<Column>> {
    let mut col = Column::default();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("name") => col.name = Some(lit_str(&inner)?.value()),
            Some("type" | "type_") => col.type_ = Some(lit_str(&inner)?.value()),
            Some("json_path" | "jsonPath") => col.json_path = Some(lit_str(&inner)?.value()),
            Some("description") => col.description = Some(lit_str(&inner)?.value()),
            Some("format") => col.format = Some(lit_str(&inner)?.value()),
            Some("priority") => {
                let lit = inner.value()?.parse::<LitInt>().map_err(|e| {
                    syn::Error::new(
                        e.span(),
                        "`priority` takes an integer: `priority = 1` (0 = default view, 1+ = `-o wide`)",
                    )
                })?;
                col.priority = Some(lit.base10_parse()?);
            }
            _ => return unknown_key(diag, &inner, "kube(printcolumn", FIELDS),
        }
        Ok(())
    })?;
    Ok(Some(col))
}

/// The printer-column type meant by a common misspelling (`int` -> `integer`).
fn type_hint(t: &str) -> Option<&'static str> {
    match t.to_ascii_lowercase().as_str() {
        "int" | "int32" | "int64" | "i32" | "i64" | "long" => Some("integer"),
        "bool" => Some("boolean"),
        "float" | "double" | "f64" | "f32" | "decimal" => Some("number"),
        "str" | "text" => Some("string"),
        "datetime" | "date-time" | "timestamp" | "time" => Some("date"),
        other => did_you_mean(other, TYPES),
    }
}

/// Warnings, never errors: kube-derive accepts every column. A column the
/// API server refuses (unknown type, a path without `.`) or that shows
/// nothing (a field the spec lacks, `.status` without a status) is reported.
pub(crate) fn check(d: &mut Draft, spec: &SpecFields<'_>) {
    let has_status = d.status.is_some();
    let mut warnings: Vec<(Span, String)> = Vec::new();
    for (pc, span) in &d.printcolumns {
        if !TYPES.contains(&pc.type_.as_str()) {
            let hint = match type_hint(&pc.type_) {
                Some(t) => format!("did you mean `type = \"{t}\"`?"),
                None => format!("expected one of: {}", TYPES.join(", ")),
            };
            warnings.push((
                *span,
                format!("printcolumn `{}` has type `{}`, which the API server refuses; {hint}", pc.name, pc.type_),
            ));
        }
        if !pc.json_path.starts_with('.') {
            warnings.push((
                *span,
                format!(
                    "printcolumn `{}` has json_path `{}`; the API server wants a JSONPath starting with `.`, such as `.spec.replicas`",
                    pc.name, pc.json_path
                ),
            ));
        }
        if !has_status && pc.json_path.starts_with(".status") {
            warnings.push((
                *span,
                format!(
                    "printcolumn `{}` reads `{}` but this resource has no status; add `status = \"...\"`",
                    pc.name, pc.json_path
                ),
            ));
        }
        if let Some(msg) = spec.missing_field(&format!("printcolumn `{}`", pc.name), &pc.json_path) {
            warnings.push((*span, msg));
        }
    }
    for (span, msg) in warnings {
        d.diag.warn(span, msg);
    }
}
