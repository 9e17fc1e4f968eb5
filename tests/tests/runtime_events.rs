//! bot-runtime's `EventRecorder` against a real kube-apiserver: repeats
//! aggregate into one `events.k8s.io/v1` series, as `kubectl describe` shows.
//!
//! KUBE_TESTENV=$PWD/target/testenv/kube-testenv KUBECTL=$PWD/target/testenv/kubectl \
//!     cargo test -p bot-tests --test runtime_events

use std::{path::PathBuf, process::Command, time::Duration};

use anyhow::{Context, Result};
use bot_runtime::{
    events::{EventRecorder, EventType, Reporter},
    testenv::TestEnv,
};
use k8s_openapi::api::{core::v1 as core, events::v1::Event};
use kube::{
    Api, Resource,
    api::{DeleteParams, ListParams, PostParams},
    runtime::events as kube_events,
};
use serde_json::json;

async fn subject(env: &TestEnv, name: &str) -> Result<core::ConfigMap> {
    let cm: core::ConfigMap = serde_json::from_value(json!({ "metadata": { "name": name } }))?;
    let api: Api<core::ConfigMap> = Api::namespaced(env.client(), env.namespace());
    Ok(api.create(&PostParams::default(), &cm).await?)
}

fn reporter() -> Reporter {
    Reporter { controller: "bot-operator".into(), instance: Some("bot-operator-0".into()) }
}

/// The events.k8s.io/v1 Events of the test namespace with `reason`, oldest first.
async fn events(env: &TestEnv, reason: &str) -> Result<Vec<Event>> {
    let api: Api<Event> = Api::namespaced(env.client(), env.namespace());
    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect();
    events.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
    Ok(events)
}

fn series_count(e: &Event) -> i32 {
    e.series.as_ref().map_or(1, |s| s.count)
}

fn kubectl(env: &TestEnv, args: &[&str]) -> Result<String> {
    let bin = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/testenv/kubectl"));
    let out = Command::new(&bin)
        .arg("--kubeconfig")
        .arg(env.kubeconfig_path())
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    anyhow::ensure!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8(out.stdout)?)
}

