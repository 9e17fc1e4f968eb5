//! Label and field selectors as client-go parses, prints and matches them.
//!
//! [`LabelSelector`] is apimachinery's `labels.Parse` (same grammar, same
//! validation of keys and values, same canonical form as `String()`), and
//! [`FieldSelector`] its `fields.ParseSelector` limited to the fields the
//! apiserver supports for every kind (`metadata.name`, `metadata.namespace`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use bot_runtime::selector::LabelSelector;
//!
//! let selector = "app in (a,b),tier!=db".parse::<LabelSelector>()?;
//! let labels = BTreeMap::from([("app".to_string(), "a".to_string())]);
//! assert!(selector.matches(Some(&labels))); // `tier!=db` also holds without a `tier` label
//! assert!(!selector.matches(None));
//! assert_eq!(selector.to_string(), "app in (a,b),tier!=db");
//!
//! let err = "app in (a".parse::<LabelSelector>().unwrap_err();
//! assert_eq!(err.to_string(), r#"label selector "app in (a": at 9: expected ',' or ')', found end of input"#);
//! # Ok::<(), bot_runtime::selector::Error>(())
//! ```
//!
//! The grammar (whitespace allowed around tokens; the empty string selects
//! everything):
//!
//! ```text
//! selector    ::= requirement ("," requirement)*
//! requirement ::= "!" KEY | KEY | KEY ("in" | "notin") "(" [VALUE] ("," [VALUE])* ")"
//!               | KEY ("=" | "==" | "!=") [VALUE] | KEY (">" | "<") INTEGER
//! ```
//!
//! `KEY` is an optional DNS-1123 subdomain prefix (at most 253 bytes) and
//! `/`, then a name of at most 63 bytes matching
//! `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`; a `VALUE` is empty (`x=`,
//! `x in ()`, `x in (a,)`) or such a name, `in` and `notin` included. `!=`
//! and `notin` also match objects without the label; `>` and `<` match only
//! labels that are integers (i64).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    str::FromStr,
};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as MetaLabelSelector, ObjectMeta};
use kube::core::{Expression, Selector};

/// Why a selector or a requirement is not valid.
///
/// The errors of [`LabelSelector::parse`] and [`FieldSelector::parse`] carry
/// the text and the byte offset (from 0) of the token at fault; the others
/// say what is wrong with one key, value or operator, with apimachinery's
/// wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text of a label selector does not follow the grammar.
    #[error("label selector {text:?}: at {position}: expected {expected}, found {}", describe_token(found))]
    Syntax {
        /// The whole selector.
        text: String,
        /// Byte offset of the token found (the length of `text` at its end).
        position: usize,
        /// What the grammar allows there, e.g. `',' or ')'`.
        expected: &'static str,
        /// The token found (empty at the end of the text).
        found: String,
    },
    /// A requirement of a label selector's text is not valid.
    #[error("label selector {text:?}: at {position}: {source}")]
    InvalidRequirement {
        /// The whole selector.
        text: String,
        /// Byte offset of the key or value at fault.
        position: usize,
        /// What is wrong.
        #[source]
        source: Box<Error>,
    },
    /// A term of a field selector's text is not valid.
    #[error("field selector {text:?}: at {position}: {source}")]
    InvalidTerm {
        /// The whole selector.
        text: String,
        /// Byte offset of the term, or of the escape sequence at fault.
        position: usize,
        /// What is wrong.
        #[source]
        source: Box<Error>,
    },
    /// A label key is not an optional DNS-1123 subdomain and `/`, then a name.
    #[error("invalid label key {key:?}: {}", reasons.join("; "))]
    InvalidKey {
        /// The key.
        key: String,
        /// apimachinery's reasons, e.g. `name part must be no more than 63 bytes`.
        reasons: Vec<String>,
    },
    /// A label value is neither empty nor a name.
    #[error("invalid label value {value:?} for key {key:?}: {}", reasons.join("; "))]
    InvalidValue {
        /// The key the value is for.
        key: String,
        /// The value.
        value: String,
        /// apimachinery's reasons, e.g. `must be no more than 63 bytes`.
        reasons: Vec<String>,
    },
    /// The operator takes another number of values.
    #[error("operator '{operator}' with {} values: {}", values.len(), count_rule(*operator))]
    ValueCount {
        /// The operator.
        operator: Operator,
        /// The values given.
        values: Vec<String>,
    },
    /// `gt` and `lt` compare with an integer.
    #[error("operator '{operator}' with value {value:?}: the value must be an integer")]
    NotAnInteger {
        /// [`Operator::GreaterThan`] or [`Operator::LessThan`].
        operator: Operator,
        /// The value.
        value: String,
    },
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists`, `DoesNotExist`.
    #[error("{operator:?} is not a valid label selector operator")]
    UnknownOperator {
        /// The operator as written.
        operator: String,
    },
    /// A field selector term has no `=`, `==` or `!=`.
    #[error("expected '=', '==' or '!=' in {term:?}")]
    MissingOperator {
        /// The term.
        term: String,
    },
    /// A field selector on another field than `metadata.name` or `metadata.namespace`.
    #[error("field label not supported: {field} (only metadata.name and metadata.namespace)")]
    UnsupportedField {
        /// The field.
        field: String,
    },
    /// A field selector compares with another operator than `=`, `==` or `!=`.
    #[error("field selectors support '=', '==' and '!=', not '{operator}'")]
    UnsupportedFieldOperator {
        /// The operator.
        operator: Operator,
    },
    /// A backslash in a field selector value not followed by `\`, `,` or `=`.
    #[error("invalid escape sequence {sequence:?} (only \\\\, \\, and \\= are allowed)")]
    InvalidEscape {
        /// The backslash and what follows it (a lone `\` at the end).
        sequence: String,
    },
    /// A `,` or `=` in a field selector value without a backslash before it.
    #[error("unescaped {character:?} in a value (write \\{character})")]
    UnescapedCharacter {
        /// `,` or `=`.
        character: char,
    },
}

fn describe_token(found: &str) -> String {
    if found.is_empty() { "end of input".to_string() } else { format!("'{found}'") }
}

/// apimachinery's rule on the number of values of `operator`.
fn count_rule(operator: Operator) -> &'static str {
    match operator {
        Operator::In | Operator::NotIn => "for 'in', 'notin' operators, values set can't be empty",
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            "exact-match compatibility requires one single value"
        }
        Operator::Exists | Operator::DoesNotExist => "values set must be empty for exists and does not exist",
        Operator::GreaterThan | Operator::LessThan => "for 'Gt', 'Lt' operators, exactly one value is required",
    }
}

/// How a [`Requirement`] (or a [`FieldRequirement`]) relates a key to its values
/// (client-go's `selection.Operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`: the label is `value`.
    Equals,
    /// `key==value`: the same as [`Operator::Equals`], printed as written.
    DoubleEquals,
    /// `key!=value`: the label is absent or not `value`.
    NotEquals,
    /// `key in (a,b)`: the label is one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>n`: the label is an integer greater than `n`.
    GreaterThan,
    /// `key<n`: the label is an integer less than `n`.
    LessThan,
}

