//! The reflector: applies kube `watcher` events to a [`Store`] and turns them into [`Delta`]s.
//!
//! List/watch itself (bookmarks, 410 relist, streaming lists, resuming a
//! watch from the last resourceVersion) is kube's
//! [`watcher`](kube::runtime::watcher()); this module adds what the
//! informer needs around it:
//!
//! - [`Backoff`]: jittered exponential retry delays that reset on success
//!   (client-go's reflector policy), with a short cap while the apiserver
//!   does not answer at all; [`watch_stream`] is kube's watcher with it.
//! - [`Decoded`]: each listed or watched object decoded on its own, so one
//!   object the Rust type cannot represent is skipped and reported, never
//!   failing the whole list or the watch.
//! - [`DEFAULT_WATCH_TIMEOUT`]: watches end on the server every ~15-20 s and
//!   are resumed from the last resourceVersion (no relist); kube's watcher
//!   gives up on a watch silent for the timeout plus 5 s, so a connection
//!   that dies without a FIN or RST is noticed within 25 s.

use std::{
    borrow::Cow,
    fmt::Debug,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{Api, Resource, core::DynamicResourceScope, runtime::watcher};
use serde::{Deserialize, Deserializer, de::DeserializeOwned};

use crate::store::{Change, Store, Writer};

/// A function applied to every object before it is stored (e.g. strip managedFields).
pub type TransformFn<K> = Arc<dyn Fn(&mut K) + Send + Sync>;

/// One change of the cache, as handlers see it.
#[derive(Debug)]
pub enum Delta<K> {
    /// An object appeared.
    Added {
        /// The object.
        obj: Arc<K>,
        /// Whether it came with the first complete list (before sync).
        is_in_initial_list: bool,
    },
    /// An object changed (or, on resync, `old` and `new` are the same).
    Updated {
        /// The previously cached object.
        old: Arc<K>,
        /// The new object.
        new: Arc<K>,
    },
    /// An object went away.
    Deleted {
        /// Its last known state.
        obj: Arc<K>,
        /// `true` when the deletion was inferred from a relist rather than
        /// seen as a watch event, so `obj` may be stale (client-go's
        /// `DeletedFinalStateUnknown`).
        final_state_unknown: bool,
    },
}

impl<K> Clone for Delta<K> {
    fn clone(&self) -> Self {
        match self {
            Self::Added { obj, is_in_initial_list } => {
                Self::Added { obj: obj.clone(), is_in_initial_list: *is_in_initial_list }
            }
            Self::Updated { old, new } => Self::Updated { old: old.clone(), new: new.clone() },
            Self::Deleted { obj, final_state_unknown } => {
                Self::Deleted { obj: obj.clone(), final_state_unknown: *final_state_unknown }
            }
        }
    }
}

/// Errors of the reflector's watch stream: kube's watcher errors.
pub type Error = watcher::Error;

/// Server-side timeout of watches (`timeoutSeconds`) when the
/// [`watcher::Config`] sets none: a random value in this range per watcher,
/// so informers do not restart their watches in step.
///
/// A watch that ends on its timeout is resumed from the last resourceVersion
/// the watch delivered (the apiserver sends a bookmark before it closes), so
/// this costs one cheap watch request per informer every ~15-20 s and never
/// a relist. kube's watcher treats a watch that delivers nothing for the
/// timeout plus 5 s as dead and reconnects: a connection that dies silently
/// (a partition, a dead load balancer: no FIN, no RST) is noticed within
/// 25 s, where kube's default of 290 s left the cache stale for ~5 minutes.
pub const DEFAULT_WATCH_TIMEOUT: std::ops::RangeInclusive<u32> = 15..=20;

/// `config` with a server-side watch timeout drawn from
/// [`DEFAULT_WATCH_TIMEOUT`] when it sets none.
pub fn with_default_watch_timeout(mut config: watcher::Config) -> watcher::Config {
    if config.timeout.is_none() {
        let (low, high) = (*DEFAULT_WATCH_TIMEOUT.start(), *DEFAULT_WATCH_TIMEOUT.end());
        let spread = u64::from(high - low + 1);
        config.timeout = Some(low + u32::try_from(jitter_seed() % spread).unwrap_or(0));
    }
    config
}

/// kube's watcher over `api` with `config` (a server-side watch timeout from
/// [`DEFAULT_WATCH_TIMEOUT`] when it sets none), sleeping a [`Backoff`]
/// delay after each error: the delays reset once an event arrives after an
/// error. The stream never ends by itself; errors are yielded, then retried.
///
/// [`SharedIndexInformer`](crate::SharedIndexInformer) does more (it also
/// counts a watch that starts without events as a success, and decodes each
/// object on its own); this is for code that wants kube's events directly.
pub fn watch_stream<K>(api: Api<K>, config: watcher::Config) -> BoxStream<'static, Result<watcher::Event<K>, Error>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let inner = kube::runtime::watcher(api, with_default_watch_timeout(config)).boxed();
    futures::stream::unfold(
        (inner, Backoff::default(), None::<Duration>),
        |(mut inner, mut backoff, pause)| async move {
            if let Some(delay) = pause {
                tokio::time::sleep(delay).await;
            }
            let item = inner.next().await?;
            let pause = match &item {
                Ok(watcher::Event::Init) => None,
                Ok(_) => {
                    backoff.reset();
                    None
                }
                Err(e) => Some(backoff.next_delay(ErrorClass::of(e))),
            };
            Some((item, (inner, backoff, pause)))
        },
    )
    .boxed()
}

