//! `TypedClient<K>`: every client-go verb of one resource type over `kube::Api<K>`.
//!
//! Generated clientsets are thin wrappers around this type that expose only
//! the verbs a type allows; the behaviour lives here once.

use std::fmt::Debug;

use futures::{Stream, StreamExt, stream::BoxStream};
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::{
    Api, Resource,
    api::{DeleteParams, ListParams, ObjectList, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    core::Status,
};
use serde::{Serialize, de::DeserializeOwned};

/// Either of two results (`delete` returns `Left(obj)` while finalizers hold it).
pub use either::Either;

/// The stream of a raw watch.
pub type WatchStream<K> = BoxStream<'static, Result<WatchEvent<K>>>;

/// The error of every verb: kube's client error.
pub type Error = kube::Error;
/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A typed client for one resource type, scoped like the [`Api`] it wraps
/// (one namespace, all namespaces, or cluster-scoped).
pub struct TypedClient<K> {
    api: Api<K>,
}

impl<K: Clone> Clone for TypedClient<K> {
    fn clone(&self) -> Self {
        Self { api: self.api.clone() }
    }
}

impl<K: Resource> Debug for TypedClient<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedClient").field("url", &self.api.resource_url()).finish()
    }
}

impl<K> From<Api<K>> for TypedClient<K> {
    fn from(api: Api<K>) -> Self {
        Self { api }
    }
}

fn name_of<K: Resource>(obj: &K) -> &str {
    obj.meta().name.as_deref().unwrap_or_default()
}

impl<K> TypedClient<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug + Send + 'static,
{
    /// Wraps an [`Api`].
    pub fn new(api: Api<K>) -> Self {
        Self { api }
    }

    /// The wrapped [`Api`], for anything not covered here.
    pub fn api(&self) -> &Api<K> {
        &self.api
    }

    /// The namespace this client is scoped to, if any.
    pub fn namespace(&self) -> Option<&str> {
        self.api.namespace()
    }

    /// Creates `obj`.
    pub async fn create(&self, obj: &K, pp: &PostParams) -> Result<K> {
        self.api.create(pp, obj).await
    }

    /// Replaces the object named by `obj.metadata.name` (optimistic
    /// concurrency through `metadata.resourceVersion`).
    pub async fn update(&self, obj: &K, pp: &PostParams) -> Result<K> {
        self.api.replace(name_of(obj), pp, obj).await
    }

    /// Replaces the status subresource of the object named by `obj.metadata.name`.
    pub async fn update_status(&self, obj: &K, pp: &PostParams) -> Result<K> {
        self.api.replace_status(name_of(obj), pp, obj).await
    }

    /// Deletes `name`: `Left(obj)` while finalizers or a non-foreground
    /// propagation keep it, `Right(status)` when it is gone.
    pub async fn delete(&self, name: &str, dp: &DeleteParams) -> Result<Either<K, Status>> {
        self.api.delete(name, dp).await
    }

    /// Deletes every object matching `lp`.
    pub async fn delete_collection(&self, dp: &DeleteParams, lp: &ListParams) -> Result<Either<ObjectList<K>, Status>> {
        self.api.delete_collection(dp, lp).await
    }

    /// Gets `name`; a missing object is a 404 [`kube::Error::Api`].
    pub async fn get(&self, name: &str) -> Result<K> {
        self.api.get(name).await
    }

    /// Gets `name`; `None` when it does not exist.
    pub async fn get_opt(&self, name: &str) -> Result<Option<K>> {
        self.api.get_opt(name).await
    }

    /// Lists objects.
    pub async fn list(&self, lp: &ListParams) -> Result<ObjectList<K>> {
        self.api.list(lp).await
    }

