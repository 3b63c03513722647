//! The informers: one kube-rs watcher per kind the scheduler reads (nodes, pods (finished ones
//! count as gone), namespaces, the Services, ReplicaSets, StatefulSets and ReplicationControllers that
//! default spreading reads, and the claims, volumes and classes of volume binding), each turning objects into the scheduler's plain data as they arrive and
//! sending them down one channel. A relist reports what disappeared meanwhile. No polling: the
//! watches are long-lived and resume from their last resource version.

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::UnboundedSender;

use crate::model::node::NodeSpec;
use crate::model::pod::PodInfo;
use crate::model::selector::{Labels, Selector};

/// Which informer a message comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Nodes.
    Nodes,
    /// Pods (`Succeeded` and `Failed` ones count as gone).
    Pods,
    /// Namespaces.
    Namespaces,
    /// Services.
    Services,
    /// ReplicaSets.
    ReplicaSets,
    /// StatefulSets.
    StatefulSets,
    /// ReplicationControllers.
    ReplicationControllers,
    /// PersistentVolumeClaims.
    Claims,
    /// PersistentVolumes.
    Volumes,
    /// StorageClasses.
    Classes,
}

/// A change the informers saw.
#[derive(Debug)]
pub enum Update {
    /// A node was added or changed.
    Node(NodeSpec),
    /// A node is gone.
    NodeGone(String),
    /// A pod was added or changed.
    Pod(Arc<PodInfo>),
    /// A pod is gone (deleted, or finished), by uid.
    PodGone(String),
    /// A namespace was added or changed.
    Namespace(String, Labels),
    /// A namespace is gone.
    NamespaceGone(String),
    /// A Service's selector (`None`: selects nothing), by namespace and name.
    Service(String, String, Option<Labels>),
    /// A Service is gone.
    ServiceGone(String, String),
    /// A workload controller's selector, by kind, namespace and name.
    Controller(String, String, String, Selector),
    /// A workload controller is gone.
    ControllerGone(String, String, String),
    /// A claim was added or changed.
    Claim(Arc<PersistentVolumeClaim>),
    /// A claim is gone, by namespace and name.
    ClaimGone(String, String),
    /// A volume was added or changed.
    Volume(Arc<PersistentVolume>),
    /// A volume is gone.
    VolumeGone(String),
    /// A class was added or changed.
    Class(Arc<StorageClass>),
    /// A class is gone.
    ClassGone(String),
    /// The informer's first list is complete.
    Synced(Source),
}

/// Starts every informer; they run until the returned handles are aborted.
pub fn start(
    client: &kube::Client,
    tx: &UnboundedSender<Update>,
) -> Vec<tokio::task::JoinHandle<()>> {
    // Finished pods are dropped here rather than by a `status.phase` field selector: a selected
    // watch costs the API server a second decode of every update (to tell whether it moved out of
    // the selection), and pods change often while the scheduler is busy.
    let pods = watcher::Config::default();
    vec![
        spawn(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            Source::Nodes,
            tx.clone(),
            |node: &Node| Update::Node(NodeSpec::from_node(node)),
            |node: &Node| node.name_any(),
            Update::NodeGone,
        ),
        spawn(
            Api::<Pod>::all(client.clone()),
            pods,
            Source::Pods,
            tx.clone(),
            |pod: &Pod| {
                let phase = pod
                    .status
                    .as_ref()
                    .and_then(|status| status.phase.as_deref());
                if matches!(phase, Some("Succeeded" | "Failed")) {
                    Update::PodGone(pod.metadata.uid.clone().unwrap_or_default())
                } else {
                    Update::Pod(Arc::new(PodInfo::from_pod(pod)))
                }
            },
            |pod: &Pod| pod.metadata.uid.clone().unwrap_or_default(),
            Update::PodGone,
        ),
        spawn(
            Api::<Namespace>::all(client.clone()),
            watcher::Config::default(),
            Source::Namespaces,
            tx.clone(),
            |ns: &Namespace| Update::Namespace(ns.name_any(), ns.labels().clone()),
            |ns: &Namespace| ns.name_any(),
            Update::NamespaceGone,
        ),
        spawn(
            Api::<Service>::all(client.clone()),
            watcher::Config::default(),
            Source::Services,
            tx.clone(),
            |service: &Service| {
                Update::Service(
                    service.namespace().unwrap_or_default(),
                    service.name_any(),
                    service.spec.as_ref().and_then(|spec| spec.selector.clone()),
                )
            },
            namespaced_key,
            |key| {
                let (namespace, name) = split_key(&key);
                Update::ServiceGone(namespace, name)
            },
        ),
        spawn(
            Api::<ReplicaSet>::all(client.clone()),
            watcher::Config::default(),
            Source::ReplicaSets,
            tx.clone(),
            |set: &ReplicaSet| {
                controller(
                    set,
                    set.spec
                        .as_ref()
                        .map(|spec| Selector::parse(Some(&spec.selector))),
                )
            },
            namespaced_key,
            |key| controller_gone("ReplicaSet", &key),
        ),
        spawn(
            Api::<StatefulSet>::all(client.clone()),
            watcher::Config::default(),
            Source::StatefulSets,
            tx.clone(),
            |set: &StatefulSet| {
                controller(
                    set,
                    set.spec
                        .as_ref()
                        .map(|spec| Selector::parse(Some(&spec.selector))),
                )
            },
            namespaced_key,
            |key| controller_gone("StatefulSet", &key),
        ),
        spawn(
            Api::<ReplicationController>::all(client.clone()),
            watcher::Config::default(),
            Source::ReplicationControllers,
            tx.clone(),
            |rc: &ReplicationController| {
                let selector = rc
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.selector.as_ref())
                    .map(Selector::from_map);
                controller(rc, selector)
            },
            namespaced_key,
            |key| controller_gone("ReplicationController", &key),
        ),
        spawn(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            watcher::Config::default(),
            Source::Claims,
            tx.clone(),
            |claim: &PersistentVolumeClaim| Update::Claim(Arc::new(claim.clone())),
            namespaced_key,
            |key| {
                let (namespace, name) = split_key(&key);
                Update::ClaimGone(namespace, name)
            },
        ),
        spawn(
            Api::<PersistentVolume>::all(client.clone()),
            watcher::Config::default(),
            Source::Volumes,
            tx.clone(),
            |volume: &PersistentVolume| Update::Volume(Arc::new(volume.clone())),
            |volume: &PersistentVolume| volume.name_any(),
            Update::VolumeGone,
        ),
        spawn(
            Api::<StorageClass>::all(client.clone()),
            watcher::Config::default(),
            Source::Classes,
            tx.clone(),
            |class: &StorageClass| Update::Class(Arc::new(class.clone())),
            |class: &StorageClass| class.name_any(),
            Update::ClassGone,
        ),
    ]
}

