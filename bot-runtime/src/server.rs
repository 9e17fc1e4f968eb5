//! The operator's HTTP server: `/metrics`, `/healthz` and `/readyz` (feature `server`).
//!
//! | path | answers |
//! |---|---|
//! | `GET /metrics` | the registry in the OpenMetrics text format (404 without a registry) |
//! | `GET /healthz` | `200 ok` while the process serves (liveness) |
//! | `GET /readyz` | `200 ok` when every readiness check passes, else `503` listing each check as Kubernetes' own `/readyz?verbose` does; `?verbose` lists them on success too |
//!
//! Readiness checks are named closures `Fn() -> Result<(), String>`, run on
//! every `/readyz` request (keep them cheap: read a flag, never call the
//! API); a panicking check counts as failed. [`informer_synced`] and
//! [`leadership`] build the usual ones.
//!
//! Built on axum, which the workspace already uses for the bot engine: it
//! runs on hyper 1 and tower, which kube already compiles in, so the server
//! adds little to build, and [`OperatorServer::router`] lets an operator
//! mount these routes next to its own (webhooks, say). The server is off
//! unless an address is configured ([`OperatorServerBuilder::bind_opt`]).
//!
//! ```no_run
//! use bot_runtime::{InformerFactory, metrics::RuntimeMetrics, server::{OperatorServer, SharedRegistry, informer_synced}};
//! use k8s_openapi::api::core::v1::ConfigMap;
//!
//! # async fn demo(client: kube::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let registry = SharedRegistry::default();
//! let metrics = registry.with(RuntimeMetrics::register); // workqueue_*, controller_runtime_*, informer_*, ...
//!
//! let factory = InformerFactory::new(client, None).with_metrics(&metrics);
//! let configmaps = factory.informer_for::<ConfigMap>();
//! factory.start();
//!
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! OperatorServer::builder()
//!     .bind("0.0.0.0:8080".parse()?)
//!     .registry(registry.clone())
//!     .readiness("configmaps", informer_synced(&configmaps))
//!     .serve(shutdown)
//!     .await?;
//! # Ok(()) }
//! ```

use std::{
    fmt::{Debug, Write as _},
    future::Future,
    net::SocketAddr,
    panic::AssertUnwindSafe,
    sync::Arc,
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::get,
};
use kube::Resource;
use parking_lot::RwLock;
use prometheus_client::registry::Registry;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use crate::{informer::SharedIndexInformer, leader::LeaderGate};

/// Re-exported: [`OperatorServer::router`] returns an axum [`Router`].
pub use axum;
/// Re-exported: metrics are registered in its [`Registry`].
pub use prometheus_client;

/// The `Content-Type` of `/metrics` (the same as [`metrics::CONTENT_TYPE`](crate::metrics::CONTENT_TYPE)).
pub const OPENMETRICS_CONTENT_TYPE: &str = crate::metrics::CONTENT_TYPE;

/// Errors of the operator server.
///
/// ```no_run
/// # use bot_runtime::server::{Error, OperatorServer};
/// # async fn demo() {
/// match OperatorServer::builder().bind("0.0.0.0:8080".parse().unwrap()).build().listen().await {
///     Err(Error::Bind { addr, source }) => eprintln!("port taken? {addr}: {source}"),
///     Err(e) => eprintln!("{e}"),
///     Ok(listening) => println!("listening on {}", listening.local_addr()),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`OperatorServer::listen`] was called without an address.
    #[error("no bind address configured")]
    NoAddress,
    /// The address could not be bound (in use, not permitted, ...).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A readiness check: `Ok(())` when ready, else why not.
