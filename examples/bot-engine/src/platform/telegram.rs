//! Telegram Bot API: `POST /webhook/telegram`.
//!
//! Checks `X-Telegram-Bot-Api-Secret-Token` against the `secret_token` given to `setWebhook`, answers 200 at
//! once, and replies in the background with `POST {base}/bot{token}/sendMessage` to the update's chat. An update
//! maps to one event:
//!
//! - `message.new_chat_members` (the bot or anyone joining a group): `join`;
//! - `message.text` `/start` (also `/start@bot` and `/start <payload>`): `follow`;
//! - other `message.text`: `message`;
//! - `callback_query.data` (an inline button): `postback`. The query is first answered with
//!   `answerCallbackQuery`, which stops the button's spinner, then the replies go to the button's chat.
//!
//! Other updates (edits, channel posts, media without text) are acknowledged and ignored.

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
use crate::config::{Secret, TelegramCredentials};
use crate::reply::Outbound;
use crate::rules::Inbound;
use crate::server::{App, Refusal, header};
use crate::signature::{TELEGRAM_SECRET_TOKEN, verify_telegram};

const PLATFORM: Platform = Platform::Telegram;

#[derive(Debug)]
pub(crate) struct Route {
    app: Arc<App>,
    credentials: TelegramCredentials,
    base: String,
}

pub(crate) fn route<S: Clone + Send + Sync + 'static>(
    app: &Arc<App>,
    credentials: TelegramCredentials,
    base: &str,
) -> MethodRouter<S> {
    post(handle).with_state(Arc::new(Route { app: Arc::clone(app), credentials, base: base.to_owned() }))
}

#[derive(Deserialize)]
struct Update {
    message: Option<Message>,
    callback_query: Option<CallbackQuery>,
}

#[derive(Deserialize)]
struct Message {
    chat: Chat,
    text: Option<String>,
    #[serde(default)]
    new_chat_members: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Chat {
    id: i64,
}

#[derive(Deserialize)]
struct CallbackQuery {
    id: String,
    from: Chat,
    message: Option<CallbackMessage>,
    data: Option<String>,
}

#[derive(Deserialize)]
struct CallbackMessage {
    chat: Chat,
}

/// An event of an update, with the chat to answer in.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TelegramEvent {
    pub(crate) chat_id: i64,
    /// For a postback: the callback query to answer.
    pub(crate) callback_query_id: Option<String>,
    pub(crate) inbound: Inbound,
}

/// The event of an update, if it has one the rules can answer.
pub(crate) fn parse(body: &[u8]) -> Result<Option<TelegramEvent>, PayloadError> {
    let update: Update = serde_json::from_slice(body)?;
    if let Some(query) = update.callback_query {
        let chat_id = query.message.map_or(query.from.id, |m| m.chat.id);
        let inbound = Inbound::postback(query.data.unwrap_or_default());
        return Ok(Some(TelegramEvent { chat_id, callback_query_id: Some(query.id), inbound }));
    }
    let Some(message) = update.message else {
        return Ok(None);
    };
    let inbound = if !message.new_chat_members.is_empty() {
        Inbound::join()
    } else if let Some(text) = message.text {
        if is_start(&text) { Inbound::follow() } else { Inbound::message(text) }
    } else {
        return Ok(None);
    };
    Ok(Some(TelegramEvent { chat_id: message.chat.id, callback_query_id: None, inbound }))
}

fn is_start(text: &str) -> bool {
    let command = text.split_whitespace().next().unwrap_or("");
    command == "/start" || command.starts_with("/start@")
}

fn call(base: &str, token: &Secret, method: &'static str, endpoint: &'static str, body: serde_json::Value) -> Outbound {
    Outbound {
        platform: PLATFORM,
        endpoint,
        url: Secret::new(format!("{base}/bot{}/{method}", token.expose())),
        bearer: None,
        body,
        require_ok_field: true,
    }
}

/// The `sendMessage` call sending `text` to `chat_id`.
pub(crate) fn send_call(base: &str, token: &Secret, chat_id: i64, text: &str) -> Outbound {
    call(base, token, "sendMessage", "telegram sendMessage", json!({"chat_id": chat_id, "text": text}))
}

