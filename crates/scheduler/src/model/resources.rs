//! Compute resources as the scheduler counts them: millicores, bytes, pod slots and scalar (extended,
//! hugepages) resources, and a pod's requests computed like upstream's `resourcehelper.PodRequests`
//! (containers summed, init containers as a maximum with restartable sidecars accumulated, pod-level
//! requests, overhead).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kubers_core::quantity::Quantity as Parsed;

/// The CPU request the scorers assume for a container that requests none (upstream's
/// `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory request the scorers assume for a container that requests none (200 MiB, upstream's
/// `DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A resource list reduced to integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Pod slots (`pods`), meaningful for node allocatable only.
    pub pods: i64,
    /// Scalar resources (extended resources such as `example.com/gpu`, `hugepages-*`), by name.
    pub scalars: BTreeMap<String, i64>,
}

impl Resources {
    /// Reads a resource list; values that are not quantities count as zero.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Resources {
        let mut resources = Resources::default();
        for (name, quantity) in list {
            resources.set(name, quantity, |_, new| new);
        }
        resources
    }

    /// Whether nothing is requested (`pods` is not a request).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalars.values().all(|value| *value == 0)
    }

    /// Adds `other` to these resources.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (name, value) in &other.scalars {
            *self.scalars.entry(name.clone()).or_default() += value;
        }
    }

    /// Subtracts `other` from these resources.
    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.pods -= other.pods;
        for (name, value) in &other.scalars {
            *self.scalars.entry(name.clone()).or_default() -= value;
        }
    }

    /// Raises every resource to at least `other`'s value.
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, value) in &other.scalars {
            let entry = self.scalars.entry(name.clone()).or_default();
            *entry = (*entry).max(*value);
        }
    }

    /// A scalar resource's value (zero when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalars.get(name).copied().unwrap_or(0)
    }

    fn set(&mut self, name: &str, quantity: &Quantity, combine: impl Fn(i64, i64) -> i64) {
        let Some(parsed) = Parsed::parse(&quantity.0) else {
            return;
        };
        let clamp = |value: i128| value.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        match name {
            "cpu" => self.milli_cpu = combine(self.milli_cpu, clamp(parsed.milli_value())),
            "memory" => self.memory = combine(self.memory, clamp(parsed.value())),
            "ephemeral-storage" => {
                self.ephemeral_storage = combine(self.ephemeral_storage, clamp(parsed.value()))
            }
            "pods" => self.pods = combine(self.pods, clamp(parsed.value())),
            other if is_scalar_resource(other) => {
                let entry = self.scalars.entry(other.to_owned()).or_default();
                *entry = combine(*entry, clamp(parsed.value()));
            }
            _ => {}
        }
    }
}

/// Whether the scheduler accounts for `name` as a scalar resource: extended resources (a domain
/// prefix outside `kubernetes.io/`), prefixed native resources, hugepages and attachable volumes.
pub fn is_scalar_resource(name: &str) -> bool {
    name.contains('/') || name.starts_with("hugepages-") || name.starts_with("attachable-volumes-")
}

