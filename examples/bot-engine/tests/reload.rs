//! The rules follow the file without a restart: in-place writes, editors' rename-writes, kubelet's `..data`
//! symlink swap, the poll fallback, and malformed files keeping the last good rules.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

fn greeting(reply: &str) -> String {
    rules_json(&[("greet", r#"{"type":"message","keywords":["hello"]}"#, &[reply])])
}

/// Asks until the reply to "hello" is `expected` (at most 5 s); panics otherwise.
async fn await_reply(h: &Harness, expected: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let replies = h.try_ask("hello").await;
        if replies.as_deref() == Ok(&[expected.to_owned()][..]) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {replies:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// An hour: changes seen within the tests' 5 s come from file notifications, not from polling.
const NO_POLL: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn in_place_write_is_picked_up_by_notification() {
    let h = Harness::start_with(Some(&greeting("v1")), |c| c.rules_poll_interval(NO_POLL)).await;
    assert_eq!(h.ask("hello").await, ["v1"]);
    std::fs::write(&h.rules_path, greeting("v2")).unwrap();
    await_reply(&h, "v2").await;
    h.stop().await;
}

#[tokio::test]
async fn editor_rename_write_is_picked_up_by_notification() {
    let h = Harness::start_with(Some(&greeting("v1")), |c| c.rules_poll_interval(NO_POLL)).await;
    assert_eq!(h.ask("hello").await, ["v1"]);
    let tmp = h.dir.path().join(".rules.json.swp");
    std::fs::write(&tmp, greeting("v2")).unwrap();
    std::fs::rename(&tmp, &h.rules_path).unwrap();
    await_reply(&h, "v2").await;
    // And again: the watch survives the file being replaced.
    std::fs::write(&tmp, greeting("v3")).unwrap();
    std::fs::rename(&tmp, &h.rules_path).unwrap();
    await_reply(&h, "v3").await;
    h.stop().await;
}

/// Lays out a ConfigMap volume as kubelet's atomic writer does: `rules.json -> ..data/rules.json`,
/// `..data -> ..<version>`, the version directory holding the file.
fn kubelet_publish(dir: &Path, version: &str, content: &str) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir(&versioned).unwrap();
    std::fs::write(versioned.join("rules.json"), content).unwrap();
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    // The atomic swap: rename the new symlink over the old one.
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    let link = dir.join("rules.json");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/rules.json", &link).unwrap();
    }
}

#[tokio::test]
async fn kubelet_data_symlink_swap_is_picked_up_by_notification() {
    let dir = tempfile::tempdir().unwrap();
    kubelet_publish(dir.path(), "2026_01_01_00_00_00.000000001", &greeting("v1"));
    let rules = dir.path().join("rules.json");
    let h = Harness::start_with(None, |c| c.rules_path(&rules).rules_poll_interval(NO_POLL)).await;
    assert_eq!(h.ask("hello").await, ["v1"]);

    kubelet_publish(dir.path(), "2026_01_01_00_01_00.000000002", &greeting("v2"));
    std::fs::remove_dir_all(dir.path().join("..2026_01_01_00_00_00.000000001")).unwrap();
    await_reply(&h, "v2").await;

    kubelet_publish(dir.path(), "2026_01_01_00_02_00.000000003", &greeting("v3"));
    std::fs::remove_dir_all(dir.path().join("..2026_01_01_00_01_00.000000002")).unwrap();
    await_reply(&h, "v3").await;
    h.stop().await;
}

#[tokio::test]
async fn polling_finds_a_file_whose_directory_could_not_be_watched() {
    // The directory does not exist at start, so there is nothing to watch: only the poll can see the file.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("later");
    let rules = dir.join("rules.json");
    let h = Harness::start_with(None, |c| c.rules_path(&rules).rules_poll_interval(Duration::from_millis(100))).await;
    assert_eq!(h.get("/readyz").await.0, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(&rules, greeting("v1")).unwrap();
    await_reply(&h, "v1").await;
    assert_eq!(h.get("/readyz").await.0, reqwest::StatusCode::OK);
    h.stop().await;
}

#[tokio::test]
async fn malformed_files_keep_the_last_good_rules() {
    let h = Harness::start_with(Some(&greeting("v1")), |c| c.rules_poll_interval(Duration::from_millis(50))).await;
    assert_eq!(h.ask("hello").await, ["v1"]);

    // Written atomically, so no read can see a half-written file and count a third bad content.
    let replace = |content: &str| {
        let tmp = h.dir.path().join("rules.json.tmp");
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, &h.rules_path).unwrap();
    };
    replace("{ this is not json");
    let invalid_regex = rules_json(&[("greet", r#"{"type":"message","pattern":"(hello"}"#, &["v-broken"])]);
    // Give the watcher and several polls time to see each bad file.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(h.ask("hello").await, ["v1"]);
    replace(&invalid_regex);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(h.ask("hello").await, ["v1"]);
    assert_eq!(h.get("/readyz").await.0, reqwest::StatusCode::OK, "still ready on the last good rules");

    let metrics = h.metrics().await;
    // Two distinct bad contents, each counted once although polled many times.
    assert_eq!(metric(&metrics, r#"bot_engine_rules_reloads_total{result="invalid"}"#), 2, "{metrics}");
    assert_eq!(metric(&metrics, r#"bot_engine_rules_reloads_total{result="ok"}"#), 1);

    std::fs::write(&h.rules_path, greeting("v2")).unwrap();
    await_reply(&h, "v2").await;
    h.stop().await;
}
