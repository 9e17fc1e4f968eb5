//! `twin!`: one spec type, derived by kube-derive in `mod kube_side` and by
//! bot-derive in `mod bot_side`, so a test can compare their output.

/// Emits the given items twice: in `mod kube_side` with
/// `use kube::CustomResource` and in `mod bot_side` with
/// `use bot_derive::CustomResource`. Both see the parent module's items.
macro_rules! twin {
    ($($item:tt)*) => {
        pub mod kube_side {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use kube::CustomResource;
            $($item)*
        }
        pub mod bot_side {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use bot_derive::CustomResource;
            $($item)*
        }
    };
}

/// The CRD of `K` as YAML, the form it is applied in.
pub fn crd_yaml<K: kube::CustomResourceExt>() -> String {
    serde_yaml::to_string(&K::crd()).expect("a CRD serializes")
}

/// Asserts that kube-derive and bot-derive gave `$root` the same CRD, byte
/// for byte as YAML, and returns it as JSON for further checks.
macro_rules! assert_same_crd {
    ($module:ident :: $root:ident) => {{
        let kube_yaml = $crate::twin::crd_yaml::<$module::kube_side::$root>();
        let bot_yaml = $crate::twin::crd_yaml::<$module::bot_side::$root>();
        $crate::twin::pretty_assert_eq(&kube_yaml, &bot_yaml, concat!(module_path!(), "::", stringify!($root)));
        serde_json::to_value(<$module::bot_side::$root as kube::CustomResourceExt>::crd()).unwrap()
    }};
}

/// `assert_eq!` of two YAML documents that prints the first differing line.
pub fn pretty_assert_eq(kube: &str, bot: &str, what: &str) {
    if kube != bot {
        let line = kube.lines().zip(bot.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{what}: bot-derive's CRD differs from kube-derive's at line {}:\n  kube-derive: {:?}\n  bot-derive:  {:?}\n--- kube-derive\n{kube}\n--- bot-derive\n{bot}",
            line + 1,
            kube.lines().nth(line),
            bot.lines().nth(line)
        );
    }
}

/// A fact from kube-derive 5.0.0's tests: the expected JSON, kept in
/// `tests/compat/expected/`.
macro_rules! expected {
    ($name:literal) => {
        serde_json::from_str::<serde_json::Value>(include_str!(concat!("expected/", $name, ".json"))).unwrap()
    };
}

/// Whether `big` contains everything of `small` (assert_json_include).
pub fn json_includes(big: &serde_json::Value, small: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (big, small) {
        (Value::Object(b), Value::Object(s)) => s.iter().all(|(k, v)| b.get(k).is_some_and(|bv| json_includes(bv, v))),
        (Value::Array(b), Value::Array(s)) => b.len() == s.len() && b.iter().zip(s).all(|(b, s)| json_includes(b, s)),
        _ => big == small,
    }
}

/// jiff's `Timestamp` as schemars' `jiff02` feature describes it
/// (`{"type": "string", "format": "date-time"}`): kube-derive's schema test
/// uses it, and turning that schemars feature on would rebuild the whole
/// workspace's kube stack for one type.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TimestampLike(pub k8s_openapi::jiff::Timestamp);

impl schemars::JsonSchema for TimestampLike {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

/// `Timestamp::new(0, 0)`.
pub fn timestamp_zero() -> TimestampLike {
    TimestampLike(k8s_openapi::jiff::Timestamp::new(0, 0).unwrap())
}
