//! Reads: get, list (selectors, pagination, metadata-only) and the plan of
//! a watch (where it starts, what it filters, how changes become events).

use std::time::Duration;

use kube::core::Status;
use serde_json::{Value, json};

use super::{
    kinds::Kind,
    request::Call,
    selector::{FieldSelector, LabelSelector},
    state::{State, meta_get, meta_str, partial_metadata, with_type},
    status,
    tracker::{Change, ChangeType, ResourceKey},
    write::Reply,
};

/// What a list, watch or delete-collection selects.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// The call's `labelSelector` and `fieldSelector` (400 when invalid).
    pub(crate) fn parse(kind: &Kind, call: &Call) -> Result<Self, Box<Status>> {
        let labels =
            LabelSelector::parse(call.param("labelSelector").unwrap_or_default()).map_err(status::bad_request)?;
        let supported: Vec<&str> = kind.field_labels.iter().map(String::as_str).collect();
        let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or_default(), &supported)
            .map_err(status::bad_request)?;
        Ok(Filter { labels, fields })
    }

    /// Whether `obj` is selected.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(meta_get(obj, "labels")) && self.fields.matches(obj)
    }
}

/// `obj` as the call asked for it: typed, or reduced to its metadata.
fn present(obj: &Value, kind: &Kind, metadata_only: bool) -> Value {
    let obj = with_type(obj.clone(), kind);
    if metadata_only { partial_metadata(&obj) } else { obj }
}

/// GET of one object (or its status).
pub(crate) fn get(state: &State, call: &Call) -> Reply {
    let kind = &state.kinds[call.kind];
    let name = call.name.clone().unwrap_or_default();
    if call.subresource.as_deref().is_some_and(|s| s != "status" || !kind.status) {
        return status::fail(status::not_found(&kind.qualified(), &name));
    }
    let ns = if kind.namespaced { call.namespace.clone().unwrap_or_default() } else { String::new() };
    let resource = (kind.group.clone(), kind.plural.clone());
    let obj =
        state.tracker.get(&resource, &(ns, name.clone())).ok_or_else(|| status::not_found(&kind.qualified(), &name))?;
    Ok((200, present(obj, kind, call.metadata_only)))
}

/// The continue token of a page ending at `(namespace, name)`.
fn continue_token(ns: &str, name: &str) -> String {
    format!("{ns}/{name}").bytes().map(|b| format!("{b:02x}")).collect()
}

/// The `(namespace, name)` a continue token names.
fn parse_token(token: &str) -> Option<(String, String)> {
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok()).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (ns, name) = text.split_once('/')?;
    Some((ns.to_string(), name.to_string()))
}

