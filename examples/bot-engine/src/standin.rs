//! A local stand-in of the platforms' reply APIs, and a LINE webhook sender: what `platform-standin`, `make demo`
//! and the tests use where the real platforms are out of reach.
//!
//! [`StandIn`] answers the calls the engine makes as the real APIs would:
//!
//! | call | answer |
//! |---|---|
//! | `POST …/v2/bot/message/reply` (LINE) | `200 {}`; `401` without `Authorization: Bearer`; `400` without a `replyToken` or with other than 1 to 5 `messages` |
//! | `POST …/chat.postMessage` (Slack) | `200 {"ok":true}`; `200 {"ok":false,"error":"not_authed"}` without `Authorization`, `channel_not_found` / `no_text` without those fields |
//! | `POST …/bot<token>/<method>` (Telegram) | `200 {"ok":true}`; `400` for `sendMessage` without `chat_id` or `text` |
//! | anything else | `404` |
//!
//! Every request is recorded — method, path (a Telegram token in it replaced by `***`), whether an
//! `Authorization` header was present (never its value), the JSON body, the status answered — in memory
//! ([`StandIn::requests`]) and, if a sink is given, as one JSON line per request. Tests can script the next
//! answers ([`StandIn::script`]) to exercise retries.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::signature::{LINE_SIGNATURE, line_signature};

/// Why the stand-in or the sender failed.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    /// Binding or serving failed.
    #[error("stand-in I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The webhook could not be sent.
    #[error("sending the webhook: {0}")]
    Http(#[from] reqwest::Error),
}

/// One request the stand-in received.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The method.
    pub method: String,
    /// The path, with a Telegram bot token replaced by `***`.
    pub path: String,
    /// Whether an `Authorization` header was present.
    pub authorization: bool,
    /// The body, as JSON (a JSON string if it was not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
}

/// A scripted answer, used instead of the normal one for the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scripted {
    /// The status.
    pub status: u16,
    /// A `Retry-After` header, in seconds.
    pub retry_after: Option<u64>,
}

impl Scripted {
    /// Answer `status`.
    pub fn status(status: u16) -> Self {
        Self { status, retry_after: None }
    }

    /// With `Retry-After: seconds`.
    pub fn retry_after(self, seconds: u64) -> Self {
        Self { retry_after: Some(seconds), ..self }
    }
}

struct Shared {
    recorded: Mutex<Vec<Recorded>>,
    count: watch::Sender<usize>,
    script: Mutex<VecDeque<Scripted>>,
    sink: Option<Mutex<Box<dyn Write + Send>>>,
}

/// A running stand-in.
pub struct StandIn {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandIn").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl StandIn {
    /// Starts serving on `addr` (port 0 picks a free port), writing a JSON line per request to `sink` if given.
    pub async fn start(addr: SocketAddr, sink: Option<Box<dyn Write + Send>>) -> Result<StandIn, StandInError> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            recorded: Mutex::new(Vec::new()),
            count: watch::Sender::new(0),
            script: Mutex::new(VecDeque::new()),
            sink: sink.map(Mutex::new),
        });
        let app = Router::new().fallback(handle).with_state(Arc::clone(&shared));
        let stop = CancellationToken::new();
        let server_stop = stop.clone();
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { server_stop.cancelled().await })
                .into_future(),
        );
        Ok(StandIn { addr, shared, stop, server })
    }

    /// `http://<address>`: the base URL to give the engine for every platform.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the next requests with `answers`, in order, then normally again.
    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.shared.script.lock().unwrap_or_else(PoisonError::into_inner).extend(answers);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.recorded.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Waits until at least `n` requests were received or `timeout` passed; returns the requests received.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let mut count = self.shared.count.subscribe();
        let _ = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await;
        self.requests()
    }

    /// Stops serving.
    pub async fn shutdown(self) -> Result<(), StandInError> {
        self.stop.cancel();
        match self.server.await {
            Ok(result) => Ok(result?),
            Err(e) => Err(StandInError::Io(std::io::Error::other(e))),
        }
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers.contains_key(header::AUTHORIZATION);
    let body: Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let (path, mut status, mut answer) = answer(uri.path(), &method, authorization, &body);
    let scripted = shared.script.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
    let mut retry_after = None;
    if let Some(scripted) = scripted {
        status = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        answer = json!({"ok": false, "message": "scripted answer", "error_code": scripted.status});
        retry_after = scripted.retry_after;
    }
    let recorded = Recorded { method: method.to_string(), path, authorization, body, status: status.as_u16() };
    if let Some(sink) = &shared.sink {
        let line = serde_json::to_string(&recorded).expect("a Value serializes");
        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(sink, "{line}").and_then(|()| sink.flush());
    }
    shared.recorded.lock().unwrap_or_else(PoisonError::into_inner).push(recorded);
    shared.count.send_modify(|c| *c += 1);
    let mut response = (status, axum::Json(answer)).into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The recorded path, the status and the body the real API would answer.
fn answer(path: &str, method: &Method, authorized: bool, body: &Value) -> (String, StatusCode, Value) {
    let not_found = || (StatusCode::NOT_FOUND, json!({"message": "Not found"}));
    if method != Method::POST {
        let (status, answer) = not_found();
        return (path.to_owned(), status, answer);
    }
    if path.ends_with("/v2/bot/message/reply") {
        let (status, answer) = line(authorized, body);
        return (path.to_owned(), status, answer);
    }
    if path.ends_with("/chat.postMessage") {
        return (path.to_owned(), StatusCode::OK, slack(authorized, body));
    }
    let segments: Vec<&str> = path.split('/').collect();
    let n = segments.len();
    if n >= 2 && segments[n - 2].len() > 3 && segments[n - 2].starts_with("bot") {
        let method = segments[n - 1];
        let redacted = format!("{}/bot***/{method}", segments[..n - 2].join("/"));
        let (status, answer) = telegram(method, body);
        return (redacted, status, answer);
    }
    let (status, answer) = not_found();
    (path.to_owned(), status, answer)
}

fn line(authorized: bool, body: &Value) -> (StatusCode, Value) {
    if !authorized {
        let message = "Authentication failed. Confirm that the access token in the authorization header is valid.";
        return (StatusCode::UNAUTHORIZED, json!({"message": message}));
    }
    let messages = body.get("messages").and_then(Value::as_array).map_or(0, Vec::len);
    if body.get("replyToken").and_then(Value::as_str).is_none() || !(1..=5).contains(&messages) {
        return (StatusCode::BAD_REQUEST, json!({"message": "The request body has 1 error(s)"}));
    }
    (StatusCode::OK, json!({}))
}

fn slack(authorized: bool, body: &Value) -> Value {
    if !authorized {
        json!({"ok": false, "error": "not_authed"})
    } else if body.get("channel").and_then(Value::as_str).is_none() {
        json!({"ok": false, "error": "channel_not_found"})
    } else if body.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
        json!({"ok": false, "error": "no_text"})
    } else {
        json!({"ok": true})
    }
}

