//! Reflector and informer metrics, by kind.

use std::{
    fmt,
    sync::atomic::AtomicU64,
    time::{SystemTime, UNIX_EPOCH},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge},
    registry::{Registry, Unit},
};

/// `kind="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

/// `kind="...",handler="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HandlerLabels {
    kind: String,
    handler: String,
}

/// `kind="...",site="..."`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SiteLabels {
    kind: String,
    site: &'static str,
}

/// Where user code panicked inside an informer (the `site` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PanicSite {
    /// An event handler: that event is lost for that handler only.
    Handler,
    /// A transform or an index function: the event is dropped, the cache unchanged.
    TransformOrIndex,
}

/// Reflector and informer metrics, labelled by `kind` (the factory's
/// [`kind_key`](crate::factory::kind_key), e.g. `v1/ConfigMap`):
///
/// | metric | type | meaning |
/// |---|---|---|
/// | `reflector_lists_total` | counter | lists begun (the first, and each relist after a 410 or an error) |
/// | `reflector_watch_events_total` | counter | watch events applied (adds, updates, deletes after the list) |
/// | `reflector_watch_errors_total` | counter | list or watch failures; each is retried with backoff (a restart) |
/// | `reflector_objects` | gauge | objects in the cache |
/// | `reflector_last_event_timestamp_seconds` | gauge | Unix time of the last list or watch event applied |
/// | `informer_handler_buffer_depth{kind,handler}` | gauge | events buffered for a handler, not yet handled |
/// | `informer_panics_total{kind,site}` | counter | panics in user code, `site` = `handler` or `transform_or_index` |
/// | `reflector_requests_total` | counter | list and watch requests sent (answered or not) |
/// | `reflector_decode_errors_total` | counter | listed or watched objects skipped because the Rust type cannot decode them |
/// | `reflector_healthy` | gauge | 1 while the informer is synced and its last list or watch succeeded, else 0 |
///
/// `reflector_watch_events_total` and the age of the last event show a
/// watch is live, `reflector_watch_errors_total` counts restarts after
/// failures and `reflector_requests_total` the load the informer puts on the
/// apiserver (a watch is renewed every ~15-20 s: see
/// [`DEFAULT_WATCH_TIMEOUT`](crate::reflector::DEFAULT_WATCH_TIMEOUT)).
#[derive(Clone)]
pub struct InformerMetrics {
    lists: Family<KindLabel, Counter>,
    watch_events: Family<KindLabel, Counter>,
    watch_errors: Family<KindLabel, Counter>,
    objects: Family<KindLabel, Gauge>,
    last_event: Family<KindLabel, Gauge<f64, AtomicU64>>,
    handler_depth: Family<HandlerLabels, Gauge>,
    panics: Family<SiteLabels, Counter>,
    requests: Family<KindLabel, Counter>,
    decode_errors: Family<KindLabel, Counter>,
    healthy: Family<KindLabel, Gauge>,
}

impl fmt::Debug for InformerMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InformerMetrics").finish_non_exhaustive()
    }
}

