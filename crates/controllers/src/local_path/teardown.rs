//! Deleting a released local-path volume as rancher's provisioner does: a helper pod
//! `helper-pod-delete-<volume>` in `kube-system`, pinned to the volume's node by `nodeName`, mounts
//! the parent directory (hostPath `DirectoryOrCreate`, the same way the volume itself is made) and
//! runs `rm -rf "$VOL_DIR"`. Once it succeeded the PersistentVolume is deleted, then the pod; when
//! it failed, a `VolumeFailedDelete` warning goes on the volume, the pod is deleted and a new one
//! is tried after an exponential backoff. Progress follows the pod informer, never a poll.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HostPathVolumeSource, PersistentVolume, Pod, PodSpec, Toleration, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kubers_client::events::WARNING;
use kubers_core::volumes::LABEL_HOSTNAME;
use tokio::time::Instant;

use super::{Key, Provisioner, SELECTED_NODE_ANNOTATION, to_delete};
use crate::error::{Error, Result, is_not_found};

/// The namespace helper pods run in (k3s runs the provisioner in `kube-system`).
pub const HELPER_NAMESPACE: &str = "kube-system";
/// The image of helper pods: busybox, as k3s's `helperPod.yaml` uses.
pub const HELPER_IMAGE: &str = "docker.io/library/busybox:1.35";
/// The name of the helper pod's container (rancher's template).
const HELPER_CONTAINER: &str = "helper-pod";
/// How helper pods that delete a volume are named, before the volume's name.
const DELETE_PREFIX: &str = "helper-pod-delete-";
/// Rancher's `HelperPodNameMaxLength`.
const NAME_MAX: usize = 128;
/// The volume holding the parent directory in the helper pod.
const DATA_VOLUME: &str = "data";
/// Rancher's default teardown script.
const TEARDOWN: &str = "set -eu\nrm -rf \"$VOL_DIR\"\n";
/// The first retry after a failed helper pod, doubling up to [`BACKOFF_MAX`] (the
/// external-provisioner library's defaults).
const BACKOFF_BASE: Duration = Duration::from_secs(15);
/// The longest wait between helper pods.
const BACKOFF_MAX: Duration = Duration::from_secs(1000);

/// The helper pod that deletes `volume`'s directory.
pub fn helper_pod_name(volume: &str) -> String {
    let mut name = format!("{DELETE_PREFIX}{volume}");
    name.truncate(NAME_MAX);
    name
}

/// The volume a pod deletes, if it is a delete helper pod.
pub fn helper_pod_volume(pod: &Pod) -> Option<String> {
    if pod.namespace().as_deref() != Some(HELPER_NAMESPACE) {
        return None;
    }
    pod.name_any()
        .strip_prefix(DELETE_PREFIX)
        .map(str::to_owned)
}

/// The node the volume lives on: the node the provisioner chose, else its node affinity's
/// hostname.
fn volume_node(volume: &PersistentVolume) -> Option<String> {
    if let Some(node) = volume
        .annotations()
        .get(SELECTED_NODE_ANNOTATION)
        .filter(|node| !node.is_empty())
    {
        return Some(node.clone());
    }
    let required = volume
        .spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?;
    required
        .node_selector_terms
        .iter()
        .flat_map(|term| term.match_expressions.iter().flatten())
        .find(|requirement| requirement.key == LABEL_HOSTNAME && requirement.operator == "In")
        .and_then(|requirement| requirement.values.as_ref()?.first().cloned())
}

