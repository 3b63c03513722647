//! Merging an applied configuration into the live object (structured-merge-diff's `Merge`): the
//! configuration's scalars and atomic values win; structs and maps merge field by field; associative
//! lists and sets merge item by item, keeping the live items the configuration does not name in their
//! place and the configuration's order for the items it names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::PathElement;
use super::schema::{self, Place, Shape};

/// `config` merged into `live`. A field the configuration sets to null is removed.
pub fn merge(live: &Value, config: &Value) -> Value {
    merge_node(Some(live), Some(config), Place::ROOT, None).unwrap_or(Value::Object(Map::new()))
}

fn merge_node(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    place: Place<'_>,
    item: Option<()>,
) -> Option<Value> {
    let (lhs, rhs) = match (lhs, rhs) {
        (None, None) => return None,
        (Some(value), None) | (None, Some(value)) => return Some(value.clone()),
        (Some(lhs), Some(rhs)) => (lhs, rhs),
    };
    let shape_of = |value: &Value| match item {
        Some(()) => schema::item_shape(place, value),
        None => schema::shape(place, value),
    };
    let shape = if rhs.is_null() {
        shape_of(lhs)
    } else {
        shape_of(rhs)
    };
    match (shape, lhs, rhs) {
        (Shape::Struct | Shape::Map, Value::Object(left), Value::Object(right)) => {
            let mut out = left.clone();
            for (key, value) in right {
                let child_place = place.field(key, &shape);
                match merge_node(left.get(key), Some(value), child_place, None) {
                    Some(Value::Null) | None => {
                        out.remove(key);
                    }
                    Some(merged) => {
                        out.insert(key.clone(), merged);
                    }
                }
            }
            Some(Value::Object(out))
        }
        // A null map or list in the configuration leaves the live one alone.
        (Shape::Struct | Shape::Map | Shape::List(_), _, Value::Null)
            if !lhs.is_null() && !shape.is_leaf() =>
        {
            Some(lhs.clone())
        }
        (Shape::List(list_type), Value::Array(left), Value::Array(right)) if !shape.is_leaf() => {
            Some(Value::Array(merge_list(left, right, list_type, place)))
        }
        _ => Some(rhs.clone()),
    }
}

/// Merges two associative lists (or sets), as upstream interleaves them.
fn merge_list(
    left: &[Value],
    right: &[Value],
    list_type: schema::ListType,
    place: Place<'_>,
) -> Vec<Value> {
    let elements = |items: &[Value]| -> Vec<Option<PathElement>> {
        items
            .iter()
            .enumerate()
            .map(|(index, item)| schema::item_element(list_type, item, index).ok())
            .collect()
    };
    let left_elements = elements(left);
    let right_elements = elements(right);
    let mut left_by: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (element, item) in left_elements.iter().zip(left) {
        if let Some(element) = element {
            left_by.entry(element).or_insert(item);
        }
    }
    let mut right_by: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    for (element, item) in right_elements.iter().zip(right) {
        if let Some(element) = element {
            right_by.entry(element).or_insert(item);
        }
    }
    let mut shared = right_elements
        .iter()
        .flatten()
        .filter(|element| left_by.contains_key(element))
        .collect::<Vec<_>>()
        .into_iter();
    let mut next_shared = shared.next();
    let mut merged_right: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(left.len().max(right.len()));
    let merge_item = |element: &PathElement, out: &mut Vec<Value>| {
        let merged = merge_node(
            left_by.get(element).copied(),
            right_by.get(element).copied(),
            place,
            Some(()),
        );
        out.extend(merged);
    };
    let (mut l, mut r) = (0, 0);
    while l < left.len() || r < right.len() {
        if l < left.len() && r < right.len() {
            if let (Some(le), Some(re)) = (&left_elements[l], &right_elements[r])
                && le == re
            {
                merged_right.insert(re);
                merge_item(re, &mut out);
                l += 1;
                r += 1;
                next_shared = shared.next();
                continue;
            }
            if let Some(le) = &left_elements[l]
                && right_by.contains_key(le)
                && next_shared.is_some_and(|next| next != le)
            {
                l += 1;
                continue;
            }
        }
        if l < left.len() {
            match &left_elements[l] {
                Some(le) if right_by.contains_key(le) => {
                    if merged_right.contains(le) {
                        l += 1;
                        continue;
                    }
                }
                _ => {
                    out.push(left[l].clone());
                    l += 1;
                    continue;
                }
            }
        }
        if r < right.len() {
            match &right_elements[r] {
                Some(re) => {
                    merged_right.insert(re);
                    merge_item(re, &mut out);
                    if next_shared.is_some_and(|next| next == re) {
                        next_shared = shared.next();
                    }
                }
                None => out.push(right[r].clone()),
            }
            r += 1;
        } else {
            // A live item named by the configuration but never reached: keep it.
            out.push(left[l].clone());
            l += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::merge;

    #[test]
    fn structs_maps_and_keyed_lists() {
        let live = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1,
            "selector": {"matchLabels": {"x": "y"}},
            "template": {"spec": {"containers": [
                {"name": "web", "image": "v1", "imagePullPolicy": "Always"},
                {"name": "side", "image": "s"}]}}}});
        let config = json!({"metadata": {"labels": {"b": "2"}}, "spec": {"replicas": 3,
            "selector": {"matchLabels": {"z": "w"}},
            "template": {"spec": {"containers": [{"name": "web", "image": "v2"}, {"name": "new"}]}}}});
        assert_eq!(
            merge(&live, &config),
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3,
                "selector": {"matchLabels": {"z": "w"}},
                "template": {"spec": {"containers": [
                    {"name": "web", "image": "v2", "imagePullPolicy": "Always"},
                    {"name": "side", "image": "s"},
                    {"name": "new"}]}}}})
        );
    }

    #[test]
    fn list_order_follows_the_configuration_for_shared_items() {
        let live = json!({"metadata": {"finalizers": ["a", "x", "b"]}});
        let config = json!({"metadata": {"finalizers": ["b", "a", "c"]}});
        assert_eq!(
            merge(&live, &config),
            json!({"metadata": {"finalizers": ["x", "b", "a", "c"]}})
        );
        let atomic = merge(
            &json!({"spec": {"tolerations": [{"key": "a"}]}}),
            &json!({"spec": {"tolerations": []}}),
        );
        assert_eq!(atomic, json!({"spec": {"tolerations": []}}));
        let nulls = merge(
            &json!({"spec": {"paused": true, "strategy": {"type": "Recreate"}}}),
            &json!({"spec": {"paused": null, "strategy": null}}),
        );
        assert_eq!(nulls, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    }
}