/// GET of a collection: selectors, `limit` and `continue`.
pub(crate) fn list(state: &State, call: &Call) -> Reply {
    let kind = &state.kinds[call.kind];
    let filter = Filter::parse(kind, call)?;
    let resource = (kind.group.clone(), kind.plural.clone());
    let after = match call.param("continue") {
        Some(token) => Some(parse_token(token).ok_or_else(|| status::bad_request("invalid continue token"))?),
        None => None,
    };
    let mut selected: Vec<(&(String, String), &Value)> = state
        .tracker
        .list(&resource, call.namespace.as_deref())
        .into_iter()
        .filter(|(key, obj)| after.as_ref().is_none_or(|a| *key > a) && filter.matches(obj))
        .collect();
    let limit = call.param("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let mut page = None;
    if let Some(limit) = limit.filter(|l| selected.len() > *l) {
        let remaining = selected.len() - limit;
        selected.truncate(limit);
        let ((ns, name), _) = selected[limit - 1];
        let unfiltered = call.param("labelSelector").is_none() && call.param("fieldSelector").is_none();
        page = Some((continue_token(ns, name), unfiltered.then_some(remaining)));
    }
    let items = selected.into_iter().map(|(_, obj)| obj.clone()).collect();
    Ok((200, list_body(kind, call, state.tracker.rv(), items, page)))
}

/// A list response: `<Kind>List` (or `PartialObjectMetadataList`), items
/// as the apiserver writes them (built-in kinds' items without apiVersion
/// and kind); `page` is the continue token and remaining item count.
pub(crate) fn list_body(
    kind: &Kind,
    call: &Call,
    rv: u64,
    items: Vec<Value>,
    page: Option<(String, Option<usize>)>,
) -> Value {
    let items: Vec<Value> = items
        .into_iter()
        .map(|obj| match (call.metadata_only, kind.custom) {
            (true, _) => partial_metadata(&obj),
            (false, true) => with_type(obj, kind),
            (false, false) => {
                let mut obj = obj;
                obj.as_object_mut().map(|o| {
                    o.remove("apiVersion");
                    o.remove("kind")
                });
                obj
            }
        })
        .collect();
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if let Some((token, remaining)) = page {
        metadata["continue"] = json!(token);
        if let Some(remaining) = remaining {
            metadata["remainingItemCount"] = json!(remaining);
        }
    }
    let (list_kind, api_version) = if call.metadata_only {
        ("PartialObjectMetadataList".to_string(), "meta.k8s.io/v1".to_string())
    } else {
        (format!("{}List", kind.kind), kind.api_version())
    };
    json!({ "kind": list_kind, "apiVersion": api_version, "metadata": metadata, "items": items })
}

/// What a watch sends.
#[derive(Clone, Debug)]
pub(crate) struct WatchPlan {
    kind: Kind,
    resource: ResourceKey,
    namespace: Option<String>,
    filter: Filter,
    metadata_only: bool,
    /// Changes after this resourceVersion are sent.
    pub(crate) after: u64,
    /// Events sent first (synthetic ADDED events, the initial-events-end bookmark).
    pub(crate) initial: Vec<Value>,
    /// When the server ends the watch.
    pub(crate) timeout: Duration,
}

/// GET with `watch=true`: from `resourceVersion` (`""`/`"0"`: the current
/// objects as ADDED events first), with `sendInitialEvents` honoured.
pub(crate) fn watch(state: &State, call: &Call) -> Result<WatchPlan, Box<Status>> {
    let kind = state.kinds[call.kind].clone();
    let filter = Filter::parse(&kind, call)?;
    let resource = (kind.group.clone(), kind.plural.clone());
    let current = state.tracker.rv();
    let from = call.param("resourceVersion").filter(|rv| *rv != "0");
    let after = match from {
        Some(rv) => rv.parse::<u64>().map_err(|_| status::bad_request(format!("invalid resource version: {rv}")))?,
        None => current,
    };
    let send_initial = call.param("sendInitialEvents") == Some("true");
    let mut initial = Vec::new();
    if from.is_none() || send_initial {
        for (_, obj) in state.tracker.list(&resource, call.namespace.as_deref()) {
            if filter.matches(obj) {
                initial.push(json!({ "type": "ADDED", "object": present(obj, &kind, call.metadata_only) }));
            }
        }
    }
    if send_initial {
        let mut mark = json!({
            "kind": kind.kind, "apiVersion": kind.api_version(),
            "metadata": { "resourceVersion": after.max(current).to_string(),
                          "annotations": { "k8s.io/initial-events-end": "true" } },
        });
        if call.metadata_only {
            mark = partial_metadata(&mark);
        }
        initial.push(json!({ "type": "BOOKMARK", "object": mark }));
    }
    let timeout = call.param("timeoutSeconds").and_then(|t| t.parse().ok()).unwrap_or(1800);
    Ok(WatchPlan {
        kind,
        resource,
        namespace: call.namespace.clone(),
        filter,
        metadata_only: call.metadata_only,
        after: if send_initial { current } else { after },
        initial,
        timeout: Duration::from_secs(timeout),
    })
}

impl WatchPlan {
    /// The event this watch sends for `change`, if any: objects entering
    /// the selection are ADDED, leaving it DELETED (their previous state).
    pub(crate) fn event(&self, change: &Change) -> Option<Value> {
        if change.resource != self.resource || self.namespace.as_ref().is_some_and(|ns| *ns != change.namespace) {
            return None;
        }
        let was = change.previous.as_ref().is_some_and(|p| self.filter.matches(p));
        let is = change.type_ != ChangeType::Deleted && self.filter.matches(&change.object);
        let (type_, obj) = match (change.type_, was, is) {
            (ChangeType::Deleted, true, _) => ("DELETED", change.object.clone()),
            (ChangeType::Added, _, true) | (ChangeType::Modified, false, true) => ("ADDED", change.object.clone()),
            (ChangeType::Modified, true, true) => ("MODIFIED", change.object.clone()),
            (ChangeType::Modified, true, false) => {
                let mut previous = change.previous.clone().unwrap_or_default();
                if let Some(meta) = previous.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("resourceVersion".into(), json!(change.rv.to_string()));
                }
                ("DELETED", previous)
            }
            _ => return None,
        };
        debug_assert!(!meta_str(&obj, "name").is_empty());
        Some(json!({ "type": type_, "object": present(&obj, &self.kind, self.metadata_only) }))
    }
}
