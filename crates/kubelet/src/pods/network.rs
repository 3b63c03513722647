//! The pod network gate: a pod that is not host-network gets no sandbox until the runtime reports
//! its network ready (containerd has loaded the node's CNI configuration), as upstream's kubelet
//! holds such pods with a `NetworkNotReady` warning while host-network pods run at once.

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::Pod;

use crate::cri::Cri;

/// Upstream's `NetworkNotReadyErrorMsg`, the start of the event message.
pub const NOT_READY: &str = "network is not ready";
/// The runtime condition naming the pod network's state.
const NETWORK_READY: &str = "NetworkReady";

/// Whether the pod shares the node's network namespace.
pub fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|spec| spec.host_network)
        .unwrap_or(false)
}

/// Upstream's message when the runtime's network is not ready (`network is not ready: container
/// runtime network not ready: NetworkReady=false reason:... message:...`), or `None` when it is.
/// A runtime that cannot be asked counts as ready here: creating the sandbox then reports why.
pub async fn not_ready(cri: &Cri) -> Option<String> {
    match cri
        .runtime
        .clone()
        .status(cri::StatusRequest { verbose: false })
        .await
    {
        Ok(response) => not_ready_message(response.into_inner().status.as_ref()),
        Err(status) => {
            tracing::debug!(error = %status.message(), "reading the runtime status failed");
            None
        }
    }
}

/// The message for a runtime status, `None` when its `NetworkReady` condition is true.
fn not_ready_message(status: Option<&cri::RuntimeStatus>) -> Option<String> {
    let condition = status.and_then(|status| {
        status
            .conditions
            .iter()
            .find(|condition| condition.r#type == NETWORK_READY)
    });
    let described = match condition {
        Some(condition) if condition.status => return None,
        // Go's `RuntimeCondition.String()`.
        Some(condition) => format!(
            "{}={} reason:{} message:{}",
            condition.r#type, condition.status, condition.reason, condition.message
        ),
        None => "<nil>".to_string(),
    };
    Some(format!(
        "{NOT_READY}: container runtime network not ready: {described}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(ready: bool) -> cri::RuntimeStatus {
        cri::RuntimeStatus {
            conditions: vec![
                cri::RuntimeCondition {
                    r#type: "RuntimeReady".to_string(),
                    status: true,
                    ..cri::RuntimeCondition::default()
                },
                cri::RuntimeCondition {
                    r#type: NETWORK_READY.to_string(),
                    status: ready,
                    reason: if ready { "" } else { "NetworkPluginNotReady" }.to_string(),
                    message: if ready {
                        ""
                    } else {
                        "Network plugin returns error: cni plugin not initialized"
                    }
                    .to_string(),
                },
            ],
        }
    }

    #[test]
    fn a_ready_network_lets_pods_through() {
        assert_eq!(not_ready_message(Some(&status(true))), None);
    }

    #[test]
    fn a_network_that_is_not_ready_is_described_as_upstream_does() {
        assert_eq!(
            not_ready_message(Some(&status(false))).as_deref(),
            Some(
                "network is not ready: container runtime network not ready: NetworkReady=false \
                 reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin \
                 not initialized"
            )
        );
        assert_eq!(
            not_ready_message(None).as_deref(),
            Some("network is not ready: container runtime network not ready: <nil>")
        );
    }
}
