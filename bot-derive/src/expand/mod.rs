//! Turns a [`ResourceModel`] into the root type, its `Resource` and
//! `CustomResourceExt` impls.

use bot_gen::model::{Crates, ResourceModel, VerbSet, parse_resource};
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::{Data, DeriveInput, Fields};

pub(crate) fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    match &input.data {
        Data::Struct(s) if !matches!(s.fields, Fields::Unnamed(_)) => {}
        _ => {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "#[derive(CustomResource)] goes on a spec struct with named fields, such as `struct BotSpec { .. }`",
            ));
        }
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(CustomResource)] does not support generic spec structs",
        ));
    }
    let model = parse_resource(input)?;
    Ok(expand_model(input, &model))
}

/// A stub root type for a spec whose attributes failed to parse: the names
/// read best-effort from `#[kube(root, kind, status, namespaced)]`, nothing
/// else. Emitted next to the errors so they are the only ones. `None` when the
/// root type cannot even be named (no `kind`) or the spec's shape is wrong.
pub(crate) fn fallback(input: &DeriveInput) -> Option<TokenStream> {
    if !input.generics.params.is_empty()
        || !matches!(&input.data, Data::Struct(s) if matches!(s.fields, Fields::Named(_)))
    {
        return None;
    }
    let (mut root, mut kind, mut status, mut namespaced) = (None, None, None, false);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("kube")) {
        let _ = attr.parse_nested_meta(|meta| {
            let key = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            if meta.input.peek(syn::Token![=]) {
                let value = meta.value()?.parse::<syn::Expr>()?;
                let s = match value {
                    syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                    _ => None,
                };
                match key.as_str() {
                    "root" => root = root.take().or(s),
                    "kind" => kind = kind.take().or(s),
                    "status" => status = status.take().or(s),
                    _ => {}
                }
            } else if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<TokenStream>()?;
            } else if key == "namespaced" {
                namespaced = true;
            }
            Ok(())
        });
    }
    let ident = |s: &String| syn::parse_str::<syn::Ident>(s).ok();
    let root_ident = root.as_ref().and_then(ident).or_else(|| kind.as_ref().and_then(ident))?;
    let kind = kind.filter(|k| syn::parse_str::<syn::Ident>(k).is_ok()).unwrap_or_else(|| root_ident.to_string());
    let model = ResourceModel {
        spec_ident: input.ident.clone(),
        vis: input.vis.clone(),
        root_ident,
        group: "invalid.example.com".into(),
        version: "v1".into(),
        plural: bot_gen::model::default_names(&kind, None, None).1,
        singular: kind.to_ascii_lowercase(),
        kind,
        namespaced,
        status: status.and_then(|s| syn::parse_str(&s).ok()),
        shortnames: vec![],
        categories: vec![],
        printcolumns: vec![],
        selectable: vec![],
        scale: None,
        labels: vec![],
        annotations: vec![],
        storage: true,
        served: true,
        deprecated: None,
        validations: vec![],
        derives: vec![],
        doc: None,
        verbs: VerbSet::empty(),
        methods: vec![],
        crates: Crates::default(),
        span: proc_macro2::Span::call_site(),
    };
    Some(expand_model(input, &model))
}

fn doc_of(input: &DeriveInput) -> Option<String> {
    let lines: Vec<String> = input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    (!lines.is_empty()).then(|| lines.join("\n").trim().to_string())
}

