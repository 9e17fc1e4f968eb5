//! The local control plane is a real Kubernetes: etcd-backed storage with
//! watches, kube-controller-manager (Deployments, garbage collection) and RBAC.

mod common;
use common::eventually_within;

use std::time::Duration;

use anyhow::{Context, Result};
use bot_runtime::testenv::TestEnv;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{ConfigMap, ServiceAccount},
    rbac::v1::{Role, RoleBinding},
};
use kube::{
    Api, Client, ResourceExt,
    api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams},
    config::AuthInfo,
};
use serde_json::json;

#[tokio::test]
async fn configmap_create_get_list_watch() -> Result<()> {
    let env = TestEnv::start().await?;
    let api: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());

    // Watch from the start so the ADDED and MODIFIED events are observed.
    let list = api.list(&ListParams::default()).await?;
    let rv = list.metadata.resource_version.clone().context("list has a resourceVersion")?;
    let mut watch = api.watch(&WatchParams::default().timeout(30), &rv).await?.boxed();

    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "greeting", "labels": { "app": "demo" } },
        "data": { "hello": "world" }
    }))?;
    let created = api.create(&PostParams::default(), &cm).await?;
    assert!(created.metadata.uid.is_some(), "the server assigns a uid");

    let got = api.get("greeting").await?;
    assert_eq!(got.data.as_ref().unwrap()["hello"], "world");

    let listed = api.list(&ListParams::default().labels("app=demo")).await?;
    assert_eq!(listed.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(), ["greeting"]);
    let none = api.list(&ListParams::default().labels("app=other")).await?;
    assert!(none.items.is_empty(), "label selectors are applied by the server");

    let mut changed = got.clone();
    changed.data = Some([("hello".to_string(), "kubernetes".to_string())].into());
    api.replace("greeting", &PostParams::default(), &changed).await?;

    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(20), watch.try_next())
            .await
            .context("watch event in time")??
            .context("watch stream ended early")?;
        match event {
            WatchEvent::Added(c) => seen.push(("ADDED", c.data.unwrap_or_default()["hello"].clone())),
            WatchEvent::Modified(c) => seen.push(("MODIFIED", c.data.unwrap_or_default()["hello"].clone())),
            other => anyhow::bail!("unexpected watch event {other:?}"),
        }
    }
    assert_eq!(seen, [("ADDED", "world".to_string()), ("MODIFIED", "kubernetes".to_string())]);
    Ok(())
}

fn deployment(name: &str) -> Result<Deployment> {
    Ok(serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [ { "name": "main", "image": "example.invalid/app:1" } ] }
            }
        }
    }))?)
}

