//! Unit tests of the attribute parser.

use syn::DeriveInput;

use super::*;
use crate::model::{Verb, VerbSet};

fn parse(src: &str) -> Result<ResourceModel, String> {
    let input: DeriveInput = syn::parse_str(src).unwrap();
    parse_resource(&input).map_err(|e| e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
}

/// The warnings of a spec that parses, one a line.
fn warnings(src: &str) -> String {
    let m = parse(src).unwrap();
    m.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>().join("\n")
}

#[test]
fn full_model() {
    let m = parse(
        r##"
        #[kube(group = "botops.dev", version = "v1alpha1", kind = "Bot", namespaced,
               status = "BotStatus", shortname = "bot", category = "botops",
               printcolumn(name = "Platform", type = "string", json_path = ".spec.platform"),
               printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.ready","priority":1}"#)]
        #[genclient(skip_verbs(delete_collection))]
        pub struct BotSpec { platform: String }
        "##,
    )
    .unwrap();
    assert_eq!(m.root_ident, "Bot");
    assert_eq!(m.plural, "bots");
    assert!(m.namespaced);
    assert_eq!(m.printcolumns.len(), 2);
    assert_eq!(m.printcolumns[1].priority, Some(1));
    assert!(!m.verbs.contains(Verb::DeleteCollection));
    assert!(m.verbs.contains(Verb::UpdateStatus));
}

#[test]
fn no_status_type_removes_status_verbs() {
    let m = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo")] struct FooSpec;"#).unwrap();
    assert!(!m.verbs.contains(Verb::UpdateStatus) && !m.verbs.contains(Verb::ApplyStatus));
    assert!(!m.namespaced);
}

#[test]
fn crates_as_in_kube_derive() {
    let path = |p: &syn::Path| quote::quote!(#p).to_string().replace(' ', "");
    let m = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo", crates(kube_core = "::kube_core"))] struct FooSpec {}"#,
    )
    .unwrap();
    assert_eq!((path(&m.crates.kube), path(&m.crates.kube_core)), ("::kube".into(), "::kube_core".into()));
    // Only `kube` given: its `core` module.
    let m = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo", crates(kube = "::my_kube", std = "::core"))] struct FooSpec {}"#)
        .unwrap();
    assert_eq!(path(&m.crates.kube_core), "::my_kube::core");
    assert_eq!(path(&m.crates.std), "::core");
}

#[test]
fn readonly() {
    let m = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo")] #[genclient(readonly)] struct FooSpec;"#)
        .unwrap();
    assert_eq!(m.verbs, VerbSet::readonly());
}

#[test]
fn errors_are_collected_with_suggestions() {
    let err = parse(
        r#"#[kube(group = "a.io", versoin = "v1", kind = "Foo", namespaced)]
           #[genclient(only_verbs(get, list), skip_verbs(get), onlyVerbz = "x")]
           struct FooSpec;"#,
    )
    .unwrap_err();
    assert!(err.contains("unknown key `versoin` in #[kube(...)]; did you mean `version`?"), "{err}");
    assert!(err.contains("missing `version"), "{err}");
    assert!(err.contains("both in `only_verbs` and in `skip_verbs`"), "{err}");
    assert!(err.contains("did you mean `only_verbs`?"), "{err}");
}

#[test]
fn conflicts() {
    let err = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo")]
           #[genclient(only_verbs(get, update_status))]
           struct FooSpec;"#,
    )
    .unwrap_err();
    assert!(err.contains("verb `update_status` needs a status type"), "{err}");
}

#[test]
fn what_kube_derive_accepts_is_a_warning() {
    let w = warnings(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                  scale(spec_replicas_path = ".spec.r", status_replicas_path = ".status.r"),
                  printcolumn(name = "R", type = "int", json_path = ".status.r"),
                  printcolumn(name = "S", type = "string", json_path = "spec.r"),
                  selectable = "spec.name")]
           struct FooSpec { r: i32 }"#,
    );
    assert!(w.contains("scale` subresource needs a status type"), "{w}");
    assert!(w.contains("reads `.status.r` but this resource has no status"), "{w}");
    assert!(w.contains("did you mean `type = \"integer\"`?"), "{w}");
    assert!(w.contains("wants a JSONPath starting with `.`"), "{w}");
    assert!(w.contains("`selectable` reads `spec.name` but `FooSpec` has no serialized field `name`"), "{w}");
    // `spec.r` without the dot is accepted by the API server for selectable fields.
    assert!(!w.contains("should be a JSONPath"), "{w}");
}

