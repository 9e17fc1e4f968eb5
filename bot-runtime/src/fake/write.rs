//! Writes: create, update (of the object or its status), patch (JSON,
//! merge, strategic, server-side apply), delete and delete-collection, with
//! the apiserver's preconditions, status subresource, generation,
//! managedFields and finalizer semantics.

use kube::core::Status;
use serde_json::{Value, json};

use super::{
    action::PatchType,
    fieldset::{Element, FieldSet},
    kinds::{Generation, Kind},
    managed::{Managed, Operation, Writer, conflict_message},
    merge,
    read::{self, Filter},
    request::Call,
    state::{State, has_finalizers, meta_get, meta_mut, meta_str, now, with_type, without_managed_fields},
    status,
    tracker::{ObjectKey, ResourceKey},
};

/// An HTTP status code and a JSON body, or an error status.
pub(crate) type Reply = Result<(u16, Value), Box<Status>>;

/// How a write changes ownership.
enum Ownership<'a> {
    /// Create, replace, patch: the writer owns what it added or changed.
    Update,
    /// Server-side apply of this configuration.
    Apply { config: &'a Value, force: bool },
}

/// What Go's typed decoding drops: empty or null metadata maps and lists,
/// null metadata fields; for ConfigMaps and Secrets, empty data maps.
fn normalize(kind: &Kind, obj: &mut Value) {
    let meta = meta_mut(obj);
    meta.retain(|_, v| !v.is_null());
    for field in ["labels", "annotations", "finalizers", "ownerReferences"] {
        let empty = match meta.get(field) {
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            _ => false,
        };
        if empty {
            meta.remove(field);
        }
    }
    let data_maps = !kind.custom && kind.group.is_empty() && matches!(kind.kind.as_str(), "ConfigMap" | "Secret");
    if data_maps && let Some(o) = obj.as_object_mut() {
        o.retain(|k, v| {
            !(matches!(k.as_str(), "data" | "binaryData" | "stringData")
                && (v.is_null() || v.as_object().is_some_and(|m| m.is_empty())))
        });
    }
}

/// The keys of the object a call names.
fn keys(kind: &Kind, call: &Call, name: &str) -> (ResourceKey, ObjectKey) {
    let ns = if kind.namespaced { call.namespace.clone().unwrap_or_default() } else { String::new() };
    ((kind.group.clone(), kind.plural.clone()), (ns, name.to_string()))
}

/// How `Invalid` errors name the kind: `bots.botops.dev` for custom
/// resources, `ConfigMap` or `Deployment.apps` for built-in ones.
fn invalid_kind(kind: &Kind) -> String {
    match (kind.custom, kind.group.is_empty()) {
        (true, _) => kind.qualified(),
        (false, true) => kind.kind.clone(),
        (false, false) => format!("{}.{}", kind.kind, kind.group),
    }
}

/// Fields the (sub)resource resets and nobody owns through it.
fn ignored_fields(kind: &Kind, subresource: Option<&str>) -> FieldSet {
    let path = |f: &str| vec![Element::Field(f.to_string())];
    match subresource {
        Some(_) => FieldSet::from([path("spec")]),
        None if kind.status => FieldSet::from([path("status")]),
        None => FieldSet::new(),
    }
}

