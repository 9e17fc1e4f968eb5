//! Each platform's webhook end to end: an engine on a local port, requests signed as the platform signs them,
//! replies arriving at the in-process stand-in of the platform's API (or in the response), and refusals.

mod common;

use common::*;
use ed25519_dalek::SigningKey;
use reqwest::StatusCode;
use serde_json::{Value, json};

// ---------------------------------------------------------------- LINE

#[tokio::test]
async fn line_signed_message_is_replied_through_the_reply_api() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = line_body(&[line_text("rt-1", "well HELLO there")]);
    let (status, _) = h.post("/webhook/line", &line_headers(&body), body).await;
    assert_eq!(status, StatusCode::OK);
    let calls = h.replies(1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].method, "POST");
    assert_eq!(calls[0].path, "/v2/bot/message/reply");
    assert!(calls[0].authorization);
    assert_eq!(calls[0].status, 200);
    assert_eq!(
        calls[0].body,
        json!({"replyToken": "rt-1", "messages": [{"type": "text", "text": "Hello from the bot!"}]})
    );
    h.stop().await;
}

#[tokio::test]
async fn line_follow_join_postback_and_unmatched_events() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = line_body(&[
        json!({"type": "follow", "replyToken": "rt-follow"}),
        json!({"type": "join", "replyToken": "rt-join"}),
        json!({"type": "postback", "replyToken": "rt-postback", "postback": {"data": "action=buy&item=7"}}),
        line_text("rt-nothing", "good day"),
        json!({"type": "unfollow"}),
    ]);
    let (status, _) = h.post("/webhook/line", &line_headers(&body), body).await;
    assert_eq!(status, StatusCode::OK);
    let mut calls: Vec<(String, String)> = h
        .replies(3)
        .await
        .iter()
        .map(|c| {
            (c.body["replyToken"].as_str().unwrap().into(), c.body["messages"][0]["text"].as_str().unwrap().into())
        })
        .collect();
    calls.sort();
    assert_eq!(
        calls,
        [
            ("rt-follow".to_owned(), "Thanks for following".to_owned()),
            ("rt-join".to_owned(), "Hi, group".to_owned()),
            ("rt-postback".to_owned(), "Bought".to_owned()),
        ]
    );
    // The unmatched message got no reply.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(h.standin.requests().len(), 3);
    h.stop().await;
}

