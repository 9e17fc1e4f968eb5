//! The root type (`apiVersion`, `kind`, `metadata`, `spec`, `status`), its
//! constructor, `Serialize`, `Resource`, `HasSpec` / `HasStatus`, `Default`
//! and `validate_cel`, as kube-derive 5 generates them; and bot-derive's
//! `VERBS` and `merged_crd`.

use bot_gen::model::ResourceModel;
use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote};
use syn::{DeriveInput, Path};

/// `#[derive(...)]` of the root: serde's `Deserialize`, `Clone`, `Debug`, the
/// user's `derive`s but `Default`, and the schema derive.
fn derives(m: &ResourceModel) -> Vec<Path> {
    let c = &m.crates;
    let (kube, schemars, serde) = (&c.kube, &c.schemars, &c.serde);
    let mut paths: Vec<Path> =
        vec![syn::parse_quote!(#serde::Deserialize), syn::parse_quote!(Clone), syn::parse_quote!(Debug)];
    paths.extend(m.derives.iter().filter(|d| !d.is_ident("Default")).cloned());
    if m.schema.derive() && (!m.validations.is_empty() || m.cel) {
        paths.push(syn::parse_quote!(#kube::KubeSchema));
    } else if m.schema.derive() {
        paths.push(syn::parse_quote!(#schemars::JsonSchema));
    }
    paths
}

/// `Some(BTreeMap::from([..]))` of labels or annotations, or `None`.
pub(crate) fn string_map(m: &ResourceModel, pairs: &[(String, String)]) -> TokenStream {
    let std = &m.crates.std;
    if pairs.is_empty() {
        return quote!(#std::option::Option::None);
    }
    let (k, v): (Vec<_>, Vec<_>) = pairs.iter().cloned().unzip();
    quote! {
        #std::option::Option::Some(#std::collections::BTreeMap::from([
            #((#std::string::ToString::to_string(#k), #std::string::ToString::to_string(#v)),)*
        ]))
    }
}

pub(crate) fn root_type(input: &DeriveInput, m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, schemars, serde, std) = (&c.k8s_openapi, &c.schemars, &c.serde, &c.std);
    let (vis, spec, root) = (&m.vis, &m.spec_ident, &m.root_ident);
    let meta_ty = quote!(#k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta);
    let docstr = m
        .doc
        .clone()
        .unwrap_or_else(|| format!(" Auto-generated derived type for {} via `CustomResource`", input.ident));
    let derive_paths = derives(m);
    let attrs = &m.attrs;
    let quoted_serde = Literal::string(&serde.to_token_stream().to_string());
    let schema_attrs = m.schema.derive().then(|| {
        let path = schemars.to_token_stream().to_string();
        quote!(#[schemars(crate = #path)])
    });
    let struct_rules = (!m.validations.is_empty()).then(|| {
        let rules = &m.validations;
        quote!(#[x_kube(#(validation = #rules,)*)])
    });
    let schemars_skip = m.schema.derive().then(|| quote!(#[schemars(skip)]));
    let spec_field = if m.no_spec { quote!(#[serde(flatten)] #vis spec: #spec,) } else { quote!(#vis spec: #spec,) };
    let (status_field, status_new) = match &m.status {
        Some(st) => {
            let is_none = format!("{}::option::Option::is_none", std.to_token_stream().to_string().replace(' ', ""));
            (
                quote! {
                    #[serde(skip_serializing_if = #is_none)]
                    #vis status: #std::option::Option<#st>,
                },
                quote!(status: #std::option::Option::None,),
            )
        }
        None => (quote!(), quote!()),
    };
    let (annotations, labels) = (string_map(m, &m.annotations), string_map(m, &m.labels));
    let serialize = serialize_impl(m);
    let resource = resource_impl(m);
    let has = has_spec_and_status(m);
    let default = m.derives_default().then(|| {
        quote! {
            impl #std::default::Default for #root {
                fn default() -> Self {
                    Self {
                        metadata: <#meta_ty as #std::default::Default>::default(),
                        spec: #std::default::Default::default(),
                        #status_new
                    }
                }
            }
        }
    });
    let cel = validate_cel(m);
    quote! {
        #[doc = #docstr]
        #[automatically_derived]
        #[allow(missing_docs)]
        #[derive(#(#derive_paths),*)]
        #(#[#attrs])*
        #[serde(rename_all = "camelCase")]
        #[serde(crate = #quoted_serde)]
        #schema_attrs
        #struct_rules
        #vis struct #root {
            #schemars_skip
            #vis metadata: #meta_ty,
            #spec_field
            #status_field
        }

        impl #root {
            /// Spec based constructor for derived custom resource
            pub fn new(name: &str, spec: #spec) -> Self {
                Self {
                    metadata: #meta_ty {
                        annotations: #annotations,
                        labels: #labels,
                        name: #std::option::Option::Some(#std::string::ToString::to_string(name)),
                        ..#std::default::Default::default()
                    },
                    spec,
                    #status_new
                }
            }
        }

        #serialize
        #resource
        #default
        #has
        #cel
    }
}

/// `Serialize` with `apiVersion` and `kind` first; with `no_spec`, through a
/// derived shim that flattens the spec (serde's flattening needs a map).
fn serialize_impl(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, kube_core, serde, std) = (&c.k8s_openapi, &c.kube_core, &c.serde, &c.std);
    let (root, spec) = (&m.root_ident, &m.spec_ident);
    let root_str = root.to_string();
    if m.no_spec {
        let quoted_serde = Literal::string(&serde.to_token_stream().to_string());
        let (repr_status_field, repr_status_init) = match &m.status {
            Some(st) => {
                let is_none =
                    format!("{}::option::Option::is_none", std.to_token_stream().to_string().replace(' ', ""));
                (
                    quote!(#[serde(skip_serializing_if = #is_none)] status: #std::option::Option<&'a #st>,),
                    quote!(status: self.status.as_ref(),),
                )
            }
            None => (quote!(), quote!()),
        };
        return quote! {
            impl #serde::Serialize for #root {
                fn serialize<S: #serde::Serializer>(&self, ser: S) -> #std::result::Result<S::Ok, S::Error> {
                    #[derive(#serde::Serialize)]
                    #[allow(missing_docs)]
                    #[serde(rename_all = "camelCase")]
                    #[serde(crate = #quoted_serde)]
                    struct Repr<'a> {
                        api_version: &'a str,
                        kind: &'a str,
                        metadata: &'a #k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                        #[serde(flatten)]
                        spec: &'a #spec,
                        #repr_status_field
                    }
                    let api_version = <#root as #kube_core::Resource>::api_version(&());
                    let kind = <#root as #kube_core::Resource>::kind(&());
                    #serde::Serialize::serialize(&Repr {
                        api_version: &api_version,
                        kind: &kind,
                        metadata: &self.metadata,
                        spec: &self.spec,
                        #repr_status_init
                    }, ser)
                }
            }
        };
    }
    let (n_fields, status) = match &m.status {
        Some(_) => (
            quote!(4 + usize::from(self.status.is_some())),
            quote! {
                if let #std::option::Option::Some(status) = &self.status {
                    obj.serialize_field("status", &status)?;
                }
            },
        ),
        None => (quote!(4), quote!()),
    };
    quote! {
        impl #serde::Serialize for #root {
            fn serialize<S: #serde::Serializer>(&self, ser: S) -> #std::result::Result<S::Ok, S::Error> {
                use #serde::ser::SerializeStruct;
                let mut obj = ser.serialize_struct(#root_str, #n_fields)?;
                obj.serialize_field("apiVersion", &<#root as #kube_core::Resource>::api_version(&()))?;
                obj.serialize_field("kind", &<#root as #kube_core::Resource>::kind(&()))?;
                obj.serialize_field("metadata", &self.metadata)?;
                obj.serialize_field("spec", &self.spec)?;
                #status
                obj.end()
            }
        }
    }
}

fn resource_impl(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, kube_core, std) = (&c.k8s_openapi, &c.kube_core, &c.std);
    let root = &m.root_ident;
    let (group, version, kind, plural) = (&m.group, &m.version, &m.kind, &m.plural);
    let api_version = m.api_version();
    let meta_ty = quote!(#k8s::apimachinery::pkg::apis::meta::v1::ObjectMeta);
    let scope = if m.namespaced {
        quote!(#kube_core::NamespaceResourceScope)
    } else {
        quote!(#kube_core::ClusterResourceScope)
    };
    let cow = quote!(#std::borrow::Cow<'_, str>);
    quote! {
        impl #kube_core::Resource for #root {
            type DynamicType = ();
            type Scope = #scope;
            fn group(_: &()) -> #cow { #std::convert::Into::into(#group) }
            fn kind(_: &()) -> #cow { #std::convert::Into::into(#kind) }
            fn version(_: &()) -> #cow { #std::convert::Into::into(#version) }
            fn api_version(_: &()) -> #cow { #std::convert::Into::into(#api_version) }
            fn plural(_: &()) -> #cow { #std::convert::Into::into(#plural) }
            fn meta(&self) -> &#meta_ty { &self.metadata }
            fn meta_mut(&mut self) -> &mut #meta_ty { &mut self.metadata }
        }
    }
}

fn has_spec_and_status(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (kube_core, std) = (&c.kube_core, &c.std);
    let (root, spec) = (&m.root_ident, &m.spec_ident);
    let status = m.status.as_ref().map(|st| {
        quote! {
            impl #kube_core::object::HasStatus for #root {
                type Status = #st;
                fn status(&self) -> #std::option::Option<&#st> { self.status.as_ref() }
                fn status_mut(&mut self) -> &mut #std::option::Option<#st> { &mut self.status }
            }
        }
    });
    quote! {
        impl #kube_core::object::HasSpec for #root {
            type Spec = #spec;
            fn spec(&self) -> &#spec { &self.spec }
            fn spec_mut(&mut self) -> &mut #spec { &mut self.spec }
        }
        #status
    }
}

/// `#[kube(cel)]`: client-side CEL checks over kube's `cel` feature.
fn validate_cel(m: &ResourceModel) -> Option<TokenStream> {
    if !m.cel {
        return None;
    }
    let (kube_core, root) = (&m.crates.kube_core, &m.root_ident);
    Some(quote! {
        impl #root {
            /// Validate this resource against its CEL creation rules (`x-kubernetes-validations`)
            /// client-side, without an apiserver. `Ok(())` if all rules pass, otherwise the
            /// aggregated failures.
            pub fn validate_cel(&self) -> ::core::result::Result<(), #kube_core::cel::ValidationErrors> {
                #kube_core::cel::validate_cel(self)
            }

            /// Validate this resource against its CEL transition rules (rules using `oldSelf`)
            /// client-side, comparing against the `old` state. `Ok(())` if all rules pass,
            /// otherwise the aggregated failures.
            pub fn validate_cel_update(&self, old: &Self) -> ::core::result::Result<(), #kube_core::cel::ValidationErrors> {
                #kube_core::cel::validate_cel_update(self, old)
            }
        }
    })
}

