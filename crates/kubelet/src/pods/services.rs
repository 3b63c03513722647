//! The cluster's Services as the agent knows them, for the service environment variables of
//! containers: one reflector over every Service (upstream's service lister), so starting a
//! container reads memory instead of asking the API server.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

/// How long a container start of an API pod waits for the first list of Services before going on
/// without them (upstream refuses to build the variables until then). Static pods do not wait:
/// they must start when the API server is not there.
const FIRST_LIST_WAIT: Duration = Duration::from_secs(5);

/// Every Service of the cluster, kept current by a watch.
#[derive(Clone)]
pub struct ServiceCache {
    store: Store<Service>,
}

impl std::fmt::Debug for ServiceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCache")
            .field("services", &self.store.len())
            .finish()
    }
}

impl ServiceCache {
    /// Starts the reflector on the tokio runtime.
    pub fn start(client: kube::Client) -> ServiceCache {
        let (store, writer) = reflector::store();
        let services: Api<Service> = Api::all(client);
        let stream = reflector::reflector(
            writer,
            watcher(services, watcher::Config::default()).default_backoff(),
        );
        tokio::spawn(async move {
            stream
                .for_each(|event| async move {
                    if let Err(error) = event {
                        tracing::warn!(%error, "watching services failed; retrying");
                    }
                })
                .await;
        });
        ServiceCache { store }
    }

    /// The Services of `namespace` and the `kubernetes` Service of `default`; with `wait`, once the
    /// first list arrived (or after a short wait), else as known now.
    pub async fn for_namespace(
        &self,
        namespace: &str,
        wait: bool,
    ) -> (Option<Arc<Service>>, Vec<Arc<Service>>) {
        if wait {
            let _ = tokio::time::timeout(FIRST_LIST_WAIT, self.store.wait_until_ready()).await;
        }
        let services = self.store.state();
        let master = services
            .iter()
            .find(|service| {
                service.metadata.namespace.as_deref() == Some("default")
                    && service.metadata.name.as_deref() == Some("kubernetes")
            })
            .cloned();
        let local = services
            .into_iter()
            .filter(|service| service.metadata.namespace.as_deref() == Some(namespace))
            .collect();
        (master, local)
    }
}