impl Operator {
    /// client-go's name: `=`, `==`, `!=`, `in`, `notin`, `exists`, `!`, `gt`, `lt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------
// Validation of keys and values (apimachinery's content.IsLabelKey, IsLabelValue)

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;
const NAME_MESSAGE: &str =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_REGEX: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_EXAMPLES: &[&str] = &["MyName", "my.name", "123-abc"];
const VALUE_MESSAGE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const VALUE_REGEX: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const VALUE_EXAMPLES: &[&str] = &["MyValue", "my_value", "12345"];
const SUBDOMAIN_MESSAGE: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_REGEX: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// apimachinery's `RegexError` (its spacing included).
fn regex_error(message: &str, regex: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!("{message} (e.g. {}regex used for validation is '{regex}')", examples.join(" or "))
}

fn max_len_error(max: usize) -> String {
    format!("must be no more than {max} bytes")
}

/// Whether `s` matches `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// Whether `s` is a lowercase DNS-1123 subdomain (length not checked).
fn is_subdomain(s: &str) -> bool {
    let lower = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    s.split('.').all(|label| {
        let b = label.as_bytes();
        b.first().is_some_and(lower) && b.last().is_some_and(lower) && b.iter().all(|c| lower(c) || *c == b'-')
    })
}

/// apimachinery's `IsLabelKey`: empty when `key` is valid.
fn key_reasons(key: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                reasons.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > PREFIX_MAX {
                    reasons.push(format!("prefix part {}", max_len_error(PREFIX_MAX)));
                }
                if !is_subdomain(prefix) {
                    let rule = regex_error(SUBDOMAIN_MESSAGE, SUBDOMAIN_REGEX, &["example.com"]);
                    reasons.push(format!("prefix part {rule}"));
                }
            }
            name
        }
        _ => {
            let rule = regex_error(NAME_MESSAGE, NAME_REGEX, NAME_EXAMPLES);
            return vec![format!(
                "a valid label key {rule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    if name.is_empty() {
        reasons.push("name part must be non-empty".to_string());
    } else if name.len() > NAME_MAX {
        reasons.push(format!("name part {}", max_len_error(NAME_MAX)));
    }
    if !is_name(name) {
        reasons.push(format!("name part {}", regex_error(NAME_MESSAGE, NAME_REGEX, NAME_EXAMPLES)));
    }
    reasons
}

/// apimachinery's `IsLabelValue`: empty when `value` is valid.
fn value_reasons(value: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    if value.len() > NAME_MAX {
        reasons.push(max_len_error(NAME_MAX));
    }
    if !value.is_empty() && !is_name(value) {
        reasons.push(regex_error(VALUE_MESSAGE, VALUE_REGEX, VALUE_EXAMPLES));
    }
    reasons
}

/// Go's `%q` of a string (ASCII control characters escaped).
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One problem `NewRequirement` finds, with the field error apimachinery prints for it.
struct Problem {
    /// The index of the value at fault, if a value is.
    value: Option<usize>,
    error: Error,
    /// `field.Error.Error()` of the same problem (its path as `Parse` builds it).
    go: String,
}

/// apimachinery's `NewRequirement` checks, in its order.
fn check(key: &str, operator: Operator, values: &[String]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let reasons = key_reasons(key);
    if !reasons.is_empty() {
        let go = format!("key: Invalid value: {}: {}", go_quote(key), reasons.join("; "));
        problems.push(Problem { value: None, error: Error::InvalidKey { key: key.to_string(), reasons }, go });
    }
    let count_ok = match operator {
        Operator::In | Operator::NotIn => !values.is_empty(),
        Operator::Exists | Operator::DoesNotExist => values.is_empty(),
        _ => values.len() == 1,
    };
    if !count_ok {
        let list: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
        let go = format!("values: Invalid value: [{}]: {}", list.join(","), count_rule(operator));
        problems.push(Problem { value: None, error: Error::ValueCount { operator, values: values.to_vec() }, go });
    }
    if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
        for (i, value) in values.iter().enumerate().filter(|(_, v)| v.parse::<i64>().is_err()) {
            let go = format!(
                "values[{i}]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                go_quote(value)
            );
            problems.push(Problem {
                value: Some(i),
                error: Error::NotAnInteger { operator, value: value.clone() },
                go,
            });
        }
    }
    for (i, value) in values.iter().enumerate() {
        let reasons = value_reasons(value);
        if !reasons.is_empty() {
            let go = format!("values[{i}][{key}]: Invalid value: {}: {}", go_quote(value), reasons.join("; "));
            let error = Error::InvalidValue { key: key.to_string(), value: value.clone(), reasons };
            problems.push(Problem { value: Some(i), error, go });
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Requirements and label selectors

/// One requirement of a [`LabelSelector`]: a key, an [`Operator`] and its values.
///
/// ```
/// use bot_runtime::selector::{Operator, Requirement};
///
/// let tier = Requirement::new("tier", Operator::NotIn, ["db", "cache"])?;
/// assert_eq!(tier.to_string(), "tier notin (cache,db)");
/// assert!(Requirement::new("tier", Operator::In, Vec::<String>::new()).is_err());
/// # Ok::<(), bot_runtime::selector::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// A requirement, validated as apimachinery's `labels.NewRequirement`
    /// does: a valid key; at least one value for `in` and `notin`, exactly
    /// one for `=`, `==`, `!=`, `gt` and `lt` (an integer for the last two),
    /// none for `exists` and `!`; every value empty or a valid name. The
    /// error is the first problem apimachinery reports.
    pub fn new(
        key: impl Into<String>,
        operator: Operator,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<Self, Error> {
        let key = key.into();
        let values: Vec<String> = values.into_iter().map(Into::into).collect();
        match check(&key, operator, &values).into_iter().next() {
            Some(problem) => Err(problem.error),
            None => Ok(Requirement { key, operator, values: values.into_iter().collect() }),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (empty for [`Operator::Exists`] and [`Operator::DoesNotExist`]).
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// Whether an object with `labels` (`None`: no labels) satisfies this requirement.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.matches_value(labels.and_then(|l| l.get(&self.key)).map(String::as_str))
    }

    /// Whether a label whose value is `value` (`None`: absent) satisfies this requirement.
    fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                // Exactly one bound, an integer, and a label that is one.
                let mut values = self.values.iter();
                let (Some(bound), None) = (values.next(), values.next()) else { return false };
                let (Some(actual), Ok(bound)) = (value.and_then(|v| v.parse::<i64>().ok()), bound.parse::<i64>())
                else {
                    return false;
                };
                if self.operator == Operator::GreaterThan { actual > bound } else { actual < bound }
            }
        }
    }

    /// The kube-core expression, if there is one (none for `gt` and `lt`).
    fn to_expression(&self) -> Option<Expression> {
        let key = self.key.clone();
        let single = || self.values.first().cloned().unwrap_or_default();
        Some(match self.operator {
            Operator::Equals | Operator::DoubleEquals => Expression::Equal(key, single()),
            Operator::NotEquals => Expression::NotEqual(key, single()),
            Operator::In => Expression::In(key, self.values.clone()),
            Operator::NotIn => Expression::NotIn(key, self.values.clone()),
            Operator::Exists => Expression::Exists(key),
            Operator::DoesNotExist => Expression::DoesNotExist(key),
            Operator::GreaterThan | Operator::LessThan => return None,
        })
    }

    /// A requirement from a kube-core expression, not validated.
    fn from_expression(expression: Expression) -> Self {
        let (key, operator, values) = match expression {
            Expression::Equal(k, v) => (k, Operator::Equals, BTreeSet::from([v])),
            Expression::NotEqual(k, v) => (k, Operator::NotEquals, BTreeSet::from([v])),
            Expression::In(k, values) => (k, Operator::In, values),
            Expression::NotIn(k, values) => (k, Operator::NotIn, values),
            Expression::Exists(k) => (k, Operator::Exists, BTreeSet::new()),
            Expression::DoesNotExist(k) => (k, Operator::DoesNotExist, BTreeSet::new()),
        };
        Requirement { key, operator, values }
    }
}

impl fmt::Display for Requirement {
    /// client-go's `Requirement.String()`: `!key`, `key`, `key=v`, `key==v`,
    /// `key!=v`, `key in (a,b)`, `key notin (a,b)`, `key>n`, `key<n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operator = match self.operator {
            Operator::Exists => return f.write_str(&self.key),
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
        };
        let values = self.values.iter().map(String::as_str).collect::<Vec<_>>().join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{operator}({values})", self.key),
            _ => write!(f, "{}{operator}{values}", self.key),
        }
    }
}