/// Sets the request's namespace on `obj` (400 when the body names another).
fn set_namespace(kind: &Kind, call: &Call, obj: &mut Value) -> Result<(), Box<Status>> {
    if !kind.namespaced {
        meta_mut(obj).remove("namespace");
        return Ok(());
    }
    let ns = call.namespace.clone().unwrap_or_default();
    let body_ns = meta_str(obj, "namespace");
    if !body_ns.is_empty() && body_ns != ns {
        return status::fail(status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    meta_mut(obj).insert("namespace".into(), json!(ns));
    Ok(())
}

/// 400 unless the body's name is the URL's.
fn check_name(obj: &Value, name: &str, allow_empty: bool) -> Result<(), Box<Status>> {
    let body_name = meta_str(obj, "name");
    if body_name == name || (allow_empty && body_name.is_empty()) {
        return Ok(());
    }
    status::fail(status::bad_request(format!(
        "the name of the object ({body_name}) does not match the name on the URL ({name})"
    )))
}

/// Optimistic concurrency: a stale resourceVersion is a 409; a missing one
/// is a 422 where the kind requires it (custom resources' updates).
fn check_resource_version(kind: &Kind, new: &Value, live: &Value, required: bool) -> Result<(), Box<Status>> {
    let rv = meta_str(new, "resourceVersion");
    let name = meta_str(live, "name");
    if rv.is_empty() {
        if required && kind.custom {
            let message = "Invalid value: 0: must be specified for an update";
            return status::fail(status::invalid(
                &invalid_kind(kind),
                name,
                "metadata.resourceVersion",
                "FieldValueInvalid",
                message,
            ));
        }
        return Ok(());
    }
    if rv != meta_str(live, "resourceVersion") {
        return status::fail(status::conflict(&kind.qualified(), name));
    }
    Ok(())
}

/// POST: creates the object of the body.
pub(crate) fn create(state: &mut State, call: &Call) -> Reply {
    create_object(state, call, true)
}

/// Stores the object of the body as a create would, without managedFields
/// (objects a fake cluster starts with, like client-go's tracker).
pub(crate) fn seed(state: &mut State, call: &Call) -> Reply {
    create_object(state, call, false)
}

fn create_object(state: &mut State, call: &Call, track_fields: bool) -> Reply {
    let kind = state.kinds[call.kind].clone();
    if call.subresource.is_some() {
        return status::fail(status::method_not_allowed("creating subresources is not supported by the fake"));
    }
    let mut obj =
        call.body.clone().filter(Value::is_object).ok_or_else(|| status::bad_request("the body is not an object"))?;
    set_namespace(&kind, call, &mut obj)?;
    normalize(&kind, &mut obj);
    if meta_str(&obj, "name").is_empty() {
        let prefix = meta_str(&obj, "generateName").to_string();
        if prefix.is_empty() {
            let message = "Required value: name or generateName is required";
            return status::fail(status::invalid(
                &invalid_kind(&kind),
                "",
                "metadata.name",
                "FieldValueRequired",
                message,
            ));
        }
        let name = format!("{prefix}{}", state.name_suffix());
        meta_mut(&mut obj).insert("name".into(), json!(name));
    }
    let name = meta_str(&obj, "name").to_string();
    if state.tracker.get(&keys(&kind, call, &name).0, &keys(&kind, call, &name).1).is_some() {
        return status::fail(status::already_exists(&kind.qualified(), &name));
    }
    if kind.custom {
        kind.schema.prune(&mut obj);
        kind.schema.default(&mut obj);
    }
    let supplied = meta_get(&obj, "managedFields").cloned();
    let mut managed =
        if Managed::is_reset(supplied.as_ref()) { Managed::default() } else { Managed::decode(supplied.as_ref()) };
    let mut plain = without_managed_fields(&obj);
    reset_for_create(&kind, &mut plain);
    let (ignored, time, api_version, manager) =
        (ignored_fields(&kind, None), now(), kind.api_version(), call.field_manager());
    let who = writer(&manager, Operation::Update, &api_version, None, &ignored, &time);
    if track_fields {
        managed.update(&kind.zero, &plain, &kind.schema, &who);
    }
    insert_new(state, &kind, call, plain, &managed)
}

/// Drops what a create cannot set: status (with a status subresource) and
/// system metadata.
fn reset_for_create(kind: &Kind, obj: &mut Value) {
    if kind.status {
        obj.as_object_mut().map(|o| o.remove("status"));
    }
    let meta = meta_mut(obj);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
        "selfLink",
        "managedFields",
    ] {
        meta.remove(field);
    }
}

fn writer<'a>(
    manager: &'a str,
    operation: Operation,
    api_version: &'a str,
    subresource: Option<&'a str>,
    ignored: &'a FieldSet,
    now: &'a str,
) -> Writer<'a> {
    Writer { manager, operation, api_version, subresource: subresource.unwrap_or_default(), ignored, now }
}

/// Stores a new object: system metadata, managedFields, generation 1.
fn insert_new(state: &mut State, kind: &Kind, call: &Call, mut obj: Value, managed: &Managed) -> Reply {
    let uid = state.uid();
    let meta = meta_mut(&mut obj);
    meta.insert("uid".into(), json!(uid));
    meta.insert("creationTimestamp".into(), json!(now()));
    if kind.generation != Generation::None {
        meta.insert("generation".into(), json!(1));
    }
    match managed.encode() {
        Some(entries) => meta.insert("managedFields".into(), entries),
        None => meta.remove("managedFields"),
    };
    let obj = with_type(obj, kind);
    let name = meta_str(&obj, "name").to_string();
    let (resource, key) = keys(kind, call, &name);
    let stored = if call.dry_run() { obj } else { state.tracker.put(&resource, key, obj) };
    Ok((201, stored))
}

