//! Discord interactions: `POST /webhook/discord` (the application's "Interactions Endpoint URL").
//!
//! Verifies the Ed25519 signature `X-Signature-Ed25519` of `X-Signature-Timestamp` followed by the body with the
//! application's public key (Discord also sends deliberately bad signatures when the URL is saved, expecting
//! 401). Replies travel in the interaction response, so no bot token is needed:
//!
//! | interaction | event | response |
//! |---|---|---|
//! | PING (1) | | `{"type":1}` |
//! | APPLICATION_COMMAND (2) | `message`: the command name, subcommand names and option values, space-separated (`/order pizza 2` gives `order pizza 2`) | `{"type":4,"data":{"content":<replies joined by newlines>}}` |
//! | MESSAGE_COMPONENT (3) | `postback` with `data.custom_id` | the same |
//!
//! When no rule fires, a command is answered with an ephemeral (`flags: 64`, seen only by its user) message
//! `No reply is configured for this.`, since Discord refuses an empty message and a command must be answered; a component is answered
//! `{"type":6}` (acknowledged, nothing changes). Content is cut to Discord's 2000 characters. Other interaction
//! types (autocomplete, modals) are answered 400.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::PayloadError;
use crate::Platform;
use crate::config::DiscordCredentials;
use crate::metrics::ReplyResult;
use crate::rules::Inbound;
use crate::server::{App, Refusal, header};
use crate::signature::{DISCORD_SIGNATURE, DISCORD_TIMESTAMP, verify_discord};

/// The ephemeral answer to a command no rule answers.
pub(crate) const NO_REPLY: &str = "No reply is configured for this.";

/// Longest message content Discord accepts, in characters.
const MAX_CONTENT: usize = 2000;

const PLATFORM: Platform = Platform::Discord;

#[derive(Debug)]
pub(crate) struct Route {
    app: Arc<App>,
    credentials: DiscordCredentials,
}

pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    app: &Arc<App>,
    credentials: DiscordCredentials,
) -> MethodRouter<S> {
    post(handle).with_state(Arc::new(Route { app: Arc::clone(app), credentials }))
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    data: Data,
}

#[derive(Default, Deserialize)]
struct Data {
    name: Option<String>,
    #[serde(default)]
    options: Vec<CommandOption>,
    custom_id: Option<String>,
}

#[derive(Deserialize)]
struct CommandOption {
    name: String,
    value: Option<Value>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

/// What an interaction asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    Ping,
    Command(Inbound),
    Component(Inbound),
}

/// Reads an interaction.
pub(crate) fn parse(body: &[u8]) -> Result<Payload, PayloadError> {
    let interaction: Interaction = serde_json::from_slice(body)?;
    match interaction.kind {
        1 => Ok(Payload::Ping),
        2 => {
            let mut words = vec![interaction.data.name.unwrap_or_default()];
            flatten(&interaction.data.options, &mut words);
            Ok(Payload::Command(Inbound::message(words.join(" "))))
        }
        3 => Ok(Payload::Component(Inbound::postback(interaction.data.custom_id.unwrap_or_default()))),
        other => Err(PayloadError::Unsupported(format!("interaction type {other}"))),
    }
}

/// Subcommand (group) names and option values, depth first.
fn flatten(options: &[CommandOption], words: &mut Vec<String>) {
    for option in options {
        match &option.value {
            Some(Value::String(s)) => words.push(s.clone()),
            Some(other) => words.push(other.to_string()),
            None => {
                words.push(option.name.clone());
                flatten(&option.options, words);
            }
        }
    }
}

/// The interaction response carrying `replies`.
pub(crate) fn response(replies: &[String], component: bool) -> Value {
    if replies.is_empty() {
        return if component {
            json!({"type": 6})
        } else {
            json!({"type": 4, "data": {"content": NO_REPLY, "flags": 64}})
        };
    }
    let content = replies.join("\n");
    let content = match content.char_indices().nth(MAX_CONTENT) {
        Some((cut, _)) => {
            tracing::warn!("Discord takes {MAX_CONTENT} characters per message; the reply is cut");
            content[..cut].to_owned()
        }
        None => content,
    };
    json!({"type": 4, "data": {"content": content}})
}

async fn handle(
    State(route): State<Arc<Route>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let app = &route.app;
    let body = app.body(PLATFORM, body)?;
    let timestamp = header(&headers, DISCORD_TIMESTAMP);
    let signature = header(&headers, DISCORD_SIGNATURE);
    verify_discord(&route.credentials.public_key, timestamp, signature, &body).map_err(|e| app.refuse(PLATFORM, e))?;
    let (inbound, component) = match parse(&body).map_err(|e| app.bad_request(PLATFORM, e))? {
        Payload::Ping => {
            app.processed(PLATFORM);
            return Ok(Json(json!({"type": 1})).into_response());
        }
        Payload::Command(inbound) => (inbound, false),
        Payload::Component(inbound) => (inbound, true),
    };
    let rules = app.current_rules(PLATFORM)?;
    let replies = app.replies(PLATFORM, &rules, &inbound);
    if !replies.is_empty() {
        app.metrics.reply(PLATFORM, ReplyResult::Ok);
    }
    app.processed(PLATFORM);
    Ok(Json(response(&replies, component)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_commands_and_components() {
        assert_eq!(parse(br#"{"type":1,"id":"1","application_id":"2"}"#).unwrap(), Payload::Ping);
        let command = br#"{"type":2,"data":{"name":"order","options":[{"name":"what","type":3,"value":"pizza"},{"name":"count","type":4,"value":2}]}}"#;
        assert_eq!(parse(command).unwrap(), Payload::Command(Inbound::message("order pizza 2")));
        let sub = br#"{"type":2,"data":{"name":"bot","options":[{"name":"say","type":1,"options":[{"name":"text","type":3,"value":"hi"}]}]}}"#;
        assert_eq!(parse(sub).unwrap(), Payload::Command(Inbound::message("bot say hi")));
        let component = br#"{"type":3,"data":{"custom_id":"buy-1","component_type":2}}"#;
        assert_eq!(parse(component).unwrap(), Payload::Component(Inbound::postback("buy-1")));
        assert!(matches!(parse(br#"{"type":4,"data":{}}"#), Err(PayloadError::Unsupported(_))));
    }

    #[test]
    fn responses() {
        let replies = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(response(&replies, false), json!({"type": 4, "data": {"content": "a\nb"}}));
        assert_eq!(response(&[], false), json!({"type": 4, "data": {"content": NO_REPLY, "flags": 64}}));
        assert_eq!(response(&[], true), json!({"type": 6}));
        let long = vec!["é".repeat(2500)];
        assert_eq!(response(&long, false)["data"]["content"].as_str().unwrap().chars().count(), 2000);
    }
}
