//! Stopping a pod: preStop hooks, graceful stops within the grace period, tearing the sandbox and
//! the pod's host state down, and the final delete of the Pod object.

use super::*;

impl PodWorker {
    /// Runs a container's preStop hook, bounded by the grace period.
    pub(super) async fn run_pre_stop(
        &self,
        pod: &Pod,
        container: &Container,
        container_id: &str,
        pod_ip: &str,
        grace: i64,
    ) {
        let Some(handler) = container
            .lifecycle
            .as_ref()
            .and_then(|lifecycle| lifecycle.pre_stop.as_ref())
        else {
            return;
        };
        let limit = Duration::from_secs(grace.max(0) as u64);
        if let Err(message) = hooks::run(
            &self.context,
            container_id,
            container,
            pod_ip,
            handler,
            limit,
        )
        .await
        {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Warning,
                "FailedPreStopHook",
                format!("PreStopHook failed: {message}"),
            );
        }
    }

    /// Stops a pod's running containers with its termination grace period.
    pub(super) async fn stop_containers_gracefully(
        &self,
        pod: &Pod,
        observed: &Observed,
        sandboxes: &[cri::PodSandbox],
    ) -> Result<()> {
        let grace = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.termination_grace_period_seconds)
            .unwrap_or(30);
        self.stop_containers_gracefully_with(pod, observed, sandboxes, grace)
            .await
    }

    /// Runs preStop hooks and stops the running containers (all at once, each with `grace` seconds,
    /// the hook's time included), recording `Killing` events, then stops the sandboxes.
    pub(super) async fn stop_containers_gracefully_with(
        &self,
        pod: &Pod,
        observed: &Observed,
        sandboxes: &[cri::PodSandbox],
        grace: i64,
    ) -> Result<()> {
        let spec = pod.spec.clone().unwrap_or_default();
        let pod_ip = self.pod_ip(pod, observed);
        let containers: Vec<&Container> = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .collect();
        let stops = observed
            .containers
            .iter()
            .filter(|status| status.state == cri::ContainerState::ContainerRunning as i32)
            .map(|status| {
                let name = status
                    .metadata
                    .as_ref()
                    .map(|metadata| metadata.name.clone())
                    .unwrap_or_default();
                let container = containers
                    .iter()
                    .find(|container| container.name == name)
                    .copied();
                let pod_ip = pod_ip.clone();
                async move {
                    self.context.recorder.pod(
                        pod,
                        Some(&name),
                        EventType::Normal,
                        "Killing",
                        format!("Stopping container {name}"),
                    );
                    let started = std::time::Instant::now();
                    if let Some(container) = container {
                        self.run_pre_stop(pod, container, &status.id, &pod_ip, grace)
                            .await;
                    }
                    let remaining = (grace - started.elapsed().as_secs() as i64).max(2.min(grace));
                    runtime::stop_container(&self.context.cri, &status.id, remaining).await
                }
            });
        for result in futures::future::join_all(stops).await {
            result?;
        }
        self.stop_everything(observed, sandboxes, 0).await
    }

    /// Stops every container (with the grace period) and every sandbox of the pod.
    pub(super) async fn stop_everything(
        &self,
        observed: &Observed,
        sandboxes: &[cri::PodSandbox],
        grace: i64,
    ) -> Result<()> {
        let running: Vec<&cri::ContainerStatus> = observed
            .containers
            .iter()
            .filter(|status| {
                status.state == cri::ContainerState::ContainerRunning as i32
                    || status.state == cri::ContainerState::ContainerCreated as i32
            })
            .collect();
        let stops = running
            .iter()
            .map(|status| runtime::stop_container(&self.context.cri, &status.id, grace));
        for result in futures::future::join_all(stops).await {
            result?;
        }
        for sandbox in sandboxes {
            if sandbox.state == cri::PodSandboxState::SandboxReady as i32 {
                runtime::stop_sandbox(&self.context.cri, &sandbox.id).await?;
            }
        }
        Ok(())
    }

    /// Stops and removes everything of the pod on this node: containers, sandboxes, volumes, cgroups.
    pub(super) async fn tear_down(&mut self, uid: &str, grace: i64) -> Result<()> {
        let (observed, sandboxes) = runtime::observe(&self.context.cri, uid).await?;
        self.stop_everything(&observed, &sandboxes, grace).await?;
        for sandbox in &sandboxes {
            runtime::remove_sandbox(&self.context.cri, &sandbox.id).await?;
        }
        let pod_dir = self.context.paths.pod_dir(uid);
        let removing = pod_dir.clone();
        tokio::task::spawn_blocking(move || volumes::remove_pod_dir(&removing))
            .await
            .map_err(|error| Error::Runtime(format!("removing a pod folder: {error}")))?
            .map_err(|error| Error::io(format!("removing {}", pod_dir.display()), error))?;
        for log_dir in pod_log_dirs(&self.context.paths.pod_logs_dir(), uid) {
            let _ = std::fs::remove_dir_all(log_dir);
        }
        cgroups::remove_pod_cgroup(&cgroups::pod_cgroup(
            &self
                .context
                .paths
                .cgroup_parent(&self.context.config.node_name),
            uid,
        ));
        Ok(())
    }

    /// Removes the Pod object once everything on the node is gone (grace period 0, same UID).
    pub(super) async fn delete_object(&self, pod: &Pod) -> Result<()> {
        let api: Api<Pod> = Api::namespaced(
            self.context.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api
            .delete(pod.metadata.name.as_deref().unwrap_or_default(), &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}
