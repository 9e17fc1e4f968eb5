//! Property-based tests of the generator's inputs: the `#[kube]` /
//! `#[genclient]` attribute parser over generated token streams (any input
//! gives a spanned error, never a panic), and the generator over arbitrary
//! Rust source text (an error, never a panic).
//!
//! `PROPTEST_CASES=N` sets the number of cases (default 256); `FUZZ_SECONDS=S`
//! runs for S seconds instead (docs/reliability.md has the 10-minute command).

use std::{
    fmt::Debug,
    time::{Duration, Instant},
};

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};

/// Runs `test` over `strategy` for `PROPTEST_CASES` cases, or for
/// `FUZZ_SECONDS` seconds when that is set; panics on the first failure
/// (a panic inside `test` is one), with proptest's shrunk input.
fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let deadline = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut total = 0u64;
    loop {
        let mut config = Config { failure_persistence: None, ..Config::default() };
        if deadline.is_some() {
            config.cases = 2000;
        }
        let cases = config.cases;
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        total += u64::from(cases);
        match deadline {
            Some(d) if Instant::now() < d => {}
            _ => break,
        }
    }
    eprintln!("{name}: {total} cases, no failure");
}

const KEYS: &[&str] = &[
    "group",
    "version",
    "kind",
    "namespaced",
    "status",
    "shortname",
    "shortnames",
    "category",
    "categories",
    "printcolumn",
    "selectable",
    "scale",
    "plural",
    "singular",
    "derive",
    "schema",
    "crates",
    "doc",
    "annotation",
    "label",
    "validation",
    "deprecated",
    "storage",
    "served",
    "root",
    "struct",
    "rule",
    "versoin",
    "kube_core",
    "k8s_openapi",
    "json_path",
    "name",
    "type",
    "description",
    "format",
    "priority",
    "spec_replicas_path",
    "status_replicas_path",
    "label_selector_path",
    "skip_verbs",
    "only_verbs",
    "readonly",
    "no_status",
    "non_namespaced",
    "method",
    "verb",
    "subresource",
    "input",
    "result",
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "delete_collection",
    "apply",
    "update_status",
    "apply_status",
    "self",
];

/// One value or nested list in an attribute, as source text.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9_.:/ -]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        proptest::sample::select(KEYS).prop_map(str::to_string),
        Just("\"\"".to_string()),
        Just("r#\"x\"#".to_string()),
        Just("1.5".to_string()),
        Just("'c'".to_string()),
        Just("b\"x\"".to_string()),
        Just("Foo::Bar".to_string()),
        Just("Option<String>".to_string()),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            (proptest::sample::select(KEYS), proptest::collection::vec(inner.clone(), 0..4))
                .prop_map(|(k, v)| format!("{k}({})", v.join(", "))),
            (proptest::sample::select(KEYS), inner.clone()).prop_map(|(k, v)| format!("{k} = {v}")),
            proptest::collection::vec(inner, 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
        ]
    })
}

/// One `key`, `key = value`, `key(...)` item, or some junk.
fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (proptest::sample::select(KEYS), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        2 => (proptest::sample::select(KEYS), proptest::collection::vec(value(), 0..4))
            .prop_map(|(k, v)| format!("{k}({})", v.join(", "))),
        2 => proptest::sample::select(KEYS).prop_map(str::to_string),
        1 => value(),
        1 => proptest::sample::select(&["=", ",", ",,", "= =", "::", "#", "()", "(", "{}", "@", "$x", "..", "?"][..])
            .prop_map(str::to_string),
    ]
}

fn attribute(name: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(item(), 0..8).prop_map(move |items| format!("#[{name}({})]", items.join(", ")))
}

/// Items the parser accepts, so that random mixes also reach its success
/// paths and the checks between keys (conflicts, duplicates).
const VALID: &[&str] = &[
    "namespaced",
    r#"shortname = "fo""#,
    r#"plural = "foos""#,
    r#"singular = "foo""#,
    r#"status = "FooStatus""#,
    r#"category = "all""#,
    r#"printcolumn(name = "A", type = "string", json_path = ".spec.a")"#,
    r#"selectable = ".spec.a""#,
    r#"label("a", "b")"#,
    r#"annotation("a", "b")"#,
    r#"derive = "PartialEq""#,
    r#"doc = "Foo""#,
    r#"deprecated = "old""#,
    "deprecated",
    r#"scale(spec_replicas_path = ".spec.replicas", status_replicas_path = ".status.replicas")"#,
    r#"validation = "self.a > 0""#,
];

