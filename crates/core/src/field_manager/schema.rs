//! What the field manager knows of the built-in types' shapes, by field name: which objects are
//! structs (named fields), which are maps (free keys such as `labels`), which are atomic (replaced and
//! owned whole, such as label selectors), and how each list is merged: upstream's `listType` map
//! (keyed items, e.g. containers by `name`, container ports by `containerPort` and `protocol`), set
//! (scalars, e.g. finalizers) or atomic. List keys come from the strategic merge table
//! (`crate::strategic_merge`), extended with the extra key fields upstream's `listMapKey`s add.

use serde_json::Value;

use super::path::PathElement;

/// Where a value sits: its field name, the name of the field whose object holds it (empty at the
/// root), and whether it is an element of a free-key map (whose keys are not named fields).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    pub name: &'a str,
    pub parent: &'a str,
    pub in_map: bool,
}

impl<'a> Place<'a> {
    /// The root object.
    pub const ROOT: Place<'static> = Place {
        name: "",
        parent: "",
        in_map: false,
    };

    /// The place of the field `key` of the object at `self`, whose shape is `shape`.
    pub fn field(&self, key: &'a str, shape: &Shape) -> Place<'a> {
        Place {
            name: key,
            parent: self.name,
            in_map: matches!(shape, Shape::Map),
        }
    }

    /// Whether this is the root object's `metadata`.
    pub fn is_root_metadata(&self) -> bool {
        self.name == "metadata" && self.parent.is_empty() && !self.in_map
    }
}

/// A key field of an associative list, with the default upstream's schema gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
}

/// How a list merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListType {
    /// Replaced and owned whole.
    Atomic,
    /// Scalars merged by value.
    Set,
    /// Objects merged by their key fields.
    Map(&'static [ListKey]),
}

/// The shape of one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A string, number, boolean or null.
    Scalar,
    /// An object with named fields.
    Struct,
    /// An object with free keys (`labels`, `data`, ...).
    Map,
    /// An object or list owned and replaced whole.
    Atomic,
    /// A list merged item by item.
    List(ListType),
}

impl Shape {
    /// Whether the value is owned whole (a leaf of field sets).
    pub fn is_leaf(&self) -> bool {
        matches!(
            self,
            Shape::Scalar | Shape::Atomic | Shape::List(ListType::Atomic)
        )
    }
}

const NAME: &[ListKey] = &[ListKey {
    name: "name",
    default: None,
}];
const CONTAINER_PORT: &[ListKey] = &[
    ListKey {
        name: "containerPort",
        default: None,
    },
    ListKey {
        name: "protocol",
        default: Some("TCP"),
    },
];
const PORT: &[ListKey] = &[
    ListKey {
        name: "port",
        default: None,
    },
    ListKey {
        name: "protocol",
        default: Some("TCP"),
    },
];
const TOPOLOGY: &[ListKey] = &[
    ListKey {
        name: "topologyKey",
        default: None,
    },
    ListKey {
        name: "whenUnsatisfiable",
        default: None,
    },
];

/// The key fields upstream's `listMapKey`s give a list whose strategic merge key is `key`.
fn list_keys(key: &'static str) -> &'static [ListKey] {
    match key {
        "name" => NAME,
        "containerPort" => CONTAINER_PORT,
        "port" => PORT,
        "topologyKey" => TOPOLOGY,
        "mountPath" => &[ListKey {
            name: "mountPath",
            default: None,
        }],
        "devicePath" => &[ListKey {
            name: "devicePath",
            default: None,
        }],
        "ip" => &[ListKey {
            name: "ip",
            default: None,
        }],
        "type" => &[ListKey {
            name: "type",
            default: None,
        }],
        "uid" => &[ListKey {
            name: "uid",
            default: None,
        }],
        _ => &[],
    }
}

/// How the list field `name` inside the object of the field `parent` merges.
pub(crate) fn list_type(name: &str, parent: &str) -> ListType {
    match crate::strategic_merge::list_merge(name, parent) {
        (_, true) if parent == "metadata" => ListType::Set,
        (Some(key), _) => match list_keys(key) {
            [] => ListType::Atomic,
            keys => ListType::Map(keys),
        },
        _ => ListType::Atomic,
    }
}

/// Objects with free keys: string maps and resource lists.
const FREE_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "nodeSelector",
    "matchLabels",
    "limits",
    "requests",
    "capacity",
    "allocatable",
    "allocatedResources",
    "hard",
    "used",
    "overhead",
    "parameters",
    "volumeAttributes",
];

/// Structs and maps upstream marks atomic (`structType`/`mapType=atomic`): label selectors, object
/// references, key selectors. `selector` of a spec is a label selector, or a service's atomic map.
fn is_atomic_object(name: &str, parent: &str) -> bool {
    match name {
        "selector" => parent == "spec",
        "requiredDuringSchedulingIgnoredDuringExecution" => parent == "nodeAffinity",
        "labelSelector" | "namespaceSelector" | "podSelector" | "fieldRef" | "resourceFieldRef"
        | "configMapKeyRef" | "secretKeyRef" | "claimRef" | "targetRef" | "roleRef"
        | "dataSource" => true,
        _ => false,
    }
}

