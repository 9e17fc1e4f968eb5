//! Finalizers: run cleanup before an object may go away (kube-runtime's `finalizer`, conflict-safe).
//!
//! [`finalizer`] wraps a reconcile: it adds a finalizer to the object on
//! first sight, runs [`Event::Apply`] while the object lives, runs
//! [`Event::Cleanup`] once its `deletionTimestamp` is set and removes the
//! finalizer after the cleanup succeeded, which lets the deletion complete.
//!
//! Every write is a JSON patch guarded by `test` operations, so a change
//! someone else made meanwhile makes the patch fail (HTTP 422, see
//! [`Error::is_conflict`]) instead of overwriting it:
//!
//! - adding tests the whole `finalizers` list read (and the `uid`), then appends;
//! - removing tests that our finalizer is still at the index read (and the
//!   `uid`), then removes that index, so another controller's finalizer is
//!   never removed by an index gone stale.
//!
//! A failed patch is an error: the caller (a [`Controller`](crate::Controller))
//! retries with a fresh object from its cache.
//!
//! ```no_run
//! use std::sync::Arc;
//! use bot_runtime::{Action, finalizer::{Event, finalizer}};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::Api;
//!
//! # async fn reconcile(api: Api<ConfigMap>, cm: Arc<ConfigMap>) -> Result<Action, bot_runtime::finalizer::Error<kube::Error>> {
//! finalizer(&api, "botops.dev/cleanup", cm, |event| async move {
//!     match event {
//!         Event::Apply(cm) => { /* create what cm asks for */ Ok(Action::Done) }
//!         Event::Cleanup(cm) => { /* delete what was created for cm */ Ok(Action::Done) }
//!     }
//! })
//! .await
//! # }
//! ```

use std::{fmt::Debug, future::Future, sync::Arc};

use json_patch::{AddOperation, PatchOperation, RemoveOperation, TestOperation, jsonptr::PointerBuf};
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::controller::Action;

/// What the reconcile passed to [`finalizer`] is asked to do.
///
/// ```
/// # use std::sync::Arc;
/// # use bot_runtime::finalizer::Event;
/// # use k8s_openapi::api::core::v1::ConfigMap;
/// fn describe(event: &Event<ConfigMap>) -> &'static str {
///     match event {
///         Event::Apply(_) => "make the world match the object",
///         Event::Cleanup(_) => "undo it before the object goes",
///     }
/// }
/// assert_eq!(describe(&Event::Cleanup(Arc::new(ConfigMap::default()))), "undo it before the object goes");
/// ```
#[derive(Debug)]
pub enum Event<K> {
    /// The object lives and carries our finalizer: make the world match it.
    /// Must be idempotent (it runs again after restarts, updates, failures).
    Apply(Arc<K>),
    /// The object is being deleted and still carries our finalizer: remove
    /// what was made for it. Must be idempotent and must tolerate
    /// [`Event::Apply`] never having run or succeeded.
    Cleanup(Arc<K>),
}