/// Whether `error` is a watch that expired (`410 Gone`: its resourceVersion
/// was compacted away). kube's watcher relists right after it; as in
/// client-go, that is routine, not a failure: no retry delay, and the
/// informer stays healthy.
pub fn is_expired(error: &Error) -> bool {
    matches!(error, watcher::Error::WatchError(status) if status.code == 410)
}

/// Whether a failed list or watch was answered by the apiserver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The apiserver answered with an error (a status, a body that could not
    /// be decoded): retrying loads it, so the delay grows to
    /// [`Backoff::max`].
    Answered,
    /// Nothing answered (connection refused or reset, a timeout): the
    /// apiserver is down, restarting or unreachable, and a retry costs it
    /// nothing, so the delay stops growing at [`Backoff::unanswered_max`]
    /// and the cache catches up within about that once it is back.
    Unanswered,
}

impl ErrorClass {
    /// Classifies a watcher error.
    pub fn of(error: &Error) -> Self {
        let client_error = match error {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => e,
            watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => return Self::Answered,
        };
        match client_error {
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => Self::Unanswered,
            _ => Self::Answered,
        }
    }
}

/// Retry delays of a reflector: client-go's policy (0.8 s doubling to 30 s,
/// jittered, reset after a success), except that failures nobody answered
/// ([`ErrorClass::Unanswered`]) stop growing at 1.6 s.
///
/// Each delay is the nominal one minus up to half of it at random (so
/// informers restarted by one fault spread out). The request rate while the
/// apiserver is unreachable is thus at most one attempt per 0.4 s per
/// informer at first and one per 0.8-1.6 s after three failures, and those
/// attempts do not reach it; an apiserver that answers with errors is asked
/// at most once per 15-30 s after eight failures.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first delay (nominal): 800 ms.
    pub initial: Duration,
    /// The largest delay after answered failures: 30 s.
    pub max: Duration,
    /// The largest delay after unanswered failures: 1.6 s.
    pub unanswered_max: Duration,
    failures: u32,
    rng: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            unanswered_max: Duration::from_millis(1600),
            failures: 0,
            rng: jitter_seed() | 1,
        }
    }
}

impl Backoff {
    /// The delay before retrying after one more failure of `class`.
    pub fn next_delay(&mut self, class: ErrorClass) -> Duration {
        let cap = match class {
            ErrorClass::Answered => self.max,
            ErrorClass::Unanswered => self.unanswered_max,
        };
        let nominal = self.initial.saturating_mul(1u32 << self.failures.min(16)).min(cap);
        self.failures = self.failures.saturating_add(1);
        // xorshift64: no dependency, good enough for jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let fraction = (self.rng % 1000) as f64 / 2000.0; // [0, 0.5)
        nominal.mul_f64(1.0 - fraction)
    }

