//! An event recorder that aggregates repeats into one `events.k8s.io/v1` Event series.
//!
//! [`EventRecorder`] publishes Events about objects (shown by `kubectl
//! describe` under `Events:`) with kube-runtime's types ([`EventType`],
//! [`Reporter`], [`KubeEvent`]). A repeat of the same event (same regarding
//! object, type, reason, action, note, related object and reporter) seen
//! within the window (default [`DEFAULT_WINDOW`]) does not create a new
//! Event: it bumps the existing Event's `series.count` and
//! `series.lastObservedTime` with a merge patch, which `kubectl describe`
//! shows as `(x5 over 2m)`.
//!
//! Why not kube-runtime's `Recorder` as is: it caches and deduplicates too,
//! but its key leaves the note out (as client-go's `tools/events` does), so
//! a new message with the same reason is folded into the earlier Event and
//! never shown (an Event's note is immutable in `events.k8s.io/v1`). Here
//! the note is part of the identity, as in client-go's original
//! `EventCorrelator`. Besides, an Event deleted behind the recorder's back
//! (events expire after an hour, or are cleaned up) is created anew instead
//! of failing every repeat until the cache entry expires, and repeats of one
//! event are serialised, so two concurrent repeats never create two Events.
//!
//! RBAC: `create` and `patch` on `events` in `events.k8s.io`.
//!
//! ```no_run
//! use bot_runtime::events::{EventRecorder, EventType};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Resource;
//!
//! # async fn demo(client: kube::Client, cm: ConfigMap) -> Result<(), bot_runtime::events::Error> {
//! let recorder = EventRecorder::new(client, "bot-operator"); // clone it into each reconcile
//! recorder.publish(&cm.object_ref(&()), EventType::Normal, "Applied", "children up to date").await?;
//! # Ok(()) }
//! ```

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use k8s_openapi::{
    api::{
        core::v1::ObjectReference,
        events::v1::{Event as K8sEvent, EventSeries},
    },
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
pub use kube::runtime::events::{Event as KubeEvent, EventType, Reporter};
use kube::{
    Api, Client,
    api::{Patch, PatchParams, PostParams},
};
use parking_lot::Mutex;

/// How long after its last occurrence an event is still aggregated: 6
/// minutes, as kube-runtime's recorder.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(6 * 60);

/// How many distinct events a recorder remembers: 4096, as client-go's
/// event correlator (the least recently seen is forgotten first).
pub const DEFAULT_CAPACITY: usize = 4096;

/// Errors of the event recorder.
///
/// ```no_run
/// # use bot_runtime::events::{EventRecorder, EventType, Error};
/// # async fn demo(recorder: EventRecorder, r: k8s_openapi::api::core::v1::ObjectReference) {
/// // Events are best effort: log and carry on.
/// if let Err(Error::Create(e) | Error::Series(e)) = recorder.publish(&r, EventType::Normal, "Applied", "").await {
///     eprintln!("event not recorded: {e}");
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Creating the Event failed (rejected, or the API was unreachable).
    #[error("failed to create event: {0}")]
    Create(#[source] kube::Error),
    /// Bumping the series of an existing Event failed.
    #[error("failed to update event series: {0}")]
    Series(#[source] kube::Error),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What makes two publications the same event.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct EventKey {
    regarding: RefKey,
    related: Option<RefKey>,
    type_: EventType,
    reason: String,
    action: String,
    note: Option<String>,
}

/// The identifying fields of an [`ObjectReference`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RefKey([Option<String>; 6]);

impl RefKey {
    fn new(r: &ObjectReference) -> Self {
        let field = |s: &Option<String>| s.clone();
        Self([
            field(&r.api_version),
            field(&r.kind),
            field(&r.namespace),
            field(&r.name),
            field(&r.uid),
            field(&r.field_path),
        ])
    }
}

/// The Event a key's occurrences are aggregated into.
struct Series {
    namespace: String,
    name: String,
    count: i32,
    last_seen: Instant,
}

type SlotState = Arc<tokio::sync::Mutex<Option<Series>>>;

struct Slot {
    state: SlotState,
    touched: Instant,
}

struct Inner {
    client: Client,
    reporter: Reporter,
    window: Duration,
    capacity: usize,
    cache: Mutex<HashMap<EventKey, Slot>>,
}

/// The longest `note` the apiserver accepts in an `events.k8s.io/v1` Event
/// (1 KiB); longer notes are cut at a character boundary and end in `...`.
pub const MAX_NOTE_BYTES: usize = 1024;

/// `note` cut to [`MAX_NOTE_BYTES`] at a character boundary.
fn truncate_note(note: &str) -> String {
    if note.len() <= MAX_NOTE_BYTES {
        return note.to_string();
    }
    let mut end = MAX_NOTE_BYTES - 3;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &note[..end])
}

/// Publishes Events, aggregating repeats into series (see the [module docs](self)).
///
/// Cheap to clone; clones share the aggregation cache, so give every
/// reconcile a clone of one recorder (two recorders aggregate separately).
///
/// ```no_run
/// # use bot_runtime::events::{EventRecorder, EventType};
/// # use kube::Resource;
/// # async fn demo(client: kube::Client, cm: k8s_openapi::api::core::v1::ConfigMap) -> Result<(), bot_runtime::events::Error> {
/// let recorder = EventRecorder::new(client, "bot-operator");
/// for _ in 0..5 {
///     recorder.publish(&cm.object_ref(&()), EventType::Normal, "Applied", "up to date").await?;
/// } // one Event, series.count 5
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct EventRecorder {
    inner: Arc<Inner>,
}

impl fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventRecorder")
            .field("reporter", &self.inner.reporter)
            .field("window", &self.inner.window)
            .field("cached", &self.inner.cache.lock().len())
            .finish()
    }
}

