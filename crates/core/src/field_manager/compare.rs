//! What changed between two versions of an object (structured-merge-diff's `Compare`): the paths
//! added, removed and modified. A map, struct or list that appears or disappears is itself added or
//! removed, besides its contents; two empty or null containers compare as leaves.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::path::PathElement;
use super::schema::{self, Place, Shape};
use super::set::Set;

/// The paths that differ between an old and a new object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths only in the new object.
    pub added: Set,
    /// Paths only in the old object.
    pub removed: Set,
    /// Leaves in both with different values.
    pub modified: Set,
}

impl Comparison {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// The comparison without the paths in or below `ignored`.
    pub fn exclude(&self, ignored: &Set) -> Comparison {
        let mut out = self.clone();
        for set in [&mut out.added, &mut out.removed, &mut out.modified] {
            set.remove(ignored, true);
        }
        out
    }

    /// Added and modified paths.
    pub fn changed(&self) -> Set {
        let mut changed = self.added.clone();
        changed.union_with(self.modified.clone());
        changed
    }

    /// Added and modified paths, less the removed ones, taking them out of the comparison.
    pub fn into_changed(self) -> Set {
        let mut changed = self.added;
        changed.union_with(self.modified);
        changed.remove(&self.removed, false);
        changed
    }
}

/// Compares `old` (absent when the object is being created) with `new`.
///
/// On create, upstream compares with the type's zero value, in which the structs reached through named
/// fields (`spec`, `spec.template`, ...) and the `containers` list already exist: they are not added
/// themselves, only their contents. Maps, other lists and list items are.
pub fn compare(old: Option<&Value>, new: &Value) -> Comparison {
    let empty = Value::Object(Map::new());
    let null = Value::Null;
    let walker = Walker {
        empty: &empty,
        null: &null,
    };
    let mut out = Comparison::default();
    let (lhs, skeleton) = match old {
        Some(old) => (old, false),
        None => (&empty, true),
    };
    walker.children(
        Some(lhs),
        Some(new),
        Shape::Struct,
        Place::ROOT,
        skeleton,
        &mut out,
    );
    out
}

struct Walker<'z> {
    empty: &'z Value,
    null: &'z Value,
}

/// What a node contributes about itself, for its parent to record under its element.
#[derive(Default)]
struct Own {
    added: bool,
    removed: bool,
    modified: bool,
}

