//! The resource model: one parser of `#[kube(...)]` and `#[genclient(...)]`,
//! shared by bot-derive (per type, at compile time) and the generator (per
//! crate, in build.rs), so the two can never disagree about what a key means.
//!
//! The model borrows nothing from the input but keeps the original `syn`
//! nodes where a later error must point at them.

mod parse;
mod verbs;

use proc_macro2::Span;
use syn::{Ident, Path, Visibility};

pub use parse::{Errors, parse_resource};
pub use verbs::{Verb, VerbSet};

/// Everything the attributes say about one custom resource.
#[derive(Debug, Clone)]
pub struct ResourceModel {
    /// The annotated spec struct, e.g. `BotSpec`.
    pub spec_ident: Ident,
    /// Visibility of the spec struct; the root type gets the same.
    pub vis: Visibility,
    /// The generated root type, e.g. `Bot` (`root = "..."`, else the kind).
    pub root_ident: Ident,
    /// API group, e.g. `botops.dev`.
    pub group: String,
    /// API version, e.g. `v1alpha1`.
    pub version: String,
    /// Kind, e.g. `Bot`.
    pub kind: String,
    /// Lower-case plural resource name, e.g. `bots`.
    pub plural: String,
    /// Lower-case singular name, e.g. `bot`.
    pub singular: String,
    /// Namespaced (`namespaced`) or cluster-scoped (the key absent).
    pub namespaced: bool,
    /// The status type (`status = "BotStatus"`), if any.
    pub status: Option<Path>,
    /// Short names for kubectl (`shortname = "..."`, repeatable).
    pub shortnames: Vec<String>,
    /// Categories (`category = "..."`, repeatable).
    pub categories: Vec<String>,
    /// Additional printer columns.
    pub printcolumns: Vec<PrintColumn>,
    /// Selectable fields (`selectable = ".spec.x"`, repeatable).
    pub selectable: Vec<String>,
    /// Scale subresource.
    pub scale: Option<Scale>,
    /// Labels put on the CRD object.
    pub labels: Vec<(String, String)>,
    /// Annotations put on the CRD object.
    pub annotations: Vec<(String, String)>,
    /// Whether this version is the storage version (default true).
    pub storage: bool,
    /// Whether this version is served (default true).
    pub served: bool,
    /// Deprecation: `None` (not deprecated), `Some(None)` (deprecated, default
    /// warning), `Some(Some(w))` (deprecated with warning `w`).
    pub deprecated: Option<Option<String>>,
    /// CEL rules at the root of the schema (`validation = "rule"` or
    /// `validation(rule = "...", message = "...")`).
    pub validations: Vec<CelRule>,
    /// Extra derives on the root type (`derive = "PartialEq"`).
    pub derives: Vec<Path>,
    /// Doc string of the root type (`doc = "..."`).
    pub doc: Option<String>,
    /// The verbs of the typed client (from `#[genclient(...)]`).
    pub verbs: VerbSet,
    /// Extra client methods on subresources (`#[genclient(method(...))]`).
    pub methods: Vec<ExtraMethod>,
    /// Paths of the crates the generated code refers to.
    pub crates: Crates,
    /// Span of the `#[kube]` attribute, for errors about the whole resource.
    pub span: Span,
}

/// One additional printer column of `kubectl get`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrintColumn {
    /// Column header.
    pub name: String,
    /// OpenAPI type: string, integer, number, boolean or date.
    pub type_: String,
    /// JSONPath into the object, e.g. `.spec.platform`.
    pub json_path: String,
    /// Human-readable description.
    pub description: Option<String>,
    /// 0 shows in the standard view; higher only in `-o wide`.
    pub priority: Option<i32>,
    /// OpenAPI format, e.g. `date-time`.
    pub format: Option<String>,
}

/// The scale subresource's paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    /// JSONPath of the desired replicas, e.g. `.spec.replicas`.
    pub spec_replicas_path: String,
    /// JSONPath of the observed replicas, e.g. `.status.replicas`.
    pub status_replicas_path: String,
    /// JSONPath of the serialized label selector, e.g. `.status.selector`.
    pub label_selector_path: Option<String>,
}

/// A CEL validation rule (`x-kubernetes-validations`).
#[derive(Debug, Clone, PartialEq)]
pub struct CelRule {
    /// The CEL expression.
    pub rule: String,
    /// Message shown when the rule fails.
    pub message: Option<String>,
}

/// An extra method of the typed client, as client-gen's `+genclient:method=`.
#[derive(Debug, Clone)]
pub struct ExtraMethod {
    /// Rust name of the method, e.g. `get_scale`.
    pub name: Ident,
    /// The HTTP verb it is built on.
    pub verb: Verb,
    /// The subresource, e.g. `scale`.
    pub subresource: Option<String>,
    /// Input type (for update/create/patch methods).
    pub input: Option<Path>,
    /// Result type.
    pub result: Option<Path>,
}