#[test]
fn json_forms_are_read_with_serde_json() {
    let m = parse(
        r###"#[kube(group = "a.io", version = "v1", kind = "Foo", status = "S",
                  printcolumn = r#"{"name":"A\nB","type":"string","jsonPath":".spec.r","priority":2}"#,
                  scale = r#"{"specReplicasPath":".spec.r","statusReplicasPath":".status.r"}"#)]
           struct FooSpec { r: i32 }"###,
    )
    .unwrap();
    // `\n` in the JSON is a newline, not `n`.
    assert_eq!(m.printcolumns[0].name, "A\nB");
    assert_eq!(m.printcolumns[0].priority, Some(2));
    assert_eq!(m.scale.unwrap().status_replicas_path, ".status.r");
}

#[test]
fn kube_derive_keys() {
    let m = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo", no_spec, schema = "manual",
                  attr = "allow(deprecated)", validation = Rule::new("self.x > 0").message("positive"),
                  validation(rule = "self.y > 0", message = "m"), derive = "Default")]
           struct FooSpec { x: i32, y: i32 }"#,
    )
    .unwrap();
    assert!(m.no_spec && m.derives_default());
    assert_eq!(m.schema, crate::model::SchemaMode::Manual);
    assert_eq!(m.attrs.len(), 1);
    assert_eq!(m.validations.len(), 2);
    let err = parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo", schema = "Disabled", attr = "serde(default)")] struct FooSpec {}"#)
        .unwrap_err();
    assert!(err.contains("unknown schema mode `Disabled`; did you mean `disabled`?"), "{err}");
    assert!(err.contains("`attr = \"serde(..)\"` is not allowed"), "{err}");
    let err =
        parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo", no_spec)] struct FooSpec { metadata: String }"#)
            .unwrap_err();
    assert!(err.contains("where `metadata` is already taken"), "{err}");
    let err =
        parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo", cel, schema = "manual")] struct FooSpec {}"#)
            .unwrap_err();
    assert!(err.contains("requires a derived schema"), "{err}");
}

#[test]
fn enum_specs_parse() {
    let m =
        parse(r#"#[kube(group = "a.io", version = "v1", kind = "Foo")] enum FooSpec { A { x: i32 }, B {} }"#).unwrap();
    assert_eq!((m.plural.as_str(), m.singular.as_str()), ("foos", "foo"));
}

#[test]
fn partial_model_keeps_what_parsed() {
    let input: DeriveInput = syn::parse_str(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo", namespacd, derive = "Default", status = "S")] struct FooSpec {}"#,
    )
    .unwrap();
    let (model, err) = parse_resource_partial(&input);
    assert!(err.unwrap().to_string().contains("did you mean `namespaced`"));
    let model = model.unwrap();
    assert!(model.derives_default() && model.status.is_some());
}

#[test]
fn spec_paths_follow_serde_names() {
    let ok = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                  printcolumn(name = "R", type = "string", json_path = ".spec.botRef.name"),
                  printcolumn(name = "T", type = "string", json_path = ".spec.type"),
                  selectable = ".spec.botRef")]
           #[serde(rename_all = "camelCase")]
           struct FooSpec { bot_ref: String, #[serde(rename = "type")] kind_: String }"#,
    );
    assert!(ok.is_ok(), "{ok:?}");
    let err = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo",
                  printcolumn(name = "R", type = "string", json_path = ".spec.bot_ref"))]
           #[serde(rename_all = "camelCase")]
           struct FooSpec { bot_ref: String }"#,
    )
    .unwrap()
    .warnings
    .iter()
    .map(|w| w.message.clone())
    .collect::<String>();
    assert!(err.contains("no serialized field `bot_ref`; did you mean `.spec.botRef`?"), "{err}");
}

#[test]
fn duplicate_keys_and_bad_root() {
    let err =
        parse(r#"#[kube(group = "a.io", group = "b.io", version = "v1", kind = "Foo", root = "1x")] struct FooSpec;"#)
            .unwrap_err();
    assert!(err.contains("`group` is given twice"), "{err}");
    assert!(err.contains("not a Rust identifier"), "{err}");
}

#[test]
fn scale_paths_and_methods() {
    let w = warnings(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo", status = "S",
                  scale(spec_replicas_path = ".status.r", status_replicas_path = ".spec.r"))]
           struct FooSpec { r: i32 }"#,
    );
    assert!(w.contains("must be under `.spec.`"), "{w}");
    assert!(w.contains("must be under `.status.`"), "{w}");
    let err = parse(
        r#"#[kube(group = "a.io", version = "v1", kind = "Foo")]
           #[genclient(method(name = "GetScale", verb = "get", subresource = "scale"))]
           struct FooSpec { r: i32 }"#,
    )
    .unwrap_err();
    assert!(err.contains("declares none"), "{err}");
}