impl<'z> Walker<'z> {
    /// Compares one node; its own changes are returned, the changes below it go into `out`.
    fn node<'a>(
        &self,
        lhs: Option<&'a Value>,
        rhs: Option<&'a Value>,
        place: Place<'a>,
        item_shape: Option<Shape>,
        skeleton: bool,
        out: &mut Comparison,
    ) -> Own
    where
        'z: 'a,
    {
        let shape_of = |value: &Value| match item_shape {
            Some(_) => schema::item_shape(place, value),
            None => schema::shape(place, value),
        };
        let shape = match (lhs, rhs) {
            (_, Some(value)) if !value.is_null() => shape_of(value),
            (Some(value), _) => shape_of(value),
            _ => Shape::Scalar,
        };
        let same_kind = match (lhs, rhs) {
            (Some(a), Some(b)) => {
                a.is_null() || b.is_null() || std::mem::discriminant(a) == std::mem::discriminant(b)
            }
            _ => true,
        };
        let empty = |value: Option<&Value>| match value {
            None | Some(Value::Null) => true,
            Some(Value::Object(map)) => map.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            Some(_) => false,
        };
        if shape.is_leaf() || !same_kind || (empty(lhs) && empty(rhs)) {
            return Own {
                added: lhs.is_none(),
                removed: rhs.is_none(),
                modified: matches!((lhs, rhs), (Some(a), Some(b)) if a != b),
            };
        }
        self.children(lhs, rhs, shape, place, skeleton, out);
        Own {
            added: lhs.is_none(),
            removed: rhs.is_none(),
            modified: false,
        }
    }

    /// Compares the contents of a struct, map or list node; records them in `out`.
    fn children<'a>(
        &self,
        lhs: Option<&'a Value>,
        rhs: Option<&'a Value>,
        shape: Shape,
        place: Place<'a>,
        skeleton: bool,
        out: &mut Comparison,
    ) where
        'z: 'a,
    {
        match shape {
            Shape::Struct | Shape::Map => {
                let left = lhs.and_then(Value::as_object);
                let right = rhs.and_then(Value::as_object);
                let mut keys: Vec<&'a String> = left.into_iter().flat_map(Map::keys).collect();
                if let Some(right) = right {
                    keys.extend(
                        right
                            .keys()
                            .filter(|key| left.is_none_or(|l| !l.contains_key(*key))),
                    );
                }
                for key in keys {
                    if place.is_root_metadata() && key == "managedFields" {
                        continue;
                    }
                    let a = left.and_then(|map| map.get(key));
                    let b = right.and_then(|map| map.get(key));
                    let child_place = place.field(key, &shape);
                    // On create, structs and `containers` exist in the zero value; optional
                    // structs (and empty ones, which only defaults set) do not.
                    let (a, child_skeleton) = match (a, b) {
                        (None, Some(value))
                            if skeleton
                                && shape == Shape::Struct
                                && !schema::is_optional_struct(key)
                                && value.as_object().is_none_or(|map| !map.is_empty()) =>
                        {
                            match schema::shape(child_place, value) {
                                Shape::Struct => (Some(self.empty), true),
                                Shape::List(_) if key == "containers" => (Some(self.null), false),
                                _ => (None, false),
                            }
                        }
                        _ => (a, false),
                    };
                    let mut below = Comparison::default();
                    let own = self.node(a, b, child_place, None, child_skeleton, &mut below);
                    record(out, PathElement::Field(key.clone()), own, below);
                }
            }
            Shape::List(list_type) => {
                let index = |value: Option<&'a Value>| -> Vec<(PathElement, &'a Value)> {
                    value
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .enumerate()
                                .filter_map(|(i, item)| {
                                    schema::item_element(list_type, item, i)
                                        .ok()
                                        .map(|element| (element, item))
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let left = index(lhs);
                let right = index(rhs);
                let mut right_by: BTreeMap<&PathElement, &'a Value> = BTreeMap::new();
                for (element, item) in &right {
                    right_by.entry(element).or_insert(item);
                }
                let mut left_by: BTreeMap<&PathElement, &'a Value> = BTreeMap::new();
                for (element, item) in &left {
                    left_by.entry(element).or_insert(item);
                }
                let mut elements: Vec<&PathElement> = left_by.keys().copied().collect();
                elements.extend(right_by.keys().filter(|e| !left_by.contains_key(*e)));
                for element in elements {
                    let a = left_by.get(element).copied();
                    let b = right_by.get(element).copied();
                    let mut below = Comparison::default();
                    let own = self.node(a, b, place, Some(Shape::Struct), false, &mut below);
                    record(out, element.clone(), own, below);
                }
            }
            _ => {}
        }
    }
}

fn record(out: &mut Comparison, element: PathElement, own: Own, below: Comparison) {
    let sets = [
        (&mut out.added, own.added, below.added),
        (&mut out.removed, own.removed, below.removed),
        (&mut out.modified, own.modified, below.modified),
    ];
    for (set, member, below) in sets {
        if member {
            set.insert_member(element.clone());
        }
        if !below.is_empty() {
            set.insert_child(element.clone(), below);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn create_looks_like_upstream() {
        let pod = json!({"metadata": {"name": "p", "labels": {"run": "p"}},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}], "dnsPolicy": "ClusterFirst",
                     "securityContext": {}}});
        let comparison = compare(None, &pod);
        assert_eq!(
            comparison.added.to_fields_v1(),
            json!({
                "f:metadata": {"f:name": {}, "f:labels": {".": {}, "f:run": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}},
                           "f:dnsPolicy": {}, "f:securityContext": {}}
            })
        );
        assert!(comparison.removed.is_empty() && comparison.modified.is_empty());
    }

    #[test]
    fn update_changes() {
        let old = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 1,
            "template": {"spec": {"containers": [{"name": "c", "image": "v1"}, {"name": "d"}]}}}});
        let new = json!({"metadata": {"labels": {"a": "1"}, "annotations": {"x": "y"}}, "spec": {"replicas": 3,
            "template": {"spec": {"containers": [{"name": "c", "image": "v2"}, {"name": "e"}]}}}});
        let comparison = compare(Some(&old), &new);
        assert_eq!(
            comparison.modified.to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {"f:image": {}}}}}}})
        );
        assert_eq!(
            comparison.added.to_fields_v1(),
            json!({"f:metadata": {"f:annotations": {".": {}, "f:x": {}}},
                   "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"e\"}": {".": {}, "f:name": {}}}}}}})
        );
        assert_eq!(
            comparison.removed.to_fields_v1(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}},
                   "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"d\"}": {".": {}, "f:name": {}}}}}}})
        );
    }
}
