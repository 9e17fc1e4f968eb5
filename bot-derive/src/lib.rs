//! `#[derive(CustomResource)]`: from an annotated spec struct, the root type
//! (apiVersion, kind, metadata, spec, status), its `kube::Resource` impl and a
//! `crd()` with a structural OpenAPI v3 schema.
//!
//! The attributes are those of kube-derive (`#[kube(group, version, kind,
//! namespaced, status, shortname, category, printcolumn, ...)]`), so moving a
//! type over is an import change, plus client-gen's options in
//! `#[genclient(...)]`. They are parsed by `bot_gen::model`, the same parser the
//! build-time generator uses.
//!
//! ```text
//! #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
//! #[kube(group = "botops.dev", version = "v1alpha1", kind = "Bot", namespaced, status = "BotStatus")]
//! #[genclient(skip_verbs(delete_collection))]
//! pub struct BotSpec { pub platform: String }
//! ```

mod expand;

/// Derives a custom resource root type from a spec struct. See the crate docs.
#[proc_macro_derive(CustomResource, attributes(kube, genclient))]
pub fn derive_custom_resource(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match expand::expand(&input) {
        Ok(tokens) => tokens.into(),
        // Like thiserror: next to the errors, a stub root type with the usual
        // impls, so users see the attribute errors and not a cascade of
        // "cannot find type `Foo`" wherever the root type is used.
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&input));
            out.into()
        }
    }
}
