//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! | metric | labels | counts |
//! |---|---|---|
//! | `bot_engine_requests_total` | `platform`, `result` (`ok`, `unauthorized`, `too_large`, `bad_request`, `unavailable`) | webhook requests |
//! | `bot_engine_signature_failures_total` | `platform` | requests refused for a missing, malformed, wrong or stale signature |
//! | `bot_engine_replies_total` | `platform`, `result` (`ok`, `failed`, `dropped`: not attempted because [`ConfigBuilder::max_pending_replies`](crate::ConfigBuilder::max_pending_replies) replies were already pending) | reply API calls, after their retries (LINE: one per reply token; Slack, Telegram: one per message, and Telegram's `answerCallbackQuery`), and responses carrying replies (Discord, generic) |
//! | `bot_engine_reply_retries_total` | `platform` | reply API calls retried |
//! | `bot_engine_rule_matches_total` | `event` | rules fired, by Event name |
//! | `bot_engine_rules_reloads_total` | `result` (`ok`, `invalid`) | rules file (re)loads |
//! | `bot_engine_rules` | | rules currently loaded (gauge) |

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::Platform;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Outcome of a webhook request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestResult {
    /// Verified and processed.
    Ok,
    /// Missing or bad signature (401).
    Unauthorized,
    /// Body over the limit (413).
    TooLarge,
    /// Unreadable or unparsable body (400).
    BadRequest,
    /// No rules loaded yet (503).
    Unavailable,
}

/// Outcome of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplyResult {
    /// Delivered.
    Ok,
    /// Not delivered (permanent error, or retries exhausted).
    Failed,
    /// Not attempted: too many replies were already pending.
    Dropped,
}

/// Outcome of a rules file (re)load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReloadResult {
    /// Loaded.
    Ok,
    /// Unreadable or invalid; the previous rules stay.
    Invalid,
}

macro_rules! label_values {
    ($($ty:ty { $($variant:ident => $text:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// The label value.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
        impl EncodeLabelValue for $ty {
            fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )+};
}

label_values! {
    RequestResult { Ok => "ok", Unauthorized => "unauthorized", TooLarge => "too_large", BadRequest => "bad_request",
        Unavailable => "unavailable" }
    ReplyResult { Ok => "ok", Failed => "failed", Dropped => "dropped" }
    ReloadResult { Ok => "ok", Invalid => "invalid" }
}

impl EncodeLabelValue for Platform {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    platform: Platform,
    result: RequestResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformLabels {
    platform: Platform,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReplyLabels {
    platform: Platform,
    result: ReplyResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: ReloadResult,
}

/// The engine's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    signature_failures: Family<PlatformLabels, Counter>,
    replies: Family<ReplyLabels, Counter>,
    reply_retries: Family<PlatformLabels, Counter>,
    rule_matches: Family<RuleLabels, Counter>,
    reloads: Family<ReloadLabels, Counter>,
    rules: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics at zero, registered with the `bot_engine` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            registry: Registry::default(),
            requests: Family::default(),
            signature_failures: Family::default(),
            replies: Family::default(),
            reply_retries: Family::default(),
            rule_matches: Family::default(),
            reloads: Family::default(),
            rules: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix("bot_engine");
        r.register("requests", "Webhook requests by platform and result", metrics.requests.clone());
        r.register(
            "signature_failures",
            "Webhook requests refused for their signature, by platform",
            metrics.signature_failures.clone(),
        );
        r.register("replies", "Replies by platform and result", metrics.replies.clone());
        r.register("reply_retries", "Reply API calls retried, by platform", metrics.reply_retries.clone());
        r.register("rule_matches", "Rules fired, by Event name", metrics.rule_matches.clone());
        r.register("rules_reloads", "Rules file loads by result", metrics.reloads.clone());
        r.register("rules", "Rules currently loaded", metrics.rules.clone());
        Self { registry, ..metrics }
    }

    /// Counts a webhook request.
    pub fn request(&self, platform: Platform, result: RequestResult) {
        self.requests.get_or_create(&RequestLabels { platform, result }).inc();
    }

    /// Counts a refused signature.
    pub fn signature_failure(&self, platform: Platform) {
        self.signature_failures.get_or_create(&PlatformLabels { platform }).inc();
    }

    /// Counts a reply.
    pub fn reply(&self, platform: Platform, result: ReplyResult) {
        self.replies.get_or_create(&ReplyLabels { platform, result }).inc();
    }

    /// Counts a retried reply API call.
    pub fn reply_retry(&self, platform: Platform) {
        self.reply_retries.get_or_create(&PlatformLabels { platform }).inc();
    }

    /// Counts a fired rule.
    pub fn rule_matched(&self, event: &str) {
        self.rule_matches.get_or_create(&RuleLabels { event: event.to_owned() }).inc();
    }

    /// Counts a rules load and, when it succeeded, records how many rules are loaded.
    pub fn rules_loaded(&self, result: ReloadResult, rules: Option<usize>) {
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        if let Some(n) = rules {
            self.rules.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters_with_their_labels() {
        let m = Metrics::new();
        m.request(Platform::Line, RequestResult::Ok);
        m.request(Platform::Line, RequestResult::Ok);
        m.signature_failure(Platform::Slack);
        m.reply(Platform::Telegram, ReplyResult::Failed);
        m.rule_matched("greeting");
        m.rules_loaded(ReloadResult::Ok, Some(3));
        let text = m.encode();
        for line in [
            r#"bot_engine_requests_total{platform="line",result="ok"} 2"#,
            r#"bot_engine_signature_failures_total{platform="slack"} 1"#,
            r#"bot_engine_replies_total{platform="telegram",result="failed"} 1"#,
            r#"bot_engine_rule_matches_total{event="greeting"} 1"#,
            r#"bot_engine_rules_reloads_total{result="ok"} 1"#,
            "bot_engine_rules 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
