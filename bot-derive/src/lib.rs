//! `#[derive(CustomResource)]`: from an annotated spec type, the root type
//! (apiVersion, kind, metadata, spec, status), its `kube::Resource` impl and a
//! `crd()` with a structural OpenAPI v3 schema; and `#[derive(Resource)]`,
//! kube's derive for a typed view of an existing kind.
//!
//! The attributes are those of kube-derive 5 (`#[kube(group, version, kind,
//! namespaced, status, shortname, category, printcolumn, ...)]`) with the
//! same output, byte for byte, so moving a type over is an import change;
//! plus client-gen's options in `#[genclient(...)]`. They are parsed by
//! `bot_gen::model`, the same parser the build-time generator uses.
//!
//! ```text
//! #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
//! #[kube(group = "botops.dev", version = "v1alpha1", kind = "Bot", namespaced, status = "BotStatus")]
//! #[genclient(skip_verbs(delete_collection))]
//! pub struct BotSpec { pub platform: String }
//! ```
//!
//! Misuse is a compile error at the offending key. What kube-derive accepts
//! but cannot work as written (a printer-column path the spec lacks, a scale
//! without a status) compiles, with a warning at the key: rustc's
//! `use of deprecated constant ...: <message>`, silenced with
//! `#[allow(deprecated)]` or made an error with `#![deny(deprecated)]`.

mod expand;
mod rbac;
mod resource;

/// Derives a custom resource root type from a spec struct or enum. See the
/// crate docs.
#[proc_macro_derive(CustomResource, attributes(kube, genclient))]
pub fn derive_custom_resource(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::expand(&input).into()
}

/// Implements `kube::Resource` for a type by inheriting it from an existing
/// resource type, as kube's `#[derive(Resource)]`:
///
/// ```text
/// #[derive(Resource, Clone, Debug, Deserialize)]
/// #[resource(inherit = "ConfigMap")]
/// struct FooMap { metadata: ObjectMeta, data: Option<FooMapData> }
/// ```
///
/// `#[resource(crates(kube_core = "...", k8s_openapi = "..."))]` renames the
/// crates the generated code names.
#[proc_macro_derive(Resource, attributes(resource))]
pub fn derive_resource(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    resource::expand(&input).into()
}

/// Marks the permissions the code next to it needs, for `bot-gen manifests`
/// (controller-gen's `+kubebuilder:rbac` marker). Expands to the item
/// unchanged; misspelt keys and verbs are compile errors. On functions,
/// modules, impls, consts, ...:
///
/// ```text
/// #[bot_derive::rbac(groups = "apps", resources = "deployments", verbs = ["get", "list", "watch"])]
/// #[bot_derive::rbac(groups = "coordination.k8s.io", resources = "leases", verbs = ["get", "update"],
///                    resource_names = "my-operator", namespace = "my-system")]
/// async fn reconcile() {}
/// ```
///
/// Keys: `groups` (`""` is the core group), `resources`, `verbs`,
/// `resource_names`, `namespace` (a Role there instead of the ClusterRole),
/// `urls` (non-resource URLs); each takes a string or an array of strings.
#[proc_macro_attribute]
pub fn rbac(args: proc_macro::TokenStream, item: proc_macro::TokenStream) -> proc_macro::TokenStream {
    rbac::expand(args.into(), item.into()).into()
}
