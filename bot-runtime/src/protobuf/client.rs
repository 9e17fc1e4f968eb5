//! The client layer: asks for protobuf on lists and watches of built-in
//! collections and turns what comes back into the apiserver's JSON.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt as _;
use kube::client::Body;
use parking_lot::Mutex;

use super::json::Transcoder;
use super::{Error, MAX_FRAME, schema};

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// How much JSON is handed up at a time.
const CHUNK: usize = 16 << 10;
/// What client-go sends: protobuf, or JSON when the resource has none.
const ACCEPT_PROTOBUF: &str = "application/vnd.kubernetes.protobuf, application/json";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A [`kube::Client`] whose lists and watches of built-in collections are
/// made in protobuf and read back as JSON (see the [module](super) docs). Cheap to
/// clone; clones share which collections fell back to JSON.
pub fn client(client: kube::Client) -> kube::Client {
    let namespace = client.default_namespace().to_string();
    kube::Client::new(ProtobufWatches::new(client), namespace)
}

/// The tower service behind [`client`]; wrap it yourself (e.g. under a
/// layer of your own) with [`kube::Client::new`].
#[derive(Clone)]
pub struct ProtobufWatches {
    client: kube::Client,
    omit_managed_fields: bool,
    /// Collection paths whose protobuf could not be read: watched in JSON.
    json_only: Arc<Mutex<HashSet<String>>>,
    /// Watch events read in protobuf.
    events: Arc<AtomicU64>,
}

impl std::fmt::Debug for ProtobufWatches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtobufWatches")
            .field("omit_managed_fields", &self.omit_managed_fields)
            .field("json_only", &self.json_only.lock())
            .finish()
    }
}

impl ProtobufWatches {
    /// Over `client`, keeping every field.
    pub fn new(client: kube::Client) -> Self {
        Self { client, omit_managed_fields: false, json_only: Arc::default(), events: Arc::default() }
    }

    /// How many watch events were read in protobuf (by this service and its clones).
    pub fn events_read(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// The collection paths watched in JSON because their protobuf could not be read.
    pub fn fallen_back(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.json_only.lock().iter().cloned().collect();
        paths.sort();
        paths
    }

    /// Leaves `metadata.managedFields` out of the JSON written (the
    /// informer's default, which would skip them while parsing anyway).
    pub fn omit_managed_fields(mut self, omit: bool) -> Self {
        self.omit_managed_fields = omit;
        self
    }

    /// The path of a list or watch of a built-in collection that is not
    /// known to fail in protobuf, or `None` (left as it is).
    fn protobuf_path(&self, request: &Request<Body>) -> Option<String> {
        if request.method() != http::Method::GET {
            return None;
        }
        // Only a plain request for the objects themselves: one for another
        // representation (`as=PartialObjectMetadata`, `as=Table`) must get
        // exactly that (a metadata-only watch of Secrets must never receive
        // their data).
        let plain = match request.headers().get(ACCEPT) {
            None => true,
            Some(accept) => accept.as_bytes() == b"application/json" || accept.as_bytes() == b"*/*",
        };
        let path = request.uri().path();
        (plain && is_builtin_collection(path) && !self.json_only.lock().contains(path)).then(|| path.to_string())
    }

    /// `path` is listed and watched in JSON from now on.
    fn fall_back(&self, path: &str, error: &Error) {
        if self.json_only.lock().insert(path.to_string()) {
            tracing::warn!(%path, %error, "could not read protobuf from the apiserver; reading this collection in JSON from now on");
        }
    }
}

/// Whether `path` is a collection (not one object, not a subresource) of a
/// built-in group-version: `/api/v1/pods`, `/api/v1/namespaces/x/pods`,
/// `/apis/apps/v1/deployments`, `/apis/apps/v1/namespaces/x/deployments`.
fn is_builtin_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (builtin, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (super::is_builtin("", version), rest),
        ["apis", group, version, rest @ ..] => (super::is_builtin(group, version), rest),
        _ => return false,
    };
    builtin && matches!(rest, [plural] | ["namespaces", _, plural] if !plural.is_empty())
}

impl tower_service::Service<Request<Body>> for ProtobufWatches {
    type Response = Response<ResponseBody>;
    type Error = kube::Error;
    type Future = BoxFuture<'static, Result<Self::Response, kube::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), kube::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let this = self.clone();
        let path = self.protobuf_path(&request);
        if path.is_some() {
            request.headers_mut().insert(ACCEPT, HeaderValue::from_static(ACCEPT_PROTOBUF));
        }
        Box::pin(async move {
            let response = this.client.send(request).await?;
            let Some(path) = path else { return Ok(response.map(ResponseBody::plain)) };
            this.transcode(path, response).await
        })
    }
}

