//! The namespace controller: empties a namespace marked for deletion (every namespaced resource that
//! discovery reports, deleted with background propagation), reports progress in upstream's status
//! conditions, and removes the `kubernetes` finalizer through `namespaces/NAME/finalize` once nothing
//! is left, which lets the API server remove the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};

use crate::discovery::Served;
use crate::error::{Context, Error, Result, is_not_found};
use crate::informer::Informers;
use crate::queue::{WorkQueue, run_workers};

/// The finalizer this controller owns.
const FINALIZER: &str = "kubernetes";
/// How long to wait before looking again at content that waits for other finalizers.
const FINALIZER_ESTIMATE_SECONDS: i64 = 15;

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let namespaces = informers.get::<Namespace>();
    let queue = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        namespaces.on_change(move |change| {
            let namespace = change.object();
            if namespace.metadata.deletion_timestamp.is_some() {
                queue.add(namespace.name_any());
            }
        });
    }
    tokio::spawn(async move {
        namespaces.synced().await;
        let sync_queue = Arc::clone(&queue);
        run_workers("namespace", queue, 2, move |name: String| {
            sync(client.clone(), Arc::clone(&sync_queue), name)
        });
    });
}

async fn sync(client: kube::Client, queue: Arc<WorkQueue<String>>, name: String) -> Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(namespace) = api
        .get_opt(&name)
        .await
        .context(|| format!("reading namespace {name}"))?
    else {
        return Ok(());
    };
    if namespace.metadata.deletion_timestamp.is_none() || finalized(&namespace) {
        return Ok(());
    }
    let mut report = Report::default();
    let served = match crate::discovery::served(client.clone()).await {
        Ok(served) => served,
        Err(error) => {
            report.discovery_error = Some(error.to_string());
            Vec::new()
        }
    };
    for resource in served
        .iter()
        .filter(|served| served.namespaced && served.supports(&["delete", "list"]))
    {
        if let Err(error) = delete_content(&client, resource, &name, &mut report).await {
            report.errors.push(error);
        }
    }
    let namespace = update_status(&api, namespace, &report).await?;
    if let Some(error) = &report.discovery_error {
        return Err(Error::Retry(format!(
            "discovery failed while emptying namespace {name}: {error}"
        )));
    }
    if !report.errors.is_empty() {
        return Err(Error::Retry(format!(
            "emptying namespace {name}: {}",
            report.errors.join("; ")
        )));
    }
    if report.estimate > 0 {
        let wait = u64::try_from(report.estimate).unwrap_or(1);
        queue.add_after(name, Duration::from_secs(wait));
        return Ok(());
    }
    finalize(&api, namespace).await
}

/// Whether the namespace no longer carries this controller's finalizer.
fn finalized(namespace: &Namespace) -> bool {
    !namespace
        .spec
        .as_ref()
        .and_then(|spec| spec.finalizers.as_ref())
        .is_some_and(|finalizers| finalizers.iter().any(|f| f == FINALIZER))
}

/// What emptying a namespace found.
#[derive(Default)]
struct Report {
    discovery_error: Option<String>,
    errors: Vec<String>,
    /// Objects left per `resource.group`.
    remaining: BTreeMap<String, usize>,
    /// Objects left per finalizer.
    finalizers: BTreeMap<String, usize>,
    /// Seconds until the content is likely gone (0: nothing to wait for).
    estimate: i64,
}

/// Deletes every object of one resource in the namespace, then lists what is left.
async fn delete_content(
    client: &kube::Client,
    served: &Served,
    namespace: &str,
    report: &mut Report,
) -> std::result::Result<(), String> {
    let resource = &served.resource;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, resource);
    let describe = |error: kube::Error| {
        format!(
            "{}.{}: {error}",
            resource.plural,
            if resource.group.is_empty() {
                ""
            } else {
                &resource.group
            }
        )
    };
    let background = DeleteParams::background();
    if served.supports(&["deletecollection"]) {
        api.delete_collection(&background, &ListParams::default())
            .await
            .map_err(describe)?;
    } else {
        for object in api
            .list(&ListParams::default())
            .await
            .map_err(describe)?
            .items
        {
            match api.delete(&object.name_any(), &background).await {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => {}
                Err(error) => return Err(describe(error)),
            }
        }
    }
    let left = api
        .list(&ListParams::default())
        .await
        .map_err(describe)?
        .items;
    if left.is_empty() {
        return Ok(());
    }
    let key = format!("{}.{}", resource.plural, resource.group);
    *report.remaining.entry(key).or_default() += left.len();
    let mut with_finalizers = false;
    for object in &left {
        for finalizer in object.finalizers() {
            with_finalizers = true;
            *report.finalizers.entry(finalizer.clone()).or_default() += 1;
        }
    }
    // Pods wait for their kubelets: as long as their grace period at most.
    let grace = left
        .iter()
        .filter_map(|object| object.metadata.deletion_grace_period_seconds)
        .max()
        .unwrap_or(0);
    if grace > 0 {
        report.estimate = report.estimate.max(grace);
    } else if with_finalizers {
        report.estimate = report.estimate.max(FINALIZER_ESTIMATE_SECONDS);
    } else {
        report.estimate = report.estimate.max(1);
        return Err(format!(
            "unexpected items still remain in namespace: {namespace} for gvr: {}",
            resource.plural
        ));
    }
    Ok(())
}

