//! PersistentVolumes and their claims as upstream's storage helpers see them: the annotations the
//! binding protocol writes, classes (with the beta annotation), access and volume modes, node
//! affinity, and `FindMatchingVolume`, the one matching rule the PersistentVolume controller and
//! the scheduler's VolumeBinding plugin share. Pure functions over the API types.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k8s_openapi::api::core::v1::{
    NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::quantity::Quantity;

/// Set on a claim once the controller bound it (`yes`).
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on a volume or claim whose binding the controller (not the user) made (`yes`).
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The node the scheduler chose for a claim of a `WaitForFirstConsumer` class.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner expected to provision a claim.
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The beta form of [`ANN_STORAGE_PROVISIONER`], still written for old provisioners.
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// The provisioner that made a volume.
pub const ANN_DYNAMICALLY_PROVISIONED: &str = "pv.kubernetes.io/provisioned-by";
/// The beta annotation that names a class before `storageClassName` existed.
pub const ANN_BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// Marks the default StorageClass.
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The beta form of [`ANN_DEFAULT_CLASS`].
pub const ANN_BETA_DEFAULT_CLASS: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The label local volumes pin their node with.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// The finalizer that keeps a claim while a scheduled pod uses it (`StorageObjectInUseProtection`).
pub const PVC_PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// The finalizer that keeps a volume while it is bound (`StorageObjectInUseProtection`).
pub const PV_PROTECTION_FINALIZER: &str = "kubernetes.io/pv-protection";

fn annotation<'a>(annotations: Option<&'a BTreeMap<String, String>>, key: &str) -> Option<&'a str> {
    annotations?.get(key).map(String::as_str)
}

/// The class a claim asks for: the beta annotation, else `spec.storageClassName`, else none (upstream's
/// `GetPersistentVolumeClaimClass`).
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(class) = annotation(claim.metadata.annotations.as_ref(), ANN_BETA_STORAGE_CLASS) {
        return class;
    }
    claim
        .spec
        .as_ref()
        .and_then(|spec| spec.storage_class_name.as_deref())
        .unwrap_or("")
}

/// Whether a claim names a class at all, even the empty one (upstream's
/// `PersistentVolumeClaimHasClass`): only claims that do not are given the default class.
pub fn claim_has_class(claim: &PersistentVolumeClaim) -> bool {
    annotation(claim.metadata.annotations.as_ref(), ANN_BETA_STORAGE_CLASS).is_some()
        || claim
            .spec
            .as_ref()
            .is_some_and(|spec| spec.storage_class_name.is_some())
}

/// The class of a volume, as [`claim_class`].
pub fn volume_class(volume: &PersistentVolume) -> &str {
    if let Some(class) = annotation(volume.metadata.annotations.as_ref(), ANN_BETA_STORAGE_CLASS) {
        return class;
    }
    volume
        .spec
        .as_ref()
        .and_then(|spec| spec.storage_class_name.as_deref())
        .unwrap_or("")
}

/// Bytes of the `storage` entry of a resource list (0 when absent or unparsable).
pub fn storage_bytes(list: Option<&BTreeMap<String, ApiQuantity>>) -> i128 {
    list.and_then(|list| list.get("storage"))
        .and_then(|quantity| Quantity::parse(&quantity.0))
        .map_or(0, |quantity| quantity.value())
}

/// The storage a claim requests.
pub fn claim_request(claim: &PersistentVolumeClaim) -> i128 {
    storage_bytes(
        claim
            .spec
            .as_ref()
            .and_then(|spec| spec.resources.as_ref())
            .and_then(|resources| resources.requests.as_ref()),
    )
}

/// The capacity of a volume.
pub fn volume_capacity(volume: &PersistentVolume) -> i128 {
    storage_bytes(volume.spec.as_ref().and_then(|spec| spec.capacity.as_ref()))
}

/// The volume a claim is bound to (or asks for), if any.
pub fn claim_volume_name(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_name.as_deref())
        .filter(|name| !name.is_empty())
}

/// The phase of a volume (`Pending` when unset).
pub fn volume_phase(volume: &PersistentVolume) -> &str {
    volume
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or("Pending")
}

