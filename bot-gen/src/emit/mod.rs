//! Emits the generated code from the models: clientset, listers, informers
//! and apply configurations.
//!
//! Generated code is thin: names, structure and verb sets over the generic
//! types of `bot-runtime`, where the behaviour lives and is tested once.

mod applyconfig;
mod clientset;
mod informer;
mod lister;
mod methods;
mod types;

pub use types::TypeTable;

use std::collections::BTreeMap;

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use crate::{
    Error, Result,
    model::{ResourceModel, to_camel, to_plural, to_snake},
};

/// One annotated type found in the inputs.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its model.
    pub model: ResourceModel,
    /// The module its root type lives in, e.g. `crate::v1alpha1`.
    pub module: String,
    /// The file it was read from (for messages only; never emitted).
    pub path: String,
}

impl Resource {
    /// The path of the root type, e.g. `crate::v1alpha1::Bot`.
    pub(crate) fn root_path(&self) -> TokenStream {
        let module = self.module_path();
        let root = &self.model.root_ident;
        quote!(#module::#root)
    }

    /// The module as a path (checked by [`Config::load`](crate::Config::load)).
    pub(crate) fn module_path(&self) -> syn::Path {
        syn::parse_str(&self.module).unwrap_or_else(|_| syn::parse_quote!(crate))
    }

    /// The accessor name: `bots`, `event_bindings` (the snake_cased kind,
    /// pluralised; a custom `plural` is used as given).
    pub(crate) fn accessor(&self) -> Ident {
        let m = &self.model;
        let name = if m.plural == to_plural(&m.kind.to_ascii_lowercase()) {
            to_plural(&to_snake(&m.kind))
        } else {
            to_snake(&m.plural)
        };
        safe_ident(&name)
    }

    /// `Bot` + suffix, e.g. `BotClient`.
    pub(crate) fn ident(&self, suffix: &str) -> Ident {
        format_ident!("{}{}", self.model.kind, suffix)
    }
}

/// One group-version and its resources.
pub(crate) struct GroupVersion<'a> {
    /// The API group, e.g. `botops.dev`.
    pub(crate) group: &'a str,
    /// The version, e.g. `v1alpha1`.
    pub(crate) version: &'a str,
    /// Rust name of the group, e.g. `botops`.
    pub(crate) group_name: String,
    /// Its resources, sorted by kind.
    pub(crate) resources: Vec<&'a Resource>,
}

impl GroupVersion<'_> {
    /// `botops_v1alpha1`
    pub(crate) fn module(&self) -> Ident {
        format_ident!("{}_{}", self.group_name, to_snake(self.version))
    }
    /// `BotopsV1alpha1` + suffix
    pub(crate) fn camel(&self, suffix: &str) -> Ident {
        format_ident!("{}{}{}", to_camel(&self.group_name), to_camel(self.version), suffix)
    }
    /// `v1alpha1`
    pub(crate) fn version_ident(&self) -> Ident {
        format_ident!("{}", to_snake(self.version))
    }
    /// `botops`
    pub(crate) fn group_ident(&self) -> Ident {
        format_ident!("{}", self.group_name)
    }
}

/// Names the informer factory and clientset use themselves: a group cannot
/// get one of them as its accessor.
const RESERVED_GROUP_NAMES: &[&str] = &[
    "new",
    "from_core",
    "core",
    "client",
    "start",
    "shutdown",
    "wait_for_cache_sync",
    "with_namespace",
    "with_transform",
    "with_tweak_list_options",
];

fn default_group_name(group: &str) -> String {
    let first = group.split('.').next().unwrap_or(group);
    if first.is_empty() { "core".into() } else { to_snake(first) }
}

