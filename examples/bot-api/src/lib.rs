//! The `botops.dev` API: the annotated `Bot`, `Event` and `EventBinding`
//! types, with the clientset, listers and informers bot-gen generates for them
//! in this crate's build.rs.

pub mod rules;
pub mod v1alpha1;

// The generated clientset, listers and informers (modules `clientset`,
// `listers`, `informers`), from build.rs.
bot_runtime::include_generated!();
