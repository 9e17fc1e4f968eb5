//! `TypedClient<K>`: every client-go verb of one resource type over `kube::Api<K>`.
//!
//! Generated clientsets are thin wrappers around this type that expose only
//! the verbs a type allows; the behaviour lives here once.
//!
//! # One style
//!
//! Every verb takes its arguments in the same order, **what it acts on
//! (a name or an object), then the body, then kube's parameter type**, like
//! client-go's `Verb(ctx, obj-or-name, [body,] options)`:
//!
//! | verb | call |
//! |---|---|
//! | create, update, update_status | `create(&obj, &PostParams)` |
//! | get | `get(name)`, `get_opt(name)` |
//! | list, watch | `list(&ListParams)`, `watch(&WatchParams, resource_version)` |
//! | delete, delete_collection | `delete(name, &DeleteParams)`, `delete_collection(&DeleteParams, &ListParams)` |
//! | patch, patch_status | `patch(name, &Patch<P>, &PatchParams)`; shorthands `merge_patch(name, &body, &PatchParams)`, `json_patch(name, &ops, &PatchParams)` |
//! | apply, apply_status | `apply(&config, &PatchParams::apply("manager"))`: a typed [`ApplyConfiguration`] that names its object |
//! | apply_raw, apply_status_raw | `apply_raw(name, &any_serialize, &PatchParams)`: the untyped escape hatch |
//! | other types or subresources | `get_as(Target::Subresource(name, "scale"))`, `create_as`, `replace_as`, `patch_as`, `list_as`, `delete_as` |
//!
//! Parameters are kube's own types, so everything kube can say (field
//! manager, `force`, dry run, field validation, propagation policy) is said
//! the same way everywhere: the field manager of an apply is
//! `PatchParams::apply("my-manager")`, forcing is `.force()`. Errors are
//! [`kube::Error`] (an `std::error::Error`: `?` works into `anyhow`), API
//! failures being `kube::Error::Api` with the server's code and reason.

use std::fmt::Debug;

use futures::{Stream, StreamExt, stream::BoxStream};
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::{
    Api, Resource,
    api::{DeleteParams, GetParams, ListParams, ObjectList, Patch, PatchParams, PostParams, WatchEvent, WatchParams},
    core::{Request, Status},
};
use serde::{Serialize, de::DeserializeOwned};

use crate::apply::ApplyConfiguration;

/// Either of two results (`delete` returns `Left(obj)` while finalizers hold it).
pub use either::Either;

/// The stream of a raw watch.
pub type WatchStream<K> = BoxStream<'static, Result<WatchEvent<K>>>;

/// The error of every verb: kube's client error.
pub type Error = kube::Error;
/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a verb of [`TypedClient`]'s `*_as` family acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// The collection: `.../bots` (list, create, watch).
    Collection,
    /// One object: `.../bots/{name}`.
    Object(&'a str),
    /// A subresource of one object: `.../bots/{name}/{subresource}`.
    Subresource(&'a str, &'a str),
}

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

