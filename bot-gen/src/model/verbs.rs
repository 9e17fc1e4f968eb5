//! The verbs of a typed client, as client-gen names them.

use std::fmt;

/// One verb of a typed client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    /// `create`
    Create,
    /// `update` (replace)
    Update,
    /// `update_status` (replace the status subresource)
    UpdateStatus,
    /// `delete`
    Delete,
    /// `delete_collection`
    DeleteCollection,
    /// `get`
    Get,
    /// `list`
    List,
    /// `watch`
    Watch,
    /// `patch` (merge and JSON patch)
    Patch,
    /// `apply` (server-side apply)
    Apply,
    /// `apply_status` (server-side apply of the status)
    ApplyStatus,
}

impl Verb {
    /// Every verb, in client-gen's order.
    pub const ALL: [Verb; 11] = [
        Verb::Create,
        Verb::Update,
        Verb::UpdateStatus,
        Verb::Delete,
        Verb::DeleteCollection,
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Patch,
        Verb::Apply,
        Verb::ApplyStatus,
    ];

    /// The snake_case name used in attributes and as the method name.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::UpdateStatus => "update_status",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "delete_collection",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Patch => "patch",
            Verb::Apply => "apply",
            Verb::ApplyStatus => "apply_status",
        }
    }

    /// Parses a verb in snake_case (`update_status`) or client-gen's
    /// camelCase (`updateStatus`).
    pub fn parse(s: &str) -> Option<Verb> {
        let norm: String = s.chars().filter(|c| *c != '_').map(|c| c.to_ascii_lowercase()).collect();
        Verb::ALL.into_iter().find(|v| v.name().replace('_', "") == norm)
    }

    /// Whether the verb works on the status subresource.
    pub fn is_status(self) -> bool {
        matches!(self, Verb::UpdateStatus | Verb::ApplyStatus)
    }

    /// The RBAC verb this client verb needs.
    pub fn rbac(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update | Verb::UpdateStatus => "update",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Patch | Verb::Apply | Verb::ApplyStatus => "patch",
        }
    }
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerbSet(u16);

impl VerbSet {
    /// No verbs.
    pub const fn empty() -> Self {
        VerbSet(0)
    }

    /// Every verb.
    pub fn all() -> Self {
        Verb::ALL.into_iter().collect()
    }

    /// `get`, `list`, `watch`: what `readonly` leaves.
    pub fn readonly() -> Self {
        [Verb::Get, Verb::List, Verb::Watch].into_iter().collect()
    }

    /// Whether `verb` is in the set.
    pub fn contains(self, verb: Verb) -> bool {
        self.0 & (1 << verb as u16) != 0
    }

    /// Adds `verb`.
    pub fn insert(&mut self, verb: Verb) {
        self.0 |= 1 << verb as u16;
    }

    /// Removes `verb`.
    pub fn remove(&mut self, verb: Verb) {
        self.0 &= !(1 << verb as u16);
    }

    /// The verbs in client-gen's order.
    pub fn iter(self) -> impl Iterator<Item = Verb> {
        Verb::ALL.into_iter().filter(move |v| self.contains(*v))
    }

    /// Whether listers can be generated (get + list).
    pub fn has_lister(self) -> bool {
        self.contains(Verb::Get) && self.contains(Verb::List)
    }

    /// Whether informers can be generated (list + watch).
    pub fn has_informer(self) -> bool {
        self.contains(Verb::List) && self.contains(Verb::Watch)
    }
}

impl FromIterator<Verb> for VerbSet {
    fn from_iter<I: IntoIterator<Item = Verb>>(iter: I) -> Self {
        let mut set = VerbSet::empty();
        for v in iter {
            set.insert(v);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_both_spellings() {
        assert_eq!(Verb::parse("updateStatus"), Some(Verb::UpdateStatus));
        assert_eq!(Verb::parse("update_status"), Some(Verb::UpdateStatus));
        assert_eq!(Verb::parse("deleteCollection"), Some(Verb::DeleteCollection));
        assert_eq!(Verb::parse("frobnicate"), None);
    }

    #[test]
    fn sets() {
        let ro = VerbSet::readonly();
        assert!(ro.has_lister() && ro.has_informer());
        assert!(!ro.contains(Verb::Create));
        assert_eq!(ro.iter().collect::<Vec<_>>(), [Verb::Get, Verb::List, Verb::Watch]);
        assert_eq!(VerbSet::all().iter().count(), 11);
    }
}
