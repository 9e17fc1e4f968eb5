//! Informer indexes and the reverse lookups built on them.
//!
//! Every change of a watched object is mapped to the Bots it affects without
//! scanning a cache:
//!
//! | change of      | Bots to reconcile                                              | how                                               |
//! |----------------|----------------------------------------------------------------|---------------------------------------------------|
//! | Bot            | itself                                                         | its key                                           |
//! | Deployment, Service, ConfigMap | its controlling owner, if that is a Bot        | `metadata.ownerReferences` (controller = true)    |
//! | Secret         | Bots of its namespace whose `spec.credentialsSecret` names it  | Bot index [`BOT_BY_SECRET`]                       |
//! | EventBinding   | its `spec.botRef` (old and new)                                | the binding itself                                |
//! | Event          | `botRef`s of the bindings whose selector matches its labels (old and new labels) | EventBinding index [`BINDING_BY_SELECTOR_LABEL`], then a full selector match |
//!
//! And the reconciler finds the bindings of a Bot through the EventBinding
//! index [`BINDING_BY_BOT`].

use std::{collections::BTreeMap, sync::Arc};

use bot_api::{
    listers::botops_v1alpha1::EventBindingLister,
    v1alpha1::{Bot, EventBinding},
};
use bot_runtime::{IndexFn, ObjectKey};
use kube::{
    Resource,
    api::ObjectMeta,
    core::{Expression, Selector, SelectorExt},
};

/// Bot index: `namespace/secret` of `spec.credentialsSecret`.
pub const BOT_BY_SECRET: &str = "bot-by-secret";
/// EventBinding index: `namespace/bot` of `spec.botRef.name`.
pub const BINDING_BY_BOT: &str = "binding-by-bot";
/// EventBinding index: the label requirements a matching Event must satisfy.
///
/// A binding is filed under `namespace/key=value` for every `matchLabels`
/// pair and every value of an `In` expression, under `namespace/key` for every
/// `Exists` expression, and under `namespace/*` when its selector has no
/// positive requirement at all (the empty selector, or only `NotIn`,
/// `DoesNotExist`). An invalid selector matches nothing and is not filed.
///
/// The lookup for an Event with labels `L` in `namespace` is the union of
/// `namespace/k=v` and `namespace/k` for every `(k, v)` in `L`, plus
/// `namespace/*`. Any binding that matches the Event has at least one of
/// these values (a matching Event satisfies every positive requirement, and a
/// binding without any is under `*`), so the candidates are a superset of the
/// answer; each candidate's full selector is then checked.
pub const BINDING_BY_SELECTOR_LABEL: &str = "binding-by-selector-label";

/// `namespace/name` as used by the indexes.
pub fn ns_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The index function of [`BOT_BY_SECRET`].
pub fn bot_by_secret() -> IndexFn<Bot> {
    Arc::new(|bot: &Bot| match bot.metadata.namespace.as_deref() {
        Some(ns) => vec![ns_key(ns, &bot.spec.credentials_secret)],
        None => vec![],
    })
}

/// The index function of [`BINDING_BY_BOT`].
pub fn binding_by_bot() -> IndexFn<EventBinding> {
    Arc::new(|b: &EventBinding| match b.metadata.namespace.as_deref() {
        Some(ns) => vec![ns_key(ns, &b.spec.bot_ref.name)],
        None => vec![],
    })
}

/// The index function of [`BINDING_BY_SELECTOR_LABEL`].
pub fn binding_by_selector_label() -> IndexFn<EventBinding> {
    Arc::new(|b: &EventBinding| {
        let (Some(ns), Some(selector)) = (b.metadata.namespace.as_deref(), binding_selector(b)) else {
            return vec![];
        };
        selector_index_values(ns, &selector)
    })
}

/// The binding's selector; `None` when it is invalid (it then matches nothing,
/// as in Kubernetes).
pub fn binding_selector(binding: &EventBinding) -> Option<Selector> {
    Selector::try_from(binding.spec.selector.clone()).ok()
}

/// Whether `selector` matches the labels of `meta`.
pub fn selects(selector: &Selector, meta: &ObjectMeta) -> bool {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    selector.matches(meta.labels.as_ref().unwrap_or(&EMPTY))
}

/// The [`BINDING_BY_SELECTOR_LABEL`] values of `selector` in `namespace`.
pub fn selector_index_values(namespace: &str, selector: &Selector) -> Vec<String> {
    let mut values: Vec<String> = selector
        .clone()
        .into_iter()
        .flat_map(|expr| match expr {
            Expression::Equal(k, v) => vec![format!("{namespace}/{k}={v}")],
            Expression::In(k, vs) => vs.into_iter().map(|v| format!("{namespace}/{k}={v}")).collect(),
            Expression::Exists(k) => vec![format!("{namespace}/{k}")],
            Expression::NotIn(..) | Expression::NotEqual(..) | Expression::DoesNotExist(_) => vec![],
        })
        .collect();
    if values.is_empty() {
        values.push(format!("{namespace}/*"));
    }
    values.sort();
    values.dedup();
    values
}