    /// Forgets past failures (after a success).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

fn jitter_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

/// One listed or watched object, decoded on its own: `Ok` the object, or
/// `Err` what is known of an object the Rust type cannot represent (a value
/// the CRD schema allows but an enum lacks, a newer field's type, ...).
///
/// kube decodes a list as one document, so a single such object fails the
/// whole list (every relist then fails, forever) and is silently dropped
/// from a watch; reading each item as raw JSON first and decoding it apart
/// keeps the failure to that object.
#[derive(Debug, Clone)]
pub struct Decoded<K>(pub Result<K, Box<Undecodable>>);

/// An object that could not be decoded: its metadata (when that much
/// parses) and the decoding error.
#[derive(Debug, Clone)]
pub struct Undecodable {
    /// The object's metadata (empty when even that does not parse).
    pub metadata: ObjectMeta,
    /// The decoding error, as serde_json reports it (path, line and column).
    pub error: String,
}

impl Undecodable {
    /// `namespace/name` (or `name`).
    pub fn key(&self) -> String {
        match (&self.metadata.namespace, &self.metadata.name) {
            (Some(ns), Some(name)) => format!("{ns}/{name}"),
            (None, Some(name)) => name.clone(),
            _ => "<unnamed>".into(),
        }
    }
}

impl<'de, K: DeserializeOwned> Deserialize<'de> for Decoded<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct MetadataOnly {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        let raw = Box::<serde_json::value::RawValue>::deserialize(deserializer)?;
        Ok(Self(serde_json::from_str::<K>(raw.get()).map_err(|e| {
            let metadata = serde_json::from_str::<MetadataOnly>(raw.get()).map(|m| m.metadata).unwrap_or_default();
            Box::new(Undecodable { metadata, error: e.to_string() })
        })))
    }
}

/// The dynamic type of [`Decoded`]: the URL of the collection watched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DecodedType {
    /// The collection's URL path, namespace included when scoped.
    pub url: String,
}

impl<K: Resource> Resource for Decoded<K> {
    type DynamicType = DecodedType;
    type Scope = DynamicResourceScope;

    fn kind(_: &DecodedType) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn group(_: &DecodedType) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &DecodedType) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn plural(_: &DecodedType) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn url_path(dt: &DecodedType, _namespace: Option<&str>) -> String {
        dt.url.clone()
    }
    fn metadata_api() -> bool {
        K::metadata_api()
    }
    fn meta(&self) -> &ObjectMeta {
        match &self.0 {
            Ok(obj) => obj.meta(),
            Err(bad) => &bad.metadata,
        }
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match &mut self.0 {
            Ok(obj) => obj.meta_mut(),
            Err(bad) => &mut bad.metadata,
        }
    }
}

/// `api`'s collection (same URL, namespace, client or `client`), read as
/// [`Decoded`] objects.
pub fn decoded_api<K: Resource>(api: &Api<K>, client: kube::Client) -> Api<Decoded<K>> {
    Api::all_with(client, &DecodedType { url: api.resource_url().to_string() })
}

/// Applies watcher events to a [`Store`].
///
/// During a (re)list the listed objects are buffered and swapped in
/// atomically at `InitDone`, so readers never see a half-listed cache; the
/// swap yields `Added`/`Updated`/`Deleted { final_state_unknown: true }`
/// deltas against what was cached before. The store is marked synced after
/// the first `InitDone`.
///
/// The reflector owns the cache's [`Writer`]: nothing else changes the
/// cache, so every change becomes a delta.
pub struct Reflector<K> {
    writer: Writer<K>,
    transform: Option<TransformFn<K>>,
    buffer: Option<Vec<K>>,
}

impl<K> Debug for Reflector<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflector")
            .field("store", &self.writer)
            .field("listing", &self.buffer.as_ref().map(Vec::len))
            .finish()
    }
}

