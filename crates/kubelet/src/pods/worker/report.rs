//! Writing the pod's status: computed from CRI state, probes and waiting reasons, patched only
//! when it changed, and for a static pod kept here and written to its mirror pod.

use super::*;

impl PodWorker {
    /// Writes the pod's status if it differs from what was last written.
    pub(super) async fn write_status(
        &mut self,
        pod: &Pod,
        observed: &Observed,
        forced: Option<(String, String, String)>,
    ) -> Result<()> {
        let start_time = self
            .start_time
            .clone()
            .unwrap_or_else(|| Time(jiff::Timestamp::now()));
        let host_ip = self.context.config.node_ip.to_string();
        let mut probe_states: HashMap<String, (bool, bool)> = HashMap::new();
        if let Some(spec) = pod.spec.as_ref() {
            for container in &spec.containers {
                if let (Some(latest), _) = observed.attempts(&container.name) {
                    let state = self.context.probes.state(&latest.id, container);
                    probe_states.insert(
                        container.name.clone(),
                        (state.ready && state.started, state.started),
                    );
                }
            }
        }
        let probe = |name: &str| probe_states.get(name).copied().unwrap_or((true, true));
        let inputs = StatusInputs {
            waiting: &self.waiting,
            probe: &probe,
            host_ip: &host_ip,
            start_time,
            forced,
        };
        // A static pod's file has no status: the one computed last stands in for it (upstream's
        // status manager cache), so its conditions keep their transition times.
        let is_static = static_pods::is_static(pod);
        let with_kept;
        let base = if is_static {
            with_kept = Pod {
                status: self.kept_status.clone(),
                ..pod.clone()
            };
            &with_kept
        } else {
            pod
        };
        let computed = status::pod_status(base, observed, &inputs);
        let desired = serde_json::to_value(&computed)
            .map_err(|error| Error::Config(format!("pod status: {error}")))?;
        if is_static {
            self.kept_status = Some(computed);
        } else if self.last_written.as_ref() == Some(&desired) {
            return Ok(());
        }
        // A static pod's status goes to its mirror pod in the API, compared with what the mirror
        // shows (a recreated mirror starts over); until there is one (or while the API server
        // cannot be reached) it is kept here and tried again.
        let mirror = if is_static {
            match static_pods::mirror_of(&self.context, pod).await {
                Some(mirror) => Some(mirror),
                None => {
                    self.status_pending = true;
                    return Ok(());
                }
            }
        } else {
            None
        };
        let target = mirror.as_ref().unwrap_or(pod);
        let current = target
            .status
            .as_ref()
            .and_then(|status| serde_json::to_value(status).ok())
            .unwrap_or(serde_json::json!({}));
        let Some(diff) = status::merge_diff(&current, &desired) else {
            self.last_written = Some(desired);
            self.status_pending = false;
            return Ok(());
        };
        let api: Api<Pod> = Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let patch = serde_json::json!({"metadata": {"uid": target.metadata.uid}, "status": diff});
        match api
            .patch_status(
                pod.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                self.last_written = Some(desired);
                self.status_pending = false;
                Ok(())
            }
            Err(kube::Error::Api(status)) if status.code == 404 => {
                self.status_pending = mirror.is_some();
                Ok(())
            }
            Err(_) if mirror.is_some() => {
                self.status_pending = true;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }
}
