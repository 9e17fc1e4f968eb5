//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists,
//! `>`, `<`) and field selectors (`metadata.name`, `metadata.namespace`, and
//! a few fields of built-in kinds) as list and watch filter them: the
//! parsers of [`crate::selector`] with the apiserver's error messages,
//! matched against JSON objects.

use serde_json::Value;

use crate::selector;

/// A parsed label selector (every requirement must hold).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(selector::LabelSelector);

impl LabelSelector {
    /// Parses the `labelSelector` query parameter as apimachinery's
    /// `labels.Parse` does; the error is its message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        selector::LabelSelector::parse_as_apiserver(text).map(LabelSelector)
    }

    /// Whether an object with `labels` (its `metadata.labels`) matches
    /// (a label that is not a string counts as absent).
    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        self.0.matches_lookup(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }
}

/// A parsed field selector (`field=value`, `field==value`, `field!=value`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(selector::FieldSelector);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter against the fields the
    /// kind supports (`metadata.name`, `metadata.namespace`, plus
    /// `supported`); the error is the apiserver's message.
    pub(crate) fn parse(text: &str, supported: &[&str]) -> Result<Self, String> {
        selector::FieldSelector::parse_as_apiserver(text, supported).map(FieldSelector)
    }

    /// Whether `obj` matches (an absent field is the empty string).
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.matches_with(|field| {
            let pointer = format!("/{}", field.replace('.', "/"));
            match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_of_every_form() {
        let labels = json!({ "app": "web", "tier": "front" });
        let check = |s: &str| LabelSelector::parse(s).map(|sel| sel.matches(Some(&labels)));
        assert_eq!(check("app=web"), Ok(true));
        assert_eq!(check("app==web,tier!=back"), Ok(true));
        assert_eq!(check("app in (api, web),tier notin (back)"), Ok(true));
        assert_eq!(check("app notin (web)"), Ok(false));
        assert_eq!(check("tier,!missing"), Ok(true));
        assert_eq!(check("missing!=x"), Ok(true));
        assert_eq!(check("!app"), Ok(false));
        assert_eq!(check("app in web"), Err("unable to parse requirement: found 'web' expected: '('".into()));
        assert_eq!(check("app>1"), Ok(false));
        assert_eq!(check("app in (web),"), Err("found '', expected: identifier after ','".into()));
    }

    #[test]
    fn field_selectors() {
        let obj = json!({ "metadata": { "name": "a", "namespace": "ns" }, "type": "Opaque" });
        let sel = FieldSelector::parse("metadata.name=a,metadata.namespace!=x", &[]).expect("valid");
        assert!(sel.matches(&obj));
        assert!(FieldSelector::parse("type=Opaque", &["type"]).expect("valid").matches(&obj));
        assert_eq!(FieldSelector::parse("spec.x=1", &[]), Err("field label not supported: spec.x".to_string()));
    }
}
