//! The collector's workers, as upstream's `attemptToDeleteItem` and `attemptToOrphan`: they read the
//! live object (the graph may lag), classify its owner references (solid, dangling, waiting for
//! their dependents) and delete it, drop references, or remove a finalizer.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use serde_json::json;

use super::Collector;
use super::graph::{FOREGROUND, GraphEvent, Identity, ORPHAN};
use super::monitors::{Change, observed};
use crate::error::{Error, Result, is_conflict, is_not_found};

/// Attempts to remove a finalizer before giving up until the key's next retry.
const CONFLICT_RETRIES: usize = 5;

/// The API of the object `identity` names, with its real scope.
fn api(collector: &Collector, identity: &Identity) -> Result<Api<DynamicObject>> {
    let Some((resource, namespaced)) = collector.resource(&identity.api_version, &identity.kind)
    else {
        return Err(Error::Retry(format!(
            "unable to get REST mapping for {}/{}",
            identity.api_version, identity.kind
        )));
    };
    Ok(if *namespaced {
        Api::namespaced_with(collector.client.clone(), &identity.namespace, resource)
    } else {
        Api::all_with(collector.client.clone(), resource)
    })
}

/// The live object, if it still exists with the same uid.
async fn get(collector: &Collector, identity: &Identity) -> Result<Option<DynamicObject>> {
    let api = api(collector, identity)?;
    match api.get_opt(&identity.name).await {
        Ok(found) => {
            Ok(found.filter(|object| object.uid().as_deref() == Some(identity.uid.as_str())))
        }
        Err(source) => Err(Error::Api {
            action: format!("reading {} {}", identity.kind, identity.name),
            source,
        }),
    }
}

fn virtual_delete(collector: &Collector, identity: Identity) {
    let _ = collector
        .changes
        .send(Change::Graph(GraphEvent::VirtualDelete(identity)));
}

/// Checks one object: deletes it when it has no owner left, or drops references to owners that are
/// gone, or finishes a foreground deletion of it.
pub(super) async fn attempt_to_delete(collector: &Collector, uid: String) -> Result<()> {
    let Some(item) = collector.graph().node(&uid).cloned() else {
        return Ok(());
    };
    // Being deleted is a one-way trip: its dependents are handled when it is gone.
    if item.being_deleted && !item.deleting_dependents {
        return Ok(());
    }
    let Some(latest) = get(collector, &item.identity).await? else {
        virtual_delete(collector, item.identity);
        return Ok(());
    };
    if item.virtual_node {
        // It exists: observed now, even if its own watch has not told yet.
        let _ = collector
            .changes
            .send(Change::Graph(GraphEvent::Upsert(observed(
                &item.identity.api_version,
                &item.identity.kind,
                &latest,
            ))));
    }
    if item.deleting_dependents {
        return process_deleting_dependents(collector, &item.identity).await;
    }
    let owners = latest.owner_references().to_vec();
    if owners.is_empty() {
        return Ok(());
    }
    let classified = classify(collector, &item.identity, &owners).await?;
    if !classified.solid.is_empty() {
        if classified.dangling.is_empty() && classified.waiting.is_empty() {
            return Ok(());
        }
        let gone: Vec<String> = classified
            .dangling
            .iter()
            .chain(&classified.waiting)
            .map(|owner| owner.uid.clone())
            .collect();
        return remove_owner_references(collector, &item.identity, &gone).await;
    }
    let has_dependents = !collector.graph().dependents(&uid).is_empty();
    if !classified.waiting.is_empty() && has_dependents {
        let cycle = collector
            .graph()
            .dependents(&uid)
            .iter()
            .any(|dependent| dependent.deleting_dependents);
        if cycle {
            unblock_owner_references(collector, &item.identity).await?;
        }
        return delete(collector, &item.identity, PropagationPolicy::Foreground).await;
    }
    let finalizers = latest.finalizers();
    let policy = if finalizers.iter().any(|f| f == ORPHAN) {
        PropagationPolicy::Orphan
    } else if finalizers.iter().any(|f| f == FOREGROUND) {
        PropagationPolicy::Foreground
    } else {
        PropagationPolicy::Background
    };
    delete(collector, &item.identity, policy).await
}

/// The owners of an object by state.
#[derive(Default)]
struct Classified {
    /// Owners that exist and are not waiting for their dependents.
    solid: Vec<OwnerReference>,
    /// Owners that are gone.
    dangling: Vec<OwnerReference>,
    /// Owners being deleted in the foreground.
    waiting: Vec<OwnerReference>,
}

async fn classify(
    collector: &Collector,
    item: &Identity,
    owners: &[OwnerReference],
) -> Result<Classified> {
    let mut classified = Classified::default();
    for reference in owners {
        if collector.graph().is_absent(&item.namespace, &reference.uid) {
            classified.dangling.push(reference.clone());
            continue;
        }
        let owner = Identity {
            api_version: reference.api_version.clone(),
            kind: reference.kind.clone(),
            namespace: item.namespace.clone(),
            name: reference.name.clone(),
            uid: reference.uid.clone(),
        };
        let namespaced = collector
            .resource(&owner.api_version, &owner.kind)
            .is_some_and(|(_, namespaced)| *namespaced);
        match get(collector, &owner).await? {
            None => {
                let scope = if namespaced {
                    item.namespace.as_str()
                } else {
                    ""
                };
                collector.graph().mark_absent(scope, &reference.uid);
                classified.dangling.push(reference.clone());
            }
            Some(found)
                if found.metadata.deletion_timestamp.is_some()
                    && found.finalizers().iter().any(|f| f == FOREGROUND) =>
            {
                classified.waiting.push(reference.clone())
            }
            Some(_) => classified.solid.push(reference.clone()),
        }
    }
    Ok(classified)
}

