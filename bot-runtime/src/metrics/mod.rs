//! Prometheus metrics of the runtime, in OpenMetrics text via `prometheus-client`.
//!
//! Nothing is global: each family of metrics is registered into a
//! [`Registry`] you own, and the runtime's pieces are handed the handles:
//!
//! | handles | registered by | given to | metrics |
//! |---|---|---|---|
//! | [`WorkQueueMetrics`] | [`WorkQueueMetrics::register`] | [`WorkQueue::with_metrics`](crate::WorkQueue::with_metrics) | client-go's `workqueue_*`, labelled `name` |
//! | [`ControllerMetrics`] | [`ControllerMetrics::register`] | [`Controller::metrics`](crate::Controller::metrics) | controller-runtime's `controller_runtime_*`, labelled `controller` |
//! | [`InformerMetrics`] | [`InformerMetrics::register`] | [`InformerFactory::with_metrics`](crate::InformerFactory::with_metrics), [`InformerConfig::metrics`](crate::InformerConfig::metrics) | `reflector_*` and `informer_*`, labelled `kind` |
//! | [`LeaderElectionMetrics`] | [`LeaderElectionMetrics::register`] | [`LeaderElectionMetrics::observe`] | client-go's `leader_election_master_status`, labelled `name` |
//!
//! [`RuntimeMetrics::register`] registers all four at once; it converts
//! (`AsRef`) to each, so it can be passed wherever one is expected.
//!
//! ```
//! use bot_runtime::metrics::{self, RuntimeMetrics, prometheus_client::registry::Registry};
//! use bot_runtime::{Action, Controller, InformerFactory, LeaderElector, ObjectKey, WorkQueue};
//!
//! let mut registry = Registry::default();
//! let metrics = RuntimeMetrics::register(&mut registry);
//!
//! let queue = WorkQueue::<ObjectKey>::new().with_metrics("configmaps", &metrics); // workqueue_*
//! let controller = Controller::new("configmaps", queue, |_key: ObjectKey| async {
//!     Ok::<_, std::convert::Infallible>(Action::Done)
//! })
//! .metrics(&metrics); // controller_runtime_*
//!
//! # fn more(client: kube::Client, elector: &LeaderElector, metrics: &RuntimeMetrics) {
//! let factory = InformerFactory::new(client, None).with_metrics(metrics); // reflector_*, informer_*
//! metrics.leader.observe_elector(elector); // leader_election_master_status
//! # }
//! // Serve this at /metrics with `metrics::CONTENT_TYPE` (or use `bot_runtime::server`):
//! let text = metrics::encode(&registry);
//! assert!(text.contains(r#"workqueue_depth{name="configmaps"} 0"#));
//! # drop(controller); // its series appear once it runs
//! ```
//!
//! Register each kind of metrics once per registry (a second registration
//! would publish the same names twice), and give each queue and controller
//! a distinct name: two queues of one name add up in the counters.

mod controller;
mod informer;
mod leader;
mod queue;

use prometheus_client::{encoding::EncodeLabelSet, registry::Registry};

pub(crate) use controller::ControllerHandles;
pub use controller::ControllerMetrics;
pub(crate) use informer::PanicSite;
pub use informer::{InformerKindMetrics, InformerMetrics};
pub use leader::LeaderElectionMetrics;
pub use queue::WorkQueueMetrics;
pub(crate) use queue::{QueueHandles, QueueProbe};

/// Re-exported so users need no direct dependency (its `Registry` is the one to pass).
pub use prometheus_client;

/// The content type of [`encode`]'s output, for a `/metrics` response.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Encodes `registry` in OpenMetrics text (ends with `# EOF`).
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}

/// Every metric of the runtime, registered into one registry; converts to
/// each part (`AsRef`), so `&metrics` can be passed to every `with_metrics`.
#[derive(Clone, Debug)]
pub struct RuntimeMetrics {
    /// `workqueue_*`.
    pub workqueue: WorkQueueMetrics,
    /// `controller_runtime_*`.
    pub controller: ControllerMetrics,
    /// `reflector_*`, `informer_*`.
    pub informer: InformerMetrics,
    /// `leader_election_*`.
    pub leader: LeaderElectionMetrics,
}

impl RuntimeMetrics {
    /// Registers every metric of the runtime into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            workqueue: WorkQueueMetrics::register(registry),
            controller: ControllerMetrics::register(registry),
            informer: InformerMetrics::register(registry),
            leader: LeaderElectionMetrics::register(registry),
        }
    }
}

macro_rules! as_ref {
    ($($t:ty => $field:ident),*) => {$(
        impl AsRef<$t> for RuntimeMetrics {
            fn as_ref(&self) -> &$t {
                &self.$field
            }
        }
        impl AsRef<$t> for $t {
            fn as_ref(&self) -> &$t {
                self
            }
        }
    )*};
}

as_ref!(
    WorkQueueMetrics => workqueue,
    ControllerMetrics => controller,
    InformerMetrics => informer,
    LeaderElectionMetrics => leader
);

/// `name="..."` (queues, leader election).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NameLabel {
    name: String,
}

/// Histogram buckets of client-go's workqueue durations: 10 ns to 1000 s, x10.
fn workqueue_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(10e-9, 10.0, 12)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Controller, WorkQueue, metrics::test_util::value};

    #[tokio::test]
    async fn runtime_metrics_register_every_family_once() {
        let mut registry = Registry::default();
        let metrics = RuntimeMetrics::register(&mut registry);
        let queue = WorkQueue::<u32>::new().with_metrics("q", &metrics);
        queue.add(1);
        let controller = Controller::new("c", queue.clone(), |_: u32| async { Ok::<_, String>(crate::Action::Done) })
            .metrics(&metrics);
        let run = tokio::spawn(controller.run(std::future::pending()));
        while value(&registry, "controller_runtime_reconcile_total{controller=\"c\",result=\"success\"}") != Some(1.0) {
            tokio::task::yield_now().await;
        }
        run.abort();
        let _kind = metrics.informer.for_kind("v1/ConfigMap");
        let text = encode(&registry);
        let types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        let mut unique = types.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(types.len(), unique.len(), "{text}");
        for family in [
            "workqueue_depth gauge",
            "workqueue_adds counter",
            "workqueue_queue_duration_seconds histogram",
            "workqueue_work_duration_seconds histogram",
            "workqueue_unfinished_work_seconds gauge",
            "workqueue_longest_running_processor_seconds gauge",
            "workqueue_retries counter",
            "controller_runtime_reconcile counter",
            "controller_runtime_reconcile_errors counter",
            "controller_runtime_reconcile_time_seconds histogram",
            "controller_runtime_active_workers gauge",
            "reflector_lists counter",
            "reflector_objects gauge",
            "leader_election_master_status gauge",
        ] {
            assert!(types.contains(&format!("# TYPE {family}").as_str()), "{family} missing:\n{text}");
        }
        assert_eq!(value(&registry, "workqueue_adds_total{name=\"q\"}"), Some(1.0));
        assert_eq!(value(&registry, "reflector_lists_total{kind=\"v1/ConfigMap\"}"), Some(0.0));
        assert!(text.ends_with("# EOF\n"));
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use prometheus_client::registry::Registry;

    /// The value of the sample line `series` (name and labels as encoded).
    pub(crate) fn value(registry: &Registry, series: &str) -> Option<f64> {
        super::encode(registry)
            .lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).map(str::to_string))
            .and_then(|v| v.parse().ok())
    }
}
