//! Extra client methods of `#[genclient(method(...))]` (client-gen's
//! `+genclient:method=Name,verb=V,subresource=s,input=T,result=T`).
//!
//! Each verb makes the HTTP call client-gen's template for it makes, on the
//! object (no `subresource`) or on `{name}/{subresource}`, never on a path
//! with an empty segment:
//!
//! | verb | call | method |
//! |---|---|---|
//! | get | `GET .../{name}[/{sub}]` | `m(name) -> R` |
//! | list | `GET ...` (with a subresource: `.../{name}/{sub}`) + list query | `m([name,] &ListParams) -> ObjectList<R>` |
//! | create | `POST ...` (with a subresource: `.../{name}/{sub}`) | `m([name,] &I, &PostParams) -> R` |
//! | update | `PUT .../{name}[/{sub}]`; without a subresource the input names the object | `m([name,] &I, &PostParams) -> R` |
//! | patch | `PATCH .../{name}[/{sub}]` | `m(name, &Patch<P>, &PatchParams) -> R` |
//! | apply, apply_status | `PATCH .../{name}[/{sub}]`, `application/apply-patch+yaml` | `m([name,] &config, &PatchParams) -> R` |
//! | delete | `DELETE .../{name}[/{sub}]` | `m(name, &DeleteParams) -> Either<R, Status>` |
//! | watch | `GET ...?watch=true` | `m(&WatchParams, rv) -> WatchStream<R>` |
//!
//! `I` and `R` are the `input` and `result` types, by default the kind
//! itself, or `autoscaling/v1` `Scale` on the `scale` subresource. An
//! apply's input is by default the kind's apply configuration, which names
//! its object (`metadata.name`), so such methods take no name; any other
//! input comes with `name`. `update_status` and `apply_status` default to
//! the `status` subresource. Like client-gen's tag parser, the attribute
//! parser refuses `delete`, `watch`, `update_status` and `delete_collection`
//! for extra methods; the emitter supports them all the same.

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

/// Everything the method of one `#[genclient(method(...))]` is made of.
struct Parts<'a> {
    m: &'a ExtraMethod,
    rt: &'a syn::Path,
    /// The subresource (`update_status` and `apply_status` default to `status`).
    sub: Option<String>,
    /// `Target::Subresource(name, "sub")` or `Target::Object(name)`.
    target: TokenStream,
    /// `Target::Collection`.
    collection: TokenStream,
    input: TokenStream,
    result: TokenStream,
    /// The method's doc: the attribute and the HTTP call.
    doc: TokenStream,
}

