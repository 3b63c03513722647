//! Decoding messages by their field tables into JSON values.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use serde_json::{Map, Value};

use super::Error;
use super::schema::{self, FieldSpec, Kind, Schema};
use super::wire::{Field, Fields};

/// Decodes a `runtime.Unknown` message (the body after the magic bytes).
pub fn decode_unknown(message: &[u8]) -> Result<Value, Error> {
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for field in Fields::new(message) {
        match field? {
            Field::Bytes(1, type_meta) => {
                for meta in Fields::new(type_meta) {
                    match meta? {
                        Field::Bytes(1, bytes) => api_version = text(bytes)?,
                        Field::Bytes(2, bytes) => kind = text(bytes)?,
                        _ => {}
                    }
                }
            }
            Field::Bytes(2, bytes) => raw = bytes,
            _ => {}
        }
    }
    let schema = schema::for_kind(&api_version, &kind).ok_or_else(|| Error::UnsupportedKind {
        api_version: api_version.clone(),
        kind: kind.clone(),
    })?;
    let mut object = decode_object(raw, schema)?;
    if let Value::Object(fields) = &mut object {
        fields.insert("apiVersion".into(), Value::String(api_version));
        fields.insert("kind".into(), Value::String(kind));
    }
    Ok(object)
}

/// Decodes `message` with `schema` into a JSON object.
pub fn decode_object(message: &[u8], schema: &Schema) -> Result<Value, Error> {
    let mut object = Map::new();
    for field in Fields::new(message) {
        let field = field?;
        let Some(spec) = schema
            .fields
            .iter()
            .find(|spec| spec.number == field.number())
        else {
            if is_empty(&field) {
                continue;
            }
            return Err(Error::UnknownField {
                message: schema.name,
                number: field.number(),
            });
        };
        set(&mut object, spec, field)?;
    }
    Ok(Value::Object(object))
}

fn set(object: &mut Map<String, Value>, spec: &FieldSpec, field: Field<'_>) -> Result<(), Error> {
    match spec.kind {
        Kind::StringMap | Kind::BytesMap | Kind::QuantityMap | Kind::TimeMap | Kind::ListMap => {
            let Field::Bytes(_, entry) = field else {
                return Err(Error::Malformed("a map entry is not length-delimited"));
            };
            let (key, value) = map_entry(entry, spec.kind)?;
            let map = object
                .entry(spec.name)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = map {
                map.insert(key, value);
            }
        }
        _ if spec.repeated => {
            let value = scalar(spec.kind, field)?;
            let list = object
                .entry(spec.name)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = list {
                list.push(value);
            }
        }
        Kind::Inline(schema) => {
            let Field::Bytes(_, bytes) = field else {
                return Err(Error::Malformed(
                    "an embedded message is not length-delimited",
                ));
            };
            if let Value::Object(inlined) = decode_object(bytes, schema)? {
                object.extend(inlined);
            }
        }
        // Encoders write zero values of optional fields explicitly; JSON omits them.
        Kind::String | Kind::Int | Kind::Bool | Kind::Time | Kind::MicroTime | Kind::Quantity
            if is_empty(&field) && !spec.keeps_zero => {}
        _ => {
            object.insert(spec.name.to_owned(), scalar(spec.kind, field)?);
        }
    }
    Ok(())
}

fn scalar(kind: Kind, field: Field<'_>) -> Result<Value, Error> {
    Ok(match (kind, field) {
        (Kind::String, Field::Bytes(_, bytes)) => Value::String(text(bytes)?),
        (Kind::Bytes, Field::Bytes(_, bytes)) => Value::String(STANDARD.encode(bytes)),
        // int32 fields carry negative values sign-extended to 64 bits.
        (Kind::Int, Field::Varint(_, value)) => Value::from(value as i64),
        (Kind::Bool, Field::Varint(_, value)) => Value::Bool(value != 0),
        (Kind::Time, Field::Bytes(_, bytes)) => time(bytes, chrono::SecondsFormat::Secs)?,
        (Kind::MicroTime, Field::Bytes(_, bytes)) => time(bytes, chrono::SecondsFormat::Micros)?,
        (Kind::Quantity, Field::Bytes(_, bytes)) => quantity(bytes)?,
        (Kind::RawJson, Field::Bytes(_, bytes)) => raw_json(bytes)?,
        (Kind::IntOrString, Field::Bytes(_, bytes)) => int_or_string(bytes)?,
        (Kind::Message(schema), Field::Bytes(_, bytes)) => decode_object(bytes, schema)?,
        _ => {
            return Err(Error::Malformed(
                "a field has the wrong wire type for its kind",
            ));
        }
    })
}