#[tokio::test]
async fn line_unsigned_tampered_and_wrongly_signed_requests_are_refused() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = line_body(&[line_text("rt-1", "hello")]);
    let (status, _) = h.post("/webhook/line", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
    let tampered = body.replace("hello", "hellO");
    let (status, _) = h.post("/webhook/line", &line_headers(&body), tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered");
    let wrong = vec![("x-line-signature", bot_engine::signature::line_signature("not-the-secret", body.as_bytes()))];
    let (status, _) = h.post("/webhook/line", &wrong, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "other secret");
    let (status, _) = h.post("/webhook/line", &[("x-line-signature", "not base64!".into())], body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "malformed");
    h.assert_no_replies().await;
    let metrics = h.metrics().await;
    assert_eq!(metric(&metrics, r#"bot_engine_signature_failures_total{platform="line"}"#), 4);
    assert_eq!(metric(&metrics, r#"bot_engine_requests_total{platform="line",result="unauthorized"}"#), 4);
    assert_eq!(metric(&metrics, r#"bot_engine_rule_matches_total{event="greet"}"#), 0, "nothing was processed");
    h.stop().await;
}

#[tokio::test]
async fn line_console_verification_with_no_events_is_answered() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = line_body(&[]);
    let (status, _) = h.post("/webhook/line", &line_headers(&body), body).await;
    assert_eq!(status, StatusCode::OK);
    h.assert_no_replies().await;
    h.stop().await;
}

// ---------------------------------------------------------------- Slack

#[tokio::test]
async fn slack_url_verification_answers_the_challenge() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification"})
    .to_string();
    let (status, answer) = h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer, json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}));
    h.stop().await;
}

#[tokio::test]
async fn slack_signed_message_is_posted_in_its_thread() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = slack_callback(json!({"type": "message", "channel": "C42", "user": "U1", "text": "order #12",
        "ts": "1700000000.000200", "thread_ts": "1700000000.000100"}));
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::OK);
    let calls = h.replies(1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/api/chat.postMessage");
    assert!(calls[0].authorization);
    assert_eq!(calls[0].body, json!({"channel": "C42", "text": "Order received", "thread_ts": "1700000000.000100"}));
    h.stop().await;
}

#[tokio::test]
async fn slack_app_mention_is_matched_without_the_mention() {
    let h =
        Harness::start(Some(&rules_json(&[("help", r#"{"type":"message","pattern":"^help$"}"#, &["Ask me"])]))).await;
    let body = slack_callback(json!({"type": "app_mention", "channel": "C1", "user": "U1", "text": "<@U0BOT> help"}));
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::OK);
    let calls = h.replies(1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].body, json!({"channel": "C1", "text": "Ask me"}));
    h.stop().await;
}

#[tokio::test]
async fn slack_ignores_its_own_and_edited_messages() {
    let h = Harness::start(Some(&default_rules())).await;
    for event in [
        json!({"type": "message", "channel": "C1", "bot_id": "B1", "text": "Hello from the bot!"}),
        json!({"type": "message", "subtype": "message_changed", "channel": "C1", "text": "hello"}),
    ] {
        let body = slack_callback(event);
        let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &now()), body).await;
        assert_eq!(status, StatusCode::OK);
    }
    h.assert_no_replies().await;
    h.stop().await;
}

#[tokio::test]
async fn slack_unsigned_tampered_and_replayed_requests_are_refused() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = slack_callback(json!({"type": "message", "channel": "C1", "user": "U1", "text": "hello"}));
    let (status, _) = h.post("/webhook/slack", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
    let tampered = body.replace("C1", "C2");
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &now()), tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered");
    // A genuine signature of an old request: replayed six minutes later.
    let old = ago(6 * 60);
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &old), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    // The signature is bound to its timestamp: a fresh timestamp with the old signature fails too.
    let mut moved = slack_headers(&body, &old);
    moved[0].1 = now();
    let (status, _) = h.post("/webhook/slack", &moved, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "timestamp changed");
    // Four minutes old is within the window.
    let (status, _) = h.post("/webhook/slack", &slack_headers(&body, &ago(4 * 60)), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.replies(1).await.len(), 1);
    let metrics = h.metrics().await;
    assert_eq!(metric(&metrics, r#"bot_engine_signature_failures_total{platform="slack"}"#), 4);
    h.stop().await;
}

#[tokio::test]
async fn slack_redelivery_after_a_timeout_is_not_answered_twice() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = slack_callback(json!({"type": "message", "channel": "C1", "user": "U1", "text": "hello"}));
    let mut headers = slack_headers(&body, &now());
    headers.push(("x-slack-retry-num", "1".into()));
    headers.push(("x-slack-retry-reason", "http_timeout".into()));
    let (status, _) = h.post("/webhook/slack", &headers, body).await;
    assert_eq!(status, StatusCode::OK);
    h.assert_no_replies().await;
    h.stop().await;
}

// ---------------------------------------------------------------- Telegram

#[tokio::test]
async fn telegram_message_is_replied_with_send_message() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"update_id": 1, "message": {"message_id": 5, "chat": {"id": 4242, "type": "private"},
        "from": {"id": 7, "is_bot": false, "first_name": "A"}, "date": 1, "text": "Hello bot"}})
    .to_string();
    let (status, _) = h.post("/webhook/telegram", &telegram_headers(), body).await;
    assert_eq!(status, StatusCode::OK);
    let calls = h.replies(1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/bot***/sendMessage", "the stand-in redacts the token");
    assert_eq!(calls[0].status, 200);
    assert_eq!(calls[0].body, json!({"chat_id": 4242, "text": "Hello from the bot!"}));
    h.stop().await;
}

