//! The rules file the operator writes for a Bot's engine (`rules.json` in
//! the `<bot>-rules` ConfigMap, mounted into the engine's pod) and the engine
//! reads: one [`Rule`] per Event its EventBindings select.
//!
//! One type serves both sides, so the writer and the reader cannot drift.

use serde::{Deserialize, Serialize};

use crate::v1alpha1::{Action, Trigger};

/// The format version this crate writes and reads.
pub const RULES_VERSION: u32 = 1;

/// One rule of the engine: an Event, with the bindings that brought it in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The Event's name.
    pub event: String,
    /// The EventBindings (of this Bot) selecting the Event, sorted.
    #[serde(default)]
    pub bindings: Vec<String>,
    /// When it fires.
    pub trigger: Trigger,
    /// What the bot does, in order.
    pub actions: Vec<Action>,
}

/// The content of `rules.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// Format version of this file ([`RULES_VERSION`]).
    pub version: u32,
    /// The rules, sorted by Event name; each Event appears once.
    pub rules: Vec<Rule>,
}

impl Default for Rules {
    fn default() -> Self {
        Self { version: RULES_VERSION, rules: Vec::new() }
    }
}

impl Rules {
    /// Pretty JSON with a trailing newline; deterministic (struct field
    /// order, rules in the order given).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("rules serialize") + "\n"
    }

    /// Parses a rules file, refusing a format version other than
    /// [`RULES_VERSION`].
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        let rules: Rules = serde_json::from_str(text).map_err(RulesError::Json)?;
        if rules.version != RULES_VERSION {
            return Err(RulesError::Version(rules.version));
        }
        Ok(rules)
    }
}

/// Why a rules file could not be read.
#[derive(Debug)]
pub enum RulesError {
    /// Not JSON of the rules' shape.
    Json(serde_json::Error),
    /// A format version this build does not read.
    Version(u32),
}

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RulesError::Json(e) => write!(f, "malformed rules file: {e}"),
            RulesError::Version(v) => write!(f, "rules file version {v} is not supported (expected {RULES_VERSION})"),
        }
    }
}

impl std::error::Error for RulesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RulesError::Json(e) => Some(e),
            RulesError::Version(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let text = r#"{"version":1,"rules":[{"event":"greeting","bindings":["b"],
            "trigger":{"type":"message","keywords":["hi"]},"actions":[{"reply":"Hello!"}]}]}"#;
        let rules = Rules::from_json(text).unwrap();
        assert_eq!(rules.rules[0].actions[0].reply, "Hello!");
        assert_eq!(Rules::from_json(&rules.to_json()).unwrap(), rules);
        let err = Rules::from_json(r#"{"version":2,"rules":[]}"#).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
        assert!(Rules::from_json("{").unwrap_err().to_string().starts_with("malformed"));
    }
}