/// PUT: replaces the object (or its status).
pub(crate) fn update(state: &mut State, call: &Call) -> Reply {
    let kind = state.kinds[call.kind].clone();
    let name = call.name.clone().unwrap_or_default();
    let mut obj =
        call.body.clone().filter(Value::is_object).ok_or_else(|| status::bad_request("the body is not an object"))?;
    check_name(&obj, &name, false)?;
    set_namespace(&kind, call, &mut obj)?;
    let (resource, key) = keys(&kind, call, &name);
    let live =
        state.tracker.get(&resource, &key).cloned().ok_or_else(|| status::not_found(&kind.qualified(), &name))?;
    check_resource_version(&kind, &obj, &live, true)?;
    write(state, &kind, call, &live, obj, Ownership::Update)
}

/// PATCH: JSON, merge or strategic merge patch, or server-side apply.
pub(crate) fn patch(state: &mut State, call: &Call) -> Reply {
    let kind = state.kinds[call.kind].clone();
    let name = call.name.clone().unwrap_or_default();
    let body = call.body.clone().ok_or_else(|| status::bad_request("the patch is empty"))?;
    if kind.custom && call.patch_type == Some(PatchType::Strategic) {
        return status::fail(status::unsupported_media_type());
    }
    let (resource, key) = keys(&kind, call, &name);
    let live = state.tracker.get(&resource, &key).cloned();
    if call.patch_type == Some(PatchType::Apply) {
        return apply(state, &kind, call, live.as_ref(), &body);
    }
    let live = live.ok_or_else(|| status::not_found(&kind.qualified(), &name))?;
    let patched = match call.patch_type {
        Some(PatchType::Json) => {
            let ops: json_patch::Patch =
                serde_json::from_value(body).map_err(|e| status::bad_request(e.to_string()))?;
            let mut doc = live.clone();
            json_patch::patch(&mut doc, &ops).map_err(|_| status::unprocessable())?;
            doc
        }
        Some(PatchType::Strategic) => merge::strategic(&live, &body, &kind.schema).map_err(status::bad_request)?,
        _ => {
            let mut doc = live.clone();
            json_patch::merge(&mut doc, &body);
            doc
        }
    };
    check_resource_version(&kind, &patched, &live, false)?;
    write(state, &kind, call, &live, patched, Ownership::Update)
}

/// Server-side apply: creates the object when missing.
fn apply(state: &mut State, kind: &Kind, call: &Call, live: Option<&Value>, config: &Value) -> Reply {
    let Some(manager) = call.param("fieldManager") else {
        let message = "Required value: is required for apply patch";
        return status::fail(status::invalid(
            "PatchOptions.meta.k8s.io",
            "",
            "fieldManager",
            "FieldValueRequired",
            message,
        ));
    };
    let name = call.name.clone().unwrap_or_default();
    let mut config = config.clone();
    check_name(&config, &name, true)?;
    meta_mut(&mut config).insert("name".into(), json!(name));
    if kind.namespaced {
        set_namespace(kind, call, &mut config)?;
    }
    let force = call.param("force") == Some("true");
    if let Some(live) = live {
        check_resource_version(kind, &config, live, false)?;
        return write(state, kind, call, live, Value::Null, Ownership::Apply { config: &config, force });
    }
    if call.subresource.is_some() {
        return status::fail(status::not_found(&kind.qualified(), &name));
    }
    let (ignored, time, api_version) = (ignored_fields(kind, None), now(), kind.api_version());
    let who = writer(manager, Operation::Apply, &api_version, None, &ignored, &time);
    let mut managed = Managed::default();
    let mut obj = managed.apply(&json!({}), &config, &kind.schema, &who, force).map_err(|c| conflicts(&c))?;
    normalize(kind, &mut obj);
    if kind.custom {
        kind.schema.prune(&mut obj);
        kind.schema.default(&mut obj);
    }
    reset_for_create(kind, &mut obj);
    insert_new(state, kind, call, obj, &managed)
}

fn conflicts(conflicts: &[super::managed::Conflict]) -> Box<Status> {
    let causes = conflicts.iter().map(|c| (c.manager.clone(), super::fieldset::display(&c.path)));
    status::apply_conflict(conflict_message(conflicts), causes)
}

