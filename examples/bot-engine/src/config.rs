//! Engine configuration: read from the environment the operator's Deployment sets, or built in code.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BOT_NAME` | the Bot's name (logs) | `bot` |
//! | `BOT_PLATFORM` | `line`, `slack`, `telegram`, `discord` or `webhook`; picks the credentials read below | required |
//! | `BOT_LOG_LEVEL` | `debug`, `info`, `warn`, `error` (`RUST_LOG` overrides it) | `info` |
//! | `BOT_PORT` | listen port | `8080` |
//! | `BOT_BIND_ADDRESS` | listen address | `0.0.0.0` |
//! | `BOT_RULES` | path of `rules.json` | `/etc/bot/rules.json` |
//! | `BOT_API_BASE_URL` | base URL of the platform's reply API, overriding the platform default | see [`ApiBases`] |
//! | `BOT_BODY_LIMIT` | largest webhook body accepted, in bytes (larger: 413) | `1048576` |
//! | `BOT_RULES_POLL_SECONDS` | period of the rules poll that backs up file notifications | `10` |
//!
//! The credentials come from the Bot's Secret (`envFrom`: each key becomes a variable of the same name). Only
//! `BOT_PLATFORM`'s keys are read, since Slack and Telegram both name theirs `botToken`:
//!
//! | platform | keys |
//! |---|---|
//! | `line` | [`LINE_CHANNEL_SECRET`], [`LINE_CHANNEL_TOKEN`] |
//! | `slack` | [`SLACK_SIGNING_SECRET`], [`SLACK_BOT_TOKEN`] |
//! | `telegram` | [`TELEGRAM_SECRET_TOKEN`], [`TELEGRAM_BOT_TOKEN`] |
//! | `discord` | [`DISCORD_PUBLIC_KEY`] |
//! | `webhook` | [`WEBHOOK_SECRET`] |

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bot_api::v1alpha1::LogLevel;
use ed25519_dalek::VerifyingKey;

use crate::Platform;
use crate::reply::RetryPolicy;

/// Secret key: LINE channel secret (signs webhooks).
pub const LINE_CHANNEL_SECRET: &str = "channelSecret";
/// Secret key: LINE channel access token (authorizes replies).
pub const LINE_CHANNEL_TOKEN: &str = "channelToken";
/// Secret key: Slack app signing secret (signs Events API requests).
pub const SLACK_SIGNING_SECRET: &str = "signingSecret";
/// Secret key: Slack bot token `xoxb-...` (authorizes `chat.postMessage`).
pub const SLACK_BOT_TOKEN: &str = "botToken";
/// Secret key: the `secret_token` given to Telegram's `setWebhook` (sent back in every update).
pub const TELEGRAM_SECRET_TOKEN: &str = "secretToken";
/// Secret key: Telegram bot token (authorizes `sendMessage`).
pub const TELEGRAM_BOT_TOKEN: &str = "botToken";
/// Secret key: Discord application public key, hex (verifies interactions).
pub const DISCORD_PUBLIC_KEY: &str = "publicKey";
/// Secret key: shared secret of the generic webhook (signs requests).
pub const WEBHOOK_SECRET: &str = "webhookSecret";

/// Default largest webhook body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Default listen port.
pub const DEFAULT_PORT: u16 = 8080;
/// Default [`ConfigBuilder::max_pending_replies`].
pub const DEFAULT_MAX_PENDING_REPLIES: usize = 1024;
/// Default path of the rules file (where the operator mounts the `<bot>-rules` ConfigMap).
pub const DEFAULT_RULES_PATH: &str = "/etc/bot/rules.json";

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable has a value the engine cannot use. The value is only quoted for non-secret variables.
    #[error("{name}: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// A credential: its `Debug` prints `***`, it has no `Display`, and the value is only reachable through
/// [`Secret::expose`], so it cannot end up in a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The value, for signing or an `Authorization` header; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// LINE Messaging API credentials.
#[derive(Clone, Debug)]
pub struct LineCredentials {
    /// Channel secret: the HMAC key of `X-Line-Signature`.
    pub channel_secret: Secret,
    /// Channel access token: `Authorization: Bearer` of the reply API.
    pub channel_token: Secret,
}

/// Slack Events API credentials.
#[derive(Clone, Debug)]
pub struct SlackCredentials {
    /// Signing secret: the HMAC key of `X-Slack-Signature`.
    pub signing_secret: Secret,
    /// Bot token: `Authorization: Bearer` of `chat.postMessage`.
    pub bot_token: Secret,
}