///
/// ```
/// # use std::sync::Arc;
/// let check: bot_runtime::server::ReadinessCheck = Arc::new(|| Err("not yet".to_string()));
/// assert_eq!(check(), Err("not yet".to_string()));
/// ```
pub type ReadinessCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A prometheus-client [`Registry`] shared between the code that registers
/// metrics (at any time) and the server that encodes them. Clones share it.
///
/// ```
/// use bot_runtime::server::SharedRegistry;
/// use prometheus_client::metrics::gauge::Gauge;
/// let registry = SharedRegistry::default();
/// let leader = Gauge::<i64>::default();
/// registry.with(|r| r.register("is_leader", "Whether this replica leads", leader.clone()));
/// leader.set(1);
/// assert!(registry.encode().contains("is_leader 1"));
/// ```
#[derive(Clone, Default)]
pub struct SharedRegistry(Arc<RwLock<Registry>>);

impl Debug for SharedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedRegistry").field(&*self.0.read()).finish()
    }
}

impl From<Registry> for SharedRegistry {
    fn from(registry: Registry) -> Self {
        Self(Arc::new(RwLock::new(registry)))
    }
}

impl SharedRegistry {
    /// Shares `registry`.
    ///
    /// ```
    /// # use bot_runtime::server::{SharedRegistry, prometheus_client::registry::Registry};
    /// let shared = SharedRegistry::new(Registry::with_prefix("bot_operator"));
    /// ```
    pub fn new(registry: Registry) -> Self {
        registry.into()
    }

    /// Runs `f` on the registry, e.g. to register metrics; returns what `f` returns.
    ///
    /// ```
    /// # use bot_runtime::server::{SharedRegistry, prometheus_client::metrics::counter::Counter};
    /// let registry = SharedRegistry::default();
    /// let applied = Counter::<u64>::default();
    /// registry.with(|r| r.register("applied", "Objects applied", applied.clone()));
    /// ```
    pub fn with<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        f(&mut self.0.write())
    }

    /// The registry in the OpenMetrics text format.
    ///
    /// ```
    /// let text = bot_runtime::server::SharedRegistry::default().encode();
    /// assert_eq!(text, "# EOF\n");
    /// ```
    pub fn encode(&self) -> String {
        crate::metrics::encode(&self.0.read())
    }
}

/// A readiness check passing once `informer` has cached its first complete list.
///
/// ```no_run
/// # use bot_runtime::{InformerFactory, server::{OperatorServer, informer_synced}};
/// # fn demo(factory: InformerFactory) {
/// let pods = factory.informer_for::<k8s_openapi::api::core::v1::Pod>();
/// let server = OperatorServer::builder().readiness("pods", informer_synced(&pods));
/// # }
/// ```
pub fn informer_synced<K>(
    informer: &Arc<SharedIndexInformer<K>>,
) -> impl Fn() -> Result<(), String> + Send + Sync + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let informer = informer.clone();
    move || if informer.has_synced() { Ok(()) } else { Err("cache not synced".into()) }
}

/// A readiness check passing while `informer` is healthy
/// ([`InformerHealth::is_healthy`](crate::informer::InformerHealth::is_healthy)):
/// synced, and its last list or watch attempt succeeded. It fails while the
/// informer cannot list or watch (naming the error and since when), so
/// `/readyz` tells a stale cache from a live one.
///
/// ```
/// # use bot_runtime::{InformerFactory, server::{OperatorServer, informer_healthy}};
/// # fn demo(factory: InformerFactory) {
/// let pods = factory.informer_for::<k8s_openapi::api::core::v1::Pod>();
/// let server = OperatorServer::builder().readiness("pods", informer_healthy(&pods));
/// # }
/// ```
pub fn informer_healthy<K>(
    informer: &Arc<SharedIndexInformer<K>>,
) -> impl Fn() -> Result<(), String> + Send + Sync + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let informer = informer.clone();
    move || {
        let health = informer.health();
        if health.is_healthy() {
            Ok(())
        } else if !health.synced {
            Err("cache not synced".into())
        } else {
            let since = health.since.elapsed().unwrap_or_default().as_secs();
            Err(format!(
                "list/watch failing for {since}s ({} failures): {}",
                health.consecutive_failures,
                health.last_error.as_deref().unwrap_or("unknown error")
            ))
        }
    }
}

