//! Compile-time warnings on stable Rust. A proc macro cannot emit a warning
//! itself, so each one is a `#[deprecated(note = "...")]` item used at the
//! span of the key it is about: rustc prints
//! `warning: use of deprecated ...: <message>` pointing at that key. Like
//! any lint it can be silenced (`#[allow(deprecated)]` on the module) or made
//! an error (`#![deny(deprecated)]`).

use bot_gen::model::ResourceModel;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

pub(crate) fn emit(m: &ResourceModel) -> TokenStream {
    m.warnings
        .iter()
        .map(|w| {
            let name = format_ident!("kube_attribute");
            let note = &w.message;
            // The use carries the key's span: rustc reports lints at spans
            // of the user's code, not at spans of a macro's own tokens.
            let used = Ident::new(&name.to_string(), w.span);
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
