//! Objects every cluster starts with: the namespaces `default`, `kube-system`, `kube-public` and
//! `kube-node-lease`, created once (an existing one is left as it is).

use chrono::{SecondsFormat, Utc};
use kubers_store::{Error, Result, Store};
use serde_json::json;

/// The namespaces upstream creates at start.
const NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates whatever of the initial objects is missing.
pub async fn ensure(store: &dyn Store) -> Result<()> {
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
    Ok(())
}
