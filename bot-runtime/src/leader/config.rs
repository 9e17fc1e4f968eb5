//! [`LeaderElectionConfig`]: which Lease, who we are, and the timings.

use std::time::Duration;

use super::{Error, Result};

/// Default [`LeaderElectionConfig::lease_duration`] (client-go's and kube-controller-manager's).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// Default [`LeaderElectionConfig::renew_deadline`].
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// Default [`LeaderElectionConfig::retry_period`].
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);
/// client-go's `JitterFactor`: a candidate waits between `retry_period` and
/// `retry_period * (1 + JITTER_FACTOR)` between tries, and the renew deadline
/// must exceed `retry_period * JITTER_FACTOR`.
pub const JITTER_FACTOR: f64 = 1.2;

/// Where and how to elect a leader.
///
/// Built with [`new`](Self::new) and by-value setters; [`validate`](Self::validate)
/// (called by [`LeaderElector::new`](super::LeaderElector::new)) checks
/// `lease_duration > renew_deadline > retry_period * JITTER_FACTOR > 0`.
///
/// The safety argument: a leader stops acting at most `renew_deadline` after
/// *sending* its last successful renew, while a follower waits
/// `lease_duration` after it *observed* that renew (which is later), on its
/// own monotonic clock. So `renew_deadline < lease_duration` means no two
/// replicas act at once, whatever the wall clocks say; the difference is the
/// margin for scheduling delays.
///
/// ```
/// use std::time::Duration;
/// use bot_runtime::leader::LeaderElectionConfig;
///
/// let config = LeaderElectionConfig::new("my-operator", "operators")
///     .identity("replica-a")
///     .lease_duration(Duration::from_secs(15))
///     .renew_deadline(Duration::from_secs(10))
///     .retry_period(Duration::from_secs(2));
/// assert!(config.validate().is_ok());
/// assert!(config.clone().renew_deadline(Duration::from_secs(20)).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderElectionConfig {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity, written to the Lease's `holderIdentity`.
    pub identity: String,
    /// See [`lease_duration`](Self::lease_duration()).
    pub lease_duration: Duration,
    /// See [`renew_deadline`](Self::renew_deadline()).
    pub renew_deadline: Duration,
    /// See [`retry_period`](Self::retry_period()).
    pub retry_period: Duration,
    /// See [`release_on_cancel`](Self::release_on_cancel()).
    pub release_on_cancel: bool,
}

impl LeaderElectionConfig {
    /// Elect on the Lease `lease_name` in `namespace`, as [`default_identity`],
    /// with the default timings (15 s / 10 s / 2 s) and `release_on_cancel`.
    pub fn new(lease_name: impl Into<String>, namespace: impl Into<String>) -> Self {
        Self {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: default_identity(),
            lease_duration: DEFAULT_LEASE_DURATION,
            renew_deadline: DEFAULT_RENEW_DEADLINE,
            retry_period: DEFAULT_RETRY_PERIOD,
            release_on_cancel: true,
        }
    }

    /// Sets this replica's identity (default [`default_identity`]). Every
    /// replica needs a distinct one: two replicas with the same identity both
    /// believe they hold the lease.
    #[must_use]
    pub fn identity(mut self, identity: impl Into<String>) -> Self {
        self.identity = identity.into();
        self
    }

    /// Appends `_` and 16 random hex digits to the identity (client-go's
    /// `hostname_uuid` convention), so replicas sharing a host name, or a
    /// restarted process, never share an identity.
    #[must_use]
    pub fn with_random_suffix(mut self) -> Self {
        self.identity = format!("{}_{:016x}", self.identity, random_u64());
        self
    }

    /// How long followers wait, after they last saw the lease change, before
    /// taking it over (default 15 s). Written to the Lease as whole seconds,
    /// so it must be a whole number of seconds.
    #[must_use]
    pub fn lease_duration(mut self, d: Duration) -> Self {
        self.lease_duration = d;
        self
    }

    /// How long the leader keeps acting without a successful renew, counted
    /// from the moment it sent the last successful one (default 10 s). Must be
    /// shorter than the lease duration.
    #[must_use]
    pub fn renew_deadline(mut self, d: Duration) -> Self {
        self.renew_deadline = d;
        self
    }

    /// How often the leader renews and a candidate retries (default 2 s; a
    /// candidate's wait is jittered by up to [`JITTER_FACTOR`] times this).
    #[must_use]
    pub fn retry_period(mut self, d: Duration) -> Self {
        self.retry_period = d;
        self
    }

    /// Whether a leader that stops gracefully (shutdown, or its work ends)
    /// releases the lease, so that a follower takes over at once instead of
    /// after `lease_duration` (default true).
    #[must_use]
    pub fn release_on_cancel(mut self, release: bool) -> Self {
        self.release_on_cancel = release;
        self
    }