/// Telegram Bot API credentials.
#[derive(Clone, Debug)]
pub struct TelegramCredentials {
    /// The webhook's `secret_token`, echoed in `X-Telegram-Bot-Api-Secret-Token`.
    pub secret_token: Secret,
    /// Bot token: part of the API URL (`/bot<token>/sendMessage`).
    pub bot_token: Secret,
}

/// Discord interactions credentials.
#[derive(Clone, Debug)]
pub struct DiscordCredentials {
    /// The application's Ed25519 public key.
    pub public_key: VerifyingKey,
}

impl DiscordCredentials {
    /// Parses the hex public key shown in the Discord developer portal.
    pub fn from_hex(public_key: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid { name: DISCORD_PUBLIC_KEY, reason: reason.to_owned() };
        let bytes = hex::decode(public_key.trim()).map_err(|_| invalid("not hex"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| invalid("not 32 bytes"))?;
        let public_key = VerifyingKey::from_bytes(&bytes).map_err(|_| invalid("not an Ed25519 public key"))?;
        Ok(Self { public_key })
    }
}

/// Generic webhook credentials.
#[derive(Clone, Debug)]
pub struct GenericCredentials {
    /// Shared secret: the HMAC key of `X-Bot-Signature`.
    pub webhook_secret: Secret,
}

/// The credentials of each platform; a platform without them has no route (its webhook answers 404).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// LINE.
    pub line: Option<LineCredentials>,
    /// Slack.
    pub slack: Option<SlackCredentials>,
    /// Telegram.
    pub telegram: Option<TelegramCredentials>,
    /// Discord.
    pub discord: Option<DiscordCredentials>,
    /// Generic webhook.
    pub generic: Option<GenericCredentials>,
}

/// Base URLs of the platforms' reply APIs (no trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiBases {
    /// Default `https://api.line.me`.
    pub line: String,
    /// Default `https://slack.com/api`.
    pub slack: String,
    /// Default `https://api.telegram.org`.
    pub telegram: String,
}

impl Default for ApiBases {
    fn default() -> Self {
        Self {
            line: "https://api.line.me".into(),
            slack: "https://slack.com/api".into(),
            telegram: "https://api.telegram.org".into(),
        }
    }
}

impl ApiBases {
    /// Sets the base of `platform` (Discord and the generic webhook reply in the HTTP response: ignored).
    pub fn set(&mut self, platform: Platform, base: &str) {
        let base = base.trim_end_matches('/').to_owned();
        match platform {
            Platform::Line => self.line = base,
            Platform::Slack => self.slack = base,
            Platform::Telegram => self.telegram = base,
            Platform::Discord | Platform::Generic => {}
        }
    }
}

/// Everything the engine needs; from [`Config::from_env`] or [`Config::builder`].
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) bot_name: String,
    pub(crate) platform: Option<Platform>,
    pub(crate) log_level: LogLevel,
    pub(crate) listen: SocketAddr,
    pub(crate) rules_path: PathBuf,
    pub(crate) body_limit: usize,
    pub(crate) credentials: Credentials,
    pub(crate) api_bases: ApiBases,
    pub(crate) rules_poll_interval: Duration,
    pub(crate) rules_debounce: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) http_timeout: Duration,
    pub(crate) replay_window: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) max_pending_replies: usize,
}

