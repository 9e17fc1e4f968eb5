//! The HTTP server: routes, shared state, start and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::{Metrics, ReplyResult, RequestResult};
use crate::platform;
use crate::reload::{Reloader, RulesStore};
use crate::reply::{Outbound, Replier, ReplyError};
use crate::rules::{Inbound, RuleSet};
use crate::signature::SignatureError;
use crate::{Platform, metrics};

/// Why the engine could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The reply client could not be built.
    #[error(transparent)]
    Client(#[from] ReplyError),
    /// The server failed while serving.
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
    /// The server task panicked.
    #[error("server task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// A webhook answered with an error status; counted and logged when made.
#[derive(Debug)]
pub(crate) struct Refusal {
    status: StatusCode,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.message).into_response()
    }
}

/// What every handler shares.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) rules: Arc<RulesStore>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) replier: Replier,
    pub(crate) tasks: TaskTracker,
    /// One permit per webhook whose replies are pending: bounds the reply tasks.
    pub(crate) reply_slots: Arc<Semaphore>,
    pub(crate) replay_window: Duration,
}

impl App {
    /// The body, or the 413 / 400 refusal (counted).
    pub(crate) fn body(&self, platform: Platform, body: Result<Bytes, BytesRejection>) -> Result<Bytes, Refusal> {
        body.map_err(|rejection| {
            let status = rejection.status();
            let result = if status == StatusCode::PAYLOAD_TOO_LARGE {
                RequestResult::TooLarge
            } else {
                RequestResult::BadRequest
            };
            self.metrics.request(platform, result);
            tracing::info!(platform = platform.as_str(), %status, "webhook body refused");
            Refusal { status, message: rejection.body_text() + "\n" }
        })
    }

    /// The 401 refusal of a bad signature (counted; nothing of the request was used).
    pub(crate) fn refuse(&self, platform: Platform, error: SignatureError) -> Refusal {
        self.metrics.signature_failure(platform);
        self.metrics.request(platform, RequestResult::Unauthorized);
        tracing::info!(platform = platform.as_str(), %error, "webhook refused");
        Refusal { status: StatusCode::UNAUTHORIZED, message: "invalid signature\n".into() }
    }

    /// The 400 refusal of a signed but unusable body (counted).
    pub(crate) fn bad_request(&self, platform: Platform, error: impl std::fmt::Display) -> Refusal {
        self.metrics.request(platform, RequestResult::BadRequest);
        tracing::info!(platform = platform.as_str(), %error, "webhook body not understood");
        Refusal { status: StatusCode::BAD_REQUEST, message: format!("{error}\n") }
    }

    /// The current rules, or the 503 refusal while none are loaded (counted).
    pub(crate) fn current_rules(&self, platform: Platform) -> Result<Arc<RuleSet>, Refusal> {
        self.rules.get().ok_or_else(|| {
            self.metrics.request(platform, RequestResult::Unavailable);
            tracing::warn!(platform = platform.as_str(), "webhook before any rules were loaded");
            Refusal { status: StatusCode::SERVICE_UNAVAILABLE, message: "no rules loaded\n".into() }
        })
    }

    /// Counts a processed request.
    pub(crate) fn processed(&self, platform: Platform) {
        self.metrics.request(platform, RequestResult::Ok);
    }

    /// The replies to `event` (counting the rules that fired).
    pub(crate) fn replies(&self, platform: Platform, rules: &RuleSet, event: &Inbound) -> Vec<String> {
        let matched = rules.matching(event);
        for m in &matched {
            self.metrics.rule_matched(m.event);
        }
        tracing::debug!(platform = platform.as_str(), kind = ?event.kind, rules = matched.len(), "event matched");
        matched.into_iter().flat_map(|m| m.replies.iter().cloned()).collect()
    }

    /// Sends `calls` in order, in the background (after the webhook was answered), unless the replies of
    /// [`ConfigBuilder::max_pending_replies`](crate::ConfigBuilder::max_pending_replies) webhooks are pending
    /// already: then they are dropped (logged, counted), so a burst while the reply API is slow or down
    /// cannot grow tasks and memory without bound.
    pub(crate) fn spawn_calls(self: &Arc<Self>, calls: Vec<Outbound>) {
        let Some(first) = calls.first() else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.reply_slots).try_acquire_owned() else {
            let platform = first.platform;
            tracing::warn!(
                platform = platform.as_str(),
                dropped = calls.len(),
                "too many replies pending; these are dropped"
            );
            for call in &calls {
                self.metrics.reply(call.platform, ReplyResult::Dropped);
            }
            return;
        };
        let app = Arc::clone(self);
        self.tasks.spawn(async move {
            let _permit = permit;
            for call in &calls {
                // Failures are logged and counted by `send`; later calls still go out.
                let _ = app.replier.send(call, &app.metrics).await;
            }
        });
    }
}

