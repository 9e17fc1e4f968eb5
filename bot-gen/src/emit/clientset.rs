//! The clientset: one typed client per kind, with only the verbs its
//! `#[genclient]` options allow.

use proc_macro2::TokenStream;
use quote::quote;

use super::{GroupVersion, Resource, TypeTable, doc, methods};
use crate::model::Verb;

pub(crate) fn emit(groups: &[GroupVersion<'_>], types: &TypeTable, rt: &syn::Path) -> TokenStream {
    let accessors = groups.iter().map(|gv| {
        let m = gv.module();
        let client = gv.camel("Client");
        let d = doc(format!("The typed clients of `{}/{}`.", gv.group, gv.version));
        quote! {
            #d
            pub fn #m(&self) -> #m::#client { #m::#client::new(self.client.clone()) }
        }
    });
    let modules = groups.iter().map(|gv| group_version(gv, types, rt));
    // client-gen's fake package: `clientset::fake`, declared by bot-runtime
    // when its `fake` feature is on.
    let kinds = groups.iter().flat_map(|gv| &gv.resources).map(|r| r.root_path());
    quote! {
        /// Typed clients for every group-version of this crate, sharing one
        /// `kube::Client` (one connection pool).
        #[derive(Clone)]
        pub struct Clientset {
            client: #rt::kube::Client,
        }

        impl ::std::fmt::Debug for Clientset {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct("Clientset").finish_non_exhaustive()
            }
        }

        impl Clientset {
            /// A clientset over `client`.
            pub fn new(client: #rt::kube::Client) -> Self {
                Self { client }
            }

            /// The underlying client, for kinds of other crates.
            pub fn client(&self) -> &#rt::kube::Client {
                &self.client
            }

            #(#accessors)*
        }

        #(#modules)*

        #rt::__fake_clientset!(#(#kinds),*);
    }
}

fn group_version(gv: &GroupVersion<'_>, types: &TypeTable, rt: &syn::Path) -> TokenStream {
    let m = gv.module();
    let client = gv.camel("Client");
    let getters = gv.resources.iter().map(|r| getter(r, rt));
    let kinds = gv.resources.iter().map(|r| kind_client(gv, r, types, rt));
    let mdoc = doc(format!("Typed clients of `{}/{}`.", gv.group, gv.version));
    let cdoc = doc(format!("The `{}/{}` group-version client.", gv.group, gv.version));
    quote! {
        #mdoc
        pub mod #m {
            #cdoc
            #[derive(Clone)]
            pub struct #client {
                client: #rt::kube::Client,
            }

            impl ::std::fmt::Debug for #client {
                fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                    f.debug_struct(stringify!(#client)).finish_non_exhaustive()
                }
            }

            impl #client {
                /// A group-version client over `client`.
                pub fn new(client: #rt::kube::Client) -> Self {
                    Self { client }
                }

                #(#getters)*
            }

            #(#kinds)*
        }
    }
}

fn getter(r: &Resource, rt: &syn::Path) -> TokenStream {
    let accessor = r.accessor();
    let kc = r.ident("Client");
    let root = r.root_path();
    if r.model.namespaced {
        let d = doc(format!(
            "The typed client of `{}` in `namespace` (`\"\"`: all namespaces, for list and watch).",
            r.model.kind
        ));
        quote! {
            #d
            pub fn #accessor(&self, namespace: &str) -> #kc {
                let api = if namespace.is_empty() {
                    #rt::kube::Api::<#root>::all(self.client.clone())
                } else {
                    #rt::kube::Api::<#root>::namespaced(self.client.clone(), namespace)
                };
                #kc { inner: #rt::client::TypedClient::new(api) }
            }
        }
    } else {
        let d = doc(format!("The typed client of `{}` (cluster-scoped).", r.model.kind));
        quote! {
            #d
            pub fn #accessor(&self) -> #kc {
                #kc { inner: #rt::client::TypedClient::new(#rt::kube::Api::<#root>::all(self.client.clone())) }
            }
        }
    }
}

