//! Helpers shared by the integration tests (`mod common;` in each file): an engine with every platform
//! configured and pointed at an in-process [`StandIn`], a rules file in a temporary directory, and signed
//! requests computed the way each platform computes them.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use bot_engine::reply::RetryPolicy;
use bot_engine::signature::{self, unix_seconds};
use bot_engine::standin::{Recorded, StandIn};
use bot_engine::{Config, ConfigBuilder, Engine, Platform};
use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::Value;

pub(crate) const LINE_SECRET: &str = "line-channel-secret-4f1c";
pub(crate) const LINE_TOKEN: &str = "line-channel-token-9a7e";
pub(crate) const SLACK_SECRET: &str = "slack-signing-secret-77d2";
pub(crate) const SLACK_TOKEN: &str = "xoxb-slack-bot-token-51b0";
pub(crate) const TELEGRAM_SECRET: &str = "telegram-secret-token-c3e8";
pub(crate) const TELEGRAM_TOKEN: &str = "123456:telegram-bot-token-0d9f";
pub(crate) const GENERIC_SECRET: &str = "generic-webhook-secret-62aa";
/// The Discord test key's seed (the public key is configured; the signing key signs test requests).
pub(crate) const DISCORD_SEED: [u8; 32] = [42; 32];

/// Every credential value, to check none leaks.
pub(crate) const SECRETS: [&str; 7] =
    [LINE_SECRET, LINE_TOKEN, SLACK_SECRET, SLACK_TOKEN, TELEGRAM_SECRET, TELEGRAM_TOKEN, GENERIC_SECRET];

/// The body limit of test engines (smaller than the default, to show it is configurable).
pub(crate) const BODY_LIMIT: usize = 64 * 1024;

