//! What a replica knows of the Lease, and the pure decision of
//! client-go's `tryAcquireOrRenew` (no I/O, so unit tests drive the clock).

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
    jiff::Timestamp,
};
use tokio::time::Instant;

/// The Lease as last seen, and *when we first saw its current spec*, on our
/// own monotonic clock (client-go's `observedRecord` / `observedTime`).
///
/// Expiry is judged only from that local instant: the remote `renewTime` is
/// never compared with our wall clock, so clock skew between replicas cannot
/// make a live lease look expired.
#[derive(Clone, Debug)]
pub(super) struct Observed {
    /// The whole object: its `resourceVersion` makes our next write conditional.
    pub(super) lease: Lease,
    /// When the spec last changed, as far as we know.
    pub(super) at: Instant,
}

impl Observed {
    /// Records `lease` seen at `now`; the observation instant moves only if
    /// the spec differs from the previous observation (a renew changes
    /// `renewTime`, so a live leader keeps moving it).
    pub(super) fn update(previous: Option<&Observed>, lease: Lease, now: Instant) -> Observed {
        let at = match previous {
            Some(prev) if prev.lease.spec == lease.spec => prev.at,
            _ => now,
        };
        Observed { lease, at }
    }

    /// The holder, `None` when absent or empty (a released lease).
    pub(super) fn holder(&self) -> Option<&str> {
        self.spec().and_then(|s| s.holder_identity.as_deref()).filter(|h| !h.is_empty())
    }

    /// The lease duration the holder announced.
    pub(super) fn duration(&self) -> Duration {
        let secs = self.spec().and_then(|s| s.lease_duration_seconds).unwrap_or(0);
        Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }

    /// The instant from which, absent any further change, the lease is
    /// expired for us.
    pub(super) fn expires_at(&self) -> Instant {
        self.at + self.duration()
    }

    /// The Lease's `leaseTransitions`.
    pub(super) fn transitions(&self) -> i32 {
        self.spec().and_then(|s| s.lease_transitions).unwrap_or(0)
    }

    fn spec(&self) -> Option<&LeaseSpec> {
        self.lease.spec.as_ref()
    }
}

/// What to do after looking at the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Another replica holds an unexpired lease: wait (at most until `until`).
    Wait {
        /// The holder.
        holder: String,
        /// When the lease expires for us unless it changes.
        until: Instant,
    },
    /// Write the lease as ours: a renew when we already hold it, else a
    /// takeover (free, released or expired lease).
    Take,
}

/// client-go's rule: a lease held by someone else and unexpired per our
/// observation is left alone; anything else (ours, free, expired) we write.
pub(super) fn decide(observed: &Observed, identity: &str, now: Instant) -> Decision {
    match observed.holder() {
        Some(holder) if holder != identity && observed.expires_at() > now => {
            Decision::Wait { holder: holder.to_owned(), until: observed.expires_at() }
        }
        _ => Decision::Take,
    }
}

