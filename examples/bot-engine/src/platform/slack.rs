//! Slack Events API: `POST /webhook/slack`.
//!
//! Verifies `X-Slack-Signature` over `v0:{X-Slack-Request-Timestamp}:{body}` and refuses timestamps more than
//! five minutes from now. `url_verification` is answered with its challenge. `event_callback` events of type
//! `message` (without `bot_id` or `subtype`, so the bot never answers itself or edits and joins) and
//! `app_mention` (with the `<@U…>` mentions removed from the text) are matched as messages; the request is
//! answered 200 at once and each reply is posted with `POST {base}/chat.postMessage` (in the event's thread when
//! it has a `thread_ts`) in the background. Subscribe to one of `message.*` and `app_mention`, not both, or a
//! mention in a channel is answered twice.
//!
//! A redelivery Slack makes because the first delivery timed out (`X-Slack-Retry-Reason: http_timeout`) is
//! acknowledged without processing: the first delivery is most likely being answered already. Other
//! redeliveries (after an error answer) are processed.
//!
//! Slack interactivity (buttons: form-encoded `block_actions` payloads) is not handled, so `postback` rules do
//! not fire on Slack.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
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
use crate::config::{Secret, SlackCredentials};
use crate::reply::Outbound;
use crate::rules::Inbound;
use crate::server::{App, Refusal, header};
use crate::signature::{SLACK_SIGNATURE, SLACK_TIMESTAMP, verify_slack};

const PLATFORM: Platform = Platform::Slack;

#[derive(Debug)]
pub(crate) struct Route {
    app: Arc<App>,
    credentials: SlackCredentials,
    base: String,
}

pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    app: &Arc<App>,
    credentials: SlackCredentials,
    base: &str,
) -> MethodRouter<S> {
    post(handle).with_state(Arc::new(Route { app: Arc::clone(app), credentials, base: base.to_owned() }))
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Envelope {
    #[serde(rename = "url_verification")]
    UrlVerification { challenge: String },
    #[serde(rename = "event_callback")]
    EventCallback { event: RawEvent },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    channel: Option<String>,
    text: Option<String>,
    bot_id: Option<String>,
    subtype: Option<String>,
    thread_ts: Option<String>,
}

/// What a Slack request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// `url_verification`: echo the challenge.
    Challenge(String),
    /// A message to match, and where to answer.
    Message { channel: String, thread_ts: Option<String>, inbound: Inbound },
    /// Nothing to answer (other event types, the bot's own messages, edits...).
    Ignored,
}

/// Reads a request body.
pub(crate) fn parse(body: &[u8]) -> Result<Payload, PayloadError> {
    let event = match serde_json::from_slice(body)? {
        Envelope::UrlVerification { challenge } => return Ok(Payload::Challenge(challenge)),
        Envelope::EventCallback { event } => event,
        Envelope::Other => return Ok(Payload::Ignored),
    };
    let text = match event.kind.as_str() {
        "message" if event.bot_id.is_none() && event.subtype.is_none() => event.text.unwrap_or_default(),
        "app_mention" => strip_mentions(&event.text.unwrap_or_default()),
        _ => return Ok(Payload::Ignored),
    };
    let Some(channel) = event.channel else {
        return Ok(Payload::Ignored);
    };
    Ok(Payload::Message { channel, thread_ts: event.thread_ts, inbound: Inbound::message(text) })
}

/// `text` without `<@U123>` mentions, trimmed.
fn strip_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => rest = &rest[start + end + 1..],
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `chat.postMessage` call posting `text`.
pub(crate) fn post_call(base: &str, token: &Secret, channel: &str, thread_ts: Option<&str>, text: &str) -> Outbound {
    let mut body = json!({"channel": channel, "text": text});
    if let Some(ts) = thread_ts {
        body["thread_ts"] = json!(ts);
    }
    Outbound {
        platform: PLATFORM,
        endpoint: "slack chat.postMessage",
        url: Secret::new(format!("{base}/chat.postMessage")),
        bearer: Some(token.clone()),
        body,
        require_ok_field: true,
    }
}

