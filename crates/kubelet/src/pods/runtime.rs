//! CRI operations on one pod's sandboxes and containers, found by the pod UID label (so a restarted
//! agent finds what an earlier one started).

use std::collections::HashMap;

use k8s_cri::v1 as cri;

use super::labels;
use super::status::Observed;
use crate::cri::Cri;
use crate::error::{Error, Result};

/// Every sandbox of a pod, newest first.
pub async fn sandboxes(cri: &Cri, uid: &str) -> Result<Vec<cri::PodSandbox>> {
    let filter = cri::PodSandboxFilter {
        label_selector: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
        ..cri::PodSandboxFilter::default()
    };
    let mut items = cri
        .runtime
        .clone()
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await
        .map_err(|status| Error::cri("ListPodSandbox", status))?
        .into_inner()
        .items;
    items.sort_by_key(|sandbox| std::cmp::Reverse(sandbox.created_at));
    Ok(items)
}

/// CRI's current view of a pod: its newest sandbox's status and every container's status.
pub async fn observe(cri: &Cri, uid: &str) -> Result<(Observed, Vec<cri::PodSandbox>)> {
    let sandboxes = sandboxes(cri, uid).await?;
    let sandbox = match sandboxes.first() {
        Some(sandbox) => {
            cri.runtime
                .clone()
                .pod_sandbox_status(cri::PodSandboxStatusRequest {
                    pod_sandbox_id: sandbox.id.clone(),
                    verbose: false,
                })
                .await
                .map_err(|status| Error::cri("PodSandboxStatus", status))?
                .into_inner()
                .status
        }
        None => None,
    };
    let filter = cri::ContainerFilter {
        label_selector: HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]),
        ..cri::ContainerFilter::default()
    };
    let listed = cri
        .runtime
        .clone()
        .list_containers(cri::ListContainersRequest {
            filter: Some(filter),
        })
        .await
        .map_err(|status| Error::cri("ListContainers", status))?
        .into_inner()
        .containers;
    let mut containers = Vec::with_capacity(listed.len());
    for container in listed {
        let status = cri
            .runtime
            .clone()
            .container_status(cri::ContainerStatusRequest {
                container_id: container.id.clone(),
                verbose: false,
            })
            .await;
        match status {
            Ok(response) => containers.extend(response.into_inner().status),
            Err(status) if status.code() == tonic::Code::NotFound => {}
            Err(status) => return Err(Error::cri("ContainerStatus", status)),
        }
    }
    Ok((
        Observed {
            sandbox,
            containers,
        },
        sandboxes,
    ))
}

/// Stops a container, giving it `grace_seconds` to exit after SIGTERM.
pub async fn stop_container(cri: &Cri, id: &str, grace_seconds: i64) -> Result<()> {
    match cri
        .runtime
        .clone()
        .stop_container(cri::StopContainerRequest {
            container_id: id.to_string(),
            timeout: grace_seconds.max(0),
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => Err(Error::cri("StopContainer", status)),
    }
}

/// Removes a container.
pub async fn remove_container(cri: &Cri, id: &str) -> Result<()> {
    match cri
        .runtime
        .clone()
        .remove_container(cri::RemoveContainerRequest {
            container_id: id.to_string(),
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => Err(Error::cri("RemoveContainer", status)),
    }
}

/// Stops a sandbox (and tears down its network).
pub async fn stop_sandbox(cri: &Cri, id: &str) -> Result<()> {
    match cri
        .runtime
        .clone()
        .stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => Err(Error::cri("StopPodSandbox", status)),
    }
}

/// Removes a sandbox and its containers.
pub async fn remove_sandbox(cri: &Cri, id: &str) -> Result<()> {
    match cri
        .runtime
        .clone()
        .remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(status) => Err(Error::cri("RemovePodSandbox", status)),
    }
}

/// Whether the image is present on the node.
pub async fn image_present(cri: &Cri, image: &str) -> Result<bool> {
    let response = cri
        .images
        .clone()
        .image_status(cri::ImageStatusRequest {
            image: Some(cri::ImageSpec {
                image: image.to_string(),
                ..cri::ImageSpec::default()
            }),
            verbose: false,
        })
        .await
        .map_err(|status| Error::cri("ImageStatus", status))?
        .into_inner();
    Ok(response.image.is_some())
}

/// Pulls an image; the error is CRI's message.
pub async fn pull_image(
    cri: &Cri,
    image: &str,
    auth: Option<cri::AuthConfig>,
) -> Result<(), String> {
    cri.images
        .clone()
        .pull_image(cri::PullImageRequest {
            image: Some(cri::ImageSpec {
                image: image.to_string(),
                ..cri::ImageSpec::default()
            }),
            auth,
            sandbox_config: None,
        })
        .await
        .map(|_| ())
        .map_err(|status| status.message().to_string())
}
