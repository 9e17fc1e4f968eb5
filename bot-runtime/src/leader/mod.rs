//! Leader election on a `coordination.k8s.io/v1` Lease, with warm standby.
//!
//! client-go's `tools/leaderelection` with a `LeaseLock`: a
//! [`LeaderElectionConfig`] (lease, identity, 15 s / 10 s / 2 s timings), a
//! [`LeaderElector`] whose [`run`](LeaderElector::run) competes for the lease
//! and runs your work while it leads, and client-go's callbacks
//! (`on_started_leading`, `on_stopped_leading`, `on_new_leader`).
//!
//! Safety (never two replicas acting at once) rests on local clocks only: a
//! follower treats the lease as expired `lease_duration` after it *saw* the
//! last change, never by comparing the remote `renewTime` with its own wall
//! clock, and a leader stops acting `renew_deadline` (< `lease_duration`)
//! after it *sent* its last successful renew. Writes are conditional on the
//! `resourceVersion` read, so two candidates cannot both win a takeover.
//! Beyond client-go:
//!
//! - a leader's work is stopped (its future dropped) when leadership is
//!   lost, and on shutdown the work is awaited *before* the lease is
//!   released, so a successor never overlaps a predecessor still finishing;
//! - [`LeaderGate::is_leader`] checks the renew deadline against the clock at
//!   each call, so it turns false at the exact deadline even when the
//!   elector's task is starved;
//! - candidates watch the Lease: a released lease is taken over at once, an
//!   abandoned one right when it expires;
//! - after a loss the elector competes again, and the work restarts if
//!   leadership returns;
//! - warm standby: every replica runs its informers; a [`LeaderQueue`]
//!   accepts work only while this replica leads, and each term starts with
//!   every cached key queued once ([`LeaderElector::run_controller`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use bot_runtime::{Action, Controller, InformerFactory, ObjectKey};
//! use bot_runtime::leader::{LeaderElectionConfig, LeaderElector, LeaderQueue};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! # async fn demo(client: kube::Client) -> Result<(), bot_runtime::leader::Error> {
//! // Every replica: informers run and caches sync while waiting for the lease.
//! let factory = InformerFactory::new(client.clone(), None).with_namespace("default");
//! let configmaps = factory.informer_for::<ConfigMap>();
//! let queue = LeaderQueue::<ObjectKey>::new();
//! configmaps.add_event_handler(queue.object_key_handler()); // no-op on followers
//! factory.start();
//!
//! let config = LeaderElectionConfig::new("my-operator", "default"); // identity: $POD_NAME or host name
//! let elector = LeaderElector::new(client, config)?
//!     .on_new_leader(|holder| println!("leader is now {holder}"));
//! let gate = elector.gate(); // gate.is_leader() anywhere, e.g. for a gauge
//!
//! let lister = configmaps.lister();
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! elector
//!     .run_controller(shutdown, queue, move || lister.store().keys(), |queue| {
//!         Controller::new("configmaps", queue, |key: ObjectKey| async move {
//!             println!("reconcile {key}");
//!             Ok::<_, kube::Error>(Action::Done)
//!         })
//!     })
//!     .await;
//! factory.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Any work can run instead of a controller, with [`LeaderElector::run`]:
//!
//! ```no_run
//! # use bot_runtime::leader::{LeaderElectionConfig, LeaderElector};
//! # async fn demo(client: kube::Client) -> Result<(), bot_runtime::leader::Error> {
//! let elector = LeaderElector::new(client, LeaderElectionConfig::new("my-job", "default"))?;
//! elector
//!     .run(std::future::pending(), |leadership| async move {
//!         while leadership.is_leading() {
//!             // ... one step of work, then:
//!             tokio::time::sleep(std::time::Duration::from_secs(1)).await;
//!         }
//!     })
//!     .await;
//! # Ok(()) }
//! ```

mod config;
mod elector;
mod record;
mod standby;
mod state;

use std::time::Duration;

pub use config::{
    DEFAULT_LEASE_DURATION, DEFAULT_RENEW_DEADLINE, DEFAULT_RETRY_PERIOD, JITTER_FACTOR, LeaderElectionConfig,
    default_identity,
};
pub use elector::LeaderElector;
pub use standby::{LeaderQueue, QueueTerm};
pub use state::{LeaderGate, LeaderState, Leadership};

/// Errors of leader election (all configuration errors: API errors at run
/// time are retried and logged, as in client-go).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The lease name or namespace is empty.
    #[error("the lease name and namespace must not be empty")]
    MissingLease,
    /// The identity is empty.
    #[error("the identity must not be empty")]
    EmptyIdentity,
    /// A duration is zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// The lease duration is not a whole number of seconds (the Lease stores seconds).
    #[error("lease_duration must be a whole number of seconds (at most i32::MAX), got {0:?}")]
    LeaseDurationNotWholeSeconds(Duration),
    /// `lease_duration <= renew_deadline`: a stalled leader could still act
    /// after followers consider its lease expired.
    #[error("lease_duration ({lease_duration:?}) must be greater than renew_deadline ({renew_deadline:?})")]
    LeaseDurationNotAboveRenewDeadline {
        /// The lease duration.
        lease_duration: Duration,
        /// The renew deadline.
        renew_deadline: Duration,
    },
    /// `renew_deadline <= retry_period * JITTER_FACTOR`: not even one retry
    /// would fit before the deadline.
    #[error(
        "renew_deadline ({renew_deadline:?}) must be greater than retry_period ({retry_period:?}) x {JITTER_FACTOR}"
    )]
    RenewDeadlineNotAboveJitteredRetry {
        /// The renew deadline.
        renew_deadline: Duration,
        /// The retry period.
        retry_period: Duration,
    },
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