/// A readiness check for a leader-elected operator: passes while this
/// replica holds the lease and may act, and while it waits as a follower
/// (a warm standby is ready: failing followers would stall every rolling
/// update); fails only for a leader past its renew deadline, which is
/// about to step down.
///
/// ```no_run
/// # use bot_runtime::{leader::LeaderElector, server::{OperatorServer, leadership}};
/// # fn demo(elector: LeaderElector) {
/// let server = OperatorServer::builder().readiness("leader-election", leadership(elector.gate()));
/// # }
/// ```
pub fn leadership(gate: LeaderGate) -> impl Fn() -> Result<(), String> + Send + Sync + 'static {
    move || {
        if gate.state().is_leader && !gate.is_leader() { Err("leader past its renew deadline".into()) } else { Ok(()) }
    }
}

/// Configures an [`OperatorServer`]; from [`OperatorServer::builder`].
///
/// ```
/// # use bot_runtime::server::OperatorServer;
/// let server = OperatorServer::builder().bind("127.0.0.1:9090".parse().unwrap()).readiness("ok", || Ok(())).build();
/// ```
#[derive(Default)]
pub struct OperatorServerBuilder {
    addr: Option<SocketAddr>,
    registry: Option<SharedRegistry>,
    checks: Vec<(String, ReadinessCheck)>,
}

impl Debug for OperatorServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.checks.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OperatorServerBuilder")
            .field("addr", &self.addr)
            .field("registry", &self.registry.is_some())
            .field("checks", &checks)
            .finish()
    }
}

impl OperatorServerBuilder {
    /// Listens on `addr` (port 0: any free port, see [`Listening::local_addr`]).
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let builder = OperatorServer::builder().bind("127.0.0.1:8080".parse().unwrap());
    /// ```
    #[must_use]
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// Listens on `addr` if given; with `None` the server is off and
    /// [`serve`](Self::serve) only waits for its shutdown signal. Default: off.
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let addr = std::env::var("METRICS_ADDR").ok().and_then(|a| a.parse().ok());
    /// let builder = OperatorServer::builder().bind_opt(addr);
    /// ```
    #[must_use]
    pub fn bind_opt(mut self, addr: Option<SocketAddr>) -> Self {
        self.addr = addr;
        self
    }

    /// Serves `registry` at `/metrics` (a [`Registry`] or a [`SharedRegistry`]).
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let builder = OperatorServer::builder().registry(prometheus_client::registry::Registry::default());
    /// ```
    #[must_use]
    pub fn registry(mut self, registry: impl Into<SharedRegistry>) -> Self {
        self.registry = Some(registry.into());
        self
    }

    /// Adds a readiness check named `name` (the name `/readyz` lists it under).
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// use std::sync::{Arc, atomic::{AtomicBool, Ordering}};
    /// let warmed_up = Arc::new(AtomicBool::new(false));
    /// let flag = warmed_up.clone();
    /// let builder = OperatorServer::builder().readiness("warm-up", move || {
    ///     if flag.load(Ordering::Relaxed) { Ok(()) } else { Err("still warming up".into()) }
    /// });
    /// ```
    #[must_use]
    pub fn readiness(
        mut self,
        name: impl Into<String>,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push((name.into(), Arc::new(check)));
        self
    }

    /// The server, not listening yet.
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let server = OperatorServer::builder().build();
    /// assert!(server.readiness_report(false).0);
    /// ```
    pub fn build(self) -> OperatorServer {
        let state = ServerState { registry: self.registry, checks: self.checks };
        OperatorServer { addr: self.addr, state: Arc::new(state) }
    }

