//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists)
//! and field selectors (`metadata.name`, `metadata.namespace`, and a few
//! fields of built-in kinds) as list and watch filter them.

use std::collections::BTreeSet;

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq)]
enum Requirement {
    /// `key=value`, `key==value`, `key in (a,b)`.
    In(String, BTreeSet<String>),
    /// `key!=value`, `key notin (a,b)`: also true when the label is absent.
    NotIn(String, BTreeSet<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
}

/// A parsed label selector (every requirement must hold).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parses the `labelSelector` query parameter; the error is the
    /// apiserver's message.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            out.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(out))
    }

    /// Whether an object with `labels` (its `metadata.labels`) matches.
    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Requirement::In(k, values) => get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => get(k).is_none_or(|v| !values.contains(v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let invalid = || format!("unable to parse requirement: found '{part}', expected: valid label selector");
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(label_key(key.trim()).ok_or_else(invalid)?));
    }
    for (op, negate) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = part.split_once(op) {
            let key = label_key(k.trim()).ok_or_else(invalid)?;
            let values = BTreeSet::from([v.trim().to_string()]);
            return Ok(if negate { Requirement::NotIn(key, values) } else { Requirement::In(key, values) });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    match words.as_slice() {
        [key] => Ok(Requirement::Exists(label_key(key).ok_or_else(invalid)?)),
        [key, rest] => {
            let rest = rest.trim();
            let (negate, list) = if let Some(list) = rest.strip_prefix("notin") {
                (true, list)
            } else if let Some(list) = rest.strip_prefix("in") {
                (false, list)
            } else {
                return Err(invalid());
            };
            let list = list.trim().strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or_else(invalid)?;
            let values: BTreeSet<String> = list.split(',').map(|v| v.trim().to_string()).collect();
            let key = label_key(key).ok_or_else(invalid)?;
            Ok(if negate { Requirement::NotIn(key, values) } else { Requirement::In(key, values) })
        }
        _ => Err(invalid()),
    }
}

fn label_key(key: &str) -> Option<String> {
    let ok = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && key.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    ok.then(|| key.to_string())
}

/// A parsed field selector (`field=value`, `field==value`, `field!=value`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter against the fields the
    /// kind supports (`metadata.name`, `metadata.namespace`, plus
    /// `supported`); the error is the apiserver's message.
    pub(crate) fn parse(text: &str, supported: &[&str]) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !["metadata.name", "metadata.namespace"].contains(&field) && !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            out.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether `obj` matches.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
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
        assert!(check("app in web").is_err());
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