/// A pod's requests: what `NodeResourcesFit` filters on (`non_zero` false) or what the
/// `LeastAllocated` scorer counts (`non_zero` true: a container without a CPU or memory request
/// counts 100m and 200 MiB).
pub fn pod_requests(spec: &PodSpec, non_zero: bool) -> Resources {
    let mut total = Resources::default();
    for container in &spec.containers {
        total.add(&container_requests(container, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let requests = container_requests(container, non_zero);
        let effective = if container.restart_policy.as_deref() == Some("Always") {
            total.add(&requests);
            sidecars.add(&requests);
            sidecars.clone()
        } else {
            let mut with_sidecars = requests;
            with_sidecars.add(&sidecars);
            with_sidecars
        };
        init_max.max_with(&effective);
    }
    total.max_with(&init_max);
    if let Some(pod_level) = spec
        .resources
        .as_ref()
        .and_then(|resources| resources.requests.as_ref())
    {
        for (name, quantity) in pod_level {
            if name == "cpu" || name == "memory" || name.starts_with("hugepages-") {
                total.set(name, quantity, |_, new| new);
            }
        }
    }
    if let Some(overhead) = &spec.overhead {
        total.add(&Resources::from_list(overhead));
    }
    total.pods = 0;
    total
}

fn container_requests(container: &Container, non_zero: bool) -> Resources {
    let requests = container
        .resources
        .as_ref()
        .and_then(|resources| resources.requests.as_ref());
    let mut resources = requests.map(Resources::from_list).unwrap_or_default();
    if non_zero {
        let has = |name: &str| requests.is_some_and(|list| list.contains_key(name));
        if !has("cpu") {
            resources.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has("memory") {
            resources.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    resources.pods = 0;
    resources
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;

    fn container(cpu: Option<&str>, memory: Option<&str>) -> Container {
        let mut requests = BTreeMap::new();
        if let Some(cpu) = cpu {
            requests.insert("cpu".to_string(), Quantity(cpu.to_string()));
        }
        if let Some(memory) = memory {
            requests.insert("memory".to_string(), Quantity(memory.to_string()));
        }
        Container {
            name: "c".into(),
            resources: Some(ResourceRequirements {
                requests: Some(requests),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn sidecar(cpu: &str) -> Container {
        Container {
            restart_policy: Some("Always".into()),
            ..container(Some(cpu), None)
        }
    }

    #[test]
    fn containers_sum_and_init_containers_take_the_maximum() {
        // Upstream's example: init 2/1G and 2/3G, containers 2/1G and 1/1G give 3 CPU and 3G.
        let spec = PodSpec {
            init_containers: Some(vec![
                container(Some("2"), Some("1G")),
                container(Some("2"), Some("3G")),
            ]),
            containers: vec![
                container(Some("2"), Some("1G")),
                container(Some("1"), Some("1G")),
            ],
            ..Default::default()
        };
        let requests = pod_requests(&spec, false);
        assert_eq!(requests.milli_cpu, 3000);
        assert_eq!(requests.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_add_to_containers_and_to_later_init_containers() {
        let spec = PodSpec {
            init_containers: Some(vec![sidecar("500m"), container(Some("1"), None)]),
            containers: vec![container(Some("200m"), None)],
            ..Default::default()
        };
        // Running: 200m + 500m sidecar = 700m; the second init container runs beside the sidecar:
        // 1000m + 500m = 1500m.
        assert_eq!(pod_requests(&spec, false).milli_cpu, 1500);
    }

    #[test]
    fn overhead_and_pod_level_requests() {
        let spec = PodSpec {
            containers: vec![container(Some("100m"), Some("64Mi"))],
            overhead: Some(BTreeMap::from([(
                "cpu".to_string(),
                Quantity("250m".into()),
            )])),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "memory".to_string(),
                    Quantity("1Gi".into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let requests = pod_requests(&spec, false);
        assert_eq!(requests.milli_cpu, 350);
        assert_eq!(requests.memory, 1 << 30);
    }

    #[test]
    fn non_zero_requests_fill_missing_cpu_and_memory_only() {
        let spec = PodSpec {
            containers: vec![container(None, None), container(Some("0"), Some("1Mi"))],
            ..Default::default()
        };
        let requests = pod_requests(&spec, true);
        assert_eq!(requests.milli_cpu, 100, "an explicit zero stays zero");
        assert_eq!(requests.memory, DEFAULT_MEMORY_REQUEST + (1 << 20));
        assert!(pod_requests(&spec, false).milli_cpu == 0);
    }

    #[test]
    fn scalar_resources() {
        let list = BTreeMap::from([
            ("example.com/gpu".to_string(), Quantity("2".into())),
            ("hugepages-2Mi".to_string(), Quantity("4Mi".into())),
            ("pods".to_string(), Quantity("110".into())),
            ("unknown".to_string(), Quantity("5".into())),
        ]);
        let resources = Resources::from_list(&list);
        assert_eq!(resources.scalar("example.com/gpu"), 2);
        assert_eq!(resources.scalar("hugepages-2Mi"), 4 << 20);
        assert_eq!(resources.pods, 110);
        assert_eq!(resources.scalars.len(), 2);
    }
}
