//! Objects every cluster starts with: the namespaces `default`, `kube-system`, `kube-public` and
//! `kube-node-lease`, and the `kubernetes` service on the first service IP; created once (an existing
//! one is left as it is).

use chrono::{SecondsFormat, Utc};
use kubers_store::{Error, Result, Store};
use serde_json::json;

use crate::config::Ipv4Cidr;
use crate::rest::reserve_ip;

/// The namespaces upstream creates at start.
const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates whatever of the initial objects is missing.
pub async fn ensure(store: &dyn Store, service_cidr: Ipv4Cidr, port: u16) -> Result<()> {
    for name in NAMESPACES {
        let namespace = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        let value = bytes::Bytes::from(namespace.to_string());
        match store
            .create(&format!("/registry/namespaces/{name}"), value)
            .await
        {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    kubernetes_service(store, service_cidr, port).await
}

/// `default/kubernetes`: the API server as a service, on the first address of the service range.
async fn kubernetes_service(store: &dyn Store, service_cidr: Ipv4Cidr, port: u16) -> Result<()> {
    let key = "/registry/services/specs/default/kubernetes";
    if store.get(key).await?.is_some() {
        return Ok(());
    }
    let ip = service_cidr.first();
    reserve_ip(store, ip).await?;
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip.to_string(),
            "clusterIPs": [ip.to_string()],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
            "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
        },
        "status": {"loadBalancer": {}},
    });
    match store
        .create(key, bytes::Bytes::from(service.to_string()))
        .await
    {
        Ok(_) | Err(Error::AlreadyExists { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}
