//! Starting a container: the pod's managed files, the image pull as the pull policy says, create
//! and start through CRI, the postStart hook, and the waiting reason a failure leaves.

use super::*;

impl PodWorker {
    /// The pod's hosts file and a fresh termination-message file folder.
    pub(super) fn managed_files(&self, pod: &Pod, pod_ip: &str) -> Result<ManagedFiles> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pod_dir = self.context.paths.pod_dir(&uid);
        std::fs::create_dir_all(&pod_dir)
            .map_err(|error| Error::io(format!("creating {}", pod_dir.display()), error))?;
        let host_network = pod
            .spec
            .as_ref()
            .and_then(|spec| spec.host_network)
            .unwrap_or(false);
        let etc_hosts = if host_network {
            None
        } else {
            let path = pod_dir.join("etc-hosts");
            let text = cri_config::etc_hosts(pod, pod_ip, &self.context.config.cluster_domain);
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(&path, text)
                    .map_err(|error| Error::io(format!("writing {}", path.display()), error))?;
            }
            Some(path)
        };
        Ok(ManagedFiles {
            etc_hosts,
            termination_message: None,
        })
    }

    /// Starts a container (attempt `attempt`); a failure becomes its waiting reason.
    pub(super) async fn start_container(
        &mut self,
        setup: &PodSetup<'_>,
        container: &Container,
        attempt: u32,
        init: bool,
    ) {
        let pod = setup.pod;
        let name = container.name.clone();
        match self
            .try_start_container(setup, container, attempt, init)
            .await
        {
            Ok(()) => {
                self.waiting.remove(&name);
            }
            Err((reason, message)) => {
                tracing::warn!(pod = %pod_key(pod), container = %name, %reason, %message, "container start failed");
                self.waiting.insert(name, (reason, message));
            }
        }
    }

    /// Pulls the image, creates and starts the container and runs its postStart hook; a
    /// failure is the waiting reason and message.
    async fn try_start_container(
        &mut self,
        setup: &PodSetup<'_>,
        container: &Container,
        attempt: u32,
        init: bool,
    ) -> std::result::Result<(), (String, String)> {
        let PodSetup {
            pod,
            sandbox,
            volume_paths,
            files,
            pod_ip,
        } = *setup;
        let image = container.image.clone().unwrap_or_default();
        let policy = effective_policy(&image, container.image_pull_policy.as_deref());
        let present = runtime::image_present(&self.context.cri, &image)
            .await
            .map_err(|error| ("ErrImagePull".to_string(), error.to_string()))?;
        if policy == "Never" && !present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Warning,
                "ErrImageNeverPull",
                format!("Container image {image:?} is not present with pull policy of Never"),
            );
            return Err((
                "ErrImageNeverPull".to_string(),
                format!("Container image {image:?} is not present with pull policy of Never"),
            ));
        }
        if policy == "IfNotPresent" && present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Normal,
                "Pulled",
                format!("Container image {image:?} already present on machine"),
            );
        }
        if policy == "Always" || !present {
            self.context.recorder.pod(
                pod,
                Some(&container.name),
                EventType::Normal,
                "Pulling",
                format!("Pulling image {image:?}"),
            );
            let pull_started = std::time::Instant::now();
            let pulled = crate::images::credentials::pull(&self.context, pod, &image).await;
            if pulled.is_ok() {
                let elapsed = pull_started.elapsed();
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Normal,
                    "Pulled",
                    format!("Successfully pulled image {image:?} in {elapsed:.3?} ({elapsed:.3?} including waiting)"),
                );
            }
            if let Err(message) = pulled {
                let reason = if self
                    .waiting
                    .get(&container.name)
                    .is_some_and(|(reason, _)| {
                        reason == "ErrImagePull" || reason == "ImagePullBackOff"
                    }) {
                    "ImagePullBackOff"
                } else {
                    "ErrImagePull"
                };
                if !present {
                    let message = format!("failed to pull and unpack image {image:?}: {message}");
                    self.context.recorder.pod(
                        pod,
                        Some(&container.name),
                        EventType::Warning,
                        "Failed",
                        format!("Failed to pull image {image:?}: {message}"),
                    );
                    self.context.recorder.pod(
                        pod,
                        Some(&container.name),
                        EventType::Warning,
                        "Failed",
                        format!("Error: {reason}"),
                    );
                    return Err((reason.to_string(), message));
                }
            }
        }
        let env = container_env(&self.context, pod, container, pod_ip)
            .await
            .map_err(|message| ("CreateContainerConfigError".to_string(), message))?;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let message_dir = self
            .context
            .paths
            .pod_dir(&uid)
            .join("containers")
            .join(&container.name);
        let mut files = files.clone();
        if container.termination_message_path.as_deref() != Some("") {
            std::fs::create_dir_all(&message_dir)
                .map_err(|error| ("CreateContainerError".to_string(), error.to_string()))?;
            let path = message_dir.join(format!("termination-log-{attempt}"));
            std::fs::write(&path, b"")
                .map_err(|error| ("CreateContainerError".to_string(), error.to_string()))?;
            files.termination_message = Some(path);
        }
        let config =
            cri_config::container_config(pod, container, attempt, &env, volume_paths, &files, init)
                .map_err(|message| ("CreateContainerConfigError".to_string(), message))?;
        let sandbox_config = cri_config::sandbox_config(
            &self.context,
            pod,
            sandbox
                .metadata
                .as_ref()
                .map(|metadata| metadata.attempt)
                .unwrap_or(0),
        );
        let created = self
            .context
            .cri
            .runtime
            .clone()
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.id.clone(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            })
            .await
            .map_err(|status| {
                (
                    "CreateContainerError".to_string(),
                    status.message().to_string(),
                )
            })?
            .into_inner();
        self.context.recorder.pod(
            pod,
            Some(&container.name),
            EventType::Normal,
            "Created",
            format!("Created container: {}", container.name),
        );
        let container_id = created.container_id;
        self.context
            .cri
            .runtime
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: container_id.clone(),
            })
            .await
            .map_err(|status| {
                (
                    "RunContainerError".to_string(),
                    status.message().to_string(),
                )
            })?;
        self.context.recorder.pod(
            pod,
            Some(&container.name),
            EventType::Normal,
            "Started",
            format!("Started container {}", container.name),
        );
        if let Some(handler) = container
            .lifecycle
            .as_ref()
            .and_then(|lifecycle| lifecycle.post_start.as_ref())
        {
            if let Err(message) = hooks::run(
                &self.context,
                &container_id,
                container,
                pod_ip,
                handler,
                Duration::from_secs(30),
            )
            .await
            {
                self.context.recorder.pod(
                    pod,
                    Some(&container.name),
                    EventType::Warning,
                    "FailedPostStartHook",
                    format!("PostStartHook failed: {message}"),
                );
                let _ = runtime::stop_container(&self.context.cri, &container_id, 0).await;
                return Err(("PostStartHookError".to_string(), message));
            }
        }
        Ok(())
    }

    /// Starts a container CRI created but did not start.
    pub(super) async fn start_created(
        &mut self,
        pod: &Pod,
        container: &Container,
        status: &cri::ContainerStatus,
    ) {
        let result = self
            .context
            .cri
            .runtime
            .clone()
            .start_container(cri::StartContainerRequest {
                container_id: status.id.clone(),
            })
            .await;
        if let Err(status) = result {
            tracing::warn!(pod = %pod_key(pod), container = %container.name, error = %status.message(), "starting a created container failed");
            self.waiting.insert(
                container.name.clone(),
                (
                    "RunContainerError".to_string(),
                    status.message().to_string(),
                ),
            );
        }
    }
}