/// The common path of every write to an existing object.
fn write(state: &mut State, kind: &Kind, call: &Call, live: &Value, new: Value, how: Ownership<'_>) -> Reply {
    let sub = call.subresource.as_deref();
    if sub.is_some_and(|s| s != "status" || !kind.status) {
        return status::fail(status::not_found(&kind.qualified(), meta_str(live, "name")));
    }
    let live_plain = without_managed_fields(live);
    let supplied = meta_get(&new, "managedFields").cloned();
    let mut managed = match (&how, sub) {
        (Ownership::Update, None) if Managed::is_reset(supplied.as_ref()) => Managed::default(),
        (Ownership::Update, None) if supplied.as_ref().and_then(Value::as_array).is_some_and(|a| !a.is_empty()) => {
            Managed::decode(supplied.as_ref())
        }
        _ => Managed::decode(meta_get(live, "managedFields")),
    };
    let (ignored, time, manager, api_version) =
        (ignored_fields(kind, sub), now(), call.field_manager(), kind.api_version());
    let operation = if matches!(how, Ownership::Apply { .. }) { Operation::Apply } else { Operation::Update };
    let who = writer(&manager, operation, &api_version, sub, &ignored, &time);
    let mut new_plain = match how {
        Ownership::Update => without_managed_fields(&new),
        Ownership::Apply { config, force } => {
            managed.apply(&live_plain, config, &kind.schema, &who, force).map_err(|c| conflicts(&c))?
        }
    };
    normalize(kind, &mut new_plain);
    if kind.custom {
        kind.schema.prune(&mut new_plain);
        kind.schema.default(&mut new_plain);
    }
    reset_by_strategy(kind, sub, &live_plain, &mut new_plain);
    restore_system_fields(&live_plain, &mut new_plain);
    bump_generation(kind, sub, &live_plain, &mut new_plain);
    if operation == Operation::Update {
        managed.update(&live_plain, &new_plain, &kind.schema, &who);
    }
    let meta = meta_mut(&mut new_plain);
    match managed.encode() {
        Some(entries) => meta.insert("managedFields".into(), entries),
        None => meta.remove("managedFields"),
    };
    finish(state, kind, call, live, with_type(new_plain, kind))
}

/// What the status subresource and the main resource each may change.
fn reset_by_strategy(kind: &Kind, subresource: Option<&str>, live: &Value, new: &mut Value) {
    let take_status_from = |from: &Value, into: &mut Value| {
        let status = from.get("status").cloned();
        if let Some(obj) = into.as_object_mut() {
            match status {
                Some(s) => obj.insert("status".into(), s),
                None => obj.remove("status"),
            };
        }
    };
    match subresource {
        // Custom resources: everything but the status stays as stored.
        Some(_) if kind.custom => {
            let requested = new.clone();
            *new = live.clone();
            take_status_from(&requested, new);
        }
        // Built-in kinds: spec and labels stay (Deployments' controller
        // writes annotations through the status).
        Some(_) => {
            if let (Some(obj), Some(spec)) = (new.as_object_mut(), live.get("spec")) {
                obj.insert("spec".into(), spec.clone());
            }
            let labels = meta_get(live, "labels").cloned();
            let meta = meta_mut(new);
            match labels {
                Some(l) => meta.insert("labels".into(), l),
                None => meta.remove("labels"),
            };
        }
        None if kind.status => take_status_from(live, new),
        None => {}
    }
}

/// Identity and system metadata stay as stored.
fn restore_system_fields(live: &Value, new: &mut Value) {
    let meta = meta_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match meta_get(live, field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    meta.remove("selfLink");
}

/// `metadata.generation` + 1 when the kind's rule says the spec changed.
fn bump_generation(kind: &Kind, subresource: Option<&str>, live: &Value, new: &mut Value) {
    if subresource.is_some() {
        return;
    }
    let content = |v: &Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            for k in ["metadata", "apiVersion", "kind"] {
                o.remove(k);
            }
        }
        v
    };
    let changed = match kind.generation {
        Generation::None => false,
        Generation::NonMetadata => content(live) != content(new),
        Generation::Spec => live.get("spec") != new.get("spec"),
        Generation::SpecAndAnnotations => {
            live.get("spec") != new.get("spec") || meta_get(live, "annotations") != meta_get(new, "annotations")
        }
    };
    let generation = meta_get(live, "generation").and_then(Value::as_i64);
    if let (true, Some(g)) = (changed, generation) {
        meta_mut(new).insert("generation".into(), json!(g + 1));
    }
}

