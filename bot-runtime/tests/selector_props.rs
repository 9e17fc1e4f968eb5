//! Property-based tests of the label and field selector parsers
//! (`bot_runtime::selector`): any text is a selector or an error that
//! points into it, never a panic; what they print parses back to the same
//! selector; a selector matches exactly when each requirement does.
//! `PROPTEST_CASES=N` sets the case count (default 256), `FUZZ_SECONDS=S`
//! runs each test for S seconds instead (docs/reliability.md).

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::{Duration, Instant},
};

use bot_runtime::selector::{Error, FieldRequirement, FieldSelector, LabelSelector, Operator, Requirement};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::{
    prelude::*,
    sample::select,
    test_runner::{Config, TestCaseError, TestRunner},
};

fn check<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let deadline = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(|s| Instant::now() + Duration::from_secs(s));
    let mut total = 0u64;
    loop {
        let mut config = Config { failure_persistence: None, ..Config::default() };
        if deadline.is_some() {
            config.cases = 2000;
        }
        let cases = config.cases;
        if let Err(e) = TestRunner::new(config).run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        total += u64::from(cases);
        match deadline {
            Some(d) if Instant::now() < d => {}
            _ => break,
        }
    }
    eprintln!("{name}: {total} cases, no failure");
}

/// The grammar's tokens, near misses and odd bytes.
const LABEL_TOKENS: &[&str] = &[
    "a",
    "b",
    "x",
    "app",
    "tier",
    "in",
    "notin",
    "(",
    ")",
    ",",
    "=",
    "==",
    "!=",
    "!",
    ">",
    "<",
    " ",
    "\t",
    "\n",
    "\r",
    "1",
    "10",
    "-1",
    "+5",
    "007",
    "\0",
    "é",
    "x/y",
    "example.com/app",
    "a.b",
    "-a",
    "a-",
    "A_b",
    "$",
    "||",
    "~",
    "\\",
    "Example.com/x",
    "a/b/c",
    "/a",
    "a/",
    "9223372036854775808",
    "exists",
    "gt",
    "lt",
    "!!",
    "=!",
    "((",
    "===",
];

const FIELD_TOKENS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.x",
    "=",
    "==",
    "!=",
    "!",
    ",",
    "\\",
    "\\,",
    "\\=",
    "\\\\",
    "a",
    "b",
    " ",
    "é",
    "\\q",
    "metadata.name=",
    "",
];

fn token_soup(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    proptest::collection::vec(select(tokens), 0..12).prop_map(|t| t.concat())
}

fn any_text(tokens: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[ -~]{0,24}", token_soup(tokens)]
}

/// The byte offset a parse error points at.
fn position(error: &Error) -> Option<usize> {
    match error {
        Error::Syntax { position, .. }
        | Error::InvalidRequirement { position, .. }
        | Error::InvalidTerm { position, .. } => Some(*position),
        _ => None,
    }
}

#[test]
fn any_text_is_a_selector_or_an_error_never_a_panic() {
    let parsed = AtomicU64::new(0);
    check("label selector text", any_text(LABEL_TOKENS), |text| {
        match LabelSelector::parse(&text) {
            Ok(selector) => {
                parsed.fetch_add(1, Relaxed);
                let printed = selector.to_string();
                let again = LabelSelector::parse(&printed);
                prop_assert_eq!(again.as_ref(), Ok(&selector), "{:?} printed as {:?}", text, printed);
            }
            Err(e) => {
                let at = position(&e);
                prop_assert!(at.is_some_and(|p| text.is_char_boundary(p)), "{e:?} for {text:?}");
                prop_assert!(e.to_string().starts_with("label selector "), "{}", e);
            }
        }
        Ok(())
    });
    eprintln!("label selector text: {} parsed", parsed.swap(0, Relaxed));
    check("field selector text", any_text(FIELD_TOKENS), |text| {
        match FieldSelector::parse(&text) {
            Ok(selector) => {
                parsed.fetch_add(1, Relaxed);
                let printed = selector.to_string();
                let again = FieldSelector::parse(&printed);
                prop_assert_eq!(again.as_ref(), Ok(&selector), "{:?} printed as {:?}", text, printed);
            }
            Err(e) => {
                let at = position(&e);
                prop_assert!(at.is_some_and(|p| text.is_char_boundary(p)), "{e:?} for {text:?}");
            }
        }
        Ok(())
    });
    eprintln!("field selector text: {} parsed", parsed.load(Relaxed));
}

const KEYS: &[&str] = &["app", "tier", "x", "in", "notin", "example.com/app", "a.b-c_D"];
const VALUES: &[&str] = &["", "a", "b", "1", "10", "007", "in"];
const OPERATORS: &[Operator] = &[
    Operator::Equals,
    Operator::DoubleEquals,
    Operator::NotEquals,
    Operator::In,
    Operator::NotIn,
    Operator::Exists,
    Operator::DoesNotExist,
    Operator::GreaterThan,
    Operator::LessThan,
];

fn key() -> impl Strategy<Value = String> {
    let prefix = "[a-z0-9]([-a-z0-9]{0,3}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,3}[a-z0-9])?){0,2}/";
    let name = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,4}[A-Za-z0-9])?";
    prop_oneof![
        3 => select(KEYS).prop_map(String::from),
        1 => (proptest::option::of(prefix), name).prop_map(|(p, n)| format!("{}{n}", p.unwrap_or_default())),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(VALUES).prop_map(String::from),
        1 => "[A-Za-z0-9]([-A-Za-z0-9_.]{0,4}[A-Za-z0-9])?",
    ]
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![select(&["0", "1", "10", "007", "9223372036854775807"][..]).prop_map(String::from), "[0-9]{1,3}"]
}

