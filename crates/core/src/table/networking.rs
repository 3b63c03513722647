//! Networking tables: services, endpoints, endpointslices, ingresses, ingressclasses and
//! networkpolicies, with upstream's cell text (`<none>`, `<pending>`, `<unset>`, `a,b,c + 2 more...`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::descriptions as doc;
use super::fields::{NONE, list, list_with_more, non_empty, text};
use super::selectors::{format_label_selector, format_labels};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const SERVICES: Printer = Printer {
    columns: service_columns,
    cells: service_cells,
};
pub(crate) const ENDPOINTS: Printer = Printer {
    columns: endpoints_columns,
    cells: endpoints_cells,
};
pub(crate) const ENDPOINT_SLICES: Printer = Printer {
    columns: endpoint_slice_columns,
    cells: endpoint_slice_cells,
};
pub(crate) const INGRESSES: Printer = Printer {
    columns: ingress_columns,
    cells: ingress_cells,
};
pub(crate) const INGRESS_CLASSES: Printer = Printer {
    columns: ingress_class_columns,
    cells: ingress_class_cells,
};
pub(crate) const NETWORK_POLICIES: Printer = Printer {
    columns: network_policy_columns,
    cells: network_policy_cells,
};

/// How many addresses, ports or hosts a cell lists before `+ N more...`.
const MAX_LISTED: usize = 3;

fn service_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Type", "string", doc::SVC_TYPE, 0),
        column("Cluster-IP", "string", doc::SVC_CLUSTER_IP, 0),
        column("External-IP", "string", doc::SVC_EXTERNAL_IPS, 0),
        column("Port(s)", "string", doc::SVC_PORTS, 0),
        ColumnDefinition::age(),
        column("Selector", "string", doc::SVC_SELECTOR, 1),
    ]
}

/// The load balancer's ingress points (IP, else hostname), sorted and without duplicates.
fn load_balancer_addresses(object: &Value) -> Vec<String> {
    list(object, "/status/loadBalancer/ingress")
        .iter()
        .filter_map(|ingress| non_empty(ingress, "/ip").or_else(|| non_empty(ingress, "/hostname")))
        .map(str::to_owned)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Upstream's `getServiceExternalIP` (wide: nothing is shortened).
fn service_external_ip(service: &Value, kind: &str) -> String {
    let external: Vec<String> = list(service, "/spec/externalIPs")
        .iter()
        .filter_map(|ip| ip.as_str().map(str::to_owned))
        .collect();
    match kind {
        "ClusterIP" | "NodePort" if external.is_empty() => NONE.to_owned(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut addresses = load_balancer_addresses(service);
            addresses.extend(external);
            if addresses.is_empty() {
                "<pending>".to_owned()
            } else {
                addresses.join(",")
            }
        }
        "ExternalName" => text(service, "/spec/externalName").to_owned(),
        _ => "<unknown>".to_owned(),
    }
}

fn service_cells(service: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(service, now);
    let kind = non_empty(service, "/spec/type").unwrap_or("ClusterIP");
    let cluster_ip = non_empty(service, "/spec/clusterIP")
        .or_else(|| non_empty(service, "/spec/clusterIPs/0"))
        .unwrap_or(NONE);
    let ports: Vec<String> = list(service, "/spec/ports")
        .iter()
        .map(|port| {
            let number = port["port"].as_i64().unwrap_or(0);
            let protocol = port["protocol"].as_str().unwrap_or("TCP");
            match port["nodePort"].as_i64().filter(|node_port| *node_port > 0) {
                Some(node_port) => format!("{number}:{node_port}/{protocol}"),
                None => format!("{number}/{protocol}"),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        NONE.to_owned()
    } else {
        ports.join(",")
    };
    vec![
        name,
        kind.into(),
        cluster_ip.into(),
        service_external_ip(service, kind).into(),
        ports.into(),
        age,
        format_labels(service.pointer("/spec/selector")).into(),
    ]
}

fn endpoints_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Endpoints", "string", doc::EP_SUBSETS, 0),
        ColumnDefinition::age(),
    ]
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Upstream's `formatEndpoints` for all ports: `ip:port` pairs (bare IPs for subsets without ports),
/// at most three, then ` + N more...`; `<none>` without subsets.
fn format_endpoints(endpoints: &Value) -> String {
    let subsets = list(endpoints, "/subsets");
    if subsets.is_empty() {
        return NONE.to_owned();
    }
    let mut listed: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for subset in subsets {
        let addresses = list(subset, "/addresses");
        let ports = list(subset, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            for address in addresses {
                if listed.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                listed.push(text(address, "/ip").to_owned());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for address in addresses {
                if listed.len() == MAX_LISTED {
                    more = true;
                    break;
                }
                let number = port["port"].as_i64().unwrap_or(0);
                listed.push(join_host_port(text(address, "/ip"), number));
            }
        }
    }
    let joined = listed.join(",");
    if more {
        return format!("{joined} + {} more...", count - MAX_LISTED);
    }
    joined
}

fn endpoints_cells(endpoints: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(endpoints, now);
    vec![name, format_endpoints(endpoints).into(), age]
}

fn endpoint_slice_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("AddressType", "string", doc::ES_ADDRESS_TYPE, 0),
        column("Ports", "string", doc::ES_PORTS, 0),
        column("Endpoints", "string", doc::ES_ENDPOINTS, 0),
        ColumnDefinition::age(),
    ]
}

fn endpoint_slice_cells(slice: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(slice, now);
    let ports: Vec<String> = list(slice, "/ports")
        .iter()
        .map(|port| match (&port["port"], &port["name"]) {
            (Value::Number(number), _) => number.to_string(),
            (_, Value::String(name)) => name.clone(),
            _ => "*".to_owned(),
        })
        .collect();
    let addresses: Vec<String> = list(slice, "/endpoints")
        .iter()
        .flat_map(|endpoint| list(endpoint, "/addresses"))
        .map(|address| address.as_str().unwrap_or("").to_owned())
        .collect();
    vec![
        name,
        text(slice, "/addressType").into(),
        list_with_more(&ports, ports.len(), MAX_LISTED).into(),
        list_with_more(&addresses, addresses.len(), MAX_LISTED).into(),
        age,
    ]
}

fn ingress_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional configuration",
            0,
        ),
        column(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule",
            0,
        ),
        column(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer",
            0,
        ),
        column(
            "Ports",
            "string",
            "Ports of TLS configurations that open",
            0,
        ),
        ColumnDefinition::age(),
    ]
}

