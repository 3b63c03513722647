//! Static pods: Pod manifests in `DIR/agent/pod-manifests/` that the agent runs on its own, read at
//! start and every 20 s (upstream's file source period), with or without the API server, each
//! mirrored into the API as a mirror pod (`kubernetes.io/config.mirror`) that shows its status and
//! is recreated if deleted. Mirrors are made once the API server answers and the Node exists.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use ring::digest::{SHA256, digest};
use tokio::sync::{Notify, mpsc, watch};

use super::NodeContext;

/// How often the manifest folder is read.
pub const READ_INTERVAL: Duration = Duration::from_secs(20);
/// How soon mirror pods that could not be made or deleted are tried again.
const MIRROR_RETRY: Duration = Duration::from_secs(5);
/// Annotation naming where a pod came from (`file` for static pods).
pub const CONFIG_SOURCE: &str = "kubernetes.io/config.source";
/// Annotation with the static pod's hash (its UID on the node).
pub const CONFIG_HASH: &str = "kubernetes.io/config.hash";
/// Annotation marking a mirror pod, with the static pod's hash.
pub const CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";

/// Whether a pod from the API is the mirror of a static pod.
pub fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|annotations| annotations.contains_key(CONFIG_MIRROR))
}

/// Whether a pod is a static pod (from a manifest file).
pub fn is_static(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(CONFIG_SOURCE))
        .is_some_and(|source| source == "file")
}

/// Reads the manifests when the folder changes (inotify) and every [`READ_INTERVAL`], and sends the
/// full set of static pods whenever it changed.
pub async fn watch(folder: std::path::PathBuf, node_name: String, sender: mpsc::Sender<Vec<Pod>>) {
    let changed = std::sync::Arc::new(tokio::sync::Notify::new());
    watch_folder(&folder, changed.clone());
    let mut last: Option<Vec<String>> = None;
    loop {
        let pods = read_folder(&folder, &node_name);
        let hashes: Vec<String> = pods
            .iter()
            .filter_map(|pod| pod.metadata.uid.clone())
            .collect();
        if last.as_ref() != Some(&hashes) {
            if sender.send(pods).await.is_err() {
                return;
            }
            last = Some(hashes);
        }
        tokio::select! {
            _ = changed.notified() => {}
            _ = tokio::time::sleep(READ_INTERVAL) => {}
        }
    }
}

/// Signals `changed` whenever a file in `folder` is written, moved or removed. Without inotify the
/// periodic read still picks changes up.
fn watch_folder(folder: &Path, changed: std::sync::Arc<tokio::sync::Notify>) {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    let inotify = match Inotify::init(InitFlags::IN_CLOEXEC) {
        Ok(inotify) => inotify,
        Err(error) => {
            tracing::warn!(%error, "inotify is unavailable; static pods are read every 20 s");
            return;
        }
    };
    let mask = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_CREATE;
    if let Err(error) = inotify.add_watch(folder, mask) {
        tracing::warn!(%error, folder = %folder.display(), "cannot watch the static pod folder");
        return;
    }
    std::thread::spawn(move || {
        while inotify.read_events().is_ok() {
            changed.notify_one();
        }
    });
}

/// The static pods defined in `folder` (files ending in .yaml, .yml or .json; others and unreadable
/// ones are skipped with a log line).
pub fn read_folder(folder: &Path, node_name: &str) -> Vec<Pod> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
    files.sort();
    let mut pods = Vec::new();
    for path in files {
        let extension = path
            .extension()
            .and_then(|extension| extension.to_str())
            .unwrap_or_default();
        if !["yaml", "yml", "json"].contains(&extension) {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|error| error.to_string())
            .and_then(|bytes| static_pod(&bytes, &path, node_name))
        {
            Ok(pod) => pods.push(pod),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "skipping a static pod manifest")
            }
        }
    }
    pods
}

