//! client-go's workqueue metrics.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, Weak},
};

use parking_lot::Mutex;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric},
    metrics::{MetricType, counter::Counter, family::Family, gauge::ConstGauge, gauge::Gauge, histogram::Histogram},
    registry::{Registry, Unit},
};

use super::{NameLabel, workqueue_buckets};

/// What the scrape-time gauges ask of a live queue.
pub(crate) trait QueueProbe: Send + Sync {
    /// Seconds of work in flight not yet observed by
    /// `workqueue_work_duration_seconds` (sum, and the longest single one).
    fn in_flight_seconds(&self) -> (f64, f64);
}

type Histograms = Family<NameLabel, Histogram, fn() -> Histogram>;

fn new_histogram() -> Histogram {
    Histogram::new(workqueue_buckets())
}

/// client-go's workqueue metrics, labelled by queue `name`:
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `workqueue_depth` | gauge | items queued (not processing, not waiting for a delay) |
/// | `workqueue_adds_total` | counter | items added (an add that found the item queued already is not counted) |
/// | `workqueue_queue_duration_seconds` | histogram | time an item waited in the queue before a worker took it |
/// | `workqueue_work_duration_seconds` | histogram | time from taking an item to [`done`](crate::WorkQueue::done) |
/// | `workqueue_unfinished_work_seconds` | gauge | seconds of work in flight not yet observed (computed at scrape) |
/// | `workqueue_longest_running_processor_seconds` | gauge | age of the oldest item in flight (computed at scrape) |
/// | `workqueue_retries_total` | counter | rate-limited adds |
///
/// Given to queues with [`WorkQueue::with_metrics`](crate::WorkQueue::with_metrics).
#[derive(Clone)]
pub struct WorkQueueMetrics {
    depth: Family<NameLabel, Gauge>,
    adds: Family<NameLabel, Counter>,
    queue_duration: Histograms,
    work_duration: Histograms,
    retries: Family<NameLabel, Counter>,
    probes: Arc<Probes>,
}

impl fmt::Debug for WorkQueueMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkQueueMetrics").field("queues", &self.probes.0.lock().len()).finish()
    }
}

impl WorkQueueMetrics {
    /// Registers the workqueue metrics into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let this = Self {
            depth: Family::default(),
            adds: Family::default(),
            queue_duration: Family::new_with_constructor(new_histogram),
            work_duration: Family::new_with_constructor(new_histogram),
            retries: Family::default(),
            probes: Arc::new(Probes(Mutex::new(Vec::new()))),
        };
        registry.register("workqueue_depth", "Current depth of workqueue", this.depth.clone());
        registry.register("workqueue_adds", "Total number of adds handled by workqueue", this.adds.clone());
        registry.register_with_unit(
            "workqueue_queue_duration",
            "How long in seconds an item stays in workqueue before being requested",
            Unit::Seconds,
            this.queue_duration.clone(),
        );
        registry.register_with_unit(
            "workqueue_work_duration",
            "How long in seconds processing an item from workqueue takes",
            Unit::Seconds,
            this.work_duration.clone(),
        );
        registry.register("workqueue_retries", "Total number of retries handled by workqueue", this.retries.clone());
        registry.register_collector(Box::new(this.probes.clone()));
        this
    }

    /// The handles of queue `name`; `probe` feeds the scrape-time gauges
    /// while the queue lives.
    pub(crate) fn queue(&self, name: &str, probe: Weak<dyn QueueProbe>) -> QueueHandles {
        let label = NameLabel { name: name.to_string() };
        self.probes.0.lock().push((name.to_string(), probe));
        QueueHandles {
            depth: self.depth.get_or_create_owned(&label),
            adds: self.adds.get_or_create_owned(&label),
            queue_duration: self.queue_duration.get_or_create_owned(&label),
            work_duration: self.work_duration.get_or_create_owned(&label),
            retries: self.retries.get_or_create_owned(&label),
        }
    }
}

/// The metric handles of one queue (cheap to update: no label look-up).
#[derive(Clone, Debug)]
pub(crate) struct QueueHandles {
    pub(crate) depth: Gauge,
    pub(crate) adds: Counter,
    pub(crate) queue_duration: Histogram,
    pub(crate) work_duration: Histogram,
    pub(crate) retries: Counter,
}

/// The live queues, for the gauges computed at scrape time.
struct Probes(Mutex<Vec<(String, Weak<dyn QueueProbe>)>>);

impl fmt::Debug for Probes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probes").field("queues", &self.0.lock().len()).finish()
    }
}

impl Collector for Probes {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        // By name: unfinished seconds add up, the longest is the max.
        let mut by_name: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        self.0.lock().retain(|(name, probe)| {
            let Some(probe) = probe.upgrade() else { return false };
            let (unfinished, longest) = probe.in_flight_seconds();
            let entry = by_name.entry(name.clone()).or_default();
            entry.0 += unfinished;
            entry.1 = entry.1.max(longest);
            true
        });
        type Pick = fn(&(f64, f64)) -> f64;
        let gauges: [(&str, &str, Pick); 2] = [
            (
                "workqueue_unfinished_work",
                "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads.",
                |v| v.0,
            ),
            (
                "workqueue_longest_running_processor",
                "How many seconds has the longest running processor for workqueue been running.",
                |v| v.1,
            ),
        ];
        for (name, help, pick) in gauges {
            let mut metric = encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Gauge)?;
            for (queue, values) in &by_name {
                let label = NameLabel { name: queue.clone() };
                ConstGauge::new(pick(values)).encode(metric.encode_family(&label)?)?;
            }
        }
        Ok(())
    }
}
