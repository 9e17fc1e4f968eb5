//! The attribute model against the example API and the docs: the example
//! kinds keep their CRD names, and docs/migration.md names every key the
//! parser accepts.

use std::path::Path;

fn example_models() -> Vec<bot_gen::model::ResourceModel> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bot-api/src/v1alpha1.rs");
    let file = syn::parse_file(&std::fs::read_to_string(path).unwrap()).unwrap();
    file.items
        .into_iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if s.attrs.iter().any(|a| a.path().is_ident("kube")) => {
                Some(bot_gen::model::parse_resource(&s.into()).unwrap())
            }
            _ => None,
        })
        .collect()
}

/// Pluralisation changed to kube-derive's; the example's CRDs keep their names.
#[test]
fn example_kinds_keep_their_crd_names() {
    let names: Vec<String> = example_models().iter().map(|m| m.crd_name()).collect();
    assert_eq!(names, ["bots.botops.dev", "events.botops.dev", "eventbindings.botops.dev"]);
}

/// Every key of the table has its own row in docs/migration.md (`` | `key` | ``),
/// so the accepted keys, the suggestions and the docs cannot drift apart.
#[test]
fn migration_doc_names_every_key() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/migration.md")).unwrap();
    let rows: Vec<&str> = doc.lines().map(str::trim_start).filter(|l| l.starts_with("| `")).collect();
    let missing: Vec<&str> = bot_gen::model::kube_keys()
        .iter()
        .chain(bot_gen::model::genclient_keys())
        .map(|k| k.name)
        .filter(|name| !rows.iter().any(|r| r.starts_with(&format!("| `{name}` |"))))
        .collect();
    assert!(missing.is_empty(), "docs/migration.md has no row for these keys: {missing:?}");
}
