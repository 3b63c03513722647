//! Field tables of the Kubernetes protobuf messages kubers decodes, mapped to their JSON names: every
//! kind the API server serves and every message they contain, generated (`generated/`, by
//! `scripts/gen-protobuf-schema.py`) from k8s-pb's field tags and k8s-openapi's JSON names.

mod generated;

/// How a field's value is encoded and shown in JSON.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A string.
    String,
    /// Bytes, shown as base64 like the JSON API does.
    Bytes,
    /// An integer (int32 or int64).
    Int,
    /// A boolean.
    Bool,
    /// `meta/v1.Time`: `{1: seconds, 2: nanos}`, shown as RFC 3339 in seconds.
    Time,
    /// `meta/v1.MicroTime`: as `Time`, shown with microseconds.
    MicroTime,
    /// `resource.Quantity`: `{1: string}`, shown as the string.
    Quantity,
    /// `runtime.RawExtension` and `meta/v1.FieldsV1`: `{1: raw JSON}`, shown as that JSON.
    RawJson,
    /// A nested message.
    Message(&'static Schema),
    /// `map<string, string>`.
    StringMap,
    /// `map<string, bytes>`, values shown as base64.
    BytesMap,
    /// `map<string, resource.Quantity>`, shown as strings.
    QuantityMap,
    /// `map<string, meta/v1.Time>`, shown as RFC 3339 strings.
    TimeMap,
    /// `map<string, ExtraValue>` (an `ExtraValue` is `{1: repeated string}`), shown as lists.
    ListMap,
    /// `intstr.IntOrString`: `{1: type, 2: intVal, 3: strVal}`, shown as a number or a string.
    IntOrString,
    /// A nested message whose fields JSON shows in the enclosing object (an embedded Go struct
    /// such as `Volume.VolumeSource` or `IngressRule.IngressRuleValue`).
    Inline(&'static Schema),
}

/// One field of a message.
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    /// The field number.
    pub number: u32,
    /// The JSON name.
    pub name: &'static str,
    /// The value's encoding.
    pub kind: Kind,
    /// Whether the field is a list.
    pub repeated: bool,
    /// Whether an explicit zero value is kept (a Go pointer whose zero differs from unset, such as
    /// `replicas: 0`); encoders write zero values of every field, which JSON omits otherwise.
    pub keeps_zero: bool,
}

/// A message type.
#[derive(Debug)]
pub struct Schema {
    /// The message's name, for errors.
    pub name: &'static str,
    /// Its known fields.
    pub fields: &'static [FieldSpec],
}

const fn field(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: false,
        keeps_zero: false,
    }
}

const fn list(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: true,
        keeps_zero: false,
    }
}

const fn pointer(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: false,
        keeps_zero: true,
    }
}

/// The schema of a top-level kind (`apiVersion`, `kind`), if the server serves it.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {
    generated::for_kind(api_version, kind)
}
