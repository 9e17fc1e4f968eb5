//! What a client asked the fake cluster (client-go's `testing.Action`), and
//! reactors that answer instead of the object tracker.

use std::sync::Arc;

use kube::core::Status;
use serde_json::Value;

/// The patch types a PATCH can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json` (built-in kinds only).
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
}

/// One request, recorded before it is answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or
    /// `deletecollection` (the verbs RBAC and audit logs use).
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Resource (plural), e.g. `bots`.
    pub resource: String,
    /// Subresource (`status`, `scale`), if any.
    pub subresource: Option<String>,
    /// Namespace of the request, if namespaced.
    pub namespace: Option<String>,
    /// Object name, for verbs on one object.
    pub name: Option<String>,
    /// The patch type of a `patch`.
    pub patch_type: Option<PatchType>,
    /// The `fieldManager` parameter.
    pub field_manager: Option<String>,
    /// `force=true` (server-side apply).
    pub force: bool,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// The `labelSelector` parameter.
    pub label_selector: Option<String>,
    /// The `fieldSelector` parameter.
    pub field_selector: Option<String>,
    /// The `resourceVersion` parameter (list, watch, get).
    pub resource_version: Option<String>,
    /// The request body as JSON (object, patch, delete options), if any.
    pub body: Option<Value>,
    /// Metadata only was asked for (`as=PartialObjectMetadata`).
    pub metadata_only: bool,
}

impl Action {
    /// Whether this action is `verb` on `resource` (`"*"` matches anything;
    /// `resource` may name a subresource as `bots/status`).
    pub fn matches(&self, verb: &str, resource: &str) -> bool {
        let verb_ok = verb == "*" || verb == self.verb;
        let resource_ok = resource == "*"
            || match (resource.split_once('/'), &self.subresource) {
                (Some((r, s)), Some(sub)) => r == self.resource && s == sub,
                (None, _) => resource == self.resource,
                _ => false,
            };
        verb_ok && resource_ok
    }

    /// Whether this is a server-side apply.
    pub fn is_apply(&self) -> bool {
        self.patch_type == Some(PatchType::Apply)
    }

    /// The body as `T` (an object of a create or update, a patch).
    pub fn body_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        self.body.clone().and_then(|b| serde_json::from_value(b).ok())
    }
}

/// What a reactor answers: `None` passes the action on (to the next
/// reactor, finally the object tracker); `Some(Ok(object))` is the response
/// body, `Some(Err(status))` an error response (see [`super::status`]).
pub type Reaction = Option<Result<Value, Box<Status>>>;

/// A reactor: client-go's `ReactionFunc`.
pub(crate) type ReactorFn = Arc<dyn Fn(&Action) -> Reaction + Send + Sync>;

/// A reactor with the verb and resource it handles.
#[derive(Clone)]
pub(crate) struct Reactor {
    pub(crate) verb: String,
    pub(crate) resource: String,
    pub(crate) react: ReactorFn,
}