/// The helper pod that removes the volume's directory, or why there cannot be one (worded like
/// rancher's errors).
pub fn helper_pod(volume: &PersistentVolume) -> Result<Pod, String> {
    let name = volume.name_any();
    let path = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.host_path.as_ref())
        .map(|host_path| host_path.path.trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let node = volume_node(volume).unwrap_or_default();
    if path.is_empty() || node.is_empty() {
        return Err("invalid empty name or path or node".into());
    }
    let (parent, dir) = match (Path::new(&path).parent(), Path::new(&path).file_name()) {
        (Some(parent), Some(dir)) if Path::new(&path).is_absolute() => (
            parent.display().to_string(),
            dir.to_string_lossy().into_owned(),
        ),
        _ => {
            return Err(format!(
                "invalid path delete for {path}: cannot find parent dir or volume dir"
            ));
        }
    };
    if parent == "/" {
        return Err(format!(
            "invalid path delete for {path}: cannot find parent dir or volume dir"
        ));
    }
    let env = |name: &str, value: String| EnvVar {
        name: name.to_owned(),
        value: Some(value),
        value_from: None,
    };
    let mode = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_mode.clone())
        .unwrap_or_else(|| "Filesystem".into());
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(helper_pod_name(&name)),
            namespace: Some(HELPER_NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node),
            restart_policy: Some("Never".into()),
            priority_class_name: Some("system-node-critical".into()),
            tolerations: Some(vec![Toleration {
                key: Some("node.kubernetes.io/disk-pressure".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Toleration::default()
            }]),
            containers: vec![Container {
                name: HELPER_CONTAINER.to_owned(),
                image: Some(HELPER_IMAGE.to_owned()),
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["/bin/sh".into(), "-c".into(), TEARDOWN.into()]),
                env: Some(vec![
                    env("VOL_DIR", format!("{parent}/{dir}")),
                    env("VOL_MODE", mode),
                ]),
                volume_mounts: Some(vec![VolumeMount {
                    name: DATA_VOLUME.to_owned(),
                    mount_path: parent.clone(),
                    ..VolumeMount::default()
                }]),
                ..Container::default()
            }],
            volumes: Some(vec![Volume {
                name: DATA_VOLUME.to_owned(),
                host_path: Some(HostPathVolumeSource {
                    path: parent,
                    type_: Some("DirectoryOrCreate".into()),
                }),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        }),
        status: None,
    })
}

/// What deleting a volume needs next, judged by its helper pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// There is no helper pod: create one.
    Create,
    /// The helper pod runs (or is being removed): wait for its next change.
    Wait,
    /// The helper pod removed the directory: delete the volume, then the pod.
    DeleteVolume,
    /// The helper pod failed, for the reason given: report it and try again later.
    Retry(String),
}

/// The next step for a volume whose helper pod is `pod`.
pub fn step(pod: Option<&Pod>) -> Step {
    let Some(pod) = pod else {
        return Step::Create;
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return Step::Wait;
    }
    match pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
    {
        Some("Succeeded") => Step::DeleteVolume,
        Some("Failed") => Step::Retry(failure_reason(pod)),
        _ => Step::Wait,
    }
}

/// Why a helper pod failed, as rancher words it: the container's exit code with its message or
/// reason, else the pod's message.
fn failure_reason(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let terminated = status
        .and_then(|status| status.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|container| container.state.as_ref()?.terminated.as_ref());
    if let Some(terminated) = terminated {
        let code = terminated.exit_code;
        return match (terminated.message.as_deref(), terminated.reason.as_deref()) {
            (Some(message), _) if !message.is_empty() => format!("exit code {code}: {message}"),
            (_, Some(reason)) if !reason.is_empty() => format!("exit code {code} ({reason})"),
            _ => format!("exit code {code}"),
        };
    }
    status
        .and_then(|status| status.message.clone())
        .filter(|message| !message.is_empty())
        .unwrap_or_else(|| "unknown failure reason".into())
}

/// How long to wait before the helper pod after `failures` failed ones.
pub fn backoff(failures: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(1 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX)
}

/// The failures of one volume's helper pods.
#[derive(Debug, Default)]
pub(super) struct Failures {
    /// How many helper pods failed in a row.
    count: u32,
    /// When the next may be created.
    retry_at: Option<Instant>,
    /// The failed pod already reported (so a retried sync does not report it twice).
    reported: Option<String>,
}

/// Per-volume failures, by volume name.
pub(super) type FailureMap = HashMap<String, Failures>;