/// A foreground deletion: done (finalizer removed) when no dependent blocks it any more, otherwise
/// its blocking dependents are deleted.
async fn process_deleting_dependents(collector: &Collector, item: &Identity) -> Result<()> {
    let blocking: Vec<(String, bool)> = collector
        .graph()
        .blocking_dependents(&item.uid)
        .iter()
        .map(|dependent| {
            (
                dependent.identity.uid.clone(),
                dependent.deleting_dependents,
            )
        })
        .collect();
    if blocking.is_empty() {
        return remove_finalizer(collector, item, FOREGROUND).await;
    }
    for (uid, deleting_dependents) in blocking {
        if !deleting_dependents {
            collector.attempt_to_delete.add(uid);
        }
    }
    Ok(())
}

/// Removes the owner's references from its dependents, then its `orphan` finalizer.
pub(super) async fn attempt_to_orphan(collector: &Collector, uid: String) -> Result<()> {
    let Some(owner) = collector.graph().node(&uid).cloned() else {
        return Ok(());
    };
    let dependents: Vec<Identity> = collector
        .graph()
        .dependents(&uid)
        .iter()
        .map(|dependent| dependent.identity.clone())
        .collect();
    for dependent in dependents {
        remove_owner_references(collector, &dependent, std::slice::from_ref(&uid)).await?;
    }
    remove_finalizer(collector, &owner.identity, ORPHAN).await
}

async fn delete(
    collector: &Collector,
    identity: &Identity,
    policy: PropagationPolicy,
) -> Result<()> {
    let api = api(collector, identity)?;
    let params = DeleteParams {
        propagation_policy: Some(policy),
        preconditions: Some(Preconditions {
            uid: Some(identity.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    tracing::debug!(kind = %identity.kind, name = %identity.name, namespace = %identity.namespace, "garbage collector: deleting");
    match api.delete(&identity.name, &params).await {
        Ok(_) => Ok(()),
        // Gone, or replaced by a new object of the same name.
        Err(error) if is_not_found(&error) || is_conflict(&error) => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("deleting {} {}", identity.kind, identity.name),
            source,
        }),
    }
}

/// Merge-patches the live object's metadata with `change` (given its current metadata), guarded
/// by its resourceVersion and retried on conflicts.
async fn patch_metadata(
    collector: &Collector,
    identity: &Identity,
    change: impl Fn(&DynamicObject) -> Option<serde_json::Value>,
) -> Result<()> {
    let api = api(collector, identity)?;
    for _ in 0..CONFLICT_RETRIES {
        let Some(latest) = get(collector, identity).await? else {
            return Ok(());
        };
        let Some(mut metadata) = change(&latest) else {
            return Ok(());
        };
        metadata["resourceVersion"] = json!(latest.resource_version());
        let patch = json!({ "metadata": metadata });
        match api
            .patch(
                &identity.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(error) if is_not_found(&error) => return Ok(()),
            Err(error) if is_conflict(&error) => continue,
            Err(source) => {
                return Err(Error::Api {
                    action: format!("patching {} {}", identity.kind, identity.name),
                    source,
                });
            }
        }
    }
    Err(Error::Retry(format!(
        "{} {} kept changing; retrying later",
        identity.kind, identity.name
    )))
}

async fn remove_owner_references(
    collector: &Collector,
    identity: &Identity,
    owners: &[String],
) -> Result<()> {
    patch_metadata(collector, identity, |latest| {
        let references = latest.owner_references();
        if !references.iter().any(|owner| owners.contains(&owner.uid)) {
            return None;
        }
        let kept: Vec<&OwnerReference> = references
            .iter()
            .filter(|owner| !owners.contains(&owner.uid))
            .collect();
        Some(if kept.is_empty() {
            json!({"ownerReferences": null})
        } else {
            json!({ "ownerReferences": kept })
        })
    })
    .await
}

async fn unblock_owner_references(collector: &Collector, identity: &Identity) -> Result<()> {
    patch_metadata(collector, identity, |latest| {
        let mut references = latest.owner_references().to_vec();
        let mut changed = false;
        for reference in &mut references {
            if reference.block_owner_deletion == Some(true) {
                reference.block_owner_deletion = Some(false);
                changed = true;
            }
        }
        changed.then(|| json!({ "ownerReferences": references }))
    })
    .await
}

async fn remove_finalizer(
    collector: &Collector,
    identity: &Identity,
    finalizer: &str,
) -> Result<()> {
    patch_metadata(collector, identity, |latest| {
        let finalizers = latest.finalizers();
        if !finalizers.iter().any(|f| f == finalizer) {
            return None;
        }
        let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
        Some(if kept.is_empty() {
            json!({"finalizers": null})
        } else {
            json!({ "finalizers": kept })
        })
    })
    .await
}
