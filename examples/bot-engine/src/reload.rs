//! The current rules, and their reload when the file changes, without a restart.
//!
//! The file is read at start and whenever it may have changed:
//!
//! - **Notifications.** [`notify`] watches the file's *directory*, not the file: kubelet updates a ConfigMap
//!   volume by writing a new timestamped directory and atomically renaming a `..data` symlink over the old one
//!   (`rules.json -> ..data/rules.json`), and editors save by writing a temporary file and renaming it over the
//!   original. Both replace the file's inode, which a watch on the file itself would lose. Any event in the
//!   directory (other than reads) triggers a check after a short debounce, so a burst of events reads once.
//! - **Polling.** Every poll interval the file is read anyway, so changes are seen where inotify does not work
//!   (some network and overlay filesystems) or if the watch could not be set up (then it is retried each poll).
//!
//! A check reads the file (following symlinks) and compares its content with the last content seen: unchanged
//! content does nothing. New content is parsed and compiled; if valid it replaces the current rules atomically
//! ([`arc_swap`]: request handlers never block), otherwise the last good rules stay and a warning says why,
//! once per distinct content (or distinct read error), not once per poll.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, ReloadResult};
use crate::rules::RuleSet;

/// Why the file watch could not be set up (the poll still works).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The notify backend refused.
    #[error("cannot watch {dir}: {source}")]
    Watch {
        /// The directory.
        dir: PathBuf,
        /// notify's error.
        #[source]
        source: notify::Error,
    },
}

/// The current rules, shared by the request handlers and the reloader. Empty until a valid file was read.
#[derive(Debug, Default)]
pub struct RulesStore {
    current: ArcSwapOption<RuleSet>,
}

impl RulesStore {
    /// No rules yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current rules, if a valid file was ever read.
    pub fn get(&self) -> Option<Arc<RuleSet>> {
        self.current.load_full()
    }

    /// Whether rules are loaded (readiness).
    pub fn is_loaded(&self) -> bool {
        self.current.load().is_some()
    }

    /// Replaces the current rules.
    pub fn set(&self, rules: RuleSet) {
        self.current.store(Some(Arc::new(rules)));
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Content(String),
    Unreadable(String),
}

/// Reads the rules file into a [`RulesStore`] when its content changed.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    store: Arc<RulesStore>,
    metrics: Arc<Metrics>,
    last: Option<Seen>,
}

impl Reloader {
    /// A reloader of `path` into `store`.
    pub fn new(path: impl Into<PathBuf>, store: Arc<RulesStore>, metrics: Arc<Metrics>) -> Self {
        Self { path: path.into(), store, metrics, last: None }
    }

    /// Reads the file; loads it if its content is new and valid, warns (once per content) if it is not.
    /// Returns whether the current rules changed.
    pub async fn check(&mut self) -> bool {
        let seen = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => Seen::Content(text),
            Err(e) => Seen::Unreadable(e.to_string()),
        };
        if self.last.as_ref() == Some(&seen) {
            return false;
        }
        let path = self.path.display();
        let changed = match &seen {
            Seen::Content(text) => match RuleSet::parse(text) {
                Ok(rules) => {
                    tracing::info!(%path, rules = rules.len(), "rules loaded");
                    self.metrics.rules_loaded(ReloadResult::Ok, Some(rules.len()));
                    self.store.set(rules);
                    true
                }
                Err(error) => {
                    self.invalid(format_args!("invalid rules file {path}: {error}"));
                    false
                }
            },
            Seen::Unreadable(error) => {
                self.invalid(format_args!("cannot read rules file {path}: {error}"));
                false
            }
        };
        self.last = Some(seen);
        changed
    }

    fn invalid(&self, why: std::fmt::Arguments<'_>) {
        if self.store.is_loaded() {
            tracing::warn!("{why}; keeping the last good rules");
        } else {
            tracing::warn!("{why}; no rules loaded yet (not ready)");
        }
        self.metrics.rules_loaded(ReloadResult::Invalid, None);
    }

    /// Checks the file on every change notification (after `debounce`) and every `poll_interval`, until
    /// `stop` is cancelled.
    pub async fn watch(mut self, poll_interval: Duration, debounce: Duration, stop: CancellationToken) {
        let changed = Arc::new(Notify::new());
        let mut watcher = start_watch(&self.path, &changed);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                () = changed.notified() => {
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(debounce) => {}
                    }
                }
                () = tokio::time::sleep(poll_interval) => {
                    if watcher.is_none() {
                        watcher = start_watch(&self.path, &changed);
                    }
                }
            }
            self.check().await;
        }
    }
}

/// The directory to watch: the file's parent (`.` for a bare file name).
fn watch_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn start_watch(path: &Path, changed: &Arc<Notify>) -> Option<notify::RecommendedWatcher> {
    match try_watch(path, changed) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(%error, "rules file changes are only seen by polling");
            None
        }
    }
}

fn try_watch(path: &Path, changed: &Arc<Notify>) -> Result<notify::RecommendedWatcher, ReloadError> {
    let dir = watch_dir(path);
    let changed = Arc::clone(changed);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match event {
            // Our own reads of the file would otherwise wake us up again.
            Ok(event) => !matches!(
                event.kind,
                EventKind::Access(notify::event::AccessKind::Open(_) | notify::event::AccessKind::Read)
                    | EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Read))
            ),
            Err(_) => true,
        };
        if relevant {
            changed.notify_one();
        }
    })
    .map_err(|source| ReloadError::Watch { dir: dir.clone(), source })?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|source| ReloadError::Watch { dir: dir.clone(), source })?;
    tracing::debug!(dir = %dir.display(), "watching the rules directory");
    Ok(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str =
        r#"{"version":1,"rules":[{"event":"e","trigger":{"type":"follow"},"actions":[{"reply":"R"}]}]}"#;

    #[tokio::test]
    async fn keeps_the_last_good_rules_and_reacts_only_to_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.json");
        let store = Arc::new(RulesStore::new());
        let metrics = Arc::new(Metrics::new());
        let mut reloader = Reloader::new(&path, store.clone(), metrics.clone());

        assert!(!reloader.check().await, "missing file");
        assert!(!store.is_loaded());
        std::fs::write(&path, RULES).unwrap();
        assert!(reloader.check().await);
        assert_eq!(store.get().unwrap().len(), 1);
        assert!(!reloader.check().await, "same content");

        std::fs::write(&path, "{ not json").unwrap();
        assert!(!reloader.check().await);
        assert!(!reloader.check().await);
        assert_eq!(store.get().unwrap().len(), 1, "last good rules kept");

        std::fs::write(&path, r#"{"version":1,"rules":[]}"#).unwrap();
        assert!(reloader.check().await);
        assert!(store.get().unwrap().is_empty());

        let text = metrics.encode();
        assert!(text.contains(r#"bot_engine_rules_reloads_total{result="ok"} 2"#), "{text}");
        // Missing file, then the malformed content: one each, not one per check.
        assert!(text.contains(r#"bot_engine_rules_reloads_total{result="invalid"} 2"#), "{text}");
    }

    #[test]
    fn watches_the_parent_directory() {
        assert_eq!(watch_dir(Path::new("/etc/bot/rules.json")), Path::new("/etc/bot"));
        assert_eq!(watch_dir(Path::new("rules.json")), Path::new("."));
    }
}
