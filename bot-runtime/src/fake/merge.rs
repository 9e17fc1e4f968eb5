//! Merging: an applied configuration into the live object (structured
//! merge, as server-side apply does) and strategic merge patches of
//! built-in kinds.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::{
    fieldset::{Element, item_element},
    schema::{ListSchema, Schema, Shape},
};

/// `config` merged into `live`: the configuration's values win, maps are
/// merged key by key, map lists and sets item by item (keeping the live
/// order where the configuration does not impose one), anything atomic is
/// replaced.
pub(crate) fn merge(live: Option<&Value>, config: &Value, schema: &Schema) -> Value {
    let Some(live) = live else { return config.clone() };
    match (schema.shape(live), schema.shape(config)) {
        (Shape::Map(lm), Shape::Map(cm)) => {
            let mut out = lm.clone();
            for (k, v) in cm {
                out.insert(k.clone(), merge(lm.get(k), v, &schema.field(k)));
            }
            Value::Object(out)
        }
        (Shape::List(li, list), Shape::List(ci, _)) => Value::Array(merge_list(li, ci, list)),
        _ => config.clone(),
    }
}

/// structured-merge-diff's list merge: shared items in the configuration's
/// order, live-only items where they were, new items after their
/// predecessor in the configuration.
fn merge_list(lhs: &[Value], rhs: &[Value], list: &ListSchema) -> Vec<Value> {
    let lpe: Vec<Element> = lhs.iter().map(|i| item_element(list, i)).collect();
    let rpe: Vec<Element> = rhs.iter().map(|i| item_element(list, i)).collect();
    let first = |pes: &[Element]| {
        let mut seen = HashMap::new();
        for (i, pe) in pes.iter().enumerate() {
            seen.entry(pe.clone()).or_insert(i);
        }
        seen
    };
    let (observed_l, observed_r) = (first(&lpe), first(&rpe));
    let mut shared: VecDeque<&Element> = rpe.iter().filter(|pe| observed_l.contains_key(*pe)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_r: HashSet<&Element> = HashSet::new();
    let item = |pe: &Element, r: &Value| merge(observed_l.get(pe).map(|&i| &lhs[i]), r, &list.items);
    let mut out = Vec::with_capacity(lhs.len().max(rhs.len()));
    let (mut li, mut ri) = (0, 0);
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            let pe = &lpe[li];
            if pe == &rpe[ri] {
                merged_r.insert(pe);
                out.push(item(pe, &rhs[ri]));
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_r.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            let pe = &lpe[li];
            if !observed_r.contains_key(pe) {
                out.push(lhs[li].clone());
                li += 1;
                continue;
            }
            if merged_r.contains(pe) || ri >= rhs.len() {
                li += 1;
                continue;
            }
        }
        if ri < rhs.len() {
            let pe = &rpe[ri];
            merged_r.insert(pe);
            out.push(item(pe, &rhs[ri]));
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

/// A strategic merge patch of a built-in kind's object: `null` deletes a
/// key, map lists merge by their key (an item with `"$patch": "delete"` is
/// removed, `"$patch": "replace"` replaces the list), sets are unioned,
/// other lists replaced. `$retainKeys`, `$setElementOrder` and
/// `$deleteFromPrimitiveList` directives are not supported.
pub(crate) fn strategic(target: &Value, patch: &Value, schema: &Schema) -> Result<Value, String> {
    match (target, patch) {
        (_, Value::Object(p)) if p.get("$patch").and_then(Value::as_str) == Some("replace") => {
            let mut p = p.clone();
            p.remove("$patch");
            Ok(Value::Object(p))
        }
        (Value::Object(t), Value::Object(p)) => {
            let mut out = t.clone();
            for (k, v) in p {
                if k.starts_with('$') {
                    return Err(format!("unsupported strategic merge directive {k}"));
                }
                if v.is_null() {
                    out.remove(k);
                    continue;
                }
                let child = schema.field(k);
                let merged = match out.get(k) {
                    Some(existing) => strategic(existing, v, &child)?,
                    None => strip_directives(v),
                };
                out.insert(k.clone(), merged);
            }
            Ok(Value::Object(out))
        }
        (Value::Array(t), Value::Array(p)) => match schema {
            Schema::List(list) => Ok(Value::Array(strategic_list(t, p, list)?)),
            _ => Ok(patch.clone()),
        },
        _ => Ok(strip_directives(patch)),
    }
}

fn strategic_list(target: &[Value], patch: &[Value], list: &ListSchema) -> Result<Vec<Value>, String> {
    if list.keys.is_none() {
        let mut out = target.to_vec();
        for item in patch {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(out);
    }
    if patch.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
        return Ok(patch.iter().filter(|i| i.get("$patch").is_none()).cloned().collect());
    }
    let mut merged = target.to_vec();
    for item in patch {
        let pe = item_element(list, item);
        let found = merged.iter().position(|t| item_element(list, t) == pe);
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (found, delete) {
            (Some(i), true) => {
                merged.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => merged[i] = strategic(&merged[i], item, &list.items)?,
            (None, false) => merged.push(strip_directives(item)),
        }
    }
    Ok(patch_order(merged, patch, target, list))
}

/// The apiserver's order of a merged list: the patch's items in the patch's
/// order, the others inserted where the live order puts them.
fn patch_order(merged: Vec<Value>, patch: &[Value], live: &[Value], list: &ListSchema) -> Vec<Value> {
    let position = |items: &[Value], e: &Element| items.iter().position(|i| &item_element(list, i) == e);
    let (mut from_patch, server): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|m| position(patch, &item_element(list, m)).is_some());
    from_patch.sort_by_key(|m| position(patch, &item_element(list, m)));
    let (mut out, mut left, mut right) = (Vec::new(), server.into_iter().peekable(), from_patch.into_iter().peekable());
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => return out,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => {
                match (position(live, &item_element(list, l)), position(live, &item_element(list, r))) {
                    (Some(li), Some(ri)) => li < ri,
                    _ => false,
                }
            }
        };
        out.extend(if take_left { left.next() } else { right.next() });
    }
}

/// `value` without `$`-directives and `null`s (as newly added content).
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn containers() -> Schema {
        Schema::loose([("containers", Schema::map_list(&["name"], Schema::Loose)), ("finalizers", Schema::set())])
    }

    #[test]
    fn apply_merge_keeps_live_items_and_order() {
        let live = json!({ "containers": [{ "name": "a", "image": "1" }, { "name": "b", "image": "2" }], "x": 1 });
        let config = json!({ "containers": [{ "name": "b", "image": "3" }, { "name": "c", "image": "4" }] });
        assert_eq!(
            merge(Some(&live), &config, &containers()),
            json!({ "containers": [{ "name": "a", "image": "1" }, { "name": "b", "image": "3" }, { "name": "c", "image": "4" }], "x": 1 })
        );
    }

    #[test]
    fn strategic_patch_merges_by_key_and_deletes() {
        let target =
            json!({ "containers": [{ "name": "a", "image": "1" }, { "name": "b" }], "finalizers": ["x"], "y": 1 });
        let patch = json!({ "containers": [{ "name": "a", "image": "9" }, { "name": "b", "$patch": "delete" }], "finalizers": ["z"], "y": null });
        assert_eq!(
            strategic(&target, &patch, &containers()),
            Ok(json!({ "containers": [{ "name": "a", "image": "9" }], "finalizers": ["x", "z"] }))
        );
    }
}
