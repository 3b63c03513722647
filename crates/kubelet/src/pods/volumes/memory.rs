//! The size of a memory-backed volume's tmpfs, as upstream computes it (SizeMemoryBackedVolumes):
//! node allocatable memory, lowered to the pod's memory limit when the pod has one, lowered to the
//! emptyDir's `sizeLimit` when that is smaller still.

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use kubers_core::quantity::Quantity;

/// The tmpfs size in bytes for a memory-backed volume of `pod` with `size_limit`.
pub fn tmpfs_size(node_allocatable: i128, pod: &Pod, size_limit: Option<&ApiQuantity>) -> i128 {
    let mut size = node_allocatable;
    if let Some(limit) = pod_memory_limit(pod) {
        if limit > 0 && limit <= size {
            size = limit;
        }
    }
    if let Some(limit) = size_limit.and_then(bytes) {
        if limit > 0 && limit <= size {
            size = limit;
        }
    }
    size
}

/// The memory limit of the pod's cgroup, as upstream's `ResourceConfigForPod` sets it: the pod-level
/// limit when given, otherwise the pod's effective limit when every app container declares one
/// (`None` when one of them does not: the pod cgroup is then unlimited).
pub fn pod_memory_limit(pod: &Pod) -> Option<i128> {
    let spec = pod.spec.as_ref()?;
    if let Some(limit) = spec
        .resources
        .as_ref()
        .and_then(|resources| resources.limits.as_ref())
        .and_then(|limits| limits.get("memory"))
        .and_then(bytes)
    {
        return Some(limit);
    }
    let declared = spec
        .containers
        .iter()
        .all(|container| container_limit(container) > 0);
    if !declared {
        return None;
    }
    let app: i128 = spec.containers.iter().map(container_limit).sum();
    // Sidecars (restartable init containers) run next to the app containers and next to every
    // later init container; a regular init container runs alone with the sidecars before it.
    let mut sidecars = 0;
    let mut init_peak = 0;
    for container in spec.init_containers.iter().flatten() {
        let limit = container_limit(container);
        if container.restart_policy.as_deref() == Some("Always") {
            sidecars += limit;
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(limit + sidecars);
        }
    }
    let overhead = spec
        .overhead
        .as_ref()
        .and_then(|overhead| overhead.get("memory"))
        .and_then(bytes)
        .unwrap_or(0);
    Some((app + sidecars).max(init_peak) + overhead)
}

fn container_limit(container: &Container) -> i128 {
    container
        .resources
        .as_ref()
        .and_then(|resources| resources.limits.as_ref())
        .and_then(|limits| limits.get("memory"))
        .and_then(bytes)
        .unwrap_or(0)
}

fn bytes(quantity: &ApiQuantity) -> Option<i128> {
    Quantity::parse(&quantity.0).map(|quantity| quantity.value())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI: i128 = 1 << 30;
    const MI: i128 = 1 << 20;

    fn pod(yaml: &str) -> Pod {
        serde_yaml::from_str(yaml).expect("a pod")
    }

    fn check(spec: &str, size_limit: Option<&str>, expected: i128) {
        let pod = pod(&format!("metadata: {{name: p}}\nspec:\n{spec}"));
        let limit = size_limit.map(|text| ApiQuantity(text.to_string()));
        assert_eq!(
            tmpfs_size(8 * GI, &pod, limit.as_ref()),
            expected,
            "spec:\n{spec}\nsizeLimit {size_limit:?}"
        );
    }

    #[test]
    fn without_limits_the_size_is_node_allocatable_or_the_size_limit() {
        let spec = "  containers: [{name: a}]";
        check(spec, None, 8 * GI);
        check(spec, Some("64Mi"), 64 * MI);
        // A size limit above allocatable does not raise the size.
        check(spec, Some("100Gi"), 8 * GI);
        check(spec, Some("0"), 8 * GI);
    }

    #[test]
    fn the_pod_limit_counts_only_when_every_app_container_declares_one() {
        let limited = "  containers:\n  - {name: a, resources: {limits: {memory: 100Mi}}}\n  - {name: b, resources: {limits: {memory: 28Mi}}}";
        check(limited, None, 128 * MI);
        check(limited, Some("64Mi"), 64 * MI);
        check(limited, Some("1Gi"), 128 * MI);
        let partly =
            "  containers:\n  - {name: a, resources: {limits: {memory: 100Mi}}}\n  - {name: b}";
        check(partly, None, 8 * GI);
        check(partly, Some("1Gi"), GI);
    }

    #[test]
    fn init_containers_sidecars_overhead_and_pod_level_limits() {
        let init = "  initContainers:\n  - {name: i, resources: {limits: {memory: 300Mi}}}\n  containers:\n  - {name: a, resources: {limits: {memory: 100Mi}}}";
        check(init, None, 300 * MI);
        let sidecar = "  initContainers:\n  - {name: s, restartPolicy: Always, resources: {limits: {memory: 50Mi}}}\n  containers:\n  - {name: a, resources: {limits: {memory: 100Mi}}}\n  overhead: {memory: 10Mi}";
        check(sidecar, None, 160 * MI);
        let pod_level = "  resources: {limits: {memory: 200Mi}}\n  containers: [{name: a}]";
        check(pod_level, None, 200 * MI);
    }
}
