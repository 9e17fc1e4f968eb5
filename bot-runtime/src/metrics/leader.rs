//! client-go's leader-election status gauge.

use std::{fmt, sync::Arc};

use parking_lot::Mutex;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};
use tokio::sync::watch;

use super::NameLabel;
use crate::leader::{LeaderElector, LeaderState};

/// Leader-election metrics, labelled by lease `name`, read from each
/// observed elector's [`status`](LeaderElector::status) at scrape time:
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `leader_election_master_status{name}` | gauge | 1 while this replica leads, else 0 (client-go's) |
/// | `leader_election_acquisitions_total{name}` | counter | times this replica became leader |
#[derive(Clone)]
pub struct LeaderElectionMetrics {
    observed: Arc<Observed>,
}

impl fmt::Debug for LeaderElectionMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaderElectionMetrics").field("observed", &self.observed.0.lock().len()).finish()
    }
}

impl LeaderElectionMetrics {
    /// Registers the leader-election metrics into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let observed = Arc::new(Observed(Mutex::new(Vec::new())));
        registry.register_collector(Box::new(observed.clone()));
        Self { observed }
    }

    /// Publishes `status` (from [`LeaderElector::status`]) as lease `name`.
    pub fn observe(&self, name: impl Into<String>, status: watch::Receiver<LeaderState>) {
        self.observed.0.lock().push((name.into(), status));
    }

    /// Publishes `elector`'s status under its lease name.
    pub fn observe_elector(&self, elector: &LeaderElector) {
        self.observe(elector.config().lease_name.clone(), elector.status());
    }
}

struct Observed(Mutex<Vec<(String, watch::Receiver<LeaderState>)>>);

impl fmt::Debug for Observed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Observed").field(&self.0.lock().len()).finish()
    }
}

impl Collector for Observed {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let states: Vec<(String, LeaderState)> =
            self.0.lock().iter().map(|(name, rx)| (name.clone(), rx.borrow().clone())).collect();
        let mut status = encoder.encode_descriptor(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
            None,
            MetricType::Gauge,
        )?;
        for (name, state) in &states {
            let label = NameLabel { name: name.clone() };
            ConstGauge::new(i64::from(state.is_leader)).encode(status.encode_family(&label)?)?;
        }
        let mut acquisitions = encoder.encode_descriptor(
            "leader_election_acquisitions",
            "Total number of times this replica became leader of the lease",
            None,
            MetricType::Counter,
        )?;
        for (name, state) in &states {
            let label = NameLabel { name: name.clone() };
            ConstCounter::new(state.acquisitions).encode(acquisitions.encode_family(&label)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::test_util::value;

    #[test]
    fn status_is_read_at_scrape_time() {
        let mut registry = Registry::default();
        let metrics = LeaderElectionMetrics::register(&mut registry);
        let (tx, rx) = watch::channel(LeaderState::default());
        metrics.observe("my-operator", rx);
        let status = || value(&registry, "leader_election_master_status{name=\"my-operator\"}");
        assert_eq!(status(), Some(0.0));
        tx.send_modify(|s| {
            s.is_leader = true;
            s.acquisitions = 1;
        });
        assert_eq!(status(), Some(1.0));
        assert_eq!(value(&registry, "leader_election_acquisitions_total{name=\"my-operator\"}"), Some(1.0));
        tx.send_modify(|s| s.is_leader = false);
        assert_eq!(status(), Some(0.0));
    }
}
