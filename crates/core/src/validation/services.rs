//! Services as upstream's `ValidateService` checks them: type, ports (numbers, names, protocols,
//! target ports, node ports), session affinity, external names and selectors.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{meta, names};
use crate::status::Cause;

/// The problems of a Service.
pub fn service(object: &Value, causes: &mut Vec<Cause>) {
    let Some(spec) = object.get("spec") else {
        causes.push(Cause::required("spec", ""));
        return;
    };
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP");
    if !matches!(
        kind,
        "ClusterIP" | "ExternalName" | "LoadBalancer" | "NodePort"
    ) {
        causes.push(Cause::not_supported(
            "spec.type",
            &json!(kind),
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        ));
    }
    if let Some(affinity) = spec.get("sessionAffinity").and_then(Value::as_str)
        && !matches!(affinity, "ClientIP" | "None")
    {
        causes.push(Cause::not_supported(
            "spec.sessionAffinity",
            &json!(affinity),
            &["ClientIP", "None"],
        ));
    }
    let headless = spec.get("clusterIP").and_then(Value::as_str) == Some("None");
    let ports = spec
        .get("ports")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if kind == "ExternalName" {
        match spec.get("externalName").and_then(Value::as_str) {
            None | Some("") => causes.push(Cause::required("spec.externalName", "")),
            Some(name) => {
                for problem in names::dns_subdomain(name.trim_end_matches('.')) {
                    causes.push(Cause::invalid("spec.externalName", &json!(name), &problem));
                }
            }
        }
    } else if ports.is_empty() && !headless {
        causes.push(Cause::required("spec.ports", ""));
    }
    let mut seen = HashSet::new();
    for (index, port) in ports.iter().enumerate() {
        let field = format!("spec.ports[{index}]");
        let name = port.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            if ports.len() > 1 {
                causes.push(Cause::required(&format!("{field}.name"), ""));
            }
        } else {
            for problem in names::dns_label(name) {
                causes.push(Cause::invalid(
                    &format!("{field}.name"),
                    &json!(name),
                    &problem,
                ));
            }
            if !seen.insert(name.to_owned()) {
                causes.push(Cause::duplicate(&format!("{field}.name"), &json!(name)));
            }
        }
        match port.get("port").and_then(Value::as_i64) {
            None | Some(0) => causes.push(Cause::required(&format!("{field}.port"), "")),
            Some(number) if !(1..=65535).contains(&number) => causes.push(Cause::invalid(
                &format!("{field}.port"),
                &json!(number),
                "must be between 1 and 65535, inclusive",
            )),
            Some(_) => {}
        }
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !matches!(protocol, "SCTP" | "TCP" | "UDP")
        {
            causes.push(Cause::not_supported(
                &format!("{field}.protocol"),
                &json!(protocol),
                &["SCTP", "TCP", "UDP"],
            ));
        }
        match port.get("targetPort") {
            Some(Value::Number(number))
                if !number.as_i64().is_some_and(|n| (1..=65535).contains(&n)) =>
            {
                causes.push(Cause::invalid(
                    &format!("{field}.targetPort"),
                    &Value::Number(number.clone()),
                    "must be between 1 and 65535, inclusive",
                ));
            }
            Some(Value::String(target)) => {
                for problem in names::port_name(target) {
                    causes.push(Cause::invalid(
                        &format!("{field}.targetPort"),
                        &json!(target),
                        &problem,
                    ));
                }
            }
            _ => {}
        }
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64)
            && node_port != 0
        {
            if kind == "ClusterIP" || kind == "ExternalName" {
                causes.push(Cause::forbidden(
                    &format!("{field}.nodePort"),
                    &format!("may not be used when `type` is '{kind}'"),
                ));
            } else if !(1..=65535).contains(&node_port) {
                causes.push(Cause::invalid(
                    &format!("{field}.nodePort"),
                    &json!(node_port),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
    }
    meta::labels(spec.get("selector"), "spec.selector", causes);
}

/// `ValidateServiceUpdate`'s immutable parts: the cluster IP (unless the type moves to or from
/// ExternalName) is kept by the API server itself; the IP families may not change.
pub fn service_update(old: &Value, new: &Value, causes: &mut Vec<Cause>) {
    let families = |service: &Value| service.pointer("/spec/ipFamilies").cloned();
    if let (Some(old_families), Some(new_families)) = (families(old), families(new))
        && old_families.as_array().and_then(|list| list.first())
            != new_families.as_array().and_then(|list| list.first())
        && new.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
    {
        causes.push(Cause::invalid(
            "spec.ipFamilies[0]",
            new_families.get(0).unwrap_or(&Value::Null),
            "may not change once set",
        ));
    }
}