/// The spec we write to hold the lease: a renew keeps `acquireTime` and
/// `leaseTransitions`; a takeover sets `acquireTime` to now and bumps
/// `leaseTransitions` (client-go bumps whenever the lease was not ours).
pub(super) fn held_spec(previous: Option<&Observed>, identity: &str, lease_duration_seconds: i32) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    let (acquire_time, transitions) = match previous {
        Some(prev) if prev.holder() == Some(identity) => (
            prev.lease.spec.as_ref().and_then(|s| s.acquire_time.clone()).unwrap_or_else(|| now.clone()),
            prev.transitions(),
        ),
        Some(prev) => (now.clone(), prev.transitions().saturating_add(1)),
        None => (now.clone(), 0),
    };
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(lease_duration_seconds),
        acquire_time: Some(acquire_time),
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// The spec of a released lease (client-go's `release`): no holder, a
/// one-second duration and fresh times, transitions kept.
pub(super) fn released_spec(previous: &Observed) -> LeaseSpec {
    let now = MicroTime(Timestamp::now());
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(now.clone()),
        renew_time: Some(now),
        lease_transitions: Some(previous.transitions()),
        ..LeaseSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, secs: i32, renew_nanos: i64, transitions: i32) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                holder_identity: holder.map(str::to_owned),
                lease_duration_seconds: Some(secs),
                renew_time: Some(MicroTime(Timestamp::from_nanosecond(i128::from(renew_nanos)).unwrap())),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn expiry_counts_from_our_observation_not_the_remote_renew_time() {
        let t0 = Instant::now();
        // The remote renewTime says 1970: a wall-clock comparison would call it
        // long expired. We have just seen it, so it is valid for 15 s.
        let seen = Observed::update(None, lease(Some("other"), 15, 0, 3), t0);
        assert_eq!(
            decide(&seen, "me", t0),
            Decision::Wait { holder: "other".into(), until: t0 + Duration::from_secs(15) }
        );
        assert!(matches!(decide(&seen, "me", t0 + Duration::from_millis(14_999)), Decision::Wait { .. }));
        assert_eq!(decide(&seen, "me", t0 + Duration::from_secs(15)), Decision::Take);
    }

    #[test]
    fn an_unchanged_record_keeps_its_observation_instant_and_a_renewed_one_restarts_it() {
        let t0 = Instant::now();
        let seen = Observed::update(None, lease(Some("other"), 15, 1, 0), t0);
        let t1 = t0 + Duration::from_secs(10);
        let same = Observed::update(Some(&seen), lease(Some("other"), 15, 1, 0), t1);
        assert_eq!(same.at, t0, "polling an unchanged lease must not extend it");
        let renewed = Observed::update(Some(&same), lease(Some("other"), 15, 2, 0), t1);
        assert_eq!(renewed.at, t1);
        assert!(matches!(decide(&renewed, "me", t0 + Duration::from_secs(20)), Decision::Wait { .. }));
        assert_eq!(decide(&renewed, "me", t1 + Duration::from_secs(15)), Decision::Take);
    }

    #[test]
    fn ours_free_and_released_leases_are_taken_at_once() {
        let t0 = Instant::now();
        assert_eq!(decide(&Observed::update(None, lease(Some("me"), 15, 1, 0), t0), "me", t0), Decision::Take);
        assert_eq!(decide(&Observed::update(None, lease(None, 1, 1, 0), t0), "me", t0), Decision::Take);
        assert_eq!(decide(&Observed::update(None, lease(Some(""), 15, 1, 0), t0), "me", t0), Decision::Take);
        let no_spec = Observed { lease: Lease::default(), at: t0 };
        assert_eq!(no_spec.holder(), None);
        assert_eq!(decide(&no_spec, "me", t0), Decision::Take);
    }

    #[test]
    fn the_holder_s_announced_duration_counts_not_ours() {
        let t0 = Instant::now();
        let seen = Observed::update(None, lease(Some("other"), 60, 1, 0), t0);
        assert!(matches!(decide(&seen, "me", t0 + Duration::from_secs(59)), Decision::Wait { .. }));
        let negative = Observed::update(None, lease(Some("other"), -5, 1, 0), t0);
        assert_eq!(negative.duration(), Duration::ZERO);
    }

    #[test]
    fn transitions_bump_on_takeover_and_stay_on_renew() {
        let t0 = Instant::now();
        let mine = Observed::update(None, lease(Some("me"), 15, 1, 4), t0);
        let renew = held_spec(Some(&mine), "me", 15);
        assert_eq!(renew.lease_transitions, Some(4));
        assert_eq!(renew.holder_identity.as_deref(), Some("me"));
        let theirs = Observed::update(None, lease(Some("other"), 15, 1, 4), t0);
        assert_eq!(held_spec(Some(&theirs), "me", 15).lease_transitions, Some(5));
        let released = Observed { lease: Lease { spec: Some(released_spec(&mine)), ..Lease::default() }, at: t0 };
        assert_eq!(released.holder(), None);
        assert_eq!(released.duration(), Duration::from_secs(1));
        assert_eq!(released.transitions(), 4);
        assert_eq!(held_spec(Some(&released), "me", 15).lease_transitions, Some(5));
        let created = held_spec(None, "me", 7);
        assert_eq!((created.lease_transitions, created.lease_duration_seconds), (Some(0), Some(7)));
        assert_eq!(created.acquire_time, created.renew_time);
    }
}
