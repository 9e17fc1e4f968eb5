//! The one table of `#[kube(...)]` and `#[genclient(...)]` keys: the parser
//! dispatches through it, "did you mean" suggests from it, and a test checks
//! that docs/migration.md names every key in it.

use syn::meta::ParseNestedMeta;

use super::{Draft, codegen, names, printcolumn, scale, selectable, support, validation};

/// Which part of the resource a key is about (one parser module each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Names, scope and version flags: `group`, `version`, `kind`, `plural`, ...
    Names,
    /// `printcolumn`.
    PrintColumn,
    /// `scale`.
    Scale,
    /// `selectable`.
    Selectable,
    /// CEL: `validation`, `cel`.
    Validation,
    /// The generated root type: `status`, `schema`, `no_spec`, `derive`,
    /// `attr`, `doc`, `crates`, `label`, `annotation`.
    Codegen,
    /// client-gen's options in `#[genclient(...)]`.
    GenClient,
}

/// How a key of `#[kube(...)]` is read.
pub(crate) type Handler = fn(&ParseNestedMeta<'_>, &mut Draft) -> syn::Result<()>;

/// One key of `#[kube(...)]` or `#[genclient(...)]`.
#[derive(Clone, Copy)]
pub struct KeyDef {
    /// The key, e.g. `group`.
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// How it is written, e.g. `group = "example.com"`.
    pub syntax: &'static str,
    /// Whether kube-derive 5 has it too (else it is bot-derive's own).
    pub kube_derive: bool,
    handler: Option<Handler>,
}

impl std::fmt::Debug for KeyDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDef")
            .field("name", &self.name)
            .field("family", &self.family)
            .field("syntax", &self.syntax)
            .field("kube_derive", &self.kube_derive)
            .finish()
    }
}

const fn kube(name: &'static str, family: Family, syntax: &'static str, handler: Handler) -> KeyDef {
    KeyDef { name, family, syntax, kube_derive: true, handler: Some(handler) }
}

const fn genclient(name: &'static str, syntax: &'static str) -> KeyDef {
    KeyDef { name, family: Family::GenClient, syntax, kube_derive: false, handler: None }
}

use Family::*;

const KUBE_KEYS: &[KeyDef] = &[
    kube("group", Names, r#"group = "example.com""#, names::group),
    kube("version", Names, r#"version = "v1""#, names::version),
    kube("kind", Names, r#"kind = "Foo""#, names::kind),
    kube("plural", Names, r#"plural = "foos""#, names::plural),
    kube("singular", Names, r#"singular = "foo""#, names::singular),
    kube("root", Names, r#"root = "FooCrd""#, names::root),
    kube("namespaced", Names, "namespaced", names::namespaced),
    kube("shortname", Names, r#"shortname = "f""#, names::shortname),
    kube("category", Names, r#"category = "all""#, names::category),
    kube("storage", Names, "storage = false", names::storage),
    kube("served", Names, "served = false", names::served),
    kube("deprecated", Names, r#"deprecated = "warning""#, names::deprecated),
    kube("printcolumn", PrintColumn, r#"printcolumn(name = "", type_ = "", json_path = "")"#, printcolumn::parse),
    kube("selectable", Selectable, r#"selectable = ".spec.x""#, selectable::parse),
    kube("scale", Scale, r#"scale(spec_replicas_path = "", status_replicas_path = "")"#, scale::parse),
    kube("validation", Validation, r#"validation = "CEL" | Rule::new("CEL")"#, validation::validation),
    kube("cel", Validation, "cel", validation::cel),
    kube("status", Codegen, r#"status = "FooStatus""#, codegen::status),
    kube("no_spec", Codegen, "no_spec", codegen::no_spec),
    kube("schema", Codegen, r#"schema = "derived" | "manual" | "disabled""#, codegen::schema),
    kube("derive", Codegen, r#"derive = "PartialEq""#, codegen::derive),
    kube("attr", Codegen, r#"attr = "allow(deprecated)""#, codegen::attr),
    kube("doc", Codegen, r#"doc = "...""#, codegen::doc),
    kube("crates", Codegen, r#"crates(kube_core = "::kube::core", ...)"#, codegen::crates),
    kube("label", Codegen, r#"label("key", "value")"#, codegen::label),
    kube("annotation", Codegen, r#"annotation("key", "value")"#, codegen::annotation),
];

const GENCLIENT_KEYS: &[KeyDef] = &[
    genclient("no_status", "no_status"),
    genclient("no_verbs", "no_verbs"),
    genclient("readonly", "readonly"),
    genclient("non_namespaced", "non_namespaced"),
    genclient("only_verbs", "only_verbs(get, list)"),
    genclient("skip_verbs", "skip_verbs(delete_collection)"),
    genclient("method", r#"method(name = "GetScale", verb = "get", subresource = "scale")"#),
];

/// Every key `#[kube(...)]` accepts.
pub fn kube_keys() -> &'static [KeyDef] {
    KUBE_KEYS
}

/// Every key `#[genclient(...)]` accepts.
pub fn genclient_keys() -> &'static [KeyDef] {
    GENCLIENT_KEYS
}

/// The names of `keys`, for "did you mean" and "expected one of".
pub(crate) fn names_of(keys: &[KeyDef]) -> Vec<&'static str> {
    keys.iter().map(|k| k.name).collect()
}

/// Reads one key of `#[kube(...)]` through its handler in the table.
pub(crate) fn dispatch(meta: &ParseNestedMeta<'_>, draft: &mut Draft) -> syn::Result<()> {
    let name = meta.path.get_ident().map(|i| i.to_string());
    let Some(key) = name.as_deref().and_then(|n| KUBE_KEYS.iter().find(|k| k.name == n)) else {
        return support::unknown_key(&mut draft.diag, meta, "kube", &names_of(KUBE_KEYS));
    };
    draft.seen.insert(key.name.to_string());
    (key.handler.expect("every #[kube] key has a handler"))(meta, draft)
}
