//! ConfigMaps and Secrets as upstream validates them: key syntax, keys in both `data` and
//! `binaryData`, the 1 MiB size limit, the keys each Secret type needs, and on update the
//! `immutable` flag and the Secret's type.

use std::collections::HashSet;

use base64::Engine;
use serde_json::{Map, Value, json};

use super::names;
use crate::status::Cause;

/// The largest ConfigMap or Secret payload, 1 MiB.
pub const MAX_SIZE: usize = 1024 * 1024;

fn map<'a>(object: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    object.get(key).and_then(Value::as_object)
}

fn keys(object: &Value, part: &str, causes: &mut Vec<Cause>) {
    for key in map(object, part).into_iter().flat_map(Map::keys) {
        for problem in names::config_key(key) {
            causes.push(Cause::invalid(
                &format!("{part}[{key}]"),
                &json!(key),
                &problem,
            ));
        }
    }
}

/// The problems of a ConfigMap.
pub fn config_map(object: &Value, causes: &mut Vec<Cause>) {
    keys(object, "data", causes);
    keys(object, "binaryData", causes);
    let binary = map(object, "binaryData");
    let mut size = 0;
    for (key, value) in map(object, "data").into_iter().flatten() {
        if binary.is_some_and(|binary| binary.contains_key(key)) {
            causes.push(Cause::invalid(
                &format!("data[{key}]"),
                &json!(key),
                "duplicate of key present in binaryData",
            ));
        }
        size += value.as_str().map_or(0, str::len);
    }
    for value in binary.into_iter().flat_map(Map::values) {
        size += decoded_len(value);
    }
    if size > MAX_SIZE {
        causes.push(Cause::too_long("", MAX_SIZE));
    }
}

fn decoded_len(value: &Value) -> usize {
    let text = value.as_str().unwrap_or("");
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_or(text.len() * 3 / 4, |bytes| bytes.len())
}

/// The problems of a Secret.
pub fn secret(object: &Value, causes: &mut Vec<Cause>) {
    keys(object, "data", causes);
    let data: HashSet<&str> = map(object, "data")
        .into_iter()
        .flat_map(Map::keys)
        .map(String::as_str)
        .collect();
    let size: usize = map(object, "data")
        .into_iter()
        .flat_map(Map::values)
        .map(decoded_len)
        .sum();
    if size > MAX_SIZE {
        causes.push(Cause::too_long("data", MAX_SIZE));
    }
    let needs = |key: &str, causes: &mut Vec<Cause>| {
        if !data.contains(key) {
            causes.push(Cause::required(&format!("data[{key}]"), ""));
        }
    };
    match object
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("Opaque")
    {
        "kubernetes.io/service-account-token"
            if object
                .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty) =>
        {
            causes.push(Cause::required(
                "metadata.annotations[kubernetes.io/service-account.name]",
                "",
            ));
        }
        "kubernetes.io/dockercfg" => needs(".dockercfg", causes),
        "kubernetes.io/dockerconfigjson" => needs(".dockerconfigjson", causes),
        "kubernetes.io/ssh-auth" => needs("ssh-privatekey", causes),
        "kubernetes.io/tls" => {
            needs("tls.key", causes);
            needs("tls.crt", causes);
        }
        _ => {}
    }
}

/// The update rules of ConfigMaps and Secrets: an immutable one keeps its data and stays
/// immutable; a Secret keeps its type.
pub fn config_update(old: &Value, new: &Value, secret: bool, causes: &mut Vec<Cause>) {
    if secret && old.get("type") != new.get("type") {
        causes.push(Cause::invalid(
            "type",
            new.get("type").unwrap_or(&Value::Null),
            "field is immutable",
        ));
    }
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        causes.push(Cause::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    let parts: &[&str] = if secret {
        &["data"]
    } else {
        &["data", "binaryData"]
    };
    for part in parts {
        let empty = || Value::Object(Map::new());
        let old_part = old.get(*part).cloned().unwrap_or_else(empty);
        let new_part = new.get(*part).cloned().unwrap_or_else(empty);
        if old_part != new_part {
            causes.push(Cause::forbidden(
                part,
                "field is immutable when `immutable` is set",
            ));
        }
    }
}
