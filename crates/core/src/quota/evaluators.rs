//! What an object consumes, as upstream's quota evaluators measure it: pods (`pods`, `count/pods`,
//! `cpu`/`memory`/`ephemeral-storage` requests and limits, hugepages, extended requests; finished
//! pods only count as objects; scopes), services (`services`, `services.loadbalancers`,
//! `services.nodeports`), PersistentVolumeClaims (`persistentvolumeclaims`, `requests.storage`, per
//! class), and an object count for everything else (`count/<resource>.<group>`, with the legacy
//! names `configmaps`, `secrets`, `replicationcontrollers`, `resourcequotas`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Amount, ResourceList, ScopeSelector, add};

/// The suffix of per-class claim resources (`gold.storageclass.storage.k8s.io/requests.storage`).
const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// Compute resources a quota on cpu or memory requires every container to declare (upstream's
/// `validationSet`, kept for compatibility).
const VALIDATION_SET: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// How one kind of object is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluator {
    /// Pods.
    Pods,
    /// Services.
    Services,
    /// PersistentVolumeClaims.
    Claims,
    /// Any other resource: one per object.
    Count {
        /// `count/<resource>[.<group>]`.
        name: String,
        /// The legacy name of some core resources.
        alias: Option<&'static str>,
    },
}

/// `count/<resource>` for the core group, `count/<resource>.<group>` otherwise.
pub fn object_count_name(group: &str, resource: &str) -> String {
    if group.is_empty() {
        format!("count/{resource}")
    } else {
        format!("count/{resource}.{group}")
    }
}

fn has_prefix_resource(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("requests.hugepages-")
}

/// Whether a resource name is a native one (no domain, or a `kubernetes.io` domain).
fn is_native(name: &str) -> bool {
    match name.split_once('/') {
        None => true,
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
    }
}

impl Evaluator {
    /// The evaluator of a resource.
    pub fn for_resource(group: &str, resource: &str) -> Evaluator {
        match (group, resource) {
            ("", "pods") => Evaluator::Pods,
            ("", "services") => Evaluator::Services,
            ("", "persistentvolumeclaims") => Evaluator::Claims,
            _ => Evaluator::Count {
                name: object_count_name(group, resource),
                alias: match (group, resource) {
                    ("", "configmaps") => Some("configmaps"),
                    ("", "secrets") => Some("secrets"),
                    ("", "replicationcontrollers") => Some("replicationcontrollers"),
                    ("", "resourcequotas") => Some("resourcequotas"),
                    _ => None,
                },
            },
        }
    }