/// bot-derive's own: `Root::VERBS` and `Root::merged_crd(..)`.
pub(crate) fn extras(m: &ResourceModel) -> TokenStream {
    let c = &m.crates;
    let (k8s, kube_core, std) = (&c.k8s_openapi, &c.kube_core, &c.std);
    let root = &m.root_ident;
    let crd_name = m.crd_name();
    let apiext = quote!(#k8s::apiextensions_apiserver::pkg::apis::apiextensions::v1);
    let verbs: Vec<&str> = m.verbs.iter().map(|v| v.name()).collect();
    let verbs_doc = format!("The typed-client verbs `#[genclient]` allows for [`{root}`].");
    let (vec, string) = (quote!(#std::vec::Vec), quote!(#std::string::String));
    quote! {
        impl #root {
            #[doc = #verbs_doc]
            pub const VERBS: &'static [&'static str] = &[#(#verbs),*];

            /// Merges the CRDs of several versions of this kind (each from its
            /// own `#[derive(CustomResource)]`, e.g. `[v1::Foo::crd(), v2::Foo::crd()]`)
            /// into one CRD with every version.
            ///
            /// Exactly one of them must be the storage version: mark the others
            /// `#[kube(storage = false)]`. Two storage versions, none, a version
            /// given twice, or CRDs of different groups, kinds or scopes are
            /// errors of kind `InvalidInput` whose message names the CRD and
            /// the fix (a `std::io::Error`, so the derive's output needs no
            /// crate of ours, and `?` works into any error type).
            pub fn merged_crd(
                crds: impl #std::iter::IntoIterator<Item = #apiext::CustomResourceDefinition>,
            ) -> #std::result::Result<#apiext::CustomResourceDefinition, #std::io::Error> {
                let invalid = |message: #string| #std::io::Error::new(#std::io::ErrorKind::InvalidInput, message);
                let crds: #vec<_> = #std::iter::IntoIterator::into_iter(crds).collect();
                let mut names: #vec<&str> = #vec::new();
                let mut storage: #vec<&str> = #vec::new();
                for crd in &crds {
                    for v in &crd.spec.versions {
                        if names.contains(&v.name.as_str()) {
                            return #std::result::Result::Err(invalid(#std::format!("{}: version `{}` is given twice", #crd_name, v.name)));
                        }
                        names.push(&v.name);
                        if v.storage {
                            storage.push(&v.name);
                        }
                    }
                }
                let stored = match storage.as_slice() {
                    [one] => #std::string::ToString::to_string(one),
                    [] => return #std::result::Result::Err(invalid(#std::format!(
                        "{}: none of the versions {:?} is the storage version; remove `storage = false` from exactly one",
                        #crd_name, names
                    ))),
                    many => return #std::result::Result::Err(invalid(#std::format!(
                        "{}: versions {:?} are all storage versions, but a CRD has exactly one; mark the others #[kube(storage = false)]",
                        #crd_name, many
                    ))),
                };
                #kube_core::crd::merge_crds(crds, &stored).map_err(|e| invalid(#std::format!("{}: {e}", #crd_name)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cel` emits kube-derive 5's `validate_cel` / `validate_cel_update`
    /// (running them needs kube's `cel` feature, not built here).
    #[test]
    fn cel_emits_kube_derives_methods() {
        let input: DeriveInput = syn::parse_quote! {
            #[kube(group = "clux.dev", version = "v1", kind = "CelTest", namespaced, cel,
                   validation = "self.spec.replicas <= self.spec.maxReplicas")]
            struct CelTestSpec { replicas: i32 }
        };
        let m = bot_gen::model::parse_resource(&input).unwrap();
        let code = root_type(&input, &m).to_string();
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        let code = squash(&code);
        for expected in [
            "pubfnvalidate_cel(&self)->::core::result::Result<(),::kube::core::cel::ValidationErrors>{::kube::core::cel::validate_cel(self)}",
            "pubfnvalidate_cel_update(&self,old:&Self)->::core::result::Result<(),::kube::core::cel::ValidationErrors>{::kube::core::cel::validate_cel_update(self,old)}",
            "::kube::KubeSchema",
            "#[x_kube(validation=\"self.spec.replicas <= self.spec.maxReplicas\",)]",
        ] {
            assert!(code.contains(&squash(expected)), "{expected}\nnot in\n{code}");
        }
    }
}
