//! [`LeaderElector`]: the acquire / renew / release loop over a Lease.

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use futures::{
    FutureExt, StreamExt,
    future::{Fuse, FusedFuture},
    stream::BoxStream,
};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api, Client,
    api::{ObjectMeta, PostParams},
    runtime::watcher,
};
use parking_lot::Mutex;
use tokio::{sync::watch, time::Instant};

use super::{
    LeaderElectionConfig, Result,
    config::jittered,
    record::{Decision, Observed, decide, held_spec, released_spec},
    state::{LeaderGate, LeaderState, Leadership, Shared},
};

type Hook = Arc<dyn Fn() + Send + Sync>;
type NewLeaderHook = Arc<dyn Fn(&str) + Send + Sync>;

/// Elects one leader among the replicas sharing a Lease (client-go's
/// `LeaderElector` over a `LeaseLock`).
///
/// [`run`](Self::run) loops: it *acquires* (gets the Lease, creates it if
/// absent, takes it over when it is free, released, or expired per our own
/// observation, with a write conditional on the `resourceVersion` it read),
/// then *leads*: it runs the caller's work while renewing every
/// `retry_period`. The work stops (its future is dropped, its
/// [`Leadership`] cancelled, the [`LeaderGate`] closed) as soon as a renew
/// has not succeeded within `renew_deadline` of the last successful one, or
/// another holder shows up. It then competes again, so work restarts if
/// leadership comes back. On shutdown the work is cancelled, awaited (the
/// lease is still renewed meanwhile, so nobody else starts early), and the
/// lease released.
///
/// While waiting, a candidate also watches the Lease: a released or
/// deleted lease is taken over at once, and an abandoned one right when it
/// expires, rather than at the next poll.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    shared: Arc<Shared>,
    observed: Mutex<Option<Observed>>,
    on_started: Option<Hook>,
    on_stopped: Option<Hook>,
    on_new_leader: Option<NewLeaderHook>,
}

impl fmt::Debug for LeaderElector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElector").field("config", &self.config).field("state", &self.shared.state()).finish()
    }
}

/// The result of one acquire-or-renew try.
enum Try {
    /// We hold the lease; `sent` is when the successful write was sent.
    Held { sent: Instant },
    /// Someone else holds it, unexpired until `until`.
    Other { until: Instant },
    /// The API call failed or lost a race (logged).
    Failed,
}

/// How a term of leadership ended.
#[derive(Debug)]
enum TermEnd {
    /// The renew deadline passed or another holder was seen (or the work
    /// ended after its gate closed).
    Lost,
    /// Shutdown was requested and the work ended.
    Shutdown,
    /// The work ended by itself.
    Finished,
}

/// A change to the Lease seen by a candidate's watch.
enum LeaseEvent {
    Seen(Box<Lease>),
    Gone,
}

