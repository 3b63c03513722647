//! Service cluster IPs and node ports: each handed out at most once, by creating a reservation key in the
//! store (`/registry/kubers/serviceips/<ip>`, `/registry/kubers/nodeports/<port>`), which the store's
//! create makes atomic; deleting the service deletes its reservations.
//!
//! FIXME: a server that dies between reserving and storing the service leaks the reservation; a repair
//! loop that compares reservations with services belongs with the controllers.

use std::net::Ipv4Addr;

use bytes::Bytes;
use kubers_store::{Error, Store};
use rand::Rng;
use serde_json::{Value, json};

use crate::config::Ipv4Cidr;
use crate::errors::ApiError;
use kubers_core::status::Cause;

const SERVICE_IPS: &str = "/registry/kubers/serviceips/";
const NODE_PORTS: &str = "/registry/kubers/nodeports/";
/// Upstream's default `--service-node-port-range`.
const NODE_PORT_RANGE: std::ops::RangeInclusive<i64> = 30000..=32767;

/// What a service holds.
#[derive(Debug, Default)]
pub struct Reservations {
    ips: Vec<String>,
    ports: Vec<i64>,
}

impl Reservations {
    /// Gives everything back (after a failed create).
    pub async fn release(self, store: &dyn Store) {
        for ip in self.ips {
            let _ = store.delete(&format!("{SERVICE_IPS}{ip}"), None).await;
        }
        for port in self.ports {
            let _ = store.delete(&format!("{NODE_PORTS}{port}"), None).await;
        }
    }
}

/// Assigns the cluster IP and node ports of a new service (`service` is defaulted), honouring values the
/// client asked for.
pub async fn allocate(
    store: &dyn Store,
    cidr: Ipv4Cidr,
    name: &str,
    service: &mut Value,
) -> Result<Reservations, ApiError> {
    let mut held = Reservations::default();
    let result = allocate_into(store, cidr, name, service, &mut held).await;
    match result {
        Ok(()) => Ok(held),
        Err(error) => {
            held.release(store).await;
            Err(error)
        }
    }
}

async fn allocate_into(
    store: &dyn Store,
    cidr: Ipv4Cidr,
    name: &str,
    service: &mut Value,
    held: &mut Reservations,
) -> Result<(), ApiError> {
    let Some(spec) = service.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let kind = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_owned();
    if kind == "ExternalName" {
        return Ok(());
    }
    let requested = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let ip = match requested.as_str() {
        "None" => None,
        "" => Some(any_ip(store, cidr).await?),
        text => {
            let address: Ipv4Addr = text
                .parse()
                .map_err(|_| invalid_ip(name, text, "must be a valid IP address"))?;
            if cidr.index_of(address).is_none() {
                return Err(invalid_ip(
                    name,
                    text,
                    &format!(
                        "the provided IP ({text}) is not in the valid range. The range of valid IPs is {cidr}"
                    ),
                ));
            }
            if !reserve(store, &format!("{SERVICE_IPS}{text}")).await? {
                return Err(invalid_ip(
                    name,
                    text,
                    &format!("the provided IP ({text}) is already allocated"),
                ));
            }
            Some(text.to_owned())
        }
    };
    match ip {
        Some(ip) => {
            held.ips.push(ip.clone());
            spec.insert("clusterIP".into(), json!(ip));
            spec.insert("clusterIPs".into(), json!([ip]));
            spec.insert("ipFamilies".into(), json!(["IPv4"]));
            spec.insert("ipFamilyPolicy".into(), json!("SingleStack"));
        }
        None => {
            spec.insert("clusterIPs".into(), json!(["None"]));
        }
    }
    if kind == "NodePort" || kind == "LoadBalancer" {
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for (index, port) in ports.iter_mut().enumerate() {
                let wanted = port
                    .get("nodePort")
                    .and_then(Value::as_i64)
                    .filter(|port| *port != 0);
                let node_port = match wanted {
                    Some(wanted) => {
                        let field = format!("spec.ports[{index}].nodePort");
                        if !NODE_PORT_RANGE.contains(&wanted) {
                            return Err(invalid_port(
                                name,
                                &field,
                                wanted,
                                "provided port is not in the valid range. The range of valid ports is 30000-32767",
                            ));
                        }
                        if !reserve(store, &format!("{NODE_PORTS}{wanted}")).await? {
                            return Err(invalid_port(
                                name,
                                &field,
                                wanted,
                                "provided port is already allocated",
                            ));
                        }
                        wanted
                    }
                    None => any_port(store).await?,
                };
                held.ports.push(node_port);
                if let Some(map) = port.as_object_mut() {
                    map.insert("nodePort".into(), json!(node_port));
                }
            }
        }
    }
    Ok(())
}

