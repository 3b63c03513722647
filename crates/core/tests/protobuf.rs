//! The protobuf field tables against k8s-pb: for every kind the server serves, an object with every
//! field set (`protobuf/fill.rs`, values naming their field) is encoded with k8s-pb's prost types,
//! wrapped as kubectl sends it (`k8s\0` + `runtime.Unknown`) and decoded with kubers' tables. A field
//! the tables lack is refused, a wrong number puts a value under another field's name (every value
//! must name the JSON key it sits under), and a wrong JSON name or shape does not survive a round
//! trip through the k8s-openapi type.

#[path = "protobuf/fill.rs"]
mod fill;

use base64::Engine;
use k8s_openapi::api;
use prost::Message;
use serde_json::Value;

/// A string field's value: its own name.
fn text(name: &str) -> String {
    name.to_owned()
}

/// A number field's value, derived from its name (never zero: zero values are not sent).
fn number(name: &str) -> i64 {
    let hash = normal(name).bytes().fold(7u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    i64::from(hash % 9_973) + 1
}

/// A boolean field's value (true: false is not sent).
fn flag(_name: &str) -> bool {
    true
}

/// A name without case or separators: `host_ip` and `hostIP` are the same field.
fn normal(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The body kubectl sends: `k8s\0` and a `runtime.Unknown` holding the object.
fn body(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = b"k8s\0".to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

/// Every leaf under `key` must have come from the field of that name; returns how many were checked.
fn check_leaves(key: &str, value: &Value, path: &str, problems: &mut Vec<String>) -> usize {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(name, child)| check_leaves(name, child, &format!("{path}.{name}"), problems))
            .sum(),
        Value::Array(items) => items
            .iter()
            .map(|item| check_leaves(key, item, path, problems))
            .sum(),
        Value::String(text) => {
            let from_bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            let time = chrono::DateTime::parse_from_rfc3339(text).is_ok();
            let named = normal(text) == normal(key)
                || from_bytes.is_some_and(|decoded| normal(&decoded) == normal(key));
            if !named && !time {
                problems.push(format!("{path}: {text:?} is not the value of {key}"));
            }
            1
        }
        Value::Number(number_value) => {
            if number_value.as_i64() != Some(number(key)) {
                problems.push(format!(
                    "{path}: {number_value} is not the value of {key} ({})",
                    number(key)
                ));
            }
            1
        }
        Value::Bool(_) | Value::Null => 1,
    }
}

/// Where `ours` and `theirs` differ, by path.
fn differ(path: &str, ours: &Value, theirs: &Value, differences: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(ours), Value::Object(theirs)) => {
            for (key, value) in ours {
                let at = format!("{path}.{key}");
                match theirs.get(key) {
                    Some(other) => differ(&at, value, other, differences),
                    None => differences.push(format!("{at}: unknown to k8s-openapi")),
                }
            }
            // k8s-openapi writes `apiVersion` and `kind` of embedded objects (claim templates)
            // that neither protobuf nor upstream's JSON carry.
            let type_meta = |key: &&String| matches!(key.as_str(), "apiVersion" | "kind");
            for key in theirs
                .keys()
                .filter(|key| !ours.contains_key(*key) && !type_meta(key))
            {
                differences.push(format!("{path}.{key}: missing from ours"));
            }
        }
        (Value::Array(ours), Value::Array(theirs)) if ours.len() == theirs.len() => {
            for (index, (value, other)) in ours.iter().zip(theirs).enumerate() {
                differ(&format!("{path}[{index}]"), value, other, differences);
            }
        }
        _ if ours == theirs => {}
        _ => differences.push(format!("{path}: ours {ours}, k8s-openapi {theirs}")),
    }
}

