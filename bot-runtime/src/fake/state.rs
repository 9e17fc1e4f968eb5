//! The fake cluster's state: registered kinds, stored objects, and helpers
//! on objects' metadata.

use std::hash::{BuildHasher, Hasher};

use serde_json::{Map, Value};

use super::{kinds::Kind, tracker::Tracker};

/// Everything behind the cluster's lock.
#[derive(Debug)]
pub(crate) struct State {
    /// Served kinds.
    pub(crate) kinds: Vec<Kind>,
    /// Stored objects and history.
    pub(crate) tracker: Tracker,
    rng: u64,
}

impl State {
    /// A state serving `kinds`, nothing stored.
    pub(crate) fn new(kinds: Vec<Kind>) -> Self {
        let seed = std::collections::hash_map::RandomState::new().build_hasher().finish() | 1;
        State { kinds, tracker: Tracker::default(), rng: seed }
    }

    /// Registers `kind`, replacing one with the same group, version and plural.
    pub(crate) fn register(&mut self, kind: Kind) {
        self.kinds.retain(|k| !k.serves(&kind.group, &kind.version, &kind.plural));
        self.kinds.push(kind);
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A random (version 4) UID.
    pub(crate) fn uid(&mut self) -> String {
        let (a, b) = (self.next_random(), self.next_random());
        let hex = format!("{a:016x}{b:016x}");
        format!(
            "{}-{}-4{}-{}{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[13..16],
            ["8", "9", "a", "b"][(b % 4) as usize],
            &hex[17..20],
            &hex[20..32]
        )
    }

    /// The 5-character suffix of a generated name.
    pub(crate) fn name_suffix(&mut self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..5).map(|_| ALPHABET[(self.next_random() % ALPHABET.len() as u64) as usize] as char).collect()
    }
}

/// Now, as the apiserver writes timestamps (RFC 3339, seconds, UTC).
pub(crate) fn now() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// `metadata` of `obj`, created if missing.
pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("an object");
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("an object")
}

/// `metadata.<field>` of `obj` as a string (`""` when missing).
pub(crate) fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_str).unwrap_or_default()
}

/// `metadata.<field>` of `obj`.
pub(crate) fn meta_get<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get("metadata").and_then(|m| m.get(field)).filter(|v| !v.is_null())
}

/// Whether `obj` has finalizers.
pub(crate) fn has_finalizers(obj: &Value) -> bool {
    meta_get(obj, "finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty())
}

/// `obj` without `metadata.managedFields`.
pub(crate) fn without_managed_fields(obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    obj
}

/// `obj` as a client of `kind` reads it: its apiVersion and kind set.
pub(crate) fn with_type(mut obj: Value, kind: &Kind) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(kind.api_version()));
        map.insert("kind".into(), Value::String(kind.kind.clone()));
    }
    obj
}

/// `obj` reduced to a `PartialObjectMetadata`.
pub(crate) fn partial_metadata(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_and_suffixes_look_like_the_apiservers() {
        let mut s = State::new(Vec::new());
        let uid = s.uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(uid.split('-').map(str::len).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert_ne!(uid, s.uid());
        assert_eq!(s.name_suffix().len(), 5);
        assert!(now().ends_with('Z') && !now().contains('.'), "{}", now());
    }
}
