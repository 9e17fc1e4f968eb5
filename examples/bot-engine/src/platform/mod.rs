//! One module per platform: its webhook payloads, its route's handler and its reply calls.

pub(crate) mod discord;
#[cfg(test)]
mod fuzz;
pub(crate) mod generic;
pub(crate) mod line;
pub(crate) mod slack;
pub(crate) mod telegram;

use crate::Platform;
use crate::config::Credentials;

/// Why a verified webhook body could not be used (answered 400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PayloadError {
    /// Not JSON of the platform's shape.
    #[error("malformed payload: {0}")]
    Json(#[from] serde_json::Error),
    /// A shape the engine does not handle.
    #[error("unsupported payload: {0}")]
    Unsupported(String),
}

/// Whether `platform`'s credentials, hence its route, are configured.
pub(crate) fn configured(credentials: &Credentials, platform: Platform) -> bool {
    match platform {
        Platform::Line => credentials.line.is_some(),
        Platform::Slack => credentials.slack.is_some(),
        Platform::Telegram => credentials.telegram.is_some(),
        Platform::Discord => credentials.discord.is_some(),
        Platform::Generic => credentials.generic.is_some(),
    }
}
