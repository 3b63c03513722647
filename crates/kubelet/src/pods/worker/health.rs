//! A running pod's health: probers started and stopped with its containers, containers killed
//! when their liveness or startup probe fails, and the crash-loop back-off between restarts.

use super::*;

impl PodWorker {
    /// Starts probers for running containers, stops those of gone containers, and kills containers
    /// whose liveness or startup probe failed. Returns whether it killed one.
    pub(super) async fn check_probes(
        &mut self,
        pod: &Pod,
        observed: &Observed,
        pod_ip: &str,
    ) -> bool {
        let Some(spec) = pod.spec.as_ref() else {
            return false;
        };
        let all: Vec<String> = observed
            .containers
            .iter()
            .map(|status| status.id.clone())
            .collect();
        let mut running = Vec::new();
        let mut killed = false;
        let shared = Arc::new(pod.clone());
        for container in &spec.containers {
            let (Some(latest), _) = observed.attempts(&container.name) else {
                continue;
            };
            if latest.state != cri::ContainerState::ContainerRunning as i32 {
                continue;
            }
            running.push(latest.id.clone());
            self.context.probes.ensure(ProbeTarget {
                cri: self.context.cri.clone(),
                recorder: self.context.recorder.clone(),
                pod: shared.clone(),
                container: container.clone(),
                container_id: latest.id.clone(),
                pod_ip: pod_ip.to_string(),
                wake: self.wake.clone(),
            });
            if let Some(kind) = self.context.probes.state(&latest.id, container).failed {
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Normal,
                    "Killing",
                    format!(
                        "Container {} failed {kind} probe, will be restarted",
                        container.name
                    ),
                );
                let probe = if kind == "startup" {
                    &container.startup_probe
                } else {
                    &container.liveness_probe
                };
                let grace = probe
                    .as_ref()
                    .and_then(|probe| probe.termination_grace_period_seconds)
                    .or(spec.termination_grace_period_seconds)
                    .unwrap_or(30);
                self.run_pre_stop(pod, container, &latest.id, pod_ip, grace)
                    .await;
                if let Err(error) =
                    runtime::stop_container(&self.context.cri, &latest.id, grace).await
                {
                    tracing::warn!(pod = %pod_key(pod), %error, "stopping an unhealthy container failed");
                }
                running.pop();
                killed = true;
            }
        }
        self.context.probes.retain_for_pod(&all, &running);
        killed
    }

    /// Whether a container must wait before its next restart; sets the waiting reason if so and
    /// advances the back-off when the restart may go ahead.
    pub(super) fn restart_delay(
        &mut self,
        name: &str,
        exited: &cri::ContainerStatus,
        pod: &Pod,
    ) -> Option<Duration> {
        let finished = chrono::DateTime::from_timestamp_nanos(exited.finished_at);
        let since = (chrono::Utc::now() - finished).to_std().unwrap_or_default();
        if let Some(delay) = self.backoff.get(name).copied() {
            if since < delay {
                let message = format!(
                    "back-off {}s restarting failed container={name} pod={}_{}({})",
                    delay.as_secs(),
                    pod.metadata.name.as_deref().unwrap_or_default(),
                    pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod.metadata.uid.as_deref().unwrap_or_default()
                );
                let entering = self
                    .waiting
                    .get(name)
                    .is_none_or(|(reason, _)| reason != "CrashLoopBackOff");
                if entering {
                    self.context.recorder.pod(
                        pod,
                        Some(name),
                        EventType::Warning,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {name} in pod {}_{}({})",
                            pod.metadata.name.as_deref().unwrap_or_default(),
                            pod.metadata.namespace.as_deref().unwrap_or_default(),
                            pod.metadata.uid.as_deref().unwrap_or_default()
                        ),
                    );
                }
                self.waiting
                    .insert(name.to_string(), ("CrashLoopBackOff".to_string(), message));
                return Some(delay - since);
            }
        }
        let next = match self.backoff.get(name) {
            Some(delay) => (*delay * 2).min(MAX_BACKOFF),
            None => INITIAL_BACKOFF,
        };
        self.backoff.insert(name.to_string(), next);
        None
    }
}
