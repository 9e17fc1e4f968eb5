//! Replies through the platforms' HTTP APIs: a shared reqwest client (rustls, timeouts) and a retry loop.
//!
//! A call is retried on 429, on 5xx and on transport errors (connect, timeout, reset), at most
//! [`RetryPolicy::max_attempts`] times in all, waiting an exponential backoff with jitter between attempts
//! (attempt *n* waits a random delay in `[d/2, d]`, `d = min(base_delay * 2^(n-1), max_delay)`), or the
//! response's `Retry-After` (seconds) when it asks for longer. A `Retry-After` beyond `max_delay` ends the
//! retries: the platform asks for more patience than a reply is worth. Other 4xx answers are permanent and are
//! not retried. A transport error after the request was sent may mean the platform got it, so delivery is at
//! least once.
//!
//! URLs can carry credentials (Telegram puts the bot token in the path), so neither URLs nor reqwest's errors
//! with their URL are ever logged or returned: [`Outbound::url`] is a [`Secret`] and errors are stripped of it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};

use crate::Platform;
use crate::config::Secret;
use crate::metrics::{Metrics, ReplyResult};

/// How reply API calls are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1). Default 5.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles with each further one. Default 250 ms.
    pub base_delay: Duration,
    /// Longest wait between attempts. Default 10 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// The jittered backoff before attempt `next` (2 for the first retry).
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(31);
        let full = self.base_delay.saturating_mul(1 << doublings).min(self.max_delay);
        let nanos = u64::try_from(full.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(nanos / 2..=nanos))
    }
}

/// Why a reply was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The API answered with an error status (not retried, or retries exhausted).
    #[error("{endpoint} answered {status}: {body}")]
    Status {
        /// Which API call (no URL).
        endpoint: &'static str,
        /// The status.
        status: StatusCode,
        /// The start of the response body.
        body: String,
    },
    /// The API answered 200 with `"ok": false` (Slack).
    #[error("{endpoint} refused the call: {error}")]
    NotOk {
        /// Which API call.
        endpoint: &'static str,
        /// The API's `error` field.
        error: String,
    },
    /// The call failed in transport (connect, timeout, reset) and retries are exhausted.
    #[error("{endpoint}: {source}")]
    Transport {
        /// Which API call.
        endpoint: &'static str,
        /// reqwest's error, without the URL.
        #[source]
        source: reqwest::Error,
    },
    /// The API asked to wait longer than [`RetryPolicy::max_delay`].
    #[error("{endpoint} asked to retry after {retry_after:?}, longer than allowed")]
    RetryAfterTooLong {
        /// Which API call.
        endpoint: &'static str,
        /// What it asked for.
        retry_after: Duration,
    },
}

/// One reply API call.
#[derive(Clone, Debug)]
pub struct Outbound {
    /// The platform (metrics).
    pub platform: Platform,
    /// A name for logs and errors, e.g. `line reply`; never the URL.
    pub endpoint: &'static str,
    /// The URL (may contain a token).
    pub url: Secret,
    /// `Authorization: Bearer` token, if the API takes one.
    pub bearer: Option<Secret>,
    /// The JSON body.
    pub body: serde_json::Value,
    /// Whether a 2xx answer must also carry `"ok": true` (Slack's Web API answers errors with 200).
    pub require_ok_field: bool,
}

enum Failure {
    Retry { error: ReplyError, retry_after: Option<Duration> },
    Permanent(ReplyError),
}

/// Sends [`Outbound`] calls with retries, counting results in [`Metrics`].
#[derive(Clone, Debug)]
pub struct Replier {
    client: reqwest::Client,
    policy: RetryPolicy,
}

impl Replier {
    /// A client with `timeout` per call (and a connect timeout of at most 5 s).
    pub fn new(timeout: Duration, policy: RetryPolicy) -> Result<Self, ReplyError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("bot-engine/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ReplyError::Client)?;
        Ok(Self { client, policy })
    }

