//! Runs one conformance case on the fake or the real apiserver and checks
//! its transcript against the one recorded from the real apiserver.
//!
//! A case writes down what it observes ([`Ctx::note`], [`Ctx::note_err`]):
//! objects, error codes, reasons and messages, event types, ownership. The
//! transcript is normalized (namespace, uids, timestamps and
//! resourceVersions replaced by placeholders) and compared, step by step,
//! with `conformance/expected/<case>.json`. Those files are recorded from
//! the real apiserver: `BLESS=1 cargo test -p bot-tests --test conformance real::`.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use bot_api::v1alpha1::{Bot, Event, EventBinding};
use bot_runtime::{fake::FakeCluster, testenv::TestEnv};
use futures::{Stream, StreamExt};
use k8s_openapi::{
    NamespaceResourceScope, apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{Api, Client, CustomResourceExt, Resource, api::WatchEvent, core::Status};
use serde::Serialize;
use serde_json::{Value, json};

/// Which apiserver a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// `bot_runtime::fake::FakeCluster`.
    Fake,
    /// The local control plane (`TestEnv`).
    Real,
}

/// What a case gets: a client, its namespace, and the transcript.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// A client of the apiserver under test.
    pub(crate) client: Client,
    /// The case's namespace (exists on the real side).
    pub(crate) ns: String,
    log: Arc<Mutex<Vec<Value>>>,
    masks: Arc<Mutex<Vec<(String, String)>>>,
}

fn crds() -> Vec<CustomResourceDefinition> {
    vec![Bot::crd(), Event::crd(), EventBinding::crd()]
}

impl Ctx {
    /// A namespaced API of `K` in the case's namespace.
    pub(crate) fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// From now on, `text` in noted strings reads `placeholder` (for
    /// values that differ between runs inside messages).
    pub(crate) fn mask(&self, text: impl Into<String>, placeholder: &str) {
        self.masks.lock().expect("masks lock").push((text.into(), placeholder.to_string()));
    }

    /// Writes `value` (normalized) down as step `step`.
    pub(crate) fn note(&self, step: &str, value: impl Serialize) {
        let mut value = normalize(serde_json::to_value(value).unwrap_or(Value::Null), &self.ns);
        for (text, placeholder) in self.masks.lock().expect("masks lock").iter() {
            value = replace_in_strings(value, text, placeholder);
        }
        self.log.lock().expect("transcript lock").push(json!({ "step": step, "value": value }));
    }

    /// Writes down the API error `result` must be (code, reason, message,
    /// details) and returns it; an `Ok` or another error fails the case.
    pub(crate) fn note_err<T: std::fmt::Debug>(&self, step: &str, result: kube::Result<T>) -> Result<Box<Status>> {
        match result {
            Err(kube::Error::Api(status)) => {
                self.note(step, &status);
                Ok(status)
            }
            Err(other) => bail!("{step}: expected an API error, got {other}"),
            Ok(value) => bail!("{step}: expected an API error, got {value:?}"),
        }
    }
}

fn replace_in_strings(value: Value, from: &str, to: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(from, to)),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| replace_in_strings(v, from, to)).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, replace_in_strings(v, from, to))).collect())
        }
        other => other,
    }
}

