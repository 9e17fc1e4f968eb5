//! The structs and enums of the input files, by module, and what a type path
//! written in one of them names: enough name resolution to find the types a
//! spec and a status use and to refer to foreign types from generated code.
//!
//! Resolution follows Rust 2018 paths: `crate::`, `self::`, `super::`, a
//! type or module of the same module, a `use` of that module (renames and
//! groups; globs are not followed), a prelude type, else an external crate.

use std::collections::{BTreeMap, BTreeSet};

use quote::format_ident;

/// A struct or an enum of the inputs.
#[derive(Debug, Clone)]
pub(crate) enum TypeItem {
    /// A struct.
    Struct(syn::ItemStruct),
    /// An enum.
    Enum(syn::ItemEnum),
}

impl TypeItem {
    /// Its attributes.
    pub(crate) fn attrs(&self) -> &[syn::Attribute] {
        match self {
            TypeItem::Struct(s) => &s.attrs,
            TypeItem::Enum(e) => &e.attrs,
        }
    }

    /// Whether generated code outside its module can name it (`pub`,
    /// `pub(crate)`, ...; not private).
    pub(crate) fn nameable(&self) -> bool {
        let vis = match self {
            TypeItem::Struct(s) => &s.vis,
            TypeItem::Enum(e) => &e.vis,
        };
        !matches!(vis, syn::Visibility::Inherited)
    }

    /// Whether it derives the trait named `name` (`PartialEq`, ...).
    pub(crate) fn derives(&self, name: &str) -> bool {
        self.attrs().iter().filter(|a| a.path().is_ident("derive")).any(|a| {
            let mut found = false;
            let _ = a.parse_nested_meta(|m| {
                found |= m.path.segments.last().is_some_and(|s| s.ident == name);
                Ok(())
            });
            found
        })
    }
}

/// Key of a type: its module (`crate::v1alpha1`) and name.
pub(crate) type TypeKey = (String, String);

/// The types of every input file.
#[derive(Debug, Clone, Default)]
pub struct TypeTable {
    types: BTreeMap<TypeKey, TypeItem>,
    modules: BTreeSet<String>,
    /// Per module: name -> the path a `use` binds it to, as written.
    uses: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

/// Types the prelude (or the language) provides: never a local type.
const PRELUDE: &[&str] = &[
    "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
    "f32", "f64", "String", "Vec", "Option", "Box", "Result",
];

impl TypeTable {
    /// Records the structs, enums, modules and `use`s of `items`, found in
    /// module `module` (inline modules recursed into).
    pub fn add(&mut self, items: &[syn::Item], module: &str) {
        self.modules.insert(module.to_string());
        for item in items {
            match item {
                syn::Item::Struct(s) => {
                    self.types.insert((module.into(), s.ident.to_string()), TypeItem::Struct(s.clone()));
                }
                syn::Item::Enum(e) => {
                    self.types.insert((module.into(), e.ident.to_string()), TypeItem::Enum(e.clone()));
                }
                syn::Item::Mod(m) => {
                    let child = format!("{module}::{}", m.ident);
                    match &m.content {
                        Some((_, items)) => self.add(items, &child),
                        None => {
                            self.modules.insert(child);
                        }
                    }
                }
                syn::Item::Use(u) => {
                    let uses = self.uses.entry(module.to_string()).or_default();
                    use_tree(&u.tree, Vec::new(), uses);
                }
                _ => {}
            }
        }
    }

    /// The type `key` names, if it is one of the inputs.
    pub(crate) fn get(&self, key: &TypeKey) -> Option<&TypeItem> {
        self.types.get(key)
    }

    /// The absolute segments of `path` written in `module`: `["crate", ..]`,
    /// `["", "k8s_openapi", ..]` (an external crate, `::`), or one prelude name.
    pub(crate) fn absolute(&self, module: &str, path: &syn::Path) -> Vec<String> {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if path.leading_colon.is_some() {
            return std::iter::once(String::new()).chain(segs).collect();
        }
        self.absolute_segments(module, &segs, 0)
    }

    fn absolute_segments(&self, module: &str, segs: &[String], depth: usize) -> Vec<String> {
        let here: Vec<String> = module.split("::").map(str::to_string).collect();
        let Some(first) = segs.first() else { return here };
        let rest = &segs[1..];
        let join = |mut base: Vec<String>, rest: &[String]| {
            base.extend(rest.iter().cloned());
            base
        };
        match first.as_str() {
            "crate" => segs.to_vec(),
            "self" => join(here, rest),
            "super" => {
                let parent = here[..here.len().saturating_sub(1).max(1)].join("::");
                self.absolute_segments(&parent, &[&["self".to_string()], rest].concat(), depth)
            }
            _ if self.types.contains_key(&(module.to_string(), first.clone()))
                || self.modules.contains(&format!("{module}::{first}")) =>
            {
                join(here, segs)
            }
            _ if depth < 8 && self.uses.get(module).is_some_and(|u| u.contains_key(first)) => {
                let target = &self.uses[module][first];
                let resolved = self.absolute_segments(module, target, depth + 1);
                join(resolved, rest)
            }
            _ if segs.len() == 1 && PRELUDE.contains(&first.as_str()) => segs.to_vec(),
            // A name from a glob import or a macro: assume it lives here.
            _ if segs.len() == 1 => join(here, segs),
            _ => std::iter::once(String::new()).chain(segs.iter().cloned()).collect(),
        }
    }