/// Upstream's `formatHosts`: up to three rule hosts, `*` when no rule names one.
fn format_hosts(rules: &[Value]) -> String {
    let mut hosts: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX_LISTED {
            more = true;
        }
        if let Some(host) = non_empty(rule, "/host").filter(|_| !more) {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_owned();
    }
    let joined = hosts.join(",");
    if more {
        return format!("{joined} + {} more...", rules.len() - MAX_LISTED);
    }
    joined
}

fn ingress_cells(ingress: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(ingress, now);
    let class = ingress
        .pointer("/spec/ingressClassName")
        .and_then(Value::as_str)
        .unwrap_or(NONE);
    let ports = if list(ingress, "/spec/tls").is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        name,
        class.into(),
        format_hosts(list(ingress, "/spec/rules")).into(),
        load_balancer_addresses(ingress).join(",").into(),
        ports.into(),
        age,
    ]
}

fn ingress_class_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column(
            "Controller",
            "string",
            "Controller that is responsible for handling this class",
            0,
        ),
        column(
            "Parameters",
            "string",
            "A reference to a resource with additional parameters",
            0,
        ),
        ColumnDefinition::age(),
    ]
}

fn ingress_class_cells(class: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(class, now);
    let parameters = match class.pointer("/spec/parameters") {
        Some(parameters) if parameters.is_object() => {
            let kind = text(parameters, "/kind");
            let name = text(parameters, "/name");
            match parameters["apiGroup"].as_str() {
                Some(group) => format!("{kind}.{group}/{name}"),
                None => format!("{kind}/{name}"),
            }
        }
        _ => NONE.to_owned(),
    };
    vec![
        name,
        text(class, "/spec/controller").into(),
        parameters.into(),
        age,
    ]
}

fn network_policy_columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Pod-Selector", "string", doc::NETPOL_POD_SELECTOR, 0),
        ColumnDefinition::age(),
    ]
}

fn network_policy_cells(policy: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(policy, now);
    vec![
        name,
        format_label_selector(policy.pointer("/spec/podSelector")).into(),
        age,
    ]
}