fn kind_client(gv: &GroupVersion<'_>, r: &Resource, types: &TypeTable, rt: &syn::Path) -> TokenStream {
    let kc = r.ident("Client");
    let root = r.root_path();
    let kind = &r.model.kind;
    let verbs = r.model.verbs;
    let allowed: Vec<&str> = verbs.iter().map(|v| v.name()).collect();
    let d = doc(format!(
        "Typed client of `{kind}` (`{}`). Verbs: {}.\n\nArguments follow one order: the name or object, \
         the body, then kube's parameters (`PostParams`, `PatchParams`, ...); see `bot_runtime::client`.",
        r.model.api_version(),
        if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
    ));
    let has_status_verbs = verbs.contains(Verb::UpdateStatus) || verbs.contains(Verb::ApplyStatus);
    let apply_ty = methods::apply_type(gv, r);
    let mut out: Vec<TokenStream> =
        verbs.iter().map(|verb| verb_method(verb, &root, &apply_ty, has_status_verbs, rt)).collect();
    out.extend(r.model.methods.iter().map(|m| methods::extra_method(gv, r, m, types, rt)));
    quote! {
        #d
        #[derive(Clone, Debug)]
        pub struct #kc {
            inner: #rt::client::TypedClient<#root>,
        }

        impl #kc {
            #(#out)*
        }
    }
}

/// The methods `r`'s standard verbs give its typed client, with their verb.
pub(crate) fn verb_method_names(r: &Resource) -> Vec<(&'static str, Verb)> {
    let verbs = r.model.verbs;
    let status = verbs.contains(Verb::UpdateStatus) || verbs.contains(Verb::ApplyStatus);
    let mut names = Vec::new();
    for verb in verbs.iter() {
        let extra: &[&'static str] = match verb {
            Verb::Get => &["get_opt"],
            Verb::Patch if status => &["merge_patch", "json_patch", "patch_status"],
            Verb::Patch => &["merge_patch", "json_patch"],
            Verb::Apply => &["apply_raw"],
            Verb::ApplyStatus => &["apply_status_raw"],
            _ => &[],
        };
        names.extend(std::iter::once(verb.name()).chain(extra.iter().copied()).map(|n| (n, verb)));
    }
    names
}

/// The method of one standard verb.
fn verb_method(verb: Verb, root: &TokenStream, apply: &TokenStream, status: bool, rt: &syn::Path) -> TokenStream {
    let api = quote!(#rt::kube::api);
    let res = quote!(#rt::client::Result);
    match verb {
        Verb::Create => quote! {
            /// Creates `obj`; returns it as stored.
            pub async fn create(&self, obj: &#root, params: &#api::PostParams) -> #res<#root> {
                self.inner.create(obj, params).await
            }
        },
        Verb::Update => quote! {
            /// Replaces the object named like `obj` (optimistic concurrency on `resourceVersion`).
            pub async fn update(&self, obj: &#root, params: &#api::PostParams) -> #res<#root> {
                self.inner.update(obj, params).await
            }
        },
        Verb::UpdateStatus => quote! {
            /// Replaces the status subresource of the object named like `obj`.
            pub async fn update_status(&self, obj: &#root, params: &#api::PostParams) -> #res<#root> {
                self.inner.update_status(obj, params).await
            }
        },
        Verb::Delete => quote! {
            /// Deletes `name`: `Left(obj)` while finalizers hold it, `Right(status)` once gone.
            pub async fn delete(
                &self,
                name: &str,
                params: &#api::DeleteParams,
            ) -> #res<#rt::client::Either<#root, #rt::kube::core::Status>> {
                self.inner.delete(name, params).await
            }
        },
        Verb::DeleteCollection => quote! {
            /// Deletes every object `list` selects.
            pub async fn delete_collection(
                &self,
                params: &#api::DeleteParams,
                list: &#api::ListParams,
            ) -> #res<#rt::client::Either<#api::ObjectList<#root>, #rt::kube::core::Status>> {
                self.inner.delete_collection(params, list).await
            }
        },
        Verb::Get => quote! {
            /// Reads `name` from the API server (a lister reads the cache instead).
            pub async fn get(&self, name: &str) -> #res<#root> {
                self.inner.get(name).await
            }

            /// Reads `name`; `None` when it does not exist.
            pub async fn get_opt(&self, name: &str) -> #res<::std::option::Option<#root>> {
                self.inner.get_opt(name).await
            }
        },
        Verb::List => quote! {
            /// Lists objects (label and field selectors, pagination).
            pub async fn list(&self, params: &#api::ListParams) -> #res<#api::ObjectList<#root>> {
                self.inner.list(params).await
            }
        },
        Verb::Watch => quote! {
            /// A raw watch from `resource_version` (an informer adds relists and a cache).
            pub async fn watch(
                &self,
                params: &#api::WatchParams,
                resource_version: &str,
            ) -> #res<#rt::client::WatchStream<#root>> {
                self.inner.watch(params, resource_version).await
            }
        },
        Verb::Patch => patch_methods(root, status, rt),
        Verb::Apply | Verb::ApplyStatus => apply_methods(verb, root, apply, rt),
    }
}

