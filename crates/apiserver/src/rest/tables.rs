//! Server-side printing: the `Table` kubectl asks for with `Accept: ...;as=Table`, built by
//! `kubers_core::table` from the objects.

use kubers_core::registry::ResourceInfo;
use serde_json::Value;

/// A `meta.k8s.io/v1` Table of `objects` at `resource_version`.
pub fn table(info: &ResourceInfo, objects: &[Value], resource_version: &str) -> Value {
    kubers_core::table::table(info, objects, resource_version, chrono::Utc::now())
}
