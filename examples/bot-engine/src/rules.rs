//! Rule matching: the operator's `rules.json` compiled once (keywords lowercased, patterns built) and matched
//! against the events the platforms deliver.
//!
//! - `message` rules fire when the text contains any keyword (case-insensitive, Unicode lowercase) or matches
//!   the `pattern` (a [`regex`], unanchored). A message rule with neither keywords nor a pattern fires on every
//!   message (a catch-all reply). Empty keywords are ignored; a rule whose keywords are all empty (and has no
//!   pattern) never fires: it is not a catch-all.
//! - `postback` rules fire on postbacks; with keywords or a pattern, only when the postback data matches them
//!   the same way.
//! - `join` and `follow` rules fire on those events (keywords and pattern are ignored).
//! - `schedule` rules never fire here: the webhook path only answers platform events (a scheduler is not part of
//!   this engine).
//!
//! Every matching rule replies, in rule order (the file's order, which the operator sorts by Event name), each
//! with all of its actions in order.

use bot_api::rules::Rules;
use bot_api::v1alpha1::TriggerType;
use regex::Regex;

/// Why a rules file cannot be used. The engine then keeps the rules it had.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// Not a rules file (JSON shape or format version).
    #[error(transparent)]
    File(#[from] bot_api::rules::RulesError),
    /// A rule's `pattern` is not a valid regular expression.
    #[error("rule {event:?}: invalid pattern {pattern:?}: {message}")]
    Pattern {
        /// The rule (Event name).
        event: String,
        /// The pattern.
        pattern: String,
        /// The regex crate's explanation.
        message: String,
    },
}

/// The kind of platform event, as rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A text message.
    Message,
    /// The bot joined a group or chat.
    Join,
    /// A user followed (added, started) the bot.
    Follow,
    /// A button or component was pressed; the text is its data.
    Postback,
}

/// An event to match: its kind and its text (message text, postback data, empty otherwise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// The kind.
    pub kind: EventKind,
    /// Message text or postback data.
    pub text: String,
}

impl Inbound {
    /// A text message.
    pub fn message(text: impl Into<String>) -> Self {
        Self { kind: EventKind::Message, text: text.into() }
    }

    /// A postback with its data.
    pub fn postback(data: impl Into<String>) -> Self {
        Self { kind: EventKind::Postback, text: data.into() }
    }

    /// A join.
    pub fn join() -> Self {
        Self { kind: EventKind::Join, text: String::new() }
    }

    /// A follow.
    pub fn follow() -> Self {
        Self { kind: EventKind::Follow, text: String::new() }
    }
}

/// A rule that fired: its Event's name and its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    /// The Event's name.
    pub event: &'a str,
    /// The replies of its actions, in order.
    pub replies: &'a [String],
}

#[derive(Debug)]
struct CompiledRule {
    event: String,
    kind: Option<EventKind>,
    keywords: Vec<String>,
    pattern: Option<Regex>,
    /// No keywords listed and no pattern: every text matches.
    catch_all: bool,
    replies: Vec<String>,
}

impl CompiledRule {
    fn text_matches(&self, text: &str) -> bool {
        if self.catch_all {
            return true;
        }
        let lower = text.to_lowercase();
        self.keywords.iter().any(|k| lower.contains(k.as_str()))
            || self.pattern.as_ref().is_some_and(|p| p.is_match(text))
    }

    fn fires_on(&self, event: &Inbound) -> bool {
        match self.kind {
            Some(kind) if kind == event.kind => match kind {
                EventKind::Message | EventKind::Postback => self.text_matches(&event.text),
                EventKind::Join | EventKind::Follow => true,
            },
            _ => false,
        }
    }
}

/// A compiled rules file.
#[derive(Debug, Default)]
pub struct RuleSet {
    rules: Vec<CompiledRule>,
}

