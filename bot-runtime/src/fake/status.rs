//! `metav1.Status` errors as the apiserver words them, so that kube's
//! client returns the same [`kube::Error::Api`] codes, reasons and messages.
//!
//! Reactors return these (boxed, as [`kube::Error::Api`] holds them) to
//! inject failures: `Some(Err(fake::status::conflict("bots.botops.dev", "greeter")))`.

use kube::core::{
    Status,
    response::{StatusCause, StatusDetails, StatusSummary},
};

/// `Err(status)`, boxed (statuses are large).
pub(crate) fn fail<T>(status: Box<Status>) -> Result<T, Box<Status>> {
    Err(status)
}

fn failure(code: u16, reason: &str, message: String, details: Option<StatusDetails>) -> Box<Status> {
    Box::new(Status {
        status: Some(StatusSummary::Failure),
        code,
        message,
        metadata: None,
        reason: reason.to_string(),
        details,
    })
}

/// `group` and `kind` details from a qualified resource (`bots.botops.dev`).
fn details(qualified: &str, name: &str) -> StatusDetails {
    let (kind, group) = qualified.split_once('.').unwrap_or((qualified, ""));
    StatusDetails {
        name: name.to_string(),
        group: group.to_string(),
        kind: kind.to_string(),
        uid: String::new(),
        causes: Vec::new(),
        retry_after_seconds: 0,
    }
}

/// 404 `NotFound`: `configmaps "x" not found` (`qualified`: `plural[.group]`).
pub fn not_found(qualified: &str, name: &str) -> Box<Status> {
    failure(404, "NotFound", format!("{qualified} {name:?} not found"), Some(details(qualified, name)))
}

/// 409 `AlreadyExists`: `configmaps "x" already exists`.
pub fn already_exists(qualified: &str, name: &str) -> Box<Status> {
    failure(409, "AlreadyExists", format!("{qualified} {name:?} already exists"), Some(details(qualified, name)))
}

/// 409 `Conflict` of a stale `resourceVersion`.
pub fn conflict(qualified: &str, name: &str) -> Box<Status> {
    let message = format!(
        "Operation cannot be fulfilled on {qualified} {name:?}: the object has been modified; please apply your changes to the latest version and try again"
    );
    failure(409, "Conflict", message, Some(details(qualified, name)))
}

/// 409 `Conflict` of a failed delete precondition.
pub fn precondition_failed(qualified: &str, name: &str, message: &str) -> Box<Status> {
    let message = format!("Operation cannot be fulfilled on {qualified} {name:?}: {message}");
    failure(409, "Conflict", message, Some(details(qualified, name)))
}

/// 409 `Conflict` of a server-side apply (`Apply failed with 1 conflict: ...`);
/// `causes` are `(manager description, field path)`.
pub fn apply_conflict(message: String, causes: impl IntoIterator<Item = (String, String)>) -> Box<Status> {
    let causes = causes
        .into_iter()
        .map(|(manager, field)| StatusCause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with {manager}"),
            field,
        })
        .collect();
    let details = StatusDetails {
        name: String::new(),
        group: String::new(),
        kind: String::new(),
        uid: String::new(),
        causes,
        retry_after_seconds: 0,
    };
    failure(409, "Conflict", message, Some(details))
}

/// 422 `Invalid` of one field: `Kind "name" is invalid: field: message`.
/// `qualified` names the kind in the message and details (`ConfigMap`, or
/// `bots.botops.dev`).
pub fn invalid(qualified: &str, name: &str, field: &str, reason: &str, message: &str) -> Box<Status> {
    let mut d = details(qualified, name);
    d.causes.push(StatusCause { reason: reason.to_string(), message: message.to_string(), field: field.to_string() });
    failure(422, "Invalid", format!("{qualified} {name:?} is invalid: {field}: {message}"), Some(d))
}

/// 422 `Invalid` without details (a JSON patch that does not apply).
pub fn unprocessable() -> Box<Status> {
    let d = StatusDetails {
        name: String::new(),
        group: String::new(),
        kind: String::new(),
        uid: String::new(),
        causes: Vec::new(),
        retry_after_seconds: 0,
    };
    failure(422, "Invalid", "the server rejected our request due to an error in our request".into(), Some(d))
}

/// 400 `BadRequest`.
pub fn bad_request(message: impl Into<String>) -> Box<Status> {
    failure(400, "BadRequest", message.into(), None)
}

/// 415 `UnsupportedMediaType`: strategic merge patch of a custom resource.
pub fn unsupported_media_type() -> Box<Status> {
    failure(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
        None,
    )
}

/// 405 `MethodNotAllowed`.
pub fn method_not_allowed(message: impl Into<String>) -> Box<Status> {
    failure(405, "MethodNotAllowed", message.into(), None)
}

/// 404 for a path the fake does not serve (an unregistered kind).
pub fn no_route() -> Box<Status> {
    failure(404, "NotFound", "the server could not find the requested resource".into(), Some(details("", "")))
}

/// 500 `InternalError` (for reactors simulating a broken server).
pub fn internal_error(message: &str) -> Box<Status> {
    failure(500, "InternalError", format!("Internal error occurred: {message}"), None)
}

/// 200 `Success` of a deletion (`kind` is the resource name, as the apiserver does).
pub(crate) fn deleted(qualified: &str, name: &str, uid: &str) -> Box<Status> {
    let mut d = details(qualified, name);
    d.uid = uid.to_string();
    Box::new(Status {
        status: Some(StatusSummary::Success),
        code: 0,
        message: String::new(),
        metadata: None,
        reason: String::new(),
        details: Some(d),
    })
}