#[tokio::test]
async fn telegram_start_join_and_callback_query() {
    let h = Harness::start(Some(&default_rules())).await;
    let updates = [
        json!({"update_id": 2, "message": {"chat": {"id": 1}, "text": "/start"}}),
        json!({"update_id": 3, "message": {"chat": {"id": -100}, "new_chat_members": [{"id": 9, "is_bot": true}]}}),
    ];
    for (i, update) in updates.iter().enumerate() {
        let (status, _) = h.post("/webhook/telegram", &telegram_headers(), update.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        h.replies(i + 1).await;
    }
    let query = json!({"update_id": 4, "callback_query": {"id": "cq-1", "from": {"id": 7},
        "message": {"message_id": 3, "chat": {"id": 55}}, "data": "buy:7"}});
    let (status, _) = h.post("/webhook/telegram", &telegram_headers(), query.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    let calls = h.replies(4).await;
    let seen: Vec<(&str, &Value)> = calls.iter().map(|c| (c.path.as_str(), &c.body)).collect();
    assert_eq!(
        seen,
        [
            ("/bot***/sendMessage", &json!({"chat_id": 1, "text": "Thanks for following"})),
            ("/bot***/sendMessage", &json!({"chat_id": -100, "text": "Hi, group"})),
            ("/bot***/answerCallbackQuery", &json!({"callback_query_id": "cq-1"})),
            ("/bot***/sendMessage", &json!({"chat_id": 55, "text": "Bought"})),
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn telegram_missing_or_wrong_secret_token_is_refused() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"update_id": 1, "message": {"chat": {"id": 1}, "text": "hello"}}).to_string();
    let (status, _) = h.post("/webhook/telegram", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "missing");
    let wrong = [("x-telegram-bot-api-secret-token", format!("{TELEGRAM_SECRET}x"))];
    let (status, _) = h.post("/webhook/telegram", &wrong, body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "wrong");
    let (status, _) = h.post("/webhook/telegram", &[("x-telegram-bot-api-secret-token", "".into())], body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "empty");
    h.assert_no_replies().await;
    assert_eq!(metric(&h.metrics().await, r#"bot_engine_signature_failures_total{platform="telegram"}"#), 3);
    h.stop().await;
}

// ---------------------------------------------------------------- Discord

#[tokio::test]
async fn discord_ping_is_answered_with_pong() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"id": "1", "application_id": "2", "type": 1, "token": "t", "version": 1}).to_string();
    let (status, answer) = h.post("/webhook/discord", &discord_headers(&discord_key(), &body), body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap(), json!({"type": 1}));
    h.stop().await;
}

#[tokio::test]
async fn discord_command_and_component_are_answered_in_the_response() {
    let h = Harness::start(Some(&default_rules())).await;
    let command = json!({"type": 2, "id": "1", "token": "t", "data": {"id": "c", "name": "order",
        "options": [{"name": "number", "type": 3, "value": "#31"}]}})
    .to_string();
    let (status, answer) = h.post("/webhook/discord", &discord_headers(&discord_key(), &command), command).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap(),
        json!({"type": 4, "data": {"content": "Order received"}})
    );

    let component =
        json!({"type": 3, "id": "2", "token": "t", "data": {"custom_id": "buy-7", "component_type": 2}}).to_string();
    let (status, answer) = h.post("/webhook/discord", &discord_headers(&discord_key(), &component), component).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap(), json!({"type": 4, "data": {"content": "Bought"}}));

    let unmatched = json!({"type": 2, "id": "3", "token": "t", "data": {"name": "weather"}}).to_string();
    let (_, answer) = h.post("/webhook/discord", &discord_headers(&discord_key(), &unmatched), unmatched).await;
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["type"], 4);
    assert_eq!(answer["data"]["flags"], 64, "ephemeral: {answer}");
    h.assert_no_replies().await;
    h.stop().await;
}

