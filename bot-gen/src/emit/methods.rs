//! Extra client methods of `#[genclient(method(...))]` (client-gen's
//! `+genclient:method=Name,verb=V,subresource=s,input=T,result=T`).
//!
//! Each verb makes the HTTP call client-gen's template for it makes, on the
//! object (no `subresource`) or on `{name}/{subresource}`:
//!
//! | verb | call | method |
//! |---|---|---|
//! | get | `GET .../{name}[/{sub}]` | `m(name) -> R` |
//! | list | `GET ...` (with a subresource: `.../{name}/{sub}`) + list query | `m([name,] &ListParams) -> ObjectList<R>` |
//! | create | `POST ...` (with a subresource: `.../{name}/{sub}`) | `m([name,] &I, &PostParams) -> R` |
//! | update | `PUT .../{name}[/{sub}]` (without a subresource, the name is the input's) | `m([name,] &I, &PostParams) -> R` |
//! | patch | `PATCH .../{name}[/{sub}]` | `m(name, &Patch<P>, &PatchParams) -> R` |
//! | apply | `PATCH .../{name}[/{sub}]`, `application/apply-patch+yaml` | `m([name,] &config, &PatchParams) -> R` |
//! | delete | `DELETE .../{name}[/{sub}]` | `m(name, &DeleteParams) -> Either<R, Status>` |
//! | watch | `GET ...?watch=true` | `m(&WatchParams, rv) -> WatchStream<R>` |
//!
//! `I` and `R` are the `input` and `result` types, by default the kind
//! itself, or `autoscaling/v1` `Scale` on the `scale` subresource; an
//! apply's input is by default the kind's apply configuration (whose
//! `metadata.name` names the object when there is no subresource).
//! `update_status` and `apply_status` default to the `status` subresource.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{GroupVersion, Resource, TypeTable, doc};
use crate::model::{ExtraMethod, Verb};