impl Provisioner {
    /// Removes a released volume's directory through a helper pod, then the volume.
    pub(super) async fn delete(&self, name: &str) -> Result<()> {
        let pod_name = helper_pod_name(name);
        let pod = self.pods.get(HELPER_NAMESPACE, &pod_name);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), HELPER_NAMESPACE);
        let volume = self
            .volumes
            .get("", name)
            .filter(|volume| to_delete(volume) && !self.deleted_volume(volume));
        let Some(volume) = volume else {
            // Nothing (more) to delete: a finished helper pod left behind only goes.
            self.failures().remove(name);
            return match step(pod.as_deref()) {
                Step::DeleteVolume | Step::Retry(_) => delete_pod(&pods, pod.as_deref()).await,
                Step::Create | Step::Wait => Ok(()),
            };
        };
        if let Some(wait) = self.backing_off(name) {
            self.queue.add_after(Key::Volume(name.to_owned()), wait);
            return Ok(());
        }
        match step(pod.as_deref()) {
            Step::Wait => Ok(()),
            Step::Create => {
                let helper = match helper_pod(&volume) {
                    Ok(helper) => helper,
                    Err(reason) => {
                        self.recorder.event(
                            &*volume,
                            WARNING,
                            "VolumeFailedDelete",
                            format!("failed to delete volume {name}: {reason}"),
                        );
                        return Ok(());
                    }
                };
                tracing::info!(volume = %name, pod = %pod_name, "creating the helper pod that deletes a volume's directory");
                match pods.create(&PostParams::default(), &helper).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                    Err(source) => Err(Error::Api {
                        action: format!("creating helper pod {HELPER_NAMESPACE}/{pod_name}"),
                        source,
                    }),
                }
            }
            Step::DeleteVolume => {
                self.delete_volume(&volume).await?;
                self.failures().remove(name);
                delete_pod(&pods, pod.as_deref()).await
            }
            Step::Retry(reason) => {
                let uid = pod.as_deref().and_then(ResourceExt::uid);
                let delay = {
                    let mut failures = self.failures();
                    let entry = failures.entry(name.to_owned()).or_default();
                    if entry.reported != uid {
                        entry.reported = uid;
                        entry.count += 1;
                        let delay = backoff(entry.count);
                        entry.retry_at = Some(Instant::now() + delay);
                        Some(delay)
                    } else {
                        None
                    }
                };
                if let Some(delay) = delay {
                    tracing::warn!(volume = %name, %reason, ?delay, "the helper pod failed; trying again later");
                    self.recorder.event(
                        &*volume,
                        WARNING,
                        "VolumeFailedDelete",
                        format!("failed to delete volume {name}: helper pod failed: {reason}"),
                    );
                    self.queue.add_after(Key::Volume(name.to_owned()), delay);
                }
                delete_pod(&pods, pod.as_deref()).await
            }
        }
    }

    /// How long the volume's next helper pod still has to wait, if it has to.
    fn backing_off(&self, name: &str) -> Option<Duration> {
        let failures = self.failures();
        let retry_at = failures.get(name)?.retry_at?;
        let left = retry_at.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, FailureMap> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this volume (this very object, by uid) was deleted already and the cache lags.
    fn deleted_volume(&self, volume: &PersistentVolume) -> bool {
        volume.uid().is_some_and(|uid| {
            self.deleted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(&uid)
        })
    }

    async fn delete_volume(&self, volume: &PersistentVolume) -> Result<()> {
        let name = volume.name_any();
        let api: Api<PersistentVolume> = Api::all(self.client.clone());
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: volume.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(error) if is_not_found(&error) => {}
            Err(source) => {
                return Err(Error::Api {
                    action: format!("deleting volume {name}"),
                    source,
                });
            }
        }
        tracing::info!(volume = %name, "deleted a released local-path volume and its directory");
        if let Some(uid) = volume.uid() {
            self.deleted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(uid);
        }
        Ok(())
    }
}