async fn handle(
    State(route): State<Arc<Route>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let app = &route.app;
    let body = app.body(PLATFORM, body)?;
    let timestamp = header(&headers, SLACK_TIMESTAMP);
    let signature = header(&headers, SLACK_SIGNATURE);
    let secret = route.credentials.signing_secret.expose();
    verify_slack(secret, timestamp, signature, &body, SystemTime::now(), app.replay_window)
        .map_err(|e| app.refuse(PLATFORM, e))?;
    if header(&headers, "x-slack-retry-reason") == Some("http_timeout") {
        tracing::debug!("Slack redelivery after a timeout: acknowledged, not processed again");
        app.processed(PLATFORM);
        return Ok(StatusCode::OK.into_response());
    }
    let (channel, thread_ts, inbound) = match parse(&body).map_err(|e| app.bad_request(PLATFORM, e))? {
        Payload::Challenge(challenge) => {
            app.processed(PLATFORM);
            return Ok(Json(json!({"challenge": challenge})).into_response());
        }
        Payload::Ignored => {
            app.processed(PLATFORM);
            return Ok(StatusCode::OK.into_response());
        }
        Payload::Message { channel, thread_ts, inbound } => (channel, thread_ts, inbound),
    };
    let rules = app.current_rules(PLATFORM)?;
    let calls = app
        .replies(PLATFORM, &rules, &inbound)
        .iter()
        .map(|text| post_call(&route.base, &route.credentials.bot_token, &channel, thread_ts.as_deref(), text))
        .collect();
    app.processed(PLATFORM);
    app.spawn_calls(calls);
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn callback(event: &str) -> Vec<u8> {
        format!(r#"{{"token":"x","team_id":"T1","type":"event_callback","event":{event},"event_id":"Ev1"}}"#)
            .into_bytes()
    }

    #[test]
    fn url_verification_and_unknown_envelopes() {
        let challenge = parse(br#"{"token":"x","challenge":"abc123","type":"url_verification"}"#).unwrap();
        assert_eq!(challenge, Payload::Challenge("abc123".into()));
        assert_eq!(parse(br#"{"type":"app_rate_limited"}"#).unwrap(), Payload::Ignored);
        assert!(parse(b"token=x").is_err());
    }

    #[test]
    fn messages_but_not_the_bots_own_or_edits() {
        let message = parse(&callback(r#"{"type":"message","channel":"C1","user":"U1","text":"Hi","ts":"1.2"}"#));
        assert_eq!(
            message.unwrap(),
            Payload::Message { channel: "C1".into(), thread_ts: None, inbound: Inbound::message("Hi") }
        );
        let own = callback(r#"{"type":"message","channel":"C1","bot_id":"B1","text":"Hello!","ts":"1.3"}"#);
        assert_eq!(parse(&own).unwrap(), Payload::Ignored);
        let edit = callback(r#"{"type":"message","subtype":"message_changed","channel":"C1","ts":"1.4"}"#);
        assert_eq!(parse(&edit).unwrap(), Payload::Ignored);
        let reaction = callback(r#"{"type":"reaction_added","user":"U1"}"#);
        assert_eq!(parse(&reaction).unwrap(), Payload::Ignored);
    }

    #[test]
    fn app_mentions_lose_the_mention_and_keep_the_thread() {
        let body = callback(r#"{"type":"app_mention","channel":"C1","text":"<@U0BOT> help  me","thread_ts":"9.9"}"#);
        assert_eq!(
            parse(&body).unwrap(),
            Payload::Message {
                channel: "C1".into(),
                thread_ts: Some("9.9".into()),
                inbound: Inbound::message("help me")
            }
        );
        assert_eq!(strip_mentions("a <@U1> b <@U2|bob>"), "a b");
        assert_eq!(strip_mentions("broken <@U1"), "broken <@U1");
    }

    #[test]
    fn post_call_threads_when_asked() {
        let call = post_call("http://x/api", &Secret::new("xoxb"), "C1", Some("9.9"), "Hello!");
        assert_eq!(call.url.expose(), "http://x/api/chat.postMessage");
        assert_eq!(call.body, json!({"channel": "C1", "text": "Hello!", "thread_ts": "9.9"}));
        assert!(call.require_ok_field);
        let call = post_call("http://x/api", &Secret::new("xoxb"), "C1", None, "Hello!");
        assert_eq!(call.body, json!({"channel": "C1", "text": "Hello!"}));
    }
}