/// Turns a manifest into the static pod the node runs: named `NAME-NODE`, bound to the node, with a
/// UID and `config.hash` derived from the manifest, the file and the node.
pub fn static_pod(bytes: &[u8], path: &Path, node_name: &str) -> Result<Pod, String> {
    let mut pod: Pod = serde_yaml::from_slice(bytes).map_err(|error| error.to_string())?;
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|name| !name.is_empty())
        .ok_or("the pod has no name")?;
    let mut hasher = Vec::with_capacity(bytes.len() + 256);
    hasher.extend_from_slice(bytes);
    hasher.extend_from_slice(path.display().to_string().as_bytes());
    hasher.extend_from_slice(node_name.as_bytes());
    let hash: String = digest(&SHA256, &hasher).as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    pod.metadata.name = Some(format!("{name}-{node_name}"));
    pod.metadata.namespace = Some(
        pod.metadata
            .namespace
            .clone()
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| "default".to_string()),
    );
    pod.metadata.uid = Some(hash.clone());
    let annotations = pod.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(CONFIG_SOURCE.to_string(), "file".to_string());
    annotations.insert(CONFIG_HASH.to_string(), hash);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node_name.to_string());
    spec.restart_policy
        .get_or_insert_with(|| "Always".to_string());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.dns_policy
        .get_or_insert_with(|| "ClusterFirst".to_string());
    spec.enable_service_links.get_or_insert(true);
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        container
            .termination_message_path
            .get_or_insert_with(|| "/dev/termination-log".to_string());
        container
            .termination_message_policy
            .get_or_insert_with(|| "File".to_string());
    }
    pod.status = None;
    Ok(pod)
}

/// Keeps the API's mirror pods matching the static pods, on a task of its own: a mirror is created
/// only once this node's Node exists (upstream names the Node as the mirror's owner), and whatever
/// could not be done (the API server is not there yet, the node is not registered) is tried again
/// every [`MIRROR_RETRY`] and whenever [`Mirrors::kick`] says the API may have changed.
#[derive(Debug, Clone)]
pub struct Mirrors {
    pods: watch::Sender<Vec<Pod>>,
    kick: Arc<Notify>,
}

impl Mirrors {
    /// Starts the task with no static pods.
    pub fn start(context: Arc<NodeContext>) -> Mirrors {
        let (pods, receiver) = watch::channel(Vec::new());
        let kick = Arc::new(Notify::new());
        tokio::spawn(keep_mirrors(context, receiver, kick.clone()));
        Mirrors { pods, kick }
    }

    /// The current static pods: their mirrors are made to match, those of pods no longer here go.
    pub fn set(&self, pods: Vec<Pod>) {
        self.pods.send_replace(pods);
    }

    /// Checks every mirror again now (one was deleted, the API server answered again, the Node was
    /// registered).
    pub fn kick(&self) {
        self.kick.notify_one();
    }
}

async fn keep_mirrors(
    context: Arc<NodeContext>,
    mut pods: watch::Receiver<Vec<Pod>>,
    kick: Arc<Notify>,
) {
    // The static pods of the last round, and those gone since whose mirrors are still to delete.
    let mut known: HashMap<String, Pod> = HashMap::new();
    let mut gone: HashMap<String, Pod> = HashMap::new();
    loop {
        let current: HashMap<String, Pod> = pods
            .borrow_and_update()
            .iter()
            .filter_map(|pod| Some((pod.metadata.uid.clone()?, pod.clone())))
            .collect();
        for (uid, pod) in known.drain() {
            if !current.contains_key(&uid) {
                gone.insert(uid, pod);
            }
        }
        gone.retain(|uid, _| !current.contains_key(uid));
        known = current;
        let complete = sync_mirrors(&context, &known, &mut gone).await;
        tokio::select! {
            changed = pods.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = kick.notified() => {}
            _ = tokio::time::sleep(MIRROR_RETRY), if !complete => {}
        }
    }
}

