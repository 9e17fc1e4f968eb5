//! The fake API server as a `tower::Service` of HTTP requests: routing,
//! recorded actions, reactors, JSON responses and streamed watches.

use std::{
    collections::VecDeque,
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, request::Parts};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use kube::core::Status;
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::watch;

use super::{
    action::{Action, Reactor},
    read::{self, WatchPlan},
    request::Call,
    state::State,
    write::{self, status_json},
};

/// The body of every response.
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// What every handle on one fake cluster shares.
pub(crate) struct Shared {
    /// Kinds and objects.
    pub(crate) state: Mutex<State>,
    /// The resourceVersion after each write, for watches.
    pub(crate) changes: watch::Sender<u64>,
    /// Reactors, first tried first.
    pub(crate) reactors: Mutex<Vec<Reactor>>,
    /// Every request, in order.
    pub(crate) actions: Mutex<Vec<Action>>,
}

/// The fake API server: a `tower::Service<http::Request<kube::client::Body>>`
/// answering as kube-apiserver does. [`super::FakeCluster::client`] wraps it
/// in a [`kube::Client`]; use it directly to put layers in between
/// (request counting, latency).
#[derive(Clone)]
pub struct FakeApiServer {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").finish_non_exhaustive()
    }
}

impl tower_service::Service<Request<kube::client::Body>> for FakeApiServer {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<kube::client::Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => return Ok(error(super::status::bad_request(format!("unreadable body: {e}")))),
            };
            Ok(handle(&shared, &parts, &bytes))
        })
    }
}

fn json(code: u16, body: &Value) -> Response<ResponseBody> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)).boxed_unsync())
        .expect("a valid response")
}

fn error(status: impl Into<Box<Status>>) -> Response<ResponseBody> {
    let status = *status.into();
    let code = if status.code == 0 { 500 } else { status.code };
    json(code, &status_json(&status))
}

/// Answers one request: record, reactors, then the object tracker.
fn handle(shared: &Arc<Shared>, parts: &Parts, body: &[u8]) -> Response<ResponseBody> {
    let parsed = {
        let state = shared.state.lock();
        Call::parse(parts, body, &state.kinds).map(|call| {
            let action = call.action(&state.kinds[call.kind]);
            (call, action)
        })
    };
    let (call, action) = match parsed {
        Ok(parsed) => parsed,
        Err(status) => return error(status),
    };
    shared.actions.lock().push(action.clone());
    let reactors = shared.reactors.lock().clone();
    for reactor in reactors.iter().filter(|r| action.matches(&r.verb, &r.resource)) {
        match (reactor.react)(&action) {
            Some(Ok(_)) if call.verb == "watch" => continue,
            Some(Ok(body)) => return json(200, &body),
            Some(Err(status)) => return error(status),
            None => continue,
        }
    }
    if call.verb == "watch" {
        return start_watch(shared, &call);
    }
    let (reply, rv) = {
        let mut state = shared.state.lock();
        let reply = match call.verb {
            "get" => read::get(&state, &call),
            "list" => read::list(&state, &call),
            "create" => write::create(&mut state, &call),
            "update" => write::update(&mut state, &call),
            "patch" => write::patch(&mut state, &call),
            "delete" => write::delete(&mut state, &call),
            _ => write::delete_collection(&mut state, &call),
        };
        (reply, state.tracker.rv())
    };
    if *shared.changes.borrow() != rv {
        shared.changes.send_replace(rv);
    }
    match reply {
        Ok((code, body)) => json(code, &body),
        Err(status) => error(status),
    }
}

/// A running watch.
struct Watching {
    shared: Arc<Shared>,
    plan: WatchPlan,
    pending: VecDeque<Bytes>,
    cursor: usize,
    changes: watch::Receiver<u64>,
    deadline: tokio::time::Instant,
}

/// One event as a line, `type` before `object` as the apiserver writes it
/// (an adjacently tagged decoder that meets the object first has to buffer
/// it, which raw-value decoders such as bot-runtime's informers refuse).
fn line(event: &Value) -> Bytes {
    let type_ = event.get("type").cloned().unwrap_or_default();
    let object = event.get("object").cloned().unwrap_or_default();
    let text = format!("{{\"type\":{type_},\"object\":{object}}}\n");
    Bytes::from(text)
}

fn start_watch(shared: &Arc<Shared>, call: &Call) -> Response<ResponseBody> {
    let plan = {
        let state = shared.state.lock();
        read::watch(&state, call)
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(status) => return error(status),
    };
    let watching = Watching {
        shared: shared.clone(),
        pending: plan.initial.iter().map(line).collect(),
        deadline: tokio::time::Instant::now() + plan.timeout,
        plan,
        cursor: 0,
        changes: shared.changes.subscribe(),
    };
    let events = futures::stream::unfold(watching, next_event).map(|b| Ok::<_, Infallible>(Frame::data(b)));
    Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(StreamBody::new(events).boxed_unsync())
        .expect("a valid response")
}

async fn next_event(mut w: Watching) -> Option<(Bytes, Watching)> {
    loop {
        if let Some(line) = w.pending.pop_front() {
            return Some((line, w));
        }
        w.changes.borrow_and_update();
        {
            let state = w.shared.state.lock();
            let (next, changes) = state.tracker.changes_since(w.cursor, w.plan.after);
            w.cursor = next;
            w.pending.extend(changes.iter().filter_map(|c| w.plan.event(c)).map(|e| line(&e)));
        }
        if !w.pending.is_empty() {
            continue;
        }
        tokio::select! {
            changed = w.changes.changed() => if changed.is_err() { return None },
            () = tokio::time::sleep_until(w.deadline) => return None,
        }
    }
}
