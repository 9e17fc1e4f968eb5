//! The chat-bot engine bot-operator deploys: it verifies a chat platform's webhooks, matches the Bot's rules
//! (the `rules.json` the operator writes, see [`bot_api::rules`]) and replies through the platform.
//!
//! | route | |
//! |---|---|
//! | `POST /webhook/line` | LINE Messaging API webhook; replies with the reply API |
//! | `POST /webhook/slack` | Slack Events API; replies with `chat.postMessage` |
//! | `POST /webhook/telegram` | Telegram Bot API webhook; replies with `sendMessage` |
//! | `POST /webhook/discord` | Discord interactions endpoint; replies in the interaction response |
//! | `POST /webhook/generic` | generic signed JSON webhook; replies in the response body |
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 once rules are loaded, 503 before |
//! | `GET /metrics` | Prometheus metrics, OpenMetrics text ([`metrics`]) |
//!
//! A platform's route exists only when its credentials are configured; otherwise it answers 404. Every webhook
//! is verified before anything else is done with it ([`signature`]): a missing, wrong or stale signature is
//! answered 401 and counted, a body over the limit 413. Where the platform expects a fast answer (LINE, Slack,
//! Telegram), the webhook is acknowledged at once and the replies are sent by a background task ([`reply`]),
//! retried with backoff. The rules are reloaded when the file changes ([`reload`]), and matched as [`rules`]
//! describes. Configuration comes from the environment the operator's Deployment sets ([`config`]).
//!
//! The crate also holds the reusable parts of `platform-standin`, the stand-in of the platforms' reply APIs that
//! `make demo` and the tests use ([`standin`]).
//!
//! # Dependencies, and why
//!
//! | crate | why |
//! |---|---|
//! | `axum` | the HTTP server. It runs on hyper 1 and tower 0.5, which kube already brings into the workspace, so it adds little to build; its `Bytes` extractor hands over the raw body the signatures are computed on, `DefaultBodyLimit` gives the 413, and per-route state keeps each platform's credentials with its route |
//! | `tokio`, `tokio-util` | the runtime (as in the rest of the workspace); `TaskTracker` lets shutdown wait for replies still being sent, `CancellationToken` stops the reloader |
//! | `reqwest` (`rustls-tls`, `json`) | the reply API client: timeouts, JSON bodies, TLS with rustls and the ring provider kube already uses (no OpenSSL), and bundled webpki roots, so a minimal image needs no CA bundle. 0.12 rather than 0.13, whose rustls default is aws-lc-rs (a C build) |
//! | `hmac`, `sha2` | HMAC-SHA256 of LINE, Slack and the generic webhook; `Mac::verify_slice` compares in constant time |
//! | `base64`, `hex` | the signatures' encodings (LINE base64; Slack, Discord and generic hex) |
//! | `ed25519-dalek` | Discord's Ed25519 request signatures |
//! | `subtle` | constant-time comparison of Telegram's secret token |
//! | `regex` | rule patterns: linear-time matching, so a pattern in an Event cannot stall the engine |
//! | `arc-swap` | the current rules: reloads swap them atomically and request handlers read them without locking |
//! | `notify` | file change notifications (inotify) for reloading the rules without a restart |
//! | `prometheus-client` | metrics in the OpenMetrics text format, with typed label sets |
//! | `rand` | jitter of the retry backoff |
//! | `thiserror` | one error enum per module |
//! | `tracing`, `tracing-subscriber` | logs, with the level from `BOT_LOG_LEVEL` or `RUST_LOG` |
//! | `bot-api`, `serde`, `serde_json` | the rules file format shared with the operator, and the platforms' JSON |

pub mod config;
pub mod metrics;
mod platform;
pub mod reload;
pub mod reply;
pub mod rules;
mod server;
pub mod signature;
pub mod standin;

pub use config::{Config, ConfigBuilder, ConfigError, Credentials, Secret};
pub use server::{Engine, EngineError, run, shutdown_signal};

/// The platforms the engine answers, one webhook route each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// LINE Messaging API.
    Line,
    /// Slack Events API.
    Slack,
    /// Telegram Bot API.
    Telegram,
    /// Discord interactions.
    Discord,
    /// The generic signed JSON webhook (`webhook` in a Bot's `spec.platform`).
    Generic,
}

impl Platform {
    /// All of them.
    pub const ALL: [Platform; 5] =
        [Platform::Line, Platform::Slack, Platform::Telegram, Platform::Discord, Platform::Generic];

    /// The name in routes, logs and metric labels: `line`, `slack`, `telegram`, `discord`, `generic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Line => "line",
            Platform::Slack => "slack",
            Platform::Telegram => "telegram",
            Platform::Discord => "discord",
            Platform::Generic => "generic",
        }
    }

    /// The webhook route, e.g. `/webhook/line`.
    pub fn route(self) -> &'static str {
        match self {
            Platform::Line => "/webhook/line",
            Platform::Slack => "/webhook/slack",
            Platform::Telegram => "/webhook/telegram",
            Platform::Discord => "/webhook/discord",
            Platform::Generic => "/webhook/generic",
        }
    }
}

impl From<bot_api::v1alpha1::Platform> for Platform {
    fn from(platform: bot_api::v1alpha1::Platform) -> Self {
        use bot_api::v1alpha1::Platform as Api;
        match platform {
            Api::Line => Platform::Line,
            Api::Slack => Platform::Slack,
            Api::Telegram => Platform::Telegram,
            Api::Discord => Platform::Discord,
            Api::Webhook => Platform::Generic,
        }
    }
}