impl EventRecorder {
    /// A recorder reporting as `reporter`: a controller name (`"bot-operator"`;
    /// the instance is then the host name, i.e. the pod name) or a
    /// [`Reporter`] with an explicit instance.
    ///
    /// ```no_run
    /// # use bot_runtime::events::{EventRecorder, Reporter};
    /// # fn demo(client: kube::Client) {
    /// let recorder = EventRecorder::new(client.clone(), "bot-operator");
    /// let recorder = EventRecorder::new(client, Reporter {
    ///     controller: "bot-operator".into(),
    ///     instance: std::env::var("POD_NAME").ok(),
    /// });
    /// # }
    /// ```
    pub fn new(client: Client, reporter: impl Into<Reporter>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                reporter: reporter.into(),
                window: DEFAULT_WINDOW,
                capacity: DEFAULT_CAPACITY,
                cache: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Sets how long after its last occurrence a repeat is still aggregated
    /// (default [`DEFAULT_WINDOW`]; zero: never aggregate). Call before cloning.
    ///
    /// ```no_run
    /// # use bot_runtime::events::EventRecorder;
    /// # fn demo(client: kube::Client) {
    /// let recorder = EventRecorder::new(client, "bot-operator").with_window(std::time::Duration::from_secs(600));
    /// # }
    /// ```
    #[must_use]
    pub fn with_window(self, window: Duration) -> Self {
        self.reconfigure(|inner| inner.window = window)
    }

    /// Sets how many distinct events are remembered (default
    /// [`DEFAULT_CAPACITY`], at least 1). Call before cloning.
    ///
    /// ```no_run
    /// # use bot_runtime::events::EventRecorder;
    /// # fn demo(client: kube::Client) {
    /// let recorder = EventRecorder::new(client, "bot-operator").with_capacity(512);
    /// # }
    /// ```
    #[must_use]
    pub fn with_capacity(self, capacity: usize) -> Self {
        self.reconfigure(|inner| inner.capacity = capacity.max(1))
    }

    fn reconfigure(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                client: shared.client.clone(),
                reporter: shared.reporter.clone(),
                window: shared.window,
                capacity: shared.capacity,
                cache: Mutex::new(HashMap::new()),
            },
        };
        f(&mut inner);
        Self { inner: Arc::new(inner) }
    }

    /// The reporter.
    ///
    /// ```no_run
    /// # fn demo(client: kube::Client) {
    /// let recorder = bot_runtime::EventRecorder::new(client, "bot-operator");
    /// assert_eq!(recorder.reporter().controller, "bot-operator");
    /// # }
    /// ```
    pub fn reporter(&self) -> &Reporter {
        &self.inner.reporter
    }

    /// Publishes an event about `regarding` whose action is its `reason`:
    /// creates an Event, or bumps the series of the Event a repeat within
    /// the window belongs to. An empty `note` is left out.
    ///
    /// ```no_run
    /// # use bot_runtime::events::{EventRecorder, EventType};
    /// # use kube::Resource;
    /// # async fn demo(recorder: EventRecorder, cm: k8s_openapi::api::core::v1::ConfigMap) -> Result<(), bot_runtime::events::Error> {
    /// recorder.publish(&cm.object_ref(&()), EventType::Warning, "MissingSecret", "secret creds not found").await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: impl Into<String>,
    ) -> Result<()> {
        let note = Some(note.into()).filter(|n| !n.is_empty());
        let event = KubeEvent { type_, reason: reason.into(), note, action: reason.into(), secondary: None };
        self.publish_event(regarding, &event).await
    }

    /// Publishes `event` (kube-runtime's type: with an explicit action and
    /// an optional related object) about `regarding`, aggregating repeats.
    ///
    /// ```no_run
    /// # use bot_runtime::events::{EventRecorder, EventType, KubeEvent};
    /// # use kube::Resource;
    /// # async fn demo(recorder: EventRecorder, bot: k8s_openapi::api::core::v1::ConfigMap, deploy: k8s_openapi::api::apps::v1::Deployment) -> Result<(), bot_runtime::events::Error> {
    /// let event = KubeEvent {
    ///     type_: EventType::Normal,
    ///     reason: "Scaled".into(),
    ///     note: Some("engine scaled to 2".into()),
    ///     action: "Scale".into(),
    ///     secondary: Some(deploy.object_ref(&())),
    /// };
    /// recorder.publish_event(&bot.object_ref(&()), &event).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_event(&self, regarding: &ObjectReference, event: &KubeEvent) -> Result<()> {
        let key = EventKey {
            regarding: RefKey::new(regarding),
            related: event.secondary.as_ref().map(RefKey::new),
            type_: event.type_,
            reason: event.reason.clone(),
            action: event.action.clone(),
            note: event.note.clone(),
        };
        let state = self.slot(key);
        // Held across the API call: repeats of one event are serialised.
        let mut series = state.lock().await;
        let now = Instant::now();
        if let Some(current) = series.as_mut().filter(|s| now.duration_since(s.last_seen) < self.inner.window) {
            match self.bump(current).await {
                Ok(()) => {
                    current.last_seen = now;
                    return Ok(());
                }
                // Gone (expired or deleted): start a new series below.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(e) => return Err(Error::Series(e)),
            }
        }
        let created = self.create(regarding, event).await?;
        *series = Some(Series { last_seen: now, ..created });
        Ok(())
    }

    /// The aggregation state of `key`, forgetting stale or surplus entries.
    fn slot(&self, key: EventKey) -> SlotState {
        let now = Instant::now();
        let mut cache = self.inner.cache.lock();
        if let Some(slot) = cache.get_mut(&key) {
            slot.touched = now;
            return slot.state.clone();
        }
        if cache.len() >= self.inner.capacity {
            let window = self.inner.window;
            cache.retain(|_, slot| now.duration_since(slot.touched) < window);
            while cache.len() >= self.inner.capacity {
                let Some(oldest) = cache.iter().min_by_key(|(_, s)| s.touched).map(|(k, _)| k.clone()) else { break };
                cache.remove(&oldest);
            }
        }
        let state = SlotState::default();
        cache.insert(key, Slot { state: state.clone(), touched: now });
        state
    }

    /// Patches the next count of `series` onto its Event.
    async fn bump(&self, series: &mut Series) -> Result<(), kube::Error> {
        let count = series.count + 1;
        let patch = serde_json::json!({
            "series": EventSeries { count, last_observed_time: MicroTime(Timestamp::now()) }
        });
        let api: Api<K8sEvent> = Api::namespaced(self.inner.client.clone(), &series.namespace);
        api.patch(&series.name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        series.count = count;
        Ok(())
    }

    /// Creates a new Event (the first of a series); a note longer than the
    /// apiserver accepts is cut (see [`MAX_NOTE_BYTES`]), not refused.
    async fn create(&self, regarding: &ObjectReference, event: &KubeEvent) -> Result<Series> {
        let reporter = &self.inner.reporter;
        let now = Timestamp::now();
        // Cluster-scoped objects get their events in "default", as in client-go.
        let namespace = regarding.namespace.clone().filter(|ns| !ns.is_empty()).unwrap_or_else(|| "default".into());
        let prefix = regarding.name.as_deref().unwrap_or(&reporter.controller);
        let name = format!("{prefix}.{:x}", now.as_nanosecond());
        let k8s_event = K8sEvent {
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(namespace.clone()), ..Default::default() },
            event_time: Some(MicroTime(now)),
            type_: Some(type_str(event.type_).into()),
            reason: Some(event.reason.clone()),
            action: Some(event.action.clone()),
            note: event.note.as_deref().map(truncate_note),
            regarding: Some(regarding.clone()),
            related: event.secondary.clone(),
            reporting_controller: Some(reporter.controller.clone()),
            reporting_instance: Some(reporter.instance.clone().unwrap_or_else(|| reporter.controller.clone())),
            ..Default::default()
        };
        let api: Api<K8sEvent> = Api::namespaced(self.inner.client.clone(), &namespace);
        api.create(&PostParams::default(), &k8s_event).await.map_err(Error::Create)?;
        Ok(Series { namespace, name, count: 1, last_seen: Instant::now() })
    }
}

