//! The labels and annotations the kubelet puts on CRI sandboxes and containers, as upstream names them;
//! they are how a restarted agent finds the pods' sandboxes and containers again.

/// Pod name label.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Pod namespace label.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Pod UID label.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Container name label.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Marks containers started by this agent.
pub const MANAGED_BY: &str = "io.kubers.managed";
/// Annotation: the container's termination-message file on the node.
pub const TERMINATION_MESSAGE_FILE: &str = "io.kubers.termination-message-file";
/// Annotation: whether the container is an init container.
pub const INIT_CONTAINER: &str = "io.kubers.init-container";
