//! The RBAC marker, `#[rbac(...)]`: one parser, shared by bot-derive's
//! attribute (which checks the marker at compile time, with spans) and the
//! manifest generator (which reads the markers from the source files).
//!
//! ```text
//! #[rbac(groups = "apps", resources = "deployments", verbs = ["get", "list", "watch"])]
//! #[rbac(groups = "coordination.k8s.io", resources = "leases", verbs = ["get", "update"],
//!        resource_names = "my-operator", namespace = "my-operator-system")]
//! #[rbac(urls = "/metrics", verbs = "get")]
//! ```
//!
//! Every key takes a string or an array of strings. `groups = ""` (or
//! `"core"`, as controller-gen spells it) is the core group.

use proc_macro2::{Span, TokenStream};
use syn::{Expr, ExprArray, ExprLit, Lit, meta::ParseNestedMeta, spanned::Spanned};

/// The keys `#[rbac(...)]` accepts.
pub const KEYS: [&str; 6] = ["groups", "resources", "verbs", "resource_names", "urls", "namespace"];

/// The verbs the API server and its authorizers know: the resource verbs,
/// the special verbs of RBAC itself, pod security, CSRs and
/// impersonation, and `*`.
pub const VERBS: [&str; 15] = [
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "use",
    "bind",
    "escalate",
    "impersonate",
    "approve",
    "sign",
    "*",
];

/// One `#[rbac(...)]` marker: permissions the code next to it needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RbacMarker {
    /// API groups (`""` is the core group).
    pub groups: Vec<String>,
    /// Resources, with subresources as `bots/status`.
    pub resources: Vec<String>,
    /// Verbs, e.g. `get`, `list`, `watch`.
    pub verbs: Vec<String>,
    /// Restricts the rule to these object names (`resourceNames`).
    pub resource_names: Vec<String>,
    /// Non-resource URLs such as `/metrics` (cluster-wide only).
    pub urls: Vec<String>,
    /// Grants the permission in this namespace only (a Role there), instead
    /// of cluster-wide (the ClusterRole).
    pub namespace: Option<String>,
}

/// Parses the arguments of `#[rbac(...)]` (the tokens inside the
/// parentheses). All problems are reported together, each at its key.
pub fn parse(args: TokenStream) -> syn::Result<RbacMarker> {
    let mut state = State::default();
    let parser = syn::meta::parser(|meta| state.key(meta));
    syn::parse::Parser::parse2(parser, args)?;
    state.finish()
}

/// Parses a whole `#[rbac(...)]` attribute.
pub fn parse_attribute(attr: &syn::Attribute) -> syn::Result<RbacMarker> {
    match &attr.meta {
        syn::Meta::List(list) => parse(list.tokens.clone()),
        other => Err(syn::Error::new(
            other.span(),
            "expected #[rbac(groups = \"...\", resources = \"...\", verbs = [\"...\"])]",
        )),
    }
}

/// Whether the attribute is an RBAC marker: `#[rbac(...)]` or a path ending
/// in `rbac`, such as `#[bot_derive::rbac(...)]`.
pub fn is_marker(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|s| s.ident == "rbac")
}

#[derive(Default)]
struct State {
    marker: RbacMarker,
    seen: Vec<(String, Span)>,
    errors: Vec<syn::Error>,
    span: Option<Span>,
}