    /// The input type `path` (written in `module`) names, if any.
    pub(crate) fn lookup(&self, module: &str, path: &syn::Path) -> Option<(TypeKey, &TypeItem)> {
        let abs = self.absolute(module, path);
        let (name, module) = abs.split_last()?;
        let key = (module.join("::"), name.clone());
        self.types.get(&key).map(|item| (key, item))
    }

    /// `ty` written in `module`, with every path made absolute so that
    /// generated code can use it anywhere in the crate.
    pub(crate) fn absolutize(&self, module: &str, ty: &syn::Type) -> syn::Type {
        let mut ty = ty.clone();
        self.absolutize_in_place(module, &mut ty);
        ty
    }

    fn absolutize_in_place(&self, module: &str, ty: &mut syn::Type) {
        match ty {
            syn::Type::Path(p) if p.qself.is_none() => {
                for seg in &mut p.path.segments {
                    if let syn::PathArguments::AngleBracketed(args) = &mut seg.arguments {
                        for arg in &mut args.args {
                            if let syn::GenericArgument::Type(t) = arg {
                                self.absolutize_in_place(module, t);
                            }
                        }
                    }
                }
                let abs = self.absolute(module, &p.path);
                let args = p.path.segments.last().map(|s| s.arguments.clone()).unwrap_or_default();
                let mut segments: syn::punctuated::Punctuated<syn::PathSegment, syn::Token![::]> = abs
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| syn::PathSegment::from(format_ident!("{}", s)))
                    .collect();
                if let Some(last) = segments.last_mut() {
                    last.arguments = args;
                }
                let leading = abs.first().is_some_and(String::is_empty);
                p.path = syn::Path { leading_colon: leading.then(Default::default), segments };
            }
            syn::Type::Reference(r) => self.absolutize_in_place(module, &mut r.elem),
            syn::Type::Slice(s) => self.absolutize_in_place(module, &mut s.elem),
            syn::Type::Array(a) => self.absolutize_in_place(module, &mut a.elem),
            syn::Type::Paren(p) => self.absolutize_in_place(module, &mut p.elem),
            syn::Type::Group(g) => self.absolutize_in_place(module, &mut g.elem),
            syn::Type::Tuple(t) => t.elems.iter_mut().for_each(|e| self.absolutize_in_place(module, e)),
            _ => {}
        }
    }
}

/// Records the names a `use` tree binds (`prefix` already walked).
fn use_tree(tree: &syn::UseTree, prefix: Vec<String>, out: &mut BTreeMap<String, Vec<String>>) {
    let with = |name: &syn::Ident| {
        let mut p = prefix.clone();
        p.push(name.to_string());
        p
    };
    match tree {
        syn::UseTree::Path(p) => use_tree(&p.tree, with(&p.ident), out),
        syn::UseTree::Name(n) if n.ident == "self" => {
            if let Some(last) = prefix.last() {
                out.insert(last.clone(), prefix.clone());
            }
        }
        syn::UseTree::Name(n) => {
            out.insert(n.ident.to_string(), with(&n.ident));
        }
        syn::UseTree::Rename(r) if r.ident == "self" => {
            out.insert(r.rename.to_string(), prefix.clone());
        }
        syn::UseTree::Rename(r) => {
            out.insert(r.rename.to_string(), with(&r.ident));
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| use_tree(t, prefix.clone(), out)),
        syn::UseTree::Glob(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn table() -> TypeTable {
        let file: syn::File = syn::parse_quote! {
            use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector as Selector};
            use super::shared::Common;
            use std::collections::BTreeMap;
            pub struct Spec { a: Condition }
            pub enum Mode { A }
            mod inner { pub struct Deep; }
        };
        let shared: syn::File = syn::parse_quote! { pub struct Common; };
        let mut t = TypeTable::default();
        t.add(&file.items, "crate::api::v1");
        t.add(&shared.items, "crate::api::shared");
        t
    }

    fn abs(t: &TypeTable, ty: syn::Type) -> String {
        t.absolutize("crate::api::v1", &ty).to_token_stream().to_string().replace(' ', "")
    }

    #[test]
    fn paths_resolve_like_rust_2018() {
        let t = table();
        assert_eq!(
            abs(&t, syn::parse_quote!(Condition)),
            "::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition"
        );
        assert_eq!(
            abs(&t, syn::parse_quote!(Selector)),
            "::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector"
        );
        assert_eq!(abs(&t, syn::parse_quote!(Mode)), "crate::api::v1::Mode");
        assert_eq!(abs(&t, syn::parse_quote!(inner::Deep)), "crate::api::v1::inner::Deep");
        assert_eq!(abs(&t, syn::parse_quote!(Common)), "crate::api::shared::Common");
        assert_eq!(abs(&t, syn::parse_quote!(super::shared::Common)), "crate::api::shared::Common");
        assert_eq!(
            abs(&t, syn::parse_quote!(Vec<Condition>)),
            "Vec<::k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>"
        );
        assert_eq!(abs(&t, syn::parse_quote!(BTreeMap<String, i32>)), "::std::collections::BTreeMap<String,i32>");
        assert_eq!(abs(&t, syn::parse_quote!(serde_json::Value)), "::serde_json::Value");
        let (key, _) = t.lookup("crate::api::v1", &syn::parse_quote!(Common)).unwrap();
        assert_eq!(key, ("crate::api::shared".to_string(), "Common".to_string()));
        assert!(t.lookup("crate::api::v1", &syn::parse_quote!(Condition)).is_none());
    }
}
