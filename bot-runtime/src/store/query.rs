//! Label-selector queries planned over the label index: the cost follows
//! the number of candidates of the most selective requirement, not the
//! size of the store.

use std::sync::Arc;

use kube::Resource;

use super::{
    inner::{Inner, Slot},
    postings::{Id, Postings},
};
use crate::selector::{LabelSelector, Operator, Requirement};

/// A key with more distinct values than this is tested on the object's
/// labels rather than through each value's postings (`exists`, `!key`).
const MAX_PROBED_VALUES: usize = 16;

/// How one requirement is checked for a candidate slot.
enum Check<'a> {
    /// The slot is in one of these sets (`=`, `==`, `in`, `exists`).
    In(Vec<&'a Postings>),
    /// The slot is in none of these sets (`!=`, `notin`, `!key`).
    NotIn(Vec<&'a Postings>),
    /// Evaluated on the object's labels (`gt`, `lt`, keys with many values).
    Labels(&'a Requirement),
}

impl Check<'_> {
    fn holds<K: Resource>(&self, id: Id, obj: &K) -> bool {
        match self {
            Self::In(sets) => sets.iter().any(|s| s.contains(id)),
            Self::NotIn(sets) => !sets.iter().any(|s| s.contains(id)),
            Self::Labels(r) => r.matches(obj.meta().labels.as_ref()),
        }
    }

    /// Number of candidates when this check is the source of a query.
    fn candidates(&self) -> Option<usize> {
        match self {
            Self::In(sets) => Some(sets.iter().map(|s| s.len()).sum()),
            _ => None,
        }
    }
}

/// Where the candidates of a query come from.
enum Source<'a> {
    /// Every object.
    Scan,
    /// The objects of one namespace.
    Namespace(&'a Postings),
    /// The `In` sets of the check at this position.
    Check(usize),
}

impl<K: Resource> Inner<K> {
    /// How `r` is checked; `None` when no object can satisfy it.
    fn plan<'a>(&'a self, r: &'a Requirement) -> Option<Check<'a>> {
        let values = self.labels.get(r.key());
        let sets = |wanted: &mut dyn Iterator<Item = &String>| -> Vec<&Postings> {
            wanted.filter_map(|v| values.and_then(|vs| vs.get(v))).collect()
        };
        let all = || values.map(|vs| vs.iter().map(|(_, p)| p).collect()).unwrap_or_default();
        let few = values.is_none_or(|vs| vs.len() <= MAX_PROBED_VALUES);
        Some(match r.operator() {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                let sets = sets(&mut r.values().iter());
                if sets.is_empty() {
                    return None;
                }
                Check::In(sets)
            }
            Operator::NotEquals | Operator::NotIn => Check::NotIn(sets(&mut r.values().iter())),
            Operator::Exists if few => {
                values?;
                Check::In(all())
            }
            Operator::DoesNotExist if few => Check::NotIn(all()),
            Operator::Exists | Operator::DoesNotExist | Operator::GreaterThan | Operator::LessThan => {
                if values.is_none() && matches!(r.operator(), Operator::GreaterThan | Operator::LessThan) {
                    return None;
                }
                Check::Labels(r)
            }
        })
    }

    /// The objects in `namespace` (all when `None`) whose labels `selector` matches.
    pub(super) fn select(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<K>> {
        self.select_planned(namespace, selector, true)
    }

    /// [`select`](Self::select); `scan_when_large`: read the whole slab
    /// when the best candidates are most of the store (off in tests, to
    /// exercise every plan on small stores).
    pub(super) fn select_planned(
        &self,
        namespace: Option<&str>,
        selector: &LabelSelector,
        scan_when_large: bool,
    ) -> Vec<Arc<K>> {
        let mut checks = Vec::with_capacity(selector.requirements().len());
        for r in selector.requirements() {
            match self.plan(r) {
                Some(check) => checks.push(check),
                None => return Vec::new(),
            }
        }
        let in_namespace = match namespace.filter(|ns| !ns.is_empty()) {
            Some(ns) => match self.namespaces.get(ns) {
                Some(postings) => Some(postings),
                None => return Vec::new(),
            },
            None => None,
        };
        let mut source = in_namespace.map_or(Source::Scan, Source::Namespace);
        let mut best = in_namespace.map_or(usize::MAX, Postings::len);
        for (i, check) in checks.iter().enumerate() {
            if let Some(n) = check.candidates().filter(|&n| n < best) {
                (source, best) = (Source::Check(i), n);
            }
        }
        // Most of the store: reading the slab in order beats following postings.
        if scan_when_large && best.saturating_mul(2) > self.len() {
            (source, best) = (Source::Scan, self.len());
        }
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let keep = |id: Id, slot: &Slot<K>, skip: Option<usize>| {
            (matches!(source, Source::Namespace(_)) || namespace.is_none_or(|ns| slot.key().namespace == Some(ns)))
                && checks.iter().enumerate().all(|(i, c)| Some(i) == skip || c.holds(id, slot.obj.as_ref()))
        };
        let mut out = Vec::with_capacity(best.min(self.len()));
        match source {
            Source::Scan => out.extend(self.iter().filter(|(id, s)| keep(*id, s, None)).map(|(_, s)| s.obj.clone())),
            Source::Namespace(postings) => out.extend(self.collect(postings.iter(), |id, s| keep(id, s, None))),
            Source::Check(i) => {
                let Check::In(sets) = &checks[i] else { unreachable!("only `In` checks are sources") };
                for set in sets {
                    out.extend(self.collect(set.iter(), |id, s| keep(id, s, Some(i))));
                }
            }
        }
        out
    }

    /// The objects of `ids` that `keep` accepts.
    fn collect<'a>(
        &'a self,
        ids: impl Iterator<Item = Id> + 'a,
        keep: impl Fn(Id, &Slot<K>) -> bool + 'a,
    ) -> impl Iterator<Item = Arc<K>> + 'a {
        ids.filter_map(move |id| {
            let slot = self.slot(id)?;
            keep(id, slot).then(|| slot.obj.clone())
        })
    }

    /// The objects filed under `postings`.
    pub(super) fn objects(&self, postings: Option<&Postings>) -> Vec<Arc<K>> {
        postings.map(|p| p.iter().filter_map(|id| self.slot(id)).map(|s| s.obj.clone()).collect()).unwrap_or_default()
    }
}
