//! `bot-operator`: runs the chatbot operator against the cluster of the
//! default kubeconfig (or in-cluster config) until SIGINT or SIGTERM.
//!
//! ```text
//! bot-operator [--namespace NS] [--workers N]    run the operator
//!              [--no-leader-election] [--lease-namespace NS] [--lease-name NAME]
//!              [--http-address ADDR|off]
//! bot-operator --print-crds                       print the CRDs as YAML
//! ```
//!
//! Leader election is on by default: every replica keeps its caches synced,
//! the holder of the Lease `bot-operator` (in `--lease-namespace`, default
//! `$POD_NAMESPACE`, else the kubeconfig's namespace) reconciles. The
//! identity is `$POD_NAME`, else the host name, plus a random suffix. The
//! generated RBAC (manifests/rbac.yaml) allows the Lease `bot-operator` in
//! `botops-system` only: another name or namespace needs its Role changed.
//!
//! `/metrics` (OpenMetrics), `/healthz` and `/readyz` are served on
//! `--http-address` (default `0.0.0.0:8080`; `off` to disable).
//!
//! The operator installs nothing: apply `manifests/crds/` first.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: bot-operator [--namespace NS] [--workers N] [--no-leader-election] \
[--lease-namespace NS] [--lease-name NAME] [--http-address ADDR|off] | --print-crds | --help";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut config = bot_operator::Config::default();
    let (mut leader_election, mut lease_namespace, mut lease_name) = (true, None, "bot-operator".to_string());
    config.http_address = Some(([0, 0, 0, 0], 8080).into());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--print-crds" => {
                print!("{}", bot_operator::crds_yaml()?);
                return Ok(());
            }
            "--namespace" | "-n" => config.namespace = Some(args.next().context(USAGE)?),
            "--workers" => config.workers = args.next().context(USAGE)?.parse().context("--workers")?,
            "--no-leader-election" => leader_election = false,
            "--lease-namespace" => lease_namespace = Some(args.next().context(USAGE)?),
            "--lease-name" => lease_name = args.next().context(USAGE)?,
            "--http-address" => {
                config.http_address = match args.next().context(USAGE)?.as_str() {
                    "off" => None,
                    addr => Some(addr.parse().with_context(|| format!("--http-address {addr:?}"))?),
                }
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    if config.namespace.is_none() {
        config.namespace = std::env::var("WATCH_NAMESPACE").ok().filter(|ns| !ns.is_empty());
    }

    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    // A 30 s read timeout (bot_operator::client_config says why it is safe with watches).
    let kube_config = kube::Config::infer().await.context("reading the kubeconfig (or the in-cluster config)")?;
    let client = kube::Client::try_from(bot_operator::client_config(kube_config)).context("building a client")?;
    if leader_election {
        let namespace = lease_namespace
            .or_else(|| std::env::var("POD_NAMESPACE").ok().filter(|ns| !ns.is_empty()))
            .unwrap_or_else(|| client.default_namespace().to_string());
        let election = bot_runtime::leader::LeaderElectionConfig::new(lease_name, namespace).with_random_suffix();
        election.validate().context("leader election")?;
        config.leader_election = Some(election);
    }
    bot_operator::run(client, config, shutdown_signal()).await
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
    }
}