impl State {
    fn key(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let span = meta.path.span();
        self.span.get_or_insert(span);
        let name = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
        if !KEYS.contains(&name.as_str()) {
            let hint = did_you_mean(&name, &KEYS).map(|k| format!("; did you mean `{k}`?")).unwrap_or_default();
            self.errors.push(syn::Error::new(
                span,
                format!("unknown key `{name}` in #[rbac(...)]{hint} (known: {})", KEYS.join(", ")),
            ));
            // Skip the value so later keys are still checked.
            if meta.input.peek(syn::Token![=]) {
                let _: Expr = meta.value()?.parse()?;
            }
            return Ok(());
        }
        if self.seen.iter().any(|(k, _)| *k == name) {
            self.errors.push(syn::Error::new(span, format!("duplicate key `{name}` in #[rbac(...)]")));
        }
        self.seen.push((name.clone(), span));
        let values = strings(&meta.value()?.parse::<Expr>()?)?;
        match name.as_str() {
            "groups" => {
                let groups = self.non_empty(&name, values, |_| Ok(()));
                self.marker.groups = groups.into_iter().map(|g| if g == "core" { String::new() } else { g }).collect()
            }
            "resources" => self.marker.resources = self.non_empty(&name, values, lower_case),
            "verbs" => self.marker.verbs = self.non_empty(&name, values, known_verb),
            "resource_names" => self.marker.resource_names = self.non_empty(&name, values, |_| Ok(())),
            "urls" => self.marker.urls = self.non_empty(&name, values, url),
            _ => match values.as_slice() {
                [(ns, _)] if !ns.is_empty() => self.marker.namespace = Some(ns.clone()),
                _ => self.errors.push(syn::Error::new(span, "`namespace` takes one namespace name")),
            },
        }
        Ok(())
    }