/// A label selector: every requirement must hold (client-go's `labels.Selector`).
///
/// The default selects everything. Requirements are kept sorted by key
/// (stably, as client-go's `Parse` and `Add` sort them), so two selectors
/// are equal when their canonical forms ([`Display`](fmt::Display), client-go's
/// `String()`) are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that selects everything (no requirement).
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    /// Whether this selector selects everything.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object with `labels` (`None`: no labels) is selected.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.matches_lookup(|key| labels.and_then(|l| l.get(key)).map(String::as_str))
    }

    /// Whether an object whose labels `lookup` reads is selected.
    pub(crate) fn matches_lookup<'v>(&self, lookup: impl Fn(&str) -> Option<&'v str>) -> bool {
        self.requirements.iter().all(|r| r.matches_value(lookup(&r.key)))
    }

    /// This selector with one more requirement (kept sorted by key).
    pub fn and(mut self, requirement: Requirement) -> Self {
        self.requirements.push(requirement);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    /// Parses `text` as client-go's `labels.Parse` does (see the [module docs](self)).
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_labels(text).map_err(|failure| failure.into_error(text))
    }

    /// Parses `text` as [`parse`](Self::parse) does; the error is the
    /// message the apiserver answers a list with this `labelSelector` with.
    #[cfg_attr(not(feature = "fake"), allow(dead_code))] // used by the fake API server
    pub(crate) fn parse_as_apiserver(text: &str) -> Result<Self, String> {
        parse_labels(text).map_err(|failure| failure.apimachinery_message(text))
    }

    /// The kube-core selector selecting the same objects; `None` when a
    /// requirement is `gt` or `lt`, which kube-core cannot express.
    /// (`==` becomes `=`.)
    pub fn to_kube(&self) -> Option<Selector> {
        self.requirements.iter().map(Requirement::to_expression).collect()
    }

    fn from_requirements(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        requirements.into_iter().fold(LabelSelector::default(), LabelSelector::and)
    }
}

impl FromStr for LabelSelector {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        LabelSelector::parse(text)
    }
}

/// `items` joined by `,`.
fn write_joined(f: &mut fmt::Formatter<'_>, items: &[impl fmt::Display]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

impl fmt::Display for LabelSelector {
    /// client-go's `String()`: the requirements joined by `,` (`""` for everything).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.requirements)
    }
}

/// List and watch parameters selecting what `selector` selects (the API
/// server applies it), as the clientsets take them:
///
/// ```no_run
/// # async fn demo(api: kube::Api<k8s_openapi::api::core::v1::ConfigMap>) -> Result<(), Box<dyn std::error::Error>> {
/// use bot_runtime::selector::LabelSelector;
/// let selector: LabelSelector = "app in (a,b),!legacy".parse()?;
/// let listed = api.list(&(&selector).into()).await?;
/// # Ok(()) }
/// ```
impl From<&LabelSelector> for kube::api::ListParams {
    fn from(selector: &LabelSelector) -> Self {
        kube::api::ListParams::default().labels(&selector.to_string())
    }
}

/// As `From<&LabelSelector>`, for a field selector.
impl From<&FieldSelector> for kube::api::ListParams {
    fn from(selector: &FieldSelector) -> Self {
        kube::api::ListParams::default().fields(&selector.to_string())
    }
}

impl From<Selector> for LabelSelector {
    /// kube-core's selector, sorted by key. Its expressions are taken as
    /// they are, not validated (as client-go's `SelectorFromValidatedSet`):
    /// an `In` without values matches nothing, a `NotIn` without values
    /// everything.
    fn from(selector: Selector) -> Self {
        LabelSelector::from_requirements(selector.into_iter().map(Requirement::from_expression))
    }
}

impl From<&Selector> for LabelSelector {
    /// As `From<Selector>`.
    fn from(selector: &Selector) -> Self {
        LabelSelector::from(selector.clone())
    }
}

impl TryFrom<&MetaLabelSelector> for LabelSelector {
    type Error = Error;

    /// As client-go's `metav1.LabelSelectorAsSelector`: `matchLabels` as
    /// `key=value` and `matchExpressions` (`In`, `NotIn`, `Exists`,
    /// `DoesNotExist`) as requirements, validated; nothing to match
    /// selects everything.
    fn try_from(selector: &MetaLabelSelector) -> Result<Self, Error> {
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            requirements.push(Requirement::new(key.as_str(), Operator::Equals, [value.as_str()])?);
        }
        for expression in selector.match_expressions.iter().flatten() {
            let operator = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(Error::UnknownOperator { operator: other.to_string() }),
            };
            let values = expression.values.iter().flatten().map(String::as_str);
            requirements.push(Requirement::new(expression.key.as_str(), operator, values)?);
        }
        Ok(LabelSelector::from_requirements(requirements))
    }
}

// ---------------------------------------------------------------------------
// The lexer and parser (apimachinery's, token for token)

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

/// A token and where it is in the text (`start..end`).
#[derive(Clone, Copy, Debug)]
struct Item {
    token: Token,
    start: usize,
    end: usize,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// The tokens of `text` up to the first end token, as apimachinery's lexer
/// reads them: bytes, the longest operator, and a NUL byte read as the end
/// (at the start of a token) or as a separator (right after one).
fn lex(text: &str) -> Vec<Item> {
    let bytes = text.as_bytes();
    let (mut items, mut pos) = (Vec::new(), 0);
    loop {
        while bytes.get(pos).copied().is_some_and(is_whitespace) {
            pos += 1;
        }
        let start = pos;
        let token = match bytes.get(pos) {
            None | Some(0) => {
                items.push(Item { token: Token::End, start, end: start });
                return items;
            }
            Some(&b) if is_special(b) => {
                let pair = bytes.get(pos..pos + 2);
                pos += if pair == Some(b"==") || pair == Some(b"!=") { 2 } else { 1 };
                match &bytes[start..pos] {
                    b"==" => Token::DoubleEquals,
                    b"!=" => Token::NotEquals,
                    b"=" => Token::Equals,
                    b"!" => Token::DoesNotExist,
                    b"(" => Token::OpenPar,
                    b")" => Token::ClosedPar,
                    b"," => Token::Comma,
                    b">" => Token::GreaterThan,
                    _ => Token::LessThan,
                }
            }
            Some(_) => {
                while bytes.get(pos).is_some_and(|&b| b != 0 && !is_special(b) && !is_whitespace(b)) {
                    pos += 1;
                }
                match &text[start..pos] {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Identifier,
                }
            }
        };
        items.push(Item { token, start, end: pos });
        if bytes.get(pos) == Some(&0) {
            pos += 1;
        }
    }
}

/// Where the grammar stopped: what it expected (both wordings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Site {
    Start,
    AfterRequirement,
    AfterComma,
    Key,
    Operator,
    OpenParen,
    FirstValue,
    CloseParen,
    NextValue,
    ValueAfterComma,
    ExactValue,
}

impl Site {
    fn expected(self) -> &'static str {
        match self {
            Site::Start => "'!', a key or end of input",
            Site::AfterRequirement => "',' or end of input",
            Site::AfterComma => "'!' or a key after ','",
            Site::Key => "a key",
            Site::Operator => "an operator (in, notin, =, ==, !=, >, <), ',' or end of input",
            Site::OpenParen => "'('",
            Site::FirstValue | Site::ValueAfterComma => "a value, ',' or ')'",
            Site::CloseParen => "')'",
            Site::NextValue => "',' or ')'",
            Site::ExactValue => "a value, ',' or end of input",
        }
    }

    /// apimachinery's message (with its `unable to parse requirement: ` prefix where it has one).
    #[cfg_attr(not(feature = "fake"), allow(dead_code))] // used by the fake API server
    fn go_message(self, found: &str) -> String {
        let inner = |expected: &str| format!("unable to parse requirement: found '{found}', expected: {expected}");
        match self {
            Site::Start => format!("found '{found}', expected: !, identifier, or 'end of string'"),
            Site::AfterRequirement => format!("found '{found}', expected: ',' or 'end of string'"),
            Site::AfterComma => format!("found '{found}', expected: identifier after ','"),
            Site::Key | Site::ExactValue => inner("identifier"),
            Site::Operator => inner("in, notin, =, ==, !=, gt, lt"),
            Site::OpenParen => format!("unable to parse requirement: found '{found}' expected: '('"),
            Site::FirstValue => inner("',', ')' or identifier"),
            Site::CloseParen => inner("')'"),
            Site::NextValue => inner("',' or ')'"),
            Site::ValueAfterComma => inner("',', or identifier"),
        }
    }
}

