//! `CustomResourceExt`: `crd()` with the structural OpenAPI v3 schema
//! (schemars' `openapi3` settings plus kube's transforms), exactly as
//! kube-derive 5 builds it.

use bot_gen::model::ResourceModel;
use proc_macro2::TokenStream;
use quote::quote;

use super::root::string_map;

/// `None` for an empty list, else `Some(vec![..])`: unset attributes are
/// absent from the CRD, not empty lists (kube-rs#1680).
fn opt_vec(m: &ResourceModel, items: Vec<TokenStream>) -> TokenStream {
    let std = &m.crates.std;
    if items.is_empty() {
        quote!(#std::option::Option::None)
    } else {
        quote!(#std::option::Option::Some(#std::vec![#(#items),*]))
    }
}

fn opt_str(m: &ResourceModel, s: Option<&str>) -> TokenStream {
    let std = &m.crates.std;
    match s {
        Some(s) => quote!(#std::option::Option::Some(#std::convert::Into::into(#s))),
        None => quote!(#std::option::Option::None),
    }
}

/// Printer columns, selectable fields and subresources of the version.
fn version_parts(m: &ResourceModel) -> (TokenStream, TokenStream, TokenStream) {
    let c = &m.crates;
    let (k8s, serde_json, std) = (&c.k8s_openapi, &c.serde_json, &c.std);
    let apiext = quote!(#k8s::apiextensions_apiserver::pkg::apis::apiextensions::v1);
    let into = quote!(#std::convert::Into::into);
    let printers = m
        .printcolumns
        .iter()
        .map(|p| {
            let (name, ty, path) = (&p.name, &p.type_, &p.json_path);
            let (description, format) = (opt_str(m, p.description.as_deref()), opt_str(m, p.format.as_deref()));
            let priority = match p.priority {
                Some(n) => quote!(#std::option::Option::Some(#n)),
                None => quote!(#std::option::Option::None),
            };
            quote! {
                #apiext::CustomResourceColumnDefinition {
                    description: #description, format: #format, json_path: #into(#path),
                    name: #into(#name), priority: #priority, type_: #into(#ty),
                }
            }
        })
        .collect();
    let selectable = m.selectable.iter().map(|p| quote!(#apiext::SelectableField { json_path: #into(#p) })).collect();
    let scale = match &m.scale {
        Some(s) => {
            let (spec_path, status_path) = (&s.spec_replicas_path, &s.status_replicas_path);
            let sel = opt_str(m, s.label_selector_path.as_deref());
            quote! {
                #std::option::Option::Some(#apiext::CustomResourceSubresourceScale {
                    label_selector_path: #sel,
                    spec_replicas_path: #into(#spec_path),
                    status_replicas_path: #into(#status_path),
                })
            }
        }
        None => quote!(#std::option::Option::None),
    };
    // Like kube-derive: subresources (and so scale) only with a status.
    let subresources = if m.has_status() {
        quote! {
            #std::option::Option::Some(#apiext::CustomResourceSubresources {
                scale: #scale,
                status: #std::option::Option::Some(#apiext::CustomResourceSubresourceStatus(#serde_json::json!({}))),
            })
        }
    } else {
        quote!(#std::option::Option::None)
    };
    (opt_vec(m, printers), opt_vec(m, selectable), subresources)
}

/// The statements that bind `schema: Option<JSONSchemaProps>`.
fn schema_gen(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, kube_core, schemars, serde_json, std) =
        (&c.k8s_openapi, &c.kube_core, &c.schemars, &c.serde_json, &c.std);
    let apiext = quote!(#k8s::apiextensions_apiserver::pkg::apis::apiextensions::v1);
    if !m.schema.use_in_crd() {
        return quote!(let schema: #std::option::Option<#apiext::JSONSchemaProps> = #std::option::Option::None;);
    }
    quote! {
        // No definitions and no `$schema`: a CRD schema allows neither.
        let generate = #schemars::generate::SchemaSettings::openapi3()
            .with(|s| {
                s.inline_subschemas = true;
                s.meta_schema = #std::option::Option::None;
            })
            .with_transform(#schemars::transform::AddNullable::default())
            .with_transform(#kube_core::schema::StructuralSchemaRewriter)
            .with_transform(#kube_core::schema::OptionalEnum)
            .with_transform(#kube_core::schema::OptionalIntOrString)
            .into_generator();
        let schema = #serde_json::to_value(generate.into_root_schema_for::<Self>())
            .and_then(#serde_json::from_value)
            .map(#std::option::Option::Some)
            .expect("valid JSONSchemaProps from schemars schema");
    }
}

pub(crate) fn custom_resource_ext(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, kube_core, std) = (&c.k8s_openapi, &c.kube_core, &c.std);
    let root = &m.root_ident;
    let apiext = quote!(#k8s::apiextensions_apiserver::pkg::apis::apiextensions::v1);
    let meta_ty = quote!(#k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta);
    let into = quote!(#std::convert::Into::into);
    let (group, version, kind, plural, singular) = (&m.group, &m.version, &m.kind, &m.plural, &m.singular);
    let crd_name = m.crd_name();
    let (annotations, labels) = (string_map(m, &m.annotations), string_map(m, &m.labels));
    let strings = |v: &[String]| opt_vec(m, v.iter().map(|s| quote!(#into(#s))).collect());
    let (categories, short_names) = (strings(&m.categories), strings(&m.shortnames));
    let (printers, selectable, subresources) = version_parts(m);
    let (deprecated, deprecation_warning) = match &m.deprecated {
        None => (quote!(#std::option::Option::None), quote!(#std::option::Option::None)),
        Some(w) => (quote!(#std::option::Option::Some(true)), opt_str(m, w.as_deref())),
    };
    let (served, storage) = (m.served, m.storage);
    let shortnames = &m.shortnames;
    let scope = if m.namespaced { "Namespaced" } else { "Cluster" };
    let schema = schema_gen(m);
    quote! {
        impl #kube_core::crd::v1::CustomResourceExt for #root {
            fn crd() -> #apiext::CustomResourceDefinition {
                #schema
                #apiext::CustomResourceDefinition {
                    metadata: #meta_ty {
                        annotations: #annotations,
                        labels: #labels,
                        name: #std::option::Option::Some(#into(#crd_name)),
                        ..#std::default::Default::default()
                    },
                    spec: #apiext::CustomResourceDefinitionSpec {
                        group: #into(#group),
                        names: #apiext::CustomResourceDefinitionNames {
                            categories: #categories,
                            kind: #into(#kind),
                            plural: #into(#plural),
                            short_names: #short_names,
                            singular: #std::option::Option::Some(#into(#singular)),
                            ..#std::default::Default::default()
                        },
                        scope: #into(#scope),
                        versions: #std::vec![#apiext::CustomResourceDefinitionVersion {
                            additional_printer_columns: #printers,
                            deprecated: #deprecated,
                            deprecation_warning: #deprecation_warning,
                            name: #into(#version),
                            schema: #std::option::Option::Some(#apiext::CustomResourceValidation {
                                open_api_v3_schema: schema,
                            }),
                            selectable_fields: #selectable,
                            served: #served,
                            storage: #storage,
                            subresources: #subresources,
                        }],
                        ..#std::default::Default::default()
                    },
                    ..#std::default::Default::default()
                }
            }

            fn crd_name() -> &'static str { #crd_name }

            fn api_resource() -> #kube_core::dynamic::ApiResource {
                #kube_core::dynamic::ApiResource::erase::<Self>(&())
            }

            fn shortnames() -> &'static [&'static str] { &[#(#shortnames),*] }
        }
    }
}
