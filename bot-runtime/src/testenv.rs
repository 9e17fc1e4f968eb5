//! A real local Kubernetes control plane for tests: etcd, kube-apiserver and
//! kube-controller-manager, from the project's `kube-testenv` binary.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bot_runtime::testenv::Error> {
//! use bot_runtime::testenv::TestEnv;
//! let env = TestEnv::start().await?; // shared control plane, fresh namespace
//! let client = env.client();
//! let ns = env.namespace();
//! # let _ = (client, ns);
//! # Ok(()) }
//! ```
//!
//! All [`TestEnv`]s of one process share one [`ControlPlane`], started on first
//! use and stopped when the process exits (the binary watches its standard
//! input, so even a test binary killed by a signal takes it along). Each
//! [`TestEnv`] gets a namespace of its own and a [`kube::Client`] bound to the
//! calling test's runtime. A missing binary is an error naming `make testenv`:
//! a test is never silently skipped.
//!
//! **Faults.** A [`ControlPlane`] can be hurt on purpose, for reliability
//! tests: [`restart_apiserver`](ControlPlane::restart_apiserver) (same port,
//! etcd data and CA), [`stop_apiserver`](ControlPlane::stop_apiserver) /
//! [`start_apiserver`](ControlPlane::start_apiserver),
//! [`pause_apiserver`](ControlPlane::pause_apiserver) and
//! [`pause_etcd`](ControlPlane::pause_etcd) (SIGSTOP, undone by the
//! `resume_*` methods), [`compact`](ControlPlane::compact) (etcd history
//! compacted to its current revision) and, for clients made by
//! [`proxy_client`](ControlPlane::proxy_client), a TCP proxy in front of the
//! apiserver whose connections can be reset or frozen ([`ControlPlane::proxy`]).
//! Inject faults into a control plane of your own ([`ControlPlane::start`]),
//! never into the shared one other tests use.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use k8s_openapi::{
    api::core::v1::Namespace, apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client, Config,
    api::{Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::wait::{await_condition, conditions},
};

/// Environment variable naming the `kube-testenv` binary.
pub const BINARY_ENV: &str = "KUBE_TESTENV";
/// Where `make testenv` puts the binary, relative to the workspace root.
pub const DEFAULT_BINARY: &str = "target/testenv/kube-testenv";
/// How long [`ControlPlane::start`] waits for the kubeconfig (a cold start
/// takes a few seconds; CI machines can be slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long [`TestEnv::install_crds`] waits for a CRD to become Established.
pub const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);

