//! Listers: typed, read-only views of an informer's indexed cache.

use proc_macro2::TokenStream;
use quote::quote;

use super::{GroupVersion, Resource, doc};

pub(crate) fn emit(groups: &[GroupVersion<'_>], rt: &syn::Path) -> TokenStream {
    let modules = groups.iter().map(|gv| {
        let m = gv.module();
        let listers = gv.resources.iter().filter(|r| r.model.verbs.has_lister()).map(|r| lister(r, rt));
        let d = doc(format!("Listers of `{}/{}`.", gv.group, gv.version));
        quote! {
            #d
            pub mod #m {
                #(#listers)*
            }
        }
    });
    quote!(#(#modules)*)
}

fn lister(r: &Resource, rt: &syn::Path) -> TokenStream {
    let kind = &r.model.kind;
    let root = r.root_path();
    let lister = r.ident("Lister");
    let arc = quote!(::std::sync::Arc<#root>);
    let res = quote!(#rt::lister::Result);
    let selector = quote!(#rt::selector::LabelSelector);
    let d = doc(format!(
        "Lists and gets `{kind}` objects from an informer's cache. Objects are shared (`Arc`): read-only."
    ));
    let common = quote! {
        /// A lister over `lister` (usually `informer.lister()`).
        pub fn new(lister: #rt::lister::Lister<#root>) -> Self {
            Self { inner: lister }
        }

        /// Every cached object the label `selector` matches, from the cache's
        /// label index (`&"app in (a,b)".parse()?`; `&Default::default()`: all).
        pub fn list(&self, selector: &#selector) -> ::std::vec::Vec<#arc> {
            self.inner.list(selector)
        }

        /// The cached objects of which `uid` is an owner (the owner index).
        pub fn by_owner(&self, uid: &str) -> ::std::vec::Vec<#arc> {
            self.inner.by_owner(uid)
        }

        /// The objects whose index function `index` yields `value`.
        pub fn by_index(&self, index: &str, value: &str) -> #res<::std::vec::Vec<#arc>> {
            self.inner.by_index(index, value)
        }

        /// The untyped lister underneath.
        pub fn inner(&self) -> &#rt::lister::Lister<#root> {
            &self.inner
        }
    };
    if r.model.namespaced {
        let accessor = r.accessor();
        let ns_lister = r.ident("NamespaceLister");
        let nd = doc(format!("Lists and gets `{kind}` objects of one namespace, through the namespace index."));
        let ad = doc(format!("The `{kind}` objects of `namespace`."));
        quote! {
            #d
            #[derive(Clone, Debug)]
            pub struct #lister {
                inner: #rt::lister::Lister<#root>,
            }

            impl #lister {
                #common

                #ad
                pub fn #accessor(&self, namespace: &str) -> #ns_lister {
                    #ns_lister { inner: self.inner.namespaced(namespace) }
                }
            }

            #nd
            #[derive(Clone, Debug)]
            pub struct #ns_lister {
                inner: #rt::lister::NamespaceLister<#root>,
            }

            impl #ns_lister {
                /// Objects of this namespace the label `selector` matches.
                pub fn list(&self, selector: &#selector) -> ::std::vec::Vec<#arc> {
                    self.inner.list(selector)
                }

                /// The object `name` of this namespace; a NotFound error when it is not cached.
                pub fn get(&self, name: &str) -> #res<#arc> {
                    self.inner.get(name)
                }
            }
        }
    } else {
        quote! {
            #d
            #[derive(Clone, Debug)]
            pub struct #lister {
                inner: #rt::lister::Lister<#root>,
            }

            impl #lister {
                #common

                /// The object `name`; a NotFound error when it is not cached.
                pub fn get(&self, name: &str) -> #res<#arc> {
                    self.inner.get(name)
                }
            }
        }
    }
}
