//! Credentials never reach the logs: every platform exercised at debug level (accepted, refused, replies
//! failing and retried, with Telegram's token in the reply URL), the whole log captured and searched.
//! Its own test binary, since it installs the global log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bot_engine::Platform;
use bot_engine::standin::Scripted;
use common::*;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_logs_or_debug_output() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let h = Harness::start_with(Some(&default_rules()), |c| {
        c.api_base(Platform::Telegram, &format!("http://{closed}")).log_level(bot_api::v1alpha1::LogLevel::Debug)
    })
    .await;
    let config = test_config(h.rules_path.clone(), "http://127.0.0.1:1").build();
    let debug = format!("{config:?}");

    // LINE: refused, then accepted with the reply API failing once (retried) and once permanently.
    let body = line_body(&[line_text("rt-1", "hello")]);
    h.post("/webhook/line", &[("x-line-signature", "AAAA".into())], body.clone()).await;
    h.standin.script([Scripted::status(503), Scripted::status(200)]);
    h.post("/webhook/line", &line_headers(&body), body.clone()).await;
    h.replies(2).await;
    h.standin.script([Scripted::status(401)]);
    h.post("/webhook/line", &line_headers(&body), body).await;
    h.replies(3).await;
    // Slack: refused, replayed, accepted.
    let body = slack_callback(json!({"type": "message", "channel": "C1", "user": "U1", "text": "hello"}));
    h.post("/webhook/slack", &slack_headers(&body, &ago(3600)), body.clone()).await;
    h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
    h.replies(4).await;
    // Telegram: wrong token, then accepted with the reply going to a closed port (token in the URL).
    let body = json!({"update_id": 1, "message": {"chat": {"id": 1}, "text": "hello"}}).to_string();
    h.post("/webhook/telegram", &[("x-telegram-bot-api-secret-token", "nope".into())], body.clone()).await;
    h.post("/webhook/telegram", &telegram_headers(), body).await;
    // Discord and generic.
    let body = json!({"type": 2, "data": {"name": "hello"}}).to_string();
    h.post("/webhook/discord", &discord_headers(&discord_key(), &body), body).await;
    h.ask("hello").await;
    h.post("/webhook/generic", &generic_headers("{}", &ago(9999)), "{}").await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while metric(&h.metrics().await, r#"bot_engine_replies_total{platform="telegram",result="failed"}"#) != 1 {
        assert!(tokio::time::Instant::now() < deadline, "telegram reply never given up");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    h.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    // The capture works and covers the paths that handle credentials.
    for expected in
        ["bot engine serving", "webhook refused", "retrying reply", "reply not delivered", "telegram sendMessage"]
    {
        assert!(logs.contains(expected), "{expected:?} not logged:\n{logs}");
    }
    for secret in SECRETS {
        assert!(!logs.contains(secret), "{secret} in the logs:\n{logs}");
        assert!(!debug.contains(secret), "{secret} in Debug of the config: {debug}");
    }
    // The Telegram token's distinctive part alone, in case the URL was logged partly encoded.
    assert!(!logs.contains("telegram-bot-token"), "{logs}");
}
