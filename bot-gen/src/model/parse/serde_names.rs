//! Serde name inference: the names the spec's fields serialize to, which
//! the JSONPaths of printer columns, selectable fields and scale are checked
//! against.

use syn::{DeriveInput, LitStr, Token, meta::ParseNestedMeta};

use super::support::skip_value;

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
pub(crate) fn spec_field_names(input: &DeriveInput) -> Option<Vec<String>> {
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
