//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to the JSON the
//! rest of the server works with.
//!
//! A body is the magic `k8s\0` and a `runtime.Unknown` message: `{1: TypeMeta{1: apiVersion, 2: kind},
//! 2: raw object, 3: contentEncoding, 4: contentType}`. The object is decoded with the field table of its
//! kind ([`schema`]); a kind without a table, or a non-empty field the table does not know, is refused
//! rather than silently dropped.

mod decode;
mod schema;
pub(crate) mod wire;

use serde_json::Value;

pub use decode::decode_object;

/// Why a protobuf body could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not a well-formed message.
    #[error("malformed protobuf body: {0}")]
    Malformed(&'static str),
    /// The body does not start with the `k8s\0` magic.
    #[error("protobuf body does not start with the k8s magic bytes")]
    NoMagic,
    /// The kind is not one kubers reads from protobuf.
    #[error("protobuf bodies of kind {kind} ({api_version}) are not supported; send JSON")]
    UnsupportedKind {
        /// The body's apiVersion.
        api_version: String,
        /// The body's kind.
        kind: String,
    },
    /// The body sets a field kubers does not know.
    #[error("field {number} of {message} in the protobuf body is not supported; send JSON")]
    UnknownField {
        /// The message type.
        message: &'static str,
        /// The field number.
        number: u32,
    },
}

/// Decodes a whole `application/vnd.kubernetes.protobuf` body into a JSON object with `apiVersion` and
/// `kind`.
pub fn decode_body(body: &[u8]) -> Result<Value, Error> {
    let unknown = body.strip_prefix(b"k8s\0").ok_or(Error::NoMagic)?;
    decode::decode_unknown(unknown)
}
