//! The generated apply configurations (`bot_api::applyconfigurations`) and
//! `extract_<kind>` against the real control plane: a manager owns exactly
//! the fields its configuration sets, fields of other managers stay theirs,
//! and extract -> change -> apply changes only the field changed.

mod common;

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use bot_api::{
    applyconfigurations::botops_v1alpha1::{
        BotApply, BotServiceApply, BotSpecApply, BotStatusApply, extract_bot, extract_bot_status,
    },
    clientset::{Clientset, botops_v1alpha1::BotClient},
    v1alpha1::{Bot, Event, EventBinding, LogLevel, Platform, ServiceType},
};
use bot_runtime::{apply::field_paths, testenv::TestEnv};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResourceExt, ResourceExt, api::PatchParams};

async fn bots() -> Result<(TestEnv, BotClient)> {
    let env = TestEnv::start().await?;
    env.install_crds([Bot::crd(), Event::crd(), EventBinding::crd()]).await?;
    let bots = Clientset::new(env.client()).botops_v1alpha1().bots(env.namespace());
    Ok((env, bots))
}

/// The paths of the fields `manager` owns on `bot` (`subresource`: `Some("status")`
/// for what it applied to the status).
fn owned(bot: &Bot, manager: &str, subresource: Option<&str>) -> Result<BTreeSet<String>> {
    let entries = bot.metadata.managed_fields.as_deref();
    let set = bot_runtime::apply::owned_fields(entries, manager, subresource).context("no Apply entry")?;
    Ok(field_paths(set))
}

fn paths(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|p| p.to_string()).collect()
}

/// What alice applies: a platform, credentials, two replicas, a NodePort
/// service and a label.
fn alices(ns: &str) -> BotApply {
    BotApply::new("shared", ns).labels([("owner", "alice")]).spec(
        BotSpecApply::default()
            .platform(Platform::Slack)
            .credentials_secret("creds")
            .replicas(2)
            .service(BotServiceApply::default().type_(ServiceType::NodePort).node_port(30080)),
    )
}

/// The set of fields a manager owns after an apply is what its
/// configuration set: nothing the server defaulted, nothing else.
#[tokio::test]
async fn a_manager_owns_exactly_what_its_configuration_sets() -> Result<()> {
    let (env, bots) = bots().await?;
    let config = alices(env.namespace());
    let applied = bots.apply(&config, &PatchParams::apply("alice")).await?;
    assert_eq!(applied.spec.port, 8080, "the schema's default fills what alice did not set");
    assert_eq!(
        owned(&applied, "alice", None)?,
        paths(&[
            ".metadata.labels.owner",
            ".spec.credentialsSecret",
            ".spec.platform",
            ".spec.replicas",
            ".spec.service.nodePort",
            ".spec.service.type",
        ])
    );
    // Read back, the fields alice owns are her configuration, field for field.
    assert_eq!(extract_bot(&applied, "alice")?, config);

    // The same for the status subresource, with a map list keyed by type.
    // Whole seconds: the API server keeps no more.
    let now = Time("2026-01-01T00:00:00Z".parse()?);
    let ready = Condition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: "Tested".into(),
        message: "by alice".into(),
        observed_generation: None,
        last_transition_time: now,
    };
    let status = BotApply::new("shared", env.namespace())
        .status(BotStatusApply::default().conditions([ready]).endpoint("http://x"));
    let applied = bots.apply_status(&status, &PatchParams::apply("alice")).await?;
    assert_eq!(
        owned(&applied, "alice", Some("status"))?,
        paths(&[
            ".status.conditions[type=\"Ready\"]",
            ".status.conditions[type=\"Ready\"].lastTransitionTime",
            ".status.conditions[type=\"Ready\"].message",
            ".status.conditions[type=\"Ready\"].reason",
            ".status.conditions[type=\"Ready\"].status",
            ".status.conditions[type=\"Ready\"].type",
            ".status.endpoint",
        ])
    );
    assert_eq!(extract_bot_status(&applied, "alice")?, status);
    // The status entry is not part of the spec's configuration and back.
    assert_eq!(extract_bot(&applied, "alice")?, config);
    Ok(())
}

/// Another manager's fields survive an apply that does not set them, and
/// an apply of the same configuration again.
#[tokio::test]
async fn a_field_set_by_another_manager_is_untouched() -> Result<()> {
    let (env, bots) = bots().await?;
    let ns = env.namespace();
    bots.apply(&alices(ns), &PatchParams::apply("alice")).await?;
    let bobs = BotApply::new("shared", ns)
        .labels([("team", "bob")])
        .spec(BotSpecApply::default().log_level(LogLevel::Debug).image("example.com/bob:1"));
    bots.apply(&bobs, &PatchParams::apply("bob")).await?;

    // alice applies again, with one change; bob's fields stay, and stay his.
    let changed = alices(ns).spec(alices(ns).spec.context("spec")?.replicas(3));
    let after = bots.apply(&changed, &PatchParams::apply("alice")).await?;
    assert_eq!(after.spec.replicas, 3);
    assert_eq!((after.spec.log_level, after.spec.image.as_str()), (LogLevel::Debug, "example.com/bob:1"));
    assert_eq!(after.labels().get("team").map(String::as_str), Some("bob"));
    assert_eq!(extract_bot(&after, "bob")?, bobs);
    assert_eq!(owned(&after, "bob", None)?, paths(&[".metadata.labels.team", ".spec.image", ".spec.logLevel"]));

    // A configuration that sets bob's field conflicts instead of taking it.
    let grab = alices(ns).spec(alices(ns).spec.context("spec")?.log_level(LogLevel::Error));
    match bots.apply(&grab, &PatchParams::apply("alice")).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}"),
        other => anyhow::bail!("taking bob's field must conflict, got {other:?}"),
    }
    assert_eq!(bots.get("shared").await?.spec.log_level, LogLevel::Debug);
    Ok(())
}

/// client-go's read-modify-apply loop: extract what this manager owns,
/// change one field, apply; only that field changes, nobody else's field
/// is taken, and nothing this manager owned is dropped.
#[tokio::test]
async fn extract_change_one_field_apply_changes_only_that() -> Result<()> {
    let (env, bots) = bots().await?;
    let ns = env.namespace();
    bots.apply(&alices(ns), &PatchParams::apply("alice")).await?;
    let bobs = BotApply::new("shared", ns).spec(BotSpecApply::default().port(9000));
    bots.apply(&bobs, &PatchParams::apply("bob")).await?;

    let before = bots.get("shared").await?;
    let mut mine = extract_bot(&before, "alice")?;
    assert_eq!(mine, alices(ns), "extract gives back what alice applied");
    mine.spec.as_mut().context("spec")?.replicas = Some(7);
    let after = bots.apply(&mine, &PatchParams::apply("alice")).await?;

    let mut expected = before.clone();
    expected.spec.replicas = 7;
    assert_eq!(after.spec, expected.spec, "only replicas changed");
    assert_eq!(after.labels(), before.labels());
    assert_eq!(owned(&after, "alice", None)?, owned(&before, "alice", None)?);
    assert_eq!(owned(&after, "bob", None)?, paths(&[".spec.port"]));
    assert_eq!(after.spec.port, 9000);
    Ok(())
}