/// The `answerCallbackQuery` call acknowledging a button press.
pub(crate) fn answer_call(base: &str, token: &Secret, callback_query_id: &str) -> Outbound {
    let body = json!({"callback_query_id": callback_query_id});
    call(base, token, "answerCallbackQuery", "telegram answerCallbackQuery", body)
}

async fn handle(
    State(route): State<Arc<Route>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let app = &route.app;
    let body = app.body(PLATFORM, body)?;
    let token = header(&headers, TELEGRAM_SECRET_TOKEN);
    verify_telegram(route.credentials.secret_token.expose(), token).map_err(|e| app.refuse(PLATFORM, e))?;
    let rules = app.current_rules(PLATFORM)?;
    let event = parse(&body).map_err(|e| app.bad_request(PLATFORM, e))?;
    let mut calls = Vec::new();
    if let Some(event) = event {
        let (base, token) = (&route.base, &route.credentials.bot_token);
        if let Some(id) = &event.callback_query_id {
            calls.push(answer_call(base, token, id));
        }
        for text in app.replies(PLATFORM, &rules, &event.inbound) {
            calls.push(send_call(base, token, event.chat_id, &text));
        }
    }
    app.processed(PLATFORM);
    app.spawn_calls(calls);
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> Option<TelegramEvent> {
        parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn text_start_and_joins() {
        let text = event(r#"{"update_id":1,"message":{"message_id":1,"chat":{"id":42,"type":"private"},"text":"Hi"}}"#);
        assert_eq!(text, Some(TelegramEvent { chat_id: 42, callback_query_id: None, inbound: Inbound::message("Hi") }));
        for start in ["/start", "/start@my_bot", "/start promo-7"] {
            let body = format!(r#"{{"update_id":2,"message":{{"chat":{{"id":42}},"text":"{start}"}}}}"#);
            assert_eq!(event(&body).unwrap().inbound, Inbound::follow(), "{start}");
        }
        assert_eq!(
            event(r#"{"update_id":3,"message":{"chat":{"id":42},"text":"/started"}}"#).unwrap().inbound.kind,
            crate::rules::EventKind::Message
        );
        let join =
            event(r#"{"update_id":4,"message":{"chat":{"id":-100},"new_chat_members":[{"id":7,"is_bot":true}]}}"#);
        assert_eq!(join, Some(TelegramEvent { chat_id: -100, callback_query_id: None, inbound: Inbound::join() }));
    }

    #[test]
    fn callback_queries_are_postbacks_in_the_buttons_chat() {
        let body = r#"{"update_id":5,"callback_query":{"id":"q1","from":{"id":7},"message":{"message_id":9,"chat":{"id":42}},"data":"buy"}}"#;
        let expected =
            TelegramEvent { chat_id: 42, callback_query_id: Some("q1".into()), inbound: Inbound::postback("buy") };
        assert_eq!(event(body), Some(expected));
        let inline = r#"{"update_id":6,"callback_query":{"id":"q2","from":{"id":7},"data":"x"}}"#;
        assert_eq!(event(inline).unwrap().chat_id, 7);
    }

    #[test]
    fn other_updates_are_ignored() {
        assert_eq!(event(r#"{"update_id":7,"edited_message":{"chat":{"id":1},"text":"x"}}"#), None);
        assert_eq!(event(r#"{"update_id":8,"message":{"chat":{"id":1},"photo":[]}}"#), None);
        assert!(parse(b"{\"message\":1}").is_err());
    }

    #[test]
    fn calls_carry_the_token_in_the_path_only() {
        let call = send_call("http://x", &Secret::new("123:ABC"), 42, "Hello!");
        assert_eq!(call.url.expose(), "http://x/bot123:ABC/sendMessage");
        assert_eq!(call.body, json!({"chat_id": 42, "text": "Hello!"}));
        assert!(call.bearer.is_none());
        assert!(!format!("{call:?}").contains("123:ABC"));
        let answer = answer_call("http://x", &Secret::new("123:ABC"), "q1");
        assert_eq!(answer.url.expose(), "http://x/bot123:ABC/answerCallbackQuery");
    }
}