impl ProtobufWatches {
    async fn transcode(self, path: String, response: Response<Body>) -> Result<Response<ResponseBody>, kube::Error> {
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.starts_with(PROTOBUF) {
            return Ok(response.map(ResponseBody::plain));
        }
        let watch = content_type.contains("stream=watch");
        let (mut parts, body) = response.into_parts();
        parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        parts.headers.remove(http::header::CONTENT_LENGTH);
        let transcoder = Transcoder::new(schema::schema(), self.omit_managed_fields);
        if !parts.status.is_success() {
            // An error answered in protobuf: a whole `metav1.Status`.
            let bytes = body.collect().await.map_err(|e| kube::Error::Service(e.into()))?.to_bytes();
            let mut transcoder = transcoder;
            let mut json = Vec::new();
            return match transcoder.object(&bytes, &mut json) {
                Ok(()) => Ok(Response::from_parts(parts, ResponseBody::plain(Body::from(json)))),
                Err(e) => {
                    self.fall_back(&path, &e);
                    Ok(Response::from_parts(parts, ResponseBody::plain(Body::from(bytes))))
                }
            };
        }
        let inner = if watch {
            Inner::Watch(Box::new(WatchStream {
                body,
                pending: Vec::new(),
                start: 0,
                done: false,
                transcoder,
                layer: self,
                path,
            }))
        } else {
            Inner::Whole(Box::new(WholeBody { body, bytes: Vec::new(), done: false, transcoder, layer: self, path }))
        };
        Ok(Response::from_parts(parts, ResponseBody(inner)))
    }
}

/// A response body: as received, or a protobuf watch read as JSON lines.
pub struct ResponseBody(Inner);

enum Inner {
    Plain(Body),
    Watch(Box<WatchStream>),
    Whole(Box<WholeBody>),
}

/// One protobuf object (a list, or an object) read whole, then written as
/// one JSON document. Read in the body, not before the response is handed
/// up, so a large list does not count against a wait for response headers.
struct WholeBody {
    body: Body,
    bytes: Vec<u8>,
    done: bool,
    transcoder: Transcoder,
    layer: ProtobufWatches,
    path: String,
}

impl WholeBody {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.bytes.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => {
                    self.done = true;
                    let bytes = std::mem::take(&mut self.bytes);
                    let mut json = Vec::with_capacity(bytes.len() + bytes.len() / 2);
                    return Poll::Ready(Some(match self.transcoder.object(&bytes, &mut json) {
                        Ok(()) => Ok(Frame::data(json.into())),
                        Err(e) => {
                            self.layer.fall_back(&self.path, &e);
                            Err(e.into())
                        }
                    }));
                }
            }
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Inner::Plain(_) => "ResponseBody::Plain",
            Inner::Watch(_) => "ResponseBody::Watch",
            Inner::Whole(_) => "ResponseBody::Whole",
        })
    }
}

impl ResponseBody {
    fn plain(body: Body) -> Self {
        Self(Inner::Plain(body))
    }
}

/// A protobuf watch stream (4-byte big-endian lengths, each followed by a
/// `metav1.WatchEvent`) read as JSON lines.
struct WatchStream {
    body: Body,
    /// Bytes received and not yet written, from `start`.
    pending: Vec<u8>,
    start: usize,
    done: bool,
    transcoder: Transcoder,
    layer: ProtobufWatches,
    path: String,
}

