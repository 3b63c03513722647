//! `metadata.managedFields` in memory: one owned field set per manager, keyed like upstream's
//! manager identifier (manager name, operation, subresource, and the API version for `Update`s), with
//! the time of its last change; decoding, encoding (sorted as upstream sorts them) and the cap on
//! `Update` entries.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::set::Set;

/// The operation that recorded an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// A server-side apply.
    Apply,
    /// A create, update or non-apply patch.
    Update,
}

impl Operation {
    /// The name in `managedFields` entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// Who owns a field set: entries with the same identifier are one entry. Appliers are identified
/// without their API version, so that they keep their entry when they apply another version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManagerId {
    /// The manager's name (`kubectl`, `kube-controller-manager`, ...).
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: Operation,
    /// The API version, for `Update` entries only.
    pub api_version: String,
    /// `status`, `scale` or empty.
    pub subresource: String,
}

impl ManagerId {
    /// The identifier of `manager` doing `operation` at `api_version` on `subresource`.
    pub fn new(manager: &str, operation: Operation, api_version: &str, subresource: &str) -> Self {
        ManagerId {
            manager: manager.to_owned(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.to_owned(),
            },
            subresource: subresource.to_owned(),
        }
    }

    /// The manager as conflict messages name it: `"kubectl" with subresource "scale" using apps/v1`.
    pub fn describe(&self) -> String {
        let mut text = crate::status::go_quote(&self.manager);
        if !self.subresource.is_empty() {
            text = format!(
                "{text} with subresource {}",
                crate::status::go_quote(&self.subresource)
            );
        }
        match self.operation {
            Operation::Update => format!("{text} using {}", self.api_version),
            Operation::Apply => text,
        }
    }
}

/// A manager's fields, the API version they were recorded at and whether they were applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedSet {
    /// The owned fields.
    pub set: Set,
    /// The API version of the paths.
    pub api_version: String,
    /// Whether the manager applied them (rather than updated them).
    pub applied: bool,
}

/// Every manager's fields and the time of its last change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Managed {
    /// Field sets by manager.
    pub fields: BTreeMap<ManagerId, VersionedSet>,
    /// Last change by manager (`managedFields[].time`).
    pub times: BTreeMap<ManagerId, String>,
}

/// Upstream's limit on `Update` entries; older ones merge into `ancient-changes`.
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager name older `Update` entries are merged into.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

impl Managed {
    /// Whether no manager owns anything.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Decodes `metadata.managedFields` (absent or null is empty).
    pub fn decode(entries: Option<&Value>) -> Result<Managed, String> {
        let mut managed = Managed::default();
        let entries = match entries {
            None | Some(Value::Null) => return Ok(managed),
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err("managedFields must be a list".to_owned()),
        };
        for (index, entry) in entries.iter().enumerate() {
            let text = |name: &str| entry.get(name).and_then(Value::as_str).unwrap_or("");
            let operation = match text("operation") {
                "Apply" => Operation::Apply,
                "Update" => Operation::Update,
                _ => return Err("operation must be `Apply` or `Update`".to_owned()),
            };
            let api_version = text("apiVersion");
            if api_version.is_empty() {
                return Err("apiVersion must not be empty".to_owned());
            }
            match text("fieldsType") {
                "FieldsV1" => {}
                "" => {
                    return Err(format!(
                        "missing fieldsType in managed fields entry {index}"
                    ));
                }
                other => {
                    return Err(format!(
                        "invalid fieldsType {other:?} in managed fields entry {index}"
                    ));
                }
            }
            let set = match entry.get("fieldsV1") {
                None | Some(Value::Null) => Set::new(),
                Some(fields) => Set::from_fields_v1(fields)
                    .map_err(|error| format!("error decoding set: {error}"))?,
            };
            let id = ManagerId::new(text("manager"), operation, api_version, text("subresource"));
            if let Some(time) = entry.get("time").and_then(Value::as_str) {
                managed.times.insert(id.clone(), time.to_owned());
            } else {
                managed.times.remove(&id);
            }
            managed.fields.insert(
                id,
                VersionedSet {
                    set,
                    api_version: api_version.to_owned(),
                    applied: operation == Operation::Apply,
                },
            );
        }
        Ok(managed)
    }

    /// The `managedFields` list, sorted as upstream sorts it (operation, time, manager, API version,
    /// subresource); `None` when no manager owns anything.
    pub fn encode(&self) -> Option<Value> {
        if self.fields.is_empty() {
            return None;
        }
        let mut entries: Vec<(&ManagerId, &VersionedSet, Option<&String>)> = self
            .fields
            .iter()
            .map(|(id, set)| (id, set, self.times.get(id)))
            .collect();
        entries.sort_by(|(a, sa, ta), (b, sb, tb)| {
            let op = |id: &ManagerId, set: &VersionedSet| {
                if set.applied {
                    Operation::Apply
                } else {
                    id.operation
                }
            };
            op(a, sa)
                .as_str()
                .cmp(op(b, sb).as_str())
                .then_with(|| seconds(*ta).cmp(&seconds(*tb)))
                .then_with(|| a.manager.cmp(&b.manager))
                .then_with(|| sa.api_version.cmp(&sb.api_version))
                .then_with(|| a.subresource.cmp(&b.subresource))
        });
        let list = entries
            .into_iter()
            .map(|(id, set, time)| {
                let mut entry = Map::new();
                if !id.manager.is_empty() {
                    entry.insert("manager".into(), json!(id.manager));
                }
                let operation = if set.applied {
                    Operation::Apply
                } else {
                    id.operation
                };
                entry.insert("operation".into(), json!(operation.as_str()));
                entry.insert("apiVersion".into(), json!(set.api_version));
                if let Some(time) = time {
                    entry.insert("time".into(), json!(time));
                }
                entry.insert("fieldsType".into(), json!("FieldsV1"));
                entry.insert("fieldsV1".into(), set.set.to_fields_v1());
                if !id.subresource.is_empty() {
                    entry.insert("subresource".into(), json!(id.subresource));
                }
                Value::Object(entry)
            })
            .collect();
        Some(Value::Array(list))
    }