/// Errors of the test environment.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `kube-testenv` binary is not where it should be.
    #[error("kube-testenv binary not found at {0} (set {BINARY_ENV} or run `make testenv` at the workspace root)")]
    BinaryMissing(PathBuf),
    /// The binary could not be spawned or its output read.
    #[error("failed to run kube-testenv: {0}")]
    Io(#[from] std::io::Error),
    /// The control plane exited or timed out before it was ready.
    #[error("control plane did not start: {0}")]
    NotReady(String),
    /// The kubeconfig it wrote could not be loaded.
    #[error("failed to load the testenv kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// A client could not be built from the kubeconfig.
    #[error("failed to build a client: {0}")]
    Client(#[source] kube::Error),
    /// A Kubernetes API call failed.
    #[error("API call failed: {0}")]
    Api(#[from] kube::Error),
    /// The control API refused or failed a fault.
    #[error("control plane fault API: {0}")]
    Control(String),
    /// A CRD was not Established in time.
    #[error("CRD {0} was not Established within {ESTABLISH_TIMEOUT:?}")]
    NotEstablished(String),
}

/// Result alias of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One running control plane (a `kube-testenv` child process).
///
/// Dropping it closes the binary's standard input, which stops etcd,
/// kube-apiserver and kube-controller-manager cleanly; the process is killed
/// if it has not exited a few seconds later.
pub struct ControlPlane {
    child: std::sync::Mutex<Option<std::process::Child>>,
    kubeconfig: PathBuf,
    /// The control API's address (absent from a binary built before it existed).
    control: Option<std::net::SocketAddr>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane").field("kubeconfig", &self.kubeconfig).finish()
    }
}

impl ControlPlane {
    /// Locates the binary: `$KUBE_TESTENV`, else [`DEFAULT_BINARY`] under the
    /// workspace root (found by walking up from the current directory).
    pub fn binary() -> Result<PathBuf> {
        if let Some(path) = std::env::var_os(BINARY_ENV) {
            let path = PathBuf::from(path);
            return if path.is_file() { Ok(path) } else { Err(Error::BinaryMissing(path)) };
        }
        let cwd = std::env::current_dir()?;
        for dir in cwd.ancestors() {
            let candidate = dir.join(DEFAULT_BINARY);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        Err(Error::BinaryMissing(cwd.join(DEFAULT_BINARY)))
    }

    /// Starts a control plane of its own in a fresh temporary directory and
    /// waits until it serves (`/readyz` ok).
    pub async fn start() -> Result<Self> {
        let binary = Self::binary()?;
        // Plain std process and thread: the control plane must not depend on
        // the tokio runtime of whichever test happened to start it.
        tokio::task::spawn_blocking(move || Self::start_blocking(&binary))
            .await
            .map_err(|e| Error::NotReady(format!("starter task failed: {e}")))?
    }

    fn start_blocking(binary: &Path) -> Result<Self> {
        use std::io::BufRead;
        let dir = tempfile::Builder::new().prefix("kube-testenv-").tempdir()?;
        let mut child = std::process::Command::new(binary)
            .arg("--dir")
            .arg(dir.path())
            .arg("--stop-on-stdin-eof")
            .arg("--remove-dir-on-exit")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(Ok(line))) => line,
            Ok(Some(Err(e))) => return Err(Error::Io(e)),
            Ok(None) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait()?;
                return Err(Error::NotReady(format!(
                    "kube-testenv exited ({status}); component logs are under {}",
                    dir.keep().display()
                )));
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::NotReady(format!(
                    "no kubeconfig after {START_TIMEOUT:?}; component logs are under {}",
                    dir.keep().display()
                )));
            }
        };
        let kubeconfig = PathBuf::from(line);
        let control = std::fs::read_to_string(kubeconfig.with_file_name("control-url"))
            .ok()
            .and_then(|url| url.trim().trim_start_matches("http://").parse().ok());
        Ok(Self { child: std::sync::Mutex::new(Some(child)), kubeconfig, control, _dir: dir })
    }

    /// Path of the admin kubeconfig (client certificate in `system:masters`).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The admin client configuration.
    pub async fn config(&self) -> Result<Config> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        Ok(Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// A new admin client, bound to the current tokio runtime.
    pub async fn client(&self) -> Result<Client> {
        Client::try_from(self.config().await?).map_err(Error::Client)
    }

    /// Path of the admin kubeconfig whose server is the fault proxy
    /// ([`proxy`](Self::proxy)) in front of kube-apiserver.
    pub fn proxy_kubeconfig_path(&self) -> PathBuf {
        self.kubeconfig.with_file_name("proxy.kubeconfig")
    }

    /// The admin client configuration through the fault proxy.
    pub async fn proxy_config(&self) -> Result<Config> {
        let kubeconfig = Kubeconfig::read_from(self.proxy_kubeconfig_path())?;
        Ok(Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
    }

    /// A new admin client through the fault proxy, bound to the current
    /// tokio runtime: its connections can be reset and frozen.
    pub async fn proxy_client(&self) -> Result<Client> {
        Client::try_from(self.proxy_config().await?).map_err(Error::Client)
    }

    /// The fault proxy in front of kube-apiserver (used by
    /// [`proxy_client`](Self::proxy_client)s only; the controller-manager
    /// and [`client`](Self::client)s connect directly).
    pub fn proxy(&self) -> FaultProxy<'_> {
        FaultProxy { plane: self }
    }

    /// Kills kube-apiserver (SIGKILL) and starts it again on the same port,
    /// etcd data, CA and flags; returns once `/readyz` answers ok.
    pub async fn restart_apiserver(&self) -> Result<()> {
        self.control("/apiserver/restart?signal=KILL").await.map(drop)
    }

    /// Stops kube-apiserver: SIGKILL, or SIGTERM (a graceful shutdown) with
    /// `graceful`. It stays down until [`start_apiserver`](Self::start_apiserver).
    pub async fn stop_apiserver(&self, graceful: bool) -> Result<()> {
        let signal = if graceful { "TERM" } else { "KILL" };
        self.control(&format!("/apiserver/stop?signal={signal}")).await.map(drop)
    }

    /// Starts a stopped kube-apiserver again; returns once `/readyz` answers ok.
    pub async fn start_apiserver(&self) -> Result<()> {
        self.control("/apiserver/start").await.map(drop)
    }

    /// SIGSTOP of kube-apiserver: connections stay open, nothing answers.
    pub async fn pause_apiserver(&self) -> Result<()> {
        self.control("/apiserver/pause").await.map(drop)
    }

    /// SIGCONT of a paused kube-apiserver.
    pub async fn resume_apiserver(&self) -> Result<()> {
        self.control("/apiserver/resume").await.map(drop)
    }

    /// SIGSTOP of etcd (a process of its own): the apiserver stays up but
    /// cannot read or write.
    pub async fn pause_etcd(&self) -> Result<()> {
        self.control("/etcd/pause").await.map(drop)
    }

    /// SIGCONT of a paused etcd.
    pub async fn resume_etcd(&self) -> Result<()> {
        self.control("/etcd/resume").await.map(drop)
    }

    /// Compacts etcd's history up to its current revision (physically);
    /// returns that revision. Watches and lists from an older
    /// resourceVersion that reach etcd then fail with `410 Gone`.
    pub async fn compact(&self) -> Result<i64> {
        let answer = self.control("/etcd/compact").await?;
        answer["revision"].as_i64().ok_or_else(|| Error::Control(format!("no revision in {answer}")))
    }

    /// Sends one request to the binary's control API (see
    /// `tests/testenv/control.go`) and returns its JSON answer.
    async fn control(&self, path: &str) -> Result<serde_json::Value> {
        let addr = self.control.ok_or_else(|| {
            Error::Control(format!("{path}: this kube-testenv has no control API (run `make testenv`)"))
        })?;
        let path = path.to_string();
        let method = if path == "/proxy" || path == "/status" { "GET" } else { "POST" };
        // A plain blocking HTTP/1.1 exchange: no HTTP client dependency, and
        // independent of the caller's runtime flavour.
        tokio::task::spawn_blocking(move || control_request(addr, method, &path))
            .await
            .map_err(|e| Error::Control(format!("control task failed: {e}")))?
    }

    /// The state of each component and the addresses of the apiserver, the
    /// proxy and etcd, as the control API reports them.
    pub async fn status(&self) -> Result<serde_json::Value> {
        self.control("/status").await
    }
}

