//! `selectable = ".spec.x"` (repeatable), and the check shared by every
//! JSONPath into the spec: that it names a serialized field of the spec.

use syn::{Ident, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    support::{did_you_mean, lit_str},
};

pub(crate) fn parse(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    d.selectable.push((lit_str(meta)?.value(), meta.path.span()));
    Ok(())
}

/// The spec type and its serialized field names (`None` when they cannot be
/// known: an enum, `flatten`, `no_spec`).
pub(crate) struct SpecFields<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) fields: Option<&'a [String]>,
}

impl SpecFields<'_> {
    /// A warning when `path` reads `.spec.<field>` (or `spec.<field>`) and the
    /// spec has no serialized field of that name.
    pub(crate) fn missing_field(&self, what: &str, path: &str) -> Option<String> {
        let fields = self.fields?;
        let first = first_spec_segment(path)?;
        if fields.iter().any(|f| f == first) {
            return None;
        }
        let known: Vec<&str> = fields.iter().map(String::as_str).collect();
        let hint = match did_you_mean(first, &known) {
            Some(k) => format!("did you mean `.spec.{k}`?"),
            None if known.is_empty() => "it has none".to_string(),
            None => format!("its serialized fields are: {}", known.join(", ")),
        };
        Some(format!("{what} reads `{path}` but `{}` has no serialized field `{first}`; {hint}", self.ident))
    }
}

/// The first field name after `.spec.` in a JSONPath (`.spec.botRef.name` ->
/// `botRef`), or `None` when the path does not start there or uses brackets.
fn first_spec_segment(path: &str) -> Option<&str> {
    let rest = path.strip_prefix('.').unwrap_or(path).strip_prefix("spec.")?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    let seg = &rest[..end];
    (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')).then_some(seg)
}

/// Warnings: kube-derive and the API server accept `spec.x` as well as
/// `.spec.x`; a path outside `spec`, `status` and `metadata`, or a spec field
/// that does not exist, selects nothing.
pub(crate) fn check(d: &mut Draft, spec: &SpecFields<'_>) {
    let mut warnings = Vec::new();
    for (path, span) in &d.selectable {
        let bare = path.strip_prefix('.').unwrap_or(path);
        if !(bare.starts_with("spec.") || bare.starts_with("status.") || bare.starts_with("metadata.")) {
            warnings.push((
                *span,
                format!("`selectable = \"{path}\"` should be a JSONPath into the object, such as `.spec.platform`"),
            ));
        }
        if let Some(msg) = spec.missing_field("`selectable`", path) {
            warnings.push((*span, msg));
        }
    }
    for (span, msg) in warnings {
        d.diag.warn(span, msg);
    }
}