    /// Builds and [serves](OperatorServer::serve) until `shutdown` completes.
    ///
    /// ```no_run
    /// # use bot_runtime::server::OperatorServer;
    /// # async fn demo() -> Result<(), bot_runtime::server::Error> {
    /// OperatorServer::builder().bind("0.0.0.0:8080".parse().unwrap()).serve(std::future::pending()).await
    /// # }
    /// ```
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        self.build().serve(shutdown).await
    }
}

struct ServerState {
    registry: Option<SharedRegistry>,
    checks: Vec<(String, ReadinessCheck)>,
}

/// The operator's HTTP server (see the [module docs](self)).
///
/// ```no_run
/// # use bot_runtime::server::OperatorServer;
/// # async fn demo() -> Result<(), bot_runtime::server::Error> {
/// let server = OperatorServer::builder().bind("0.0.0.0:8080".parse().unwrap()).build();
/// server.serve(async { let _ = tokio::signal::ctrl_c().await; }).await
/// # }
/// ```
pub struct OperatorServer {
    addr: Option<SocketAddr>,
    state: Arc<ServerState>,
}

impl Debug for OperatorServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let checks: Vec<&str> = self.state.checks.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OperatorServer").field("addr", &self.addr).field("checks", &checks).finish()
    }
}

impl OperatorServer {
    /// A builder: no address (off), no registry, no readiness checks.
    ///
    /// ```
    /// let builder = bot_runtime::server::OperatorServer::builder();
    /// ```
    pub fn builder() -> OperatorServerBuilder {
        OperatorServerBuilder::default()
    }

    /// The routes, to serve with axum directly or to merge into a larger router.
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let app = OperatorServer::builder().build().router().route("/hello", axum::routing::get(|| async { "hi" }));
    /// ```
    pub fn router(&self) -> Router {
        Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .with_state(self.state.clone())
    }

    /// Runs every readiness check: whether all pass, and the body `/readyz`
    /// answers (`verbose`: list the checks even when all pass).
    ///
    /// ```
    /// # use bot_runtime::server::OperatorServer;
    /// let server = OperatorServer::builder().readiness("cache", || Err("not synced".into())).build();
    /// let (ready, body) = server.readiness_report(false);
    /// assert!(!ready);
    /// assert_eq!(body, "[-]cache failed: not synced\nreadyz check failed\n");
    /// ```
    pub fn readiness_report(&self, verbose: bool) -> (bool, String) {
        readiness_report(&self.state.checks, verbose)
    }

    /// Binds the configured address now ([`Error::NoAddress`] if none).
    ///
    /// ```no_run
    /// # use bot_runtime::server::OperatorServer;
    /// # async fn demo() -> Result<(), bot_runtime::server::Error> {
    /// let listening = OperatorServer::builder().bind("127.0.0.1:0".parse().unwrap()).build().listen().await?;
    /// println!("serving on {}", listening.local_addr());
    /// listening.serve(std::future::pending()).await
    /// # }
    /// ```
    pub async fn listen(self) -> Result<Listening> {
        let addr = self.addr.ok_or(Error::NoAddress)?;
        let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { addr, source })?;
        Ok(Listening { listener, local_addr, router: self.router() })
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and waits for the requests in flight (graceful shutdown). Without an
    /// address it serves nothing and just waits for `shutdown`.
    ///
    /// ```no_run
    /// # use bot_runtime::server::OperatorServer;
    /// # async fn demo() -> Result<(), bot_runtime::server::Error> {
    /// let server = OperatorServer::builder().bind_opt(None).build();
    /// server.serve(async {}).await?; // off: returns once the shutdown future completes
    /// # Ok(()) }
    /// ```
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        if self.addr.is_none() {
            tracing::debug!("operator server off (no address configured)");
            shutdown.await;
            return Ok(());
        }
        self.listen().await?.serve(shutdown).await
    }
}