impl Config {
    /// A builder with the defaults, no credentials and no platform.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// Reads the process environment (see the [module docs](self)).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let platform_text = get("BOT_PLATFORM").ok_or(ConfigError::Missing("BOT_PLATFORM"))?;
        let platform: bot_api::v1alpha1::Platform =
            serde_json::from_value(serde_json::Value::String(platform_text.trim().to_owned())).map_err(|_| {
                ConfigError::Invalid {
                    name: "BOT_PLATFORM",
                    reason: format!("{platform_text:?} is not one of line, slack, telegram, discord, webhook"),
                }
            })?;
        let platform = Platform::from(platform);
        let mut builder = Config::builder().platform(platform).credentials(credentials_from(platform, &get)?);
        if let Some(name) = get("BOT_NAME") {
            builder = builder.bot_name(name);
        }
        if let Some(level) = get("BOT_LOG_LEVEL") {
            builder = builder.log_level(parse_log_level(&level)?);
        }
        if let Some(port) = get("BOT_PORT") {
            builder = builder.port(parse_number("BOT_PORT", &port)?);
        }
        if let Some(addr) = get("BOT_BIND_ADDRESS") {
            let ip = addr.trim().parse().map_err(|e| invalid("BOT_BIND_ADDRESS", &addr, e))?;
            builder = builder.bind_address(ip);
        }
        if let Some(path) = get("BOT_RULES") {
            builder = builder.rules_path(path);
        }
        if let Some(base) = get("BOT_API_BASE_URL") {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(invalid("BOT_API_BASE_URL", &base, "not an http(s) URL"));
            }
            builder = builder.api_base(platform, &base);
        }
        if let Some(limit) = get("BOT_BODY_LIMIT") {
            builder = builder.body_limit(parse_number("BOT_BODY_LIMIT", &limit)?);
        }
        if let Some(secs) = get("BOT_RULES_POLL_SECONDS") {
            let secs: u64 = parse_number("BOT_RULES_POLL_SECONDS", &secs)?;
            builder = builder.rules_poll_interval(Duration::from_secs(secs.max(1)));
        }
        Ok(builder.build())
    }

    /// The Bot's name.
    pub fn bot_name(&self) -> &str {
        &self.bot_name
    }

    /// The platform `BOT_PLATFORM` named, if any.
    pub fn platform(&self) -> Option<Platform> {
        self.platform
    }

    /// The log level (`BOT_LOG_LEVEL`).
    pub fn log_level(&self) -> LogLevel {
        self.log_level
    }

    /// Where the server listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The rules file.
    pub fn rules_path(&self) -> &Path {
        &self.rules_path
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }
}

fn credentials_from(platform: Platform, get: &dyn Fn(&str) -> Option<String>) -> Result<Credentials, ConfigError> {
    // Trimmed: a Secret made with `--from-file` usually ends in a newline, which no platform's credential
    // contains; kept, it would make every signature mismatch and corrupt the Telegram API path.
    let secret = |key: &'static str| get(key).map(|v| Secret::new(v.trim())).ok_or(ConfigError::Missing(key));
    let mut credentials = Credentials::default();
    match platform {
        Platform::Line => {
            credentials.line = Some(LineCredentials {
                channel_secret: secret(LINE_CHANNEL_SECRET)?,
                channel_token: secret(LINE_CHANNEL_TOKEN)?,
            });
        }
        Platform::Slack => {
            credentials.slack = Some(SlackCredentials {
                signing_secret: secret(SLACK_SIGNING_SECRET)?,
                bot_token: secret(SLACK_BOT_TOKEN)?,
            });
        }
        Platform::Telegram => {
            credentials.telegram = Some(TelegramCredentials {
                secret_token: secret(TELEGRAM_SECRET_TOKEN)?,
                bot_token: secret(TELEGRAM_BOT_TOKEN)?,
            });
        }
        Platform::Discord => {
            let key = get(DISCORD_PUBLIC_KEY).ok_or(ConfigError::Missing(DISCORD_PUBLIC_KEY))?;
            credentials.discord = Some(DiscordCredentials::from_hex(&key)?);
        }
        Platform::Generic => {
            credentials.generic = Some(GenericCredentials { webhook_secret: secret(WEBHOOK_SECRET)? });
        }
    }
    Ok(credentials)
}

fn parse_log_level(text: &str) -> Result<LogLevel, ConfigError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "debug" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "warn" => Ok(LogLevel::Warn),
        "error" => Ok(LogLevel::Error),
        _ => Err(invalid("BOT_LOG_LEVEL", text, "expected debug, info, warn or error")),
    }
}

fn parse_number<T: std::str::FromStr>(name: &'static str, text: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    text.trim().parse().map_err(|e| invalid(name, text, e))
}

fn invalid(name: &'static str, value: &str, reason: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid { name, reason: format!("{value:?}: {reason}") }
}

/// The `tracing` filter directive of a level.
pub fn log_directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

/// Builds a [`Config`]; every setter documents its default.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    config: Config,
}

impl Default for ConfigBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                bot_name: "bot".into(),
                platform: None,
                log_level: LogLevel::Info,
                listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
                rules_path: PathBuf::from(DEFAULT_RULES_PATH),
                body_limit: DEFAULT_BODY_LIMIT,
                credentials: Credentials::default(),
                api_bases: ApiBases::default(),
                rules_poll_interval: Duration::from_secs(10),
                rules_debounce: Duration::from_millis(100),
                retry: RetryPolicy::default(),
                http_timeout: Duration::from_secs(10),
                replay_window: Duration::from_secs(5 * 60),
                shutdown_grace: Duration::from_secs(10),
                max_pending_replies: DEFAULT_MAX_PENDING_REPLIES,
            },
        }
    }
}

