//! The root CA publisher: every active namespace has the `kube-root-ca.crt` ConfigMap with the
//! cluster's CA bundle under `ca.crt` (kept as the API server's CA, recreated if deleted), like
//! upstream's `root-ca-cert-publisher`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use crate::error::{Context, Result};
use crate::informer::{Change, Informers};
use crate::queue::{WorkQueue, run_workers};

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
/// Its one key.
const KEY: &str = "ca.crt";
/// The annotation upstream puts on it.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Registers the publisher with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers, ca: String) {
    let namespaces = informers.get::<Namespace>();
    let config_maps = informers.get::<ConfigMap>();
    let queue = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        namespaces.on_change(move |change| {
            if !matches!(change, Change::Deleted(_)) {
                queue.add(change.object().name_any());
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        config_maps.on_change(move |change| {
            let config_map = change.object();
            if config_map.name_any() == NAME {
                queue.add(config_map.namespace().unwrap_or_default());
            }
        });
    }
    let ca = Arc::new(ca);
    tokio::spawn(async move {
        namespaces.synced().await;
        config_maps.synced().await;
        run_workers(
            "root-ca-cert-publisher",
            queue,
            1,
            move |namespace: String| {
                let client = client.clone();
                let namespaces = Arc::clone(&namespaces);
                let config_maps = Arc::clone(&config_maps);
                let ca = Arc::clone(&ca);
                async move {
                    let Some(found) = namespaces.get("", &namespace) else {
                        return Ok(());
                    };
                    if !crate::active(&found) {
                        return Ok(());
                    }
                    publish(client, &namespace, config_maps.get(&namespace, NAME), &ca).await
                }
            },
        );
    });
}

async fn publish(
    client: kube::Client,
    namespace: &str,
    existing: Option<Arc<ConfigMap>>,
    ca: &str,
) -> Result<()> {
    let api: Api<ConfigMap> = Api::namespaced(client, namespace);
    let data = BTreeMap::from([(KEY.to_owned(), ca.to_owned())]);
    let Some(existing) = existing else {
        let config_map = ConfigMap {
            metadata: ObjectMeta {
                name: Some(NAME.to_owned()),
                annotations: Some(BTreeMap::from([(
                    "kubernetes.io/description".to_owned(),
                    DESCRIPTION.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        };
        return match api.create(&PostParams::default(), &config_map).await {
            Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => Ok(()),
            other => other
                .map(|_| ())
                .context(|| format!("creating {NAME} in {namespace}")),
        };
    };
    if existing.data.as_ref() == Some(&data) && existing.binary_data.is_none() {
        return Ok(());
    }
    let mut updated = (*existing).clone();
    updated.data = Some(data);
    updated.binary_data = None;
    updated
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(
            "kubernetes.io/description".to_owned(),
            DESCRIPTION.to_owned(),
        );
    api.replace(NAME, &PostParams::default(), &updated)
        .await
        .map(|_| ())
        .context(|| format!("updating {NAME} in {namespace}"))
}
