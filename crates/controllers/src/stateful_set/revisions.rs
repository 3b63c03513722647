//! The revisions of a StatefulSet, as upstream's `getStatefulSetRevisions` and `truncateHistory`:
//! the update revision is the ControllerRevision holding the current template (created, or an
//! older equal one renumbered as the newest), the current revision is the one
//! `status.currentRevision` names, and old revisions no pod uses go beyond
//! `revisionHistoryLimit`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use crate::error::{Error, Result};
use crate::history::{self, DEFAULT_HISTORY_LIMIT, HASH_LABEL, History};
use crate::pods::controller_reference;

use super::REVISION;

/// The revisions a pass works with.
pub struct Revisions {
    /// The revision of the running pods before an update.
    pub current: ControllerRevision,
    /// The revision of the set's template now.
    pub update: ControllerRevision,
    /// The collision count used for the update revision's name.
    pub collision_count: i32,
}

/// The revision `set` would get with `number`.
fn new_revision(set: &StatefulSet, number: i64, collision_count: i32) -> ControllerRevision {
    let spec = set.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template);
    let hash = history::hash(&data, Some(collision_count));
    let mut labels: BTreeMap<String, String> = spec
        .template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    labels.insert(HASH_LABEL.to_owned(), hash.clone());
    let mut revision = history::new_revision(
        controller_reference(set),
        &set.namespace().unwrap_or_default(),
        history::revision_name(&set.name_any(), &hash),
        labels,
        data,
        number,
    );
    revision.metadata.annotations = set.metadata.annotations.clone();
    revision
}

/// Finds or makes the current and update revisions of `set`.
pub async fn resolve(
    history: &History,
    set: &StatefulSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<Revisions> {
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|status| status.collision_count)
        .unwrap_or(0);
    let number = history::next_number(revisions);
    let wanted = new_revision(set, number, collision_count);
    let equal: Vec<&Arc<ControllerRevision>> = revisions
        .iter()
        .filter(|revision| history::same_data(revision, &wanted))
        .collect();
    let update = match (equal.last(), revisions.last()) {
        // The newest revision already holds this template.
        (Some(found), Some(newest)) if found.name_any() == newest.name_any() => (***found).clone(),
        // An older template came back: it becomes the newest.
        (Some(found), _) => history.renumber(found, number).await?,
        (None, _) => loop {
            let candidate = new_revision(set, number, collision_count);
            match history.create(&candidate).await? {
                Some(created) => break created,
                None if collision_count < 100 => collision_count += 1,
                None => {
                    return Err(Error::Retry(format!(
                        "no free controller revision name for stateful set {}",
                        set.name_any()
                    )));
                }
            }
        },
    };
    let current_name = set
        .status
        .as_ref()
        .and_then(|status| status.current_revision.clone());
    let current = revisions
        .iter()
        .find(|revision| Some(revision.name_any()) == current_name)
        .map(|revision| (**revision).clone())
        .unwrap_or_else(|| update.clone());
    Ok(Revisions {
        current,
        update,
        collision_count,
    })
}

/// Deletes the oldest revisions no pod, nor the current or update revision, uses, beyond the
/// history limit.
pub async fn truncate(
    history: &History,
    set: &StatefulSet,
    pods: &[&Arc<Pod>],
    revisions: &[Arc<ControllerRevision>],
    chosen: &Revisions,
) -> Result<()> {
    let mut live: HashSet<String> = pods
        .iter()
        .filter_map(|pod| pod.labels().get(REVISION).cloned())
        .collect();
    live.insert(chosen.current.name_any());
    live.insert(chosen.update.name_any());
    let old: Vec<&Arc<ControllerRevision>> = revisions
        .iter()
        .filter(|revision| !live.contains(&revision.name_any()))
        .collect();
    let limit = set
        .spec
        .as_ref()
        .and_then(|spec| spec.revision_history_limit)
        .unwrap_or(DEFAULT_HISTORY_LIMIT);
    let excess = old
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    for revision in old.into_iter().take(excess) {
        history.delete(revision).await?;
    }
    Ok(())
}
