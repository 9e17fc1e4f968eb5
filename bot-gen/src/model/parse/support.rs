//! What every attribute family shares: the error and warning collectors,
//! "did you mean", and readers of `key = "..."`, flags and lists.

use proc_macro2::Span;
use syn::{LitBool, LitStr, Token, meta::ParseNestedMeta, parenthesized, spanned::Spanned};

use super::super::Warning;

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

/// Errors and warnings of one parse.
#[derive(Default, Debug)]
pub(crate) struct Diagnostics {
    pub(crate) errors: Errors,
    pub(crate) warnings: Vec<Warning>,
}

impl Diagnostics {
    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.errors.push(span, msg);
    }

    pub(crate) fn warn(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.warnings.push(Warning { span, message: msg.to_string() });
    }
}

/// The known name closest to `unknown`, if it is close enough to be a typo
/// (Levenshtein distance from strsim, also on the snake_case spelling, so
/// `onlyVerbz` finds `only_verbs`).
pub(crate) fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = crate::model::to_snake(unknown);
    known
        .iter()
        .map(|k| (strsim::levenshtein(&norm, k).min(strsim::levenshtein(unknown, k)), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

/// The key's name (`group` in `group = "..."`), or the path as written.
pub(crate) fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    let path = &meta.path;
    path.get_ident().map(|i| i.to_string()).unwrap_or_else(|| quote::quote!(#path).to_string().replace(' ', ""))
}

/// Reports an unknown key with a suggestion from `known`, and skips its value.
pub(crate) fn unknown_key(
    diag: &mut Diagnostics,
    meta: &ParseNestedMeta<'_>,
    attr: &str,
    known: &[&str],
) -> syn::Result<()> {
    let name = key_name(meta);
    let hint = match did_you_mean(&name, known) {
        Some(k) => format!("; did you mean `{k}`?"),
        None => format!("; expected one of: {}", known.join(", ")),
    };
    // `attr` may be nested (`kube(printcolumn`): close every parenthesis.
    let close = ")".repeat(attr.matches('(').count());
    diag.error(meta.path.span(), format!("unknown key `{name}` in #[{attr}(...){close}]{hint}"));
    skip_value(meta)
}

/// Consumes `= value` or `(...)` after a key, so parsing can go on.
pub(crate) fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// `key = "..."`: the string literal.
pub(crate) fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let key = key_name(meta);
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
pub(crate) fn recover(meta: &ParseNestedMeta<'_>, res: syn::Result<()>, diag: &mut Diagnostics) -> syn::Result<()> {
    if let Err(e) = res {
        diag.errors.push_err(e);
        while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            meta.input.parse::<proc_macro2::TokenTree>()?;
        }
    }
    Ok(())
}

/// Stores a single-valued key, reporting a second occurrence at its span.
pub(crate) fn set_once(
    slot: &mut Option<LitStr>,
    meta: &ParseNestedMeta<'_>,
    diag: &mut Diagnostics,
) -> syn::Result<()> {
    let lit = lit_str(meta)?;
    if slot.is_some() {
        let key = key_name(meta);
        diag.error(meta.path.span(), format!("`{key}` is given twice in #[kube(...)]; keep one `{key} = \"...\"`"));
    } else {
        *slot = Some(lit);
    }
    Ok(())
}

/// A flag: `key` alone is true, or `key = true` / `key = false`.
pub(crate) fn flag_or_bool(meta: &ParseNestedMeta<'_>) -> syn::Result<bool> {
    if meta.input.peek(Token![=]) { Ok(meta.value()?.parse::<LitBool>()?.value) } else { Ok(true) }
}

/// A string list given as `key = "a, b"` or `key(a, b)` or `key("a", "b")`.
pub(crate) fn name_list(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<(String, Span)>> {
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
            let ident: syn::Ident = syn::ext::IdentExt::parse_any(&content)?;
            out.push((ident.to_string(), ident.span()));
        }
        if !content.is_empty() {
            content.parse::<Token![,]>()?;
        }
    }
    Ok(out)
}