fn type_str(t: EventType) -> &'static str {
    match t {
        EventType::Normal => "Normal",
        EventType::Warning => "Warning",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_notes_are_cut_at_a_char_boundary() {
        let long = "é".repeat(800);
        let cut = super::truncate_note(&long);
        assert!(cut.len() <= super::MAX_NOTE_BYTES && cut.ends_with("..."), "{}", cut.len());
        assert_eq!(super::truncate_note("short"), "short");
    }

    use super::*;

    fn recorder(capacity: usize) -> EventRecorder {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = Client::try_from(config).unwrap();
        EventRecorder::new(client, Reporter { controller: "test".into(), instance: None }).with_capacity(capacity)
    }

    fn key(reason: &str, note: &str) -> EventKey {
        let regarding =
            ObjectReference { kind: Some("ConfigMap".into()), name: Some("a".into()), ..Default::default() };
        EventKey {
            regarding: RefKey::new(&regarding),
            related: None,
            type_: EventType::Normal,
            reason: reason.into(),
            action: reason.into(),
            note: Some(note.into()),
        }
    }

    #[test]
    fn the_note_is_part_of_the_identity() {
        assert_eq!(key("Applied", "x"), key("Applied", "x"));
        assert_ne!(key("Applied", "x"), key("Applied", "y"));
        assert_ne!(key("Applied", "x"), key("Failed", "x"));
    }

    #[tokio::test]
    async fn repeats_share_a_slot_and_the_cache_stays_bounded() {
        let tick = || std::thread::sleep(Duration::from_millis(1));
        let r = recorder(2);
        let a = r.slot(key("A", ""));
        assert!(Arc::ptr_eq(&a, &r.slot(key("A", ""))));
        tick();
        r.slot(key("B", ""));
        tick();
        r.slot(key("A", "")); // A is now the most recently seen
        tick();
        r.slot(key("C", "")); // evicts B
        let cache = r.inner.cache.lock();
        assert_eq!(cache.len(), 2);
        assert!(cache.contains_key(&key("A", "")) && cache.contains_key(&key("C", "")));
    }
}
