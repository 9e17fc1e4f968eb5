//! Turns a [`ResourceModel`] into the root type and its impls, as kube-derive
//! 5 does (so the CRDs are byte-identical), plus bot-derive's `VERBS` and
//! `merged_crd`.

mod crd;
mod root;
mod warnings;

use bot_gen::model::{ResourceModel, parse_resource_partial};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput};

/// The derive's whole output: the errors, and, whenever the root type can be
/// named, the root type from what did parse (with the user's `derive`s,
/// status and names), so the errors are the only errors; the warnings.
pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    if let Data::Union(_) = &input.data {
        return syn::Error::new_spanned(
            &input.ident,
            "#[derive(CustomResource)] goes on a spec struct or enum, not a union",
        )
        .to_compile_error();
    }
    if !input.generics.params.is_empty() {
        return syn::Error::new_spanned(
            &input.generics,
            "#[derive(CustomResource)] does not support generic spec types",
        )
        .to_compile_error();
    }
    let (model, error) = parse_resource_partial(input);
    let mut out = error.map(|e| e.to_compile_error()).unwrap_or_default();
    if let Some(model) = model {
        out.extend(warnings::emit(&model));
        out.extend(expand_model(input, &model));
    }
    out
}

fn expand_model(input: &DeriveInput, m: &ResourceModel) -> TokenStream {
    let root = root::root_type(input, m);
    let crd = crd::custom_resource_ext(m);
    let extras = root::extras(m);
    quote! {
        #root
        #crd
        #extras
    }
}
