//! Eviction of a pod whose disk emptyDir volumes outgrow their `sizeLimit`, measured on a timer for
//! pods that have such volumes.

use super::*;

impl PodWorker {
    /// The disk emptyDir volumes whose usage is checked against their `sizeLimit` while the pod
    /// runs (none once it finished, is being deleted or is being evicted).
    pub(super) fn watched_volumes(&self, pod: &Pod) -> Vec<usage::LimitedVolume> {
        let phase = pod
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            .unwrap_or_default();
        if self.evicted.is_some()
            || pod.metadata.deletion_timestamp.is_some()
            || phase == "Succeeded"
            || phase == "Failed"
        {
            return Vec::new();
        }
        usage::limited_volumes(pod)
    }

    /// Measures the watched volumes; returns whether one is over its limit (the pod is then
    /// evicted by the next sync).
    pub(super) async fn check_usage(
        &mut self,
        pod: &Pod,
        watched: &[usage::LimitedVolume],
    ) -> bool {
        let pod_dir = self
            .context
            .paths
            .pod_dir(pod.metadata.uid.as_deref().unwrap_or_default());
        let paths: Vec<std::path::PathBuf> = watched
            .iter()
            .map(|volume| usage::empty_dir_path(&pod_dir, &volume.name))
            .collect();
        let measured = tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|path| usage::disk_usage(path))
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(measured) = measured else {
            return false;
        };
        match usage::over_limit(watched, &measured) {
            Some(message) => {
                tracing::info!(pod = %pod_key(pod), %message, "evicting a pod over its emptyDir limit");
                self.evicted = Some(message);
                true
            }
            None => false,
        }
    }

    /// Evicts the pod as upstream's eviction manager does: an `Evicted` warning, containers killed
    /// with a 1 s grace period, phase `Failed` with reason `Evicted`.
    pub(super) async fn evict(&mut self, pod: &Pod, message: String) -> Result<Next> {
        if !self.eviction_recorded {
            self.context
                .recorder
                .pod(pod, None, EventType::Warning, "Evicted", message.clone());
            self.eviction_recorded = true;
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let (observed, sandboxes) = runtime::observe(&self.context.cri, &uid).await?;
        self.stop_containers_gracefully_with(pod, &observed, &sandboxes, EVICTION_GRACE_SECONDS)
            .await?;
        let (observed, _) = runtime::observe(&self.context.cri, &uid).await?;
        let forced = ("Failed".to_string(), "Evicted".to_string(), message);
        self.write_status(pod, &observed, Some(forced)).await?;
        Ok(Next::After(RESYNC))
    }
}