impl ConfigBuilder {
    /// The Bot's name. Default `bot`.
    pub fn bot_name(mut self, name: impl Into<String>) -> Self {
        self.config.bot_name = name.into();
        self
    }

    /// The Bot's platform (informational; routes follow the credentials). Default none.
    pub fn platform(mut self, platform: Platform) -> Self {
        self.config.platform = Some(platform);
        self
    }

    /// Log level. Default `info`.
    pub fn log_level(mut self, level: LogLevel) -> Self {
        self.config.log_level = level;
        self
    }

    /// Listen address. Default `0.0.0.0`.
    pub fn bind_address(mut self, ip: IpAddr) -> Self {
        self.config.listen.set_ip(ip);
        self
    }

    /// Listen port; 0 picks a free one (see [`Engine::local_addr`](crate::Engine::local_addr)). Default 8080.
    pub fn port(mut self, port: u16) -> Self {
        self.config.listen.set_port(port);
        self
    }

    /// The rules file. Default `/etc/bot/rules.json`.
    pub fn rules_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.rules_path = path.into();
        self
    }

    /// Largest webhook body in bytes; larger ones are answered 413. Default 1 MiB.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.config.body_limit = bytes;
        self
    }

    /// All credentials at once. Default none (every webhook route answers 404).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.config.credentials = credentials;
        self
    }

    /// LINE credentials (enables `POST /webhook/line`).
    pub fn line(mut self, channel_secret: &str, channel_token: &str) -> Self {
        self.config.credentials.line = Some(LineCredentials {
            channel_secret: Secret::new(channel_secret),
            channel_token: Secret::new(channel_token),
        });
        self
    }

    /// Slack credentials (enables `POST /webhook/slack`).
    pub fn slack(mut self, signing_secret: &str, bot_token: &str) -> Self {
        self.config.credentials.slack =
            Some(SlackCredentials { signing_secret: Secret::new(signing_secret), bot_token: Secret::new(bot_token) });
        self
    }

    /// Telegram credentials (enables `POST /webhook/telegram`).
    pub fn telegram(mut self, secret_token: &str, bot_token: &str) -> Self {
        self.config.credentials.telegram =
            Some(TelegramCredentials { secret_token: Secret::new(secret_token), bot_token: Secret::new(bot_token) });
        self
    }

    /// Discord credentials (enables `POST /webhook/discord`).
    pub fn discord(mut self, public_key: VerifyingKey) -> Self {
        self.config.credentials.discord = Some(DiscordCredentials { public_key });
        self
    }

    /// Generic webhook credentials (enables `POST /webhook/generic`).
    pub fn generic(mut self, webhook_secret: &str) -> Self {
        self.config.credentials.generic = Some(GenericCredentials { webhook_secret: Secret::new(webhook_secret) });
        self
    }

    /// Base URL of `platform`'s reply API. Defaults in [`ApiBases`].
    pub fn api_base(mut self, platform: Platform, base: &str) -> Self {
        self.config.api_bases.set(platform, base);
        self
    }

    /// Period of the rules poll backing up file notifications (at least 10 ms). Default 10 s.
    pub fn rules_poll_interval(mut self, interval: Duration) -> Self {
        self.config.rules_poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Wait after a file notification before reading, so a burst of events gives one reload. Default 100 ms.
    pub fn rules_debounce(mut self, debounce: Duration) -> Self {
        self.config.rules_debounce = debounce;
        self
    }

    /// Retries of reply API calls. Default [`RetryPolicy::default`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Timeout of one reply API call. Default 10 s.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.config.http_timeout = timeout;
        self
    }

    /// How far a signed timestamp (Slack, generic webhook) may be from now. Default 5 minutes.
    pub fn replay_window(mut self, window: Duration) -> Self {
        self.config.replay_window = window;
        self
    }

    /// How long shutdown waits for replies still being sent. Default 10 s.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.config.shutdown_grace = grace;
        self
    }

    /// Most webhooks whose replies may be pending (being sent or waiting for a retry) at once; the replies of
    /// a webhook beyond it are dropped (logged, counted as `dropped`), so a burst of webhooks while the reply
    /// API is slow or down cannot grow memory and tasks without bound. At least 1. Default
    /// [`DEFAULT_MAX_PENDING_REPLIES`].
    pub fn max_pending_replies(mut self, n: usize) -> Self {
        self.config.max_pending_replies = n.max(1);
        self
    }

    /// The configuration.
    pub fn build(self) -> Config {
        self.config
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_the_operators_environment() {
        let config = Config::from_lookup(lookup(&[
            ("BOT_NAME", "greeter"),
            ("BOT_PLATFORM", "line"),
            ("BOT_LOG_LEVEL", "debug"),
            ("BOT_PORT", "9000"),
            ("BOT_RULES", "/tmp/r.json"),
            ("BOT_API_BASE_URL", "http://127.0.0.1:9/"),
            ("channelSecret", "s3cret"),
            ("channelToken", "t0ken"),
            ("botToken", "not-ours"),
        ]))
        .unwrap();
        assert_eq!(config.bot_name(), "greeter");
        assert_eq!(config.platform(), Some(Platform::Line));
        assert_eq!(config.log_level(), LogLevel::Debug);
        assert_eq!(config.listen().port(), 9000);
        assert_eq!(config.rules_path(), Path::new("/tmp/r.json"));
        assert_eq!(config.api_bases.line, "http://127.0.0.1:9");
        assert_eq!(config.api_bases.slack, "https://slack.com/api");
        let line = config.credentials().line.as_ref().unwrap();
        assert_eq!(line.channel_secret.expose(), "s3cret");
        assert!(config.credentials().slack.is_none() && config.credentials().telegram.is_none());
    }

    #[test]
    fn webhook_platform_enables_the_generic_route() {
        let config = Config::from_lookup(lookup(&[("BOT_PLATFORM", "webhook"), ("webhookSecret", "w")])).unwrap();
        assert_eq!(config.platform(), Some(Platform::Generic));
        assert!(config.credentials().generic.is_some());
    }

    #[test]
    fn missing_and_invalid_values_are_named() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err.to_string(), "BOT_PLATFORM is not set");
        let err = Config::from_lookup(lookup(&[("BOT_PLATFORM", "irc")])).unwrap_err();
        assert!(err.to_string().contains("not one of"), "{err}");
        let err = Config::from_lookup(lookup(&[("BOT_PLATFORM", "slack"), ("signingSecret", "x")])).unwrap_err();
        assert_eq!(err.to_string(), "botToken is not set");
        let err = Config::from_lookup(lookup(&[("BOT_PLATFORM", "discord"), ("publicKey", "zz")])).unwrap_err();
        assert_eq!(err.to_string(), "publicKey: not hex");
        let err =
            Config::from_lookup(lookup(&[("BOT_PLATFORM", "webhook"), ("webhookSecret", "w"), ("BOT_PORT", "http")]))
                .unwrap_err();
        assert!(err.to_string().starts_with("BOT_PORT: \"http\""), "{err}");
        let err = Config::from_lookup(lookup(&[
            ("BOT_PLATFORM", "webhook"),
            ("webhookSecret", "w"),
            ("BOT_API_BASE_URL", "api.line.me"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("not an http(s) URL"), "{err}");
    }

    #[test]
    fn credentials_lose_surrounding_whitespace() {
        // `kubectl create secret generic --from-file=channelSecret=./secret.txt` keeps the file's newline.
        let config = Config::from_lookup(lookup(&[
            ("BOT_PLATFORM", "line"),
            ("channelSecret", "s3cret\n"),
            ("channelToken", " t0ken\r\n"),
        ]))
        .unwrap();
        let line = config.credentials().line.as_ref().unwrap();
        assert_eq!((line.channel_secret.expose(), line.channel_token.expose()), ("s3cret", "t0ken"));
        let config = Config::from_lookup(lookup(&[
            ("BOT_PLATFORM", "telegram"),
            ("secretToken", "abc\n"),
            ("botToken", "1:X\n"),
        ]))
        .unwrap();
        let telegram = config.credentials().telegram.as_ref().unwrap();
        assert_eq!((telegram.secret_token.expose(), telegram.bot_token.expose()), ("abc", "1:X"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = Config::builder()
            .line("line-secret-value", "line-token-value")
            .slack("slack-signing-value", "xoxb-slack-token")
            .build();
        let debug = format!("{config:?}");
        for secret in ["line-secret-value", "line-token-value", "slack-signing-value", "xoxb-slack-token"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("***"));
    }
}