    /// Checks names and timings (client-go's `NewLeaderElector` checks, plus
    /// whole-second lease durations so the Lease says exactly what we wait).
    pub fn validate(&self) -> Result<()> {
        if self.lease_name.is_empty() || self.namespace.is_empty() {
            return Err(Error::MissingLease);
        }
        if self.identity.is_empty() {
            return Err(Error::EmptyIdentity);
        }
        for (name, d) in [
            ("lease_duration", self.lease_duration),
            ("renew_deadline", self.renew_deadline),
            ("retry_period", self.retry_period),
        ] {
            if d.is_zero() {
                return Err(Error::ZeroDuration(name));
            }
        }
        if self.lease_duration.subsec_nanos() != 0 || i32::try_from(self.lease_duration.as_secs()).is_err() {
            return Err(Error::LeaseDurationNotWholeSeconds(self.lease_duration));
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(Error::LeaseDurationNotAboveRenewDeadline {
                lease_duration: self.lease_duration,
                renew_deadline: self.renew_deadline,
            });
        }
        if self.renew_deadline.as_secs_f64() <= self.retry_period.as_secs_f64() * JITTER_FACTOR {
            return Err(Error::RenewDeadlineNotAboveJitteredRetry {
                renew_deadline: self.renew_deadline,
                retry_period: self.retry_period,
            });
        }
        Ok(())
    }

    /// The lease duration as the Lease's `leaseDurationSeconds` (valid configs only).
    pub(super) fn lease_duration_seconds(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// The default identity: `$POD_NAME` when set (the Downward API's
/// `metadata.name`, unique per pod), else the host name (which in a pod is
/// the pod's name too), else `"unknown"`.
pub fn default_identity() -> String {
    if let Some(pod) = std::env::var("POD_NAME").ok().filter(|s| !s.trim().is_empty()) {
        return pod.trim().to_owned();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A random number from the standard library's randomly seeded hasher (no
/// extra dependency; good enough for identities and jitter, not for crypto).
pub(super) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// `d * (1 + r * JITTER_FACTOR)` with `r` uniform in `[0, 1)` (client-go's `wait.Jitter`).
pub(super) fn jittered(d: Duration) -> Duration {
    #[allow(clippy::cast_precision_loss)] // 53 random bits fit an f64 exactly
    let r = (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(1.0 + r * JITTER_FACTOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(lease: u64, renew_ms: u64, retry_ms: u64) -> LeaderElectionConfig {
        LeaderElectionConfig::new("l", "ns")
            .identity("me")
            .lease_duration(Duration::from_secs(lease))
            .renew_deadline(Duration::from_millis(renew_ms))
            .retry_period(Duration::from_millis(retry_ms))
    }

    #[test]
    fn defaults_are_client_go_s_and_valid() {
        let c = LeaderElectionConfig::new("l", "ns");
        assert_eq!(c.lease_duration, Duration::from_secs(15));
        assert_eq!(c.renew_deadline, Duration::from_secs(10));
        assert_eq!(c.retry_period, Duration::from_secs(2));
        assert!(c.release_on_cancel);
        assert!(!c.identity.is_empty());
        c.validate().unwrap();
        assert_eq!(c.lease_duration_seconds(), 15);
    }

    #[test]
    fn validation_rejects_unsafe_timings() {
        timings(3, 2000, 500).validate().unwrap();
        assert!(matches!(timings(3, 3000, 500).validate(), Err(Error::LeaseDurationNotAboveRenewDeadline { .. })));
        assert!(matches!(timings(3, 4000, 500).validate(), Err(Error::LeaseDurationNotAboveRenewDeadline { .. })));
        // 1.2 x 500 ms = 600 ms: the deadline must be strictly above it.
        assert!(matches!(timings(3, 600, 500).validate(), Err(Error::RenewDeadlineNotAboveJitteredRetry { .. })));
        timings(3, 601, 500).validate().unwrap();
        assert!(matches!(timings(3, 2000, 0).validate(), Err(Error::ZeroDuration("retry_period"))));
        assert!(matches!(timings(3, 0, 0).validate(), Err(Error::ZeroDuration("renew_deadline"))));
        assert!(matches!(timings(0, 0, 0).validate(), Err(Error::ZeroDuration("lease_duration"))));
        let fractional = timings(3, 2000, 500).lease_duration(Duration::from_millis(3500));
        assert!(matches!(fractional.validate(), Err(Error::LeaseDurationNotWholeSeconds(_))));
        assert!(matches!(timings(3, 2000, 500).identity("").validate(), Err(Error::EmptyIdentity)));
        assert!(matches!(LeaderElectionConfig::new("", "ns").validate(), Err(Error::MissingLease)));
    }

    #[test]
    fn random_suffix_makes_identities_distinct() {
        let a = LeaderElectionConfig::new("l", "ns").identity("host").with_random_suffix();
        let b = LeaderElectionConfig::new("l", "ns").identity("host").with_random_suffix();
        assert!(a.identity.starts_with("host_"));
        assert_eq!(a.identity.len(), "host_".len() + 16);
        assert_ne!(a.identity, b.identity);
    }

    #[test]
    fn jitter_stays_within_client_go_bounds() {
        let d = Duration::from_millis(500);
        for _ in 0..1000 {
            let j = jittered(d);
            assert!(j >= d && j < d.mul_f64(1.0 + JITTER_FACTOR), "{j:?}");
        }
    }
}