/// Decodes `value` as the k8s-openapi type of its kind and encodes it again.
fn round_trip(api_version: &str, kind: &str, value: &Value) -> Value {
    fn again<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> Value {
        let typed: T = serde_json::from_value(value.clone()).expect("k8s-openapi reads it");
        serde_json::to_value(typed).expect("k8s-openapi writes it")
    }
    match (api_version, kind) {
        ("v1", "Binding") => again::<api::core::v1::Binding>(value),
        ("v1", "ConfigMap") => again::<api::core::v1::ConfigMap>(value),
        ("v1", "Endpoints") => again::<api::core::v1::Endpoints>(value),
        ("v1", "Event") => again::<api::core::v1::Event>(value),
        ("v1", "LimitRange") => again::<api::core::v1::LimitRange>(value),
        ("v1", "Namespace") => again::<api::core::v1::Namespace>(value),
        ("v1", "Node") => again::<api::core::v1::Node>(value),
        ("v1", "PersistentVolumeClaim") => again::<api::core::v1::PersistentVolumeClaim>(value),
        ("v1", "PersistentVolume") => again::<api::core::v1::PersistentVolume>(value),
        ("v1", "Pod") => again::<api::core::v1::Pod>(value),
        ("v1", "PodTemplate") => again::<api::core::v1::PodTemplate>(value),
        ("v1", "ReplicationController") => again::<api::core::v1::ReplicationController>(value),
        ("v1", "ResourceQuota") => again::<api::core::v1::ResourceQuota>(value),
        ("v1", "Secret") => again::<api::core::v1::Secret>(value),
        ("v1", "ServiceAccount") => again::<api::core::v1::ServiceAccount>(value),
        ("v1", "Service") => again::<api::core::v1::Service>(value),
        ("apps/v1", "ControllerRevision") => again::<api::apps::v1::ControllerRevision>(value),
        ("apps/v1", "DaemonSet") => again::<api::apps::v1::DaemonSet>(value),
        ("apps/v1", "Deployment") => again::<api::apps::v1::Deployment>(value),
        ("apps/v1", "ReplicaSet") => again::<api::apps::v1::ReplicaSet>(value),
        ("apps/v1", "StatefulSet") => again::<api::apps::v1::StatefulSet>(value),
        ("events.k8s.io/v1", "Event") => again::<api::events::v1::Event>(value),
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            again::<api::authentication::v1::SelfSubjectReview>(value)
        }
        ("authentication.k8s.io/v1", "TokenReview") => {
            again::<api::authentication::v1::TokenReview>(value)
        }
        ("authentication.k8s.io/v1", "TokenRequest") => {
            again::<api::authentication::v1::TokenRequest>(value)
        }
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => {
            again::<api::authorization::v1::LocalSubjectAccessReview>(value)
        }
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => {
            again::<api::authorization::v1::SelfSubjectAccessReview>(value)
        }
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => {
            again::<api::authorization::v1::SelfSubjectRulesReview>(value)
        }
        ("authorization.k8s.io/v1", "SubjectAccessReview") => {
            again::<api::authorization::v1::SubjectAccessReview>(value)
        }
        ("autoscaling/v1", "HorizontalPodAutoscaler") => {
            again::<api::autoscaling::v1::HorizontalPodAutoscaler>(value)
        }
        ("autoscaling/v2", "HorizontalPodAutoscaler") => {
            again::<api::autoscaling::v2::HorizontalPodAutoscaler>(value)
        }
        ("autoscaling/v1", "Scale") => again::<api::autoscaling::v1::Scale>(value),
        ("batch/v1", "CronJob") => again::<api::batch::v1::CronJob>(value),
        ("batch/v1", "Job") => again::<api::batch::v1::Job>(value),
        ("networking.k8s.io/v1", "IngressClass") => {
            again::<api::networking::v1::IngressClass>(value)
        }
        ("networking.k8s.io/v1", "Ingress") => again::<api::networking::v1::Ingress>(value),
        ("networking.k8s.io/v1", "NetworkPolicy") => {
            again::<api::networking::v1::NetworkPolicy>(value)
        }
        ("policy/v1", "PodDisruptionBudget") => {
            again::<api::policy::v1::PodDisruptionBudget>(value)
        }
        ("policy/v1", "Eviction") => again::<api::policy::v1::Eviction>(value),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            again::<api::rbac::v1::ClusterRoleBinding>(value)
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            again::<api::rbac::v1::ClusterRole>(value)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            again::<api::rbac::v1::RoleBinding>(value)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => again::<api::rbac::v1::Role>(value),
        ("storage.k8s.io/v1", "StorageClass") => again::<api::storage::v1::StorageClass>(value),
        ("scheduling.k8s.io/v1", "PriorityClass") => {
            again::<api::scheduling::v1::PriorityClass>(value)
        }
        ("coordination.k8s.io/v1", "Lease") => again::<api::coordination::v1::Lease>(value),
        ("discovery.k8s.io/v1", "EndpointSlice") => {
            again::<api::discovery::v1::EndpointSlice>(value)
        }
        other => panic!("no k8s-openapi type for {other:?}"),
    }
}

#[test]
fn every_served_kind_decodes_field_for_field() {
    let kinds = fill::every_kind();
    let served = kubers_core::registry::RESOURCES.len();
    assert!(
        kinds.len() >= served,
        "{} kinds for {served} resources",
        kinds.len()
    );
    let mut problems = Vec::new();
    for (api_version, kind, raw) in kinds {
        let decoded = match kubers_core::protobuf::decode_body(&body(api_version, kind, raw)) {
            Ok(decoded) => decoded,
            Err(error) => {
                problems.push(format!("{api_version} {kind}: {error}"));
                continue;
            }
        };
        assert_eq!(decoded["apiVersion"], api_version);
        assert_eq!(decoded["kind"], kind);
        let mut fields = decoded.clone();
        if let Some(fields) = fields.as_object_mut() {
            fields.remove("apiVersion");
            fields.remove("kind");
        }
        let mut found = Vec::new();
        let leaves = check_leaves(kind, &fields, kind, &mut found);
        assert!(leaves > 3, "{kind}: only {leaves} values");
        problems.extend(
            found
                .into_iter()
                .map(|problem| format!("{api_version} {problem}")),
        );
        let again = round_trip(api_version, kind, &decoded);
        let mut differences = Vec::new();
        differ(kind, &decoded, &again, &mut differences);
        problems.extend(differences.into_iter().map(|difference| {
            format!("{api_version} {difference} (after a round trip through k8s-openapi)")
        }));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
