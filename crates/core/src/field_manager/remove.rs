//! Removing the paths of a field set from an object (structured-merge-diff's `RemoveItems`): a member
//! path goes with everything below it; a struct, map or list left empty goes too.

use serde_json::{Map, Value};

use super::path::PathElement;
use super::schema::{self, Place, Shape};
use super::set::Set;

/// `object` without the paths in `set`.
pub fn remove_items(object: &Value, set: &Set) -> Value {
    if set.is_empty() {
        return object.clone();
    }
    remove_node(object, set, Shape::Struct, Place::ROOT).unwrap_or(Value::Object(Map::new()))
}

/// The node without the paths of `set` (relative to it); `None` when nothing is left.
fn remove_node(value: &Value, set: &Set, shape: Shape, place: Place<'_>) -> Option<Value> {
    match (shape, value) {
        (Shape::Struct | Shape::Map, Value::Object(fields)) => {
            let mut out = Map::new();
            for (key, child) in fields {
                let element = PathElement::Field(key.clone());
                if set.has_member(&element) {
                    continue;
                }
                match set.child(&element) {
                    Some(below) => {
                        let child_place = place.field(key, &shape);
                        let child_shape = schema::shape(child_place, child);
                        if let Some(kept) = remove_node(child, below, child_shape, child_place) {
                            out.insert(key.clone(), kept);
                        }
                    }
                    None => {
                        out.insert(key.clone(), child.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        (Shape::List(list_type), Value::Array(items)) if !shape.is_leaf() => {
            let mut out = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let Ok(element) = schema::item_element(list_type, item, index) else {
                    out.push(item.clone());
                    continue;
                };
                if set.has_member(&element) {
                    continue;
                }
                match set.child(&element) {
                    Some(below) => {
                        let item_shape = schema::item_shape(place, item);
                        out.extend(remove_node(item, below, item_shape, place));
                    }
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        // Paths below an atomic value remove it whole.
        (Shape::Atomic | Shape::List(_), _) => None,
        _ => Some(value.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::field_manager::fieldset::to_field_set;

    #[test]
    fn removes_members_and_emptied_containers() {
        let object = json!({"metadata": {"name": "d", "labels": {"a": "1", "b": "2"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "web", "image": "x", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                {"name": "side", "image": "s"}]}}}});
        let set = to_field_set(
            &json!({"metadata": {"labels": {"b": "2"}}, "spec": {"template": {"spec": {"containers": [
                {"name": "web", "ports": [{"containerPort": 80}]}, {"name": "side"}]}}}}),
            false,
        )
        .expect("valid");
        // Removing the web container's port item but not the web item itself: the item is a member,
        // so take only the port below it.
        let ports_only = set.difference(
            &to_field_set(
                &json!({"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}),
                false,
            )
            .expect("valid"),
        );
        let removed = remove_items(&object, &ports_only);
        assert_eq!(
            removed,
            json!({"metadata": {"name": "d", "labels": {"a": "1"}},
                "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "x"}]}}}})
        );
    }
}