/// The [`BINDING_BY_SELECTOR_LABEL`] values to look up for an object with
/// the labels of `meta`.
pub fn label_lookup_values(meta: &ObjectMeta) -> Vec<String> {
    let Some(ns) = meta.namespace.as_deref() else { return vec![] };
    let mut values = vec![format!("{ns}/*")];
    for (k, v) in meta.labels.iter().flatten() {
        values.push(format!("{ns}/{k}={v}"));
        values.push(format!("{ns}/{k}"));
    }
    values
}

/// The EventBindings (of the Event's namespace) whose selector matches the
/// labels in `meta`, through the [`BINDING_BY_SELECTOR_LABEL`] index.
pub fn bindings_selecting(bindings: &EventBindingLister, meta: &ObjectMeta) -> Vec<Arc<EventBinding>> {
    let mut found: BTreeMap<ObjectKey, Arc<EventBinding>> = BTreeMap::new();
    for value in label_lookup_values(meta) {
        let candidates = bindings.by_index(BINDING_BY_SELECTOR_LABEL, &value).unwrap_or_else(|e| {
            tracing::error!(error = %e, "EventBinding index missing");
            vec![]
        });
        for binding in candidates {
            found.entry(ObjectKey::from_object(binding.as_ref())).or_insert(binding);
        }
    }
    found.into_values().filter(|b| binding_selector(b).is_some_and(|s| selects(&s, meta))).collect()
}

/// The key of the Bot a binding points at.
pub fn bound_bot_key(binding: &EventBinding) -> Option<ObjectKey> {
    let ns = binding.metadata.namespace.as_deref()?;
    Some(ObjectKey::new(Some(ns), binding.spec.bot_ref.name.clone()))
}

/// The key of the Bot controlling an object (its owner reference with
/// `controller: true`, kind Bot, `botops.dev/v1alpha1`).
pub fn controller_bot_key(meta: &ObjectMeta) -> Option<ObjectKey> {
    let api_version = Bot::api_version(&());
    let kind = Bot::kind(&());
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true) && r.kind == kind && r.api_version == api_version)
        .map(|r| ObjectKey::new(meta.namespace.as_deref(), r.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

    fn meta(labels: &[(&str, &str)]) -> ObjectMeta {
        ObjectMeta {
            namespace: Some("ns".into()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        }
    }

    fn selector(labels: &[(&str, &str)], exprs: &[(&str, &str, &[&str])]) -> Selector {
        LabelSelector {
            match_labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            match_expressions: Some(
                exprs
                    .iter()
                    .map(|(k, op, vs)| LabelSelectorRequirement {
                        key: k.to_string(),
                        operator: op.to_string(),
                        values: (!vs.is_empty()).then(|| vs.iter().map(|v| v.to_string()).collect()),
                    })
                    .collect(),
            ),
        }
        .try_into()
        .unwrap()
    }

    /// Every selector that matches some labels shares an index value with
    /// the lookup values of those labels.
    #[test]
    fn index_values_cover_every_match() {
        let selectors = [
            selector(&[], &[]),
            selector(&[("bot", "a")], &[]),
            selector(&[("bot", "a"), ("lang", "en")], &[]),
            selector(&[], &[("tier", "In", &["x", "y"])]),
            selector(&[], &[("greeting", "Exists", &[])]),
            selector(&[], &[("tier", "NotIn", &["x"])]),
            selector(&[], &[("tier", "DoesNotExist", &[])]),
        ];
        let labels = [
            meta(&[]),
            meta(&[("bot", "a")]),
            meta(&[("bot", "a"), ("lang", "en")]),
            meta(&[("tier", "y")]),
            meta(&[("tier", "x"), ("greeting", "yes")]),
        ];
        let mut matches = 0;
        for s in &selectors {
            let filed = selector_index_values("ns", s);
            for m in &labels {
                let lookup = label_lookup_values(m);
                if selects(s, m) {
                    matches += 1;
                    assert!(filed.iter().any(|v| lookup.contains(v)), "{s} on {:?}: {filed:?} vs {lookup:?}", m.labels);
                }
            }
        }
        assert_eq!(matches, 18);
        assert_eq!(selector_index_values("ns", &selectors[0]), ["ns/*"]);
        assert_eq!(selector_index_values("ns", &selectors[3]), ["ns/tier=x", "ns/tier=y"]);
        assert_eq!(selector_index_values("ns", &selectors[4]), ["ns/greeting"]);
    }
}