/// Paths of crates used by generated code, overridable with
/// `#[kube(crates(kube = "...", ...))]` for users who rename them.
#[derive(Debug, Clone)]
pub struct Crates {
    /// `::kube`
    pub kube: Path,
    /// `::k8s_openapi`
    pub k8s_openapi: Path,
    /// `::schemars`
    pub schemars: Path,
    /// `::serde`
    pub serde: Path,
    /// `::serde_json`
    pub serde_json: Path,
}

impl Default for Crates {
    fn default() -> Self {
        Self {
            kube: syn::parse_quote!(::kube),
            k8s_openapi: syn::parse_quote!(::k8s_openapi),
            schemars: syn::parse_quote!(::schemars),
            serde: syn::parse_quote!(::serde),
            serde_json: syn::parse_quote!(::serde_json),
        }
    }
}

impl ResourceModel {
    /// `group/version`.
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    /// The CRD's name, `plural.group`.
    pub fn crd_name(&self) -> String {
        format!("{}.{}", self.plural, self.group)
    }

    /// Whether the status subresource exists.
    pub fn has_status(&self) -> bool {
        self.status.is_some()
    }
}

/// The plural kube-derive 5 gives a lower-case singular name, and so ours:
/// `s`/`x`/`z`/`ch`/`sh` -> `es`, consonant + `y` -> `ies`, else `s`. No
/// irregular plurals (`person` -> `persons`, `endpoints` -> `endpointses`):
/// a CRD's name is `plural.group`, so a plural that differs from
/// kube-derive's would rename the CRD of a migrated type and hide its
/// objects. Give irregular plurals explicitly with `plural = "..."`.
pub fn to_plural(word: &str) -> String {
    if word.ends_with(['s', 'x', 'z']) || word.ends_with("ch") || word.ends_with("sh") {
        return format!("{word}es");
    }
    if let Some(stem) = word.strip_suffix('y')
        && stem.chars().next_back().is_some_and(|c| !matches!(c, 'a' | 'e' | 'i' | 'o' | 'u'))
    {
        return format!("{stem}ies");
    }
    format!("{word}s")
}

/// The default singular and plural of a kind as kube-derive 5 computes them:
/// the singular is `singular` or the lower-cased kind, the plural is
/// `plural` or [`to_plural`] of that singular.
pub fn default_names(kind: &str, singular: Option<&str>, plural: Option<&str>) -> (String, String) {
    let singular = singular.map_or_else(|| kind.to_ascii_lowercase(), str::to_string);
    let plural = plural.map_or_else(|| to_plural(&singular), str::to_string);
    (singular, plural)
}

/// snake_case of a CamelCase identifier (`EventBinding` -> `event_binding`).
pub fn to_snake(camel: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = camel.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if *c == '-' || *c == '.' {
            out.push('_');
        } else {
            out.push(*c);
        }
    }
    out
}

/// CamelCase of a group's first label or a version (`botops.dev` -> `Botops`,
/// `v1alpha1` -> `V1alpha1`).
pub fn to_camel(s: &str) -> String {
    s.split(['-', '_', '.'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_kube_derives() {
        for (singular, plural) in [
            ("bot", "bots"),
            ("eventbinding", "eventbindings"),
            ("event", "events"),
            ("gateway", "gateways"),
            ("policy", "policies"),
            ("proxy", "proxies"),
            ("ingress", "ingresses"),
            ("box", "boxes"),
            ("status", "statuses"),
            ("endpoints", "endpointses"),
            ("person", "persons"),
            ("quiz", "quizes"),
            ("watch", "watches"),
            ("mesh", "meshes"),
            ("day", "days"),
            ("y", "ys"),
        ] {
            assert_eq!(to_plural(singular), plural, "{singular}");
        }
    }

    #[test]
    fn default_names_pluralise_the_singular() {
        assert_eq!(default_names("Person", None, None), ("person".into(), "persons".into()));
        assert_eq!(default_names("Person", Some("human"), None), ("human".into(), "humans".into()));
        assert_eq!(default_names("Person", None, Some("people")), ("person".into(), "people".into()));
    }

    #[test]
    fn snake_and_camel() {
        assert_eq!(to_snake("EventBinding"), "event_binding");
        assert_eq!(to_snake("HTTPRoute"), "http_route");
        assert_eq!(to_snake("Bot"), "bot");
        assert_eq!(to_camel("botops"), "Botops");
        assert_eq!(to_camel("v1alpha1"), "V1alpha1");
        assert_eq!(to_camel("cert-manager"), "CertManager");
    }
}