/// One round: deletes the mirrors of `gone` static pods (forgetting those done), then creates or
/// replaces the mirrors of `pods`. Returns whether everything is as it should be.
async fn sync_mirrors(
    context: &NodeContext,
    pods: &HashMap<String, Pod>,
    gone: &mut HashMap<String, Pod>,
) -> bool {
    let mut complete = true;
    let mut deleted = Vec::new();
    for (uid, pod) in gone.iter() {
        match delete_mirror(context, pod).await {
            Ok(()) => deleted.push(uid.clone()),
            Err(error) => {
                tracing::debug!(pod = %super::worker::pod_key(pod), %error, "deleting the mirror pod failed");
                complete = false;
            }
        }
    }
    for uid in deleted {
        gone.remove(&uid);
    }
    if pods.is_empty() {
        return complete;
    }
    let node = Api::<Node>::all(context.client.clone())
        .get_opt(&context.config.node_name)
        .await;
    let node_uid = match node {
        Ok(Some(node)) => node.metadata.uid,
        Ok(None) => {
            tracing::debug!("no mirror pods until this node is registered");
            return false;
        }
        Err(error) => {
            tracing::debug!(%error, "no mirror pods while the API server cannot be reached");
            return false;
        }
    };
    for pod in pods.values() {
        if let Err(error) = ensure_mirror(context, pod, node_uid.as_deref()).await {
            tracing::warn!(pod = %super::worker::pod_key(pod), %error, "creating the mirror pod failed");
            complete = false;
        }
    }
    complete
}

/// Reads a static pod's mirror from the API.
pub async fn mirror_of(context: &NodeContext, pod: &Pod) -> Option<Pod> {
    let api: Api<Pod> = Api::namespaced(
        context.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let mirror = api
        .get_opt(pod.metadata.name.as_deref().unwrap_or_default())
        .await
        .ok()
        .flatten()?;
    let hash = pod.metadata.uid.as_deref();
    let matches = mirror
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(CONFIG_MIRROR))
        .map(String::as_str)
        == hash;
    matches.then_some(mirror)
}

/// Why a mirror pod could not be made.
#[derive(Debug, thiserror::Error)]
enum MirrorError {
    /// The API request failed.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// A pod that is not a mirror has the static pod's name.
    #[error("pods \"{0}\" already exists and is not a mirror pod")]
    Taken(String),
}

async fn ensure_mirror(
    context: &NodeContext,
    pod: &Pod,
    node_uid: Option<&str>,
) -> Result<(), MirrorError> {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(context.client.clone(), &namespace);
    let hash = pod.metadata.uid.clone().unwrap_or_default();
    if let Some(existing) = api.get_opt(&name).await? {
        let Some(current) = existing
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(CONFIG_MIRROR))
        else {
            // A pod of the API holds the name: it is not this node's to replace.
            return Err(MirrorError::Taken(format!("{namespace}/{name}")));
        };
        if *current == hash && existing.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: existing.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        let _ = api.delete(&name, &params).await;
    }
    let mut mirror = pod.clone();
    mirror.metadata.uid = None;
    mirror.metadata.resource_version = None;
    mirror
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(CONFIG_MIRROR.to_string(), hash);
    if let Some(node_uid) = node_uid {
        mirror.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "v1".to_string(),
            kind: "Node".to_string(),
            name: context.config.node_name.clone(),
            uid: node_uid.to_string(),
            controller: Some(true),
            ..OwnerReference::default()
        }]);
    }
    api.create(&PostParams::default(), &mirror).await?;
    Ok(())
}

/// Deletes a static pod's mirror if the API has it (nothing to do counts as done).
async fn delete_mirror(context: &NodeContext, pod: &Pod) -> Result<(), kube::Error> {
    let api: Api<Pod> = Api::namespaced(
        context.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let Some(mirror) = api
        .get_opt(pod.metadata.name.as_deref().unwrap_or_default())
        .await?
    else {
        return Ok(());
    };
    let ours = mirror
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(CONFIG_MIRROR))
        .map(String::as_str)
        == pod.metadata.uid.as_deref();
    if !ours {
        return Ok(());
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: mirror.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api
        .delete(mirror.metadata.name.as_deref().unwrap_or_default(), &params)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
        Err(error) => Err(error),
    }
}

/// The static pod a mirror pod stands for: its `config.mirror` hash, which is the static pod's UID.
pub fn mirrored_uid(mirror: &Pod) -> Option<&str> {
    mirror
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(CONFIG_MIRROR))
        .map(String::as_str)
}