/// The rules most tests use.
pub(crate) fn default_rules() -> String {
    rules_json(&[
        ("greet", r#"{"type":"message","keywords":["hello"]}"#, &["Hello from the bot!"]),
        ("order", r#"{"type":"message","pattern":"^order #[0-9]+$"}"#, &["Order received"]),
        ("welcome", r#"{"type":"follow"}"#, &["Thanks for following"]),
        ("group", r#"{"type":"join"}"#, &["Hi, group"]),
        ("buy", r#"{"type":"postback","keywords":["buy"]}"#, &["Bought"]),
    ])
}

/// A rules file: `(event, trigger JSON, replies)` per rule.
pub(crate) fn rules_json(rules: &[(&str, &str, &[&str])]) -> String {
    let rules: Vec<String> = rules
        .iter()
        .map(|(event, trigger, replies)| {
            let actions: Vec<String> = replies.iter().map(|r| serde_json::json!({ "reply": r }).to_string()).collect();
            format!(r#"{{"event":{event:?},"bindings":["b"],"trigger":{trigger},"actions":[{}]}}"#, actions.join(","))
        })
        .collect();
    format!(r#"{{"version":1,"rules":[{}]}}"#, rules.join(","))
}

/// The Discord signing key of the tests.
pub(crate) fn discord_key() -> SigningKey {
    SigningKey::from_bytes(&DISCORD_SEED)
}

/// A config with every platform's credentials, the stand-in as every reply API, fast retries and polling.
pub(crate) fn test_config(rules: PathBuf, standin: &str) -> ConfigBuilder {
    Config::builder()
        .bot_name("test-bot")
        .bind_address(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .port(0)
        .rules_path(rules)
        .body_limit(BODY_LIMIT)
        .line(LINE_SECRET, LINE_TOKEN)
        .slack(SLACK_SECRET, SLACK_TOKEN)
        .telegram(TELEGRAM_SECRET, TELEGRAM_TOKEN)
        .discord(discord_key().verifying_key())
        .generic(GENERIC_SECRET)
        .api_base(Platform::Line, standin)
        .api_base(Platform::Slack, &format!("{standin}/api"))
        .api_base(Platform::Telegram, standin)
        .retry(RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(3),
        })
        .http_timeout(Duration::from_secs(5))
        .rules_poll_interval(Duration::from_millis(200))
        .rules_debounce(Duration::from_millis(20))
        .shutdown_grace(Duration::from_secs(5))
}

/// An engine, its stand-in and its rules file.
pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) standin: StandIn,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) rules_path: PathBuf,
    pub(crate) client: reqwest::Client,
}

impl Harness {
    /// Writes `rules` (if given) and starts an engine configured by [`test_config`].
    pub(crate) async fn start(rules: Option<&str>) -> Harness {
        Self::start_with(rules, |c| c).await
    }

    /// Same, with `adjust` applied to the config.
    pub(crate) async fn start_with(
        rules: Option<&str>,
        adjust: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let rules_path = dir.path().join("rules.json");
        if let Some(rules) = rules {
            std::fs::write(&rules_path, rules).unwrap();
        }
        let standin = StandIn::start("127.0.0.1:0".parse().unwrap(), None).await.unwrap();
        let config = adjust(test_config(rules_path.clone(), &standin.url())).build();
        let engine = Engine::start(config).await.unwrap();
        Harness { engine, standin, dir, rules_path, client: reqwest::Client::new() }
    }

    /// `POST path` with `headers` and `body`; the status and body of the answer.
    pub(crate) async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<Vec<u8>>,
    ) -> (StatusCode, String) {
        let mut request = self.client.post(format!("{}{path}", self.engine.url())).body(body.into());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.client.get(format!("{}{path}", self.engine.url())).send().await.unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The metrics text.
    pub(crate) async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// The reply calls the stand-in received, waiting until there are `n` (at most 5 s).
    pub(crate) async fn replies(&self, n: usize) -> Vec<Recorded> {
        self.standin.wait_for(n, Duration::from_secs(5)).await
    }

    /// Checks that no reply call arrives within a short while.
    pub(crate) async fn assert_no_replies(&self) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(self.standin.requests(), [], "no reply expected");
    }

    /// A generic-webhook message, signed; the replies answered (the request must succeed).
    pub(crate) async fn ask(&self, text: &str) -> Vec<String> {
        match self.try_ask(text).await {
            Ok(replies) => replies,
            Err((status, answer)) => panic!("{status}: {answer}"),
        }
    }

    /// A generic-webhook message, signed; the replies, or the status and body of a failed request.
    pub(crate) async fn try_ask(&self, text: &str) -> Result<Vec<String>, (StatusCode, String)> {
        let body = serde_json::json!({"type": "message", "text": text}).to_string();
        let (status, answer) = self.post("/webhook/generic", &generic_headers(&body, &now()), body).await;
        if status != StatusCode::OK {
            return Err((status, answer));
        }
        let answer: Value = serde_json::from_str(&answer).unwrap();
        Ok(answer["replies"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect())
    }

    /// Stops the engine and the stand-in.
    pub(crate) async fn stop(self) {
        self.engine.shutdown().await.unwrap();
        self.standin.shutdown().await.unwrap();
    }
}

/// Now, in Unix seconds.
pub(crate) fn now() -> String {
    unix_seconds(SystemTime::now()).to_string()
}

/// `n` seconds ago, in Unix seconds.
pub(crate) fn ago(n: i64) -> String {
    (unix_seconds(SystemTime::now()) - n).to_string()
}

pub(crate) fn line_headers(body: &str) -> Vec<(&'static str, String)> {
    vec![("x-line-signature", signature::line_signature(LINE_SECRET, body.as_bytes()))]
}

pub(crate) fn slack_headers(body: &str, timestamp: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-slack-request-timestamp", timestamp.to_owned()),
        ("x-slack-signature", signature::slack_signature(SLACK_SECRET, timestamp, body.as_bytes())),
    ]
}

pub(crate) fn telegram_headers() -> Vec<(&'static str, String)> {
    vec![("x-telegram-bot-api-secret-token", TELEGRAM_SECRET.to_owned())]
}

pub(crate) fn discord_headers(key: &SigningKey, body: &str) -> Vec<(&'static str, String)> {
    let timestamp = now();
    vec![
        ("x-signature-ed25519", signature::discord_signature(key, &timestamp, body.as_bytes())),
        ("x-signature-timestamp", timestamp),
    ]
}

pub(crate) fn generic_headers(body: &str, timestamp: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-bot-timestamp", timestamp.to_owned()),
        ("x-bot-signature", signature::generic_signature(GENERIC_SECRET, timestamp, body.as_bytes())),
    ]
}

/// A LINE webhook body with the given events (JSON objects).
pub(crate) fn line_body(events: &[Value]) -> String {
    serde_json::json!({"destination": "U0", "events": events}).to_string()
}

/// A LINE text message event.
pub(crate) fn line_text(reply_token: &str, text: &str) -> Value {
    serde_json::json!({"type": "message", "replyToken": reply_token, "mode": "active",
        "source": {"type": "user", "userId": "U1"}, "message": {"id": "1", "type": "text", "text": text}})
}

/// A Slack `event_callback` body around `event`.
pub(crate) fn slack_callback(event: Value) -> String {
    serde_json::json!({"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
        "event": event, "event_id": "Ev1", "event_time": 1})
    .to_string()
}

/// A value of the `name{labels}` sample in metrics `text`, or 0.
pub(crate) fn metric(text: &str, sample: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(sample).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// A body of `n` bytes (valid JSON).
pub(crate) fn oversized(n: usize) -> String {
    format!(r#"{{"pad":"{}"}}"#, "x".repeat(n))
}
