//! What a running pod leaves behind: exited sandboxes older than the newest, dead containers beyond
//! the last attempts, and the log folders of a pod by its UID.

use super::*;

impl PodWorker {
    /// Garbage: removes the pod's sandboxes that are neither its newest nor ready and hold no
    /// containers any more (upstream keeps only the newest sandbox of a live pod).
    pub(super) async fn remove_old_sandboxes(&self, sandboxes: &[cri::PodSandbox]) {
        for id in removable_sandboxes(sandboxes) {
            let containers = self
                .context
                .cri
                .runtime
                .clone()
                .list_containers(cri::ListContainersRequest {
                    filter: Some(cri::ContainerFilter {
                        pod_sandbox_id: id.to_string(),
                        ..cri::ContainerFilter::default()
                    }),
                })
                .await;
            match containers {
                Ok(response) if response.get_ref().containers.is_empty() => {
                    if let Err(error) = runtime::remove_sandbox(&self.context.cri, id).await {
                        tracing::debug!(%error, "removing an old sandbox failed");
                    }
                }
                Ok(_) => {}
                Err(status) => {
                    tracing::debug!(error = %status.message(), "listing an old sandbox's containers failed");
                }
            }
        }
    }

    /// Garbage: keeps the newest two attempts of each container (the current one and the one
    /// `lastState` and `kubectl logs --previous` show) and removes older exited ones.
    pub(super) async fn remove_dead_containers(&self, observed: &Observed) {
        let mut by_name: HashMap<String, Vec<&cri::ContainerStatus>> = HashMap::new();
        for status in &observed.containers {
            let name = status
                .metadata
                .as_ref()
                .map(|metadata| metadata.name.clone())
                .unwrap_or_default();
            by_name.entry(name).or_default().push(status);
        }
        for attempts in by_name.values_mut() {
            attempts.sort_by_key(|status| std::cmp::Reverse((attempt(status), status.created_at)));
            for old in attempts.iter().skip(2) {
                if old.state == cri::ContainerState::ContainerExited as i32 {
                    if let Err(error) = runtime::remove_container(&self.context.cri, &old.id).await
                    {
                        tracing::debug!(%error, "removing a dead container failed");
                    }
                }
            }
        }
    }
}

/// The log folders (`NAMESPACE_NAME_UID`) of the pod with `uid`.
pub(crate) fn pod_log_dirs(logs_dir: &std::path::Path, uid: &str) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(logs_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| log_dir_uid(&entry.file_name().to_string_lossy()) == Some(uid))
        .map(|entry| entry.path())
        .collect()
}

/// The pod UID of a log folder name `NAMESPACE_NAME_UID` (names and UIDs have no `_`).
pub(crate) fn log_dir_uid(name: &str) -> Option<&str> {
    let mut parts = name.splitn(3, '_');
    let (_namespace, _name, uid) = (parts.next()?, parts.next()?, parts.next()?);
    (!uid.is_empty() && !uid.contains('_')).then_some(uid)
}

/// The sandboxes (newest first) that may go if they hold no containers: all but the newest, and
/// only those that are not ready.
pub(super) fn removable_sandboxes(sandboxes: &[cri::PodSandbox]) -> Vec<&str> {
    sandboxes
        .iter()
        .skip(1)
        .filter(|sandbox| sandbox.state != cri::PodSandboxState::SandboxReady as i32)
        .map(|sandbox| sandbox.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(id: &str, ready: bool) -> cri::PodSandbox {
        cri::PodSandbox {
            id: id.to_string(),
            state: if ready {
                cri::PodSandboxState::SandboxReady as i32
            } else {
                cri::PodSandboxState::SandboxNotready as i32
            },
            ..cri::PodSandbox::default()
        }
    }

    #[test]
    fn log_folders_name_their_pod_uid_last() {
        assert_eq!(log_dir_uid("default_web_0b6c-11"), Some("0b6c-11"));
        assert_eq!(log_dir_uid("default_web"), None);
        assert_eq!(log_dir_uid("a_b_c_d"), None);
    }

    #[test]
    fn only_older_sandboxes_that_are_not_ready_may_go() {
        assert!(removable_sandboxes(&[]).is_empty());
        assert!(removable_sandboxes(&[sandbox("new", false)]).is_empty());
        let sandboxes = [
            sandbox("new", true),
            sandbox("old-ready", true),
            sandbox("old", false),
            sandbox("older", false),
        ];
        assert_eq!(removable_sandboxes(&sandboxes), vec!["old", "older"]);
    }
}