impl LeaderElector {
    /// An elector for `config` (validated) using `client`.
    pub fn new(client: Client, config: LeaderElectionConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            api: Api::namespaced(client, &config.namespace),
            shared: Arc::new(Shared::new(config.identity.clone())),
            config,
            observed: Mutex::new(None),
            on_started: None,
            on_stopped: None,
            on_new_leader: None,
        })
    }

    /// Called (synchronously; keep it short) each time this replica becomes
    /// leader, before its work starts.
    #[must_use]
    pub fn on_started_leading(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_started = Some(Arc::new(f));
        self
    }

    /// Called (synchronously) each time this replica stops leading, after its
    /// work has stopped (and, on a graceful stop, after the release). Unlike
    /// client-go it is not called when the replica never led.
    #[must_use]
    pub fn on_stopped_leading(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_stopped = Some(Arc::new(f));
        self
    }

    /// Called (synchronously) with the holder's identity whenever a new
    /// holder is observed, this replica included.
    #[must_use]
    pub fn on_new_leader(mut self, f: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.on_new_leader = Some(Arc::new(f));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &LeaderElectionConfig {
        &self.config
    }

    /// A receiver of the state (leading or not, holder, counters); take it
    /// before [`run`](Self::run) consumes the elector.
    pub fn status(&self) -> watch::Receiver<LeaderState> {
        self.shared.subscribe()
    }

    /// A cheap, cloneable "may I act now?" check for event handlers and
    /// reconcilers, valid across terms.
    pub fn gate(&self) -> LeaderGate {
        LeaderGate::new(self.shared.clone())
    }

    /// Competes for the lease until `shutdown` completes; runs
    /// `leading(leadership)` during each term of leadership.
    ///
    /// A term ends when leadership is lost (the work's future is dropped
    /// at once, then `run` competes again), when `shutdown` completes (the
    /// work is asked to stop via [`Leadership::cancelled`] and awaited while
    /// the lease is still renewed, then the lease is released and `run`
    /// returns), or when the work ends by itself (released likewise, then
    /// `run` returns; work that ends because its
    /// [`Leadership::is_leading`] turned false counts as a loss). Spawned
    /// tasks should watch [`Leadership::cancelled`] or check
    /// [`Leadership::is_leading`]: dropping the work's future does not stop
    /// them. A shutdown during a candidacy returns at once. Dropping the
    /// `run` future instead is a crash: nothing is released, and followers
    /// take over once the lease expires.
    pub async fn run<S, F, Fut>(self, shutdown: S, mut leading: F)
    where
        S: Future<Output = ()>,
        F: FnMut(Leadership) -> Fut,
        Fut: Future<Output = ()>,
    {
        let shutdown = shutdown.fuse();
        tokio::pin!(shutdown);
        loop {
            let Some(sent) = self.acquire(shutdown.as_mut()).await else { return };
            match self.lead(sent, shutdown.as_mut(), &mut leading).await {
                TermEnd::Lost if !shutdown.is_terminated() => continue,
                _ => return,
            }
        }
    }

    /// Tries until we hold the lease (returns when the winning write was
    /// sent) or `shutdown` completes (`None`).
    async fn acquire<S: Future<Output = ()>>(&self, mut shutdown: Pin<&mut Fuse<S>>) -> Option<Instant> {
        let mut changes = Some(self.lease_events());
        loop {
            let tried = tokio::time::timeout(self.config.renew_deadline, self.try_once(false));
            let mut wake = Instant::now() + jittered(self.config.retry_period);
            tokio::select! {
                () = shutdown.as_mut() => return None,
                tried = tried => match tried {
                    Ok(Try::Held { sent }) => return Some(sent),
                    Ok(Try::Other { until }) => wake = wake.min(until),
                    Ok(Try::Failed) => {}
                    Err(_) => tracing::warn!(lease = %self.config.lease_name, "acquire attempt timed out"),
                },
            }
            // Wait for the next try: the jittered period, the observed expiry,
            // a change that frees the lease, or shutdown.
            loop {
                tokio::select! {
                    () = shutdown.as_mut() => return None,
                    () = tokio::time::sleep_until(wake) => break,
                    event = next_event(&mut changes) => match event {
                        None => changes = None,
                        Some(LeaseEvent::Gone) => break,
                        Some(LeaseEvent::Seen(lease)) => {
                            let now = Instant::now();
                            match decide(&self.observe(*lease, now), &self.config.identity, now) {
                                Decision::Take => break,
                                Decision::Wait { until, .. } => wake = wake.min(until),
                            }
                        }
                    },
                }
            }
        }
    }

    /// One term of leadership: runs the work while renewing.
    async fn lead<S, F, Fut>(&self, sent: Instant, mut shutdown: Pin<&mut Fuse<S>>, leading: &mut F) -> TermEnd
    where
        S: Future<Output = ()>,
        F: FnMut(Leadership) -> Fut,
        Fut: Future<Output = ()>,
    {
        let deadline = sent + self.config.renew_deadline;
        let (cancel, cancelled) = watch::channel(false);
        let term = self.shared.begin_term(deadline);
        tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "became leader");
        if let Some(f) = &self.on_started {
            f();
        }
        let mut work = Box::pin(leading(Leadership::new(self.shared.clone(), term, cancelled)));
        let renew = self.keep_renewing(term, deadline);
        tokio::pin!(renew);
        let mut stopping = false;
        let end = loop {
            tokio::select! {
                () = &mut renew => {
                    self.shared.end_term();
                    let _ = cancel.send(true);
                    break TermEnd::Lost;
                }
                () = &mut work => {
                    if stopping {
                        break TermEnd::Shutdown;
                    }
                    if !self.shared.is_open(Some(term)) {
                        // The work saw the loss (its gate closed) before we did.
                        self.shared.end_term();
                        break TermEnd::Lost;
                    }
                    break TermEnd::Finished;
                }
                () = shutdown.as_mut(), if !stopping => {
                    stopping = true;
                    let _ = cancel.send(true);
                }
            }
        };
        // A lost term's work stops here, at its current await point.
        drop(work);
        if !matches!(end, TermEnd::Lost) {
            self.shared.end_term();
            if self.config.release_on_cancel {
                self.release().await;
            }
        }
        tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, ?end, "stopped leading");
        if let Some(f) = &self.on_stopped {
            f();
        }
        end
    }

    /// Renews every retry period; returns once leadership is lost: no
    /// successful renew within `renew_deadline` of the last one's sending
    /// (a try still in flight then is abandoned), or another holder seen.
    async fn keep_renewing(&self, term: u64, mut deadline: Instant) {
        loop {
            tokio::time::sleep_until((Instant::now() + self.config.retry_period).min(deadline)).await;
            match tokio::time::timeout_at(deadline, self.try_once(true)).await {
                Ok(Try::Held { sent }) => {
                    deadline = sent + self.config.renew_deadline;
                    self.shared.extend_term(term, deadline);
                }
                Ok(Try::Other { .. }) => {
                    tracing::warn!(lease = %self.config.lease_name, holder = ?self.shared.state().holder, "lease taken over by another holder");
                    return;
                }
                Ok(Try::Failed) if Instant::now() < deadline => {}
                Ok(Try::Failed) | Err(_) => {
                    tracing::warn!(lease = %self.config.lease_name, "failed to renew the lease within the renew deadline");
                    return;
                }
            }
        }
    }

    /// client-go's `tryAcquireOrRenew`: a leader first renews optimistically
    /// from its cached lease; otherwise get, create if absent, and write it
    /// as ours unless another holder's lease is unexpired.
    async fn try_once(&self, leading: bool) -> Try {
        if leading && let Some(cached) = self.cached_own() {
            match self.write(&cached).await {
                Ok(sent) => return Try::Held { sent },
                Err(e) => tracing::debug!(error = %e, "optimistic renew failed; getting the lease"),
            }
        }
        let lease = match self.api.get_opt(&self.config.lease_name).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!(lease = %self.config.lease_name, error = %e, "cannot get the lease");
                return Try::Failed;
            }
        };
        let Some(lease) = lease else { return self.create().await };
        let now = Instant::now();
        let observed = self.observe(lease, now);
        match decide(&observed, &self.config.identity, now) {
            Decision::Wait { until, .. } => Try::Other { until },
            Decision::Take => match self.write(&observed).await {
                Ok(sent) => Try::Held { sent },
                Err(e) => {
                    log_write_error(&self.config.lease_name, &e);
                    Try::Failed
                }
            },
        }
    }

    /// Creates the lease as ours.
    async fn create(&self) -> Try {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.config.lease_name.clone()),
                namespace: Some(self.config.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(held_spec(None, &self.config.identity, self.config.lease_duration_seconds())),
        };
        let sent = Instant::now();
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                self.observe(created, sent);
                Try::Held { sent }
            }
            Err(e) => {
                log_write_error(&self.config.lease_name, &e);
                Try::Failed
            }
        }
    }

    /// Replaces `previous` (conditional on its `resourceVersion`) with a
    /// spec holding the lease; returns when the write was sent.
    async fn write(&self, previous: &Observed) -> kube::Result<Instant> {
        let mut lease = previous.lease.clone();
        lease.spec = Some(held_spec(Some(previous), &self.config.identity, self.config.lease_duration_seconds()));
        let sent = Instant::now();
        let written = self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await?;
        self.observe(written, sent);
        Ok(sent)
    }

    /// Gives the lease up if we still hold it (a conditional write). On a
    /// conflict it reads the lease once more and retries if it is still ours:
    /// a renew sent just before the stop may have landed after our last read.
    async fn release(&self) {
        let attempt = async {
            for _ in 0..2 {
                let Some(ours) = self.cached_own() else { return Ok(false) };
                let mut lease = ours.lease.clone();
                lease.spec = Some(released_spec(&ours));
                match self.api.replace(&self.config.lease_name, &PostParams::default(), &lease).await {
                    Ok(released) => {
                        self.observe(released, Instant::now());
                        return Ok(true);
                    }
                    Err(kube::Error::Api(s)) if s.is_conflict() => {
                        match self.api.get_opt(&self.config.lease_name).await? {
                            Some(current) => drop(self.observe(current, Instant::now())),
                            None => return Ok(false),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(false)
        };
        match tokio::time::timeout(self.config.renew_deadline, attempt).await {
            Ok(Ok(true)) => tracing::info!(lease = %self.config.lease_name, "released the lease"),
            Ok(Ok(false)) => tracing::debug!(lease = %self.config.lease_name, "not released: no longer ours"),
            Ok(Err(e)) => tracing::warn!(lease = %self.config.lease_name, error = %e, "failed to release the lease"),
            Err(_) => tracing::warn!(lease = %self.config.lease_name, "releasing the lease timed out"),
        }
    }

    /// The last observed lease if it names us as holder.
    fn cached_own(&self) -> Option<Observed> {
        self.observed.lock().clone().filter(|o| o.holder() == Some(&*self.config.identity))
    }

    /// Records a lease seen at `now`, publishes holder changes, returns the observation.
    fn observe(&self, lease: Lease, now: Instant) -> Observed {
        let observed = {
            let mut slot = self.observed.lock();
            let observed = Observed::update(slot.as_ref(), lease, now);
            *slot = Some(observed.clone());
            observed
        };
        let holder = observed.holder().map(str::to_owned);
        if self.shared.observe_holder(holder.clone(), observed.transitions())
            && let (Some(f), Some(holder)) = (&self.on_new_leader, holder)
        {
            f(&holder);
        }
        observed
    }

    /// Changes to the lease, for a candidate (a watch on this one name).
    fn lease_events(&self) -> BoxStream<'static, LeaseEvent> {
        let selector = format!("metadata.name={}", self.config.lease_name);
        let config = watcher::Config::default().fields(&selector);
        // The reflector's watch: renewed every 15-20 s (a dead connection is
        // noticed within 25 s) and retried with backoff reset by success.
        crate::reflector::watch_stream(self.api.clone(), config)
            .filter_map(|event| async move {
                match event {
                    Ok(watcher::Event::Apply(l) | watcher::Event::InitApply(l)) => Some(LeaseEvent::Seen(Box::new(l))),
                    Ok(watcher::Event::Delete(_)) => Some(LeaseEvent::Gone),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
                    Err(e) => {
                        tracing::debug!(error = %e, "lease watch error; polling meanwhile");
                        None
                    }
                }
            })
            .boxed()
    }
}

/// The next event of the watch, or pending forever once it has ended.
async fn next_event(changes: &mut Option<BoxStream<'static, LeaseEvent>>) -> Option<LeaseEvent> {
    match changes {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

fn log_write_error(lease: &str, e: &kube::Error) {
    match e {
        kube::Error::Api(s) if s.is_conflict() || s.is_already_exists() => {
            tracing::debug!(lease, "lost a race for the lease");
        }
        _ => tracing::warn!(lease, error = %e, "cannot write the lease"),
    }
}
