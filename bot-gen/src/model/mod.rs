//! The resource model: one parser of `#[kube(...)]` and `#[genclient(...)]`,
//! shared by bot-derive (per type, at compile time) and the generator (per
//! crate, in build.rs), so the two can never disagree about what a key means.
//!
//! The model borrows nothing from the input but keeps the original `syn`
//! nodes where a later error must point at them.

mod parse;
mod verbs;

use proc_macro2::Span;
use syn::{Expr, Ident, Meta, Path, Visibility};

pub use parse::{Errors, Family, KeyDef, genclient_keys, kube_keys, parse_resource, parse_resource_partial};
pub use verbs::{Verb, VerbSet};

/// Everything the attributes say about one custom resource.
#[derive(Debug, Clone)]
pub struct ResourceModel {
    /// The annotated spec type, e.g. `BotSpec` (a struct or, as in
    /// kube-derive, an enum).
    pub spec_ident: Ident,
    /// Visibility of the spec type; the root type gets the same.
    pub vis: Visibility,
    /// The generated root type, e.g. `Bot` (`root = "..."`, else the kind).
    pub root_ident: Ident,
    /// API group, e.g. `botops.dev`.
    pub group: String,
    /// API version, e.g. `v1alpha1`.
    pub version: String,
    /// Kind, e.g. `Bot`.
    pub kind: String,
    /// Lower-case plural resource name, e.g. `bots` (see [`default_names`]).
    pub plural: String,
    /// Lower-case singular name, e.g. `bot`.
    pub singular: String,
    /// Namespaced (`namespaced`) or cluster-scoped (the key absent).
    pub namespaced: bool,
    /// The status type (`status = "BotStatus"`), if any.
    pub status: Option<Path>,
    /// The spec's fields sit at the root of the object (`no_spec`).
    pub no_spec: bool,
    /// Short names for kubectl (`shortname = "..."`, repeatable).
    pub shortnames: Vec<String>,
    /// Categories (`category = "..."`, repeatable).
    pub categories: Vec<String>,
    /// Additional printer columns.
    pub printcolumns: Vec<PrintColumn>,
    /// Selectable fields (`selectable = ".spec.x"`, repeatable).
    pub selectable: Vec<String>,
    /// Scale subresource. Like kube-derive, emitted only with a status.
    pub scale: Option<Scale>,
    /// Labels put on the CRD object and on objects made by `Root::new`.
    pub labels: Vec<(String, String)>,
    /// Annotations put on the CRD object and on objects made by `Root::new`.
    pub annotations: Vec<(String, String)>,
    /// Whether this version is the storage version (default true).
    pub storage: bool,
    /// Whether this version is served (default true).
    pub served: bool,
    /// Deprecation: `None` (not deprecated), `Some(None)` (deprecated, default
    /// warning), `Some(Some(w))` (deprecated with warning `w`).
    pub deprecated: Option<Option<String>>,
    /// CEL rules at the root of the schema, as kube's `KubeSchema` takes them:
    /// a string literal, a `Rule::new(..)` expression, or our
    /// `validation(rule = "", message = "")` turned into one.
    pub validations: Vec<Expr>,
    /// Generate `validate_cel` / `validate_cel_update` (`cel`; needs kube's
    /// `cel` feature).
    pub cel: bool,
    /// Extra derives on the root type (`derive = "PartialEq"`); `Default`
    /// is implemented by hand, see [`ResourceModel::derives_default`].
    pub derives: Vec<Path>,
    /// Extra attributes on the root type (`attr = "..."`).
    pub attrs: Vec<Meta>,
    /// Doc string of the root type (`doc = "..."`).
    pub doc: Option<String>,
    /// How the CRD schema is made (`schema = "derived" | "manual" | "disabled"`).
    pub schema: SchemaMode,
    /// The verbs of the typed client (from `#[genclient(...)]`).
    pub verbs: VerbSet,
    /// Extra client methods on subresources (`#[genclient(method(...))]`).
    pub methods: Vec<ExtraMethod>,
    /// Paths of the crates the generated code refers to.
    pub crates: Crates,
    /// What the attributes allow but that cannot work as written (a
    /// printer-column path the spec lacks, ...): the derive reports them as
    /// compile-time warnings.
    pub warnings: Vec<Warning>,
    /// Span of the `#[kube]` attribute, for errors about the whole resource.
    pub span: Span,
}

/// How the CRD's schema is made, kube-derive's `schema = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaMode {
    /// The root type derives `JsonSchema` (or kube's `KubeSchema` when there
    /// are CEL rules) and `crd()` uses it. The default.
    #[default]
    Derived,
    /// The user implements `JsonSchema` for the root type; `crd()` uses it.
    Manual,
    /// No schema: `crd()` has none, the user sets one.
    Disabled,
}

impl SchemaMode {
    /// The values of `schema = "..."`.
    pub const NAMES: [&'static str; 3] = ["derived", "manual", "disabled"];

    /// Parses `derived`, `manual` or `disabled`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "derived" => Some(Self::Derived),
            "manual" => Some(Self::Manual),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }

    /// Whether the root type derives its schema.
    pub fn derive(self) -> bool {
        self == Self::Derived
    }

    /// Whether `crd()` contains a schema.
    pub fn use_in_crd(self) -> bool {
        self != Self::Disabled
    }
}

/// Something the attributes allow but that cannot work as written. bot-derive
/// reports it as a compile-time warning at `span`.
#[derive(Debug, Clone)]
pub struct Warning {
    /// Where: the key it is about.
    pub span: Span,
    /// What is wrong and how to fix it.
    pub message: String,
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
/// `#[kube(crates(kube_core = "...", ...))]` for users who rename them, as in
/// kube-derive.
#[derive(Debug, Clone)]
pub struct Crates {
    /// `::kube` (the facade, for `kube::KubeSchema`).
    pub kube: Path,
    /// `::kube::core` (`Resource`, `CustomResourceExt`, schema transforms);
    /// when only `kube` is given, `kube::core` of that.
    pub kube_core: Path,
    /// `::k8s_openapi`
    pub k8s_openapi: Path,
    /// `::schemars`
    pub schemars: Path,
    /// `::serde`
    pub serde: Path,
    /// `::serde_json`
    pub serde_json: Path,
    /// `::std`
    pub std: Path,
}

impl Default for Crates {
    fn default() -> Self {
        Self {
            kube: syn::parse_quote!(::kube),
            kube_core: syn::parse_quote!(::kube::core),
            k8s_openapi: syn::parse_quote!(::k8s_openapi),
            schemars: syn::parse_quote!(::schemars),
            serde: syn::parse_quote!(::serde),
            serde_json: syn::parse_quote!(::serde_json),
            std: syn::parse_quote!(::std),
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

    /// Whether `derive = "Default"` was given: like kube-derive, `Default` is
    /// implemented by hand (the metadata has no derive-able default name).
    pub fn derives_default(&self) -> bool {
        self.derives.iter().any(|d| d.is_ident("Default"))
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