/// A spec struct (or enum) with random `#[kube]` and `#[genclient]` attributes.
fn derive_input() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        3 => Just(r#"group = "example.com", version = "v1", kind = "Foo", "#.to_string()),
        1 => Just(String::new()),
    ];
    let items = prop_oneof![
        proptest::collection::vec(item(), 0..8),
        proptest::collection::vec(proptest::sample::select(VALID).prop_map(str::to_string), 0..6),
        (proptest::collection::vec(proptest::sample::select(VALID).prop_map(str::to_string), 0..5), item()).prop_map(
            |(mut v, i)| {
                v.push(i);
                v
            }
        ),
    ];
    let genclient = prop_oneof![
        attribute("genclient"),
        proptest::sample::select(
            &[
                "#[genclient(readonly)]",
                "#[genclient(no_status)]",
                "#[genclient(skip_verbs(delete_collection))]",
                "#[genclient(only_verbs(get, list, watch))]"
            ][..]
        )
        .prop_map(str::to_string),
    ];
    (
        base,
        items,
        proptest::option::weighted(0.5, genclient),
        proptest::option::weighted(0.2, attribute("kube")),
        proptest::sample::select(
            &[
                "struct FooSpec { a: i32 }",
                "struct FooSpec;",
                "enum FooSpec { A }",
                "struct FooSpec(u8);",
                "struct Spec<T> { t: T }",
            ][..],
        ),
    )
        .prop_map(|(base, items, genclient, extra, body)| {
            format!(
                "#[kube({base}{})] {} {} #[derive(Clone)] {body}",
                items.join(", "),
                genclient.unwrap_or_default(),
                extra.unwrap_or_default()
            )
        })
}

#[test]
fn any_attribute_tokens_give_a_spanned_error_never_a_panic() {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    let (not_rust, models, errors) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));
    check("attributes", derive_input(), |src| {
        let Ok(input) = syn::parse_str::<syn::DeriveInput>(&src) else {
            not_rust.fetch_add(1, Relaxed); // syn's error: the parser never sees it
            return Ok(());
        };
        match bot_gen::model::parse_resource(&input) {
            Ok(_) => {
                models.fetch_add(1, Relaxed);
            }
            Err(all) => {
                errors.fetch_add(1, Relaxed);
                for e in all {
                    let span = format!("{:?}", e.span());
                    prop_assert!(span != "bytes(0..0)", "error without a span: {e} in {src}");
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
        Ok(())
    });
    eprintln!(
        "attributes: {} models, {} spanned errors, {} inputs syn rejected",
        models.into_inner(),
        errors.into_inner(),
        not_rust.into_inner()
    );
}

/// Rust-ish source text: a CustomResource struct with random attributes,
/// token soup, or any text at all.
fn source() -> impl Strategy<Value = String> {
    let token = proptest::sample::select(
        &[
            "#[derive(CustomResource)]",
            "#[kube(group = \"g\", version = \"v1\", kind = \"K\")]",
            "struct",
            "enum",
            "KSpec",
            "{",
            "}",
            "(",
            ")",
            ";",
            "mod m",
            "pub",
            "fn",
            "impl",
            "use",
            "::",
            "i32",
            "String",
            ",",
            "#[genclient(readonly)]",
            "a:",
            "<",
            ">",
            "'a",
            "\"",
            "//",
            "/*",
            "*/",
            "r#\"",
            "\n",
            "=",
            "#",
            "#[derive(Clone, CustomResource, Debug)]",
            "#![allow(x)]",
        ][..],
    );
    prop_oneof![
        4 => derive_input().prop_map(|s| format!("use x::CustomResource;\n#[derive(CustomResource)]\n{s}\n")),
        2 => (derive_input(), derive_input())
            .prop_map(|(a, b)| format!("#[derive(CustomResource)]\n{a}\nmod inner {{\n#[derive(CustomResource)]\n{b}\n}}\n")),
        3 => proptest::collection::vec(token, 0..40).prop_map(|t| t.join(" ")),
        1 => any::<String>(),
    ]
}

/// Inputs the long runs found panicking, kept as regression cases.
#[test]
fn found_by_fuzzing() {
    for src in [
        // `parse_str::<Ident>` accepts trailing whitespace, `Ident::new` panics on it.
        r#"#[kube(group = "g", version = "v1", kind = "Foo", root = "_a ")] struct FooSpec { a: i32 }"#,
        r#"#[kube(group = "g", version = "v1", kind = "Foo", root = "r#type")] struct FooSpec { a: i32 }"#,
        r#"#[kube(group = "g", version = "v1", kind = "Foo ")] struct FooSpec { a: i32 }"#,
        r#"#[kube(group = "g", version = "v1", kind = "Foo")] #[genclient(method(name = "a b", verb = "get"))] struct FooSpec { a: i32 }"#,
        r#"#[kube(group = "g", version = "v1", kind = "Foo")] #[genclient(method(name = "", verb = "get"))] struct FooSpec { a: i32 }"#,
    ] {
        let input = syn::parse_str::<syn::DeriveInput>(src).expect("valid Rust");
        let errors = bot_gen::model::parse_resource(&input).expect_err(src);
        assert!(errors.into_iter().all(|e| format!("{:?}", e.span()) != "bytes(0..0)"), "{src}");
    }
}

#[test]
fn the_generator_on_arbitrary_source_errs_never_panics() {
    let dir = tempfile_dir();
    let path = dir.join("input.rs");
    let (rendered, failed) = (std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0));
    check("generator input", source(), |src| {
        std::fs::write(&path, &src).expect("write the input");
        // Ok or an error naming the file; never a panic.
        match bot_gen::Config::new().input_with_module(&path, "crate::fuzz").render() {
            Ok(_) => rendered.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            }
        };
        Ok(())
    });
    eprintln!("generator input: {} rendered, {} errors", rendered.into_inner(), failed.into_inner());
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bot-gen-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
