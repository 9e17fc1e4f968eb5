//! The operator's field manager (`bot-operator`) owns exactly the fields of
//! the typed apply bodies it builds (`bot_operator::resources`): on the
//! ConfigMap, Deployment and Service it makes for a Bot, and on the Bot's
//! status (applied through the generated `BotApply`). Checked on the real
//! control plane from each object's `managedFields`.

mod common;
use common::{TIMEOUT, eventually};

use anyhow::{Context, Result};
use bot_api::{
    applyconfigurations::botops_v1alpha1::{BotStatusApply, extract_bot_status},
    v1alpha1::{Bot, BotSpec, Event, EventBinding, Platform},
};
use bot_operator::{FIELD_MANAGER, resources};
use bot_runtime::{
    apply::{extract_into, field_paths, owned_fields},
    testenv::TestEnv,
};
use k8s_openapi::{
    NamespaceResourceScope,
    api::{
        apps::v1::Deployment,
        core::v1::{ConfigMap, Secret, Service},
    },
};
use kube::{Api, CustomResourceExt, Resource, api::PostParams};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The managers of `obj` named like the operator, with their operations.
fn operator_entries<K: Resource>(obj: &K) -> Vec<String> {
    let entries = obj.meta().managed_fields.iter().flatten();
    let ours = entries.filter(|m| m.manager.as_deref().is_some_and(|m| m.starts_with(FIELD_MANAGER)));
    ours.map(|m| {
        format!("{} {}", m.operation.as_deref().unwrap_or_default(), m.subresource.as_deref().unwrap_or_default())
    })
    .collect()
}

/// The object `name` once the operator's only entry on it is its Apply.
async fn applied<K>(api: &Api<K>, name: &str) -> Result<K>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} applied by {FIELD_MANAGER} only"), || async {
        Ok(api.get_opt(name).await?.filter(|o| operator_entries(o) == ["Apply "]))
    })
    .await
}

/// What `FIELD_MANAGER` owns on `live` equals `desired`, the stamped body
/// the operator builds.
fn owns_exactly<K>(live: &K, desired: &impl Serialize) -> Result<()>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let desired = resources::stamp(serde_json::to_value(desired)?);
    let owned: Value = extract_into(live, FIELD_MANAGER, None)?;
    assert_eq!(owned, desired, "{} {:?}", K::kind(&()), live.meta().name);
    Ok(())
}

#[tokio::test]
async fn the_operator_owns_exactly_the_fields_of_its_typed_bodies() -> Result<()> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let ns = env.namespace().to_string();
    let config = bot_operator::Config { namespace: Some(ns.clone()), ..bot_operator::Config::default() };
    let (stop, stopped) = oneshot::channel::<()>();
    let operator = tokio::spawn(bot_operator::run(env.client(), config, async move {
        let _ = stopped.await;
    }));

    let secret: Secret =
        serde_json::from_value(json!({ "metadata": { "name": "creds" }, "stringData": { "k": "v" } }))?;
    let secret = namespaced::<Secret>(&env).create(&PostParams::default(), &secret).await?;
    let spec = BotSpec {
        platform: Platform::Line,
        credentials_secret: "creds".into(),
        image: "example.com/bot-engine:test".into(),
        replicas: 1,
        port: 8080,
        log_level: Default::default(),
        service: Default::default(),
    };
    let bots = namespaced::<Bot>(&env);
    bots.create(&PostParams::default(), &Bot::new("owned", spec)).await?;

    let (cms, deps, svcs) =
        (namespaced::<ConfigMap>(&env), namespaced::<Deployment>(&env), namespaced::<Service>(&env));
    let cm = applied(&cms, &resources::rules_configmap_name("owned")).await?;
    let dep = applied(&deps, "owned").await?;
    let svc = applied(&svcs, "owned").await?;
    // The status is written after the children: wait for it.
    let bot = eventually("the Bot's status", || async {
        let bot = bots.get("owned").await?;
        Ok(bot.status.as_ref().is_some_and(|s| !s.conditions.is_empty()).then_some(bot))
    })
    .await?;

    let rules = cm.data.as_ref().and_then(|d| d.get(resources::RULES_KEY)).context("rules")?;
    let credentials_version = secret.metadata.resource_version.clone().context("resourceVersion")?;
    owns_exactly(&cm, &resources::configmap(&bot, rules))?;
    owns_exactly(&dep, &resources::deployment(&bot, &resources::checksum(rules), &credentials_version))?;
    owns_exactly(&svc, &resources::service(&bot))?;

    // The same, read as paths, for the Service (an owner reference and the
    // selector are atomic: owned whole).
    let set = owned_fields(svc.metadata.managed_fields.as_deref(), FIELD_MANAGER, None).context("Apply entry")?;
    let uid = bot.metadata.uid.as_deref().context("uid")?;
    let owner = format!(".metadata.ownerReferences[uid=\"{uid}\"]");
    let port = ".spec.ports[port=8080,protocol=\"TCP\"]";
    let labels = ["instance", "managed-by", "name"].map(|l| format!(".metadata.labels.app.kubernetes.io/{l}"));
    let mut expected: Vec<String> =
        [".metadata.annotations.botops.dev/applied-hash", ".metadata.labels.botops.dev/bot"]
            .into_iter()
            .chain([owner.as_str(), ".spec.selector", ".spec.type"])
            .map(String::from)
            .chain(labels)
            .chain(["", ".name", ".port", ".protocol", ".targetPort"].map(|f| format!("{port}{f}")))
            .collect();
    expected.sort();
    assert_eq!(field_paths(set).into_iter().collect::<Vec<_>>(), expected);

    // The Bot's status, applied as a BotApply: the operator owns all of it.
    let status = bot.status.as_ref().context("status")?;
    let owned_status = extract_bot_status(&bot, FIELD_MANAGER)?.status;
    assert_eq!(owned_status, Some(BotStatusApply::try_from(status)?));
    assert_eq!(operator_entries(&bot), ["Apply status"]);

    let _ = stop.send(());
    tokio::time::timeout(TIMEOUT, operator).await.context("operator did not stop")???;
    Ok(())
}

fn namespaced<K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>>(env: &TestEnv) -> Api<K> {
    Api::namespaced(env.client(), env.namespace())
}
