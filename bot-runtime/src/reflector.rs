//! The reflector: applies kube `watcher` events to a [`Store`] and turns them into [`Delta`]s.
//!
//! List/watch itself (bookmarks, 410 relist, backoff, streaming lists) is
//! kube's [`watcher`](kube::runtime::watcher()); see [`watch_stream`].

use std::{fmt::Debug, sync::Arc};

use futures::{StreamExt, stream::BoxStream};
use kube::{
    Api, Resource,
    runtime::{WatchStreamExt, watcher},
};
use serde::de::DeserializeOwned;

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

/// kube's watcher over `api` with `config`, with kube's default backoff on
/// errors (the stream never ends by itself; errors are yielded and retried).
pub fn watch_stream<K>(api: Api<K>, config: watcher::Config) -> BoxStream<'static, Result<watcher::Event<K>, Error>>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(api, config).default_backoff().boxed()
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
    rejected: usize,
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
        Self { writer, transform, buffer: None, rejected: 0 }
    }

    /// The cache written to (reader side).
    pub fn store(&self) -> &Store<K> {
        &self.writer
    }

    /// How many listed objects were rejected (an index function panicked on
    /// them) since the last call; resets the count.
    pub fn take_rejected(&mut self) -> usize {
        std::mem::take(&mut self.rejected)
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
                        Change::Rejected(key) => {
                            tracing::error!(%key, "an index function panicked on a listed object; not cached");
                            self.rejected += 1;
                            continue;
                        }
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
}
