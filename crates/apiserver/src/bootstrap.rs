//! Objects every cluster starts with, created once (an existing one is left as it is): the namespaces
//! `default`, `kube-system`, `kube-public` and `kube-node-lease` with their `default` service
//! accounts; the `kubernetes` service on the first
//! service IP with its Endpoints and EndpointSlice pointing at this API server; the system priority
//! classes; and k3s's default StorageClass `local-path`.

use std::net::IpAddr;

use chrono::{SecondsFormat, Utc};
use kubers_core::registry;
use kubers_store::{Error, Result, Store};
use serde_json::{Value, json};

use crate::config::Ipv4Cidr;
use crate::rest::reserve_ip;

/// The namespaces upstream creates at start.
const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Where clients reach this API server: the address in the `kubernetes` service's endpoints.
#[derive(Clone, Copy, Debug)]
pub struct ApiEndpoint {
    /// The address.
    pub ip: IpAddr,
    /// The HTTPS port.
    pub port: u16,
}

/// Creates whatever of the initial objects is missing.
pub async fn ensure(
    store: &dyn Store,
    service_cidr: Ipv4Cidr,
    endpoint: ApiEndpoint,
) -> Result<()> {
    for name in NAMESPACES {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        create(store, "", "namespaces", None, name, namespace).await?;
        // Until the service-account controller exists, the initial namespaces get their `default`
        // account here, so pods and `kubectl create token default` find it as upstream's do.
        let account = json!({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": name},
        });
        create(store, "", "serviceaccounts", Some(name), "default", account).await?;
    }
    kubernetes_service(store, service_cidr, endpoint).await?;
    for (name, value, description) in [
        (
            "system-node-critical",
            2_000_001_000,
            "Used for system critical pods that must not be moved from their current node.",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
        ),
    ] {
        let class = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "globalDefault": false,
            "preemptionPolicy": "PreemptLowerPriority",
            "description": description,
        });
        create(
            store,
            "scheduling.k8s.io",
            "priorityclasses",
            None,
            name,
            class,
        )
        .await?;
    }
    local_path_class(store).await
}

/// `local-path`, the default StorageClass k3s ships with rancher's provisioner: volumes on the node
/// that first uses the claim, deleted with it.
async fn local_path_class(store: &dyn Store) -> Result<()> {
    let class = json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "local-path",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    });
    create(
        store,
        "storage.k8s.io",
        "storageclasses",
        None,
        "local-path",
        class,
    )
    .await
}

/// `default/kubernetes`: the API server as a service on the first address of the service range, with
/// its Endpoints and EndpointSlice.
async fn kubernetes_service(
    store: &dyn Store,
    service_cidr: Ipv4Cidr,
    endpoint: ApiEndpoint,
) -> Result<()> {
    let ip = service_cidr.first();
    reserve_ip(store, ip).await?;
    let labels = json!({"component": "apiserver", "provider": "kubernetes"});
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip.to_string(),
            "clusterIPs": [ip.to_string()],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": endpoint.port}],
        },
        "status": {"loadBalancer": {}},
    });
    create(
        store,
        "",
        "services",
        Some("default"),
        "kubernetes",
        service,
    )
    .await?;
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{
            "addresses": [{"ip": endpoint.ip.to_string()}],
            "ports": [{"name": "https", "port": endpoint.port, "protocol": "TCP"}],
        }],
    });
    create(
        store,
        "",
        "endpoints",
        Some("default"),
        "kubernetes",
        endpoints,
    )
    .await?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "kubernetes",
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": if endpoint.ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [endpoint.ip.to_string()], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": endpoint.port, "protocol": "TCP"}],
    });
    create(
        store,
        "discovery.k8s.io",
        "endpointslices",
        Some("default"),
        "kubernetes",
        slice,
    )
    .await
}

/// Stores `object` (given a uid and creation time) unless the key is taken.
async fn create(
    store: &dyn Store,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
    mut object: Value,
) -> Result<()> {
    // Every bootstrap object's group serves v1.
    let Some(info) = registry::find(group, "v1", resource) else {
        return Ok(());
    };
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("uid".into(), json!(crate::rest::object::new_uid()));
        metadata.insert(
            "creationTimestamp".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
    }
    let key = registry::storage_key(info, namespace, Some(name));
    match store
        .create(&key, bytes::Bytes::from(object.to_string()))
        .await
    {
        Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}
