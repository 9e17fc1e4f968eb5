//! Apply configurations (client-go's applyconfiguration-gen): for every kind
//! an all-optional `<Kind>Apply` with apiVersion, kind and metadata, for
//! every struct its spec and status use an all-optional `<Type>Apply`, and
//! `extract_<kind>` / `extract_<kind>_status` over `bot_runtime::apply`.
//!
//! A struct field of type `T` becomes `Option<T'>` where `T'` is the apply
//! configuration of `T` when `T` is a struct of the inputs with named fields,
//! `Vec<T'>` / `BTreeMap<K, T'>` for lists and maps, and `T` itself
//! otherwise (enums, scalars, foreign types such as k8s-openapi's, which
//! serialize only what is set). Serde's naming attributes are copied as
//! written (`rename_all`, `rename`, `alias`, `flatten`); `skip` and
//! `skip_serializing` fields are left out; a field with a custom serializer
//! (`with`, `serialize_with`) or of a private enum becomes raw JSON
//! (`serde_json::Value`); generic, `transparent`, tagged and `from`/`into`
//! structs are kept whole.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proc_macro2::{Ident, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::{Meta, Token, punctuated::Punctuated};

use super::{
    GroupVersion, Resource, doc,
    types::{TypeItem, TypeKey, TypeTable},
};
use crate::{
    Error, Result,
    model::{ResourceModel, to_snake},
};

/// What a field's apply configuration holds.
#[derive(Debug, Clone)]
pub(crate) enum Shape {
    /// A struct of the inputs, decomposed: its `<Type>Apply`.
    Struct(TypeKey),
    /// Kept as the source type (absolute path), with its input key if local.
    Plain(syn::Type, Option<TypeKey>),
    /// A list.
    Vec(Box<Shape>),
    /// A map with these keys.
    Map(syn::Type, Box<Shape>),
    /// A box.
    Boxed(Box<Shape>),
    /// Raw JSON.
    Raw,
}

/// Serde container keys that make a struct serialize otherwise than its fields.
const WHOLE_KEYS: &[&str] = &["transparent", "tag", "untagged", "from", "into", "try_from", "remote", "content"];

/// The `#[serde(...)]` items of `attrs`.
fn serde_metas(attrs: &[syn::Attribute]) -> Vec<Meta> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| a.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated).ok())
        .flatten()
        .collect()
}

fn has_key(metas: &[Meta], keys: &[&str]) -> bool {
    metas.iter().any(|m| keys.iter().any(|k| m.path().is_ident(k)))
}

/// The named fields of `item` when its apply configuration can list them.
fn decomposable(item: &TypeItem) -> Option<&syn::FieldsNamed> {
    let TypeItem::Struct(s) = item else { return None };
    let syn::Fields::Named(fields) = &s.fields else { return None };
    let whole = !s.generics.params.is_empty() || has_key(&serde_metas(&s.attrs), WHOLE_KEYS);
    (!whole).then_some(fields)
}

