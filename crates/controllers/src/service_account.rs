//! The ServiceAccount controller: every active namespace has a `default` ServiceAccount (created
//! again if deleted), like upstream's `serviceaccount-controller`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use crate::error::{Context, Result};
use crate::informer::Informers;
use crate::queue::{WorkQueue, run_workers};

/// The account every namespace gets.
const DEFAULT: &str = "default";

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let namespaces = informers.get::<Namespace>();
    let accounts = informers.get::<ServiceAccount>();
    let queue = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        namespaces.on_change(move |change| {
            if !matches!(change, crate::informer::Change::Deleted(_)) {
                queue.add(change.object().name_any());
            }
        });
    }
    {
        let queue = Arc::clone(&queue);
        accounts.on_change(move |change| {
            if let crate::informer::Change::Deleted(account) = change
                && account.name_any() == DEFAULT
            {
                queue.add(account.namespace().unwrap_or_default());
            }
        });
    }
    tokio::spawn(async move {
        namespaces.synced().await;
        accounts.synced().await;
        run_workers("serviceaccount", queue, 1, move |namespace: String| {
            let client = client.clone();
            let namespaces = Arc::clone(&namespaces);
            let accounts = Arc::clone(&accounts);
            async move {
                let Some(found) = namespaces.get("", &namespace) else {
                    return Ok(());
                };
                if !crate::active(&found) || accounts.get(&namespace, DEFAULT).is_some() {
                    return Ok(());
                }
                create(client, &namespace).await
            }
        });
    });
}

async fn create(client: kube::Client, namespace: &str) -> Result<()> {
    let api: Api<ServiceAccount> = Api::namespaced(client, namespace);
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.to_owned()),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    };
    match api.create(&PostParams::default(), &account).await {
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 403 => Ok(()),
        other => other
            .map(|_| ())
            .context(|| format!("creating the default service account in {namespace}")),
    }
}
