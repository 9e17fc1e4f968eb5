//! controller-runtime's reconcile metrics.

use std::fmt;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};

/// `controller="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabel {
    controller: String,
}

/// `controller="...",result="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    controller: String,
    result: &'static str,
}

type Histograms = Family<ControllerLabel, Histogram, fn() -> Histogram>;

/// controller-runtime's buckets of `controller_runtime_reconcile_time_seconds`.
const RECONCILE_BUCKETS: [f64; 40] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5,
    1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0,
];

fn new_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// controller-runtime's controller metrics, labelled by `controller` name:
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `controller_runtime_reconcile_total{controller,result}` | counter | reconciles by result: `success` (`Action::Done`), `error` (an `Err` or a panic), `requeue` (`Action::Requeue`), `requeue_after` (`Action::RequeueAfter`) |
/// | `controller_runtime_reconcile_errors_total` | counter | reconciles that returned an error or panicked |
/// | `controller_runtime_reconcile_panics_total` | counter | reconciles that panicked |
/// | `controller_runtime_reconcile_time_seconds` | histogram | duration of each reconcile |
/// | `controller_runtime_active_workers` | gauge | workers reconciling right now |
/// | `controller_runtime_max_concurrent_reconciles` | gauge | the controller's number of workers |
///
/// Given to controllers with [`Controller::metrics`](crate::Controller::metrics).
#[derive(Clone)]
pub struct ControllerMetrics {
    total: Family<ResultLabels, Counter>,
    errors: Family<ControllerLabel, Counter>,
    panics: Family<ControllerLabel, Counter>,
    time: Histograms,
    active: Family<ControllerLabel, Gauge>,
    max_concurrent: Family<ControllerLabel, Gauge>,
}

impl fmt::Debug for ControllerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControllerMetrics").finish_non_exhaustive()
    }
}

impl ControllerMetrics {
    /// Registers the controller metrics into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let this = Self {
            total: Family::default(),
            errors: Family::default(),
            panics: Family::default(),
            time: Family::new_with_constructor(new_histogram),
            active: Family::default(),
            max_concurrent: Family::default(),
        };
        registry.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            this.total.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            this.errors.clone(),
        );
        registry.register(
            "controller_runtime_reconcile_panics",
            "Total number of reconciliation panics per controller",
            this.panics.clone(),
        );
        registry.register_with_unit(
            "controller_runtime_reconcile_time",
            "Length of time per reconciliation per controller",
            Unit::Seconds,
            this.time.clone(),
        );
        registry.register(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            this.active.clone(),
        );
        registry.register(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            this.max_concurrent.clone(),
        );
        this
    }

    /// The handles of controller `name` with `workers` workers; every
    /// series starts at zero, so it is visible before the first reconcile.
    pub(crate) fn controller(&self, name: &str, workers: usize) -> ControllerHandles {
        let label = ControllerLabel { controller: name.to_string() };
        let result = |result| self.total.get_or_create_owned(&ResultLabels { controller: name.to_string(), result });
        self.max_concurrent.get_or_create(&label).set(i64::try_from(workers).unwrap_or(i64::MAX));
        ControllerHandles {
            success: result("success"),
            error: result("error"),
            requeue: result("requeue"),
            requeue_after: result("requeue_after"),
            errors: self.errors.get_or_create_owned(&label),
            panics: self.panics.get_or_create_owned(&label),
            time: self.time.get_or_create_owned(&label),
            active: self.active.get_or_create_owned(&label),
        }
    }
}

/// The metric handles of one controller.
#[derive(Clone, Debug)]
pub(crate) struct ControllerHandles {
    pub(crate) success: Counter,
    pub(crate) error: Counter,
    pub(crate) requeue: Counter,
    pub(crate) requeue_after: Counter,
    pub(crate) errors: Counter,
    pub(crate) panics: Counter,
    pub(crate) time: Histogram,
    pub(crate) active: Gauge,
}
