//! The set of fields an object specifies (structured-merge-diff's `ToFieldSet`): every scalar and
//! atomic value, every list item, every free-map entry and every empty or null object; named struct
//! fields with content are implied by their children. Also `EnsureNamedFieldsAreMembers`, which adds
//! those named fields back for pruning.

use std::collections::BTreeSet;

use serde_json::Value;

use super::path::{PathElement, path_string};
use super::schema::{self, Place, Shape};
use super::set::Set;

/// The fields `object` specifies. With `allow_duplicates` false, an associative list with two items
/// of the same key is an error (as for an applied configuration).
pub fn to_field_set(object: &Value, allow_duplicates: bool) -> Result<Set, String> {
    let mut walker = Walker {
        allow_duplicates,
        path: Vec::new(),
    };
    walker.node(object, Shape::Struct, Place::ROOT)
}

struct Walker {
    allow_duplicates: bool,
    path: Vec<PathElement>,
}

impl Walker {
    /// The set below a node of shape `shape` (its own membership is its parent's business).
    fn node(&mut self, value: &Value, shape: Shape, place: Place<'_>) -> Result<Set, String> {
        let mut set = Set::new();
        match (shape, value) {
            (Shape::Struct | Shape::Map, Value::Object(fields)) => {
                for (key, child) in fields {
                    if place.is_root_metadata() && key == "managedFields" {
                        continue;
                    }
                    let child_place = place.field(key, &shape);
                    let child_shape = schema::shape(child_place, child);
                    let element = PathElement::Field(key.clone());
                    let empty_object = child.as_object().is_some_and(|map| map.is_empty());
                    if child_shape.is_leaf()
                        || child.is_null()
                        || empty_object
                        || shape == Shape::Map
                    {
                        set.insert_member(element.clone());
                    }
                    if !child_shape.is_leaf() {
                        self.path.push(element.clone());
                        let below = self.node(child, child_shape, child_place)?;
                        self.path.pop();
                        set.insert_child(element, below);
                    }
                }
            }
            (Shape::List(list_type), Value::Array(items)) => {
                let mut seen = BTreeSet::new();
                for (index, item) in items.iter().enumerate() {
                    let element = schema::item_element(list_type, item, index)
                        .map_err(|error| format!("{}: {error}", path_string(&self.path)))?;
                    if !seen.insert(element.clone()) && !self.allow_duplicates {
                        return Err(format!(
                            "{}: duplicate entries for key {element}",
                            path_string(&self.path)
                        ));
                    }
                    set.insert_member(element.clone());
                    let item_shape = schema::item_shape(place, item);
                    if !item_shape.is_leaf() {
                        self.path.push(element.clone());
                        let below = self.node(item, item_shape, place)?;
                        self.path.pop();
                        set.insert_child(element, below);
                    }
                }
            }
            _ => {}
        }
        Ok(set)
    }
}

/// `set` with every named struct field that has paths below it made a member too, so that removing
/// the set removes emptied structs.
pub fn ensure_named_fields_are_members(set: &Set) -> Set {
    ensure_at(set, Place::ROOT, true)
}

fn ensure_at(set: &Set, place: Place<'_>, is_struct: bool) -> Set {
    let mut out = Set::new();
    for member in set.members() {
        out.insert_member(member.clone());
    }
    for (element, child) in set.children() {
        let child_set = match element {
            PathElement::Field(name) => {
                if is_struct {
                    out.insert_member(element.clone());
                }
                let child_place = Place {
                    name,
                    parent: place.name,
                    in_map: !is_struct,
                };
                ensure_at(child, child_place, schema::is_struct_place(child_place))
            }
            // Items of associative lists are structs whose fields are named.
            PathElement::Key(_) => ensure_at(child, place, true),
            _ => child.clone(),
        };
        out.insert_child(element.clone(), child_set);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(object: Value) -> Value {
        to_field_set(&object, false)
            .expect("valid object")
            .to_fields_v1()
    }

    #[test]
    fn an_applied_pod_like_upstream() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
            "spec": {"containers": [{"name": "test-container", "image": "test-image"}]}});
        let set = fields(pod);
        assert_eq!(
            set["f:spec"],
            json!({"f:containers": {"k:{\"name\":\"test-container\"}": {".": {}, "f:image": {}, "f:name": {}}}})
        );
        assert_eq!(set["f:metadata"], json!({"f:name": {}}));
        let service = json!({"spec": {"ports": [{"port": 8080, "protocol": "UDP"}]}});
        assert_eq!(
            fields(service),
            json!({"f:spec": {"f:ports": {"k:{\"port\":8080,\"protocol\":\"UDP\"}": {".": {}, "f:port": {}, "f:protocol": {}}}}})
        );
    }

    #[test]
    fn maps_selectors_sets_and_empties() {
        let deployment = json!({"metadata": {"labels": {"app": "web"}, "finalizers": ["a"]},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "strategy": {},
                     "template": {"spec": {"containers": [{"name": "c", "args": ["x"], "resources": {}}]}}}});
        assert_eq!(
            fields(deployment),
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"a\"": {}}},
                "f:spec": {"f:selector": {}, "f:strategy": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"c\"}": {".": {}, "f:args": {}, "f:name": {}, "f:resources": {}}}}}}
            })
        );
    }

    #[test]
    fn duplicates_and_missing_keys_are_errors() {
        let twice = json!({"spec": {"containers": [{"name": "a"}, {"name": "a"}]}});
        assert_eq!(
            to_field_set(&twice, false),
            Err(".spec.containers: duplicate entries for key [name=\"a\"]".to_owned())
        );
        assert!(to_field_set(&twice, true).is_ok());
        let nameless = json!({"spec": {"containers": [{"image": "a"}]}});
        assert!(to_field_set(&nameless, false).is_err_and(|error| {
            error.starts_with(".spec.containers: element 0: associative list")
        }));
    }

    #[test]
    fn named_fields_become_members() {
        let set = to_field_set(
            &json!({"metadata": {"labels": {"a": "b"}}, "spec": {"template": {"spec": {"hostname": "h"}}}}),
            false,
        )
        .expect("valid");
        let ensured = ensure_named_fields_are_members(&set);
        let field = |names: &[&str]| {
            names
                .iter()
                .map(|n| PathElement::field(n))
                .collect::<Vec<_>>()
        };
        assert!(ensured.has(&field(&["metadata"])));
        assert!(ensured.has(&field(&["metadata", "labels"])));
        assert!(ensured.has(&field(&["spec", "template", "spec"])));
        assert!(ensured.has(&field(&["metadata", "labels", "a"])));
    }
}
