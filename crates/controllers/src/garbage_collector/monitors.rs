//! One watch per deletable resource (events excepted, as upstream), feeding the graph builder.

use std::collections::HashSet;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::core::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::mpsc;

use super::graph::{GraphEvent, Identity, Observed};
use crate::discovery::Served;

/// What a monitor tells the graph builder.
#[derive(Debug)]
pub enum Change {
    /// A change to the graph.
    Graph(GraphEvent),
    /// The monitor's first list is through (or failed: the collector does not wait forever).
    Synced,
}

/// Starts a monitor for every deletable resource; returns how many.
pub fn start(
    client: kube::Client,
    served: &[Served],
    changes: mpsc::UnboundedSender<Change>,
) -> usize {
    let mut started = 0;
    for served in served {
        let ignored = served.resource.plural == "events";
        if !served.preferred || ignored || !served.supports(&["list", "watch", "delete"]) {
            continue;
        }
        started += 1;
        tokio::spawn(monitor(
            client.clone(),
            served.resource.clone(),
            changes.clone(),
        ));
    }
    started
}

/// What the graph needs of an object of `resource`.
pub fn observed(resource_api_version: &str, kind: &str, object: &DynamicObject) -> Observed {
    Observed {
        identity: Identity {
            api_version: resource_api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
            uid: object.uid().unwrap_or_default(),
        },
        owners: object.owner_references().to_vec(),
        being_deleted: object.metadata.deletion_timestamp.is_some(),
        finalizers: object.finalizers().to_vec(),
    }
}

async fn monitor(
    client: kube::Client,
    resource: ApiResource,
    changes: mpsc::UnboundedSender<Change>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut relist: Option<HashSet<String>> = None;
    let mut synced = false;
    let send = |change: Change| changes.send(change).is_ok();
    while let Some(event) = events.next().await {
        let delivered = match event {
            Ok(watcher::Event::Init) => {
                relist = Some(HashSet::new());
                true
            }
            Ok(watcher::Event::InitApply(object)) => {
                if let Some(relist) = relist.as_mut() {
                    relist.extend(object.uid());
                }
                send(Change::Graph(GraphEvent::Upsert(observed(
                    &resource.api_version,
                    &resource.kind,
                    &object,
                ))))
            }
            Ok(watcher::Event::InitDone) => {
                let uids = relist.take().unwrap_or_default();
                let mut delivered = send(Change::Graph(GraphEvent::Relisted {
                    api_version: resource.api_version.clone(),
                    kind: resource.kind.clone(),
                    uids,
                }));
                if !synced {
                    synced = true;
                    delivered &= send(Change::Synced);
                }
                delivered
            }
            Ok(watcher::Event::Apply(object)) => send(Change::Graph(GraphEvent::Upsert(observed(
                &resource.api_version,
                &resource.kind,
                &object,
            )))),
            Ok(watcher::Event::Delete(object)) => send(Change::Graph(GraphEvent::Delete(
                observed(&resource.api_version, &resource.kind, &object),
            ))),
            Err(error) => {
                tracing::warn!(resource = %resource.plural, %error, "garbage collector: watch failed; retrying");
                if !synced {
                    synced = true;
                    send(Change::Synced)
                } else {
                    true
                }
            }
        };
        if !delivered {
            return;
        }
    }
}