/// Stores `new` unless nothing changed; removes it when its deletion was
/// waiting for the last finalizer.
fn finish(state: &mut State, kind: &Kind, call: &Call, live: &Value, new: Value) -> Reply {
    if &new == live || call.dry_run() {
        return Ok((200, new));
    }
    let (resource, key) = keys(kind, call, meta_str(live, "name"));
    if meta_get(&new, "deletionTimestamp").is_some() && !has_finalizers(&new) {
        state.tracker.remove(&resource, &key);
        return Ok((200, new));
    }
    Ok((200, state.tracker.put(&resource, key, new)))
}

/// The outcome of deleting one object.
enum Deleted {
    /// Gone.
    Gone,
    /// Finalizers hold it: marked for deletion.
    Deleting(Value),
}

fn delete_one(state: &mut State, kind: &Kind, call: &Call, live: Value) -> Deleted {
    let (resource, key) = keys(kind, call, meta_str(&live, "name"));
    if has_finalizers(&live) {
        if meta_get(&live, "deletionTimestamp").is_some() {
            return Deleted::Deleting(live);
        }
        let mut obj = live;
        let meta = meta_mut(&mut obj);
        meta.insert("deletionTimestamp".into(), json!(now()));
        meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        if let Some(g) = meta.get("generation").and_then(Value::as_i64).filter(|g| *g > 0) {
            meta.insert("generation".into(), json!(g + 1));
        }
        let stored = if call.dry_run() { obj } else { state.tracker.put(&resource, key, obj) };
        return Deleted::Deleting(stored);
    }
    if !call.dry_run() {
        state.tracker.remove(&resource, &key);
    }
    Deleted::Gone
}

/// DELETE of one object (preconditions on uid and resourceVersion).
pub(crate) fn delete(state: &mut State, call: &Call) -> Reply {
    let kind = state.kinds[call.kind].clone();
    let name = call.name.clone().unwrap_or_default();
    let (resource, key) = keys(&kind, call, &name);
    let live =
        state.tracker.get(&resource, &key).cloned().ok_or_else(|| status::not_found(&kind.qualified(), &name))?;
    let options = call.body.clone().unwrap_or_default();
    for (field, label, consequence) in [
        ("uid", "UID", "The object might have been deleted and then recreated"),
        ("resourceVersion", "ResourceVersion", "The object might have been modified"),
    ] {
        let Some(expected) = options.pointer(&format!("/preconditions/{field}")).and_then(Value::as_str) else {
            continue;
        };
        let actual = meta_str(&live, field);
        if expected != actual {
            let message = format!(
                "the {label} in the precondition ({expected}) does not match the {label} in record ({actual}). {consequence}"
            );
            return status::fail(status::precondition_failed(&invalid_kind(&kind), &name, &message));
        }
    }
    let uid = meta_str(&live, "uid").to_string();
    match delete_one(state, &kind, call, live) {
        Deleted::Deleting(obj) => Ok((200, obj)),
        Deleted::Gone => Ok((200, status_json(&status::deleted(&kind.qualified(), &name, &uid)))),
    }
}

/// DELETE of every object the selectors match: the list of what was deleted.
pub(crate) fn delete_collection(state: &mut State, call: &Call) -> Reply {
    let kind = state.kinds[call.kind].clone();
    let filter = Filter::parse(&kind, call)?;
    let resource = (kind.group.clone(), kind.plural.clone());
    let targets: Vec<Value> = state
        .tracker
        .list(&resource, call.namespace.as_deref())
        .into_iter()
        .map(|(_, obj)| obj)
        .filter(|obj| filter.matches(obj))
        .cloned()
        .collect();
    // The apiserver answers with the list as it was before the deletions.
    let rv = state.tracker.rv();
    for live in targets.clone() {
        delete_one(state, &kind, call, live);
    }
    Ok((200, read::list_body(&kind, call, rv, targets, None)))
}

/// A Status as the apiserver sends it (with kind and apiVersion).
pub(crate) fn status_json(s: &Status) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("kind".into(), json!("Status"));
        o.insert("apiVersion".into(), json!("v1"));
        o.insert("metadata".into(), json!({}));
    }
    v
}