    /// Merges the oldest `Update` entries into per-version `ancient-changes` entries until at most
    /// `max` remain (upstream's `capManagersManager`).
    pub fn cap_updates(&mut self, max: usize) {
        let mut updaters: Vec<ManagerId> = self
            .fields
            .iter()
            .filter(|(_, set)| !set.applied)
            .map(|(id, _)| id.clone())
            .collect();
        if updaters.len() <= max {
            return;
        }
        updaters.sort_by(|a, b| {
            seconds(self.times.get(a))
                .cmp(&seconds(self.times.get(b)))
                .then_with(|| a.cmp(b))
        });
        let mut length = updaters.len();
        let mut buckets_made: Vec<String> = Vec::new();
        for id in updaters {
            if length <= max {
                break;
            }
            let Some(versioned) = self.fields.remove(&id) else {
                continue;
            };
            let time = self.times.remove(&id);
            let bucket = ManagerId::new(
                ANCIENT_CHANGES,
                Operation::Update,
                &versioned.api_version,
                "",
            );
            let merged = match self.fields.remove(&bucket) {
                Some(previous) => versioned.set.union(&previous.set),
                None => versioned.set,
            };
            self.fields.insert(
                bucket.clone(),
                VersionedSet {
                    set: merged,
                    api_version: versioned.api_version.clone(),
                    applied: false,
                },
            );
            match time {
                Some(time) => self.times.insert(bucket, time),
                None => self.times.remove(&bucket),
            };
            if buckets_made.contains(&versioned.api_version) {
                length -= 1;
            } else {
                buckets_made.push(versioned.api_version);
            }
        }
    }
}

/// An RFC 3339 time as seconds since the epoch (0 when absent or unreadable), for ordering.
fn seconds(time: Option<&String>) -> i64 {
    time.and_then(|time| chrono::DateTime::parse_from_rfc3339(time).ok())
        .map(|time| time.timestamp())
        .unwrap_or(0)
}

/// Whether `managedFields` asks for a reset: an empty list, or a list of one empty entry.
pub fn is_reset(entries: Option<&Value>) -> bool {
    match entries {
        Some(Value::Array(entries)) => match entries.as_slice() {
            [] => true,
            [Value::Object(entry)] => entry.values().all(|value| match value {
                Value::Null => true,
                Value::String(text) => text.is_empty(),
                Value::Object(map) => map.is_empty(),
                _ => false,
            }),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decode_encode_and_sort() {
        let entries = json!([
            {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1",
             "time": "2024-01-02T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1",
             "time": "2024-01-03T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:paused": {}}}},
            {"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1", "subresource": "scale",
             "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]);
        let managed = Managed::decode(Some(&entries)).expect("valid");
        assert_eq!(managed.fields.len(), 3);
        let encoded = managed.encode().expect("entries");
        let order: Vec<&str> = encoded
            .as_array()
            .expect("list")
            .iter()
            .map(|entry| entry["manager"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(order, ["kubectl", "kubectl", "kubectl-edit"]);
        assert_eq!(encoded[1]["subresource"], "scale");
        assert_eq!(
            ManagerId::new("kubectl", Operation::Update, "apps/v1", "scale").describe(),
            "\"kubectl\" with subresource \"scale\" using apps/v1"
        );
        assert!(
            Managed::decode(Some(&json!([{"operation": "Patch", "apiVersion": "v1"}]))).is_err()
        );
        assert!(
            Managed::decode(Some(&json!([{"operation": "Update", "apiVersion": "v1"}])))
                .is_err_and(|e| e == "missing fieldsType in managed fields entry 0")
        );
    }

    #[test]
    fn resets_and_caps() {
        assert!(is_reset(Some(&json!([]))));
        assert!(is_reset(Some(&json!([{}]))));
        assert!(!is_reset(None));
        assert!(!is_reset(Some(&json!([{"manager": "a"}]))));
        let mut managed = Managed::default();
        for index in 0..12 {
            let id = ManagerId::new(&format!("m{index:02}"), Operation::Update, "v1", "");
            let mut set = Set::new();
            set.insert(&[super::super::path::PathElement::field(&format!("f{index}"))]);
            managed.fields.insert(
                id.clone(),
                VersionedSet {
                    set,
                    api_version: "v1".into(),
                    applied: false,
                },
            );
            managed
                .times
                .insert(id, format!("2024-01-01T00:00:{index:02}Z"));
        }
        managed.cap_updates(MAX_UPDATE_MANAGERS);
        assert_eq!(managed.fields.len(), 10);
        let bucket = ManagerId::new(ANCIENT_CHANGES, Operation::Update, "v1", "");
        assert_eq!(managed.fields[&bucket].set.paths().len(), 3);
    }
}
