//! `metadata.managedFields`: which manager owns which fields, and how an
//! update or a server-side apply changes that (structured-merge-diff's
//! updater and the apiserver's field manager).

use serde_json::{Map, Value, json};

use super::{
    fieldset::{self, Element, FieldSet},
    merge::merge,
    schema::Schema,
};

/// `Apply` or `Update`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update, patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Entry {
    /// The field manager.
    pub(crate) manager: String,
    /// How it wrote.
    pub(crate) operation: Operation,
    /// The API version it wrote with.
    pub(crate) api_version: String,
    /// `status` for writes through the status subresource.
    pub(crate) subresource: String,
    /// When its fields last changed (RFC 3339, seconds).
    pub(crate) time: Option<String>,
    /// The fields it owns.
    pub(crate) set: FieldSet,
}

impl Entry {
    /// Whether this entry is the one `who` writes to (appliers are one
    /// entry whatever their API version, updaters one per version).
    fn is(&self, who: &Writer<'_>) -> bool {
        self.manager == who.manager
            && self.operation == who.operation
            && self.subresource == who.subresource
            && (self.operation == Operation::Apply || self.api_version == who.api_version)
    }

    /// How the apiserver names it in conflict messages.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// Who writes, and how.
#[derive(Clone, Debug)]
pub(crate) struct Writer<'a> {
    /// The field manager.
    pub(crate) manager: &'a str,
    /// Apply or Update.
    pub(crate) operation: Operation,
    /// The request's API version.
    pub(crate) api_version: &'a str,
    /// `status` or empty.
    pub(crate) subresource: &'a str,
    /// Fields the (sub)resource resets, never owned (`status` for the main
    /// resource of a kind with a status subresource, `spec` for the status).
    pub(crate) ignored: &'a FieldSet,
    /// The time to record.
    pub(crate) now: &'a str,
}

/// A field another manager owns and an apply would change.
#[derive(Clone, Debug)]
pub(crate) struct Conflict {
    /// The owner, as the apiserver names it.
    pub(crate) manager: String,
    /// The field.
    pub(crate) path: fieldset::Path,
}

/// Every entry of an object.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Managed {
    entries: Vec<Entry>,
}

/// Fields nobody owns: identity and system metadata.
fn stripped(path: &[Element]) -> bool {
    let field = |e: &Element, name: &str| matches!(e, Element::Field(f) if f == name);
    match path {
        [e] => field(e, "apiVersion") || field(e, "kind") || field(e, "metadata"),
        [m, e] if field(m, "metadata") => [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ]
        .iter()
        .any(|n| field(e, n)),
        _ => false,
    }
}

impl Managed {
    /// The entries of `managed_fields` (the JSON array).
    pub(crate) fn decode(managed_fields: Option<&Value>) -> Self {
        let entries = managed_fields.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Managed {
            entries: entries
                .iter()
                .map(|e| Entry {
                    manager: text(e, "manager"),
                    operation: if text(e, "operation") == "Apply" { Operation::Apply } else { Operation::Update },
                    api_version: text(e, "apiVersion"),
                    subresource: text(e, "subresource"),
                    time: e.get("time").and_then(Value::as_str).map(str::to_string),
                    set: e.get("fieldsV1").map(fieldset::decode).unwrap_or_default(),
                })
                .collect(),
        }
    }

    /// Whether `managed_fields` asks to reset ownership (`[]` or `[{}]`).
    pub(crate) fn is_reset(managed_fields: Option<&Value>) -> bool {
        match managed_fields.and_then(Value::as_array).map(Vec::as_slice) {
            Some([]) => true,
            Some([only]) => only.as_object().is_some_and(Map::is_empty),
            _ => false,
        }
    }