fn control_request(addr: std::net::SocketAddr, method: &str, path: &str) -> Result<serde_json::Value> {
    use std::io::{Read, Write};
    let fail = |what: String| Error::Control(format!("{method} {path}: {what}"));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    // A restart waits for /readyz (up to the binary's --ready-timeout).
    stream.set_read_timeout(Some(START_TIMEOUT))?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(|| fail(format!("malformed answer {response:?}")))?;
    let status = head.split_whitespace().nth(1).unwrap_or_default();
    // Go's server answers small bodies with Content-Length, never chunked here.
    let value: serde_json::Value = serde_json::from_str(body.trim()).map_err(|e| fail(format!("{e} in {body:?}")))?;
    if status != "200" {
        return Err(fail(format!("{status}: {}", value["error"].as_str().unwrap_or(body))));
    }
    Ok(value)
}

/// The TCP proxy in front of kube-apiserver ([`ControlPlane::proxy`]).
#[derive(Debug, Clone, Copy)]
pub struct FaultProxy<'a> {
    plane: &'a ControlPlane,
}

impl FaultProxy<'_> {
    /// Closes every open connection through the proxy with an RST; returns how many.
    pub async fn reset(&self) -> Result<u64> {
        Ok(self.plane.control("/proxy/reset").await?["connections"].as_u64().unwrap_or_default())
    }

    /// Freezes every open connection: nothing is forwarded any more in either
    /// direction, and nothing is closed (no RST, no FIN), as in a network
    /// partition. New connections still work. Returns how many were frozen.
    pub async fn freeze(&self) -> Result<u64> {
        Ok(self.plane.control("/proxy/freeze?new=false").await?["connections"].as_u64().unwrap_or_default())
    }

    /// As [`freeze`](Self::freeze), and every new connection is frozen too
    /// (accepted, never answered) until [`heal`](Self::heal).
    pub async fn freeze_all(&self) -> Result<u64> {
        Ok(self.plane.control("/proxy/freeze?new=true").await?["connections"].as_u64().unwrap_or_default())
    }

    /// Resumes frozen connections (what was sent meanwhile arrives late, as
    /// after a healed partition) and stops freezing new ones; returns how many.
    pub async fn heal(&self) -> Result<u64> {
        Ok(self.plane.control("/proxy/heal").await?["connections"].as_u64().unwrap_or_default())
    }

    /// The proxy's counters: `open`, `frozen`, `accepted`, `resets`, `freezes`.
    pub async fn stats(&self) -> Result<serde_json::Value> {
        self.plane.control("/proxy").await
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) else {
            return;
        };
        drop(child.stdin.take()); // EOF: graceful stop
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The control plane shared by every [`TestEnv`] of this process.
static SHARED: tokio::sync::OnceCell<Arc<ControlPlane>> = tokio::sync::OnceCell::const_new();
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A test's view of the shared control plane: a client and a fresh namespace.
#[derive(Clone)]
pub struct TestEnv {
    plane: Arc<ControlPlane>,
    client: Client,
    namespace: String,
}