fn invalid(message: impl Into<String>) -> Error {
    kube::Error::BuildRequest(kube::core::request::Error::Validation(message.into()))
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
    pub async fn watch(&self, wp: &WatchParams, resource_version: &str) -> Result<WatchStream<K>> {
        let stream = self.api.watch(wp, resource_version).await?;
        Ok(boxed(stream))
    }

    /// Patches `name` with any patch type (merge, JSON, strategic, apply).
    pub async fn patch<P: Serialize + Debug>(&self, name: &str, patch: &Patch<P>, pp: &PatchParams) -> Result<K> {
        self.api.patch(name, pp, patch).await
    }

    /// JSON merge patch (RFC 7386) of `name`: `patch(name, &Patch::Merge(body), pp)`.
    pub async fn merge_patch<P: Serialize + Debug>(&self, name: &str, body: &P, pp: &PatchParams) -> Result<K> {
        self.api.patch(name, pp, &Patch::Merge(body)).await
    }

    /// JSON patch (RFC 6902) of `name`: `patch(name, &Patch::Json(ops), pp)`.
    pub async fn json_patch(&self, name: &str, ops: &json_patch::Patch, pp: &PatchParams) -> Result<K> {
        self.api.patch(name, pp, &Patch::<()>::Json(ops.clone())).await
    }

    /// Patches the status subresource of `name`.
    pub async fn patch_status<P: Serialize + Debug>(
        &self,
        name: &str,
        patch: &Patch<P>,
        pp: &PatchParams,
    ) -> Result<K> {
        self.api.patch_status(name, pp, patch).await
    }

    /// Server-side apply of `config` to the object it names
    /// (`metadata.name`); `pp` is `PatchParams::apply("manager")`, with
    /// `.force()` to take over fields other managers own.
    pub async fn apply<A>(&self, config: &A, pp: &PatchParams) -> Result<K>
    where
        A: ApplyConfiguration<Object = K> + Debug,
    {
        let name = config.name().ok_or_else(|| invalid("an apply configuration needs metadata.name"))?;
        self.apply_raw(name, config, pp).await
    }

    /// Server-side apply of `config` to the status subresource.
    pub async fn apply_status<A>(&self, config: &A, pp: &PatchParams) -> Result<K>
    where
        A: ApplyConfiguration<Object = K> + Debug,
    {
        let name = config.name().ok_or_else(|| invalid("an apply configuration needs metadata.name"))?;
        self.apply_status_raw(name, config, pp).await
    }

    /// Server-side apply of any serializable body to `name`, unchecked: the
    /// escape hatch when no typed apply configuration fits (the body must
    /// carry apiVersion, kind and metadata.name itself).
    pub async fn apply_raw<P: Serialize + Debug>(&self, name: &str, body: &P, pp: &PatchParams) -> Result<K> {
        self.api.patch(name, pp, &Patch::Apply(body)).await
    }

    /// [`apply_raw`](Self::apply_raw) of the status subresource.
    pub async fn apply_status_raw<P: Serialize + Debug>(&self, name: &str, body: &P, pp: &PatchParams) -> Result<K> {
        self.api.patch_status(name, pp, &Patch::Apply(body)).await
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
        patch: &Patch<P>,
        pp: &PatchParams,
    ) -> Result<Scale> {
        self.api.patch_scale(name, pp, patch).await
    }

    /// GET of `target`, decoded as `R` (client-gen's extra `get` methods:
    /// a subresource, or the object as another type).
    pub async fn get_as<R: DeserializeOwned>(&self, target: Target<'_>) -> Result<R> {
        let (parent, last) = self.split(target)?;
        let req = Request::new(parent).get(&last, &GetParams::default());
        self.client().request(req.map_err(kube::Error::BuildRequest)?).await
    }

    /// GET with list parameters of `target` (the collection, or an object's
    /// subresource that lists), decoded as a list of `R`.
    pub async fn list_as<R: Clone + DeserializeOwned>(
        &self,
        target: Target<'_>,
        lp: &ListParams,
    ) -> Result<ObjectList<R>> {
        let req = Request::new(self.url(target)).list(lp);
        self.client().request(req.map_err(kube::Error::BuildRequest)?).await
    }

    /// POST of `input` to `target` (the collection, or a subresource such as
    /// `eviction`), the response decoded as `R`.
    pub async fn create_as<I: Serialize, R: DeserializeOwned>(
        &self,
        target: Target<'_>,
        input: &I,
        pp: &PostParams,
    ) -> Result<R> {
        let body = serde_json::to_vec(input).map_err(kube::Error::SerdeError)?;
        let req = Request::new(self.url(target)).create(pp, body);
        self.client().request(req.map_err(kube::Error::BuildRequest)?).await
    }

    /// PUT of `input` to `target` (an object or a subresource), the response decoded as `R`.
    pub async fn replace_as<I: Serialize, R: DeserializeOwned>(
        &self,
        target: Target<'_>,
        input: &I,
        pp: &PostParams,
    ) -> Result<R> {
        let (parent, last) = self.split(target)?;
        let body = serde_json::to_vec(input).map_err(kube::Error::SerdeError)?;
        let req = Request::new(parent).replace(&last, pp, body);
        self.client().request(req.map_err(kube::Error::BuildRequest)?).await
    }

    /// PATCH of `target` (an object or a subresource; `Patch::Apply` for
    /// server-side apply), the response decoded as `R`.
    pub async fn patch_as<P: Serialize, R: DeserializeOwned>(
        &self,
        target: Target<'_>,
        patch: &Patch<P>,
        pp: &PatchParams,
    ) -> Result<R> {
        let (parent, last) = self.split(target)?;
        let req = Request::new(parent).patch(&last, pp, patch);
        self.client().request(req.map_err(kube::Error::BuildRequest)?).await
    }

    /// DELETE of `target`: `Left(R)` when the server returns the object,
    /// `Right(status)` when it returns a Status.
    pub async fn delete_as<R: DeserializeOwned>(
        &self,
        target: Target<'_>,
        dp: &DeleteParams,
    ) -> Result<Either<R, Status>> {
        let req = match target {
            Target::Collection => Request::new(self.url(target)).delete_collection(dp, &ListParams::default()),
            _ => {
                let (parent, last) = self.split(target)?;
                Request::new(parent).delete(&last, dp)
            }
        };
        let req = req.map_err(kube::Error::BuildRequest)?;
        self.client().request_status(req).await
    }

    /// A raw watch of the collection from `resource_version`, events decoded as `R`.
    pub async fn watch_as<R: Clone + DeserializeOwned + Send + 'static>(
        &self,
        wp: &WatchParams,
        resource_version: &str,
    ) -> Result<WatchStream<R>> {
        let req = Request::new(self.api.resource_url()).watch(wp, resource_version);
        let req = req.map_err(kube::Error::BuildRequest)?;
        Ok(boxed(self.client().request_events::<R>(req).await?))
    }

    /// The URL path of `target`.
    fn url(&self, target: Target<'_>) -> String {
        let base = self.api.resource_url();
        match target {
            Target::Collection => base.to_string(),
            Target::Object(name) => format!("{base}/{name}"),
            Target::Subresource(name, sub) => format!("{base}/{name}/{sub}"),
        }
    }

    /// `target` as the URL of its parent and its last segment, for the
    /// request builders that append a name (and check it is not empty).
    fn split(&self, target: Target<'_>) -> Result<(String, String)> {
        let base = self.api.resource_url();
        match target {
            Target::Collection => Err(invalid("this verb needs an object name")),
            Target::Object(name) => Ok((base.to_string(), name.to_string())),
            Target::Subresource("", _) => Err(invalid("A non-empty name is required")),
            Target::Subresource(name, sub) => Ok((format!("{base}/{name}"), sub.to_string())),
        }
    }

    fn client(&self) -> kube::Client {
        self.api.clone().into_client()
    }
}

fn boxed<R: Send + 'static>(
    stream: impl Stream<Item = Result<WatchEvent<R>>> + Send + 'static,
) -> BoxStream<'static, Result<WatchEvent<R>>> {
    stream.boxed()
}