impl Parts<'_> {
    /// `name: &str,` when the method takes the object's name.
    fn name_arg(&self) -> Option<TokenStream> {
        self.sub.is_some().then(|| quote!(name: &str,))
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
    let target_ty = quote!(#rt::client::Target);
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
    let doc = method_doc(r, m, sub.as_deref());
    let p = Parts { m, rt, sub, target, collection: quote!(#target_ty::Collection), input, result, doc };
    match m.verb {
        Verb::Get | Verb::List | Verb::Watch => read_method(&p),
        Verb::Create | Verb::Update | Verb::UpdateStatus | Verb::Delete | Verb::DeleteCollection => write_method(&p),
        Verb::Patch => patch_method(&p),
        Verb::Apply | Verb::ApplyStatus => {
            let (config, named) = apply_input(gv, r, types, m, scale);
            apply_method(&p, &config, named)
        }
    }
}

/// The doc of an extra method: its attribute and the HTTP call it makes.
fn method_doc(r: &Resource, m: &ExtraMethod, sub: Option<&str>) -> TokenStream {
    let collection = format!("/{}", r.model.plural);
    let object = format!("{collection}/{{name}}");
    let at = |base: &str| sub.map_or_else(|| base.to_string(), |s| format!("{object}/{s}"));
    let call = match m.verb {
        Verb::Get => format!("GET `{}`", at(&object)),
        Verb::List => format!("GET `{}` with list parameters", at(&collection)),
        Verb::Watch => format!("GET `{collection}?watch=true`"),
        Verb::Create => format!("POST `{}`", at(&collection)),
        Verb::Update | Verb::UpdateStatus => format!("PUT `{}`", at(&object)),
        Verb::Patch => format!("PATCH `{}`", at(&object)),
        Verb::Apply | Verb::ApplyStatus => format!("PATCH `{}` (server-side apply)", at(&object)),
        Verb::Delete => format!("DELETE `{}`", at(&object)),
        Verb::DeleteCollection => format!("DELETE `{collection}`"),
    };
    let sub = sub.map(|s| format!(", subresource = \"{s}\"")).unwrap_or_default();
    doc(format!("`#[genclient(method(name = \"{}\", verb = \"{}\"{sub}))]`: {call}.", m.name, m.verb))
}

/// get, list and watch.
fn read_method(p: &Parts<'_>) -> TokenStream {
    let Parts { m, rt, target, collection, result, doc, .. } = p;
    let (name, api, res) = (&m.name, quote!(#rt::kube::api), quote!(#rt::client::Result));
    let name_arg = p.name_arg();
    match m.verb {
        Verb::Get => quote! {
            #doc
            pub async fn #name(&self, name: &str) -> #res<#result> {
                self.inner.get_as(#target).await
            }
        },
        Verb::List => {
            let target = if p.sub.is_some() { target } else { collection };
            quote! {
                #doc
                pub async fn #name(&self, #name_arg params: &#api::ListParams) -> #res<#api::ObjectList<#result>> {
                    self.inner.list_as(#target, params).await
                }
            }
        }
        _ => quote! {
            #doc
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

/// create, update (and update_status), delete and delete_collection.
fn write_method(p: &Parts<'_>) -> TokenStream {
    let Parts { m, rt, target, collection, input, result, doc, .. } = p;
    let (name, api, res) = (&m.name, quote!(#rt::kube::api), quote!(#rt::client::Result));
    let name_arg = p.name_arg();
    let status = quote!(#rt::kube::core::Status);
    match m.verb {
        Verb::Create => {
            let target = if p.sub.is_some() { target } else { collection };
            quote! {
                #doc
                pub async fn #name(&self, #name_arg input: &#input, params: &#api::PostParams) -> #res<#result> {
                    self.inner.create_as(#target, input, params).await
                }
            }
        }
        Verb::Update | Verb::UpdateStatus => {
            // Without a subresource the input names the object, as in client-gen.
            let own_name = p
                .sub
                .is_none()
                .then(|| quote!(let name = #rt::kube::Resource::meta(input).name.as_deref().unwrap_or_default();));
            quote! {
                #doc
                pub async fn #name(&self, #name_arg input: &#input, params: &#api::PostParams) -> #res<#result> {
                    #own_name
                    self.inner.replace_as(#target, input, params).await
                }
            }
        }
        Verb::DeleteCollection => quote! {
            #doc
            pub async fn #name(
                &self,
                params: &#api::DeleteParams,
            ) -> #res<#rt::client::Either<#api::ObjectList<#result>, #status>> {
                self.inner.delete_as(#collection, params).await
            }
        },
        _ => quote! {
            #doc
            pub async fn #name(&self, name: &str, params: &#api::DeleteParams) -> #res<#rt::client::Either<#result, #status>> {
                self.inner.delete_as(#target, params).await
            }
        },
    }
}

fn patch_method(p: &Parts<'_>) -> TokenStream {
    let Parts { m, rt, target, result, doc, .. } = p;
    let (name, api, res) = (&m.name, quote!(#rt::kube::api), quote!(#rt::client::Result));
    quote! {
        #doc
        pub async fn #name<P: #rt::serde::Serialize + ::std::fmt::Debug>(
            &self,
            name: &str,
            patch: &#api::Patch<P>,
            params: &#api::PatchParams,
        ) -> #res<#result> {
            self.inner.patch_as(#target, patch, params).await
        }
    }
}

/// apply and apply_status: a kind's apply configuration names its object;
/// any other input comes with the name.
fn apply_method(p: &Parts<'_>, config: &TokenStream, named: bool) -> TokenStream {
    let Parts { m, rt, target, result, doc, .. } = p;
    let (name, api, res) = (&m.name, quote!(#rt::kube::api), quote!(#rt::client::Result));
    let (name_arg, own_name) = if named {
        (None, Some(quote!(let name = #rt::apply::ApplyConfiguration::name(config).unwrap_or_default();)))
    } else {
        (Some(quote!(name: &str,)), None)
    };
    quote! {
        #doc
        pub async fn #name(&self, #name_arg config: &#config, params: &#api::PatchParams) -> #res<#result> {
            #own_name
            self.inner.patch_as(#target, &#api::Patch::Apply(config), params).await
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::parse_resource;

    /// A Widget with `methods` added after parsing: the parser refuses
    /// delete, watch, update_status and delete_collection as client-gen does,
    /// but the emitter still makes the right call for every verb.
    fn render(methods: &[(&str, Verb, Option<&str>)]) -> String {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[kube(group = "a.io", version = "v1", kind = "Widget", namespaced, status = "WidgetStatus")]
            pub struct WidgetSpec {}
        };
        let mut model = parse_resource(&input).unwrap();
        for (name, verb, sub) in methods {
            model.methods.push(ExtraMethod {
                name: format_ident!("{}", name),
                verb: *verb,
                subresource: sub.map(str::to_string),
                input: None,
                result: None,
            });
        }
        let r = Resource { model, module: "crate::api".into(), path: "api.rs".into() };
        let code = super::super::render(&[r], &TypeTable::default(), &BTreeMap::new(), "::rt").unwrap();
        // Without whitespace and prettyplease's trailing commas.
        code.split_whitespace().collect::<String>().replace(",)", ")")
    }

    #[test]
    fn every_verb_makes_its_call_on_the_object_or_the_subresource() {
        let code = render(&[
            ("drop_it", Verb::Delete, None),
            ("drop_sub", Verb::Delete, Some("x")),
            ("watch_all", Verb::Watch, None),
            ("drop_all", Verb::DeleteCollection, None),
            ("put_status", Verb::UpdateStatus, None),
            ("get_it", Verb::Get, None),
        ]);
        for call in [
            "self.inner.delete_as(::rt::client::Target::Object(name), params)",
            "self.inner.delete_as(::rt::client::Target::Subresource(name, \"x\"), params)",
            "self.inner.watch_as(params, resource_version)",
            "self.inner.delete_as(::rt::client::Target::Collection, params)",
            "self.inner.replace_as(::rt::client::Target::Subresource(name, \"status\"), input, params)",
            // No subresource: the object itself, never `.../{name}/`.
            "self.inner.get_as(::rt::client::Target::Object(name))",
        ] {
            let call: String = call.split_whitespace().collect();
            assert!(code.contains(&call), "missing `{call}` in {code}");
        }
        assert!(!code.contains("Subresource(name,\"\")"));
    }

    #[test]
    fn an_extra_method_may_not_shadow_a_verb() {
        let input: syn::DeriveInput = syn::parse_quote! {
            #[kube(group = "a.io", version = "v1", kind = "Widget", namespaced)]
            pub struct WidgetSpec {}
        };
        let mut model = parse_resource(&input).unwrap();
        model.methods.push(ExtraMethod {
            name: format_ident!("merge_patch"),
            verb: Verb::Patch,
            subresource: None,
            input: None,
            result: None,
        });
        let r = Resource { model, module: "crate".into(), path: "api.rs".into() };
        let err = super::super::render(&[r], &TypeTable::default(), &BTreeMap::new(), "::rt").unwrap_err().to_string();
        assert!(err.contains("`merge_patch`, which the `patch` verb already generates on WidgetClient"), "{err}");
    }
}
