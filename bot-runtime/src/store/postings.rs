//! Posting sets: the slots filed under one index value, and maps from index
//! values to them.

use either::Either;
use hashbrown::{HashMap, HashSet};

/// A slot of the store's slab; what the indexes file, instead of a copy of
/// the object's key (4 bytes, no allocation).
pub(super) type Id = u32;

/// The slots filed under one index value. Most values of an index are
/// unique to one object (a name, a UID): those cost no allocation.
#[derive(Debug, Clone)]
pub(super) enum Postings {
    One(Id),
    Many(HashSet<Id>),
}

impl Postings {
    fn insert(&mut self, id: Id) {
        match self {
            Self::One(only) if *only == id => {}
            Self::One(only) => {
                let mut set = HashSet::with_capacity(2);
                set.insert(*only);
                set.insert(id);
                *self = Self::Many(set);
            }
            Self::Many(set) => {
                set.insert(id);
            }
        }
    }

    /// Removes `id`; returns whether the set is now empty.
    fn remove(&mut self, id: Id) -> bool {
        match self {
            Self::One(only) => *only == id,
            Self::Many(set) => {
                set.remove(&id);
                if set.len() == 1 {
                    let only = *set.iter().next().expect("one element");
                    *self = Self::One(only);
                }
                set_is_empty(self)
            }
        }
    }

    /// Number of slots.
    pub(super) fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(set) => set.len(),
        }
    }

    /// Whether `id` is filed here.
    pub(super) fn contains(&self, id: Id) -> bool {
        match self {
            Self::One(only) => *only == id,
            Self::Many(set) => set.contains(&id),
        }
    }

    /// The slots, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = Id> + '_ {
        match self {
            Self::One(only) => Either::Left(std::iter::once(*only)),
            Self::Many(set) => Either::Right(set.iter().copied()),
        }
    }
}

fn set_is_empty(postings: &Postings) -> bool {
    matches!(postings, Postings::Many(set) if set.is_empty())
}

/// One index: index value -> the slots filed under it. Values with no slot
/// are dropped.
#[derive(Debug, Clone, Default)]
pub(super) struct PostingMap {
    values: HashMap<String, Postings>,
}

impl PostingMap {
    /// Files `id` under `value`.
    pub(super) fn insert(&mut self, value: &str, id: Id) {
        match self.values.get_mut(value) {
            Some(postings) => postings.insert(id),
            None => {
                self.values.insert(value.to_string(), Postings::One(id));
            }
        }
    }

    /// Removes `id` from `value` (nothing if it was not filed there).
    pub(super) fn remove(&mut self, value: &str, id: Id) {
        if let Some(postings) = self.values.get_mut(value)
            && postings.remove(id)
        {
            self.values.remove(value);
        }
    }

    /// Removes `id` from every value (when the values it was filed under are unknown).
    pub(super) fn purge(&mut self, id: Id) {
        self.values.retain(|_, postings| !postings.remove(id));
    }

    /// The slots filed under `value`.
    pub(super) fn get(&self, value: &str) -> Option<&Postings> {
        self.values.get(value)
    }

    /// The values and their slots.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &Postings)> {
        self.values.iter()
    }

    /// Number of distinct values.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_grow_and_shrink_back_to_one() {
        let mut map = PostingMap::default();
        map.insert("a", 1);
        assert!(matches!(map.get("a"), Some(Postings::One(1))));
        map.insert("a", 1);
        map.insert("a", 2);
        map.insert("a", 3);
        assert_eq!(map.get("a").map(Postings::len), Some(3));
        assert!(map.get("a").is_some_and(|p| p.contains(2) && !p.contains(4)));
        map.remove("a", 2);
        map.remove("a", 3);
        assert!(matches!(map.get("a"), Some(Postings::One(1))));
        map.remove("a", 9);
        assert_eq!(map.len(), 1, "removing an absent id keeps the value");
        map.remove("a", 1);
        assert!(map.get("a").is_none(), "empty values are dropped");
        map.insert("x", 5);
        map.insert("y", 5);
        map.insert("y", 6);
        map.purge(5);
        assert!(map.get("x").is_none());
        assert_eq!(map.get("y").map(|p| p.iter().collect::<Vec<_>>()), Some(vec![6]));
    }
}