    /// The JSON array, sorted as the apiserver sorts it; `None` when empty.
    pub(crate) fn encode(&self) -> Option<Value> {
        if self.entries.is_empty() {
            return None;
        }
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| {
            (a.operation, &a.time, &a.manager, &a.api_version, &a.subresource).cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
        });
        let encoded = entries.iter().map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation.as_str(),
                "apiVersion": e.api_version,
                "fieldsType": "FieldsV1",
                "fieldsV1": fieldset::encode(&e.set),
            });
            if let Some(time) = &e.time {
                v["time"] = json!(time);
            }
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            if e.manager.is_empty() {
                v.as_object_mut().map(|m| m.remove("manager"));
            }
            v
        });
        Some(Value::Array(encoded.collect()))
    }

    /// The entry `who` writes to, created empty if missing.
    fn entry(&mut self, who: &Writer<'_>) -> &mut Entry {
        let i = match self.entries.iter().position(|e| e.is(who)) {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    manager: who.manager.to_string(),
                    operation: who.operation,
                    api_version: who.api_version.to_string(),
                    subresource: who.subresource.to_string(),
                    time: None,
                    set: FieldSet::new(),
                });
                self.entries.len() - 1
            }
        };
        &mut self.entries[i]
    }

    /// Drops what nobody owns and the entries left empty.
    fn tidy(&mut self) {
        for e in &mut self.entries {
            e.set.retain(|p| !stripped(p));
        }
        self.entries.retain(|e| !e.set.is_empty());
    }

    /// Records an update (create, replace, patch) from `live` to `new`: the
    /// writer takes over every field it added or changed, removed fields
    /// leave every owner.
    pub(crate) fn update(&mut self, live: &Value, new: &Value, schema: &Schema, who: &Writer<'_>) {
        let mut cmp = fieldset::compare(live, new, schema);
        cmp.filter(who.ignored);
        let taken: FieldSet = cmp.modified.union(&cmp.added).cloned().collect();
        for e in &mut self.entries {
            e.set.retain(|p| !taken.contains(p) && !cmp.removed.contains(p));
        }
        let mut current = taken;
        current.retain(|p| !stripped(p));
        if !current.is_empty() {
            let entry = self.entry(who);
            entry.set.extend(current);
            entry.time = Some(who.now.to_string());
        }
        self.tidy();
    }

    /// Server-side apply of `config` onto `live` (both without
    /// managedFields): the merged object, fields the writer stopped
    /// applying removed unless someone else owns them; conflicts with other
    /// owners' fields fail unless `force` (which takes them over).
    pub(crate) fn apply(
        &mut self,
        live: &Value,
        config: &Value,
        schema: &Schema,
        who: &Writer<'_>,
        force: bool,
    ) -> Result<Value, Vec<Conflict>> {
        let mut applied = fieldset::of_config(config, schema);
        applied.retain(|p| !fieldset::under_any(p, who.ignored));
        let mut managers = self.clone();
        let is_new = !managers.entries.iter().any(|e| e.is(who));
        let entry = managers.entry(who);
        let last = std::mem::replace(&mut entry.set, applied);
        entry.api_version = who.api_version.to_string();

        let mut merged = merge(Some(live), config, schema);
        managers.prune(&mut merged, &last, schema);

        let mut cmp = fieldset::compare(live, &merged, schema);
        cmp.filter(who.ignored);
        let changed: FieldSet = cmp.modified.union(&cmp.added).cloned().collect();
        let mut conflicts = Vec::new();
        for e in managers.entries.iter().filter(|e| !e.is(who)) {
            conflicts.extend(
                e.set.intersection(&changed).map(|path| Conflict { manager: e.describe(), path: path.clone() }),
            );
        }
        if !force && !conflicts.is_empty() {
            conflicts.sort_by(|a, b| (&a.manager, &a.path).cmp(&(&b.manager, &b.path)));
            return Err(conflicts);
        }
        for e in managers.entries.iter_mut().filter(|e| !e.is(who)) {
            e.set.retain(|p| !changed.contains(p) && !cmp.removed.contains(p));
        }
        if is_new || &merged != live {
            managers.entry(who).time = Some(who.now.to_string());
        }
        managers.tidy();
        *self = managers;
        Ok(merged)
    }

    /// Removes from `merged` what the applier owned before (`last`) and
    /// nobody owns now, whole subtrees (structured-merge-diff's prune).
    fn prune(&self, merged: &mut Value, last: &FieldSet, schema: &Schema) {
        if last.is_empty() {
            return;
        }
        let nodes = fieldset::all_nodes(merged, schema);
        let last = fieldset::with_named_parents(last, schema);
        let owned: FieldSet = self.entries.iter().flat_map(|e| e.set.iter().cloned()).collect();
        let owned = fieldset::with_named_parents(&owned, schema);
        let gone: FieldSet = nodes.intersection(&last).filter(|p| !owned.contains(*p)).cloned().collect();
        fieldset::remove(merged, &gone, schema);
    }

    /// The entries, for tests.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// The apiserver's conflict message (`Apply failed with 1 conflict: conflict with "m": .data.a`).