/// Deletes a helper pod (this very pod, by uid); one gone already is no error.
async fn delete_pod(pods: &Api<Pod>, pod: Option<&Pod>) -> Result<()> {
    let Some(pod) = pod else {
        return Ok(());
    };
    let name = pod.name_any();
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match pods.delete(&name, &params).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) || crate::error::is_conflict(&error) => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("deleting helper pod {HELPER_NAMESPACE}/{name}"),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn volume(annotations: serde_json::Value, path: &str) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": "pvc-1234", "annotations": annotations},
            "spec": {
                "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                "volumeMode": "Filesystem",
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["host-a"]}
                ]}]}},
            },
        }))
        .expect("a volume")
    }

    fn pod_with(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "status": status}))
            .expect("a pod")
    }

    #[test]
    fn the_helper_pod_removes_the_directory_from_its_parent_on_the_volume_node() {
        let pv = volume(
            json!({"local.path.provisioner/selected-node": "node-a"}),
            "/var/lib/kubers/storage/pvc-1234_default_data/",
        );
        let pod = serde_json::to_value(helper_pod(&pv).expect("a pod")).expect("json");
        assert_eq!(
            pod,
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "helper-pod-delete-pvc-1234", "namespace": "kube-system"},
                "spec": {
                    "nodeName": "node-a",
                    "restartPolicy": "Never",
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "helper-pod",
                        "image": "docker.io/library/busybox:1.35",
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/bin/sh", "-c", "set -eu\nrm -rf \"$VOL_DIR\"\n"],
                        "env": [
                            {"name": "VOL_DIR", "value": "/var/lib/kubers/storage/pvc-1234_default_data"},
                            {"name": "VOL_MODE", "value": "Filesystem"},
                        ],
                        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kubers/storage"}],
                    }],
                    "volumes": [{"name": "data", "hostPath": {"path": "/var/lib/kubers/storage", "type": "DirectoryOrCreate"}}],
                },
            })
        );
        // Without the provisioner's annotation, the node affinity names the node.
        let pinned = volume(json!({}), "/data/pvc-1234");
        assert_eq!(
            helper_pod(&pinned)
                .expect("a pod")
                .spec
                .and_then(|spec| spec.node_name),
            Some("host-a".to_owned())
        );
        for path in ["", "relative/dir", "/top"] {
            assert!(helper_pod(&volume(json!({}), path)).is_err(), "{path:?}");
        }
    }

    #[test]
    fn helper_pod_names_map_back_to_their_volume() {
        let name = helper_pod_name("pvc-1234");
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "kube-system"}}))
                .expect("a pod");
        assert_eq!(helper_pod_volume(&pod), Some("pvc-1234".to_owned()));
        let elsewhere: Pod =
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}}))
                .expect("a pod");
        assert_eq!(helper_pod_volume(&elsewhere), None);
        assert_eq!(helper_pod_name(&"v".repeat(300)).len(), 128);
    }

    #[test]
    fn the_helper_pods_phase_decides_the_next_step() {
        assert_eq!(step(None), Step::Create);
        assert_eq!(
            step(Some(&pod_with(json!({"phase": "Pending"})))),
            Step::Wait
        );
        assert_eq!(
            step(Some(&pod_with(json!({"phase": "Running"})))),
            Step::Wait
        );
        assert_eq!(
            step(Some(&pod_with(json!({"phase": "Succeeded"})))),
            Step::DeleteVolume
        );
        let failed = pod_with(json!({"phase": "Failed", "containerStatuses": [{
            "name": "helper-pod", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": "Error"}},
        }]}));
        assert_eq!(
            step(Some(&failed)),
            Step::Retry("exit code 1 (Error)".into())
        );
        assert_eq!(
            step(Some(&pod_with(
                json!({"phase": "Failed", "message": "Pod was rejected"})
            ))),
            Step::Retry("Pod was rejected".into())
        );
        let mut leaving = pod_with(json!({"phase": "Succeeded"}));
        leaving.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert_eq!(step(Some(&leaving)), Step::Wait);
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_limit() {
        assert_eq!(backoff(1), Duration::from_secs(15));
        assert_eq!(backoff(2), Duration::from_secs(30));
        assert_eq!(backoff(3), Duration::from_secs(60));
        assert_eq!(backoff(10), Duration::from_secs(1000));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(1000));
    }
}
