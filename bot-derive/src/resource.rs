//! `#[derive(Resource)]` with `#[resource(inherit = "ConfigMap")]`: the
//! type's `kube::Resource` impl is the inherited type's, with this type's
//! `metadata`, as kube-derive's.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, LitStr, Path};

/// `#[resource(...)]` as read.
struct Attrs {
    inherit: Path,
    kube_core: Path,
    k8s_openapi: Path,
}

fn parse(input: &DeriveInput) -> syn::Result<Attrs> {
    let mut inherit = None;
    let mut kube_core: Path = syn::parse_quote!(::kube::core);
    let mut k8s_openapi: Path = syn::parse_quote!(::k8s_openapi);
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("resource")) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("inherit") {
                inherit = Some(meta.value()?.parse::<LitStr>()?.parse::<Path>()?);
            } else if meta.path.is_ident("crates") {
                meta.parse_nested_meta(|inner| {
                    let slot = if inner.path.is_ident("kube_core") {
                        &mut kube_core
                    } else if inner.path.is_ident("k8s_openapi") {
                        &mut k8s_openapi
                    } else {
                        return Err(
                            inner.error("unknown crate in #[resource(crates(...))]; expected kube_core or k8s_openapi")
                        );
                    };
                    *slot = inner.value()?.parse::<LitStr>()?.parse()?;
                    Ok(())
                })?;
            } else {
                return Err(
                    meta.error("unknown key in #[resource(...)]; expected `inherit = \"Type\"` or `crates(...)`")
                );
            }
            Ok(())
        });
        if let Err(e) = res {
            push(e);
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }
    let inherit = inherit.ok_or_else(|| {
        syn::Error::new(input.ident.span(), "#[derive(Resource)] needs `#[resource(inherit = \"ConfigMap\")]`")
    })?;
    Ok(Attrs { inherit, kube_core, k8s_openapi })
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    if let Data::Union(_) = &input.data {
        return syn::Error::new(input.ident.span(), "#[derive(Resource)] goes on a struct or enum, not a union")
            .to_compile_error();
    }
    let Attrs { inherit: r, kube_core, k8s_openapi } = match parse(input) {
        Ok(a) => a,
        Err(e) => return e.to_compile_error(),
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let dt = quote!(<#r as #kube_core::Resource>::DynamicType);
    let cow = quote!(::std::borrow::Cow<'_, str>);
    let meta_ty = quote!(#k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta);
    quote! {
        impl #impl_generics #kube_core::Resource for #ident #ty_generics #where_clause {
            type DynamicType = #dt;
            type Scope = <#r as #kube_core::Resource>::Scope;

            fn group(_: &#dt) -> #cow {
                <#r as #kube_core::Resource>::group(&::std::default::Default::default()).into_owned().into()
            }
            fn kind(_: &#dt) -> #cow {
                <#r as #kube_core::Resource>::kind(&::std::default::Default::default()).into_owned().into()
            }
            fn version(_: &#dt) -> #cow {
                <#r as #kube_core::Resource>::version(&::std::default::Default::default()).into_owned().into()
            }
            fn api_version(_: &#dt) -> #cow {
                <#r as #kube_core::Resource>::api_version(&::std::default::Default::default()).into_owned().into()
            }
            fn plural(_: &#dt) -> #cow {
                <#r as #kube_core::Resource>::plural(&::std::default::Default::default()).into_owned().into()
            }
            fn meta(&self) -> &#meta_ty { &self.metadata }
            fn meta_mut(&mut self) -> &mut #meta_ty { &mut self.metadata }
        }
    }
}