impl WatchStream {
    /// The JSON lines of the whole frames pending, up to about
    /// [`CHUNK`] bytes (the line reader above keeps a buffer as large as the
    /// largest chunk it was given).
    fn lines(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        while out.len() < CHUNK {
            let rest = &self.pending[self.start..];
            let Some(header) = rest.get(..4) else { break };
            let len = u32::from_be_bytes(header.try_into().unwrap_or_default()) as usize;
            if len > MAX_FRAME {
                return Err(Error::FrameTooLarge(len));
            }
            let Some(frame) = rest.get(4..4 + len) else { break };
            if out.capacity() == 0 {
                out.reserve((rest.len() + rest.len() / 2).min(CHUNK + CHUNK / 2));
            }
            self.transcoder.watch_event(frame, &mut out)?;
            self.start += 4 + len;
            self.layer.events.fetch_add(1, Ordering::Relaxed);
        }
        if self.start == self.pending.len() {
            self.start = 0;
            if self.pending.capacity() > CHUNK {
                // A burst (the initial list) is over: give its buffer back.
                self.pending = Vec::new();
            } else {
                self.pending.clear();
            }
        } else if self.start > self.pending.len() / 2 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
        Ok(out)
    }
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().0 {
            Inner::Plain(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Inner::Watch(stream) => stream.poll(cx),
            Inner::Whole(whole) => whole.poll(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Inner::Plain(body) => body.is_end_stream(),
            Inner::Watch(stream) => stream.done && stream.start == stream.pending.len(),
            Inner::Whole(whole) => whole.done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Inner::Plain(body) => body.size_hint(),
            Inner::Watch(_) | Inner::Whole(_) => SizeHint::default(),
        }
    }
}

impl WatchStream {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            match self.lines() {
                Ok(lines) if !lines.is_empty() => return Poll::Ready(Some(Ok(Frame::data(lines.into())))),
                Ok(_) => {}
                Err(e) => {
                    self.layer.fall_back(&self.path, &e);
                    self.done = true;
                    self.pending.clear();
                    self.start = 0;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            if self.done {
                if self.start < self.pending.len() {
                    self.pending.clear();
                    self.start = 0;
                    return Poll::Ready(Some(Err(Error::Truncated.into())));
                }
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => self.done = true,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The fallback to JSON, against a stand-in server: the real apiserver
    //! cannot be made to send a malformed protobuf frame.

    use super::*;

    /// Answers watches with `frames` in protobuf while the request asks for
    /// protobuf, and with one JSON line otherwise; records each Accept header.
    #[derive(Clone)]
    struct StandIn {
        frames: Vec<u8>,
        accepts: Arc<Mutex<Vec<String>>>,
    }

    impl tower_service::Service<Request<Body>> for StandIn {
        type Response = Response<Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response<Body>, std::convert::Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Body>) -> Self::Future {
            let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            self.accepts.lock().push(accept.clone());
            let response = if accept.starts_with(PROTOBUF) {
                Response::builder()
                    .header(CONTENT_TYPE, "application/vnd.kubernetes.protobuf;stream=watch")
                    .body(Body::from(self.frames.clone()))
            } else {
                let line =
                    r#"{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"json"}}}"#;
                Response::builder()
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from(format!("{line}\n").into_bytes()))
            };
            std::future::ready(Ok(response.expect("a valid response")))
        }
    }

    fn frame(event: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(event.len()).unwrap().to_be_bytes().to_vec();
        out.extend_from_slice(event);
        out
    }

    #[tokio::test]
    async fn a_frame_that_cannot_be_read_ends_the_watch_and_the_collection_is_watched_in_json() {
        // A watch event whose object is a kind the table does not have.
        let mut type_meta = vec![0x0a, 2];
        type_meta.extend_from_slice(b"v1");
        type_meta.extend_from_slice(&[0x12, 7]);
        type_meta.extend_from_slice(b"Unknown");
        let mut unknown = super::super::json::MAGIC.to_vec();
        unknown.push(0x0a);
        unknown.push(u8::try_from(type_meta.len()).unwrap());
        unknown.extend_from_slice(&type_meta);
        let mut raw = vec![0x0a, u8::try_from(unknown.len()).unwrap()];
        raw.extend_from_slice(&unknown);
        let mut event = vec![0x0a, 5];
        event.extend_from_slice(b"ADDED");
        event.push(0x12);
        event.push(u8::try_from(raw.len()).unwrap());
        event.extend_from_slice(&raw);

        let accepts = Arc::new(Mutex::new(Vec::new()));
        let stand_in = StandIn { frames: frame(&event), accepts: accepts.clone() };
        let watches = ProtobufWatches::new(kube::Client::new(stand_in, "default"));
        let client = kube::Client::new(watches.clone(), "default");
        let watch = || http::Request::get("/api/v1/namespaces/a/configmaps?watch=1").body(Vec::new()).unwrap();

        let first = client.request_text(watch()).await;
        assert!(first.is_err(), "{first:?}");
        assert_eq!(watches.fallen_back(), ["/api/v1/namespaces/a/configmaps"]);
        let second = client.request_text(watch()).await.unwrap();
        assert!(second.contains(r#""name":"json""#), "{second}");
        // Other built-in collections still ask for protobuf (b once: its
        // watch failed too), lists too; one object, a subresource and custom
        // resources never do.
        for uri in [
            "/api/v1/namespaces/b/configmaps?watch=1",
            "/api/v1/namespaces/c/configmaps",
            "/apis/apps/v1/deployments?limit=500",
            "/api/v1/namespaces/b/configmaps/one",
            "/api/v1/namespaces/b/pods/one/log",
            "/apis/example.com/v1/bots?watch=1",
        ] {
            let _ = client.request_text(http::Request::get(uri).body(Vec::new()).unwrap()).await;
        }
        let asked: Vec<bool> = accepts.lock().iter().map(|a| a.starts_with(PROTOBUF)).collect();
        assert_eq!(asked, [true, false, true, true, true, false, false, false]);
        assert_eq!(watches.events_read(), 0);
    }
}