/// Why a label selector's text did not parse.
#[cfg_attr(not(feature = "fake"), allow(dead_code))] // `go`: the fake API server's messages
enum Failure {
    /// The grammar wanted `site` and found `found`.
    Syntax { site: Site, found: Item },
    /// A requirement is not valid: the first problem and its byte offset,
    /// and apimachinery's message for each problem.
    Invalid { position: usize, error: Error, go: Vec<String> },
}

impl Failure {
    /// The failure of a requirement with `problems` (each with its byte
    /// offset), if it has any.
    fn invalid(problems: Vec<(usize, Problem)>) -> Option<Failure> {
        let go = problems.iter().map(|(_, p)| p.go.clone()).collect();
        let (position, first) = problems.into_iter().next()?;
        Some(Failure::Invalid { position, error: first.error, go })
    }

    fn into_error(self, text: &str) -> Error {
        match self {
            Failure::Syntax { site, found } => Error::Syntax {
                text: text.to_string(),
                position: found.start,
                expected: site.expected(),
                found: text[found.start..found.end].to_string(),
            },
            Failure::Invalid { position, error, .. } => {
                Error::InvalidRequirement { text: text.to_string(), position, source: Box::new(error) }
            }
        }
    }

    /// apimachinery's error message for the same text.
    #[cfg_attr(not(feature = "fake"), allow(dead_code))] // used by the fake API server
    fn apimachinery_message(&self, text: &str) -> String {
        match self {
            Failure::Syntax { site, found } => site.go_message(&text[found.start..found.end]),
            Failure::Invalid { go, .. } => {
                // An aggregate: one error as it is, several (without repeats) in brackets.
                let mut messages: Vec<&str> = Vec::new();
                for message in go {
                    if !messages.contains(&message.as_str()) {
                        messages.push(message);
                    }
                }
                match &messages[..] {
                    [one] => format!("unable to parse requirement: {one}"),
                    many => format!("unable to parse requirement: [{}]", many.join(", ")),
                }
            }
        }
    }
}

/// Whether `in` and `notin` are operators or identifiers where the parser looks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser<'a> {
    text: &'a str,
    items: Vec<Item>,
    position: usize,
}

fn syntax(site: Site, found: Item) -> Failure {
    Failure::Syntax { site, found }
}

/// `text` parsed, its requirements sorted by key.
fn parse_labels(text: &str) -> Result<LabelSelector, Failure> {
    let mut parser = Parser { text, items: lex(text), position: 0 };
    let mut requirements = parser.selector()?;
    requirements.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(LabelSelector { requirements })
}