/// A header's value, if present and text.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn router(config: &Config, app: Arc<App>) -> Router {
    let creds = &config.credentials;
    let bases = &config.api_bases;
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    if let Some(c) = &creds.line {
        router = router.route(Platform::Line.route(), platform::line::route(&app, c.clone(), &bases.line));
    }
    if let Some(c) = &creds.slack {
        router = router.route(Platform::Slack.route(), platform::slack::route(&app, c.clone(), &bases.slack));
    }
    if let Some(c) = &creds.telegram {
        router = router.route(Platform::Telegram.route(), platform::telegram::route(&app, c.clone(), &bases.telegram));
    }
    if let Some(c) = &creds.discord {
        router = router.route(Platform::Discord.route(), platform::discord::route(&app, c.clone()));
    }
    if let Some(c) = &creds.generic {
        router = router.route(Platform::Generic.route(), platform::generic::route(&app, c.clone()));
    }
    router.layer(DefaultBodyLimit::max(config.body_limit)).with_state(app)
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    if app.rules.is_loaded() {
        "ready\n".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no rules loaded\n").into_response()
    }
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], app.metrics.encode()).into_response()
}

/// A running engine: the server, the rules reloader and the reply tasks.
#[derive(Debug)]
pub struct Engine {
    addr: SocketAddr,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    reloader: JoinHandle<()>,
    tasks: TaskTracker,
    grace: Duration,
}

impl Engine {
    /// Loads the rules (a missing or invalid file only leaves the engine unready), binds the listen address
    /// and starts serving and watching the rules file.
    pub async fn start(config: Config) -> Result<Engine, EngineError> {
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(RulesStore::new());
        let mut reloader = Reloader::new(&config.rules_path, Arc::clone(&store), Arc::clone(&metrics));
        reloader.check().await;
        let tasks = TaskTracker::new();
        let app = Arc::new(App {
            rules: store,
            metrics,
            replier: Replier::new(config.http_timeout, config.retry)?,
            tasks: tasks.clone(),
            reply_slots: Arc::new(Semaphore::new(config.max_pending_replies)),
            replay_window: config.replay_window,
        });
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| EngineError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| EngineError::Bind { addr: config.listen, source })?;
        let routes: Vec<&str> = Platform::ALL
            .into_iter()
            .filter(|p| platform::configured(&config.credentials, *p))
            .map(Platform::route)
            .collect();
        tracing::info!(bot = config.bot_name, %addr, ?routes, rules = %config.rules_path.display(), "bot engine serving");
        let stop = CancellationToken::new();
        let server_stop = stop.clone();
        let server = tokio::spawn(
            axum::serve(listener, router(&config, app))
                .with_graceful_shutdown(async move { server_stop.cancelled().await })
                .into_future(),
        );
        let reloader =
            tokio::spawn(reloader.watch(config.rules_poll_interval, config.rules_debounce, stop.child_token()));
        Ok(Engine { addr, stop, server, reloader, tasks, grace: config.shutdown_grace })
    }

    /// The address the server listens on (the bound port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<local address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, finishes those in flight, stops the reloader, and waits up to the shutdown
    /// grace for replies still being sent.
    pub async fn shutdown(self) -> Result<(), EngineError> {
        self.stop.cancel();
        let served = self.server.await;
        let _ = self.reloader.await;
        self.tasks.close();
        if tokio::time::timeout(self.grace, self.tasks.wait()).await.is_err() {
            tracing::warn!(pending = self.tasks.len(), "shutdown grace over; replies still pending are dropped");
        }
        tracing::info!("bot engine stopped");
        served.map_err(EngineError::Task)?.map_err(EngineError::Serve)
    }
}

/// Runs the engine until `signal` completes, then shuts it down gracefully.
pub async fn run(config: Config, signal: impl Future<Output = ()>) -> Result<(), EngineError> {
    let engine = Engine::start(config).await?;
    signal.await;
    tracing::info!("shutting down");
    engine.shutdown().await
}

/// Completes on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the engine");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
