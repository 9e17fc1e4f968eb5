//! Reply delivery: retries on 429, 5xx and connection errors with backoff and `Retry-After`, bounded attempts,
//! no retry on other 4xx or on Slack's `"ok": false`.

mod common;

use std::time::{Duration, Instant};

use bot_engine::Platform;
use bot_engine::standin::Scripted;
use common::*;
use reqwest::StatusCode;
use serde_json::json;

/// Sends a LINE message that one rule answers.
async fn line_hello(h: &Harness) {
    let body = line_body(&[line_text("rt-1", "hello")]);
    let (status, _) = h.post("/webhook/line", &line_headers(&body), body).await;
    assert_eq!(status, StatusCode::OK);
}

/// Waits until the metrics show `sample` at `value` (at most 5 s).
async fn await_metric(h: &Harness, sample: &str, value: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = h.metrics().await;
        if metric(&text, sample) == value {
            return text;
        }
        assert!(Instant::now() < deadline, "{sample} never reached {value}:\n{text}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn too_many_requests_then_ok_delivers_the_reply_once() {
    let h = Harness::start(Some(&default_rules())).await;
    h.standin.script([Scripted::status(429)]);
    line_hello(&h).await;
    let calls = h.replies(2).await;
    let statuses: Vec<u16> = calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(calls[0].body, calls[1].body, "the same reply, retried");
    let metrics = await_metric(&h, r#"bot_engine_replies_total{platform="line",result="ok"}"#, 1).await;
    assert_eq!(metric(&metrics, r#"bot_engine_reply_retries_total{platform="line"}"#), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.standin.requests().len(), 2, "delivered once, not again");
    h.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let h = Harness::start(Some(&default_rules())).await;
    h.standin.script([Scripted::status(429).retry_after(1)]);
    let started = Instant::now();
    line_hello(&h).await;
    let calls = h.replies(2).await;
    assert_eq!(calls.len(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "retried after {:?}", started.elapsed());
    assert_eq!(calls[1].status, 200);
    h.stop().await;
}

#[tokio::test]
async fn retry_after_beyond_the_longest_wait_ends_the_retries() {
    let h = Harness::start(Some(&default_rules())).await;
    h.standin.script([Scripted::status(429).retry_after(600)]);
    line_hello(&h).await;
    await_metric(&h, r#"bot_engine_replies_total{platform="line",result="failed"}"#, 1).await;
    assert_eq!(h.standin.requests().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_attempt_limit() {
    let h = Harness::start(Some(&default_rules())).await;
    h.standin.script([503, 500, 502, 503, 504, 503].map(Scripted::status));
    line_hello(&h).await;
    let metrics = await_metric(&h, r#"bot_engine_replies_total{platform="line",result="failed"}"#, 1).await;
    assert_eq!(metric(&metrics, r#"bot_engine_reply_retries_total{platform="line"}"#), 4);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let statuses: Vec<u16> = h.standin.requests().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 500, 502, 503, 504], "five attempts in all");
    h.stop().await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let h = Harness::start(Some(&default_rules())).await;
    h.standin.script([Scripted::status(400)]);
    line_hello(&h).await;
    let metrics = await_metric(&h, r#"bot_engine_replies_total{platform="line",result="failed"}"#, 1).await;
    assert_eq!(metric(&metrics, r#"bot_engine_reply_retries_total{platform="line"}"#), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.standin.requests().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn slack_ok_false_is_a_failure_and_not_retried() {
    let h = Harness::start(Some(&default_rules())).await;
    // A 200 whose body lacks "ok": true, as Slack answers e.g. channel_not_found.
    h.standin.script([Scripted::status(200)]);
    let body = slack_callback(json!({"type": "message", "channel": "C1", "user": "U1", "text": "hello"}));
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::OK);
    await_metric(&h, r#"bot_engine_replies_total{platform="slack",result="failed"}"#, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.standin.requests().len(), 1);
    h.stop().await;
}

#[tokio::test]
async fn connection_errors_are_retried_then_given_up() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let h =
        Harness::start_with(Some(&default_rules()), |c| c.api_base(Platform::Telegram, &format!("http://{closed}")))
            .await;
    let body = json!({"update_id": 1, "message": {"chat": {"id": 1}, "text": "hello"}}).to_string();
    let (status, _) = h.post("/webhook/telegram", &telegram_headers(), body).await;
    assert_eq!(status, StatusCode::OK, "acknowledged before the reply is attempted");
    let metrics = await_metric(&h, r#"bot_engine_replies_total{platform="telegram",result="failed"}"#, 1).await;
    assert_eq!(metric(&metrics, r#"bot_engine_reply_retries_total{platform="telegram"}"#), 4);
    h.stop().await;
}

#[tokio::test]
async fn replies_beyond_the_pending_limit_are_dropped_not_queued() {
    let h = Harness::start_with(Some(&default_rules()), |c| c.max_pending_replies(1)).await;
    // The first reply waits 2 s for its retry: its slot stays taken meanwhile.
    h.standin.script([Scripted::status(503).retry_after(2)]);
    line_hello(&h).await;
    assert_eq!(h.replies(1).await.len(), 1);
    // A second webhook is still acknowledged (LINE needs its 200), but its reply is not queued behind.
    line_hello(&h).await;
    let metrics = await_metric(&h, r#"bot_engine_replies_total{platform="line",result="dropped"}"#, 1).await;
    assert_eq!(metric(&metrics, r#"bot_engine_requests_total{platform="line",result="ok"}"#), 2);
    // The first reply goes through after its wait, which frees the slot for the next webhook.
    await_metric(&h, r#"bot_engine_replies_total{platform="line",result="ok"}"#, 1).await;
    line_hello(&h).await;
    await_metric(&h, r#"bot_engine_replies_total{platform="line",result="ok"}"#, 2).await;
    let statuses: Vec<u16> = h.standin.requests().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [503, 200, 200], "the dropped reply was never sent");
    h.stop().await;
}