impl<K: Resource + 'static> Reflector<K> {
    /// A reflector writing through `writer`, applying `transform` to every object first.
    pub fn new(writer: Writer<K>, transform: Option<TransformFn<K>>) -> Self {
        Self { writer, transform, buffer: None }
    }

    /// The cache written to (reader side).
    pub fn store(&self) -> &Store<K> {
        &self.writer
    }

    /// The index functions that panicked since the last call: (object,
    /// index name). Each object was cached all the same, without a value in
    /// that index; this logs each failure.
    pub fn take_index_failures(&mut self) -> usize {
        let failures = self.writer.take_index_failures();
        for (key, index) in &failures {
            tracing::error!(%key, %index, "an index function panicked; the object is cached without a value in that index");
        }
        failures.len()
    }

    fn transformed(&self, mut obj: K) -> K {
        if let Some(t) = &self.transform {
            t(&mut obj);
        }
        obj
    }

    /// Applies one watcher event; returns the resulting deltas in order.
    pub fn apply(&mut self, event: watcher::Event<K>) -> Vec<Delta<K>> {
        match event {
            watcher::Event::Init => {
                self.buffer = Some(Vec::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                let obj = self.transformed(obj);
                self.buffer.get_or_insert_with(Vec::new).push(obj);
                Vec::new()
            }
            watcher::Event::InitDone => {
                let listed = self.buffer.take().unwrap_or_default();
                let initial = !self.writer.has_synced();
                let mut deltas = Vec::new();
                for change in self.writer.replace(listed) {
                    deltas.push(match change {
                        Change::Added(obj) => Delta::Added { obj, is_in_initial_list: initial },
                        Change::Updated { old, new } => Delta::Updated { old, new },
                        Change::Removed(obj) => Delta::Deleted { obj, final_state_unknown: true },
                    });
                }
                self.writer.mark_synced();
                deltas
            }
            watcher::Event::Apply(obj) => {
                let new = Arc::new(self.transformed(obj));
                match self.writer.upsert_arc(new.clone()) {
                    None => vec![Delta::Added { obj: new, is_in_initial_list: false }],
                    Some(old) => vec![Delta::Updated { old, new }],
                }
            }
            watcher::Event::Delete(obj) => {
                let obj = self.transformed(obj);
                // Even an object never cached (created and deleted while we
                // relisted) reaches handlers once, with its final state.
                self.writer.delete(&obj);
                vec![Delta::Deleted { obj: Arc::new(obj), final_state_unknown: false }]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;
    use watcher::Event;

    fn cm(name: &str, rv: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                namespace: Some("ns".into()),
                name: Some(name.into()),
                resource_version: Some(rv.into()),
                managed_fields: Some(vec![Default::default()]),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn summary(deltas: &[Delta<ConfigMap>]) -> Vec<String> {
        let name = |o: &Arc<ConfigMap>| o.metadata.name.clone().unwrap();
        let mut v: Vec<String> = deltas
            .iter()
            .map(|d| match d {
                Delta::Added { obj, is_in_initial_list } => format!("add {} {is_in_initial_list}", name(obj)),
                Delta::Updated { old, new } => format!(
                    "update {} {}->{}",
                    name(new),
                    old.metadata.resource_version.as_deref().unwrap(),
                    new.metadata.resource_version.as_deref().unwrap()
                ),
                Delta::Deleted { obj, final_state_unknown } => format!("delete {} {final_state_unknown}", name(obj)),
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn initial_list_watch_and_relist() {
        let writer = Writer::<ConfigMap>::new();
        let store = writer.as_reader();
        let strip: TransformFn<ConfigMap> = Arc::new(|c: &mut ConfigMap| c.metadata.managed_fields = None);
        let mut r = Reflector::new(writer, Some(strip));

        assert!(r.apply(Event::Init).is_empty());
        assert!(r.apply(Event::InitApply(cm("a", "1"))).is_empty());
        assert!(r.apply(Event::InitApply(cm("b", "1"))).is_empty());
        assert!(store.is_empty(), "a list is swapped in at InitDone");
        assert!(!store.has_synced());
        assert_eq!(summary(&r.apply(Event::InitDone)), ["add a true", "add b true"]);
        assert!(store.has_synced());
        assert!(store.get_by(Some("ns"), "a").unwrap().metadata.managed_fields.is_none(), "transformed");

        assert_eq!(summary(&r.apply(Event::Apply(cm("c", "2")))), ["add c false"]);
        assert_eq!(summary(&r.apply(Event::Apply(cm("a", "3")))), ["update a 1->3"]);
        assert_eq!(summary(&r.apply(Event::Delete(cm("b", "4")))), ["delete b false"]);
        assert_eq!(store.len(), 2);

        // Relist: a unchanged, c changed, d new, c... and b already gone; a missing one is deleted.
        r.apply(Event::Init);
        r.apply(Event::InitApply(cm("a", "3")));
        r.apply(Event::InitApply(cm("d", "5")));
        assert_eq!(summary(&r.apply(Event::InitDone)), ["add d false", "delete c true"]);
        assert_eq!(store.keys().iter().map(ToString::to_string).collect::<Vec<_>>(), ["ns/a", "ns/d"]);
    }

    #[test]
    fn backoff_grows_jittered_caps_by_class_and_resets() {
        let mut b = Backoff::default();
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay(ErrorClass::Answered)).collect();
        for (i, d) in d.iter().enumerate() {
            let nominal = Duration::from_millis(800).saturating_mul(1 << i).min(Duration::from_secs(30));
            assert!(*d <= nominal && *d > nominal / 2, "delay {i}: {d:?} vs {nominal:?}");
        }
        b.reset();
        let unanswered: Vec<Duration> = (0..10).map(|_| b.next_delay(ErrorClass::Unanswered)).collect();
        assert!(unanswered.iter().all(|d| *d <= Duration::from_millis(1600)), "{unanswered:?}");
        assert!(unanswered[5] > Duration::from_millis(800), "capped, not reset: {unanswered:?}");
        assert_eq!(b.failures(), 10);
        b.reset();
        assert!(b.next_delay(ErrorClass::Answered) <= Duration::from_millis(800));
    }

    #[test]
    fn decoded_keeps_one_bad_object_to_itself() {
        #[derive(Debug, Clone, serde::Deserialize)]
        struct Strict {
            metadata: ObjectMeta,
            #[allow(dead_code)]
            mode: Mode,
        }
        #[derive(Debug, Clone, serde::Deserialize)]
        enum Mode {
            A,
        }
        let list = r#"{"metadata":{"resourceVersion":"9"},"items":[
            {"metadata":{"name":"good","namespace":"ns","resourceVersion":"1"},"mode":"A"},
            {"metadata":{"name":"bad","namespace":"ns","resourceVersion":"2"},"mode":"Z"},
            {"metadata":{"name":"good2","namespace":"ns","resourceVersion":"3"},"mode":"A"}]}"#;
        let list: kube::core::ObjectList<Decoded<Strict>> = serde_json::from_str(list).unwrap();
        let names: Vec<_> =
            list.items.iter().map(|d| d.0.as_ref().ok().and_then(|s| s.metadata.name.clone())).collect();
        assert_eq!(names, [Some("good".to_string()), None, Some("good2".to_string())]);
        let bad = list.items[1].0.as_ref().unwrap_err();
        assert_eq!(bad.key(), "ns/bad");
        assert_eq!(bad.metadata.resource_version.as_deref(), Some("2"));
        assert!(bad.error.contains("unknown variant `Z`"), "{}", bad.error);
        let event = r#"{"type":"MODIFIED","object":{"metadata":{"name":"bad","namespace":"ns","resourceVersion":"4"},"mode":"Y"}}"#;
        let event: kube::core::WatchEvent<Decoded<Strict>> = serde_json::from_str(event).unwrap();
        let kube::core::WatchEvent::Modified(Decoded(Err(bad))) = event else { panic!("{event:?}") };
        assert_eq!(bad.metadata.resource_version.as_deref(), Some("4"));
    }
}
