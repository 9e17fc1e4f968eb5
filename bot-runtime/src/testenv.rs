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
        Ok(Self { child: std::sync::Mutex::new(Some(child)), kubeconfig: PathBuf::from(line), _dir: dir })
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