fn map_entry(entry: &[u8], kind: Kind) -> Result<(String, Value), Error> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    for field in Fields::new(entry) {
        match (field?, kind) {
            (Field::Bytes(1, bytes), _) => key = text(bytes)?,
            (Field::Bytes(2, bytes), Kind::BytesMap) => {
                value = Value::String(STANDARD.encode(bytes))
            }
            (Field::Bytes(2, bytes), Kind::QuantityMap) => value = quantity(bytes)?,
            (Field::Bytes(2, bytes), Kind::TimeMap) => {
                value = time(bytes, chrono::SecondsFormat::Secs)?
            }
            (Field::Bytes(2, bytes), Kind::ListMap) => value = string_list(bytes)?,
            (Field::Bytes(2, bytes), _) => value = Value::String(text(bytes)?),
            _ => return Err(Error::Malformed("unexpected field in a map entry")),
        }
    }
    Ok((key, value))
}

/// `resource.Quantity`: `{1: string}`.
fn quantity(message: &[u8]) -> Result<Value, Error> {
    let mut text_value = String::new();
    for field in Fields::new(message) {
        if let Field::Bytes(1, bytes) = field? {
            text_value = text(bytes)?;
        }
    }
    Ok(Value::String(text_value))
}

/// `runtime.RawExtension` and `meta/v1.FieldsV1`: `{1: raw}`, the raw bytes being JSON.
fn raw_json(message: &[u8]) -> Result<Value, Error> {
    let mut value = Value::Null;
    for field in Fields::new(message) {
        if let Field::Bytes(1, bytes) = field? {
            value = serde_json::from_slice(bytes)
                .map_err(|_| Error::Malformed("an embedded raw object is not JSON"))?;
        }
    }
    Ok(value)
}

/// `ExtraValue`: `{1: repeated string}`, shown as a list.
fn string_list(message: &[u8]) -> Result<Value, Error> {
    let mut items = Vec::new();
    for field in Fields::new(message) {
        if let Field::Bytes(1, bytes) = field? {
            items.push(Value::String(text(bytes)?));
        }
    }
    Ok(Value::Array(items))
}

/// `intstr.IntOrString`: `{1: type (0 int, 1 string), 2: intVal, 3: strVal}`.
fn int_or_string(message: &[u8]) -> Result<Value, Error> {
    let (mut is_string, mut number, mut string) = (false, 0i64, String::new());
    for field in Fields::new(message) {
        match field? {
            Field::Varint(1, kind) => is_string = kind == 1,
            Field::Varint(2, value) => number = value as i64,
            Field::Bytes(3, bytes) => string = text(bytes)?,
            _ => {}
        }
    }
    Ok(if is_string {
        Value::String(string)
    } else {
        Value::from(number)
    })
}

/// `meta/v1.Time` and `MicroTime`: `{1: seconds, 2: nanos}`, as RFC 3339 with `precision`.
fn time(message: &[u8], precision: chrono::SecondsFormat) -> Result<Value, Error> {
    let (mut seconds, mut nanos) = (0i64, 0u32);
    for field in Fields::new(message) {
        match field? {
            Field::Varint(1, value) => seconds = value as i64,
            Field::Varint(2, value) => nanos = u32::try_from(value).unwrap_or(0),
            _ => {}
        }
    }
    let time = DateTime::from_timestamp(seconds, nanos)
        .ok_or(Error::Malformed("timestamp out of range"))?;
    Ok(Value::String(time.to_rfc3339_opts(precision, true)))
}

fn text(bytes: &[u8]) -> Result<String, Error> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::Malformed("a string is not valid UTF-8"))
}