/// Renders the whole generated file for `resources`, whose spec and status
/// types are looked up in `types`.
pub(crate) fn render(
    resources: &[Resource],
    types: &TypeTable,
    group_names: &BTreeMap<String, String>,
    runtime: &str,
) -> Result<String> {
    let rt: syn::Path =
        syn::parse_str(runtime).map_err(|e| Error::Conflict(format!("runtime path `{runtime}` is not a path: {e}")))?;

    // Group-versions, deterministic order; Rust group names must not collide.
    let mut gvs: BTreeMap<(&str, &str), Vec<&Resource>> = BTreeMap::new();
    for r in resources {
        gvs.entry((r.model.group.as_str(), r.model.version.as_str())).or_default().push(r);
    }
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    let mut groups = Vec::new();
    for ((group, version), rs) in &gvs {
        let name = group_names.get(*group).cloned().unwrap_or_else(|| default_group_name(group));
        if syn::parse_str::<Ident>(&name).is_err() {
            return Err(Error::Conflict(format!(
                "group name `{name}` of {group} is not a Rust identifier; set one with Config::group_name"
            )));
        }
        if RESERVED_GROUP_NAMES.contains(&name.as_str()) {
            return Err(Error::Conflict(format!(
                "API group {group} would get the Rust name `{name}`, which the informer factory uses for a method \
                 of its own; give it another with Config::group_name(\"{group}\", \"...\")"
            )));
        }
        if let Some(other) = names.insert(name.clone(), group)
            && other != *group
        {
            return Err(Error::Conflict(format!(
                "API groups {other} and {group} both get the Rust name `{name}`; \
                 give one another name with Config::group_name(\"{group}\", \"...\")"
            )));
        }
        groups.push(GroupVersion { group, version, group_name: name, resources: rs.clone() });
    }

    // Within a group-version, generated names must be unique: `Type` and
    // `TypeNamespace` would both make `TypeNamespaceLister`.
    for gv in &groups {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for r in &gv.resources {
            let k = r.model.kind.as_str();
            let mut names =
                vec![format!("{k}Client"), format!("{k}Lister"), format!("{k}Informer"), r.accessor().to_string()];
            if r.model.namespaced {
                names.push(format!("{k}NamespaceLister"));
            }
            for n in names {
                if let Some(other) = seen.insert(n.clone(), k) {
                    return Err(Error::Conflict(format!(
                        "kinds {other} and {k} of {}/{} both generate `{n}`; rename one of them (kind or plural)",
                        gv.group, gv.version
                    )));
                }
            }
        }
    }

    for r in resources {
        check_method_names(r)?;
    }

    let kinds: Vec<String> = resources.iter().map(|r| format!("{}/{}", r.model.api_version(), r.model.kind)).collect();
    let clientset = clientset::emit(&groups, types, &rt);
    let listers = lister::emit(&groups, &rt);
    let informers = informer::emit(&groups, &rt);
    let applyconfigurations = applyconfig::emit(&groups, types, &rt)?;
    let clientset_doc = format!(
        "Typed clients: `Clientset::new(client).<group>_<version>().<plural>(namespace)`.\n\nKinds: {}.",
        kinds.join(", ")
    );

    let tokens = quote! {
        #[doc = #clientset_doc]
        pub mod clientset { #clientset }
        /// Listers: typed read access to informer caches.
        pub mod listers { #listers }
        /// Shared informers and their factory.
        pub mod informers { #informers }
        /// Apply configurations for server-side apply (client-go's
        /// applyconfiguration-gen): `<Kind>Apply::new(..)` with builder methods,
        /// all fields optional and only what is set serialized, and
        /// `extract_<kind>(&obj, field_manager)` for the fields a manager owns.
        pub mod applyconfigurations { #applyconfigurations }
    };
    let file: syn::File = syn::parse2(tokens).map_err(|e| Error::Internal(e.to_string()))?;
    let body = prettyplease::unparse(&file);
    Ok(format!(
        "// This file is @generated by bot-gen {}. Do not edit: change the annotated types and rebuild.\n{body}",
        env!("CARGO_PKG_VERSION")
    ))
}

/// Extra methods must not take the name of a verb's method or of another
/// extra method.
fn check_method_names(r: &Resource) -> Result<()> {
    let mut taken: BTreeMap<String, String> =
        clientset::verb_method_names(r).into_iter().map(|(n, v)| (n.to_string(), format!("the `{v}` verb"))).collect();
    for m in &r.model.methods {
        let name = m.name.to_string();
        if let Some(other) = taken.insert(name.clone(), format!("another method(name = ...) of {}", r.model.kind)) {
            return Err(Error::Conflict(format!(
                "{}: #[genclient(method(name = ...))] gives `{name}`, which {other} already generates on {}Client; \
                 choose another name",
                r.path, r.model.kind
            )));
        }
    }
    Ok(())
}

/// `name` as an identifier; a keyword (`as`, `type`) gets a trailing `_`.
pub(crate) fn safe_ident(name: &str) -> Ident {
    match syn::parse_str::<Ident>(name) {
        Ok(i) => i,
        Err(_) if name.starts_with(|c: char| c.is_ascii_digit()) => format_ident!("_{name}"),
        Err(_) => format_ident!("{name}_"),
    }
}

/// A doc attribute from a string.
pub(crate) fn doc(s: impl AsRef<str>) -> TokenStream {
    let s = s.as_ref();
    quote!(#[doc = #s])
}