pub(crate) fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            only.manager,
            fieldset::display(&only.path)
        );
    }
    let mut lines = Vec::new();
    let mut last: Option<&str> = None;
    for c in conflicts {
        if last != Some(c.manager.as_str()) {
            lines.push(format!("conflicts with {}:", c.manager));
            last = Some(&c.manager);
        }
        lines.push(format!("- {}", fieldset::display(&c.path)));
    }
    format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake::schema::object_meta;

    fn schema() -> Schema {
        Schema::loose([("metadata", object_meta()), ("data", Schema::map(Schema::Atomic))])
    }

    fn writer<'a>(manager: &'a str, operation: Operation, ignored: &'a FieldSet) -> Writer<'a> {
        Writer { manager, operation, api_version: "v1", subresource: "", ignored, now: "2026-01-01T00:00:00Z" }
    }

    fn cm(data: Value) -> Value {
        json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "s1" }, "data": data })
    }

    #[test]
    fn apply_conflicts_shares_and_prunes_like_the_apiserver() {
        let none = FieldSet::new();
        let mut managed = Managed::default();
        let live = json!({});
        let obj = managed
            .apply(&live, &cm(json!({ "a": "1", "b": "2" })), &schema(), &writer("m1", Operation::Apply, &none), false)
            .expect("first apply");
        assert_eq!(managed.encode().expect("entries")[0]["fieldsV1"], json!({ "f:data": { "f:a": {}, "f:b": {} } }));

        let err = managed
            .clone()
            .apply(&obj, &cm(json!({ "a": "9", "b": "8" })), &schema(), &writer("m2", Operation::Apply, &none), false)
            .expect_err("conflicts");
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 2 conflicts: conflicts with \"m1\":\n- .data.a\n- .data.b"
        );

        let obj = managed
            .apply(&obj, &cm(json!({ "a": "1", "c": "3" })), &schema(), &writer("m2", Operation::Apply, &none), false)
            .expect("shared a");
        let obj = managed
            .apply(&obj, &cm(json!({ "a": "1" })), &schema(), &writer("m1", Operation::Apply, &none), false)
            .expect("m1 drops b");
        assert_eq!(obj["data"], json!({ "a": "1", "c": "3" }));
        let obj = managed
            .apply(
                &obj,
                &json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "s1" } }),
                &schema(),
                &writer("m2", Operation::Apply, &none),
                false,
            )
            .expect("m2 drops all");
        assert_eq!(obj["data"], json!({ "a": "1" }));
        assert_eq!(managed.entries().len(), 1);
    }

    #[test]
    fn updates_take_over_changed_fields() {
        let none = FieldSet::new();
        let mut managed = Managed::default();
        let live = json!({});
        let obj = managed
            .apply(&live, &cm(json!({ "a": "1", "b": "2" })), &schema(), &writer("m1", Operation::Apply, &none), false)
            .expect("apply");
        let mut patched = obj.clone();
        patched["data"]["a"] = json!("5");
        patched["data"]["z"] = json!("0");
        managed.update(&obj, &patched, &schema(), &writer("up", Operation::Update, &none));
        let encoded = managed.encode().expect("entries");
        assert_eq!(encoded[0]["fieldsV1"], json!({ "f:data": { "f:b": {} } }));
        assert_eq!(encoded[1]["fieldsV1"], json!({ "f:data": { "f:a": {}, "f:z": {} } }));

        let mut created = Managed::default();
        created.update(&json!({}), &cm(json!({ "k": "v" })), &schema(), &writer("c", Operation::Update, &none));
        assert_eq!(created.encode().expect("entries")[0]["fieldsV1"], json!({ "f:data": { ".": {}, "f:k": {} } }));
    }
}