fn namespaced_key<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.meta().namespace.as_deref().unwrap_or(""),
        object.meta().name.as_deref().unwrap_or("")
    )
}

fn split_key(key: &str) -> (String, String) {
    let (namespace, name) = key.split_once('/').unwrap_or(("", key));
    (namespace.to_owned(), name.to_owned())
}

fn controller<K: Resource<DynamicType = ()>>(object: &K, selector: Option<Selector>) -> Update {
    Update::Controller(
        K::kind(&()).into_owned(),
        object.meta().namespace.clone().unwrap_or_default(),
        object.meta().name.clone().unwrap_or_default(),
        selector.unwrap_or(Selector::Nothing),
    )
}

fn controller_gone(kind: &str, key: &str) -> Update {
    let (namespace, name) = split_key(key);
    Update::ControllerGone(kind.to_owned(), namespace, name)
}

/// Runs one informer: applies, deletions, and after each (re)list the keys that vanished.
fn spawn<K>(
    api: Api<K>,
    config: watcher::Config,
    source: Source,
    tx: UnboundedSender<Update>,
    convert: impl Fn(&K) -> Update + Send + 'static,
    key: impl Fn(&K) -> String + Send + 'static,
    gone: impl Fn(String) -> Update + Send + 'static,
) -> tokio::task::JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    tokio::spawn(async move {
        let mut events = watcher(api, config).default_backoff().boxed();
        let mut known: HashSet<String> = HashSet::new();
        let mut listing: HashSet<String> = HashSet::new();
        let mut synced = false;
        while let Some(event) = events.next().await {
            let sent = match event {
                Ok(watcher::Event::Init) => {
                    listing.clear();
                    Ok(())
                }
                Ok(watcher::Event::InitApply(object)) => {
                    listing.insert(key(&object));
                    tx.send(convert(&object))
                }
                Ok(watcher::Event::InitDone) => {
                    let vanished: Vec<String> = known.difference(&listing).cloned().collect();
                    known = std::mem::take(&mut listing);
                    let mut result = Ok(());
                    for name in vanished {
                        result = result.and(tx.send(gone(name)));
                    }
                    if !synced {
                        synced = true;
                        result = result.and(tx.send(Update::Synced(source)));
                    }
                    result
                }
                Ok(watcher::Event::Apply(object)) => {
                    known.insert(key(&object));
                    tx.send(convert(&object))
                }
                Ok(watcher::Event::Delete(object)) => {
                    let name = key(&object);
                    known.remove(&name);
                    tx.send(gone(name))
                }
                Err(error) => {
                    tracing::warn!(?source, %error, "scheduler watch failed; retrying");
                    Ok(())
                }
            };
            if sent.is_err() {
                return;
            }
        }
    })
}
