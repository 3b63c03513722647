//! OpenAPI documents generated from the type definitions: the k8s-openapi types give the schemas
//! ([`schemas`]), the registry gives the paths ([`paths`]). [`Documents`] renders the v3 documents (one
//! per group version, [`v3`]) and the v2 document ([`v2`], as JSON or as gnostic protobuf through
//! [`protobuf`]).
//!
//! Every PATCH operation carries `x-kubernetes-group-version-kind` and lists the `fieldValidation`
//! parameter: with that, kubectl (1.27 and later) leaves validation to the server
//! (`fieldValidation=Strict`) instead of downloading the protobuf v2 document.
//!
//! Generation is pure and takes a few MiB while it runs; the API server renders a document on its
//! first request and keeps only the serialized bytes.

pub mod kinds;
pub mod paths;
pub mod protobuf;
pub mod schemas;
pub mod v2;
pub mod v3;

use std::io::{self, Write};

use serde_json::Value;

pub use schemas::Definitions;

use crate::registry;

/// `info.title` of every document.
pub const INFO_TITLE: &str = "Kubernetes";
/// `info.version` of every document.
pub const INFO_VERSION: &str = "v1.34.0+kubers";

/// Definition names looked up by kind, for the paths.
pub(crate) struct DefinitionNames<'a>(pub &'a Definitions);

impl paths::Names for DefinitionNames<'_> {
    fn definition(&self, group: &str, version: &str, kind: &str) -> Option<String> {
        self.0.name_of(group, version, kind).map(str::to_owned)
    }
}

/// The documents' generator: holds the definitions while documents are rendered from them.
pub struct Documents {
    definitions: Definitions,
}

impl Default for Documents {
    fn default() -> Self {
        Self::new()
    }
}

impl Documents {
    /// Generates the definitions.
    pub fn new() -> Documents {
        Documents {
            definitions: Definitions::generate(),
        }
    }

    /// The definitions.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// The v3 document at an `/openapi/v3/<path>` URL path (`api/v1`, `apis/apps/v1`).
    pub fn v3(&self, path: &str) -> Option<Value> {
        let (group, version) = parse_path(path)?;
        v3::document(&self.definitions, group, version)
    }

    /// The v2 document.
    pub fn v2(&self) -> Value {
        v2::document(&self.definitions)
    }

    /// Writes the v3 document at `path` as compact JSON, one path and one schema at a time, so only
    /// the definitions and the output are held at once; the bytes are those of [`Documents::v3`]
    /// serialized. Returns false when there is no such document.
    pub fn write_v3(&self, path: &str, out: &mut impl Write) -> io::Result<bool> {
        let Some((group, version)) = parse_path(path) else {
            return Ok(false);
        };
        let Some(parts) = v3::parts(&self.definitions, group, version) else {
            return Ok(false);
        };
        let mut streams = [parts.entries(0), parts.entries(1)];
        write_streamed(
            &parts.frame(),
            &v3::Parts::STREAMED,
            &mut streams,
            &mut String::new(),
            out,
        )?;
        Ok(true)
    }

    /// Writes the v2 document as compact JSON, like [`Documents::write_v3`].
    pub fn write_v2(&self, out: &mut impl Write) -> io::Result<()> {
        let parts = v2::parts(&self.definitions);
        let mut streams = [parts.entries(0), parts.entries(1)];
        write_streamed(
            &parts.frame(),
            &v2::Parts::STREAMED,
            &mut streams,
            &mut String::new(),
            out,
        )
    }

    /// The v2 document as gnostic protobuf, encoded one path and one definition at a time.
    pub fn v2_protobuf(&self) -> Vec<u8> {
        let parts = v2::parts(&self.definitions);
        protobuf::encode_parts(&parts.frame(), parts.entries(0), parts.entries(1))
    }
}

type Entries<'a> = Box<dyn Iterator<Item = (String, Value)> + 'a>;

/// Writes `value` as compact JSON (keys sorted, as `serde_json` does), taking the object at each of
/// `pointers` from the matching stream instead.
fn write_streamed(
    value: &Value,
    pointers: &[&str],
    streams: &mut [Entries<'_>],
    pointer: &mut String,
    out: &mut impl Write,
) -> io::Result<()> {
    if let Some(index) = pointers.iter().position(|p| *p == pointer.as_str())
        && let Some(entries) = streams.get_mut(index)
    {
        out.write_all(b"{")?;
        for (position, (key, entry)) in entries.enumerate() {
            if position > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, &key)?;
            out.write_all(b":")?;
            serde_json::to_writer(&mut *out, &entry)?;
        }
        return out.write_all(b"}");
    }
    let Value::Object(fields) = value else {
        return Ok(serde_json::to_writer(out, value)?);
    };
    out.write_all(b"{")?;
    for (position, (key, field)) in fields.iter().enumerate() {
        if position > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        let length = pointer.len();
        pointer.push('/');
        pointer.push_str(key);
        write_streamed(field, pointers, streams, pointer, out)?;
        pointer.truncate(length);
    }
    out.write_all(b"}")
}

/// The path of every group version's v3 document (`api/v1`, `apis/apps/v1`, ...), as the
/// `/openapi/v3` index lists them.
pub fn v3_paths() -> Vec<String> {
    registry::GROUPS
        .iter()
        .flat_map(|group| {
            group.versions.iter().map(move |version| {
                if group.name.is_empty() {
                    format!("api/{version}")
                } else {
                    format!("apis/{}/{version}", group.name)
                }
            })
        })
        .collect()
}

/// The group and version of an `/openapi/v3/<path>` (`api/v1` is the core group).
fn parse_path(path: &str) -> Option<(&str, &str)> {
    match path
        .trim_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["api", version] => Some(("", version)),
        ["apis", group, version] => Some((group, version)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