/// `s` with every UUID replaced by `<uid>`.
fn mask_uuids(s: &str) -> String {
    let is_uuid = |w: &str| {
        let parts: Vec<&str> = w.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
    };
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i) && s.len() >= i + 36 && s.is_char_boundary(i + 36) && is_uuid(&s[i..i + 36]) {
            out.push_str("<uid>");
            i += 36;
        } else {
            let c = s[i..].chars().next().unwrap_or_default();
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Placeholders for what differs between runs: the namespace, uids,
/// timestamps, resourceVersions; managedFields sorted by manager.
pub(crate) fn normalize(value: Value, ns: &str) -> Value {
    match value {
        Value::String(s) => Value::String(mask_uuids(&s.replace(ns, "<ns>"))),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| normalize(v, ns)).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("uid", Value::String(s)) if !s.is_empty() => json!("<uid>"),
                        ("creationTimestamp" | "deletionTimestamp" | "time", Value::String(_)) => json!("<time>"),
                        ("resourceVersion", Value::String(_)) => json!("<rv>"),
                        ("managedFields", Value::Array(mut entries)) => {
                            let key = |e: &Value| {
                                ["operation", "manager", "subresource", "apiVersion"]
                                    .map(|f| e.get(f).and_then(Value::as_str).unwrap_or_default().to_string())
                            };
                            entries.sort_by_key(key);
                            normalize(Value::Array(entries), ns)
                        }
                        (_, v) => normalize(v, ns),
                    };
                    (k, v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// Runs `case` on `side` and checks its transcript.
pub(crate) async fn run<F, Fut>(name: &str, side: Side, case: F) -> Result<()>
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let (client, ns, _env) = match side {
        Side::Fake => {
            let cluster = FakeCluster::new().with_crds(crds());
            (cluster.client(), "fake-ns".to_string(), None)
        }
        Side::Real => {
            let env = TestEnv::start().await?;
            env.install_crds(crds()).await?;
            (env.client(), env.namespace().to_string(), Some(env))
        }
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let ctx = Ctx { client, ns, log: log.clone(), masks: Arc::default() };
    case(ctx).await.with_context(|| format!("case {name} on the {side:?} side"))?;
    let transcript = Value::Array(log.lock().expect("transcript lock").clone());
    check(name, side, &transcript)
}

fn expected_path(name: &str) -> String {
    format!("{}/tests/conformance/expected/{name}.json", env!("CARGO_MANIFEST_DIR"))
}

/// Compares with the recorded transcript (records it: real side, `BLESS=1`).
fn check(name: &str, side: Side, actual: &Value) -> Result<()> {
    let path = expected_path(name);
    if side == Side::Real && std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(actual)? + "\n").with_context(|| path.clone())?;
        return Ok(());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{path}: no recorded transcript (record it: BLESS=1 cargo test -p bot-tests --test conformance real::{name})"))?;
    let expected: Value = serde_json::from_str(&text)?;
    let (expected, actual) =
        (expected.as_array().cloned().unwrap_or_default(), actual.as_array().cloned().unwrap_or_default());
    for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
        if e != a {
            bail!(
                "{side:?} side differs from the real apiserver at step {i} of {name}:\nexpected {}\nactual   {}",
                serde_json::to_string_pretty(e)?,
                serde_json::to_string_pretty(a)?
            );
        }
    }
    if expected.len() != actual.len() {
        bail!(
            "{side:?} side of {name}: {} steps, the real apiserver's transcript has {}",
            actual.len(),
            expected.len()
        );
    }
    Ok(())
}

/// The next `n` events of a watch (at most 10 s each), as `(type, name)`
/// plus the object, bookmarks skipped.
pub(crate) async fn next_events<K, S>(stream: &mut S, n: usize) -> Result<Vec<(String, K)>>
where
    K: Resource + Clone,
    S: Stream<Item = kube::Result<WatchEvent<K>>> + Unpin,
{
    let mut out = Vec::new();
    while out.len() < n {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .with_context(|| format!("waited 10 s for watch event {} of {n}", out.len() + 1))?
            .context("the watch ended")??;
        match event {
            WatchEvent::Added(o) => out.push(("ADDED".to_string(), o)),
            WatchEvent::Modified(o) => out.push(("MODIFIED".to_string(), o)),
            WatchEvent::Deleted(o) => out.push(("DELETED".to_string(), o)),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => bail!("watch error: {e:?}"),
        }
    }
    Ok(out)
}

/// Whether no further event (bookmarks aside) arrives within `wait`.
pub(crate) async fn quiet<K, S>(stream: &mut S, wait: Duration) -> Result<bool>
where
    K: Resource + Clone,
    S: Stream<Item = kube::Result<WatchEvent<K>>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) | Ok(None) => return Ok(true),
            Ok(Some(Ok(WatchEvent::Bookmark(_)))) => continue,
            Ok(Some(_)) => return Ok(false),
        }
    }
}