/// The single type argument of the last segment of `p`, or both of a map.
fn type_args(p: &syn::TypePath) -> Vec<&syn::Type> {
    match p.path.segments.last().map(|s| &s.arguments) {
        Some(syn::PathArguments::AngleBracketed(a)) => a
            .args
            .iter()
            .filter_map(|g| match g {
                syn::GenericArgument::Type(t) => Some(t),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The shape of a field of type `ty` written in `module`.
pub(crate) fn shape(table: &TypeTable, module: &str, ty: &syn::Type) -> Shape {
    let syn::Type::Path(p) = ty else { return Shape::Plain(table.absolutize(module, ty), None) };
    if p.qself.is_some() {
        return Shape::Plain(ty.clone(), None);
    }
    let last = p.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
    let args = type_args(p);
    let local = table.lookup(module, &p.path);
    match (last.as_str(), args.as_slice(), &local) {
        ("Option", [t], None) => return shape(table, module, t),
        ("Vec", [t], None) => return Shape::Vec(Box::new(shape(table, module, t))),
        ("Box", [t], None) => return Shape::Boxed(Box::new(shape(table, module, t))),
        ("BTreeMap" | "HashMap" | "IndexMap", [k, v], None) => {
            return Shape::Map(table.absolutize(module, k), Box::new(shape(table, module, v)));
        }
        _ => {}
    }
    match local {
        Some((key, item)) if decomposable(item).is_some() => Shape::Struct(key),
        Some((_, item)) if !item.nameable() => Shape::Raw,
        Some((key, _)) => Shape::Plain(table.absolutize(module, ty), Some(key)),
        None => Shape::Plain(table.absolutize(module, ty), None),
    }
}

impl Shape {
    /// The struct keys this shape refers to.
    fn structs(&self, out: &mut Vec<TypeKey>) {
        match self {
            Shape::Struct(k) => out.push(k.clone()),
            Shape::Vec(s) | Shape::Map(_, s) | Shape::Boxed(s) => s.structs(out),
            Shape::Plain(..) | Shape::Raw => {}
        }
    }

    /// The Rust type of the field (inside its `Option`).
    fn ty(&self, rt: &syn::Path) -> TokenStream {
        match self {
            Shape::Struct(k) => apply_ident(&k.1).to_token_stream(),
            Shape::Plain(t, _) => t.to_token_stream(),
            Shape::Vec(s) => {
                let s = s.ty(rt);
                quote!(::std::vec::Vec<#s>)
            }
            Shape::Map(k, s) => {
                let s = s.ty(rt);
                quote!(::std::collections::BTreeMap<#k, #s>)
            }
            Shape::Boxed(s) => {
                let s = s.ty(rt);
                quote!(::std::boxed::Box<#s>)
            }
            Shape::Raw => quote!(#rt::serde_json::Value),
        }
    }

    fn is_string(&self) -> bool {
        let Shape::Plain(syn::Type::Path(p), None) = self else { return false };
        let segs: Vec<String> = p.path.segments.iter().map(|s| s.ident.to_string()).collect();
        segs == ["String"] || segs == ["std", "string", "String"] || segs == ["alloc", "string", "String"]
    }
}

/// `Foo` -> `FooApply`.
pub(crate) fn apply_ident(name: &str) -> Ident {
    format_ident!("{}Apply", name.trim_start_matches("r#"))
}

/// One field of a struct's apply configuration.
struct FieldPlan {
    ident: Ident,
    docs: Vec<syn::Attribute>,
    serde: Vec<Meta>,
    flatten: bool,
    shape: Shape,
    note: Option<&'static str>,
}

impl FieldPlan {
    /// A flattened struct or map: held as is (it serializes nothing when
    /// empty), not in an `Option`.
    fn bare(&self) -> bool {
        self.flatten && matches!(self.shape, Shape::Struct(_) | Shape::Map(..))
    }
}

/// The builder method of a [`FieldPlan::bare`] field.
fn bare_setter(f: &FieldPlan, rt: &syn::Path) -> TokenStream {
    let (field, ty) = (&f.ident, f.shape.ty(rt));
    let name = field.to_string();
    match &f.shape {
        Shape::Map(k, v) => {
            let (d, v) = (doc(format!("Adds entries to the flattened `{name}`.")), v.ty(rt));
            quote! {
                #d
                pub fn #field(mut self, entries: impl ::std::iter::IntoIterator<Item = (#k, #v)>) -> Self {
                    self.#field.extend(entries);
                    self
                }
            }
        }
        _ => {
            let d = doc(format!("Sets the flattened `{name}`."));
            quote! {
                #d
                pub fn #field(mut self, value: #ty) -> Self {
                    self.#field = value;
                    self
                }
            }
        }
    }
}

/// One struct's apply configuration.
struct StructPlan {
    key: TypeKey,
    source: TokenStream,
    container: Vec<Meta>,
    fields: Vec<FieldPlan>,
    try_from: bool,
}

fn plan_struct(table: &TypeTable, key: &TypeKey, item: &TypeItem) -> Option<StructPlan> {
    let fields = decomposable(item)?;
    let container = serde_metas(item.attrs()).into_iter().filter(|m| m.path().is_ident("rename_all")).collect();
    let mut out = Vec::new();
    for f in &fields.named {
        let metas = serde_metas(&f.attrs);
        if has_key(&metas, &["skip", "skip_serializing"]) {
            continue;
        }
        let custom = has_key(&metas, &["with", "serialize_with"]);
        let serde: Vec<Meta> =
            metas.into_iter().filter(|m| ["rename", "alias", "flatten"].iter().any(|k| m.path().is_ident(k))).collect();
        let shape = if custom { Shape::Raw } else { shape(table, &key.0, &f.ty) };
        let note = match (&shape, custom) {
            (_, true) => Some("Raw JSON: the source field has its own serializer."),
            (Shape::Raw, false) => Some("Raw JSON: the field's type is private to its module."),
            _ => None,
        };
        out.push(FieldPlan {
            ident: f.ident.clone()?,
            docs: f.attrs.iter().filter(|a| a.path().is_ident("doc")).cloned().collect(),
            flatten: has_key(&serde, &["flatten"]),
            serde,
            shape,
            note,
        });
    }
    let source = path_tokens(&key.0, &key.1);
    Some(StructPlan { key: key.clone(), source, container, fields: out, try_from: item.nameable() })
}

fn path_tokens(module: &str, name: &str) -> TokenStream {
    let path: syn::Path = syn::parse_str(&format!("{module}::{name}")).unwrap_or_else(|_| syn::parse_quote!(crate));
    path.to_token_stream()
}

/// The apply configurations of one group-version: its kinds' roots and
/// every struct they reach.
struct GvPlan<'a> {
    roots: Vec<RootPlan<'a>>,
    structs: Vec<StructPlan>,
    eq: BTreeMap<TypeKey, bool>,
}

struct RootPlan<'a> {
    resource: &'a Resource,
    spec: Shape,
    status: Option<Shape>,
}

fn plan_gv<'a>(table: &TypeTable, gv: &GroupVersion<'a>) -> Result<GvPlan<'a>> {
    let mut roots = Vec::new();
    let mut queue: VecDeque<TypeKey> = VecDeque::new();
    for r in &gv.resources {
        let spec_ty: syn::Type =
            syn::Type::Path(syn::TypePath { qself: None, path: r.model.spec_ident.clone().into() });
        let spec = shape(table, &r.module, &spec_ty);
        let status = r
            .model
            .status
            .as_ref()
            .map(|p| shape(table, &r.module, &syn::Type::Path(syn::TypePath { qself: None, path: p.clone() })));
        let mut found = Vec::new();
        spec.structs(&mut found);
        status.iter().for_each(|s| s.structs(&mut found));
        queue.extend(found);
        roots.push(RootPlan { resource: r, spec, status });
    }
    let mut seen = BTreeSet::new();
    let mut structs = Vec::new();
    while let Some(key) = queue.pop_front() {
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(plan) = table.get(&key).and_then(|item| plan_struct(table, &key, item)) else { continue };
        let mut found = Vec::new();
        plan.fields.iter().for_each(|f| f.shape.structs(&mut found));
        queue.extend(found);
        structs.push(plan);
    }
    structs.sort_by(|a, b| (&a.key.1, &a.key.0).cmp(&(&b.key.1, &b.key.0)));
    check_names(gv, &roots, &structs)?;
    let eq = partial_eq(table, &structs);
    Ok(GvPlan { roots, structs, eq })
}

/// Two types of one group-version must not get the same apply name.
fn check_names(gv: &GroupVersion<'_>, roots: &[RootPlan<'_>], structs: &[StructPlan]) -> Result<()> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let roots = roots.iter().map(|r| (format!("{}Apply", r.resource.model.kind), r.resource.root_path().to_string()));
    let structs = structs.iter().map(|s| (apply_ident(&s.key.1).to_string(), format!("{}::{}", s.key.0, s.key.1)));
    for (name, source) in roots.chain(structs) {
        if let Some(other) = names.insert(name.clone(), source.clone()) {
            return Err(Error::Conflict(format!(
                "{other} and {source} of {}/{} both get the apply configuration `{name}`; rename one of them",
                gv.group, gv.version
            )));
        }
    }
    Ok(())
}

