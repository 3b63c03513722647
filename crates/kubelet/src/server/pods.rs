//! Finding what a request names: the pod (bound to this node, read from the API server, whose
//! status the pod workers keep current), its running containers and ready sandbox (from CRI).

use std::collections::HashMap;

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;

use super::http::Failure;
use crate::pods::{NodeContext, labels, runtime};

/// The pod `namespace/name` if it is bound to this node; upstream's "pod does not exist" (404)
/// otherwise, with `missing` as the message.
pub async fn find(
    context: &NodeContext,
    namespace: &str,
    name: &str,
    missing: &str,
) -> Result<Pod, Failure> {
    let pods: Api<Pod> = Api::namespaced(context.client.clone(), namespace);
    let pod = pods
        .get_opt(name)
        .await
        .map_err(|error| Failure::internal(format!("reading pod {namespace}/{name}: {error}")))?;
    match pod {
        Some(pod)
            if pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref())
                == Some(context.config.node_name.as_str()) =>
        {
            Ok(pod)
        }
        _ => Err(Failure::not_found(missing)),
    }
}

/// The pod's UID.
pub fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

/// Whether the pod's spec has a container (app, init or ephemeral) called `name`.
pub fn has_container(pod: &Pod, name: &str) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    spec.containers
        .iter()
        .any(|container| container.name == name)
        || spec
            .init_containers
            .iter()
            .flatten()
            .any(|container| container.name == name)
        || spec
            .ephemeral_containers
            .iter()
            .flatten()
            .any(|container| container.name == name)
}

/// The CRI id of the running instance of container `name` of the pod with `uid`.
pub async fn running_container(
    context: &NodeContext,
    uid: &str,
    name: &str,
) -> Result<Option<String>, Failure> {
    let filter = cri::ContainerFilter {
        state: Some(cri::ContainerStateValue {
            state: cri::ContainerState::ContainerRunning as i32,
        }),
        label_selector: HashMap::from([
            (labels::POD_UID.to_string(), uid.to_string()),
            (labels::CONTAINER_NAME.to_string(), name.to_string()),
        ]),
        ..cri::ContainerFilter::default()
    };
    let containers = context
        .cri
        .runtime
        .clone()
        .list_containers(cri::ListContainersRequest {
            filter: Some(filter),
        })
        .await
        .map_err(|status| Failure::internal(format!("ListContainers: {}", status.message())))?
        .into_inner()
        .containers;
    Ok(containers
        .into_iter()
        .max_by_key(|container| container.created_at)
        .map(|container| container.id))
}

/// The ready sandbox of the pod with `uid`.
pub async fn ready_sandbox(context: &NodeContext, uid: &str) -> Result<Option<String>, Failure> {
    let sandboxes = runtime::sandboxes(&context.cri, uid)
        .await
        .map_err(|error| Failure::internal(error.to_string()))?;
    Ok(sandboxes
        .into_iter()
        .find(|sandbox| sandbox.state == cri::PodSandboxState::SandboxReady as i32)
        .map(|sandbox| sandbox.id))
}

/// The CRI state of container `id`, or `None` when the runtime no longer knows it.
pub async fn container_status(
    context: &NodeContext,
    id: &str,
) -> Result<Option<cri::ContainerStatus>, tonic::Status> {
    let response = context
        .cri
        .runtime
        .clone()
        .container_status(cri::ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        })
        .await;
    match response {
        Ok(response) => Ok(response.into_inner().status),
        Err(status) if status.code() == tonic::Code::NotFound => Ok(None),
        Err(status) => Err(status),
    }
}