fn telegram(method: &str, body: &Value) -> (StatusCode, Value) {
    match method {
        "sendMessage" => {
            if body.get("chat_id").is_none() {
                let answer = json!({"ok": false, "error_code": 400, "description": "Bad Request: chat_id is empty"});
                (StatusCode::BAD_REQUEST, answer)
            } else if body.get("text").and_then(Value::as_str).is_none_or(str::is_empty) {
                let answer =
                    json!({"ok": false, "error_code": 400, "description": "Bad Request: message text is empty"});
                (StatusCode::BAD_REQUEST, answer)
            } else {
                (StatusCode::OK, json!({"ok": true}))
            }
        }
        "answerCallbackQuery" => (StatusCode::OK, json!({"ok": true})),
        _ => (StatusCode::NOT_FOUND, json!({"ok": false, "error_code": 404, "description": "Not Found"})),
    }
}

/// A LINE webhook body with one text message event, shaped as LINE sends it.
pub fn line_webhook_body(text: &str, reply_token: &str) -> String {
    let millis = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    json!({
        "destination": "U00000000000000000000000000000000",
        "events": [{
            "type": "message",
            "mode": "active",
            "timestamp": millis,
            "webhookEventId": format!("01STANDIN{millis}"),
            "deliveryContext": {"isRedelivery": false},
            "source": {"type": "user", "userId": "U11111111111111111111111111111111"},
            "replyToken": reply_token,
            "message": {"id": "1", "type": "text", "text": text, "quoteToken": "standin"},
        }],
    })
    .to_string()
}

/// Posts a LINE webhook with one text message to `url`, signed with `channel_secret` as LINE signs it; returns
/// the status and body of the answer.
pub async fn send_line(
    url: &str,
    channel_secret: &str,
    text: &str,
    reply_token: &str,
) -> Result<(StatusCode, String), StandInError> {
    let body = line_webhook_body(text, reply_token);
    let response = reqwest::Client::new()
        .post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(LINE_SIGNATURE, line_signature(channel_secret, body.as_bytes()))
        .body(body)
        .send()
        .await?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((status, response.text().await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_the_real_apis() {
        let post = Method::POST;
        let reply = json!({"replyToken": "r", "messages": [{"type": "text", "text": "hi"}]});
        assert_eq!(answer("/v2/bot/message/reply", &post, true, &reply).1, StatusCode::OK);
        assert_eq!(answer("/v2/bot/message/reply", &post, false, &reply).1, StatusCode::UNAUTHORIZED);
        assert_eq!(answer("/v2/bot/message/reply", &post, true, &json!({"messages": []})).1, StatusCode::BAD_REQUEST);
        let (_, status, body) = answer("/api/chat.postMessage", &post, true, &json!({"channel": "C", "text": "t"}));
        assert_eq!((status, body), (StatusCode::OK, json!({"ok": true})));
        assert_eq!(answer("/chat.postMessage", &post, false, &json!({})).2["error"], "not_authed");
        let (path, status, _) = answer("/bot123:ABC/sendMessage", &post, false, &json!({"chat_id": 1, "text": "t"}));
        assert_eq!((path.as_str(), status), ("/bot***/sendMessage", StatusCode::OK));
        assert_eq!(answer("/bot1:A/sendMessage", &post, false, &json!({"chat_id": 1})).1, StatusCode::BAD_REQUEST);
        assert_eq!(answer("/elsewhere", &post, true, &json!({})).1, StatusCode::NOT_FOUND);
        assert_eq!(answer("/v2/bot/message/reply", &Method::GET, true, &reply).1, StatusCode::NOT_FOUND);
    }

    #[test]
    fn line_body_is_a_signed_text_event() {
        let body = line_webhook_body("Hello", "tok");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["events"][0]["message"]["text"], "Hello");
        assert_eq!(value["events"][0]["replyToken"], "tok");
    }
}
