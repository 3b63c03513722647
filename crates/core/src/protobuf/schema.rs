//! Field tables of the Kubernetes protobuf messages kubers decodes (numbers from upstream's
//! `generated.proto`), mapped to their JSON names.

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
    /// `meta/v1.Time`: `{1: seconds, 2: nanos}`, shown as RFC 3339.
    Time,
    /// A nested message.
    Message(&'static Schema),
    /// `map<string, string>`.
    StringMap,
    /// `map<string, bytes>`, values shown as base64.
    BytesMap,
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
    }
}

const fn list(number: u32, name: &'static str, kind: Kind) -> FieldSpec {
    FieldSpec {
        number,
        name,
        kind,
        repeated: true,
    }
}

/// `meta/v1.OwnerReference`.
pub static OWNER_REFERENCE: Schema = Schema {
    name: "OwnerReference",
    fields: &[
        field(1, "kind", Kind::String),
        field(3, "name", Kind::String),
        field(4, "uid", Kind::String),
        field(5, "apiVersion", Kind::String),
        field(6, "controller", Kind::Bool),
        field(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

/// `meta/v1.ObjectMeta` (managedFields are not accepted in protobuf bodies).
pub static OBJECT_META: Schema = Schema {
    name: "ObjectMeta",
    fields: &[
        field(1, "name", Kind::String),
        field(2, "generateName", Kind::String),
        field(3, "namespace", Kind::String),
        field(4, "selfLink", Kind::String),
        field(5, "uid", Kind::String),
        field(6, "resourceVersion", Kind::String),
        field(7, "generation", Kind::Int),
        field(8, "creationTimestamp", Kind::Time),
        field(9, "deletionTimestamp", Kind::Time),
        field(10, "deletionGracePeriodSeconds", Kind::Int),
        field(11, "labels", Kind::StringMap),
        field(12, "annotations", Kind::StringMap),
        list(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        list(14, "finalizers", Kind::String),
    ],
};

/// `core/v1.ConfigMap`.
pub static CONFIG_MAP: Schema = Schema {
    name: "ConfigMap",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "data", Kind::StringMap),
        field(3, "binaryData", Kind::BytesMap),
        field(4, "immutable", Kind::Bool),
    ],
};

/// `core/v1.Secret`.
pub static SECRET: Schema = Schema {
    name: "Secret",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "data", Kind::BytesMap),
        field(3, "type", Kind::String),
        field(4, "stringData", Kind::StringMap),
        field(5, "immutable", Kind::Bool),
    ],
};

/// `core/v1.NamespaceSpec`.
pub static NAMESPACE_SPEC: Schema = Schema {
    name: "NamespaceSpec",
    fields: &[list(1, "finalizers", Kind::String)],
};

/// `core/v1.NamespaceStatus` (conditions are server-owned and not accepted).
pub static NAMESPACE_STATUS: Schema = Schema {
    name: "NamespaceStatus",
    fields: &[field(1, "phase", Kind::String)],
};

/// `core/v1.Namespace`.
pub static NAMESPACE: Schema = Schema {
    name: "Namespace",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        field(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

/// The schema of a top-level kind (`apiVersion`, `kind`), if kubers decodes it from protobuf.
pub fn for_kind(api_version: &str, kind: &str) -> Option<&'static Schema> {
    match (api_version, kind) {
        ("v1", "ConfigMap") => Some(&CONFIG_MAP),
        ("v1", "Secret") => Some(&SECRET),
        ("v1", "Namespace") => Some(&NAMESPACE),
        _ => None,
    }
}