#[tokio::test]
async fn repeats_bump_one_series_and_other_reasons_or_notes_are_new_events() -> Result<()> {
    let env = TestEnv::start().await?;
    let cm = subject(&env, "subject").await?;
    let reference = cm.object_ref(&());
    let recorder = EventRecorder::new(env.client(), reporter());

    for _ in 0..5 {
        recorder.publish(&reference, EventType::Normal, "Applied", "children up to date").await?;
    }
    let applied = events(&env, "Applied").await?;
    assert_eq!(applied.len(), 1, "five repeats, one Event: {applied:#?}");
    assert_eq!(series_count(&applied[0]), 5);
    assert_eq!(applied[0].note.as_deref(), Some("children up to date"));
    assert_eq!(applied[0].action.as_deref(), Some("Applied"));
    assert_eq!(applied[0].reporting_controller.as_deref(), Some("bot-operator"));
    assert_eq!(applied[0].reporting_instance.as_deref(), Some("bot-operator-0"));

    recorder.publish(&reference, EventType::Warning, "Failed", "apply failed").await?;
    recorder.publish(&reference, EventType::Normal, "Applied", "service changed").await?;
    let failed = events(&env, "Failed").await?;
    assert_eq!(failed.len(), 1, "another reason is another Event");
    assert_eq!((series_count(&failed[0]), failed[0].type_.as_deref()), (1, Some("Warning")));
    let applied = events(&env, "Applied").await?;
    let notes: Vec<_> = applied.iter().map(|e| (e.note.clone().unwrap_or_default(), series_count(e))).collect();
    assert_eq!(notes, [("children up to date".to_string(), 5), ("service changed".to_string(), 1)]);

    // The core/v1 view, found the way `kubectl describe` searches: by involvedObject.
    let core_events: Api<core::Event> = Api::namespaced(env.client(), env.namespace());
    let uid = cm.metadata.uid.clone().unwrap_or_default();
    let fields = format!(
        "involvedObject.kind=ConfigMap,involvedObject.name=subject,involvedObject.namespace={},involvedObject.uid={uid}",
        env.namespace()
    );
    let described = core_events.list(&ListParams::default().fields(&fields)).await?.items;
    assert_eq!(described.len(), 3, "{described:#?}");
    let first = described.iter().find(|e| e.message.as_deref() == Some("children up to date")).context("Applied")?;
    assert_eq!(first.involved_object.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(first.involved_object.kind.as_deref(), Some("ConfigMap"));
    assert_eq!(first.series.as_ref().and_then(|s| s.count), Some(5));
    assert_eq!(first.reporting_component.as_deref(), Some("bot-operator"));

    let describe = kubectl(&env, &["describe", "configmap", "subject", "-n", env.namespace()])?;
    let line = describe.lines().find(|l| l.contains("children up to date")).context(describe.clone())?;
    assert!(line.contains("Normal") && line.contains("Applied") && line.contains("(x5 over"), "{line}");
    assert!(describe.lines().any(|l| l.contains("Warning") && l.contains("Failed") && l.contains("apply failed")));
    Ok(())
}

#[tokio::test]
async fn concurrent_repeats_make_one_event() -> Result<()> {
    let env = TestEnv::start().await?;
    let reference = subject(&env, "busy").await?.object_ref(&());
    let recorder = EventRecorder::new(env.client(), reporter());
    let publishes = (0..8).map(|_| {
        let (recorder, reference) = (recorder.clone(), reference.clone());
        tokio::spawn(async move { recorder.publish(&reference, EventType::Normal, "Synced", "").await })
    });
    for result in futures::future::join_all(publishes).await {
        result??;
    }
    let synced = events(&env, "Synced").await?;
    assert_eq!(synced.len(), 1, "{synced:#?}");
    assert_eq!((series_count(&synced[0]), synced[0].note.as_deref()), (8, None));
    Ok(())
}

#[tokio::test]
async fn a_deleted_event_starts_a_new_series_and_a_zero_window_never_aggregates() -> Result<()> {
    let env = TestEnv::start().await?;
    let reference = subject(&env, "expiring").await?.object_ref(&());
    let recorder = EventRecorder::new(env.client(), reporter());
    recorder.publish(&reference, EventType::Normal, "Applied", "once").await?;
    recorder.publish(&reference, EventType::Normal, "Applied", "once").await?;
    let first = events(&env, "Applied").await?;
    assert_eq!((first.len(), series_count(&first[0])), (1, 2));

    // Events expire (an hour by default) or get cleaned up behind the recorder.
    let api: Api<Event> = Api::namespaced(env.client(), env.namespace());
    api.delete(first[0].metadata.name.as_deref().unwrap_or_default(), &DeleteParams::default()).await?;
    recorder.publish(&reference, EventType::Normal, "Applied", "once").await?;
    recorder.publish(&reference, EventType::Normal, "Applied", "once").await?;
    let second = events(&env, "Applied").await?;
    assert_eq!(second.len(), 1);
    assert_ne!(second[0].metadata.name, first[0].metadata.name, "a new Event");
    assert_eq!(series_count(&second[0]), 2, "a new series, counted from 1");

    let unaggregated = EventRecorder::new(env.client(), reporter()).with_window(Duration::ZERO);
    for _ in 0..3 {
        unaggregated.publish(&reference, EventType::Normal, "Probed", "").await?;
    }
    let probed = events(&env, "Probed").await?;
    assert_eq!(probed.iter().map(series_count).collect::<Vec<_>>(), [1, 1, 1]);
    Ok(())
}

/// Why the recorder is not kube-runtime's `Recorder` as is: that one keys
/// repeats without the note, so a new message with the same reason is
/// folded into the first Event and never shown. If this starts failing,
/// kube-runtime changed and `bot_runtime::events` can be reconsidered.
#[tokio::test]
async fn kube_runtime_recorder_folds_a_new_note_into_the_first_event() -> Result<()> {
    let env = TestEnv::start().await?;
    let reference = subject(&env, "upstream").await?.object_ref(&());
    let recorder = kube_events::Recorder::new(env.client(), reporter());
    for note in ["first message", "second message"] {
        let event = kube_events::Event {
            type_: kube_events::EventType::Normal,
            reason: "Applied".into(),
            note: Some(note.into()),
            action: "Applied".into(),
            secondary: None,
        };
        recorder.publish(&event, &reference).await?;
    }
    let applied = events(&env, "Applied").await?;
    assert_eq!(applied.len(), 1);
    assert_eq!((applied[0].note.as_deref(), series_count(&applied[0])), (Some("first message"), 2));
    Ok(())
}