    /// Watches from `resource_version` (a raw watch: no relist, no retry; use
    /// an informer for a cache).
    pub async fn watch(
        &self,
        wp: &WatchParams,
        resource_version: &str,
    ) -> Result<BoxStream<'static, Result<WatchEvent<K>>>> {
        let stream = self.api.watch(wp, resource_version).await?;
        Ok(boxed(stream))
    }

    /// Patches `name` with any patch type.
    pub async fn patch<P: Serialize + Debug>(&self, name: &str, pp: &PatchParams, patch: &Patch<P>) -> Result<K> {
        self.api.patch(name, pp, patch).await
    }

    /// JSON merge patch (RFC 7386); `field_manager` is recorded in managedFields when given.
    pub async fn merge_patch(&self, name: &str, patch: &serde_json::Value, field_manager: Option<&str>) -> Result<K> {
        self.api.patch(name, &patch_params(field_manager), &Patch::Merge(patch)).await
    }

    /// JSON patch (RFC 6902).
    pub async fn json_patch(&self, name: &str, patch: json_patch::Patch) -> Result<K> {
        self.api.patch(name, &PatchParams::default(), &Patch::<()>::Json(patch)).await
    }

    /// Patches the status subresource of `name`.
    pub async fn patch_status<P: Serialize + Debug>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K> {
        self.api.patch_status(name, pp, patch).await
    }

    /// Server-side apply of `config` (an apply configuration or a partial
    /// object with apiVersion/kind) as `field_manager`; `force` takes over
    /// conflicting fields.
    pub async fn apply<P: Serialize + Debug>(
        &self,
        name: &str,
        config: &P,
        field_manager: &str,
        force: bool,
    ) -> Result<K> {
        self.api.patch(name, &apply_params(field_manager, force), &Patch::Apply(config)).await
    }

    /// Server-side apply of the status subresource.
    pub async fn apply_status<P: Serialize + Debug>(
        &self,
        name: &str,
        config: &P,
        field_manager: &str,
        force: bool,
    ) -> Result<K> {
        self.api.patch_status(name, &apply_params(field_manager, force), &Patch::Apply(config)).await
    }

    /// Reads subresource `subresource` of `name` (client-gen's extra `get`
    /// methods); the response is decoded as `R`, not as `K`.
    pub async fn get_subresource<R: DeserializeOwned>(&self, subresource: &str, name: &str) -> Result<R> {
        let req = self.request().get_subresource(subresource, name).map_err(kube::Error::BuildRequest)?;
        self.client().request(req).await
    }

    /// Creates on subresource `subresource` of `name` (e.g. `eviction`); the
    /// response is decoded as `R`.
    pub async fn create_subresource<I: Serialize, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        input: &I,
        pp: &PostParams,
    ) -> Result<R> {
        let body = serde_json::to_vec(input).map_err(kube::Error::SerdeError)?;
        let req = self.request().create_subresource(subresource, name, pp, body).map_err(kube::Error::BuildRequest)?;
        self.client().request(req).await
    }

    /// Replaces subresource `subresource` of `name`; the response is decoded as `R`.
    pub async fn replace_subresource<I: Serialize, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        input: &I,
        pp: &PostParams,
    ) -> Result<R> {
        let body = serde_json::to_vec(input).map_err(kube::Error::SerdeError)?;
        let req = self.request().replace_subresource(subresource, name, pp, body).map_err(kube::Error::BuildRequest)?;
        self.client().request(req).await
    }

    /// Patches subresource `subresource` of `name`; the response is decoded as `R`.
    pub async fn patch_subresource<P: Serialize + Debug, R: DeserializeOwned>(
        &self,
        subresource: &str,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<R> {
        let req = self.request().patch_subresource(subresource, name, pp, patch).map_err(kube::Error::BuildRequest)?;
        self.client().request(req).await
    }

    fn request(&self) -> kube::core::Request {
        kube::core::Request::new(self.api.resource_url())
    }

    fn client(&self) -> kube::Client {
        self.api.clone().into_client()
    }

    /// Reads the scale subresource.
    pub async fn get_scale(&self, name: &str) -> Result<Scale> {
        self.api.get_scale(name).await
    }

    /// Replaces the scale subresource.
    pub async fn update_scale(&self, name: &str, scale: &Scale, pp: &PostParams) -> Result<Scale> {
        self.api.replace_scale(name, pp, scale).await
    }

    /// Patches the scale subresource.
    pub async fn patch_scale<P: Serialize + Debug>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<Scale> {
        self.api.patch_scale(name, pp, patch).await
    }
}

fn boxed<K: Send + 'static>(
    stream: impl Stream<Item = Result<WatchEvent<K>>> + Send + 'static,
) -> BoxStream<'static, Result<WatchEvent<K>>> {
    stream.boxed()
}

fn patch_params(field_manager: Option<&str>) -> PatchParams {
    PatchParams { field_manager: field_manager.map(str::to_string), ..PatchParams::default() }
}

fn apply_params(field_manager: &str, force: bool) -> PatchParams {
    let pp = PatchParams::apply(field_manager);
    if force { pp.force() } else { pp }
}
