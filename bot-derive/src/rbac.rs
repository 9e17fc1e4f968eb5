//! `#[rbac(...)]`: a marker for the manifest generator. It expands to the
//! item unchanged; its arguments are checked here, at compile time, by the
//! parser `bot-gen manifests` reads them with.

use proc_macro2::TokenStream;

/// The item, unchanged, after the marker's errors (if any) as `compile_error!`s.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match bot_gen::manifests::marker::parse(args) {
        Ok(_) => item,
        Err(e) => {
            let errors = e.to_compile_error();
            quote::quote!(#errors #item)
        }
    }
}
