//! Objects as JSON: reading them from the store (with `resourceVersion` from the revision), preparing
//! them for storage, and the metadata fields the server owns.

use bytes::Bytes;
use chrono::{SecondsFormat, Utc};
use kubers_store::{KeyValue, Revision};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// An object read from the store, with `metadata.resourceVersion` set to its revision.
pub fn from_stored(kv: &KeyValue) -> Result<Value, serde_json::Error> {
    let mut object: Value = serde_json::from_slice(&kv.value)?;
    set_resource_version(&mut object, kv.mod_revision);
    Ok(object)
}

/// The bytes stored for `object`: its JSON without `metadata.resourceVersion`, which the store's
/// revision provides.
pub fn to_stored(object: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(&Stored(object)).unwrap_or_default())
}

/// An object serialised without `metadata.resourceVersion`, with no copy of it made.
struct Stored<'a>(&'a Value);

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(fields) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (key, value) in fields {
            match value {
                Value::Object(metadata) if key == "metadata" => {
                    map.serialize_entry(key, &WithoutVersion(metadata))?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

/// Metadata without its `resourceVersion`.
struct WithoutVersion<'a>(&'a Map<String, Value>);

impl Serialize for WithoutVersion<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0 {
            if key != "resourceVersion" {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Sets `metadata.resourceVersion` to `revision` (objects always have metadata once decoded).
pub fn set_resource_version(object: &mut Value, revision: Revision) {
    if let Some(metadata) = metadata_mut(object) {
        metadata.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

/// The object's metadata map.
pub fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    object.get_mut("metadata")?.as_object_mut()
}

/// Checks that `body` is an object whose metadata, if present, is an object, and gives it metadata if it
/// has none.
pub fn ensure_metadata(body: &mut Value) -> Result<(), &'static str> {
    let Some(fields) = body.as_object_mut() else {
        return Err("the request body must be a JSON object");
    };
    let metadata = fields
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if metadata.is_null() {
        *metadata = Value::Object(Map::new());
    }
    if metadata.is_object() {
        Ok(())
    } else {
        Err("metadata must be an object")
    }
}

/// A string field of the object's metadata.
pub fn metadata_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// A new `metadata.uid`: a random (version 4) UUID from the thread's CSPRNG, which is seeded once
/// from the operating system instead of asking it for every object.
pub fn new_uid() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resource_version_lives_in_the_revision() {
        let object = json!({"metadata": {"name": "a", "resourceVersion": "7"}, "data": {"k": "v"}});
        let stored = to_stored(&object);
        let kv = KeyValue {
            key: "/registry/configmaps/default/a".into(),
            value: stored,
            create_revision: 9,
            mod_revision: 12,
        };
        let read = from_stored(&kv).expect("json");
        assert_eq!(read["metadata"]["resourceVersion"], "12");
        assert_eq!(read["data"]["k"], "v");
        assert!(!String::from_utf8_lossy(&kv.value).contains("resourceVersion"));
    }

    #[test]
    fn metadata_is_created_when_missing() {
        let mut object = json!({"kind": "ConfigMap"});
        ensure_metadata(&mut object).expect("object");
        metadata_mut(&mut object)
            .expect("metadata")
            .insert("name".into(), json!("x"));
        assert_eq!(metadata_str(&object, "name"), Some("x"));
        assert!(ensure_metadata(&mut json!([])).is_err());
        assert!(ensure_metadata(&mut json!({"metadata": 3})).is_err());
    }
}
