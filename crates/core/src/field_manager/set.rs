//! Field sets: the paths a manager owns, as a tree (structured-merge-diff's `fieldpath.Set`), with the
//! set operations the apply algorithm needs and the `FieldsV1` JSON encoding of `managedFields`
//! (`{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`, where `.` marks a node that is itself a member).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{Path, PathElement};

/// A set of paths. `members` are the paths that end here; `children` hold longer paths and are never
/// empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// The empty set.
    pub fn new() -> Self {
        Set::default()
    }

    /// Whether the set has no path.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.is_empty()
    }

    /// Adds `path` (the empty path is not a member of anything and is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                self.members.insert(last.clone());
            }
            [first, rest @ ..] => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    /// Adds `element` as a member of this node.
    pub(crate) fn insert_member(&mut self, element: PathElement) {
        self.members.insert(element);
    }

    /// Adds `child` below `element`, unless it is empty.
    pub(crate) fn insert_child(&mut self, element: PathElement, child: Set) {
        if child.is_empty() {
            return;
        }
        match self.children.get_mut(&element) {
            Some(existing) => existing.union_with(child),
            None => {
                self.children.insert(element, child);
            }
        }
    }

    /// Whether `path` is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self
                .children
                .get(first)
                .is_some_and(|child| child.has(rest)),
        }
    }

    /// Whether `element` is a member of this node.
    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// The paths below `element`, relative to it.
    pub(crate) fn child(&self, element: &PathElement) -> Option<&Set> {
        self.children.get(element)
    }

    /// The member elements of this node.
    pub(crate) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    /// The child nodes of this node.
    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &Set)> {
        self.children.iter()
    }

    /// Paths in either set.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.union_with(other.clone());
        out
    }

    /// Adds the paths of `other`.
    pub fn union_with(&mut self, other: Set) {
        if self.is_empty() {
            *self = other;
            return;
        }
        self.members.extend(other.members);
        for (element, child) in other.children {
            match self.children.get_mut(&element) {
                Some(existing) => existing.union_with(child),
                None => {
                    self.children.insert(element, child);
                }
            }
        }
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &Set) -> Set {
        let mut out = Set::new();
        out.members = self.members.intersection(&other.members).cloned().collect();
        for (element, child) in &self.children {
            if let Some(theirs) = other.children.get(element) {
                out.insert_child(element.clone(), child.intersection(theirs));
            }
        }
        out
    }

    /// Paths in `self` and not in `other` (a member of `other` does not remove the paths below it).
    pub fn difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.remove(other, false);
        out
    }

    /// Paths in `self` that are neither in `other` nor below a member of `other`.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.remove(other, true);
        out
    }

    /// Removes the paths of `other`, and with `recursive` the paths below its members too.
    pub fn remove(&mut self, other: &Set, recursive: bool) {
        if other.is_empty() || self.is_empty() {
            return;
        }
        if !other.members.is_empty() {
            self.members
                .retain(|member| !other.members.contains(member));
            if recursive {
                self.children
                    .retain(|element, _| !other.members.contains(element));
            }
        }
        if !other.children.is_empty() {
            self.children.retain(|element, child| {
                if let Some(theirs) = other.children.get(element) {
                    child.remove(theirs, recursive);
                }
                !child.is_empty()
            });
        }
    }

    /// Every path, members of a node before the paths below it, in order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect_paths(&mut Vec::new(), &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(path);
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The `FieldsV1` JSON of the set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.encode(false))
    }

    fn encode(&self, is_member: bool) -> Map<String, Value> {
        let mut map = Map::new();
        if is_member {
            map.insert(".".into(), Value::Object(Map::new()));
        }
        for member in &self.members {
            if !self.children.contains_key(member) {
                map.insert(member.to_key(), Value::Object(Map::new()));
            }
        }
        for (element, child) in &self.children {
            map.insert(
                element.to_key(),
                Value::Object(child.encode(self.members.contains(element))),
            );
        }
        map
    }

    /// Reads `FieldsV1` JSON.
    pub fn from_fields_v1(fields: &Value) -> Result<Set, String> {
        let Value::Object(map) = fields else {
            return Err("FieldsV1 must be a JSON object".to_owned());
        };
        Ok(Set::decode(map)?.0)
    }

    /// The set below a node, and whether the node is itself a member.
    fn decode(map: &Map<String, Value>) -> Result<(Set, bool), String> {
        let mut set = Set::new();
        let mut is_member = false;
        for (key, value) in map {
            if key == "." {
                is_member = true;
                continue;
            }
            let Some(element) = PathElement::from_key(key)? else {
                continue;
            };
            let Value::Object(inner) = value else {
                return Err(format!("{key}: expected an object"));
            };
            let (child, child_is_member) = Set::decode(inner)?;
            if child_is_member || child.is_empty() {
                set.members.insert(element.clone());
            }
            set.insert_child(element, child);
        }
        Ok((set, is_member))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(fields: &[&str]) -> Path {
        fields.iter().map(|name| PathElement::field(name)).collect()
    }

    fn set(paths: &[&[&str]]) -> Set {
        let mut set = Set::new();
        for p in paths {
            set.insert(&path(p));
        }
        set
    }

    #[test]
    fn fields_v1_round_trip() {
        let text = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {}}}},
            "f:data": {}
        });
        let decoded = Set::from_fields_v1(&text).expect("valid");
        assert!(decoded.has(&path(&["metadata", "labels"])));
        assert!(decoded.has(&path(&["metadata", "labels", "app"])));
        assert!(!decoded.has(&path(&["metadata"])));
        assert!(decoded.has(&path(&["data"])));
        assert_eq!(decoded.to_fields_v1(), text);
        assert!(Set::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(Set::from_fields_v1(&json!([])).is_err());
    }

    #[test]
    fn operations() {
        let a = set(&[&["spec", "replicas"], &["spec", "paused"], &["spec"]]);
        let b = set(&[&["spec", "replicas"], &["metadata", "name"]]);
        assert_eq!(
            a.union(&b),
            set(&[
                &["spec", "replicas"],
                &["spec", "paused"],
                &["spec"],
                &["metadata", "name"]
            ])
        );
        assert_eq!(a.intersection(&b), set(&[&["spec", "replicas"]]));
        assert_eq!(a.difference(&b), set(&[&["spec", "paused"], &["spec"]]));
        let parent = set(&[&["spec"]]);
        assert_eq!(
            a.difference(&parent),
            set(&[&["spec", "replicas"], &["spec", "paused"]])
        );
        assert!(a.recursive_difference(&parent).is_empty());
        assert_eq!(
            a.paths(),
            vec![
                path(&["spec"]),
                path(&["spec", "paused"]),
                path(&["spec", "replicas"])
            ]
        );
    }
}