/// A valid requirement of any operator.
fn requirement() -> impl Strategy<Value = Requirement> {
    (key(), select(OPERATORS)).prop_flat_map(|(key, operator)| {
        let values = match operator {
            Operator::In | Operator::NotIn => proptest::collection::vec(value(), 1..4).boxed(),
            Operator::Exists | Operator::DoesNotExist => Just(Vec::new()).boxed(),
            Operator::GreaterThan | Operator::LessThan => integer().prop_map(|v| vec![v]).boxed(),
            _ => value().prop_map(|v| vec![v]).boxed(),
        };
        values.prop_map(move |values| Requirement::new(key.clone(), operator, values).expect("generated valid"))
    })
}

fn label_selector() -> impl Strategy<Value = LabelSelector> {
    proptest::collection::vec(requirement(), 0..6)
        .prop_map(|rs| rs.into_iter().fold(LabelSelector::everything(), LabelSelector::and))
}

#[test]
fn printed_selectors_parse_back_to_themselves() {
    check("label selector round trip", label_selector(), |selector| {
        let printed = selector.to_string();
        prop_assert_eq!(LabelSelector::parse(&printed), Ok(selector.clone()), "printed as {:?}", printed);
        prop_assert!(selector.requirements().windows(2).all(|w| w[0].key() <= w[1].key()));
        if let Some(kube) = selector.to_kube() {
            // kube-core has one equality operator: `==` comes back as `=`.
            prop_assert_eq!(LabelSelector::from(kube).to_string(), printed.replace("==", "="));
        }
        Ok(())
    });
}

/// What `requirement` means, written out from client-go's documentation.
fn naive(requirement: &Requirement, labels: &BTreeMap<String, String>) -> bool {
    let label = labels.get(requirement.key());
    let listed = label.is_some_and(|v| requirement.values().contains(v));
    let integer = |s: &String| s.parse::<i64>().ok();
    let bound = requirement.values().first().and_then(integer);
    match requirement.operator() {
        Operator::Equals | Operator::DoubleEquals | Operator::In => listed,
        Operator::NotEquals | Operator::NotIn => !listed,
        Operator::Exists => label.is_some(),
        Operator::DoesNotExist => label.is_none(),
        Operator::GreaterThan => matches!((label.and_then(integer), bound), (Some(l), Some(b)) if l > b),
        Operator::LessThan => matches!((label.and_then(integer), bound), (Some(l), Some(b)) if l < b),
    }
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    let label_value = prop_oneof![
        4 => value(),
        1 => select(&["-3", "+4", "x y", "9223372036854775808", "-9223372036854775808"][..]).prop_map(String::from),
    ];
    proptest::collection::btree_map(key(), label_value, 0..6)
}

#[test]
fn a_selector_matches_when_every_requirement_does() {
    let (selected, total) = (AtomicU64::new(0), AtomicU64::new(0));
    check("label selector matching", (label_selector(), labels()), |(selector, labels)| {
        let expected = selector.requirements().iter().all(|r| naive(r, &labels));
        prop_assert_eq!(selector.matches(Some(&labels)), expected);
        let empty = BTreeMap::new();
        prop_assert_eq!(selector.matches(None), selector.requirements().iter().all(|r| naive(r, &empty)));
        for r in selector.requirements() {
            prop_assert_eq!(r.matches(Some(&labels)), naive(r, &labels), "{}", r);
        }
        total.fetch_add(1, Relaxed);
        selected.fetch_add(u64::from(expected), Relaxed);
        Ok(())
    });
    eprintln!("label selector matching: {} of {} selected", selected.load(Relaxed), total.load(Relaxed));
}

fn field_selector() -> impl Strategy<Value = FieldSelector> {
    let field = select(&["metadata.name", "metadata.namespace"][..]);
    let operator = select(&[Operator::Equals, Operator::DoubleEquals, Operator::NotEquals][..]);
    let value = prop_oneof![select(&["", "a", "b"][..]).prop_map(String::from), "[a,=\\\\ é]{0,5}", ".{0,6}"];
    let term = (field, operator, value).prop_map(|(f, o, v)| FieldRequirement::new(f, o, v).expect("generated valid"));
    proptest::collection::vec(term, 0..4)
        .prop_map(|terms| terms.into_iter().fold(FieldSelector::everything(), FieldSelector::and))
}

#[test]
fn field_selectors_round_trip_and_match_term_by_term() {
    let meta =
        (proptest::option::of(select(&["", "a", "b", "a,="][..])), proptest::option::of(select(&["a", "b"][..])))
            .prop_map(|(name, namespace)| ObjectMeta {
                name: name.map(Into::into),
                namespace: namespace.map(Into::into),
                ..Default::default()
            });
    check("field selectors", (field_selector(), meta), |(selector, meta)| {
        let printed = selector.to_string();
        prop_assert_eq!(FieldSelector::parse(&printed), Ok(selector.clone()), "printed as {:?}", printed);
        let expected = selector.requirements().iter().all(|r| {
            let actual = match r.field() {
                "metadata.name" => meta.name.as_deref(),
                _ => meta.namespace.as_deref(),
            };
            (actual.unwrap_or_default() == r.value()) == (r.operator() == Operator::Equals)
        });
        prop_assert_eq!(selector.matches(&meta), expected);
        Ok(())
    });
}