#[tokio::test]
async fn deployment_gets_a_replicaset_from_the_controller_manager() -> Result<()> {
    let env = TestEnv::start().await?;
    let deployments: Api<Deployment> = Api::namespaced(env.client(), env.namespace());
    let replicasets: Api<ReplicaSet> = Api::namespaced(env.client(), env.namespace());
    let d = deployments.create(&PostParams::default(), &deployment("web")?).await?;

    let rs = eventually_within(Duration::from_secs(60), "a ReplicaSet for the Deployment", || async {
        let list = replicasets.list(&ListParams::default().labels("app=web")).await?;
        Ok(list.items.into_iter().next())
    })
    .await?;
    let owner = &rs.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Deployment", d.uid().unwrap().as_str()));
    assert_eq!(owner.controller, Some(true));
    assert_eq!(rs.spec.unwrap().replicas, Some(1));
    Ok(())
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_what_it_owns() -> Result<()> {
    let env = TestEnv::start().await?;
    let configmaps: Api<ConfigMap> = Api::namespaced(env.client(), env.namespace());
    let owner = configmaps
        .create(&PostParams::default(), &serde_json::from_value(json!({ "metadata": { "name": "owner" } }))?)
        .await?;
    let owned: ConfigMap = serde_json::from_value(json!({
        "metadata": {
            "name": "owned",
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.uid().unwrap()
            }]
        }
    }))?;
    configmaps.create(&PostParams::default(), &owned).await?;

    // Background deletion: the garbage collector, not the API server, removes
    // the dependent.
    configmaps.delete("owner", &DeleteParams::background()).await?;
    eventually_within(Duration::from_secs(60), "the owned ConfigMap to be collected", || async {
        Ok(configmaps.get_opt("owned").await?.is_none().then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn rbac_denies_a_service_account_until_a_role_binding_allows_it() -> Result<()> {
    let env = TestEnv::start().await?;
    let ns = env.namespace();
    let sa: ServiceAccount = serde_json::from_value(json!({ "metadata": { "name": "reader" } }))?;
    Api::<ServiceAccount>::namespaced(env.client(), ns).create(&PostParams::default(), &sa).await?;

    // The admin impersonates the service account.
    let mut config = env.control_plane().config().await?;
    config.auth_info = AuthInfo { impersonate: Some(format!("system:serviceaccount:{ns}:reader")), ..config.auth_info };
    let as_reader: Api<ConfigMap> = Api::namespaced(Client::try_from(config)?, ns);

    match as_reader.list(&ListParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "forbidden, got {status:?}"),
        other => anyhow::bail!("expected 403 Forbidden before the RoleBinding, got {other:?}"),
    }

    let role: Role = serde_json::from_value(json!({
        "metadata": { "name": "configmap-reader" },
        "rules": [{ "apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"] }]
    }))?;
    Api::<Role>::namespaced(env.client(), ns).create(&PostParams::default(), &role).await?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": { "name": "reader-reads-configmaps" },
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader" },
        "subjects": [{ "kind": "ServiceAccount", "name": "reader", "namespace": ns }]
    }))?;
    Api::<RoleBinding>::namespaced(env.client(), ns).create(&PostParams::default(), &binding).await?;

    // RBAC is evaluated from an informer cache: allow it a moment.
    eventually_within(Duration::from_secs(30), "the RoleBinding to take effect", || async {
        Ok(as_reader.list(&ListParams::default()).await.ok())
    })
    .await?;
    // Still only what the Role grants.
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "nope" } }))?;
    match as_reader.create(&PostParams::default(), &cm).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403),
        other => anyhow::bail!("create must stay forbidden, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_second_control_plane_runs_beside_the_first() -> Result<()> {
    let env = TestEnv::start().await?;
    let second = bot_runtime::testenv::ControlPlane::start().await?;
    assert_ne!(second.kubeconfig_path(), env.kubeconfig_path());
    let (a, b) = (env.client(), second.client().await?);
    let (va, vb) = (a.apiserver_version().await?, b.apiserver_version().await?);
    assert_eq!((va.major.as_str(), va.minor.as_str()), ("1", "36"));
    assert_eq!(va.git_version, vb.git_version);
    // Separate stores: a namespace made in one is absent from the other.
    let ns = env.namespace();
    assert!(Api::<k8s_openapi::api::core::v1::Namespace>::all(b).get_opt(ns).await?.is_none());
    assert!(Api::<k8s_openapi::api::core::v1::Namespace>::all(a).get_opt(ns).await?.is_some());
    // Dropping it stops it cleanly: its kubeconfig directory goes away.
    let dir = second.kubeconfig_path().parent().context("kubeconfig has a directory")?.to_path_buf();
    tokio::task::spawn_blocking(move || drop(second)).await?;
    assert!(!dir.exists(), "the control plane's directory is removed when it stops");
    // No process of it is left: etcd, kube-apiserver and kube-controller-manager
    // all carry the directory on their command lines.
    let survivors = processes_mentioning(&dir)?;
    assert!(survivors.is_empty(), "processes left behind: {survivors:?}");
    Ok(())
}

#[tokio::test]
async fn sigterm_stops_every_component_and_leaves_no_process() -> Result<()> {
    use std::io::BufRead;
    let binary = bot_runtime::testenv::ControlPlane::binary()?;
    let dir = std::env::temp_dir().join(format!("kube-testenv-sigterm-{}", std::process::id()));
    let mut child = std::process::Command::new(&binary)
        .arg("--dir")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("stdout")?;
    let line = tokio::task::spawn_blocking(move || std::io::BufReader::new(stdout).lines().next()).await?;
    let kubeconfig = line.context("a kubeconfig path on stdout")??;
    assert_eq!(std::path::Path::new(&kubeconfig), dir.join("kubeconfig"));

    let status = std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait()).await??;
    assert!(exit.success(), "a clean stop exits 0, got {exit}");
    let survivors = processes_mentioning(&dir)?;
    assert!(survivors.is_empty(), "processes left behind: {survivors:?}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// Command lines of running processes that mention `dir` (every component of
/// a control plane carries its directory in its arguments).
fn processes_mentioning(dir: &std::path::Path) -> Result<Vec<String>> {
    let needle = dir.to_string_lossy().into_owned();
    Ok(std::fs::read_dir("/proc")?
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&needle))
        .collect())
}
