//! Service defaults (`SetDefaults_Service`): type ClusterIP, sessionAffinity None, internal traffic
//! policy Cluster, and per port the TCP protocol and a target port equal to the port.

use serde_json::{Value, json};

use super::or_insert;

/// A whole service.
pub fn service(service: &mut Value) {
    let Some(spec) = or_insert(service, "spec", json!({})) else {
        return;
    };
    or_insert(spec, "type", json!("ClusterIP"));
    or_insert(spec, "sessionAffinity", json!("None"));
    let external_name = spec["type"] == "ExternalName";
    if !external_name {
        or_insert(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports {
            or_insert(port, "protocol", json!("TCP"));
            let number = port.get("port").cloned().unwrap_or(Value::Null);
            let target = port.get("targetPort");
            if target.is_none() || target == Some(&json!(0)) || target == Some(&json!("")) {
                if let Some(map) = port.as_object_mut() {
                    map.insert("targetPort".into(), number);
                }
            }
        }
    }
}
