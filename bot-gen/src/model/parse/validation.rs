//! CEL: `validation = "rule"`, `validation = Rule::new("rule").message(..)`
//! (any expression kube's `KubeSchema` takes), our
//! `validation(rule = "", message = "")`, and `cel` (client-side
//! `validate_cel` methods, kube's `cel` feature).

use syn::{Expr, Token, meta::ParseNestedMeta, spanned::Spanned};

use super::{
    Draft,
    support::{flag_or_bool, lit_str, unknown_key},
};

pub(crate) fn validation(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        // As kube-derive: a string literal or an expression such as
        // `Rule::new("self.x > 0").message("...")`.
        let expr: Expr = meta.value()?.parse()?;
        d.validations.push(expr);
        return Ok(());
    }
    let (mut rule, mut message) = (None, None);
    let span = meta.path.span();
    meta.parse_nested_meta(|inner| {
        match inner.path.get_ident().map(|i| i.to_string()).as_deref() {
            Some("rule") => rule = Some(lit_str(&inner)?),
            Some("message") => message = Some(lit_str(&inner)?),
            _ => return unknown_key(&mut d.diag, &inner, "kube(validation", &["rule", "message"]),
        }
        Ok(())
    })?;
    match (rule, message) {
        (Some(rule), None) => d.validations.push(syn::parse_quote!(#rule)),
        (Some(rule), Some(msg)) => d.validations.push(syn::parse_quote!(Rule::new(#rule).message(#msg))),
        (None, _) => d.diag.error(span, "`validation(...)` needs `rule = \"<CEL expression>\"`"),
    }
    Ok(())
}

pub(crate) fn cel(meta: &ParseNestedMeta<'_>, d: &mut Draft) -> syn::Result<()> {
    if flag_or_bool(meta)? {
        d.cel = Some(meta.path.span());
    }
    Ok(())
}

/// `cel` validates against the derived schema, so it needs one (as in
/// kube-derive).
pub(crate) fn check(d: &mut Draft) {
    if let (Some(span), Some((mode, _))) = (d.cel, &d.schema)
        && !mode.derive()
    {
        d.diag.error(span, "#[kube(cel)] requires a derived schema; it cannot be combined with `schema = \"manual\"` or `\"disabled\"`");
    }
}