impl InformerMetrics {
    /// Registers the reflector and informer metrics into `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let this = Self {
            lists: Family::default(),
            watch_events: Family::default(),
            watch_errors: Family::default(),
            objects: Family::default(),
            last_event: Family::default(),
            handler_depth: Family::default(),
            panics: Family::default(),
            requests: Family::default(),
            decode_errors: Family::default(),
            healthy: Family::default(),
        };
        registry.register("reflector_lists", "Total number of lists begun by reflectors", this.lists.clone());
        registry.register(
            "reflector_watch_events",
            "Total number of watch events applied by reflectors",
            this.watch_events.clone(),
        );
        registry.register(
            "reflector_watch_errors",
            "Total number of list or watch failures (each followed by a retry) of reflectors",
            this.watch_errors.clone(),
        );
        registry.register("reflector_objects", "Number of objects in the informer's cache", this.objects.clone());
        registry.register_with_unit(
            "reflector_last_event_timestamp",
            "Unix time of the last list or watch event applied",
            Unit::Seconds,
            this.last_event.clone(),
        );
        registry.register(
            "informer_handler_buffer_depth",
            "Events buffered for an event handler and not handled yet",
            this.handler_depth.clone(),
        );
        registry.register(
            "informer_panics",
            "Total number of panics in event handlers, transforms or index functions",
            this.panics.clone(),
        );
        registry.register(
            "reflector_requests",
            "Total number of list and watch requests sent by reflectors",
            this.requests.clone(),
        );
        registry.register(
            "reflector_decode_errors",
            "Total number of listed or watched objects skipped because they could not be decoded",
            this.decode_errors.clone(),
        );
        registry.register(
            "reflector_healthy",
            "1 while the informer is synced and its last list or watch succeeded",
            this.healthy.clone(),
        );
        this
    }

    /// The handles of one kind, for [`InformerConfig::metrics`](crate::InformerConfig::metrics).
    pub fn for_kind(&self, kind: impl Into<String>) -> InformerKindMetrics {
        let kind = kind.into();
        let label = KindLabel { kind: kind.clone() };
        let site = |site| self.panics.get_or_create_owned(&SiteLabels { kind: kind.clone(), site });
        InformerKindMetrics {
            lists: self.lists.get_or_create_owned(&label),
            watch_events: self.watch_events.get_or_create_owned(&label),
            watch_errors: self.watch_errors.get_or_create_owned(&label),
            objects: self.objects.get_or_create_owned(&label),
            last_event: self.last_event.get_or_create_owned(&label),
            handler_panics: site("handler"),
            transform_panics: site("transform_or_index"),
            handler_depth: self.handler_depth.clone(),
            requests: self.requests.get_or_create_owned(&label),
            decode_errors: self.decode_errors.get_or_create_owned(&label),
            healthy: self.healthy.get_or_create_owned(&label),
            kind,
        }
    }
}

/// The metric handles of one informer (one kind); from [`InformerMetrics::for_kind`].
#[derive(Clone)]
pub struct InformerKindMetrics {
    kind: String,
    lists: Counter,
    watch_events: Counter,
    watch_errors: Counter,
    objects: Gauge,
    last_event: Gauge<f64, AtomicU64>,
    handler_panics: Counter,
    transform_panics: Counter,
    handler_depth: Family<HandlerLabels, Gauge>,
    requests: Counter,
    decode_errors: Counter,
    healthy: Gauge,
}

impl fmt::Debug for InformerKindMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InformerKindMetrics").field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl InformerKindMetrics {
    /// The `kind` label.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub(crate) fn list_begun(&self) {
        self.lists.inc();
    }

    pub(crate) fn watch_event(&self) {
        self.watch_events.inc();
    }

    pub(crate) fn watch_error(&self) {
        self.watch_errors.inc();
    }

    /// After an event: the cache size and the time of the event.
    pub(crate) fn applied(&self, objects: usize) {
        self.objects.set(i64::try_from(objects).unwrap_or(i64::MAX));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.last_event.set(now.as_secs_f64());
    }

    pub(crate) fn panicked(&self, site: PanicSite) {
        match site {
            PanicSite::Handler => self.handler_panics.inc(),
            PanicSite::TransformOrIndex => self.transform_panics.inc(),
        };
    }

    pub(crate) fn request_sent(&self) {
        self.requests.inc();
    }

    pub(crate) fn decode_error(&self) {
        self.decode_errors.inc();
    }

    pub(crate) fn set_healthy(&self, healthy: bool) {
        self.healthy.set(i64::from(healthy));
    }

    /// The buffer-depth gauge of handler `id`.
    pub(crate) fn handler_depth(&self, id: u64) -> Gauge {
        self.handler_depth.get_or_create_owned(&HandlerLabels { kind: self.kind.clone(), handler: id.to_string() })
    }

    /// Drops the series of a removed handler.
    pub(crate) fn remove_handler(&self, id: u64) {
        self.handler_depth.remove(&HandlerLabels { kind: self.kind.clone(), handler: id.to_string() });
    }
}