impl std::fmt::Debug for TestEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEnv").field("namespace", &self.namespace).field("plane", &self.plane).finish()
    }
}

impl TestEnv {
    /// Starts the shared control plane if this process has none yet, creates a
    /// fresh namespace and returns a client bound to the calling runtime.
    pub async fn start() -> Result<Self> {
        let plane = SHARED.get_or_try_init(|| async { ControlPlane::start().await.map(Arc::new) }).await?.clone();
        let client = plane.client().await?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let namespace = format!("test-{}-{n}", std::process::id());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": namespace, "labels": { "bot-runtime.testenv": "true" } }
        }))
        .expect("static namespace manifest");
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
        Ok(Self { plane, client, namespace })
    }

    /// A client with admin rights, bound to the runtime that created this env.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// This test's own namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The shared control plane.
    pub fn control_plane(&self) -> &ControlPlane {
        &self.plane
    }

    /// Path of the admin kubeconfig, for tools such as kubectl.
    pub fn kubeconfig_path(&self) -> &Path {
        self.plane.kubeconfig_path()
    }

    /// Installs (server-side applies) the CRDs and waits until each is
    /// Established. Installing the same CRD twice is harmless.
    pub async fn install_crds(&self, crds: impl IntoIterator<Item = CustomResourceDefinition>) -> Result<()> {
        let api = Api::<CustomResourceDefinition>::all(self.client.clone());
        let params = PatchParams::apply("bot-runtime-testenv").force();
        let mut names = Vec::new();
        for mut crd in crds {
            crd.metadata.managed_fields = None;
            let name = crd.metadata.name.clone().unwrap_or_default();
            api.patch(&name, &params, &Patch::Apply(&crd)).await?;
            names.push(name);
        }
        for name in names {
            let established = await_condition(api.clone(), &name, conditions::is_crd_established());
            match tokio::time::timeout(ESTABLISH_TIMEOUT, established).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(Error::NotReady(format!("waiting for CRD {name}: {e}"))),
                Err(_) => return Err(Error::NotEstablished(name)),
            }
        }
        Ok(())
    }
}