/// The path of `r`'s apply configuration, seen from its typed client.
pub(crate) fn apply_type(gv: &GroupVersion<'_>, r: &Resource) -> TokenStream {
    let m = gv.module();
    let ident = format_ident!("{}Apply", r.model.kind);
    quote!(super::super::applyconfigurations::#m::#ident)
}

/// A type named in the attribute, resolved from `r`'s module.
fn resolve(r: &Resource, types: &TypeTable, path: &syn::Path) -> TokenStream {
    let ty = syn::Type::Path(syn::TypePath { qself: None, path: path.clone() });
    let ty = types.absolutize(&r.module, &ty);
    quote!(#ty)
}

/// The input of an apply method and whether it names its object (a kind's
/// apply configuration does, through `metadata.name`).
fn apply_input(
    gv: &GroupVersion<'_>,
    r: &Resource,
    types: &TypeTable,
    m: &ExtraMethod,
    scale: TokenStream,
) -> (TokenStream, bool) {
    let Some(input) = &m.input else {
        return if m.subresource.as_deref() == Some("scale") { (scale, false) } else { (apply_type(gv, r), true) };
    };
    let last = input.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
    let kind = gv.resources.iter().find(|k| {
        k.model.root_ident == last
            && (input.segments.len() == 1 || resolve(k, types, input).to_string() == k.root_path().to_string())
    });
    match kind {
        Some(k) => (apply_type(gv, k), true),
        None => (resolve(r, types, input), false),
    }
}

/// The method of one `#[genclient(method(...))]`.
pub(crate) fn extra_method(
    gv: &GroupVersion<'_>,
    r: &Resource,
    m: &ExtraMethod,
    types: &TypeTable,
    rt: &syn::Path,
) -> TokenStream {
    let name = &m.name;
    let (api, res, target_ty) = (quote!(#rt::kube::api), quote!(#rt::client::Result), quote!(#rt::client::Target));
    let scale = quote!(#rt::k8s_openapi::api::autoscaling::v1::Scale);
    let sub = match (m.verb, m.subresource.as_deref().filter(|s| !s.is_empty())) {
        (Verb::UpdateStatus | Verb::ApplyStatus, None) => Some("status".to_string()),
        (_, s) => s.map(str::to_string),
    };
    let default = if sub.as_deref() == Some("scale") { scale.clone() } else { r.root_path() };
    let result = m.result.as_ref().map(|p| resolve(r, types, p)).unwrap_or_else(|| default.clone());
    let input = m.input.as_ref().map(|p| resolve(r, types, p)).unwrap_or_else(|| default.clone());
    let target = match &sub {
        Some(s) => quote!(#target_ty::Subresource(name, #s)),
        None => quote!(#target_ty::Object(name)),
    };
    let on = match &sub {
        Some(s) => format!("the `{s}` subresource of `name`"),
        None => "the object `name`".to_string(),
    };
    let d = doc(format!("`{}` of {on} (`#[genclient(method(name = \"{name}\", verb = \"{}\"))]`).", m.verb, m.verb));
    let name_arg = sub.is_some().then(|| quote!(name: &str,));
    match m.verb {
        Verb::Get => quote! {
            #d
            pub async fn #name(&self, name: &str) -> #res<#result> {
                self.inner.get_as(#target).await
            }
        },
        Verb::List => {
            let target = if sub.is_some() { target } else { quote!(#target_ty::Collection) };
            let d = doc(format!(
                "`list` of {} (`#[genclient(method(name = \"{name}\"))]`).",
                if sub.is_some() { on.as_str() } else { "the collection" }
            ));
            quote! {
                #d
                pub async fn #name(&self, #name_arg params: &#api::ListParams) -> #res<#api::ObjectList<#result>> {
                    self.inner.list_as(#target, params).await
                }
            }
        }
        Verb::Create => {
            let target = if sub.is_some() { target } else { quote!(#target_ty::Collection) };
            let d = doc(format!(
                "`create` on {} (`#[genclient(method(name = \"{name}\"))]`).",
                if sub.is_some() { on.as_str() } else { "the collection" }
            ));
            quote! {
                #d
                pub async fn #name(&self, #name_arg input: &#input, params: &#api::PostParams) -> #res<#result> {
                    self.inner.create_as(#target, input, params).await
                }
            }
        }
        Verb::Update | Verb::UpdateStatus => {
            let own_name = sub
                .is_none()
                .then(|| quote!(let name = #rt::kube::Resource::meta(input).name.as_deref().unwrap_or_default();));
            quote! {
                #d
                pub async fn #name(&self, #name_arg input: &#input, params: &#api::PostParams) -> #res<#result> {
                    #own_name
                    self.inner.replace_as(#target, input, params).await
                }
            }
        }
        Verb::Patch => quote! {
            #d
            pub async fn #name<P: #rt::serde::Serialize + ::std::fmt::Debug>(
                &self,
                name: &str,
                patch: &#api::Patch<P>,
                params: &#api::PatchParams,
            ) -> #res<#result> {
                self.inner.patch_as(#target, patch, params).await
            }
        },
        Verb::Apply | Verb::ApplyStatus => {
            let (config, named) = apply_input(gv, r, types, m, scale);
            let (name_arg, own_name) = if sub.is_none() && named {
                (None, Some(quote!(let name = #rt::apply::ApplyConfiguration::name(config).unwrap_or_default();)))
            } else {
                (Some(quote!(name: &str,)), None)
            };
            quote! {
                #d
                pub async fn #name(&self, #name_arg config: &#config, params: &#api::PatchParams) -> #res<#result> {
                    #own_name
                    self.inner.patch_as(#target, &#api::Patch::Apply(config), params).await
                }
            }
        }
        Verb::Delete => quote! {
            #d
            pub async fn #name(
                &self,
                name: &str,
                params: &#api::DeleteParams,
            ) -> #res<#rt::client::Either<#result, #rt::kube::core::Status>> {
                self.inner.delete_as(#target, params).await
            }
        },
        Verb::DeleteCollection => quote! {
            #d
            pub async fn #name(
                &self,
                params: &#api::DeleteParams,
            ) -> #res<#rt::client::Either<#api::ObjectList<#result>, #rt::kube::core::Status>> {
                self.inner.delete_as(#target_ty::Collection, params).await
            }
        },
        Verb::Watch => quote! {
            #d
            pub async fn #name(
                &self,
                params: &#api::WatchParams,
                resource_version: &str,
            ) -> #res<#rt::client::WatchStream<#result>> {
                self.inner.watch_as(params, resource_version).await
            }
        },
    }
}