/// Errors of [`finalizer`]; `E` is the reconcile's own error.
///
/// ```
/// # use bot_runtime::finalizer::Error;
/// let err: Error<std::io::Error> = Error::CleanupFailed(std::io::Error::other("bucket busy"));
/// assert_eq!(err.to_string(), "failed to clean up object: bucket busy");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error<E> {
    /// The reconcile failed on [`Event::Apply`].
    #[error("failed to apply object: {0}")]
    ApplyFailed(#[source] E),
    /// The reconcile failed on [`Event::Cleanup`]; the finalizer was kept,
    /// so the object stays until a later cleanup succeeds.
    #[error("failed to clean up object: {0}")]
    CleanupFailed(#[source] E),
    /// The patch adding the finalizer failed (a conflict if
    /// [`is_conflict`](Self::is_conflict)); nothing was changed.
    #[error("failed to add finalizer: {0}")]
    AddFinalizer(#[source] kube::Error),
    /// The patch removing the finalizer failed (a conflict if
    /// [`is_conflict`](Self::is_conflict)); the cleanup succeeded but the
    /// finalizer is still there, so the cleanup will run again.
    #[error("failed to remove finalizer: {0}")]
    RemoveFinalizer(#[source] kube::Error),
    /// The object has no `metadata.name` (hand-made, never read from the API).
    #[error("object has no name")]
    UnnamedObject,
}

impl<E> Error<E> {
    /// Whether a finalizer patch failed because the object changed since it
    /// was read: a `test` operation failed (422) or a write conflicted (409).
    /// Retrying with a fresh object is the remedy.
    ///
    /// ```
    /// # use bot_runtime::finalizer::Error;
    /// let err: Error<std::io::Error> = Error::UnnamedObject;
    /// assert!(!err.is_conflict());
    /// ```
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::AddFinalizer(e) | Self::RemoveFinalizer(e) => {
                matches!(e, kube::Error::Api(status) if status.code == 409 || status.code == 422)
            }
            _ => false,
        }
    }
}

/// Result alias of this module.
pub type Result<T, E> = std::result::Result<T, Error<E>>;

/// Reconciles `obj` behind the finalizer `finalizer_name`.
///
/// | object | finalizer | what happens |
/// |---|---|---|
/// | live | absent | the finalizer is added, then `Apply` runs on the patched object |
/// | live | present | `Apply` |
/// | deleting | present | `Cleanup`; on success the finalizer is removed |
/// | deleting | absent | nothing: `Ok(Action::Done)` |
///
/// Returns the reconcile's [`Action`]. A patch that finds the object gone
/// (404) is not an error: there is nothing left to guard, `Ok(Action::Done)`.
/// `finalizer_name` must be owned by one controller (e.g. `botops.dev/cleanup`).
///
/// ```no_run
/// # use std::sync::Arc;
/// # use bot_runtime::{Action, finalizer::{Event, finalizer}};
/// # use k8s_openapi::api::core::v1::ConfigMap;
/// # async fn demo(api: kube::Api<ConfigMap>, cm: Arc<ConfigMap>) {
/// let result = finalizer(&api, "botops.dev/cleanup", cm, |event| async move {
///     match event {
///         Event::Apply(_) => Ok::<_, std::io::Error>(Action::Done),
///         Event::Cleanup(_) => Ok(Action::Done),
///     }
/// })
/// .await;
/// if let Err(e) = &result && e.is_conflict() {
///     // the object changed meanwhile: the controller retries with a fresh copy
/// }
/// # }
/// ```
pub async fn finalizer<K, F, Fut, E>(api: &Api<K>, finalizer_name: &str, obj: Arc<K>, reconcile: F) -> Result<Action, E>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    F: FnOnce(Event<K>) -> Fut,
    Fut: Future<Output = std::result::Result<Action, E>>,
{
    let meta = obj.meta();
    let index = meta.finalizers.iter().flatten().position(|f| f == finalizer_name);
    let deleting = meta.deletion_timestamp.is_some();
    match (index, deleting) {
        (Some(_), false) => reconcile(Event::Apply(obj)).await.map_err(Error::ApplyFailed),
        (Some(index), true) => {
            let name = meta.name.clone().ok_or(Error::UnnamedObject)?;
            let patch = remove_patch(obj.as_ref(), finalizer_name, index);
            let action = reconcile(Event::Cleanup(obj)).await.map_err(Error::CleanupFailed)?;
            match api.patch::<K>(&name, &PatchParams::default(), &Patch::Json(patch)).await {
                Ok(_) => Ok(action),
                Err(e) if is_not_found(&e) => Ok(Action::Done),
                Err(e) => Err(Error::RemoveFinalizer(e)),
            }
        }
        (None, false) => {
            let name = meta.name.clone().ok_or(Error::UnnamedObject)?;
            let patch = add_patch(obj.as_ref(), finalizer_name);
            match api.patch::<K>(&name, &PatchParams::default(), &Patch::Json(patch)).await {
                Ok(patched) => reconcile(Event::Apply(Arc::new(patched))).await.map_err(Error::ApplyFailed),
                Err(e) if is_not_found(&e) => Ok(Action::Done),
                Err(e) => Err(Error::AddFinalizer(e)),
            }
        }
        (None, true) => Ok(Action::Done),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

fn pointer(tokens: &[&str]) -> PointerBuf {
    PointerBuf::from_tokens(tokens.iter().copied())
}

fn test(tokens: &[&str], value: Value) -> PatchOperation {
    PatchOperation::Test(TestOperation { path: pointer(tokens), value })
}

/// `test` that the object is the incarnation read (when its uid is known).
fn uid_test<K: Resource>(obj: &K) -> Option<PatchOperation> {
    obj.meta().uid.as_ref().map(|uid| test(&["metadata", "uid"], uid.as_str().into()))
}

/// Appends `name`, provided the finalizers are still exactly those of `obj`.
fn add_patch<K: Resource>(obj: &K, name: &str) -> json_patch::Patch {
    let current = obj.meta().finalizers.as_deref().unwrap_or_default();
    let mut ops: Vec<PatchOperation> = uid_test(obj).into_iter().collect();
    if current.is_empty() {
        // An absent list tests equal to null (an empty list is never stored).
        ops.push(test(&["metadata", "finalizers"], Value::Null));
        ops.push(PatchOperation::Add(AddOperation {
            path: pointer(&["metadata", "finalizers"]),
            value: Value::from(vec![name]),
        }));
    } else {
        ops.push(test(&["metadata", "finalizers"], Value::from(current)));
        ops.push(PatchOperation::Add(AddOperation {
            path: pointer(&["metadata", "finalizers", "-"]),
            value: name.into(),
        }));
    }
    json_patch::Patch(ops)
}

/// Removes index `index`, provided `name` is still there.
fn remove_patch<K: Resource>(obj: &K, name: &str, index: usize) -> json_patch::Patch {
    let index = index.to_string();
    let path = ["metadata", "finalizers", index.as_str()];
    let mut ops: Vec<PatchOperation> = uid_test(obj).into_iter().collect();
    ops.push(test(&path, name.into()));
    ops.push(PatchOperation::Remove(RemoveOperation { path: pointer(&path) }));
    json_patch::Patch(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    fn cm(finalizers: &[&str]) -> ConfigMap {
        let mut cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a", "uid": "u1"}})).unwrap();
        if !finalizers.is_empty() {
            cm.metadata.finalizers = Some(finalizers.iter().map(|f| f.to_string()).collect());
        }
        cm
    }

    /// Applies `patch` to `server` (the object as stored) the way the apiserver does.
    fn apply(server: &ConfigMap, patch: &json_patch::Patch) -> std::result::Result<Vec<String>, String> {
        let mut doc = serde_json::to_value(server).unwrap();
        json_patch::patch(&mut doc, patch).map_err(|e| e.to_string())?;
        let cm: ConfigMap = serde_json::from_value(doc).unwrap();
        Ok(cm.metadata.finalizers.unwrap_or_default())
    }

    #[test]
    fn add_appends_only_if_the_list_is_unchanged() {
        let read = cm(&["x/a"]);
        let patch = add_patch(&read, "me/f");
        assert_eq!(apply(&read, &patch).unwrap(), ["x/a", "me/f"]);
        // Someone added another finalizer since we read: fail, keep theirs.
        assert!(apply(&cm(&["x/a", "x/b"]), &patch).is_err());
        // Read without finalizers: the list must still be absent. (The
        // apiserver's json-patch lets `test null` pass on an absent path, this
        // crate does not: the real behaviour is covered by runtime_finalizer.)
        let ops = serde_json::to_value(add_patch(&cm(&[]), "me/f")).unwrap();
        assert_eq!(
            ops,
            json!([
                {"op": "test", "path": "/metadata/uid", "value": "u1"},
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["me/f"]},
            ])
        );
        assert!(apply(&cm(&["x/a"]), &add_patch(&cm(&[]), "me/f")).is_err(), "a list appeared meanwhile");
    }

    #[test]
    fn remove_takes_out_only_our_entry() {
        let read = cm(&["x/a", "me/f", "x/b"]);
        let patch = remove_patch(&read, "me/f", 1);
        assert_eq!(apply(&read, &patch).unwrap(), ["x/a", "x/b"]);
        // x/a went away meanwhile: index 1 is now x/b, which must survive.
        assert!(apply(&cm(&["me/f", "x/b"]), &patch).is_err());
    }

    #[test]
    fn another_incarnation_is_never_patched() {
        let read = cm(&["me/f"]);
        let mut recreated = cm(&["me/f"]);
        recreated.metadata.uid = Some("u2".into());
        assert!(apply(&recreated, &remove_patch(&read, "me/f", 0)).is_err());
        let ops = serde_json::to_value(add_patch(&ConfigMap::default(), "me/f")).unwrap();
        assert_eq!(ops.as_array().unwrap().len(), 2, "no uid known: no uid test");
    }
}