#[tokio::test]
async fn discord_unsigned_tampered_and_foreign_signatures_are_refused() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"type": 1, "id": "1", "token": "t"}).to_string();
    let (status, _) = h.post("/webhook/discord", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
    let headers = discord_headers(&discord_key(), &body);
    let (status, _) = h.post("/webhook/discord", &headers, body.replace("\"1\"", "\"2\"")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered");
    let stranger = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let (status, _) = h.post("/webhook/discord", &discord_headers(&stranger, &body), body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another key");
    assert_eq!(metric(&h.metrics().await, r#"bot_engine_signature_failures_total{platform="discord"}"#), 3);
    h.stop().await;
}

// ---------------------------------------------------------------- generic webhook

#[tokio::test]
async fn generic_webhook_answers_in_the_response_body() {
    let h = Harness::start(Some(&default_rules())).await;
    assert_eq!(h.ask("HELLO").await, ["Hello from the bot!"]);
    assert_eq!(h.ask("no rule for this").await, Vec::<String>::new());
    let body = json!({"type": "postback", "data": "buy"}).to_string();
    let (status, answer) = h.post("/webhook/generic", &generic_headers(&body, &now()), body).await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, r#"{"replies":["Bought"]}"#));
    let body = json!({"type": "schedule"}).to_string();
    let (status, _) = h.post("/webhook/generic", &generic_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    h.stop().await;
}

#[tokio::test]
async fn generic_unsigned_tampered_and_replayed_requests_are_refused() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = json!({"type": "message", "text": "hello"}).to_string();
    let (status, _) = h.post("/webhook/generic", &[], body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unsigned");
    let (status, _) = h.post("/webhook/generic", &generic_headers(&body, &now()), body.replace("hello", "HELLO")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "tampered");
    let (status, _) = h.post("/webhook/generic", &generic_headers(&body, &ago(301)), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "replayed");
    let (status, _) = h.post("/webhook/generic", &generic_headers(&body, &ago(-600)), body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "from the future");
    let mut no_prefix = generic_headers(&body, &now());
    no_prefix[1].1 = no_prefix[1].1.trim_start_matches("sha256=").to_owned();
    let (status, _) = h.post("/webhook/generic", &no_prefix, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no sha256= prefix");
    assert_eq!(metric(&h.metrics().await, r#"bot_engine_signature_failures_total{platform="generic"}"#), 5);
    h.stop().await;
}

// ---------------------------------------------------------------- every platform

#[tokio::test]
async fn oversized_bodies_are_refused_with_413_on_every_route() {
    let h = Harness::start(Some(&default_rules())).await;
    let body = oversized(BODY_LIMIT + 1);
    for platform in bot_engine::Platform::ALL {
        let (status, _) = h.post(platform.route(), &[], body.clone()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{platform:?}");
    }
    // Just under the limit is read (and then refused for its signature).
    let (status, _) = h.post("/webhook/line", &[], oversized(BODY_LIMIT - 100)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let metrics = h.metrics().await;
    for platform in ["line", "slack", "telegram", "discord", "generic"] {
        let sample = format!(r#"bot_engine_requests_total{{platform="{platform}",result="too_large"}}"#);
        assert_eq!(metric(&metrics, &sample), 1, "{sample}");
    }
    h.assert_no_replies().await;
    h.stop().await;
}

#[tokio::test]
async fn routes_without_credentials_answer_404() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(&rules, default_rules()).unwrap();
    let config = bot_engine::Config::builder()
        .bind_address("127.0.0.1".parse().unwrap())
        .port(0)
        .rules_path(&rules)
        .line(LINE_SECRET, LINE_TOKEN)
        .build();
    let engine = bot_engine::Engine::start(config).await.unwrap();
    let client = reqwest::Client::new();
    for platform in bot_engine::Platform::ALL {
        let status =
            client.post(format!("{}{}", engine.url(), platform.route())).body("{}").send().await.unwrap().status();
        let expected =
            if platform == bot_engine::Platform::Line { StatusCode::UNAUTHORIZED } else { StatusCode::NOT_FOUND };
        assert_eq!(status, expected, "{platform:?}");
    }
    engine.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    // No rules file yet: alive, not ready, webhooks answered 503.
    let h = Harness::start(None).await;
    assert_eq!(h.get("/healthz").await.0, StatusCode::OK);
    assert_eq!(h.get("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    let body = json!({"type": "message", "text": "hello"}).to_string();
    let (status, _) = h.post("/webhook/generic", &generic_headers(&body, &now()), body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    std::fs::write(&h.rules_path, default_rules()).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while h.get("/readyz").await.0 != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(h.ask("hello").await, ["Hello from the bot!"]);
    let body = line_body(&[line_text("rt", "hello")]);
    h.post("/webhook/line", &line_headers(&body), body).await;
    h.replies(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let response = h.client.get(format!("{}/metrics", h.engine.url())).send().await.unwrap();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    for (sample, value) in [
        (r#"bot_engine_requests_total{platform="generic",result="unavailable"}"#, 1),
        (r#"bot_engine_requests_total{platform="generic",result="ok"}"#, 1),
        (r#"bot_engine_requests_total{platform="line",result="ok"}"#, 1),
        (r#"bot_engine_replies_total{platform="line",result="ok"}"#, 1),
        (r#"bot_engine_replies_total{platform="generic",result="ok"}"#, 1),
        (r#"bot_engine_rule_matches_total{event="greet"}"#, 2),
        (r#"bot_engine_rules_reloads_total{result="ok"}"#, 1),
        ("bot_engine_rules", 5),
    ] {
        assert_eq!(metric(&text, sample), value, "{sample} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    h.stop().await;
}