/// Zero values that proto2-style encoders emit explicitly carry no information.
fn is_empty(field: &Field<'_>) -> bool {
    match field {
        Field::Varint(_, value) => *value == 0,
        Field::Bytes(_, bytes) => bytes.is_empty(),
        Field::Fixed(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Error, decode_body};

    /// Encodes a length-delimited field.
    fn bytes(number: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = varint(u64::from(number << 3 | 2));
        out.extend(varint(payload.len() as u64));
        out.extend_from_slice(payload);
        out
    }

    /// Encodes a varint field.
    fn varint_field(number: u32, value: u64) -> Vec<u8> {
        [varint(u64::from(number << 3)), varint(value)].concat()
    }

    fn varint(mut value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [bytes(1, api_version.as_bytes()), bytes(2, kind.as_bytes())].concat();
        let unknown = [
            bytes(1, &type_meta),
            bytes(2, raw),
            bytes(3, b""),
            bytes(4, b""),
        ]
        .concat();
        [b"k8s\0".to_vec(), unknown].concat()
    }

    #[test]
    fn config_map_from_kubectl_create() {
        let metadata = [
            bytes(1, b"settings"),
            bytes(2, b""),
            bytes(3, b"team-a"),
            bytes(11, &[bytes(1, b"tier"), bytes(2, b"front")].concat()),
        ]
        .concat();
        let raw = [
            bytes(1, &metadata),
            bytes(2, &[bytes(1, b"color"), bytes(2, b"blue")].concat()),
            bytes(3, &[bytes(1, b"bin"), bytes(2, &[0, 1, 2])].concat()),
        ]
        .concat();
        let object = decode_body(&body("v1", "ConfigMap", &raw)).expect("decodes");
        assert_eq!(
            object,
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "team-a", "labels": {"tier": "front"}},
                "data": {"color": "blue"},
                "binaryData": {"bin": "AAEC"},
            })
        );
    }

    #[test]
    fn namespace_with_time_and_finalizers() {
        let time = [varint(1 << 3), varint(1_700_000_000)].concat();
        let metadata = [bytes(1, b"team-a"), bytes(8, &time)].concat();
        let spec = bytes(1, b"kubernetes");
        let raw = [bytes(1, &metadata), bytes(2, &spec), bytes(3, b"")].concat();
        let object = decode_body(&body("v1", "Namespace", &raw)).expect("decodes");
        assert_eq!(
            object["metadata"]["creationTimestamp"],
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(object["spec"]["finalizers"], json!(["kubernetes"]));
    }

    #[test]
    fn ingress_rules_inline_their_value() {
        let port = bytes(2, &bytes(1, b"http"));
        let service = [bytes(1, b"web"), port].concat();
        let backend = bytes(4, &service);
        let path = [bytes(1, b"/"), bytes(2, &backend), bytes(3, b"Exact")].concat();
        let http = bytes(1, &bytes(1, &path));
        let rule = [bytes(1, b"example.com"), bytes(2, &http)].concat();
        let raw = [bytes(1, &bytes(1, b"front")), bytes(2, &bytes(3, &rule))].concat();
        let object = decode_body(&body("networking.k8s.io/v1", "Ingress", &raw)).expect("decodes");
        assert_eq!(
            object["spec"]["rules"],
            json!([{"host": "example.com", "http": {"paths": [
                {"path": "/", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}
            ]}}])
        );
    }

    #[test]
    fn zero_values_are_kept_only_where_go_has_a_pointer() {
        // `replicas` is an `*int32` (zero scales to nothing); a container port's `hostPort` is a
        // plain `int32` that JSON omits when zero. Encoders write both.
        let port = [varint_field(2, 0), varint_field(3, 80)].concat();
        let container = [bytes(1, b"c"), bytes(6, &port)].concat();
        let pod_spec = bytes(2, &container);
        let template = bytes(2, &pod_spec);
        let spec = [varint_field(1, 0), bytes(3, &template)].concat();
        let deployment = [bytes(1, &bytes(1, b"web")), bytes(2, &spec)].concat();
        let object = decode_body(&body("apps/v1", "Deployment", &deployment)).expect("decodes");
        assert_eq!(object["spec"]["replicas"], json!(0));
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][0]["ports"],
            json!([{"containerPort": 80}])
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(decode_body(b"{}"), Err(Error::NoMagic));
        assert!(matches!(
            decode_body(&body("storage.k8s.io/v1", "CSIDriver", b"")),
            Err(Error::UnsupportedKind { .. })
        ));
        let unknown_field = bytes(9, b"something");
        assert_eq!(
            decode_body(&body("v1", "ConfigMap", &unknown_field)),
            Err(Error::UnknownField {
                message: "ConfigMap",
                number: 9
            })
        );
        let mut truncated = body("v1", "ConfigMap", &bytes(1, b"x"));
        truncated.truncate(truncated.len() - 6);
        assert!(matches!(decode_body(&truncated), Err(Error::Malformed(_))));
    }
}
