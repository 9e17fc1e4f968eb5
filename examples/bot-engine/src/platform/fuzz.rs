//! Property-based tests of everything the engine reads from outside:
//! webhook bodies of each platform (after the signature check, so any bytes
//! a signer sends) and the rules file. Each gives a value or an error, never
//! a panic. `PROPTEST_CASES=N` sets the case count (default 256),
//! `FUZZ_SECONDS=S` runs each for S seconds instead (docs/reliability.md).

use std::time::{Duration, Instant};

use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use serde_json::{Map, Value};

use crate::rules::{Inbound, RuleSet};

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

/// Field names of every platform's payloads and of the rules file.
const KEYS: &[&str] = &[
    // LINE
    "events",
    "type",
    "replyToken",
    "message",
    "text",
    "postback",
    "data",
    "source",
    "userId",
    // Slack
    "token",
    "challenge",
    "event",
    "channel",
    "user",
    "bot_id",
    "thread_ts",
    "ts",
    "subtype",
    "team_id",
    // Telegram
    "update_id",
    "callback_query",
    "id",
    "chat",
    "from",
    "is_bot",
    "edited_message",
    // Discord
    "application_id",
    "member",
    "name",
    "options",
    "value",
    "custom_id",
    "component_type",
    "guild_id",
    // generic
    "kind",
    "sender",
    // rules
    "version",
    "rules",
    "bindings",
    "trigger",
    "keywords",
    "pattern",
    "actions",
    "reply",
    "schedule",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        proptest::sample::select(KEYS).prop_map(Value::from),
        proptest::sample::select(
            &["message", "follow", "join", "postback", "url_verification", "event_callback", "app_mention"][..]
        )
        .prop_map(Value::from),
        (1..=5u64).prop_map(Value::from),
        ".{0,24}".prop_map(Value::from),
        Just(Value::from("(unclosed")),
        Just(Value::from("(?i)h(e|a)l+o")),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..7)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// Bodies: platform-shaped JSON, JSON truncated anywhere, or any bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => json_value().prop_map(|v| v.to_string().into_bytes()),
        2 => json_value().prop_flat_map(|v| { let s = v.to_string(); let n = s.len(); (Just(s), 0..=n) })
            .prop_map(|(s, cut)| s.as_bytes()[..cut].to_vec()),
        2 => proptest::collection::vec(any::<u8>(), 0..256),
        1 => any::<String>().prop_map(String::into_bytes),
    ]
}

#[test]
fn webhook_bodies_parse_or_fail_never_panic() {
    check("webhook bodies", body(), |body| {
        let _ = super::line::parse(&body);
        let _ = super::slack::parse(&body);
        let _ = super::telegram::parse(&body);
        let _ = super::discord::parse(&body);
        let _ = super::generic::parse(&body);
        Ok(())
    });
}

#[test]
fn rule_sets_parse_or_fail_and_answer_any_message() {
    let text = prop_oneof![
        3 => json_value().prop_map(|v| {
            // Mostly rules-shaped: a version and a list of rules.
            let rules = if v.is_array() { v } else { Value::Array(vec![v]) };
            serde_json::json!({ "version": 1, "rules": rules }).to_string()
        }),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ];
    check("rule sets", (text, ".{0,40}"), |(text, message)| {
        if let Ok(rules) = RuleSet::parse(&text) {
            let _ = rules.replies(&Inbound::message(message.clone()));
            let _ = rules.replies(&Inbound::postback(message));
            let _ = rules.replies(&Inbound::join());
            let _ = rules.replies(&Inbound::follow());
        }
        Ok(())
    });
}
