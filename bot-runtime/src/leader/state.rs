//! What a replica can ask about its leadership: [`LeaderState`],
//! [`LeaderGate`] and a term's [`Leadership`].

use std::{fmt, future::Future, sync::Arc};

use parking_lot::Mutex;
use tokio::{sync::watch, time::Instant};

/// A snapshot of an elector's view, published on
/// [`LeaderElector::status`](super::LeaderElector::status): enough for a
/// "is leader" gauge and a transitions counter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaderState {
    /// Whether this replica leads (set when a term starts, cleared when it
    /// ends; [`LeaderGate::is_leader`] is the exact, time-bounded check).
    pub is_leader: bool,
    /// The holder last observed on the Lease, `None` when free or released.
    pub holder: Option<String>,
    /// How many times this replica became leader.
    pub acquisitions: u64,
    /// The Lease's `leaseTransitions` as last observed (holder changes, cluster-wide).
    pub lease_transitions: i32,
}

/// State shared by an elector and its gates.
pub(super) struct Shared {
    identity: String,
    gate: Mutex<Gate>,
    state: watch::Sender<LeaderState>,
}

/// The current term and until when acting in it is safe.
#[derive(Default)]
struct Gate {
    term: u64,
    valid_until: Option<Instant>,
}

impl Shared {
    pub(super) fn new(identity: String) -> Self {
        Self { identity, gate: Mutex::new(Gate::default()), state: watch::Sender::new(LeaderState::default()) }
    }

    pub(super) fn state(&self) -> LeaderState {
        self.state.borrow().clone()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.state.subscribe()
    }

    /// Opens a new term, valid until `valid_until`; returns its number.
    pub(super) fn begin_term(&self, valid_until: Instant) -> u64 {
        let term = {
            let mut gate = self.gate.lock();
            gate.term += 1;
            gate.valid_until = Some(valid_until);
            gate.term
        };
        self.state.send_modify(|s| {
            s.is_leader = true;
            s.acquisitions += 1;
            s.holder = Some(self.identity.clone());
        });
        term
    }

    /// Moves the end of `term` (after a successful renew).
    pub(super) fn extend_term(&self, term: u64, valid_until: Instant) {
        let mut gate = self.gate.lock();
        if gate.term == term {
            gate.valid_until = Some(valid_until);
        }
    }

    /// Closes the current term.
    pub(super) fn end_term(&self) {
        self.gate.lock().valid_until = None;
        self.state.send_if_modified(|s| std::mem::replace(&mut s.is_leader, false));
    }

    /// Whether acting is safe now, in `term` if given (else in any term).
    pub(super) fn is_open(&self, term: Option<u64>) -> bool {
        let gate = self.gate.lock();
        term.is_none_or(|t| t == gate.term) && gate.valid_until.is_some_and(|until| Instant::now() < until)
    }

    /// Publishes an observed holder; true if it changed.
    pub(super) fn observe_holder(&self, holder: Option<String>, lease_transitions: i32) -> bool {
        let mut changed = false;
        self.state.send_if_modified(|s| {
            changed = s.holder != holder;
            let modified = changed || s.lease_transitions != lease_transitions;
            s.holder = holder;
            s.lease_transitions = lease_transitions;
            modified
        });
        changed
    }
}

/// Answers "may this replica act now?", for event handlers and reconcilers
/// that outlive a term (an informer's handler on a warm standby, say).
///
/// [`is_leader`](Self::is_leader) is true only while a term is open *and*
/// its renew deadline has not passed, checked against the clock at each
/// call: a leader whose renewals stall stops passing the gate at the exact
/// deadline, even before its elector's task gets to run.
#[derive(Clone)]
pub struct LeaderGate {
    shared: Arc<Shared>,
}

impl fmt::Debug for LeaderGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderGate").field("is_leader", &self.is_leader()).finish()
    }
}

impl LeaderGate {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Whether this replica holds the lease and may act now.
    pub fn is_leader(&self) -> bool {
        self.shared.is_open(None)
    }

    /// A snapshot of the elector's state.
    pub fn state(&self) -> LeaderState {
        self.shared.state()
    }

    /// A receiver of state changes.
    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.shared.subscribe()
    }

    /// Waits until this replica leads (at once if it does).
    pub async fn wait_for_leadership(&self) {
        let mut rx = self.shared.subscribe();
        // The sender lives in `self.shared`, so this cannot fail.
        let _ = rx.wait_for(|s| s.is_leader).await;
    }
}

/// One term of leadership, handed to the work [`LeaderElector::run`](super::LeaderElector::run) runs.
///
/// Cheap to clone; clones given to spawned tasks let them stop with the term.
#[derive(Clone)]
pub struct Leadership {
    shared: Arc<Shared>,
    term: u64,
    cancelled: watch::Receiver<bool>,
}

impl fmt::Debug for Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("term", &self.term)
            .field("is_leading", &self.is_leading())
            .field("is_cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Leadership {
    pub(super) fn new(shared: Arc<Shared>, term: u64, cancelled: watch::Receiver<bool>) -> Self {
        Self { shared, term, cancelled }
    }

    /// Whether this term still holds the lease and may act now (stays true
    /// during a graceful stop until the lease is released, so queued work can
    /// finish; false at once when leadership is lost).
    pub fn is_leading(&self) -> bool {
        self.shared.is_open(Some(self.term))
    }

    /// Whether the work was asked to stop (shutdown, or leadership lost).
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Completes when the work should stop: on shutdown, on loss, or when
    /// the elector is gone. `'static`, so it can be handed to
    /// [`Controller::run`](crate::Controller::run).
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.cancelled.clone();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// The term's number (1 for this replica's first term).
    pub fn term(&self) -> u64 {
        self.term
    }

    /// A gate on the same elector.
    pub fn gate(&self) -> LeaderGate {
        LeaderGate::new(self.shared.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_gate_closes_at_the_deadline_by_itself_and_per_term() {
        let shared = Arc::new(Shared::new("me".into()));
        let gate = LeaderGate::new(shared.clone());
        assert!(!gate.is_leader());
        let t1 = shared.begin_term(Instant::now() + Duration::from_secs(2));
        let (_tx, rx) = watch::channel(false);
        let term1 = Leadership::new(shared.clone(), t1, rx.clone());
        assert!(gate.is_leader() && term1.is_leading());
        assert_eq!(gate.state().holder.as_deref(), Some("me"));
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(gate.is_leader());
        shared.extend_term(t1, Instant::now() + Duration::from_secs(2));
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(gate.is_leader(), "extended");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!gate.is_leader() && !term1.is_leading(), "closed by the clock, nobody ended the term");
        assert!(gate.state().is_leader, "the published state lags; the gate does not");
        shared.end_term();
        assert!(!gate.state().is_leader);

        let t2 = shared.begin_term(Instant::now() + Duration::from_secs(2));
        shared.extend_term(t1, Instant::now() + Duration::from_secs(60));
        let term2 = Leadership::new(shared.clone(), t2, rx);
        assert!(term2.is_leading() && !term1.is_leading(), "an old term's handle never passes");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!gate.is_leader(), "a stale term cannot extend the current one");
        assert_eq!(gate.state().acquisitions, 2);
    }

    #[tokio::test]
    async fn cancelled_completes_on_cancel() {
        let shared = Arc::new(Shared::new("me".into()));
        let (tx, rx) = watch::channel(false);
        let l = Leadership::new(shared, 1, rx);
        let waiting = tokio::spawn(l.cancelled());
        assert!(!l.is_cancelled());
        tx.send(true).unwrap();
        waiting.await.unwrap();
        assert!(l.is_cancelled());
    }
}
