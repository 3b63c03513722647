//! One watch per deletable resource (events excepted, as upstream), feeding the graph builder.

use std::collections::HashSet;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject};
use kube::core::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tokio::sync::mpsc;

use super::graph::{GraphEvent, Identity, Observed};
use crate::discovery::Served;
use crate::informer::{Change as InformerChange, Informers};

/// What a monitor tells the graph builder.
#[derive(Debug)]
pub enum Change {
    /// A change to the graph.
    Graph(GraphEvent),
    /// The monitor's first list is through (or failed: the collector does not wait forever).
    Synced,
}

/// Starts a monitor for every deletable resource not in `shared` (fed by the shared informers);
/// returns how many.
pub fn start(
    client: kube::Client,
    served: &[Served],
    shared: &HashSet<(String, String)>,
    changes: mpsc::UnboundedSender<Change>,
) -> usize {
    let mut started = 0;
    for served in served {
        let key = (
            served.resource.api_version.clone(),
            served.resource.kind.clone(),
        );
        let ignored = served.resource.plural == "events" || shared.contains(&key);
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
    observed_meta(resource_api_version, kind, &object.metadata)
}

/// What the graph needs of an object with `metadata`.
pub fn observed_meta(api_version: &str, kind: &str, metadata: &ObjectMeta) -> Observed {
    Observed {
        identity: Identity {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: metadata.namespace.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
            uid: metadata.uid.clone().unwrap_or_default(),
        },
        owners: metadata.owner_references.clone().unwrap_or_default(),
        being_deleted: metadata.deletion_timestamp.is_some(),
        finalizers: metadata.finalizers.clone().unwrap_or_default(),
    }
}

/// Feeds the graph from the shared informer of `K` instead of a monitor of its own; returns the
/// `group/version` and kind it covers.
pub fn feed<K>(informers: &Informers, changes: &mpsc::UnboundedSender<Change>) -> (String, String)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let informer = informers.get::<K>();
    let api_version = K::api_version(&()).into_owned();
    let kind = K::kind(&()).into_owned();
    let (version, name) = (api_version.clone(), kind.clone());
    let sender = changes.clone();
    informer.on_change(move |change| {
        let observed = observed_meta(&version, &name, change.object().meta());
        let event = match change {
            InformerChange::Deleted(_) => GraphEvent::Delete(observed),
            _ => GraphEvent::Upsert(observed),
        };
        let _ = sender.send(Change::Graph(event));
    });
    let synced = changes.clone();
    tokio::spawn(async move {
        informer.synced().await;
        let _ = synced.send(Change::Synced);
    });
    (api_version, kind)
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