    /// The resource names among `names` this evaluator accounts for.
    pub fn matching_resources<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        names
            .into_iter()
            .filter(|name| self.matches_resource(name))
            .map(str::to_owned)
            .collect()
    }

    fn matches_resource(&self, name: &str) -> bool {
        match self {
            Evaluator::Pods => {
                matches!(
                    name,
                    "count/pods"
                        | "cpu"
                        | "memory"
                        | "ephemeral-storage"
                        | "requests.cpu"
                        | "requests.memory"
                        | "requests.ephemeral-storage"
                        | "limits.cpu"
                        | "limits.memory"
                        | "limits.ephemeral-storage"
                        | "pods"
                ) || has_prefix_resource(name)
                    || (name.starts_with("requests.")
                        && !is_native(name.trim_start_matches("requests.")))
            }
            Evaluator::Services => matches!(
                name,
                "count/services" | "services" | "services.loadbalancers" | "services.nodeports"
            ),
            Evaluator::Claims => {
                matches!(
                    name,
                    "count/persistentvolumeclaims" | "persistentvolumeclaims" | "requests.storage"
                ) || ["persistentvolumeclaims", "requests.storage"]
                    .iter()
                    .any(|resource| name.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{resource}")))
            }
            Evaluator::Count { name: count, alias } => {
                name == count || alias.is_some_and(|alias| alias == name)
            }
        }
    }

    /// Whether an update can change what the object consumes (creates always can).
    pub fn handles_update(&self, object: &Value, old: Option<&Value>) -> bool {
        match self {
            // Only a change of the terminating scope matters for pods.
            Evaluator::Pods => old.is_some_and(|old| terminating(old) != terminating(object)),
            Evaluator::Services | Evaluator::Claims => true,
            Evaluator::Count { .. } => false,
        }
    }

    /// What the object consumes.
    pub fn usage(&self, object: &Value) -> ResourceList {
        match self {
            Evaluator::Pods => pod_usage(object),
            Evaluator::Services => service_usage(object),
            Evaluator::Claims => claim_usage(object),
            Evaluator::Count { name, alias } => {
                let mut usage = ResourceList::new();
                usage.insert(name.clone(), Amount::units(1));
                if let Some(alias) = alias {
                    usage.insert((*alias).to_owned(), Amount::units(1));
                }
                usage
            }
        }
    }

    /// Whether the object is one the scopes restrict the quota to (without scopes: every object);
    /// only pods have scopes.
    pub fn matches_scopes(&self, scopes: &[ScopeSelector], object: &Value) -> bool {
        scopes.iter().all(|scope| match self {
            Evaluator::Pods => pod_matches_scope(scope, object),
            _ => false,
        })
    }

    /// Upstream's `Constraints`: a pod must declare every cpu and memory resource the quota tracks,
    /// in every container; the message names them (`must specify limits.cpu for: c1,c2; ...`).
    pub fn constraints(&self, required: &[String], object: &Value) -> Result<(), String> {
        if *self != Evaluator::Pods {
            return Ok(());
        }
        let spec = object.get("spec").unwrap_or(&Value::Null);
        if pod_level_resources_set(spec) {
            return Ok(());
        }
        let required: BTreeSet<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|name| VALIDATION_SET.contains(name))
            .collect();
        if required.is_empty() {
            return Ok(());
        }
        let mut missing: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
        for container in containers(spec, "containers").chain(containers(spec, "initContainers")) {
            let usage = compute_usage(
                &super::parse_list(container.pointer("/resources/requests")),
                &super::parse_list(container.pointer("/resources/limits")),
            );
            let name = container["name"].as_str().unwrap_or("").to_owned();
            for resource in &required {
                if !usage.contains_key(*resource) {
                    missing.entry(resource).or_default().insert(name.clone());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = missing
            .iter()
            .map(|(resource, names)| {
                format!(
                    "{resource} for: {}",
                    names.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        Err(format!("must specify {}", parts.join("; ")))
    }
}

fn containers<'a>(spec: &'a Value, list: &str) -> impl Iterator<Item = &'a Value> {
    spec.get(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn pod_level_resources_set(spec: &Value) -> bool {
    ["requests", "limits"].iter().any(|kind| {
        spec.pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .is_some_and(|list| !list.is_empty())
    })
}

/// Whether a pod has an active deadline (the `Terminating` scope).
pub fn terminating(pod: &Value) -> bool {
    pod.pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|seconds| seconds >= 0)
}

/// Whether a pod is BestEffort: no container requests or limits cpu or memory.
pub fn best_effort(pod: &Value) -> bool {
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    let declares = |list: Option<&Value>| {
        super::parse_list(list)
            .iter()
            .any(|(name, amount)| (name == "cpu" || name == "memory") && !amount.is_zero())
    };
    let pod_level = declares(spec.pointer("/resources/requests"))
        || declares(spec.pointer("/resources/limits"));
    !pod_level
        && containers(spec, "containers")
            .chain(containers(spec, "initContainers"))
            .all(|container| {
                !declares(container.pointer("/resources/requests"))
                    && !declares(container.pointer("/resources/limits"))
            })
}

fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let cross = |term: &Value| {
        term.get("namespaces")
            .and_then(Value::as_array)
            .is_some_and(|namespaces| !namespaces.is_empty())
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let affinity = pod.pointer(&format!("/spec/affinity/{kind}"));
        let required = affinity
            .and_then(|a| a.get("requiredDuringSchedulingIgnoredDuringExecution"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(cross);
        let preferred = affinity
            .and_then(|a| a.get("preferredDuringSchedulingIgnoredDuringExecution"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|weighted| weighted.get("podAffinityTerm"))
            .any(cross);
        required || preferred
    })
}

fn pod_matches_scope(scope: &ScopeSelector, pod: &Value) -> bool {
    match scope.scope.as_str() {
        "Terminating" => terminating(pod),
        "NotTerminating" => !terminating(pod),
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => {
            let class = pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str)
                .filter(|class| !class.is_empty());
            match scope.operator.as_str() {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(|class| scope.values.iter().any(|v| v == class)),
                "NotIn" => class.is_none_or(|class| !scope.values.iter().any(|v| v == class)),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    }
}

/// Whether quota still charges a pod's compute resources: not finished (upstream's `QuotaV1Pod`;
/// a pod past its deletion grace period is stuck on a lost node and is not charged either).
fn charged(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    let deletion = pod
        .pointer("/metadata/deletionTimestamp")
        .and_then(Value::as_str)
        .and_then(|time| chrono::DateTime::parse_from_rfc3339(time).ok());
    let grace = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    match (deletion, grace) {
        (Some(deletion), Some(grace)) => {
            chrono::Utc::now() <= deletion + chrono::Duration::seconds(grace)
        }
        _ => true,
    }
}

/// Upstream's `podComputeUsageHelper`.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("pods".into(), Amount::units(1));
    for resource in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(request) = requests.get(resource) {
            usage.insert(resource.into(), *request);
            usage.insert(format!("requests.{resource}"), *request);
        }
        if let Some(limit) = limits.get(resource) {
            usage.insert(format!("limits.{resource}"), *limit);
        }
    }
    for (name, request) in requests {
        if name.starts_with("hugepages-") {
            usage.insert(name.clone(), *request);
            usage.insert(format!("requests.{name}"), *request);
        } else if !is_native(name) {
            usage.insert(format!("requests.{name}"), *request);
        }
    }
    usage
}

fn max_into(target: &mut ResourceList, other: &ResourceList) {
    for (name, amount) in other {
        let current = target.get(name).copied().unwrap_or_default();
        target.insert(name.clone(), current.max(*amount));
    }
}

/// Upstream's `PodRequests`/`PodLimits` (`kind` is `requests` or `limits`): regular and sidecar
/// containers summed, init containers as a maximum, pod overhead, pod-level resources overriding.
fn pod_totals(spec: &Value, kind: &str) -> ResourceList {
    let pointer = format!("/resources/{kind}");
    let mut total = ResourceList::new();
    for container in containers(spec, "containers") {
        total = add(&total, &super::parse_list(container.pointer(&pointer)));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for container in containers(spec, "initContainers") {
        let own = super::parse_list(container.pointer(&pointer));
        if container["restartPolicy"] == "Always" {
            total = add(&total, &own);
            sidecars = add(&sidecars, &own);
            max_into(&mut init_max, &sidecars);
        } else {
            max_into(&mut init_max, &add(&own, &sidecars));
        }
    }
    max_into(&mut total, &init_max);
    let overhead = super::parse_list(spec.get("overhead"));
    for (name, amount) in overhead {
        if kind == "requests" || total.contains_key(&name) {
            let current = total.get(&name).copied().unwrap_or_default();
            total.insert(name, current.plus(amount));
        }
    }
    for (name, amount) in super::parse_list(spec.pointer(&pointer)) {
        if name == "cpu" || name == "memory" || name.starts_with("hugepages-") {
            total.insert(name, amount);
        }
    }
    total
}

fn pod_usage(pod: &Value) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("count/pods".into(), Amount::units(1));
    if !charged(pod) {
        return usage;
    }
    let spec = pod.get("spec").unwrap_or(&Value::Null);
    add(
        &usage,
        &compute_usage(&pod_totals(spec, "requests"), &pod_totals(spec, "limits")),
    )
}

fn service_usage(service: &Value) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("services".into(), Amount::units(1));
    usage.insert("count/services".into(), Amount::units(1));
    let ports = service
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ports = i64::try_from(ports).unwrap_or(i64::MAX);
    match service.pointer("/spec/type").and_then(Value::as_str) {
        Some("NodePort") => {
            usage.insert("services.nodeports".into(), Amount::units(ports));
        }
        Some("LoadBalancer") => {
            usage.insert("services.loadbalancers".into(), Amount::units(1));
            let allocates = service
                .pointer("/spec/allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            if allocates {
                usage.insert("services.nodeports".into(), Amount::units(ports));
            }
        }
        _ => {}
    }
    usage
}

fn claim_usage(claim: &Value) -> ResourceList {
    let mut usage = ResourceList::new();
    usage.insert("persistentvolumeclaims".into(), Amount::units(1));
    usage.insert("count/persistentvolumeclaims".into(), Amount::units(1));
    let class = claim
        .pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class")
        .or_else(|| claim.pointer("/spec/storageClassName"))
        .and_then(Value::as_str)
        .filter(|class| !class.is_empty());
    if let Some(class) = class {
        usage.insert(
            format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            Amount::units(1),
        );
    }
    let mut storage = claim
        .pointer("/spec/resources/requests/storage")
        .and_then(Value::as_str)
        .and_then(Amount::parse)
        .map(Amount::rounded_up);
    let allocated = claim
        .pointer("/status/allocatedResources/storage")
        .and_then(Value::as_str)
        .and_then(Amount::parse)
        .map(Amount::rounded_up);
    if let (Some(requested), Some(allocated)) = (storage, allocated)
        && allocated > requested
    {
        storage = Some(allocated);
    }
    if let Some(storage) = storage {
        usage.insert("requests.storage".into(), storage);
        if let Some(class) = class {
            usage.insert(
                format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"),
                storage,
            );
        }
    }
    usage
}
