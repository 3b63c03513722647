//! The garbage collector: deletes objects whose owners are gone, like upstream's. Every deletable
//! resource is watched (one monitor each) into a dependency [`graph`]; owners deleted in the
//! background leave dependents that get deleted, `orphan` owners first have the references to them
//! removed from their dependents, and `foregroundDeletion` owners wait until the dependents that
//! block them are gone, each time removing the finalizer when done.

pub mod graph;
mod monitors;
mod workers;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use kube::core::discovery::ApiResource;
use tokio::sync::mpsc;

use self::graph::{Graph, Work};
use crate::informer::Informers;
use crate::queue::{WorkQueue, run_workers};

/// Workers checking objects for deletion (upstream runs 20).
const DELETE_WORKERS: usize = 4;
/// Workers orphaning dependents.
const ORPHAN_WORKERS: usize = 2;

/// Shared state of the collector's tasks.
struct Collector {
    client: kube::Client,
    graph: Mutex<Graph>,
    /// Every served resource by `group/version` and kind, with whether it is namespaced.
    resources: HashMap<(String, String), (ApiResource, bool)>,
    attempt_to_delete: Arc<WorkQueue<String>>,
    attempt_to_orphan: Arc<WorkQueue<String>>,
    changes: mpsc::UnboundedSender<monitors::Change>,
}

impl Collector {
    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.graph
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The resource of `api_version` and `kind`, and whether it is namespaced.
    fn resource(&self, api_version: &str, kind: &str) -> Option<&(ApiResource, bool)> {
        self.resources
            .get(&(api_version.to_owned(), kind.to_owned()))
    }

    fn queue(&self, work: Work) {
        for uid in work.delete {
            self.attempt_to_delete.add(uid);
        }
        for uid in work.orphan {
            self.attempt_to_orphan.add(uid);
        }
    }
}

/// Feeds the graph from the controller manager's shared informers (register before they start),
/// then runs the collector.
pub fn start(client: kube::Client, informers: &Informers) {
    use k8s_openapi::api::{apps, batch, coordination, core, discovery};
    let (changes, incoming) = mpsc::unbounded_channel();
    let shared: HashSet<(String, String)> = [
        monitors::feed::<core::v1::Pod>(informers, &changes),
        monitors::feed::<core::v1::Namespace>(informers, &changes),
        monitors::feed::<core::v1::Node>(informers, &changes),
        monitors::feed::<core::v1::Service>(informers, &changes),
        monitors::feed::<core::v1::Endpoints>(informers, &changes),
        monitors::feed::<core::v1::ConfigMap>(informers, &changes),
        monitors::feed::<core::v1::ServiceAccount>(informers, &changes),
        monitors::feed::<core::v1::ReplicationController>(informers, &changes),
        monitors::feed::<apps::v1::ReplicaSet>(informers, &changes),
        monitors::feed::<apps::v1::Deployment>(informers, &changes),
        monitors::feed::<apps::v1::DaemonSet>(informers, &changes),
        monitors::feed::<apps::v1::StatefulSet>(informers, &changes),
        monitors::feed::<batch::v1::Job>(informers, &changes),
        monitors::feed::<discovery::v1::EndpointSlice>(informers, &changes),
        monitors::feed::<coordination::v1::Lease>(informers, &changes),
    ]
    .into_iter()
    .collect();
    tokio::spawn(run(client, shared, changes, incoming));
}

/// Discovers the resources, starts a monitor for each deletable one the shared informers do not
/// cover, and the workers once every monitor and informer listed.
async fn run(
    client: kube::Client,
    shared: HashSet<(String, String)>,
    changes: mpsc::UnboundedSender<monitors::Change>,
    mut incoming: mpsc::UnboundedReceiver<monitors::Change>,
) {
    let served = loop {
        match crate::discovery::served_all_versions(client.clone()).await {
            Ok(served) => break served,
            Err(error) => {
                tracing::warn!(%error, "garbage collector: discovery failed; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        }
    };
    let resources = served
        .iter()
        .map(|served| {
            (
                (
                    served.resource.api_version.clone(),
                    served.resource.kind.clone(),
                ),
                (served.resource.clone(), served.namespaced),
            )
        })
        .collect();
    let collector = Arc::new(Collector {
        client: client.clone(),
        graph: Mutex::new(Graph::default()),
        resources,
        attempt_to_delete: WorkQueue::new(),
        attempt_to_orphan: WorkQueue::new(),
        changes: changes.clone(),
    });
    let monitored = monitors::start(client, &served, &shared, changes) + shared.len();
    // The graph builder: applies every change in order, then queues the work it makes.
    let mut pending = monitored;
    let mut workers_started = false;
    while let Some(event) = incoming.recv().await {
        let event = match event {
            monitors::Change::Graph(event) => event,
            monitors::Change::Synced => {
                pending = pending.saturating_sub(1);
                if pending == 0 && !workers_started {
                    workers_started = true;
                    start_workers(&collector);
                    tracing::info!(nodes = collector.graph().len(), "garbage collector synced");
                }
                continue;
            }
        };
        let work = collector.graph().process(event);
        collector.queue(work);
    }
}

fn start_workers(collector: &Arc<Collector>) {
    let delete = Arc::clone(collector);
    run_workers(
        "garbagecollector",
        Arc::clone(&collector.attempt_to_delete),
        DELETE_WORKERS,
        move |uid: String| {
            let collector = Arc::clone(&delete);
            async move { workers::attempt_to_delete(&collector, uid).await }
        },
    );
    let orphan = Arc::clone(collector);
    run_workers(
        "garbagecollector-orphan",
        Arc::clone(&collector.attempt_to_orphan),
        ORPHAN_WORKERS,
        move |uid: String| {
            let collector = Arc::clone(&orphan);
            async move { workers::attempt_to_orphan(&collector, uid).await }
        },
    );
}
