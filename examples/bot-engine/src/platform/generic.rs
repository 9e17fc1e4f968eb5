//! The generic webhook: `POST /webhook/generic`, for any system that can sign a JSON request.
//!
//! The sender signs `{timestamp}.{body}` (the Unix-seconds timestamp, a dot, the raw body) with HMAC-SHA256 and
//! the shared `webhookSecret`, and sends:
//!
//! ```text
//! POST /webhook/generic
//! X-Bot-Timestamp: 1700000000
//! X-Bot-Signature: sha256=<hex HMAC-SHA256(webhookSecret, "1700000000." + body)>
//! Content-Type: application/json
//!
//! {"type":"message","text":"hello"}
//! ```
//!
//! Timestamps more than five minutes from now are refused (401), so a captured request cannot be replayed
//! later; including the timestamp in the MAC stops it being changed. `type` is `message` (`text`), `postback`
//! (`data`), `join` or `follow`. The answer is `200 {"replies":["..."]}`, empty when no rule fires.

use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use serde_json::json;

use super::PayloadError;
use crate::Platform;
use crate::config::GenericCredentials;
use crate::metrics::ReplyResult;
use crate::rules::Inbound;
use crate::server::{App, Refusal, header};
use crate::signature::{GENERIC_SIGNATURE, GENERIC_TIMESTAMP, verify_generic};

const PLATFORM: Platform = Platform::Generic;

#[derive(Debug)]
pub(crate) struct Route {
    app: Arc<App>,
    credentials: GenericCredentials,
}

pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    app: &Arc<App>,
    credentials: GenericCredentials,
) -> MethodRouter<S> {
    post(handle).with_state(Arc::new(Route { app: Arc::clone(app), credentials }))
}

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    data: String,
}

/// Reads a request body.
pub(crate) fn parse(body: &[u8]) -> Result<Inbound, PayloadError> {
    let request: Request = serde_json::from_slice(body)?;
    match request.kind.as_str() {
        "message" => Ok(Inbound::message(request.text)),
        "postback" => Ok(Inbound::postback(request.data)),
        "join" => Ok(Inbound::join()),
        "follow" => Ok(Inbound::follow()),
        other => Err(PayloadError::Unsupported(format!("event type {other:?}"))),
    }
}

async fn handle(
    State(route): State<Arc<Route>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let app = &route.app;
    let body = app.body(PLATFORM, body)?;
    let timestamp = header(&headers, GENERIC_TIMESTAMP);
    let signature = header(&headers, GENERIC_SIGNATURE);
    let secret = route.credentials.webhook_secret.expose();
    verify_generic(secret, timestamp, signature, &body, SystemTime::now(), app.replay_window)
        .map_err(|e| app.refuse(PLATFORM, e))?;
    let rules = app.current_rules(PLATFORM)?;
    let inbound = parse(&body).map_err(|e| app.bad_request(PLATFORM, e))?;
    let replies = app.replies(PLATFORM, &rules, &inbound);
    if !replies.is_empty() {
        app.metrics.reply(PLATFORM, ReplyResult::Ok);
    }
    app.processed(PLATFORM);
    Ok(Json(json!({"replies": replies})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types() {
        assert_eq!(parse(br#"{"type":"message","text":"hi"}"#).unwrap(), Inbound::message("hi"));
        assert_eq!(parse(br#"{"type":"postback","data":"d"}"#).unwrap(), Inbound::postback("d"));
        assert_eq!(parse(br#"{"type":"join"}"#).unwrap(), Inbound::join());
        assert_eq!(parse(br#"{"type":"follow"}"#).unwrap(), Inbound::follow());
        assert!(matches!(parse(br#"{"type":"schedule"}"#), Err(PayloadError::Unsupported(_))));
        assert!(matches!(parse(b"hi"), Err(PayloadError::Json(_))));
    }
}
