//! Property-based tests of the rules file reader (`Rules::from_json`): any
//! text is a value or an error, never a panic, and what it accepts
//! round-trips. `PROPTEST_CASES=N` sets the case count (default 256),
//! `FUZZ_SECONDS=S` runs for S seconds instead (docs/reliability.md).

use std::time::{Duration, Instant};

use bot_api::rules::{RULES_VERSION, Rules};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Map, Value, json};

fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
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
        if let Err(e) = TestRunner::new(config).run(&strategy, &test) {
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
    "version", "rules", "event", "bindings", "trigger", "type", "keywords", "pattern", "actions", "reply", "message",
    "postback", "follow", "join", "data", "text", "image", "url", "delay", "weight", "choices", "",
];

/// JSON built from the rules file's own vocabulary, nested, with odd leaves.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        Just(json!(RULES_VERSION)),
        proptest::sample::select(KEYS).prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        Just(Value::from("(?i)hel+o")),
        Just(Value::from("(unclosed")),
        Just(Value::from("a{1000}{1000}")),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// A well-formed file, then possibly a field replaced by anything.
fn rules_like() -> impl Strategy<Value = String> {
    let valid = json!({ "version": RULES_VERSION, "rules": [
        { "event": "hello", "bindings": ["b"], "trigger": { "type": "message", "keywords": ["hi"] },
          "actions": [{ "reply": "Hello" }] } ] });
    (
        json_value(),
        proptest::sample::select(&["version", "rules", "event", "trigger", "actions", "keywords", "type"][..]),
    )
        .prop_map(move |(v, key)| {
            let mut doc = valid.clone();
            match key {
                "version" | "rules" => doc[key] = v,
                "event" | "trigger" | "actions" => doc["rules"][0][key] = v,
                other => doc["rules"][0]["trigger"][other] = v,
            }
            doc.to_string()
        })
}

#[test]
fn any_text_is_rules_or_an_error() {
    let text = prop_oneof![
        3 => rules_like(),
        3 => json_value().prop_map(|v| v.to_string()),
        2 => any::<String>(),
        1 => rules_like().prop_flat_map(|s| { let n = s.len(); (Just(s), 0..=n) }).prop_map(|(s, mut cut)| {
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s[..cut].to_string()
        }),
    ];
    check("rules", text, |text| {
        if let Ok(rules) = Rules::from_json(&text) {
            prop_assert_eq!(rules.version, RULES_VERSION);
            let again = Rules::from_json(&rules.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, rules);
        }
        Ok(())
    });
}
