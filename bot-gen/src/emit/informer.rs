//! Shared informers and their factory.

use proc_macro2::TokenStream;
use quote::quote;

use super::{GroupVersion, Resource, doc};

pub(crate) fn emit(groups: &[GroupVersion<'_>], rt: &syn::Path) -> TokenStream {
    let core = quote!(#rt::factory::InformerFactory);
    // One accessor per group; several versions of a group share it.
    let mut seen = std::collections::BTreeSet::new();
    let group_accessors: Vec<TokenStream> = groups
        .iter()
        .filter(|gv| seen.insert(gv.group_name.clone()))
        .map(|gv| {
            let g = gv.group_ident();
            let d = doc(format!("Informers of the `{}` group.", gv.group));
            quote! {
                #d
                pub fn #g(&self) -> #g::Group {
                    #g::Group { factory: self.core.clone() }
                }
            }
        })
        .collect();

    let mut group_modules = Vec::new();
    let mut by_group: std::collections::BTreeMap<&str, Vec<&GroupVersion<'_>>> = Default::default();
    for gv in groups {
        by_group.entry(gv.group_name.as_str()).or_default().push(gv);
    }
    for (name, gvs) in &by_group {
        let g = gvs[0].group_ident();
        let versions = gvs.iter().map(|gv| {
            let v = gv.version_ident();
            let m = gv.module();
            let d = doc(format!("Informers of `{}/{}`.", gv.group, gv.version));
            quote! {
                #d
                pub fn #v(&self) -> super::#m::Version {
                    super::#m::Version { factory: self.factory.clone() }
                }
            }
        });
        let md = doc(format!("The `{name}` group of the informer factory."));
        group_modules.push(quote! {
            #md
            pub mod #g {
                /// The versions of this group.
                #[derive(Clone, Debug)]
                pub struct Group {
                    pub(crate) factory: #core,
                }

                impl Group {
                    #(#versions)*
                }
            }
        });
    }
    let version_modules = groups.iter().map(|gv| version_module(gv, rt));

    quote! {
        /// Creates one shared informer per kind, however often asked, and
        /// starts, syncs and stops them together (client-go's
        /// `SharedInformerFactory`).
        #[derive(Clone, Debug)]
        pub struct SharedInformerFactory {
            core: #core,
        }

        impl SharedInformerFactory {
            /// A factory over `client`; `default_resync` (`None`: never) re-delivers
            /// every cached object to handlers as an update at that period.
            pub fn new(client: #rt::kube::Client, default_resync: ::std::option::Option<::std::time::Duration>) -> Self {
                Self { core: #core::new(client, default_resync) }
            }

            /// A factory over a configured core (namespace, tweak-list-options,
            /// transform, per-kind resync).
            pub fn from_core(core: #core) -> Self {
                Self { core }
            }

            /// Watches only `namespace`.
            pub fn with_namespace(self, namespace: impl Into<String>) -> Self {
                Self { core: self.core.with_namespace(namespace) }
            }

            /// Adjusts every list/watch (label and field selectors, page size).
            pub fn with_tweak_list_options(
                self,
                tweak: impl Fn(&mut #rt::kube::runtime::watcher::Config) + Send + Sync + 'static,
            ) -> Self {
                Self { core: self.core.with_tweak_list_options(tweak) }
            }

            /// Transforms every object's metadata before it is cached (e.g. drop managedFields).
            pub fn with_transform(
                self,
                transform: impl Fn(&mut #rt::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) + Send + Sync + 'static,
            ) -> Self {
                Self { core: self.core.with_transform(transform) }
            }

            /// The generic factory underneath, for kinds of other crates
            /// (`factory.core().informer_for::<ConfigMap>()`).
            pub fn core(&self) -> &#core {
                &self.core
            }

            /// Starts every informer asked for and not started yet; call again after asking for more.
            pub fn start(&self) {
                self.core.start()
            }

            /// Waits until every started informer has synced; reports each by `group/version/Kind`.
            pub async fn wait_for_cache_sync(&self) -> ::std::collections::BTreeMap<String, bool> {
                self.core.wait_for_cache_sync().await
            }

            /// Stops every informer and waits for their tasks to end.
            pub async fn shutdown(&self) {
                self.core.shutdown().await
            }

            #(#group_accessors)*
        }

        #(#group_modules)*
        #(#version_modules)*
    }
}

fn version_module(gv: &GroupVersion<'_>, rt: &syn::Path) -> TokenStream {
    let m = gv.module();
    let core = quote!(#rt::factory::InformerFactory);
    let informers: Vec<&Resource> = gv.resources.iter().copied().filter(|r| r.model.verbs.has_informer()).collect();
    let accessors = informers.iter().map(|r| {
        let a = r.accessor();
        let i = r.ident("Informer");
        let root = r.root_path();
        let d = doc(format!("The shared informer of `{}` (created on first request).", r.model.kind));
        quote! {
            #d
            pub fn #a(&self) -> #i {
                #i { informer: self.factory.informer_for::<#root>() }
            }
        }
    });
    let types = informers.iter().map(|r| {
        let i = r.ident("Informer");
        let root = r.root_path();
        let d = doc(format!("The shared informer of `{}` and its lister.", r.model.kind));
        let lister = r.model.verbs.has_lister().then(|| {
            let l = r.ident("Lister");
            quote! {
                /// A lister over this informer's cache.
                pub fn lister(&self) -> super::super::listers::#m::#l {
                    super::super::listers::#m::#l::new(self.informer.lister())
                }
            }
        });
        quote! {
            #d
            #[derive(Clone, Debug)]
            pub struct #i {
                informer: ::std::sync::Arc<#rt::informer::SharedIndexInformer<#root>>,
            }

            impl #i {
                /// The informer: add handlers and indexers, check sync.
                pub fn informer(&self) -> &::std::sync::Arc<#rt::informer::SharedIndexInformer<#root>> {
                    &self.informer
                }

                #lister
            }
        }
    });
    let d = doc(format!("Informers of `{}/{}`.", gv.group, gv.version));
    quote! {
        #d
        pub mod #m {
            /// The informers of this group-version.
            #[derive(Clone, Debug)]
            pub struct Version {
                pub(crate) factory: #core,
            }

            impl Version {
                #(#accessors)*
            }

            #(#types)*
        }
    }
}