fn opt_vec(items: &[TokenStream]) -> TokenStream {
    if items.is_empty() { quote!(None) } else { quote!(Some(::std::vec![#(#items),*])) }
}

fn opt_str(s: &Option<String>) -> TokenStream {
    match s {
        Some(s) => quote!(Some(#s.into())),
        None => quote!(None),
    }
}

fn expand_model(input: &DeriveInput, m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (kube, k8s, schemars, serde, serde_json) = (&c.kube, &c.k8s_openapi, &c.schemars, &c.serde, &c.serde_json);
    let vis = &m.vis;
    let spec = &m.spec_ident;
    let root = &m.root_ident;
    let (group, version, kind, plural, singular) = (&m.group, &m.version, &m.kind, &m.plural, &m.singular);
    let api_version = m.api_version();
    let crd_name = m.crd_name();
    let meta_ty = quote!(#k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta);
    let apiext = quote!(#k8s::apiextensions_apiserver::pkg::apis::apiextensions::v1);
    let serde_str = c.serde.to_token_stream().to_string().replace(' ', "");
    let schemars_str = c.schemars.to_token_stream().to_string().replace(' ', "");

    let spec_doc = doc_of(input);
    let root_doc =
        m.doc.clone().or_else(|| spec_doc.clone()).unwrap_or_else(|| format!("A `{kind}` of `{api_version}`."));
    let rust_doc = format!(
        "{root_doc}\n\nThe `{kind}` resource of `{api_version}` ({scope}), generated by `#[derive(CustomResource)]` on [`{spec}`].",
        scope = if m.namespaced { "namespaced" } else { "cluster-scoped" }
    );

    let user_derives = &m.derives;
    let (status_field, status_ser, status_new, has_status_impl) = match &m.status {
        Some(st) => (
            quote! {
                /// The observed state, written by controllers through the status subresource.
                #[serde(default, skip_serializing_if = "::std::option::Option::is_none")]
                #vis status: ::std::option::Option<#st>,
            },
            quote! {
                if let ::std::option::Option::Some(status) = &self.status {
                    obj.serialize_field("status", status)?;
                }
            },
            quote!(status: None,),
            quote! {
                impl #kube::core::object::HasStatus for #root {
                    type Status = #st;
                    fn status(&self) -> ::std::option::Option<&#st> { self.status.as_ref() }
                    fn status_mut(&mut self) -> &mut ::std::option::Option<#st> { &mut self.status }
                }
            },
        ),
        None => (quote!(), quote!(), quote!(), quote!()),
    };
    let n_fields = if m.status.is_some() { 5usize } else { 4usize };

    let validations: Vec<TokenStream> = m
        .validations
        .iter()
        .map(|r| {
            let rule = &r.rule;
            match &r.message {
                Some(msg) => quote!({ "rule": #rule, "message": #msg }),
                None => quote!({ "rule": #rule }),
            }
        })
        .collect();
    let root_validations = (!validations.is_empty())
        .then(|| quote!(#[schemars(extend("x-kubernetes-validations" = [#(#validations),*]))]));

    let kv = |pairs: &[(String, String)]| {
        if pairs.is_empty() {
            quote!(None)
        } else {
            let (k, v): (Vec<_>, Vec<_>) = pairs.iter().cloned().unzip();
            quote!(Some(::std::collections::BTreeMap::from([#((#k.to_string(), #v.to_string())),*])))
        }
    };
    let labels = kv(&m.labels);
    let annotations = kv(&m.annotations);

    let scope_ty = if m.namespaced {
        quote!(#kube::core::NamespaceResourceScope)
    } else {
        quote!(#kube::core::ClusterResourceScope)
    };
    let scope_str = if m.namespaced { "Namespaced" } else { "Cluster" };

    let printers: Vec<TokenStream> = m
        .printcolumns
        .iter()
        .map(|p| {
            let (name, ty, path) = (&p.name, &p.type_, &p.json_path);
            let description = opt_str(&p.description);
            let format = opt_str(&p.format);
            let priority = match p.priority {
                Some(n) => quote!(Some(#n)),
                None => quote!(None),
            };
            quote! {
                #apiext::CustomResourceColumnDefinition {
                    name: #name.into(), type_: #ty.into(), json_path: #path.into(),
                    description: #description, format: #format, priority: #priority,
                }
            }
        })
        .collect();
    let printers = opt_vec(&printers);
    let shortnames = &m.shortnames;
    let short_names = opt_vec(&shortnames.iter().map(|s| quote!(#s.into())).collect::<Vec<_>>());
    let categories = opt_vec(&m.categories.iter().map(|s| quote!(#s.into())).collect::<Vec<_>>());
    let selectable = opt_vec(
        &m.selectable.iter().map(|p| quote!(#apiext::SelectableField { json_path: #p.into() })).collect::<Vec<_>>(),
    );
    let scale = match &m.scale {
        Some(s) => {
            let (spec_path, status_path) = (&s.spec_replicas_path, &s.status_replicas_path);
            let sel = opt_str(&s.label_selector_path);
            quote! {
                Some(#apiext::CustomResourceSubresourceScale {
                    spec_replicas_path: #spec_path.into(),
                    status_replicas_path: #status_path.into(),
                    label_selector_path: #sel,
                })
            }
        }
        None => quote!(None),
    };
    let subresources = if m.status.is_some() {
        quote! {
            Some(#apiext::CustomResourceSubresources {
                scale: #scale,
                status: Some(#apiext::CustomResourceSubresourceStatus(#serde_json::json!({}))),
            })
        }
    } else {
        quote!(None)
    };
    let (deprecated, deprecation_warning) = match &m.deprecated {
        None => (quote!(None), quote!(None)),
        Some(w) => (quote!(Some(true)), opt_str(w)),
    };
    let (served, storage) = (m.served, m.storage);
    let verbs: Vec<&str> = m.verbs.iter().map(|v| v.name()).collect();
    let verbs_doc = format!("The typed-client verbs `#[genclient]` allows for [`{root}`].");

    quote! {
        #[doc = #rust_doc]
        #[derive(#serde::Deserialize, #schemars::JsonSchema, Clone, Debug #(, #user_derives)*)]
        #[serde(rename_all = "camelCase", crate = #serde_str)]
        #[schemars(crate = #schemars_str, description = #root_doc)]
        #root_validations
        #vis struct #root {
            /// Standard object metadata: name, namespace, labels, annotations, owner references.
            #[schemars(skip)]
            #vis metadata: #meta_ty,
            /// The desired state.
            #vis spec: #spec,
            #status_field
        }

        impl #root {
            /// A new object with `name` and `spec`, no status.
            pub fn new(name: &str, spec: #spec) -> Self {
                use ::std::option::Option::None;
                Self {
                    metadata: #meta_ty {
                        name: ::std::option::Option::Some(::std::string::ToString::to_string(name)),
                        ..::std::default::Default::default()
                    },
                    spec,
                    #status_new
                }
            }

            #[doc = #verbs_doc]
            pub const VERBS: &'static [&'static str] = &[#(#verbs),*];

            /// Merges the CRDs of several versions of this kind (each from its
            /// own `#[derive(CustomResource)]`, e.g. `[v1::Foo::crd(), v2::Foo::crd()]`)
            /// into one CRD with every version.
            ///
            /// Exactly one of them must be the storage version: mark the others
            /// `#[kube(storage = false)]`. Two storage versions, none, a version
            /// given twice, or CRDs of different groups, kinds or scopes are errors.
            pub fn merged_crd(
                crds: impl ::std::iter::IntoIterator<Item = #apiext::CustomResourceDefinition>,
            ) -> ::std::result::Result<#apiext::CustomResourceDefinition, ::std::string::String> {
                let crds: ::std::vec::Vec<_> = crds.into_iter().collect();
                let mut names: ::std::vec::Vec<&str> = ::std::vec::Vec::new();
                let mut storage: ::std::vec::Vec<&str> = ::std::vec::Vec::new();
                for crd in &crds {
                    for v in &crd.spec.versions {
                        if names.contains(&v.name.as_str()) {
                            return Err(format!("{}: version `{}` is given twice", #crd_name, v.name));
                        }
                        names.push(&v.name);
                        if v.storage {
                            storage.push(&v.name);
                        }
                    }
                }
                let stored = match storage.as_slice() {
                    [one] => one.to_string(),
                    [] => return Err(format!(
                        "{}: none of the versions {:?} is the storage version; remove `storage = false` from exactly one",
                        #crd_name, names
                    )),
                    many => return Err(format!(
                        "{}: versions {:?} are all storage versions, but a CRD has exactly one; mark the others #[kube(storage = false)]",
                        #crd_name, many
                    )),
                };
                #kube::core::crd::merge_crds(crds, &stored).map_err(|e| format!("{}: {e}", #crd_name))
            }
        }

        impl #serde::Serialize for #root {
            fn serialize<S: #serde::Serializer>(&self, ser: S) -> ::std::result::Result<S::Ok, S::Error> {
                use #serde::ser::SerializeStruct;
                let mut obj = ser.serialize_struct(#kind, #n_fields)?;
                obj.serialize_field("apiVersion", #api_version)?;
                obj.serialize_field("kind", #kind)?;
                obj.serialize_field("metadata", &self.metadata)?;
                obj.serialize_field("spec", &self.spec)?;
                #status_ser
                obj.end()
            }
        }

        impl #kube::core::Resource for #root {
            type DynamicType = ();
            type Scope = #scope_ty;
            fn kind(_: &()) -> ::std::borrow::Cow<'_, str> { #kind.into() }
            fn group(_: &()) -> ::std::borrow::Cow<'_, str> { #group.into() }
            fn version(_: &()) -> ::std::borrow::Cow<'_, str> { #version.into() }
            fn api_version(_: &()) -> ::std::borrow::Cow<'_, str> { #api_version.into() }
            fn plural(_: &()) -> ::std::borrow::Cow<'_, str> { #plural.into() }
            fn meta(&self) -> &#meta_ty { &self.metadata }
            fn meta_mut(&mut self) -> &mut #meta_ty { &mut self.metadata }
        }

        impl #kube::core::object::HasSpec for #root {
            type Spec = #spec;
            fn spec(&self) -> &#spec { &self.spec }
            fn spec_mut(&mut self) -> &mut #spec { &mut self.spec }
        }

        #has_status_impl

        impl #kube::core::crd::v1::CustomResourceExt for #root {
            fn crd() -> #apiext::CustomResourceDefinition {
                // Prelude names, whatever the user's module calls its own types.
                use ::std::option::Option::{None, Some};
                use ::std::convert::Into;
                // Inline everything and leave out `$schema`: a CRD schema has no
                // definitions. kube's transforms make it structural.
                let generator = #schemars::generate::SchemaSettings::openapi3()
                    .with(|s| {
                        s.inline_subschemas = true;
                        s.meta_schema = None;
                    })
                    .with_transform(#schemars::transform::AddNullable::default())
                    .with_transform(#kube::core::schema::StructuralSchemaRewriter)
                    .with_transform(#kube::core::schema::OptionalEnum)
                    .with_transform(#kube::core::schema::OptionalIntOrString)
                    .into_generator();
                let schema: #apiext::JSONSchemaProps = #serde_json::to_value(generator.into_root_schema_for::<Self>())
                    .and_then(#serde_json::from_value)
                    .expect("schemars produces a valid JSONSchemaProps");
                #apiext::CustomResourceDefinition {
                    metadata: #meta_ty {
                        name: Some(#crd_name.into()),
                        labels: #labels,
                        annotations: #annotations,
                        ..::std::default::Default::default()
                    },
                    spec: #apiext::CustomResourceDefinitionSpec {
                        group: #group.into(),
                        names: #apiext::CustomResourceDefinitionNames {
                            kind: #kind.into(),
                            list_kind: Some(concat!(#kind, "List").into()),
                            plural: #plural.into(),
                            singular: Some(#singular.into()),
                            short_names: #short_names,
                            categories: #categories,
                        },
                        scope: #scope_str.into(),
                        versions: ::std::vec![#apiext::CustomResourceDefinitionVersion {
                            name: #version.into(),
                            served: #served,
                            storage: #storage,
                            deprecated: #deprecated,
                            deprecation_warning: #deprecation_warning,
                            additional_printer_columns: #printers,
                            selectable_fields: #selectable,
                            schema: Some(#apiext::CustomResourceValidation { open_api_v3_schema: Some(schema) }),
                            subresources: #subresources,
                        }],
                        conversion: None,
                        preserve_unknown_fields: None,
                    },
                    status: None,
                }
            }

            fn crd_name() -> &'static str { #crd_name }

            fn api_resource() -> #kube::core::dynamic::ApiResource {
                #kube::core::dynamic::ApiResource::erase::<Self>(&())
            }

            fn shortnames() -> &'static [&'static str] { &[#(#shortnames),*] }
        }
    }
}