    /// The values, each checked; an empty list is an error (it would grant nothing).
    fn non_empty(
        &mut self,
        key: &str,
        values: Vec<(String, Span)>,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> Vec<String> {
        if values.is_empty() {
            let span = self.seen.last().map_or_else(Span::call_site, |(_, s)| *s);
            self.errors.push(syn::Error::new(span, format!("`{key}` needs at least one value")));
        }
        let mut out = Vec::new();
        for (value, span) in values {
            match check(&value) {
                Ok(()) => out.push(value),
                Err(message) => self.errors.push(syn::Error::new(span, message)),
            }
        }
        out
    }

    fn finish(mut self) -> syn::Result<RbacMarker> {
        let first = self.span.unwrap_or_else(Span::call_site);
        let at = |k: &str| self.seen.iter().find(|(s, _)| s == k).map(|(_, span)| *span);
        let mut problems = Vec::new();
        if at("verbs").is_none() {
            problems.push((first, "#[rbac(...)] needs `verbs`"));
        }
        if let Some(urls) = at("urls") {
            if at("groups").or(at("resources")).or(at("resource_names")).is_some() {
                problems.push((
                    urls,
                    "`urls` (non-resource URLs) cannot be combined with `groups`, `resources` or `resource_names`",
                ));
            }
            if let Some(ns) = at("namespace") {
                problems.push((ns, "`urls` are cluster-wide: they cannot have a `namespace`"));
            }
        } else if at("groups").is_none() || at("resources").is_none() {
            problems.push((
                first,
                "#[rbac(...)] needs `groups` and `resources` (`groups = \"\"` is the core group), or `urls`",
            ));
        }
        let unnamed = ["create", "deletecollection"];
        if let Some(names) = at("resource_names")
            && self.marker.verbs.iter().any(|v| unnamed.contains(&v.as_str()))
        {
            problems.push((
                names,
                "`create` and `deletecollection` cannot be restricted by `resource_names` (the authorizer does \
                 not know the name): give them in a marker without `resource_names`",
            ));
        }
        self.errors.extend(problems.into_iter().map(|(span, p)| syn::Error::new(span, p)));
        let mut errors = self.errors.into_iter();
        match errors.next() {
            None => Ok(self.marker),
            Some(mut first) => {
                errors.for_each(|e| first.combine(e));
                Err(first)
            }
        }
    }
}

/// `"a"` or `["a", "b"]`, each with its span.
fn strings(expr: &Expr) -> syn::Result<Vec<(String, Span)>> {
    let one = |e: &Expr| match e {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => Ok((s.value(), s.span())),
        other => Err(syn::Error::new(other.span(), "expected a string literal")),
    };
    match expr {
        Expr::Array(ExprArray { elems, .. }) => elems.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn lower_case(resource: &str) -> Result<(), String> {
    let valid = !resource.is_empty()
        && (resource == "*"
            || resource.split('/').all(|part| {
                !part.is_empty()
                    && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            }));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{resource}` is not a resource: resources are the lower-case plural (`deployments`), \
             subresources `deployments/status`"
        ))
    }
}

fn known_verb(verb: &str) -> Result<(), String> {
    if VERBS.contains(&verb) {
        return Ok(());
    }
    let hint = did_you_mean(verb, &VERBS).map(|v| format!("; did you mean `{v}`?")).unwrap_or_default();
    Err(format!("unknown verb `{verb}`{hint} (known: {})", VERBS.join(", ")))
}

fn url(url: &str) -> Result<(), String> {
    if url.starts_with('/') { Ok(()) } else { Err(format!("non-resource URL `{url}` must start with `/`")) }
}

/// The known name closest to `unknown`, if close enough to be a typo.
fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase().replace('_', "");
    known
        .iter()
        .map(|k| (strsim::levenshtein(&unknown, &k.replace('_', "")), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn parses_strings_and_arrays() {
        let m = parse(quote!(
            groups = "core",
            resources = ["leases"],
            verbs = ["get", "update"],
            resource_names = "op",
            namespace = "ops"
        ))
        .unwrap();
        assert_eq!(m.groups, [""]);
        assert_eq!(m.resources, ["leases"]);
        assert_eq!(m.verbs, ["get", "update"]);
        assert_eq!(m.resource_names, ["op"]);
        assert_eq!(m.namespace.as_deref(), Some("ops"));
        let m = parse(quote!(urls = ["/metrics", "/healthz"], verbs = "get")).unwrap();
        assert_eq!(m.urls, ["/metrics", "/healthz"]);
    }

    #[test]
    fn reports_every_problem() {
        let err = parse(quote!(group = "apps", resources = ["Deployments"], verbs = ["gett", "delete_collection"]))
            .unwrap_err();
        let all: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert!(
            all.iter().any(|e| e.contains("unknown key `group`") && e.contains("did you mean `groups`?")),
            "{all:?}"
        );
        assert!(all.iter().any(|e| e.contains("`Deployments` is not a resource")), "{all:?}");
        assert!(all.iter().any(|e| e.contains("did you mean `get`?")), "{all:?}");
        assert!(all.iter().any(|e| e.contains("did you mean `deletecollection`?")), "{all:?}");
        assert!(all.iter().any(|e| e.contains("needs `groups` and `resources`")), "{all:?}");
    }

    #[test]
    fn urls_are_cluster_wide_and_alone() {
        let err = parse(quote!(urls = "/metrics", verbs = "get", namespace = "x")).unwrap_err().to_string();
        assert!(err.contains("cluster-wide"), "{err}");
        let err = parse(quote!(urls = "metrics", verbs = "get", groups = "")).unwrap_err();
        let all: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert!(all.iter().any(|e| e.contains("must start with `/`")), "{all:?}");
        assert!(all.iter().any(|e| e.contains("cannot be combined")), "{all:?}");
    }

    #[test]
    fn create_cannot_be_restricted_by_name() {
        let err = parse(quote!(
            groups = "coordination.k8s.io",
            resources = "leases",
            verbs = ["create", "get"],
            resource_names = "op"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot be restricted by `resource_names`"), "{err}");
    }

    #[test]
    fn duplicates_and_empty_lists_are_errors() {
        let err = parse(quote!(groups = "", groups = "apps", resources = [], verbs = "get")).unwrap_err();
        let all: Vec<String> = err.into_iter().map(|e| e.to_string()).collect();
        assert!(all.iter().any(|e| e.contains("duplicate key `groups`")), "{all:?}");
        assert!(all.iter().any(|e| e.contains("`resources` needs at least one value")), "{all:?}");
    }
}