/// Releases what a deleted service held.
pub async fn release_service(store: &dyn Store, service: &Value) {
    let mut held = Reservations::default();
    if let Some(ip) = service
        .pointer("/spec/clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| *ip != "None" && !ip.is_empty())
    {
        held.ips.push(ip.to_owned());
    }
    for port in service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(node_port) = port.get("nodePort").and_then(Value::as_i64) {
            held.ports.push(node_port);
        }
    }
    held.release(store).await;
}

/// Reserves the given cluster IP for a bootstrap service; true when it was free.
pub async fn reserve_ip(store: &dyn Store, ip: Ipv4Addr) -> kubers_store::Result<bool> {
    match store
        .create(&format!("{SERVICE_IPS}{ip}"), Bytes::from_static(b"{}"))
        .await
    {
        Ok(_) => Ok(true),
        Err(Error::AlreadyExists { .. }) => Ok(false),
        Err(error) => Err(error),
    }
}

async fn reserve(store: &dyn Store, key: &str) -> Result<bool, ApiError> {
    match store.create(key, Bytes::from_static(b"{}")).await {
        Ok(_) => Ok(true),
        Err(Error::AlreadyExists { .. }) => Ok(false),
        Err(error) => Err(ApiError::unavailable(error)),
    }
}

/// A free address, searched from a random starting point (the first address is the `kubernetes`
/// service's).
async fn any_ip(store: &dyn Store, cidr: Ipv4Cidr) -> Result<String, ApiError> {
    let size = cidr.size();
    let start = rand::rng().random_range(1..size.max(2));
    for step in 0..size {
        let index = (start + step) % size;
        let Some(address) = cidr.nth(index) else {
            continue;
        };
        if reserve(store, &format!("{SERVICE_IPS}{address}")).await? {
            return Ok(address.to_string());
        }
    }
    Err(ApiError::status(
        500,
        "InternalError",
        format!("Internal error occurred: failed to allocate a serviceIP: range is full ({cidr})"),
    ))
}

async fn any_port(store: &dyn Store) -> Result<i64, ApiError> {
    let span = NODE_PORT_RANGE.end() - NODE_PORT_RANGE.start() + 1;
    let start = rand::rng().random_range(0..span);
    for step in 0..span {
        let port = NODE_PORT_RANGE.start() + (start + step) % span;
        if reserve(store, &format!("{NODE_PORTS}{port}")).await? {
            return Ok(port);
        }
    }
    Err(ApiError::status(
        500,
        "InternalError",
        "Internal error occurred: failed to allocate a nodePort: range is full",
    ))
}

fn invalid_ip(name: &str, value: &str, detail: &str) -> ApiError {
    ApiError::invalid(
        kubers_core::registry::GroupKind {
            group: "",
            kind: "Service",
        },
        name,
        &[Cause::invalid("spec.clusterIPs", &json!([value]), detail)],
    )
}

fn invalid_port(name: &str, field: &str, port: i64, detail: &str) -> ApiError {
    ApiError::invalid(
        kubers_core::registry::GroupKind {
            group: "",
            kind: "Service",
        },
        name,
        &[Cause::invalid(field, &json!(port), detail)],
    )
}
