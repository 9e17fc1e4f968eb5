//! Helpers shared by the integration tests (`mod common;` in each file).

use std::{future::Future, time::Duration};

/// How long [`eventually`] waits by default: generous, since CI machines
/// can be slow; a passing check returns at once.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(60);

/// Polls `check` every 100 ms until it yields `Some`, for at most [`TIMEOUT`].
#[allow(dead_code)]
pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    eventually_within(TIMEOUT, what, check).await
}

/// Polls `check` every 100 ms until it yields `Some`, for at most `timeout`;
/// an error from `check` ends the wait at once.
#[allow(dead_code)]
pub(crate) async fn eventually_within<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