/// The reclaim policy of a volume (`Retain` when unset, upstream's default for static volumes).
pub fn reclaim_policy(volume: &PersistentVolume) -> &str {
    volume
        .spec
        .as_ref()
        .and_then(|spec| spec.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain")
}

/// Whether the volume's `claimRef` names the claim (and, when it carries a uid, this very claim:
/// upstream's `IsVolumeBoundToClaim`).
pub fn is_bound_to_claim(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(reference) = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.claim_ref.as_ref())
    else {
        return false;
    };
    if reference.name.as_deref() != claim.metadata.name.as_deref()
        || reference.namespace.as_deref().unwrap_or("")
            != claim.metadata.namespace.as_deref().unwrap_or("")
    {
        return false;
    }
    match reference.uid.as_deref().filter(|uid| !uid.is_empty()) {
        Some(uid) => claim.metadata.uid.as_deref() == Some(uid),
        None => true,
    }
}

/// Whether a claim's and a volume's `volumeMode` differ (both default to `Filesystem`).
pub fn volume_mode_mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let claim_mode = claim
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_mode.as_deref())
        .unwrap_or("Filesystem");
    let volume_mode = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_mode.as_deref())
        .unwrap_or("Filesystem");
    claim_mode != volume_mode
}

fn claim_modes(claim: &PersistentVolumeClaim) -> BTreeSet<&str> {
    claim
        .spec
        .as_ref()
        .and_then(|spec| spec.access_modes.as_ref())
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn volume_modes(volume: &PersistentVolume) -> BTreeSet<&str> {
    volume
        .spec
        .as_ref()
        .and_then(|spec| spec.access_modes.as_ref())
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

/// Whether the volume offers every access mode the claim asks for (upstream's `CheckAccessModes`).
pub fn access_modes_satisfied(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    claim_modes(claim).is_subset(&volume_modes(volume))
}

/// Whether the volume's node affinity admits a node with these labels (upstream's
/// `CheckNodeAffinity`; a volume without affinity fits every node).
pub fn node_affinity_matches(
    volume: &PersistentVolume,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let Some(required) = volume
        .spec
        .as_ref()
        .and_then(|spec| spec.node_affinity.as_ref())
        .and_then(|affinity| affinity.required.as_ref())
    else {
        return true;
    };
    required
        .node_selector_terms
        .iter()
        .any(|term| term_matches(term, node, labels))
}

/// Whether one node selector term (expressions and fields ANDed; an empty term matches nothing)
/// admits the node.
pub fn term_matches(
    term: &NodeSelectorTerm,
    node: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    expressions
        .iter()
        .all(|requirement| requirement_matches(requirement, labels.get(&requirement.key)))
        && fields.iter().all(|requirement| {
            requirement.key == "metadata.name"
                && requirement_matches(requirement, Some(&node.to_owned()))
        })
}

fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    let number = |text: &str| text.parse::<i64>().ok();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|value| values.contains(value)),
        "NotIn" => value.is_none_or(|value| !values.contains(value)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(actual), Some(bound)) = (
                value.and_then(|value| number(value)),
                values.first().and_then(|bound| number(bound)),
            ) else {
                return false;
            };
            if requirement.operator == "Gt" {
                actual > bound
            } else {
                actual < bound
            }
        }
        _ => false,
    }
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) matches `labels`.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let plain = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    plain
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|expression| {
                let value = labels.get(&expression.key);
                let values = expression.values.as_deref().unwrap_or_default();
                match expression.operator.as_str() {
                    "In" => value.is_some_and(|value| values.contains(value)),
                    "NotIn" => value.is_none_or(|value| !values.contains(value)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
}

/// The node a scheduler looks at when matching volumes for a pod.
#[derive(Debug, Clone, Copy)]
pub struct CandidateNode<'a> {
    /// The node's name.
    pub name: &'a str,
    /// Its labels.
    pub labels: &'a BTreeMap<String, String>,
}

/// Upstream's `FindMatchingVolume`: the volume pre-bound to the claim if there is one (`None` when it
/// does not fit the node), else the smallest Available volume of the claim's class that is large
/// enough, has the same volume mode, matches the claim's selector and (when a node is given) admits
/// the node and offers the access modes. Without a node, claims of delayed-binding classes only
/// match pre-bound volumes: the scheduler binds the others.
pub fn find_matching_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &[&'a PersistentVolume],
    node: Option<CandidateNode<'_>>,
    excluded: &HashSet<String>,
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let requested = claim_request(claim);
    let class = claim_class(claim);
    let selector = claim.spec.as_ref().and_then(|spec| spec.selector.as_ref());
    let mut smallest: Option<(&PersistentVolume, i128)> = None;
    for &volume in volumes {
        let name = volume.metadata.name.as_deref().unwrap_or("");
        if excluded.contains(name) {
            continue;
        }
        let reference = volume
            .spec
            .as_ref()
            .and_then(|spec| spec.claim_ref.as_ref());
        let bound_here = is_bound_to_claim(volume, claim);
        if reference.is_some() && !bound_here {
            continue;
        }
        let capacity = volume_capacity(volume);
        if capacity < requested
            || volume_mode_mismatch(claim, volume)
            || volume.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let fits_node =
            node.is_none_or(|node| node_affinity_matches(volume, node.name, node.labels));
        if bound_here {
            return fits_node.then_some(volume);
        }
        if node.is_none() && delay_binding {
            continue;
        }
        if volume_phase(volume) != "Available"
            || selector.is_some_and(|selector| {
                !label_selector_matches(selector, volume.metadata.labels.as_ref())
            })
            || volume_class(volume) != class
            || !fits_node
            || (node.is_some() && !access_modes_satisfied(claim, volume))
        {
            continue;
        }
        if smallest.is_none_or(|(_, size)| size > capacity) {
            smallest = Some((volume, capacity));
        }
    }
    smallest.map(|(volume, _)| volume)
}

/// The PersistentVolume controller's choice for an unbound claim (upstream's `findBestMatchForClaim`
/// over its access-mode index): volumes are grouped by their set of access modes; among the groups
/// that offer every mode the claim asks for, those with fewer modes are searched first.
pub fn find_best_match_for_claim<'a>(
    claim: &PersistentVolumeClaim,
    volumes: &[&'a PersistentVolume],
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let wanted = claim_modes(claim);
    let mut groups: BTreeMap<(usize, BTreeSet<&str>), Vec<&'a PersistentVolume>> = BTreeMap::new();
    for &volume in volumes {
        let modes = volume_modes(volume);
        if wanted.is_subset(&modes) {
            groups.entry((modes.len(), modes)).or_default().push(volume);
        }
    }
    groups
        .values()
        .find_map(|group| find_matching_volume(claim, group, None, &HashSet::new(), delay_binding))
}

/// Why a volume the claim names in `spec.volumeName` cannot be bound to it (upstream's
/// `checkVolumeSatisfyClaim`), worded like upstream.
pub fn check_volume_satisfies_claim(
    volume: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> Result<(), String> {
    if volume.metadata.deletion_timestamp.is_some() {
        return Err(format!(
            "the volume is marked for deletion {:?}",
            volume.metadata.name.as_deref().unwrap_or("")
        ));
    }
    if volume_capacity(volume) < claim_request(claim) {
        return Err("requested PV is too small".into());
    }
    if volume_class(volume) != claim_class(claim) {
        return Err("storageClassName does not match".into());
    }
    if volume_mode_mismatch(claim, volume) {
        return Err("incompatible volumeMode".into());
    }
    if !access_modes_satisfied(claim, volume) {
        return Err("incompatible accessMode".into());
    }
    Ok(())
}

/// Whether a StorageClass is marked default (either annotation `"true"`).
pub fn is_default_class(class: &StorageClass) -> bool {
    [ANN_DEFAULT_CLASS, ANN_BETA_DEFAULT_CLASS]
        .iter()
        .any(|key| annotation(class.metadata.annotations.as_ref(), key) == Some("true"))
}

/// The default StorageClass: of several, the newest, then the first by name (upstream's
/// `GetDefaultClass`).
pub fn default_class<'a>(
    classes: impl IntoIterator<Item = &'a StorageClass>,
) -> Option<&'a StorageClass> {
    classes
        .into_iter()
        .filter(|class| is_default_class(class))
        .min_by(|a, b| {
            let created = |class: &StorageClass| {
                class
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|time| time.0)
            };
            created(b)
                .cmp(&created(a))
                .then_with(|| a.metadata.name.cmp(&b.metadata.name))
        })
}

/// Whether a class delays binding until a pod uses the claim (`WaitForFirstConsumer`).
pub fn is_delay_binding(class: &StorageClass) -> bool {
    class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer")
}

#[cfg(test)]
mod tests;