/// Which apply configurations can derive `PartialEq`: those whose source
/// derives it and whose nested apply configurations can too.
fn partial_eq(table: &TypeTable, structs: &[StructPlan]) -> BTreeMap<TypeKey, bool> {
    let mut eq: BTreeMap<TypeKey, bool> =
        structs.iter().map(|s| (s.key.clone(), table.get(&s.key).is_some_and(|i| i.derives("PartialEq")))).collect();
    loop {
        let mut changed = false;
        for s in structs {
            if eq[&s.key] && !s.fields.iter().all(|f| shape_eq(table, &eq, &f.shape)) {
                eq.insert(s.key.clone(), false);
                changed = true;
            }
        }
        if !changed {
            return eq;
        }
    }
}

fn shape_eq(table: &TypeTable, eq: &BTreeMap<TypeKey, bool>, shape: &Shape) -> bool {
    match shape {
        Shape::Struct(k) => eq.get(k).copied().unwrap_or(false),
        Shape::Plain(_, Some(k)) => table.get(k).is_some_and(|i| i.derives("PartialEq")),
        Shape::Plain(_, None) | Shape::Raw => true,
        Shape::Vec(s) | Shape::Map(_, s) | Shape::Boxed(s) => shape_eq(table, eq, s),
    }
}

/// The module `applyconfigurations` for `groups`.
pub(crate) fn emit(groups: &[GroupVersion<'_>], table: &TypeTable, rt: &syn::Path) -> Result<TokenStream> {
    let serde_crate = format!("{}::serde", rt.to_token_stream().to_string().replace(' ', ""));
    let mut modules = Vec::new();
    for gv in groups {
        let plan = plan_gv(table, gv)?;
        let m = gv.module();
        let roots = plan.roots.iter().map(|r| emit_root(r, &plan, table, rt, &serde_crate));
        let structs = plan.structs.iter().map(|s| emit_struct(s, plan.eq[&s.key], rt, &serde_crate));
        let d = doc(format!(
            "Apply configurations of `{}/{}`: `<Kind>Apply::new(..)` per kind, `<Type>Apply` per struct \
             its spec and status use, and `extract_<kind>` for what a field manager owns.",
            gv.group, gv.version
        ));
        modules.push(quote! {
            #d
            pub mod #m {
                #(#roots)*
                #(#structs)*
            }
        });
    }
    Ok(quote!(#(#modules)*))
}

fn derives(eq: bool, rt: &syn::Path) -> TokenStream {
    let eq = eq.then(|| quote!(PartialEq,));
    quote!(#[derive(Clone, Debug, Default, #eq #rt::serde::Serialize, #rt::serde::Deserialize)])
}

fn emit_struct(s: &StructPlan, eq: bool, rt: &syn::Path, serde_crate: &str) -> TokenStream {
    let ident = apply_ident(&s.key.1);
    let source = &s.source;
    let d = doc(format!(
        "Apply configuration of `{}`: every field optional; only what is set is serialized.",
        source.to_string().replace(' ', "")
    ));
    let derive = derives(eq, rt);
    let container = &s.container;
    let container = (!container.is_empty()).then(|| quote!(#[serde(#(#container),*)]));
    let fields = s.fields.iter().map(|f| {
        let (ident, ty, docs) = (&f.ident, f.shape.ty(rt), &f.docs);
        let note = f.note.map(|n| doc(format!("\n\n{n}")));
        let kept = &f.serde;
        if f.bare() {
            // Flattened and empty when unset: no `Option`, which serde would
            // read back as `Some(empty)`.
            return quote! { #(#docs)* #note #[serde(#(#kept),*)] pub #ident: #ty, };
        }
        let serde = if f.flatten {
            quote!(#[serde(#(#kept),*)])
        } else {
            quote!(#[serde(default, skip_serializing_if = "::std::option::Option::is_none" #(, #kept)*)])
        };
        quote! { #(#docs)* #note #serde pub #ident: ::std::option::Option<#ty>, }
    });
    let setters = s.fields.iter().map(|f| if f.bare() { bare_setter(f, rt) } else { setter(&f.ident, &f.shape, rt) });
    let try_from = s.try_from.then(|| {
        quote! {
            impl ::std::convert::TryFrom<&#source> for #ident {
                type Error = #rt::apply::Error;

                /// Everything `value` serializes, as set fields (its own
                /// `skip_serializing_if` decides what is left unset).
                fn try_from(value: &#source) -> ::std::result::Result<Self, Self::Error> {
                    #rt::apply::convert(value)
                }
            }
        }
    });
    quote! {
        #d
        #derive
        #[serde(crate = #serde_crate)]
        #container
        pub struct #ident { #(#fields)* }

        impl #ident {
            #(#setters)*
        }

        #try_from
    }
}

/// The builder method of one field: sets a value, appends to a list,
/// adds to a map.
fn setter(field: &Ident, shape: &Shape, rt: &syn::Path) -> TokenStream {
    let name = field.to_string();
    let name = name.trim_start_matches("r#");
    match shape {
        Shape::Vec(elem) if elem.is_string() => {
            let d = doc(format!("Appends to `{name}`."));
            quote! {
                #d
                pub fn #field(mut self, values: impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<::std::string::String>>) -> Self {
                    self.#field.get_or_insert_with(::std::vec::Vec::new).extend(values.into_iter().map(::std::convert::Into::into));
                    self
                }
            }
        }
        Shape::Vec(elem) => {
            let (d, elem) = (doc(format!("Appends to `{name}`.")), elem.ty(rt));
            quote! {
                #d
                pub fn #field(mut self, values: impl ::std::iter::IntoIterator<Item = #elem>) -> Self {
                    self.#field.get_or_insert_with(::std::vec::Vec::new).extend(values);
                    self
                }
            }
        }
        Shape::Map(k, v) => {
            let (d, v) = (doc(format!("Adds entries to `{name}`, keeping the others.")), v.ty(rt));
            quote! {
                #d
                pub fn #field(mut self, entries: impl ::std::iter::IntoIterator<Item = (#k, #v)>) -> Self {
                    self.#field.get_or_insert_with(::std::collections::BTreeMap::new).extend(entries);
                    self
                }
            }
        }
        Shape::Boxed(inner) => {
            let (d, inner) = (doc(format!("Sets `{name}`.")), inner.ty(rt));
            quote! {
                #d
                pub fn #field(mut self, value: #inner) -> Self {
                    self.#field = ::std::option::Option::Some(::std::boxed::Box::new(value));
                    self
                }
            }
        }
        _ if shape.is_string() => {
            let d = doc(format!("Sets `{name}`."));
            quote! {
                #d
                pub fn #field(mut self, value: impl ::std::convert::Into<::std::string::String>) -> Self {
                    self.#field = ::std::option::Option::Some(value.into());
                    self
                }
            }
        }
        _ => {
            let (d, ty) = (doc(format!("Sets `{name}`.")), shape.ty(rt));
            quote! {
                #d
                pub fn #field(mut self, value: #ty) -> Self {
                    self.#field = ::std::option::Option::Some(value);
                    self
                }
            }
        }
    }
}

fn root_eq(r: &RootPlan<'_>, plan: &GvPlan<'_>, table: &TypeTable) -> bool {
    let spec = shape_eq(table, &plan.eq, &r.spec) && !matches!(r.spec, Shape::Plain(_, None));
    spec && r.status.as_ref().is_none_or(|s| shape_eq(table, &plan.eq, s))
}

fn emit_root(r: &RootPlan<'_>, plan: &GvPlan<'_>, table: &TypeTable, rt: &syn::Path, serde_crate: &str) -> TokenStream {
    let m: &ResourceModel = &r.resource.model;
    let ident = apply_ident(&m.kind);
    let root = r.resource.root_path();
    let (api_version, kind) = (m.api_version(), &m.kind);
    let meta = quote!(#rt::apply::ObjectMetaApply);
    let opt = quote!(::std::option::Option);
    let skip = quote!(#[serde(default, skip_serializing_if = "::std::option::Option::is_none")]);
    let spec_ty = r.spec.ty(rt);
    // `no_spec`: the spec's fields sit at the root, flattened; held bare when
    // it is an apply configuration (serde reads a flattened `Option` back as
    // `Some(empty)`).
    let (spec_field, spec_set) = match (m.no_spec, &r.spec) {
        (true, Shape::Struct(_)) => (quote!(#[serde(flatten)] pub spec: #spec_ty,), quote!(spec)),
        (true, _) => (quote!(#[serde(flatten)] pub spec: #opt<#spec_ty>,), quote!(#opt::Some(spec))),
        (false, _) => (quote!(#skip pub spec: #opt<#spec_ty>,), quote!(#opt::Some(spec))),
    };
    let status_field = r.status.as_ref().map(|s| {
        let ty = s.ty(rt);
        quote! {
            /// `status`, applied with `apply_status` (the status subresource).
            #skip
            pub status: #opt<#ty>,
        }
    });
    let status_setter = r.status.as_ref().map(|s| {
        let ty = s.ty(rt);
        quote! {
            /// Sets `status` (applied with `apply_status`).
            pub fn status(mut self, status: #ty) -> Self {
                self.status = #opt::Some(status);
                self
            }
        }
    });
    let d = doc(format!(
        "Apply configuration of `{kind}` (`{api_version}`, client-go's `{kind}ApplyConfiguration`): \
         every field optional, only what is set is sent, so a field manager owns exactly what it sets.\n\n\
         Build it with [`{ident}::new`] and the builder methods; read back what a manager owns with \
         [`extract_{snake}`].",
        snake = to_snake(kind)
    ));
    let derive = derives(root_eq(r, plan, table), rt);
    let new = constructor(m, &ident, &meta);
    let metadata_setters = metadata_setters(&meta, rt);
    let extract = extract_fns(r, &ident, rt);
    quote! {
        #d
        #derive
        #[serde(crate = #serde_crate, rename_all = "camelCase")]
        pub struct #ident {
            /// `apiVersion`, set by `new`.
            #skip
            pub api_version: #opt<::std::string::String>,
            /// `kind`, set by `new`.
            #skip
            pub kind: #opt<::std::string::String>,
            /// Name, namespace, and the labels, annotations, owner references
            /// and finalizers this manager owns.
            #skip
            pub metadata: #opt<#meta>,
            /// `spec`.
            #spec_field
            #status_field
        }

        impl #ident {
            #new
            #metadata_setters

            /// Sets `spec`.
            pub fn spec(mut self, spec: #spec_ty) -> Self {
                self.spec = #spec_set;
                self
            }

            #status_setter
        }

        impl #rt::apply::ApplyConfiguration for #ident {
            type Object = #root;

            fn object_meta(&self) -> #opt<&#meta> {
                self.metadata.as_ref()
            }

            fn object_meta_mut(&mut self) -> &mut #meta {
                self.metadata.get_or_insert_with(::std::default::Default::default)
            }
        }

        #extract
    }
}

fn constructor(m: &ResourceModel, ident: &Ident, meta: &TokenStream) -> TokenStream {
    let (api_version, kind) = (m.api_version(), &m.kind);
    let (args, meta_new, what) = if m.namespaced {
        (
            quote!(name: impl ::std::convert::Into<::std::string::String>, namespace: impl ::std::convert::Into<::std::string::String>),
            quote!(#meta::new(name, namespace)),
            "named `name` in `namespace`",
        )
    } else {
        (quote!(name: impl ::std::convert::Into<::std::string::String>), quote!(#meta::cluster(name)), "named `name`")
    };
    let d = doc(format!("An apply configuration of the `{kind}` {what}, with apiVersion and kind set."));
    quote! {
        #d
        pub fn new(#args) -> #ident {
            #ident {
                api_version: ::std::option::Option::Some(#api_version.into()),
                kind: ::std::option::Option::Some(#kind.into()),
                metadata: ::std::option::Option::Some(#meta_new),
                ..::std::default::Default::default()
            }
        }
    }
}

fn metadata_setters(meta: &TokenStream, rt: &syn::Path) -> TokenStream {
    let meta_ref = quote!(#rt::apply::OwnerReferenceApply);
    let into = quote!(::std::convert::Into<::std::string::String>);
    quote! {
        /// Replaces the whole metadata, name and namespace included.
        pub fn metadata(mut self, metadata: #meta) -> Self {
            self.metadata = ::std::option::Option::Some(metadata);
            self
        }

        /// Adds labels, keeping those already set.
        pub fn labels<K: #into, V: #into>(mut self, entries: impl ::std::iter::IntoIterator<Item = (K, V)>) -> Self {
            self.metadata = ::std::option::Option::Some(self.metadata.take().unwrap_or_default().labels(entries));
            self
        }

        /// Adds annotations, keeping those already set.
        pub fn annotations<K: #into, V: #into>(mut self, entries: impl ::std::iter::IntoIterator<Item = (K, V)>) -> Self {
            self.metadata = ::std::option::Option::Some(self.metadata.take().unwrap_or_default().annotations(entries));
            self
        }

        /// Appends an owner reference (an `OwnerReference` converts).
        pub fn owner_reference(mut self, reference: impl ::std::convert::Into<#meta_ref>) -> Self {
            self.metadata = ::std::option::Option::Some(self.metadata.take().unwrap_or_default().owner_reference(reference));
            self
        }

        /// Appends finalizers.
        pub fn finalizers<F: #into>(mut self, finalizers: impl ::std::iter::IntoIterator<Item = F>) -> Self {
            self.metadata = ::std::option::Option::Some(self.metadata.take().unwrap_or_default().finalizers(finalizers));
            self
        }
    }
}

fn extract_fns(r: &RootPlan<'_>, ident: &Ident, rt: &syn::Path) -> TokenStream {
    let m = &r.resource.model;
    let root = r.resource.root_path();
    let snake = to_snake(&m.kind);
    let f = format_ident!("extract_{}", snake);
    let d = doc(format!(
        "The fields of `obj` that `field_manager` owns through server-side apply (its `Apply` entry of \
         `managedFields`, status excluded), as a [`{ident}`]: client-go's `Extract{kind}`. Change what \
         you need and apply it again, without taking over fields other managers set. A manager that \
         owns nothing gets name, namespace, apiVersion and kind only.",
        kind = m.kind
    ));
    let status = r.status.is_some().then(|| {
        let fs = format_ident!("extract_{}_status", snake);
        let ds = doc(format!(
            "The status fields of `obj` that `field_manager` owns through `apply_status` (client-go's \
             `Extract{kind}Status`).",
            kind = m.kind
        ));
        quote! {
            #ds
            pub fn #fs(obj: &#root, field_manager: &str) -> ::std::result::Result<#ident, #rt::apply::Error> {
                #rt::apply::extract(obj, field_manager, ::std::option::Option::Some("status"))
            }
        }
    });
    quote! {
        #d
        pub fn #f(obj: &#root, field_manager: &str) -> ::std::result::Result<#ident, #rt::apply::Error> {
            #rt::apply::extract(obj, field_manager, ::std::option::Option::None)
        }

        #status
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::parse_resource;

    /// The generated file for `items` (a Thing kind's spec is `ThingSpec`),
    /// without whitespace.
    fn render(items: syn::File) -> String {
        let mut table = TypeTable::default();
        table.add(&items.items, "crate::api");
        let spec = items
            .items
            .iter()
            .find_map(|i| match i {
                syn::Item::Struct(s) if s.ident == "ThingSpec" => Some(s.clone()),
                _ => None,
            })
            .unwrap();
        let model = parse_resource(&spec.into()).unwrap();
        let r = Resource { model, module: "crate::api".into(), path: "api.rs".into() };
        let code = super::super::render(&[r], &table, &BTreeMap::new(), "::rt").unwrap();
        // Without whitespace and prettyplease's trailing commas.
        code.split_whitespace().collect::<String>().replace(",>", ">")
    }

    #[test]
    fn what_cannot_be_decomposed_is_kept_whole_or_raw() {
        let code = render(syn::parse_quote! {
            use std::collections::HashMap;
            #[derive(CustomResource)]
            #[kube(group = "a.io", version = "v1", kind = "Thing", namespaced)]
            pub struct ThingSpec {
                pub private: Hidden,
                pub generic: Wrapper<i32>,
                pub newtype: Id,
                pub tagged: Tagged,
                pub by_name: HashMap<String, Leaf>,
                pub boxed: Option<Box<Leaf>>,
            }
            enum Hidden { A }
            #[derive(PartialEq)]
            pub struct Wrapper<T> { pub value: T }
            #[derive(PartialEq)]
            #[serde(transparent)]
            pub struct Id { pub id: String }
            #[derive(PartialEq)]
            #[serde(tag = "kind")]
            pub struct Tagged { pub x: i32 }
            #[derive(PartialEq)]
            pub struct Leaf { pub x: i32 }
        });
        for field in [
            "pubprivate:::std::option::Option<::rt::serde_json::Value>",
            "pubgeneric:::std::option::Option<crate::api::Wrapper<i32>>",
            "pubnewtype:::std::option::Option<crate::api::Id>",
            "pubtagged:::std::option::Option<crate::api::Tagged>",
            "pubby_name:::std::option::Option<::std::collections::BTreeMap<String,LeafApply>>",
            "pubboxed:::std::option::Option<::std::boxed::Box<LeafApply>>",
        ] {
            assert!(code.contains(field), "missing `{field}` in {code}");
        }
        assert!(code.contains("RawJSON:thefield'stypeisprivatetoitsmodule."));
        // No apply type for what is kept whole; no TryFrom for a private type.
        assert!(!code.contains("structWrapperApply") && !code.contains("structIdApply"));
        assert!(code.contains("pubstructLeafApply"));
        // ThingSpec does not derive PartialEq, so neither does its apply type nor the root's.
        assert!(code.contains(
            "#[derive(Clone,Debug,Default,::rt::serde::Serialize,::rt::serde::Deserialize)]#[serde(crate=\"::rt::serde\")]pubstructThingSpecApply"
        ));
        assert!(code.contains(
            "#[derive(Clone,Debug,Default,PartialEq,::rt::serde::Serialize,::rt::serde::Deserialize)]#[serde(crate=\"::rt::serde\")]pubstructLeafApply"
        ));
    }

    #[test]
    fn two_types_with_one_apply_name_are_refused() {
        let mut table = TypeTable::default();
        let a: syn::File = syn::parse_quote! {
            #[derive(CustomResource)]
            #[kube(group = "a.io", version = "v1", kind = "Thing")]
            pub struct ThingSpec { pub one: super::b::Part, pub two: Part }
            pub struct Part { pub x: i32 }
        };
        let b: syn::File = syn::parse_quote! { pub struct Part { pub y: i32 } };
        table.add(&a.items, "crate::a");
        table.add(&b.items, "crate::b");
        let syn::Item::Struct(spec) = &a.items[0] else { unreachable!() };
        let model = parse_resource(&spec.clone().into()).unwrap();
        let r = Resource { model, module: "crate::a".into(), path: "a.rs".into() };
        let err = super::super::render(&[r], &table, &BTreeMap::new(), "::rt").unwrap_err().to_string();
        assert!(err.contains("both get the apply configuration `PartApply`"), "{err}");
    }
}