impl Parser<'_> {
    fn lookahead(&self, context: Context) -> Item {
        // The items end with an end token, which the parser never consumes past.
        let mut item = self.items[self.position.min(self.items.len() - 1)];
        if context == Context::Values && matches!(item.token, Token::In | Token::NotIn) {
            item.token = Token::Identifier;
        }
        item
    }

    fn consume(&mut self, context: Context) -> Item {
        let item = self.lookahead(context);
        self.position += 1;
        item
    }

    fn literal(&self, item: Item) -> String {
        self.text[item.start..item.end].to_string()
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, Failure> {
        let mut requirements = Vec::new();
        loop {
            let next = self.lookahead(Context::Values);
            match next.token {
                Token::Identifier | Token::DoesNotExist => {
                    requirements.push(self.requirement()?);
                    let after = self.consume(Context::Values);
                    match after.token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let next = self.lookahead(Context::Values);
                            if !matches!(next.token, Token::Identifier | Token::DoesNotExist) {
                                return Err(syntax(Site::AfterComma, next));
                            }
                        }
                        _ => return Err(syntax(Site::AfterRequirement, after)),
                    }
                }
                Token::End => return Ok(requirements),
                _ => return Err(syntax(Site::Start, next)),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, Failure> {
        let mut first = self.consume(Context::Values);
        let negated = first.token == Token::DoesNotExist;
        if negated {
            first = self.consume(Context::Values);
        }
        if first.token != Token::Identifier {
            return Err(syntax(Site::Key, first));
        }
        let key = self.literal(first);
        let reasons = key_reasons(&key);
        if !reasons.is_empty() {
            // Parse checks the key itself, with no field path: Go prints `<nil>`.
            let go = vec![format!("<nil>: Invalid value: {}: {}", go_quote(&key), reasons.join("; "))];
            return Err(Failure::Invalid { position: first.start, error: Error::InvalidKey { key, reasons }, go });
        }
        let next = self.lookahead(Context::Values).token;
        let operator = if negated {
            Operator::DoesNotExist
        } else if matches!(next, Token::End | Token::Comma) {
            Operator::Exists
        } else {
            self.operator()?
        };
        let values = match operator {
            Operator::Exists | Operator::DoesNotExist => Vec::new(),
            Operator::In | Operator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        // A set, as apimachinery's: sorted, each value at its first position.
        let mut positions = BTreeMap::new();
        for (value, position) in values {
            positions.entry(value).or_insert(position);
        }
        let (values, positions): (Vec<String>, Vec<usize>) = positions.into_iter().unzip();
        let at = |p: Problem| (p.value.map_or(first.start, |i| positions[i]), p);
        if let Some(failure) = Failure::invalid(check(&key, operator, &values).into_iter().map(at).collect()) {
            return Err(failure);
        }
        Ok(Requirement { key, operator, values: values.into_iter().collect() })
    }

    fn operator(&mut self) -> Result<Operator, Failure> {
        let item = self.consume(Context::KeyAndOperator);
        Ok(match item.token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            _ => return Err(syntax(Site::Operator, item)),
        })
    }

    /// `(a,b)`: the values with their positions (an empty value where two
    /// commas, a comma and a parenthesis or two parentheses meet).
    fn values(&mut self) -> Result<Vec<(String, usize)>, Failure> {
        let open = self.consume(Context::Values);
        if open.token != Token::OpenPar {
            return Err(syntax(Site::OpenParen, open));
        }
        let next = self.lookahead(Context::Values);
        match next.token {
            Token::Identifier | Token::Comma => {
                let values = self.identifiers()?;
                if self.consume(Context::Values).token != Token::ClosedPar {
                    // Unreachable (the list ends before a ')'); apimachinery reports `next`.
                    return Err(syntax(Site::CloseParen, next));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![(String::new(), next.start)])
            }
            _ => Err(syntax(Site::FirstValue, next)),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<(String, usize)>, Failure> {
        let mut values = Vec::new();
        loop {
            let item = self.consume(Context::Values);
            match item.token {
                Token::Identifier => {
                    values.push((self.literal(item), item.start));
                    let next = self.lookahead(Context::Values);
                    match next.token {
                        Token::Comma => {}
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(syntax(Site::NextValue, next)),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push((String::new(), item.start));
                    }
                    let next = self.lookahead(Context::Values);
                    match next.token {
                        Token::ClosedPar => {
                            values.push((String::new(), next.start));
                            return Ok(values);
                        }
                        Token::Comma => values.push((String::new(), next.start)),
                        _ => {}
                    }
                }
                _ => return Err(syntax(Site::ValueAfterComma, item)),
            }
        }
    }

    /// The one value of `=`, `==`, `!=`, `>`, `<` (empty before `,` or the end).
    fn exact_value(&mut self) -> Result<Vec<(String, usize)>, Failure> {
        let next = self.lookahead(Context::Values);
        if matches!(next.token, Token::End | Token::Comma) {
            return Ok(vec![(String::new(), next.start)]);
        }
        let item = self.consume(Context::Values);
        if item.token != Token::Identifier {
            return Err(syntax(Site::ExactValue, item));
        }
        Ok(vec![(self.literal(item), item.start)])
    }
}

// ---------------------------------------------------------------------------
// Field selectors

/// The fields every kind can be selected on.
const METADATA_FIELDS: [&str; 2] = ["metadata.name", "metadata.namespace"];

/// One term of a [`FieldSelector`]: a field, `=` or `!=`, and a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRequirement {
    field: String,
    operator: Operator,
    value: String,
}

impl FieldRequirement {
    /// A term on `metadata.name` or `metadata.namespace` with
    /// [`Operator::Equals`], [`Operator::DoubleEquals`] (kept as
    /// `Equals`, as client-go does) or [`Operator::NotEquals`]. The value is
    /// any string (not escaped).
    pub fn new(field: impl Into<String>, operator: Operator, value: impl Into<String>) -> Result<Self, Error> {
        let field = field.into();
        if !METADATA_FIELDS.contains(&field.as_str()) {
            return Err(Error::UnsupportedField { field });
        }
        let operator = match operator {
            Operator::Equals | Operator::DoubleEquals => Operator::Equals,
            Operator::NotEquals => Operator::NotEquals,
            operator => return Err(Error::UnsupportedFieldOperator { operator }),
        };
        Ok(FieldRequirement { field, operator, value: value.into() })
    }

    /// The field, e.g. `metadata.name`.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// [`Operator::Equals`] or [`Operator::NotEquals`].
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The value (not escaped).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether an object with `metadata` satisfies this term (an absent name
    /// or namespace is the empty string, as for the apiserver).
    pub fn matches(&self, metadata: &ObjectMeta) -> bool {
        self.matches_field(&metadata_field(metadata, &self.field))
    }

    fn matches_field(&self, actual: &str) -> bool {
        (actual == self.value) == (self.operator == Operator::Equals)
    }
}

fn metadata_field(metadata: &ObjectMeta, field: &str) -> String {
    match field {
        "metadata.name" => metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => metadata.namespace.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

impl fmt::Display for FieldRequirement {
    /// client-go's form: `field=value` or `field!=value`, with `\`, `,` and `=` escaped in the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.operator == Operator::Equals { "=" } else { "!=" };
        let value = self.value.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=");
        write!(f, "{}{op}{value}", self.field)
    }
}

/// A field selector: every term must hold (client-go's `fields.Selector`,
/// on the fields the apiserver supports for every kind).
///
/// ```
/// use bot_runtime::selector::FieldSelector;
/// use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
///
/// let selector: FieldSelector = "metadata.name!=a,metadata.namespace==prod".parse()?;
/// let meta = ObjectMeta { name: Some("b".into()), namespace: Some("prod".into()), ..Default::default() };
/// assert!(selector.matches(&meta));
/// assert_eq!(selector.to_string(), "metadata.name!=a,metadata.namespace=prod");
/// assert!("spec.nodeName=n1".parse::<FieldSelector>().is_err());
/// # Ok::<(), bot_runtime::selector::Error>(())
/// ```
///
/// As client-go's: no whitespace is trimmed; `\`, `,` and `=` in values
/// are escaped with a backslash; the terms are kept sorted by their
/// canonical form; `==` is the same as `=` (and printed so).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// The selector that selects everything.
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    /// Whether this selector selects everything.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The terms, sorted by their canonical form.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// This selector with one more term.
    pub fn and(mut self, requirement: FieldRequirement) -> Self {
        self.requirements.push(requirement);
        self.requirements.sort_by_cached_key(ToString::to_string);
        self
    }

    /// Whether an object with `metadata` is selected.
    pub fn matches(&self, metadata: &ObjectMeta) -> bool {
        self.matches_with(|field| metadata_field(metadata, field))
    }

    /// Whether an object whose fields `get` reads is selected.
    pub(crate) fn matches_with(&self, get: impl Fn(&str) -> String) -> bool {
        self.requirements.iter().all(|r| r.matches_field(&get(&r.field)))
    }

    /// Parses `text` as client-go's `fields.ParseSelector` does, accepting
    /// only `metadata.name` and `metadata.namespace`.
    pub fn parse(text: &str) -> Result<Self, Error> {
        parse_fields(text, &[]).map_err(|(position, source)| Error::InvalidTerm {
            text: text.to_string(),
            position,
            source: Box::new(source),
        })
    }

    /// Parses `text` as the apiserver does for a kind that also supports
    /// the fields `supported`; the error is the apiserver's message.
    #[cfg_attr(not(feature = "fake"), allow(dead_code))] // used by the fake API server
    pub(crate) fn parse_as_apiserver(text: &str, supported: &[&str]) -> Result<Self, String> {
        parse_fields(text, supported).map_err(|(_, error)| match error {
            Error::MissingOperator { term } => format!("invalid selector: '{text}'; can't understand '{term}'"),
            Error::UnsupportedField { field } => format!("field label not supported: {field}"),
            Error::InvalidEscape { sequence } => {
                format!("invalid field selector: invalid escape sequence: {sequence}")
            }
            Error::UnescapedCharacter { character } => {
                format!("invalid field selector: unescaped character in value: {}", u32::from(character))
            }
            other => other.to_string(),
        })
    }
}

/// The terms of `text` with their byte offsets: split at commas without a
/// backslash before them, in client-go's order (sorted as strings).
fn split_terms(text: &str) -> Vec<(usize, &str)> {
    if text.is_empty() {
        return Vec::new();
    }
    let (mut terms, mut start, mut escaped) = (Vec::new(), 0, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push((start, &text[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push((start, &text[start..]));
    terms.sort_by_key(|(_, term)| *term);
    terms
}

/// `value` without its escapes; the error's offset is relative to `value`.
fn unescape(value: &str) -> Result<String, (usize, Error)> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, c @ ('\\' | ',' | '='))) => out.push(c),
                Some((_, c)) => return Err((i, Error::InvalidEscape { sequence: format!("\\{c}") })),
                None => return Err((i, Error::InvalidEscape { sequence: "\\".to_string() })),
            },
            ',' | '=' => return Err((i, Error::UnescapedCharacter { character: c })),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// client-go's `fields.ParseSelector`, then the apiserver's check of the
/// fields (metadata fields and `supported`); errors with their byte offset.
fn parse_fields(text: &str, supported: &[&str]) -> Result<FieldSelector, (usize, Error)> {
    let mut requirements = Vec::new();
    for (start, term) in split_terms(text).into_iter().filter(|(_, term)| !term.is_empty()) {
        // The first `!=`, `==` or `=` (in this order at each position) splits the term.
        let split = term.char_indices().find_map(|(i, _)| {
            let rest = &term[i..];
            ["!=", "==", "="].into_iter().find(|op| rest.starts_with(op)).map(|op| (i, op))
        });
        let Some((at, op)) = split else {
            return Err((start, Error::MissingOperator { term: term.to_string() }));
        };
        let value_start = at + op.len();
        let value = unescape(&term[value_start..]).map_err(|(i, e)| (start + value_start + i, e))?;
        if at == 0 && value.is_empty() {
            continue; // `=`, `==`, `!=`: client-go drops a term without field and value
        }
        let operator = if op == "!=" { Operator::NotEquals } else { Operator::Equals };
        requirements.push((start, FieldRequirement { field: term[..at].to_string(), operator, value }));
    }
    for (start, requirement) in &requirements {
        let field = requirement.field.as_str();
        if !METADATA_FIELDS.contains(&field) && !supported.contains(&field) {
            return Err((*start, Error::UnsupportedField { field: field.to_string() }));
        }
    }
    let mut requirements: Vec<FieldRequirement> = requirements.into_iter().map(|(_, r)| r).collect();
    requirements.sort_by_cached_key(ToString::to_string);
    Ok(FieldSelector { requirements })
}

impl FromStr for FieldSelector {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        FieldSelector::parse(text)
    }
}

impl fmt::Display for FieldSelector {
    /// client-go's `String()`: the terms joined by `,` (`""` for everything).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_joined(f, &self.requirements)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_params_carry_the_canonical_form() {
        let labels: LabelSelector = "tier!=db, app in (b,a)".parse().unwrap();
        let fields: FieldSelector = "metadata.name=x".parse().unwrap();
        assert_eq!(kube::api::ListParams::from(&labels).label_selector.as_deref(), Some("app in (a,b),tier!=db"));
        assert_eq!(kube::api::ListParams::from(&fields).field_selector.as_deref(), Some("metadata.name=x"));
    }

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    /// Label selectors and what apimachinery v0.36.3's `labels.Parse` makes
    /// of them: `String()`, or the error message (the apiserver's answer).
    /// From selector_test.go (TestSelectorParse, TestSetSelectorParser,
    /// TestSelectorMatches) and more, each checked against the Go code.
    const LABEL_CASES: &[(&str, Result<&str, &str>)] = &[
        ("x=a,y=b,z=c", Ok("x=a,y=b,z=c")),
        ("", Ok("")),
        ("x!=a,y=b", Ok("x!=a,y=b")),
        ("x=", Ok("x=")),
        ("x= ", Ok("x=")),
        ("x=,z= ", Ok("x=,z=")),
        ("x= ,z= ", Ok("x=,z=")),
        ("x =", Ok("x=")),
        ("x==", Ok("x==")),
        ("!x", Ok("!x")),
        ("x>1", Ok("x>1")),
        ("x>1,z<5", Ok("x>1,z<5")),
        ("\rx", Ok("x")),
        ("a ", Ok("a")),
        ("this-is-a-dns.domain.com/key-with-dash", Ok("this-is-a-dns.domain.com/key-with-dash")),
        (
            "this-is-another-dns.domain.com/key-with-dash in (so,what)",
            Ok("this-is-another-dns.domain.com/key-with-dash in (so,what)"),
        ),
        (
            "0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
            Ok("0.1.2.domain/99 notin (10.10.100.1,tick.tack.clock)"),
        ),
        ("foo  in\t (abc)", Ok("foo in (abc)")),
        ("x notin\n (abc)", Ok("x notin (abc)")),
        ("x in (abc,)", Ok("x in (,abc)")),
        ("x in (abc,abc)", Ok("x in (abc)")),
        ("x in ()", Ok("x in ()")),
        ("x notin ( )", Ok("x notin ()")),
        ("x notin (, a)", Ok("x notin (,a)")),
        ("x in (a,,)", Ok("x in (,a)")),
        ("x in (a,,a,,a,,a,,)", Ok("x in (,a)")),
        ("x notin (abc,,def),bar,z in (),w", Ok("bar,w,x notin (,abc,def),z in ()")),
        ("x,y in (a)", Ok("x,y in (a)")),
        ("x=a,y!=b,z in (h,i,j)", Ok("x=a,y!=b,z in (h,i,j)")),
        ("a in (x,y,notin, z,in)", Ok("a in (in,notin,x,y,z)")),
        ("notin=in", Ok("notin=in")),
        ("x=a,a=x", Ok("a=x,x=a")),
        ("a==b,a=c", Ok("a==b,a=c")),
        // A NUL byte ends the text at the start of a token, and separates right after one.
        ("x=\0a", Ok("x=a")),
        ("a \0b", Ok("a")),
        ("x==a==b", Err("found '==', expected: ',' or 'end of string'")),
        ("!x=a", Err("found '=', expected: ',' or 'end of string'")),
        ("!x y", Err("found 'y', expected: ',' or 'end of string'")),
        ("a in (xyz)b notin ()", Err("found 'b', expected: ',' or 'end of string'")),
        ("x in (a)(b)", Err("found '(', expected: ',' or 'end of string'")),
        ("x,,y", Err("found ',', expected: identifier after ','")),
        ("a in (xyz),", Err("found '', expected: identifier after ','")),
        (",x,y", Err("found ',', expected: !, identifier, or 'end of string'")),
        ("(", Err("found '(', expected: !, identifier, or 'end of string'")),
        ("!", Err("unable to parse requirement: found '', expected: identifier")),
        ("x nott in (y)", Err("unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt")),
        ("x exists", Err("unable to parse requirement: found 'exists', expected: in, notin, =, ==, !=, gt, lt")),
        ("a (", Err("unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt")),
        ("tier in web", Err("unable to parse requirement: found 'web' expected: '('")),
        ("a notin(", Err("unable to parse requirement: found '', expected: ',', ')' or identifier")),
        ("a in (xyz abc)", Err("unable to parse requirement: found 'abc', expected: ',' or ')'")),
        ("app in (a", Err("unable to parse requirement: found '', expected: ',' or ')'")),
        ("x in (,", Err("unable to parse requirement: found '', expected: ',', or identifier")),
        ("x in (a,(b)", Err("unable to parse requirement: found '(', expected: ',', or identifier")),
        ("x=(a)", Err("unable to parse requirement: found '(', expected: identifier")),
        (
            "x<a",
            Err(
                "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ),
        (
            "x<",
            Err(
                "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ),
        (
            "x>9223372036854775808",
            Err(
                "unable to parse requirement: values[0]: Invalid value: \"9223372036854775808\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
        ),
        ("/x", Err("unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty")),
        (
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            Err(
                "unable to parse requirement: <nil>: Invalid value: \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\": name part must be no more than 63 bytes",
            ),
        ),
        (
            "x=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
            Err(
                "unable to parse requirement: values[0][x]: Invalid value: \"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\": must be no more than 63 bytes",
            ),
        ),
        (
            "a$b",
            Err(
                "unable to parse requirement: <nil>: Invalid value: \"a$b\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
        ),
        (
            "x=a||y=b",
            Err(
                "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
            ),
        ),
        (
            "Example.com/x",
            Err(
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/x\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
        ),
        (
            "x>a$",
            Err(
                "unable to parse requirement: [values[0]: Invalid value: \"a$\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"a$\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]",
            ),
        ),
    ];

    #[test]
    fn label_selectors_parse_and_print_as_client_go() {
        for (text, expected) in LABEL_CASES {
            let got = LabelSelector::parse_as_apiserver(text).map(|s| s.to_string());
            assert_eq!(got.as_deref().map_err(String::as_str), *expected, "{text:?}");
            // The public parser agrees on which texts are valid, and prints the same.
            let public = LabelSelector::parse(text).map(|s| s.to_string());
            assert_eq!(public.as_deref().ok(), expected.ok(), "{text:?}");
        }
    }

    /// The prefix, name and value messages of apimachinery for the other key shapes.
    #[test]
    fn key_and_value_reasons() {
        assert_eq!(
            key_reasons("example.com/"),
            [
                "name part must be non-empty".to_string(),
                format!("name part {}", regex_error(NAME_MESSAGE, NAME_REGEX, NAME_EXAMPLES))
            ]
        );
        assert!(key_reasons("a/b/c")[0].starts_with("a valid label key must consist of"));
        assert!(
            key_reasons("a/b/c")[0]
                .ends_with("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
        );
        let long_prefix = format!("{}/x", "p".repeat(254));
        assert_eq!(key_reasons(&long_prefix), ["prefix part must be no more than 253 bytes"]);
        assert!(key_reasons(&format!("{}/x", "p".repeat(253))).is_empty());
        assert!(key_reasons(&"x".repeat(63)).is_empty());
        assert_eq!(key_reasons("a.b-c_D/9").len(), 1, "'_' and upper case are fine in names, not in prefixes");
        assert!(key_reasons("a.b-c/D_9").is_empty());
        assert!(value_reasons("").is_empty());
        assert_eq!(value_reasons(&"v".repeat(64)), ["must be no more than 63 bytes"]);
        assert_eq!(value_reasons("-1").len(), 1);
    }

    #[test]
    fn public_errors_say_where_and_what() {
        let cases: &[(&str, &str)] = &[
            ("app in (a", r#"label selector "app in (a": at 9: expected ',' or ')', found end of input"#),
            ("x==a==b", r#"label selector "x==a==b": at 4: expected ',' or end of input, found '=='"#),
            (",x", r#"label selector ",x": at 0: expected '!', a key or end of input, found ','"#),
            ("a,", r#"label selector "a,": at 2: expected '!' or a key after ',', found end of input"#),
            ("!", r#"label selector "!": at 1: expected a key, found end of input"#),
            (
                "x nott in (y)",
                r#"label selector "x nott in (y)": at 2: expected an operator (in, notin, =, ==, !=, >, <), ',' or end of input, found 'nott'"#,
            ),
            ("tier in web", r#"label selector "tier in web": at 8: expected '(', found 'web'"#),
            ("x in =", r#"label selector "x in =": at 5: expected '(', found '='"#),
            ("x in (=", r#"label selector "x in (=": at 6: expected a value, ',' or ')', found '='"#),
            ("x in (,=", r#"label selector "x in (,=": at 7: expected a value, ',' or ')', found '='"#),
            ("x=(", r#"label selector "x=(": at 2: expected a value, ',' or end of input, found '('"#),
            ("a,x<b", r#"label selector "a,x<b": at 4: operator 'lt' with value "b": the value must be an integer"#),
            ("x in (a,b)", ""),
        ];
        for (text, message) in cases {
            match LabelSelector::parse(text) {
                Ok(_) => assert!(message.is_empty(), "{text:?} parsed"),
                Err(e) => assert_eq!(e.to_string(), *message),
            }
        }
        let Err(Error::InvalidRequirement { position, source, .. }) = LabelSelector::parse("app=web, tier in (a, b$)")
        else {
            panic!("an invalid value")
        };
        assert_eq!(position, 21);
        assert_eq!(
            *source,
            Error::InvalidValue { key: "tier".into(), value: "b$".into(), reasons: value_reasons("b$") }
        );
        let Err(Error::InvalidRequirement { position, source, .. }) = LabelSelector::parse("a, !B_/x") else {
            panic!("an invalid key")
        };
        assert_eq!(
            (
                position,
                source
                    .to_string()
                    .starts_with(r#"invalid label key "B_/x": prefix part a lowercase RFC 1123 subdomain"#)
            ),
            (4, true)
        );
    }

    /// selector_test.go's TestRequirementConstructor.
    #[test]
    fn requirements_are_validated_as_new_requirement() {
        let none: [&str; 0] = [];
        let count = |operator, values: &[&str]| Error::ValueCount {
            operator,
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert_eq!(Requirement::new("x1", Operator::In, none), Err(count(Operator::In, &[])));
        assert_eq!(Requirement::new("x2", Operator::NotIn, none), Err(count(Operator::NotIn, &[])));
        assert!(Requirement::new("x3", Operator::In, ["foo"]).is_ok());
        assert!(Requirement::new("x4", Operator::NotIn, ["foo"]).is_ok());
        assert_eq!(
            Requirement::new("x5", Operator::Equals, ["bar", "foo"]),
            Err(count(Operator::Equals, &["bar", "foo"]))
        );
        assert!(Requirement::new("x6", Operator::Exists, none).is_ok());
        assert!(Requirement::new("x7", Operator::DoesNotExist, none).is_ok());
        assert_eq!(Requirement::new("x8", Operator::Exists, ["foo"]), Err(count(Operator::Exists, &["foo"])));
        assert!(Requirement::new("x11", Operator::GreaterThan, ["1"]).is_ok());
        assert!(Requirement::new("x12", Operator::LessThan, ["6"]).is_ok());
        assert_eq!(Requirement::new("x13", Operator::GreaterThan, none), Err(count(Operator::GreaterThan, &[])));
        assert_eq!(
            Requirement::new("x14", Operator::GreaterThan, ["bar"]),
            Err(Error::NotAnInteger { operator: Operator::GreaterThan, value: "bar".into() })
        );
        let long = "a".repeat(254);
        assert!(
            matches!(Requirement::new(long.as_str(), Operator::Exists, none), Err(Error::InvalidKey { key, .. }) if key == long)
        );
        assert!(
            matches!(Requirement::new("x16", Operator::Equals, [long.as_str()]), Err(Error::InvalidValue { value, .. }) if value == long)
        );
        assert!(matches!(Requirement::new("x17", Operator::Equals, ["a b"]), Err(Error::InvalidValue { .. })));
        assert_eq!(
            Requirement::new("x", Operator::In, Vec::<String>::new()).unwrap_err().to_string(),
            "operator 'in' with 0 values: for 'in', 'notin' operators, values set can't be empty"
        );
    }

    /// A requirement written out: key, operator, values.
    type Spec<'a> = (&'a str, Operator, &'a [&'a str]);

    /// Labels written out.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn selector(requirements: &[Spec<'_>]) -> LabelSelector {
        requirements.iter().fold(LabelSelector::everything(), |s, (key, op, values)| {
            s.and(Requirement::new(*key, *op, values.iter().copied()).expect("valid"))
        })
    }

    /// selector_test.go's TestToString (built with `and`, which sorts by key).
    #[test]
    fn display_is_client_go_string() {
        use Operator::*;
        let cases: &[(&[Spec<'_>], &str)] = &[
            (
                &[("x", In, &["abc", "def"]), ("y", NotIn, &["jkl"]), ("z", Exists, &[])],
                "x in (abc,def),y notin (jkl),z",
            ),
            (
                &[("x", NotIn, &["abc", "def"]), ("y", NotEquals, &["jkl"]), ("z", DoesNotExist, &[])],
                "x notin (abc,def),y!=jkl,!z",
            ),
            (
                &[("x", NotIn, &["abc"]), ("y", In, &["jkl", "mno"]), ("z", NotIn, &[""])],
                "x notin (abc),y in (jkl,mno),z notin ()",
            ),
            (
                &[("x", Equals, &["abc"]), ("y", DoubleEquals, &["jkl"]), ("z", NotEquals, &["a"]), ("z", Exists, &[])],
                "x=abc,y==jkl,z!=a,z",
            ),
            (&[("x", GreaterThan, &["2"]), ("y", LessThan, &["8"]), ("z", Exists, &[])], "x>2,y<8,z"),
            (&[("z", Exists, &[]), ("a", Equals, &[""]), ("m", In, &["b", "a"])], "a=,m in (a,b),z"),
        ];
        for (requirements, expected) in cases {
            let s = selector(requirements);
            assert_eq!(s.to_string(), *expected);
            assert_eq!(expected.parse::<LabelSelector>().as_ref(), Ok(&s));
        }
        assert!(LabelSelector::everything().is_everything());
        assert_eq!(LabelSelector::everything().to_string(), "");
        assert_eq!(LabelSelector::parse(" ").map(|s| s.is_everything()), Ok(true));
        assert_eq!(LabelSelector::parse("b,a").map(|s| s.requirements()[0].key().to_string()), Ok("a".to_string()));
    }

    /// selector_test.go's TestSelectorMatches and TestRequirementSelectorMatching.
    #[test]
    fn matches_as_client_go() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let cases: &[(&str, Pairs<'_>, bool)] = &[
            ("", &[("x", "y")], true),
            ("x=y", &[("x", "y")], true),
            ("x=y,z=w", &[("x", "y"), ("z", "w")], true),
            ("x!=y,z!=w", &[("x", "z"), ("z", "a")], true),
            ("notin=in", &[("notin", "in")], true),
            ("x", &[("x", "z")], true),
            ("!x", &[("y", "z")], true),
            ("x>1", &[("x", "2")], true),
            ("x<1", &[("x", "0")], true),
            ("x=z", &[], false),
            ("x=y", &[("x", "z")], false),
            ("x=y,z=w", &[("x", "w"), ("z", "w")], false),
            ("x!=y,z!=w", &[("x", "z"), ("z", "w")], false),
            ("x", &[("y", "z")], false),
            ("!x", &[("x", "z")], false),
            ("x>1", &[("x", "0")], false),
            ("x<1", &[("x", "2")], false),
            ("foo=bar,foobar=bar,baz=blah", &[("foo", "bar"), ("baz", "blah")], false),
            ("x in (foo),y notin (alpha)", &[("x", "foo"), ("y", "baz")], true),
            ("x in (foo),y in (alpha)", &[("x", "foo"), ("y", "baz")], false),
            ("x notin (),y", &[("y", "")], true),
            ("!x,y", &[("y", "")], true),
            ("x notin (),!y", &[("y", "")], false),
            ("x in ()", &[("y", "baz")], false),
            ("z>1", &[("z", "2")], true),
            ("z>1", &[("z", "v2")], false),
            ("z>1", &[("z", "+2")], true),
            ("z<1", &[("z", "-2")], true),
            ("z<1", &[], false),
            ("z!=1", &[], true),
            ("z notin (1)", &[], true),
        ];
        for (text, pairs, expected) in cases {
            let s = LabelSelector::parse(text).expect(text);
            let map = labels(pairs);
            assert_eq!(s.matches(Some(&map)), *expected, "{text:?} on {pairs:?}");
            if pairs.is_empty() {
                assert_eq!(s.matches(None), *expected, "{text:?} without labels");
            }
        }
    }

    #[test]
    fn kube_core_selectors_convert_both_ways() {
        let kube: Selector = [
            Expression::Equal("tier".into(), "web".into()),
            Expression::In("app".into(), ["b".to_string(), "a".to_string()].into()),
            Expression::NotEqual("env".into(), "dev".into()),
            Expression::DoesNotExist("legacy".into()),
        ]
        .into_iter()
        .collect();
        let ours = LabelSelector::from(&kube);
        assert_eq!(ours.to_string(), "app in (a,b),env!=dev,!legacy,tier=web");
        assert_eq!(LabelSelector::from(ours.to_kube().expect("no gt/lt")), ours);
        assert_eq!(ours.to_kube().map(|k| k.to_string()), Some(ours.to_string()));
        assert_eq!(LabelSelector::parse("a==b").map(|s| s.to_kube().map(|k| k.to_string())), Ok(Some("a=b".into())));
        assert_eq!(LabelSelector::parse("a>1,b").map(|s| s.to_kube()), Ok(None));
        assert!(LabelSelector::from(Selector::default()).is_everything());
    }

    /// As metav1.LabelSelectorAsSelector.
    #[test]
    fn metav1_label_selectors_convert() {
        let expression = |key: &str, operator: &str, values: Option<&[&str]>| LabelSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: values.map(|v| v.iter().map(|s| s.to_string()).collect()),
        };
        let meta = MetaLabelSelector {
            match_labels: Some(BTreeMap::from([("tier".into(), "web".into()), ("app".into(), "x".into())])),
            match_expressions: Some(vec![
                expression("env", "NotIn", Some(&["dev", "ci"])),
                expression("gpu", "Exists", None),
                expression("app", "In", Some(&["y"])),
            ]),
        };
        let s = LabelSelector::try_from(&meta).expect("valid");
        assert_eq!(s.to_string(), "app=x,app in (y),env notin (ci,dev),gpu,tier=web");
        assert!(LabelSelector::try_from(&MetaLabelSelector::default()).expect("valid").is_everything());
        let bad = |e| MetaLabelSelector { match_expressions: Some(vec![e]), ..Default::default() };
        assert_eq!(
            LabelSelector::try_from(&bad(expression("a", "Gt", Some(&["1"])))),
            Err(Error::UnknownOperator { operator: "Gt".into() })
        );
        assert_eq!(
            LabelSelector::try_from(&bad(expression("a", "In", None))),
            Err(Error::ValueCount { operator: Operator::In, values: vec![] })
        );
        assert!(matches!(
            LabelSelector::try_from(&bad(expression("a", "Exists", Some(&["x"])))),
            Err(Error::ValueCount { .. })
        ));
        let invalid_label =
            MetaLabelSelector { match_labels: Some(BTreeMap::from([("a".into(), "-".into())])), ..Default::default() };
        assert!(matches!(LabelSelector::try_from(&invalid_label), Err(Error::InvalidValue { .. })));
    }

    /// Field selectors and what apimachinery v0.36.3's `fields.ParseSelector`
    /// (then the apiserver's check of the field) makes of them.
    const FIELD_CASES: &[(&str, Result<&str, &str>)] = &[
        ("", Ok("")),
        ("metadata.name=a", Ok("metadata.name=a")),
        ("metadata.name==a", Ok("metadata.name=a")),
        ("metadata.namespace!=b,metadata.name=a", Ok("metadata.name=a,metadata.namespace!=b")),
        (",,metadata.name=a,", Ok("metadata.name=a")),
        ("metadata.name=a\\,b\\=c\\\\d", Ok("metadata.name=a\\,b\\=c\\\\d")),
        ("metadata.name=", Ok("metadata.name=")),
        ("=", Ok("")),
        ("!=", Ok("")),
        ("metadata.name!=a,metadata.name=a", Ok("metadata.name!=a,metadata.name=a")),
        ("metadata.name=é", Ok("metadata.name=é")),
        ("metadata.name", Err("invalid selector: 'metadata.name'; can't understand 'metadata.name'")),
        ("metadata.name=a,x", Err("invalid selector: 'metadata.name=a,x'; can't understand 'x'")),
        ("metadata.name = a", Err("field label not supported: metadata.name ")),
        ("spec.nodeName=n1", Err("field label not supported: spec.nodeName")),
        ("=a", Err("field label not supported: ")),
        ("metadata.name=a=b", Err("invalid field selector: unescaped character in value: 61")),
        ("metadata.name=a\\q", Err("invalid field selector: invalid escape sequence: \\q")),
        ("metadata.name=a\\", Err("invalid field selector: invalid escape sequence: \\")),
    ];

    #[test]
    fn field_selectors_parse_and_print_as_client_go() {
        for (text, expected) in FIELD_CASES {
            let got = FieldSelector::parse_as_apiserver(text, &[]).map(|s| s.to_string());
            assert_eq!(got.as_deref().map_err(String::as_str), *expected, "{text:?}");
            assert_eq!(FieldSelector::parse(text).map(|s| s.to_string()).as_deref().ok(), expected.ok(), "{text:?}");
        }
        // client-go prints terms in the order of their text as written; ours is canonical.
        assert_eq!(
            FieldSelector::parse("metadata.name==b,metadata.name=a").map(|s| s.to_string()),
            Ok("metadata.name=a,metadata.name=b".into())
        );
        assert_eq!(
            FieldSelector::parse_as_apiserver("spec.nodeName=n1", &["spec.nodeName"]).map(|s| s.to_string()),
            Ok("spec.nodeName=n1".into())
        );
    }

    #[test]
    fn field_selector_errors_and_matching() {
        let err = |text: &str| FieldSelector::parse(text).unwrap_err().to_string();
        assert_eq!(
            err("metadata.name=a,x"),
            r#"field selector "metadata.name=a,x": at 16: expected '=', '==' or '!=' in "x""#
        );
        assert_eq!(
            err("spec.x=1"),
            r#"field selector "spec.x=1": at 0: field label not supported: spec.x (only metadata.name and metadata.namespace)"#
        );
        assert_eq!(
            err("metadata.name=a\\q"),
            r#"field selector "metadata.name=a\\q": at 15: invalid escape sequence "\\q" (only \\, \, and \= are allowed)"#
        );
        assert_eq!(
            err("metadata.name=a=b"),
            r#"field selector "metadata.name=a=b": at 15: unescaped '=' in a value (write \=)"#
        );
        assert_eq!(
            FieldRequirement::new("metadata.uid", Operator::Equals, "x"),
            Err(Error::UnsupportedField { field: "metadata.uid".into() })
        );
        assert_eq!(
            FieldRequirement::new("metadata.name", Operator::In, "x"),
            Err(Error::UnsupportedFieldOperator { operator: Operator::In })
        );

        let meta = |name: Option<&str>, ns: Option<&str>| ObjectMeta {
            name: name.map(Into::into),
            namespace: ns.map(Into::into),
            ..Default::default()
        };
        let s = FieldSelector::everything()
            .and(FieldRequirement::new("metadata.namespace", Operator::DoubleEquals, "").expect("valid"))
            .and(FieldRequirement::new("metadata.name", Operator::NotEquals, "a,b").expect("valid"));
        assert_eq!(s.to_string(), "metadata.name!=a\\,b,metadata.namespace=");
        assert_eq!(s.to_string().parse::<FieldSelector>().as_ref(), Ok(&s));
        assert_eq!(s.requirements()[1].operator(), Operator::Equals);
        assert!(s.matches(&meta(Some("c"), None)));
        assert!(!s.matches(&meta(Some("a,b"), None)));
        assert!(!s.matches(&meta(Some("c"), Some("prod"))));
        assert!(FieldSelector::everything().matches(&meta(None, None)) && FieldSelector::everything().is_everything());
    }

    #[test]
    fn go_quote_escapes_as_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), r#""a\"b\\c\n\x01é""#);
    }
}