/// Optional structs (Go pointers), absent from a type's zero value: on create they are added
/// themselves, unlike the structs every object of the type has (`spec`, `template`, ...).
pub(crate) fn is_optional_struct(name: &str) -> bool {
    matches!(
        name,
        "rollingUpdate"
            | "securityContext"
            | "affinity"
            | "dnsConfig"
            | "persistentVolumeClaimRetentionPolicy"
            | "podFailurePolicy"
            | "successPolicy"
    )
}

/// Lists whose items are atomic structs (owner references, local object references).
fn has_atomic_items(list: &str) -> bool {
    matches!(list, "ownerReferences" | "imagePullSecrets")
}

/// The shape of `value` at `place`.
pub(crate) fn shape(place: Place<'_>, value: &Value) -> Shape {
    match value {
        Value::Object(_) if place.in_map => Shape::Map,
        Value::Object(_) if is_atomic_object(place.name, place.parent) => Shape::Atomic,
        Value::Object(_) if FREE_MAPS.contains(&place.name) => Shape::Map,
        Value::Object(_) => Shape::Struct,
        Value::Array(_) if place.in_map => Shape::List(ListType::Atomic),
        Value::Array(_) => Shape::List(list_type(place.name, place.parent)),
        _ => Shape::Scalar,
    }
}

/// The shape of an item of the list at `list` (an associative list's items are structs).
pub(crate) fn item_shape(list: Place<'_>, item: &Value) -> Shape {
    match item {
        Value::Object(_) if has_atomic_items(list.name) => Shape::Atomic,
        Value::Object(_) => Shape::Struct,
        _ => Shape::Scalar,
    }
}

/// Whether the object at `place` (reached through named fields) has named fields itself.
pub(crate) fn is_struct_place(place: Place<'_>) -> bool {
    !place.in_map && !is_atomic_object(place.name, place.parent) && !FREE_MAPS.contains(&place.name)
}

/// The path element of `item`, the `index`th item of a list of type `list_type`.
pub(crate) fn item_element(
    list_type: ListType,
    item: &Value,
    index: usize,
) -> Result<PathElement, String> {
    match list_type {
        ListType::Atomic => Ok(PathElement::Index(index)),
        ListType::Set => match item {
            Value::Object(_) | Value::Array(_) => Err(format!(
                "element {index}: expected a scalar in a set, got {item}"
            )),
            scalar => Ok(PathElement::Value(scalar.clone())),
        },
        ListType::Map(keys) => {
            let Value::Object(fields) = item else {
                return Err(format!(
                    "element {index}: associative list with keys has an element that is not a map"
                ));
            };
            let mut key = Vec::with_capacity(keys.len());
            for field in keys {
                let value = match (fields.get(field.name), field.default) {
                    (Some(value), _) if !value.is_null() => value.clone(),
                    (_, Some(default)) => Value::String(default.to_owned()),
                    _ => {
                        return Err(format!(
                            "element {index}: associative list with keys has an element that omits key field {:?} (and doesn't have default value)",
                            field.name
                        ));
                    }
                };
                key.push((field.name.to_owned(), value));
            }
            key.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(key))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn list_types_follow_the_strategic_merge_table() {
        assert_eq!(list_type("containers", "spec"), ListType::Map(NAME));
        assert_eq!(
            list_type("ports", "containers"),
            ListType::Map(CONTAINER_PORT)
        );
        assert_eq!(list_type("ports", "spec"), ListType::Map(PORT));
        assert_eq!(list_type("finalizers", "metadata"), ListType::Set);
        assert_eq!(list_type("args", "containers"), ListType::Atomic);
        assert_eq!(list_type("tolerations", "spec"), ListType::Atomic);
    }

    #[test]
    fn shapes() {
        let metadata = Place::ROOT.field("metadata", &Shape::Struct);
        assert_eq!(shape(metadata, &json!({})), Shape::Struct);
        let labels = metadata.field("labels", &Shape::Struct);
        assert_eq!(shape(labels, &json!({"a": "b"})), Shape::Map);
        let spec = Place::ROOT.field("spec", &Shape::Struct);
        assert_eq!(
            shape(spec.field("selector", &Shape::Struct), &json!({})),
            Shape::Atomic
        );
        assert_eq!(
            shape(labels.field("a", &Shape::Map), &json!({})),
            Shape::Map
        );
    }

    #[test]
    fn item_keys_use_defaults() {
        let port = item_element(
            ListType::Map(CONTAINER_PORT),
            &json!({"containerPort": 80}),
            0,
        );
        assert_eq!(
            port.map(|element| element.to_key()),
            Ok(r#"k:{"containerPort":80,"protocol":"TCP"}"#.to_owned())
        );
        let missing = item_element(ListType::Map(NAME), &json!({"image": "x"}), 2);
        assert_eq!(
            missing,
            Err("element 2: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)".to_owned())
        );
        assert_eq!(
            item_element(ListType::Set, &json!("a"), 0),
            Ok(PathElement::Value(json!("a")))
        );
    }
}
