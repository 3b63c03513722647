//! Objects as the watch cache keeps them: the stored JSON normalised once (without `apiVersion`, `kind`
//! and `metadata.resourceVersion`), shared through an `Arc` by every list and watcher, and rendered for
//! any served version by splicing those three fields back in. The values of the fields the resource
//! can be selected by are read once too, so field selectors never parse an object again.

use std::io::Write;

use bytes::Bytes;
use kubers_core::field_labels::{self, FieldLabel};
use kubers_store::{KeyValue, Revision};
use serde_json::{Map, Value};

use super::Error;

/// One object of the cache.
#[derive(Debug)]
pub struct CachedObject {
    /// The store key.
    pub key: String,
    /// The revision of the object's last write.
    pub revision: Revision,
    /// `metadata.name`.
    name: Box<str>,
    /// `metadata.namespace`, for namespaced objects.
    namespace: Option<Box<str>>,
    /// `metadata.labels` with string values, sorted by key.
    labels: Box<[(Box<str>, Box<str>)]>,
    /// The value of every selectable field of the resource outside the name and namespace, by field
    /// label.
    fields: Box<[(&'static str, Box<str>)]>,
    /// The object's JSON without `apiVersion`, `kind` and `metadata.resourceVersion`.
    body: Bytes,
    /// Where `metadata`'s opening brace is in `body`.
    metadata_at: Option<usize>,
}

impl CachedObject {
    /// Reads a stored object (a JSON object) at its key-value's revision; `selectable` are the fields
    /// its resource can be selected by.
    pub fn from_kv(kv: &KeyValue, selectable: &[FieldLabel]) -> Result<CachedObject, Error> {
        let value: Value = serde_json::from_slice(&kv.value).map_err(|source| Error::Decode {
            key: kv.key.clone(),
            source,
        })?;
        // The name and namespace are kept anyway; the rest of the selectable fields are read here.
        let selected = selectable
            .iter()
            .filter(|label| !matches!(label.name, "metadata.name" | "metadata.namespace"))
            .filter_map(|label| {
                let text = field_labels::value(selectable, &value, label.name)?;
                Some((label.name, Box::from(text)))
            })
            .collect();
        let Value::Object(fields) = value else {
            return Err(Error::NotAnObject {
                key: kv.key.clone(),
            });
        };
        Ok(CachedObject::new(
            kv.key.clone(),
            kv.mod_revision,
            fields,
            selected,
        ))
    }

    fn new(
        key: String,
        revision: Revision,
        mut fields: Map<String, Value>,
        selected: Box<[(&'static str, Box<str>)]>,
    ) -> CachedObject {
        fields.remove("apiVersion");
        fields.remove("kind");
        let (mut name, mut namespace, mut labels) = (Box::from(""), None, Vec::new());
        if let Some(Value::Object(metadata)) = fields.get_mut("metadata") {
            metadata.remove("resourceVersion");
            let text = |field: &str| metadata.get(field).and_then(Value::as_str).map(Box::from);
            name = text("name").unwrap_or_default();
            namespace = text("namespace");
            if let Some(Value::Object(map)) = metadata.get("labels") {
                labels = map
                    .iter()
                    .filter_map(|(key, value)| {
                        Some((Box::from(key.as_str()), Box::from(value.as_str()?)))
                    })
                    .collect();
            }
        }
        labels.sort();
        let mut body = Vec::with_capacity(256);
        let mut metadata_at = None;
        body.push(b'{');
        for (index, (field, value)) in fields.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            push_json(&mut body, field);
            body.push(b':');
            if field == "metadata" && value.is_object() {
                metadata_at = Some(body.len());
            }
            push_json(&mut body, value);
        }
        body.push(b'}');
        CachedObject {
            key,
            revision,
            name,
            namespace,
            labels: labels.into_boxed_slice(),
            fields: selected,
            body: Bytes::from(body),
            metadata_at,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `metadata.namespace` (`None` for cluster-scoped objects).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The value of label `key`.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(label, _)| label.as_ref().cmp(key))
            .ok()
            .map(|index| self.labels[index].1.as_ref())
    }

    /// The value of the selectable field `name` (`None` when the resource cannot be selected by it;
    /// `metadata.name` and `metadata.namespace` (empty when unset) are answered for every resource:
    /// selectors are checked against the resource's labels before they are applied).
    pub fn field(&self, name: &str) -> Option<&str> {
        match name {
            "metadata.name" => Some(&self.name),
            "metadata.namespace" => Some(self.namespace.as_deref().unwrap_or("")),
            _ => self
                .fields
                .iter()
                .find(|(label, _)| *label == name)
                .map(|(_, value)| value.as_ref()),
        }
    }

    /// How many bytes the object's JSON takes, about.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Appends the object's JSON as `api_version`/`kind` at `revision` (its own, or a delete's) to `out`.
    pub fn render(&self, out: &mut Vec<u8>, api_version: &str, kind: &str, revision: Revision) {
        push_type_head(out, api_version, kind);
        self.render_rest(out, revision);
    }

    /// Appends the object's JSON at `revision` to `out`, opened by `head` (see [`type_head`]): the
    /// same as [`CachedObject::render`], with the type written once for a whole list.
    pub fn render_after(&self, out: &mut Vec<u8>, head: &[u8], revision: Revision) {
        out.extend_from_slice(head);
        self.render_rest(out, revision);
    }

    /// Appends what follows the type in the object's JSON.
    fn render_rest(&self, out: &mut Vec<u8>, revision: Revision) {
        let rest = &self.body[1..];
        if rest == b"}" {
            out.push(b'}');
            return;
        }
        out.push(b',');
        match self.metadata_at {
            Some(at) => {
                out.extend_from_slice(&self.body[1..=at]);
                out.extend_from_slice(b"\"resourceVersion\":\"");
                // Writing to a Vec cannot fail.
                let _ = write!(out, "{revision}");
                out.push(b'"');
                if self.body.get(at + 1) != Some(&b'}') {
                    out.push(b',');
                }
                out.extend_from_slice(&self.body[at + 1..]);
            }
            None => out.extend_from_slice(rest),
        }
    }

    /// The object as a JSON value, as [`CachedObject::render`] writes it.
    pub fn to_value(&self, api_version: &str, kind: &str, revision: Revision) -> Value {
        let mut out = Vec::with_capacity(self.body.len() + 96);
        self.render(&mut out, api_version, kind, revision);
        // What render writes is JSON by construction; a failure would be a bug, shown as null.
        serde_json::from_slice(&out).unwrap_or(Value::Null)
    }
}

/// The opening of an object of type `api_version`/`kind`: `{"apiVersion":…,"kind":…`.
pub fn type_head(api_version: &str, kind: &str) -> Vec<u8> {
    let mut head = Vec::with_capacity(32 + api_version.len() + kind.len());
    push_type_head(&mut head, api_version, kind);
    head
}

fn push_type_head(out: &mut Vec<u8>, api_version: &str, kind: &str) {
    out.extend_from_slice(b"{\"apiVersion\":");
    push_json(out, api_version);
    out.extend_from_slice(b",\"kind\":");
    push_json(out, kind);
}

/// Writes `value` as JSON; writing to a `Vec` cannot fail.
fn push_json(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    let _ = serde_json::to_writer(out, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn kv(key: &str, value: Value, revision: Revision) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from(value.to_string()),
            create_revision: revision,
            mod_revision: revision,
        }
    }

    fn rendered(object: &CachedObject, api_version: &str, revision: Revision) -> Value {
        let mut out = Vec::new();
        object.render(&mut out, api_version, "Thing", revision);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn objects_render_for_any_version_and_revision() {
        let stored = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "n": "1"}, "resourceVersion": "3"},
            "data": {"k": "v"}});
        let object = CachedObject::from_kv(&kv("/registry/configmaps/ns/a", stored, 7), &[])
            .expect("object");
        assert_eq!((object.name(), object.namespace()), ("a", Some("ns")));
        assert_eq!(
            (object.label("app"), object.label("n"), object.label("x")),
            (Some("web"), Some("1"), None)
        );
        assert_eq!(
            rendered(&object, "v1", 7),
            json!({"apiVersion": "v1", "kind": "Thing",
                "metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "n": "1"}, "resourceVersion": "7"},
                "data": {"k": "v"}})
        );
        assert_eq!(
            rendered(&object, "example.io/v2", 9)["metadata"]["resourceVersion"],
            "9"
        );
        assert_eq!(
            object.to_value("v1", "Thing", 7),
            rendered(&object, "v1", 7)
        );
    }

    #[test]
    fn odd_shapes_still_render_valid_json() {
        for (stored, expected) in [
            (
                json!({"metadata": {}}),
                json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"resourceVersion": "5"}}),
            ),
            (json!({}), json!({"apiVersion": "v1", "kind": "Thing"})),
            (
                json!({"spec": 1}),
                json!({"apiVersion": "v1", "kind": "Thing", "spec": 1}),
            ),
            (
                json!({"metadata": "odd", "z": {"metadata": {}}}),
                json!({"apiVersion": "v1", "kind": "Thing", "metadata": "odd", "z": {"metadata": {}}}),
            ),
        ] {
            let object =
                CachedObject::from_kv(&kv("/registry/things/t", stored, 5), &[]).expect("object");
            assert_eq!(rendered(&object, "v1", 5), expected);
        }
        assert!(CachedObject::from_kv(&kv("/registry/things/t", json!([1]), 5), &[]).is_err());
        let mut broken = kv("/registry/things/t", json!({}), 5);
        broken.value = Bytes::from_static(b"{nope");
        assert!(CachedObject::from_kv(&broken, &[]).is_err());
    }
}