    /// Sends `call`, retrying as the [module docs](self) say; counts the result and retries in `metrics`.
    pub async fn send(&self, call: &Outbound, metrics: &Metrics) -> Result<(), ReplyError> {
        let attempts = self.policy.max_attempts.max(1);
        let mut attempt = 1;
        let result = loop {
            match self.attempt(call).await {
                Ok(()) => break Ok(()),
                Err(Failure::Permanent(error)) => break Err(error),
                Err(Failure::Retry { error, .. }) if attempt >= attempts => break Err(error),
                Err(Failure::Retry { error, retry_after }) => {
                    attempt += 1;
                    let backoff = self.policy.backoff(attempt);
                    let wait = match retry_after {
                        Some(asked) if asked > self.policy.max_delay => {
                            break Err(ReplyError::RetryAfterTooLong { endpoint: call.endpoint, retry_after: asked });
                        }
                        Some(asked) => asked.max(backoff),
                        None => backoff,
                    };
                    tracing::debug!(endpoint = call.endpoint, %error, ?wait, attempt, "retrying reply");
                    metrics.reply_retry(call.platform);
                    tokio::time::sleep(wait).await;
                }
            }
        };
        match &result {
            Ok(()) => {
                tracing::debug!(endpoint = call.endpoint, attempts = attempt, "reply delivered");
                metrics.reply(call.platform, ReplyResult::Ok);
            }
            Err(error) => {
                tracing::warn!(endpoint = call.endpoint, %error, attempts = attempt, "reply not delivered");
                metrics.reply(call.platform, ReplyResult::Failed);
            }
        }
        result
    }

    async fn attempt(&self, call: &Outbound) -> Result<(), Failure> {
        let mut request = self.client.post(call.url.expose()).json(&call.body);
        if let Some(token) = &call.bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        let endpoint = call.endpoint;
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let error = ReplyError::Transport { endpoint, source: e.without_url() };
                return Err(Failure::Retry { error, retry_after: None });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.text().await {
            Ok(body) => body,
            Err(e) if status.is_success() => {
                // The call went through; only the answer is lost. Do not repeat the reply.
                tracing::debug!(endpoint, error = %e.without_url(), "reply answer unreadable");
                return Ok(());
            }
            Err(_) => String::new(),
        };
        if status.is_success() {
            return check_ok_field(call, &body).map_err(Failure::Permanent);
        }
        let error = ReplyError::Status { endpoint, status, body: truncate(&body, 200) };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Err(Failure::Retry { error, retry_after })
        } else {
            Err(Failure::Permanent(error))
        }
    }
}

fn check_ok_field(call: &Outbound, body: &str) -> Result<(), ReplyError> {
    if !call.require_ok_field {
        return Ok(());
    }
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    if value.get("ok").and_then(|v| v.as_bool()) == Some(true) {
        Ok(())
    } else {
        let error = value.get("error").and_then(|e| e.as_str()).unwrap_or("no \"ok\": true in the answer");
        Err(ReplyError::NotOk { endpoint: call.endpoint, error: error.to_owned() })
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_and_caps() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for _ in 0..50 {
            let second = policy.backoff(2);
            assert!(second >= Duration::from_millis(50) && second <= Duration::from_millis(100), "{second:?}");
            let fourth = policy.backoff(4);
            assert!(fourth >= Duration::from_millis(200) && fourth <= Duration::from_millis(400), "{fourth:?}");
            let late = policy.backoff(40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_millis(1000), "{late:?}");
        }
    }

    #[test]
    fn slack_ok_field_is_checked() {
        let call = Outbound {
            platform: Platform::Slack,
            endpoint: "slack chat.postMessage",
            url: Secret::new("http://x"),
            bearer: None,
            body: serde_json::Value::Null,
            require_ok_field: true,
        };
        assert!(check_ok_field(&call, r#"{"ok":true}"#).is_ok());
        let err = check_ok_field(&call, r#"{"ok":false,"error":"channel_not_found"}"#).unwrap_err();
        assert_eq!(err.to_string(), "slack chat.postMessage refused the call: channel_not_found");
        assert!(check_ok_field(&call, "not json").is_err());
        assert!(check_ok_field(&Outbound { require_ok_field: false, ..call }, "").is_ok());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("hi", 10), "hi");
    }
}
