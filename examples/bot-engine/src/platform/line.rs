//! LINE Messaging API: `POST /webhook/line`.
//!
//! Verifies `X-Line-Signature`, answers 200 at once, and replies to each event through
//! `POST {base}/v2/bot/message/reply` with the event's reply token, in the background. Handled events: `message`
//! (text messages only), `follow`, `join`, `postback` (its `data`). A reply token takes at most five messages,
//! so replies beyond five are dropped with a warning. The console's "Verify" request (no events) is answered 200.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use serde_json::json;

use super::PayloadError;
use crate::Platform;
use crate::config::{LineCredentials, Secret};
use crate::reply::Outbound;
use crate::rules::Inbound;
use crate::server::{App, Refusal, header};
use crate::signature::{LINE_SIGNATURE, verify_line};

/// Messages one reply token takes.
pub(crate) const MAX_MESSAGES: usize = 5;

const PLATFORM: Platform = Platform::Line;

#[derive(Debug)]
pub(crate) struct Route {
    app: Arc<App>,
    credentials: LineCredentials,
    base: String,
}

pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    app: &Arc<App>,
    credentials: LineCredentials,
    base: &str,
) -> MethodRouter<S> {
    post(handle).with_state(Arc::new(Route { app: Arc::clone(app), credentials, base: base.to_owned() }))
}

#[derive(Deserialize)]
struct Webhook {
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    reply_token: Option<String>,
    message: Option<RawMessage>,
    postback: Option<RawPostback>,
}

#[derive(Deserialize)]
struct RawMessage {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct RawPostback {
    data: String,
}

/// An event the rules can answer, with the token to answer it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LineEvent {
    pub(crate) reply_token: String,
    pub(crate) inbound: Inbound,
}

/// The answerable events of a webhook body (others, e.g. `unfollow` or stickers, are skipped).
pub(crate) fn parse(body: &[u8]) -> Result<Vec<LineEvent>, PayloadError> {
    let webhook: Webhook = serde_json::from_slice(body)?;
    Ok(webhook
        .events
        .into_iter()
        .filter_map(|event| {
            let inbound = match event.kind.as_str() {
                "message" => match event.message {
                    Some(RawMessage { kind, text: Some(text) }) if kind == "text" => Inbound::message(text),
                    _ => return None,
                },
                "follow" => Inbound::follow(),
                "join" => Inbound::join(),
                "postback" => Inbound::postback(event.postback?.data),
                _ => return None,
            };
            Some(LineEvent { reply_token: event.reply_token?, inbound })
        })
        .collect())
}

/// The reply API call answering `reply_token` with (at most five of) `replies`.
pub(crate) fn reply_call(base: &str, token: &Secret, reply_token: &str, replies: &[String]) -> Outbound {
    let messages: Vec<_> =
        replies.iter().take(MAX_MESSAGES).map(|text| json!({"type": "text", "text": text})).collect();
    Outbound {
        platform: PLATFORM,
        endpoint: "line reply",
        url: Secret::new(format!("{base}/v2/bot/message/reply")),
        bearer: Some(token.clone()),
        body: json!({"replyToken": reply_token, "messages": messages}),
        require_ok_field: false,
    }
}

async fn handle(
    State(route): State<Arc<Route>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let app = &route.app;
    let body = app.body(PLATFORM, body)?;
    let signature = header(&headers, LINE_SIGNATURE);
    verify_line(route.credentials.channel_secret.expose(), signature, &body).map_err(|e| app.refuse(PLATFORM, e))?;
    let rules = app.current_rules(PLATFORM)?;
    let events = parse(&body).map_err(|e| app.bad_request(PLATFORM, e))?;
    let mut calls = Vec::new();
    for event in events {
        let replies = app.replies(PLATFORM, &rules, &event.inbound);
        if replies.is_empty() {
            continue;
        }
        if replies.len() > MAX_MESSAGES {
            tracing::warn!(replies = replies.len(), "a LINE reply takes {MAX_MESSAGES} messages; the rest are dropped");
        }
        calls.push(reply_call(&route.base, &route.credentials.channel_token, &event.reply_token, &replies));
    }
    app.processed(PLATFORM);
    app.spawn_calls(calls);
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_answerable_events() {
        let body = br#"{"destination":"U1","events":[
            {"type":"message","replyToken":"r1","message":{"type":"text","id":"1","text":"Hi"}},
            {"type":"message","replyToken":"r2","message":{"type":"sticker","id":"2"}},
            {"type":"follow","replyToken":"r3"},
            {"type":"join","replyToken":"r4"},
            {"type":"postback","replyToken":"r5","postback":{"data":"action=buy"}},
            {"type":"unfollow"},
            {"type":"message","mode":"standby","message":{"type":"text","id":"3","text":"no token"}}
        ]}"#;
        let events = parse(body).unwrap();
        let expected = [
            ("r1", Inbound::message("Hi")),
            ("r3", Inbound::follow()),
            ("r4", Inbound::join()),
            ("r5", Inbound::postback("action=buy")),
        ];
        assert_eq!(events.len(), expected.len());
        for (event, (token, inbound)) in events.iter().zip(expected) {
            assert_eq!((event.reply_token.as_str(), &event.inbound), (token, &inbound));
        }
        assert!(parse(br#"{"destination":"U1","events":[]}"#).unwrap().is_empty());
        assert!(parse(b"\"events\"").is_err());
        assert!(parse(b"{\"events\":{}}").is_err());
    }

    #[test]
    fn reply_call_takes_five_messages() {
        let replies: Vec<String> = (1..=7).map(|i| format!("m{i}")).collect();
        let call = reply_call("http://x", &Secret::new("tok"), "r1", &replies);
        assert_eq!(call.url.expose(), "http://x/v2/bot/message/reply");
        assert_eq!(call.body["replyToken"], "r1");
        assert_eq!(call.body["messages"].as_array().unwrap().len(), 5);
        assert_eq!(call.body["messages"][0], json!({"type": "text", "text": "m1"}));
        assert_eq!(call.bearer.unwrap().expose(), "tok");
    }
}
