//! Compile-time warnings on stable Rust. A proc macro cannot emit a warning
//! itself, so each one is a `#[deprecated(note = "...")]` item used at the
//! span of the key it is about: rustc prints
//! `warning: use of deprecated ...: <message>` pointing at that key. Like
//! any lint it can be silenced (`#[allow(deprecated)]` on the module) or made
//! an error (`#![deny(deprecated)]`).

use bot_gen::model::ResourceModel;
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};

pub(crate) fn emit(m: &ResourceModel) -> TokenStream {
    m.warnings
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let name = format_ident!("bot_derive_warning_{}_{}", m.root_ident, i);
            let note = &w.message;
            let used = quote_spanned!(w.span=> #name);
            quote! {
                const _: () = {
                    #[deprecated(note = #note)]
                    #[allow(non_upper_case_globals)]
                    const #name: () = ();
                    #used
                };
            }
        })
        .collect()
}