/// The deletion conditions upstream's namespace controller reports, in its order.
fn conditions(report: &Report) -> Vec<(&'static str, &'static str, &'static str, String)> {
    let mut conditions = Vec::new();
    conditions.push(match &report.discovery_error {
        None => (
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_owned(),
        ),
        Some(error) => (
            "NamespaceDeletionDiscoveryFailure",
            "True",
            "DiscoveryFailed",
            format!("Discovery failed for some groups, 1 failing: {error}"),
        ),
    });
    conditions.push((
        "NamespaceDeletionGroupVersionParsingFailure",
        "False",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed".to_owned(),
    ));
    conditions.push(if report.errors.is_empty() {
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_owned(),
        )
    } else {
        (
            "NamespaceDeletionContentFailure",
            "True",
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                report.errors.len(),
                report.errors.join(", ")
            ),
        )
    });
    conditions.push(if report.remaining.is_empty() {
        (
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All resources successfully removed".to_owned(),
        )
    } else {
        let remaining: Vec<String> = report
            .remaining
            .iter()
            .map(|(resource, count)| format!("{resource} has {count} resource instances"))
            .collect();
        (
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", remaining.join(", ")),
        )
    });
    conditions.push(if report.finalizers.is_empty() {
        (
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_owned(),
        )
    } else {
        let remaining: Vec<String> = report
            .finalizers
            .iter()
            .map(|(finalizer, count)| format!("{finalizer} in {count} resource instances"))
            .collect();
        (
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                remaining.join(", ")
            ),
        )
    });
    conditions
}

/// Writes the phase and conditions (keeping a condition's transition time while it stays the same).
async fn update_status(
    api: &Api<Namespace>,
    mut namespace: Namespace,
    report: &Report,
) -> Result<Namespace> {
    let name = namespace.name_any();
    let status = namespace
        .status
        .get_or_insert_with(NamespaceStatus::default);
    let old = status.conditions.clone().unwrap_or_default();
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut merged: Vec<NamespaceCondition> = Vec::new();
    for (type_, state, reason, message) in conditions(report) {
        let previous = old.iter().find(|condition| condition.type_ == type_);
        match previous {
            Some(previous)
                if previous.status == state
                    && previous.reason.as_deref() == Some(reason)
                    && previous.message.as_deref() == Some(message.as_str()) =>
            {
                merged.push(previous.clone())
            }
            _ => merged.push(NamespaceCondition {
                type_: type_.to_owned(),
                status: state.to_owned(),
                reason: Some(reason.to_owned()),
                message: Some(message),
                last_transition_time: Some(now.clone()),
            }),
        }
    }
    // Conditions of other writers stay.
    for condition in old {
        if !merged.iter().any(|kept| kept.type_ == condition.type_) {
            merged.push(condition);
        }
    }
    let phase_changed = status.phase.as_deref() != Some("Terminating");
    if !phase_changed && status.conditions.as_ref() == Some(&merged) {
        return Ok(namespace);
    }
    status.phase = Some("Terminating".to_owned());
    status.conditions = Some(merged);
    match api
        .replace_status(&name, &PostParams::default(), &namespace)
        .await
    {
        Ok(updated) => Ok(updated),
        Err(error) if is_not_found(&error) => Ok(namespace),
        Err(error) => Err(Error::Api {
            action: format!("updating the status of namespace {name}"),
            source: error,
        }),
    }
}

/// Removes this controller's finalizer through the `finalize` subresource.
async fn finalize(api: &Api<Namespace>, mut namespace: Namespace) -> Result<()> {
    let name = namespace.name_any();
    if let Some(finalizers) = namespace
        .spec
        .as_mut()
        .and_then(|spec| spec.finalizers.as_mut())
    {
        finalizers.retain(|finalizer| finalizer != FINALIZER);
    }
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &namespace)
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = %name, "namespace emptied and finalized");
            Ok(())
        }
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => Err(Error::Api {
            action: format!("finalizing namespace {name}"),
            source: error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_name_what_remains() {
        let mut report = Report::default();
        report.remaining.insert("pods.".into(), 2);
        report.finalizers.insert("example.com/hold".into(), 1);
        let conditions = conditions(&report);
        let types: Vec<&str> = conditions.iter().map(|c| c.0).collect();
        assert_eq!(
            types,
            [
                "NamespaceDeletionDiscoveryFailure",
                "NamespaceDeletionGroupVersionParsingFailure",
                "NamespaceDeletionContentFailure",
                "NamespaceContentRemaining",
                "NamespaceFinalizersRemaining"
            ]
        );
        assert_eq!(
            conditions[3].3,
            "Some resources are remaining: pods. has 2 resource instances"
        );
        assert_eq!(
            conditions[4].3,
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        );
        let empty = super::conditions(&Report::default());
        assert!(empty.iter().all(|c| c.1 == "False"));
    }
}