impl RuleSet {
    /// Parses and compiles the text of a rules file.
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        Self::compile(Rules::from_json(text)?)
    }

    /// Compiles rules: lowercases keywords and builds every pattern; one invalid pattern fails the whole set.
    pub fn compile(rules: Rules) -> Result<Self, RulesError> {
        let mut compiled = Vec::with_capacity(rules.rules.len());
        for rule in rules.rules {
            let pattern = match &rule.trigger.pattern {
                Some(p) => Some(Regex::new(p).map_err(|e| RulesError::Pattern {
                    event: rule.event.clone(),
                    pattern: p.clone(),
                    message: e.to_string(),
                })?),
                None => None,
            };
            let kind = match rule.trigger.type_ {
                TriggerType::Message => Some(EventKind::Message),
                TriggerType::Join => Some(EventKind::Join),
                TriggerType::Follow => Some(EventKind::Follow),
                TriggerType::Postback => Some(EventKind::Postback),
                TriggerType::Schedule => None,
            };
            let catch_all = rule.trigger.keywords.is_empty() && pattern.is_none();
            compiled.push(CompiledRule {
                event: rule.event,
                kind,
                catch_all,
                keywords: rule.trigger.keywords.iter().filter(|k| !k.is_empty()).map(|k| k.to_lowercase()).collect(),
                pattern,
                replies: rule.actions.into_iter().map(|a| a.reply).collect(),
            });
        }
        Ok(Self { rules: compiled })
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules firing on `event`, in order.
    pub fn matching<'a>(&'a self, event: &Inbound) -> Vec<Matched<'a>> {
        self.rules
            .iter()
            .filter(|r| r.fires_on(event))
            .map(|r| Matched { event: &r.event, replies: &r.replies })
            .collect()
    }

    /// All replies to `event`: each firing rule's actions, in rule order.
    pub fn replies(&self, event: &Inbound) -> Vec<String> {
        self.matching(event).into_iter().flat_map(|m| m.replies.iter().cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json_rules: &str) -> RuleSet {
        RuleSet::parse(&format!(r#"{{"version":1,"rules":[{json_rules}]}}"#)).unwrap()
    }

    fn rule(event: &str, trigger: &str, replies: &[&str]) -> String {
        let actions: Vec<String> = replies.iter().map(|r| format!(r#"{{"reply":{r:?}}}"#)).collect();
        format!(r#"{{"event":{event:?},"trigger":{trigger},"actions":[{}]}}"#, actions.join(","))
    }

    #[test]
    fn keywords_match_case_insensitively_anywhere_in_the_text() {
        let set = rules(&rule("greet", r#"{"type":"message","keywords":["Hello","hi"]}"#, &["Hello!"]));
        assert_eq!(set.replies(&Inbound::message("well HELLO there")), ["Hello!"]);
        assert_eq!(set.replies(&Inbound::message("Hi")), ["Hello!"]);
        assert_eq!(set.replies(&Inbound::message("ÉCOLE hi")), ["Hello!"]);
        assert!(set.replies(&Inbound::message("good morning")).is_empty());
    }

    #[test]
    fn unicode_keywords_lowercase_too() {
        let set = rules(&rule("cafe", r#"{"type":"message","keywords":["CAFÉ"]}"#, &["coffee"]));
        assert_eq!(set.replies(&Inbound::message("un café, svp")), ["coffee"]);
    }

    #[test]
    fn pattern_matches_as_a_regex() {
        let set = rules(&rule("order", r#"{"type":"message","pattern":"^order #[0-9]+$"}"#, &["On its way"]));
        assert_eq!(set.replies(&Inbound::message("order #42")), ["On its way"]);
        assert!(set.replies(&Inbound::message("order #x")).is_empty());
        assert!(set.replies(&Inbound::message("my order #42")).is_empty());
    }

    #[test]
    fn keywords_or_pattern() {
        let set = rules(&rule("help", r#"{"type":"message","keywords":["help"],"pattern":"^\\?$"}"#, &["Ask me"]));
        assert_eq!(set.replies(&Inbound::message("HELP me")), ["Ask me"]);
        assert_eq!(set.replies(&Inbound::message("?")), ["Ask me"]);
        assert!(set.replies(&Inbound::message("what?")).is_empty());
    }

    #[test]
    fn invalid_pattern_fails_the_whole_file_naming_the_rule() {
        let text = format!(
            r#"{{"version":1,"rules":[{},{}]}}"#,
            rule("fine", r#"{"type":"message","keywords":["a"]}"#, &["a"]),
            rule("broken", r#"{"type":"message","pattern":"(unclosed"}"#, &["b"])
        );
        let err = RuleSet::parse(&text).unwrap_err();
        let message = err.to_string();
        assert!(message.starts_with(r#"rule "broken": invalid pattern "(unclosed""#), "{message}");
        assert!(message.contains("unclosed group"), "{message}");
    }

    #[test]
    fn malformed_and_wrong_version_files_are_refused() {
        assert!(matches!(RuleSet::parse("{"), Err(RulesError::File(_))));
        let err = RuleSet::parse(r#"{"version":9,"rules":[]}"#).unwrap_err();
        assert!(err.to_string().contains("version 9"), "{err}");
    }

    #[test]
    fn follow_join_and_postback_fire_on_their_events_only() {
        let set = rules(
            &[
                rule("welcome", r#"{"type":"follow"}"#, &["Thanks for adding me"]),
                rule("hello-group", r#"{"type":"join","keywords":["ignored"]}"#, &["Hello, group"]),
                rule("any-button", r#"{"type":"postback"}"#, &["Pressed"]),
                rule("buy", r#"{"type":"postback","keywords":["action=buy"]}"#, &["Bought"]),
            ]
            .join(","),
        );
        assert_eq!(set.replies(&Inbound::follow()), ["Thanks for adding me"]);
        assert_eq!(set.replies(&Inbound::join()), ["Hello, group"]);
        assert_eq!(set.replies(&Inbound::postback("action=BUY&item=1")), ["Pressed", "Bought"]);
        assert_eq!(set.replies(&Inbound::postback("action=sell")), ["Pressed"]);
        assert!(set.replies(&Inbound::message("action=buy")).is_empty());
    }

    #[test]
    fn every_matching_rule_replies_in_rule_order_with_all_its_actions() {
        let set = rules(
            &[
                rule("a-greet", r#"{"type":"message","keywords":["hi"]}"#, &["Hello!", "How can I help?"]),
                rule("b-nope", r#"{"type":"message","keywords":["bye"]}"#, &["Bye"]),
                rule("c-catch-all", r#"{"type":"message"}"#, &["(logged)"]),
            ]
            .join(","),
        );
        let event = Inbound::message("hi there");
        let matched: Vec<&str> = set.matching(&event).iter().map(|m| m.event).collect();
        assert_eq!(matched, ["a-greet", "c-catch-all"]);
        assert_eq!(set.replies(&event), ["Hello!", "How can I help?", "(logged)"]);
    }

    #[test]
    fn no_match_means_no_reply_and_schedules_never_fire() {
        let set = rules(
            &[
                rule("greet", r#"{"type":"message","keywords":["hi"]}"#, &["Hello!"]),
                rule("daily", r#"{"type":"schedule","schedule":"0 9 * * *"}"#, &["Good morning"]),
            ]
            .join(","),
        );
        for event in [Inbound::message("good day"), Inbound::follow(), Inbound::join(), Inbound::postback("x")] {
            assert!(set.replies(&event).is_empty(), "{event:?}");
        }
        assert_eq!(set.len(), 2);
        assert!(RuleSet::parse(r#"{"version":1,"rules":[]}"#).unwrap().is_empty());
    }

    #[test]
    fn only_empty_keywords_are_not_a_catch_all() {
        // An Event with `keywords: [""]` (a blank left by a template, say) must not answer every message.
        let set = rules(&rule("blank", r#"{"type":"message","keywords":["", ""]}"#, &["Spam"]));
        assert!(set.replies(&Inbound::message("anything at all")).is_empty());
        let set = rules(&rule("blank", r#"{"type":"postback","keywords":[""]}"#, &["Spam"]));
        assert!(set.replies(&Inbound::postback("action=x")).is_empty());
        let set = rules(&rule("all", r#"{"type":"message","keywords":[]}"#, &["Echo"]));
        assert_eq!(set.replies(&Inbound::message("anything")), ["Echo"], "no keywords at all: catch-all");
    }

    #[test]
    fn empty_keywords_are_ignored() {
        let set = rules(&rule("greet", r#"{"type":"message","keywords":["", "hi"]}"#, &["Hello!"]));
        assert!(set.replies(&Inbound::message("good day")).is_empty());
    }
}