/// apply and apply_status: typed, and the raw escape hatch.
fn apply_methods(verb: Verb, root: &TokenStream, apply: &TokenStream, rt: &syn::Path) -> TokenStream {
    let api = quote!(#rt::kube::api);
    let res = quote!(#rt::client::Result);
    match verb {
        Verb::Apply => quote! {
            /// Server-side apply of `config` to the object it names; `params` is
            /// `PatchParams::apply("manager")`, `.force()` to take over fields
            /// other managers own.
            pub async fn apply(&self, config: &#apply, params: &#api::PatchParams) -> #res<#root> {
                self.inner.apply(config, params).await
            }

            /// Server-side apply of an untyped `body` to `name` (the body must
            /// carry apiVersion, kind and metadata.name): the escape hatch when
            /// the apply configuration does not fit.
            pub async fn apply_raw<P: #rt::serde::Serialize + ::std::fmt::Debug>(
                &self,
                name: &str,
                body: &P,
                params: &#api::PatchParams,
            ) -> #res<#root> {
                self.inner.apply_raw(name, body, params).await
            }
        },
        _ => quote! {
            /// Server-side apply of `config`'s status to the status subresource.
            pub async fn apply_status(&self, config: &#apply, params: &#api::PatchParams) -> #res<#root> {
                self.inner.apply_status(config, params).await
            }

            /// Server-side apply of an untyped `body` to the status of `name`.
            pub async fn apply_status_raw<P: #rt::serde::Serialize + ::std::fmt::Debug>(
                &self,
                name: &str,
                body: &P,
                params: &#api::PatchParams,
            ) -> #res<#root> {
                self.inner.apply_status_raw(name, body, params).await
            }
        },
    }
}

fn patch_methods(root: &TokenStream, status: bool, rt: &syn::Path) -> TokenStream {
    let api = quote!(#rt::kube::api);
    let res = quote!(#rt::client::Result);
    let ser = quote!(#rt::serde::Serialize + ::std::fmt::Debug);
    let status = status.then(|| {
        quote! {
            /// Patches the status subresource of `name`.
            pub async fn patch_status<P: #ser>(
                &self,
                name: &str,
                patch: &#api::Patch<P>,
                params: &#api::PatchParams,
            ) -> #res<#root> {
                self.inner.patch_status(name, patch, params).await
            }
        }
    });
    quote! {
        /// Patches `name` with any patch type (merge, JSON, apply).
        pub async fn patch<P: #ser>(
            &self,
            name: &str,
            patch: &#api::Patch<P>,
            params: &#api::PatchParams,
        ) -> #res<#root> {
            self.inner.patch(name, patch, params).await
        }

        /// JSON merge patch (RFC 7386) of `name`.
        pub async fn merge_patch<P: #ser>(&self, name: &str, body: &P, params: &#api::PatchParams) -> #res<#root> {
            self.inner.merge_patch(name, body, params).await
        }

        /// JSON patch (RFC 6902) of `name`.
        pub async fn json_patch(
            &self,
            name: &str,
            ops: &#rt::json_patch::Patch,
            params: &#api::PatchParams,
        ) -> #res<#root> {
            self.inner.json_patch(name, ops, params).await
        }

        #status
    }
}