/// A bound [`OperatorServer`], from [`OperatorServer::listen`].
///
/// ```no_run
/// # use bot_runtime::server::OperatorServer;
/// # async fn demo() -> Result<(), bot_runtime::server::Error> {
/// let listening = OperatorServer::builder().bind("127.0.0.1:0".parse().unwrap()).build().listen().await?;
/// let url = format!("http://{}/readyz", listening.local_addr());
/// tokio::spawn(listening.serve(std::future::pending()));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Listening {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
}

impl Listening {
    /// The address bound (the actual port when port 0 was asked for).
    ///
    /// ```no_run
    /// # async fn demo(listening: bot_runtime::server::Listening) {
    /// assert_ne!(listening.local_addr().port(), 0);
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting connections
    /// and waits for the requests in flight.
    ///
    /// ```no_run
    /// # async fn demo(listening: bot_runtime::server::Listening) -> Result<(), bot_runtime::server::Error> {
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(listening.serve(async { let _ = stopped.await; }));
    /// // ...
    /// let _ = stop.send(());
    /// server.await.expect("server task")?;
    /// # Ok(()) }
    /// ```
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        tracing::info!(addr = %self.local_addr, "operator server listening");
        axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await.map_err(Error::Serve)
    }
}

async fn metrics(State(state): State<Arc<ServerState>>) -> Response {
    match &state.registry {
        Some(registry) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], registry.encode()).into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics registry configured\n").into_response(),
    }
}

async fn readyz(State(state): State<Arc<ServerState>>, uri: Uri) -> Response {
    let verbose = uri.query().is_some_and(|q| q.split('&').any(|p| p == "verbose" || p.starts_with("verbose=")));
    let (ready, body) = readiness_report(&state.checks, verbose);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Kubernetes' format: `[+]name ok` / `[-]name failed: reason` lines, then
/// `readyz check passed|failed`; just `ok` when all pass and not verbose.
fn readiness_report(checks: &[(String, ReadinessCheck)], verbose: bool) -> (bool, String) {
    let mut ready = true;
    let mut body = String::new();
    for (name, check) in checks {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| check()))
            .unwrap_or_else(|_| Err("check panicked".to_string()));
        match outcome {
            Ok(()) => {
                let _ = writeln!(body, "[+]{name} ok");
            }
            Err(reason) => {
                ready = false;
                tracing::info!(check = %name, %reason, "readiness check failed");
                let _ = writeln!(body, "[-]{name} failed: {reason}");
            }
        }
    }
    if ready && !verbose {
        return (true, "ok".into());
    }
    body.push_str(if ready { "readyz check passed\n" } else { "readyz check failed\n" });
    (ready, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(outcomes: &[(&str, Option<&str>)]) -> Vec<(String, ReadinessCheck)> {
        outcomes
            .iter()
            .map(|(name, err)| {
                let err = err.map(str::to_string);
                let check: ReadinessCheck = Arc::new(move || err.clone().map_or(Ok(()), Err));
                (name.to_string(), check)
            })
            .collect()
    }

    #[test]
    fn readiness_lists_checks_like_kubernetes() {
        assert_eq!(readiness_report(&[], false), (true, "ok".into()));
        assert_eq!(readiness_report(&checks(&[("a", None)]), false), (true, "ok".into()));
        assert_eq!(readiness_report(&checks(&[("a", None)]), true), (true, "[+]a ok\nreadyz check passed\n".into()));
        let (ready, body) = readiness_report(&checks(&[("a", None), ("b", Some("not synced"))]), false);
        assert!(!ready);
        assert_eq!(body, "[+]a ok\n[-]b failed: not synced\nreadyz check failed\n");
    }

    #[test]
    fn a_panicking_check_fails() {
        let check: ReadinessCheck = Arc::new(|| panic!("boom"));
        let (ready, body) = readiness_report(&[("p".into(), check)], false);
        assert!(!ready);
        assert!(body.contains("[-]p failed: check panicked"), "{body}");
    }
}
