//! The revisions of a DaemonSet, as upstream's `constructHistory`, `snapshot` and
//! `cleanupHistory`: the revision whose data is the current template (made if missing, renumbered
//! as the newest if an older template came back), named `<set>-<hash>` with the template's hash in
//! the `controller-revision-hash` label (the same hash the pods carry), and old revisions no pod
//! uses deleted beyond `revisionHistoryLimit`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, PostParams};

use crate::deployment::util::template_hash;
use crate::error::{Context, Error, Result};
use crate::history::{self, DEFAULT_HISTORY_LIMIT, History};
use crate::pods::controller_reference;

use super::REVISION_HASH;

/// The current revision of `ds` and the old ones (oldest first).
pub async fn construct(
    client: &kube::Client,
    history: &History,
    ds: &DaemonSet,
    revisions: &[Arc<ControllerRevision>],
) -> Result<(ControllerRevision, Vec<Arc<ControllerRevision>>)> {
    let spec = ds.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template);
    let (current, old): (Vec<_>, Vec<_>) = revisions
        .iter()
        .cloned()
        .partition(|revision| revision.data.as_ref().map(|d| &d.0) == Some(&data));
    let number = history::next_number(&old);
    let current = match current.last() {
        None => snapshot(client, history, ds, data, number).await?,
        Some(found) if found.revision < number => history.renumber(found, number).await?,
        Some(found) => (**found).clone(),
    };
    Ok((current, old))
}

/// Creates the revision of the current template; a name taken by other data bumps the
/// DaemonSet's collision count and retries.
async fn snapshot(
    client: &kube::Client,
    history: &History,
    ds: &DaemonSet,
    data: serde_json::Value,
    number: i64,
) -> Result<ControllerRevision> {
    let spec = ds.spec.clone().unwrap_or_default();
    let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
    let hash = template_hash(&spec.template, collision_count);
    let mut labels: BTreeMap<String, String> = spec
        .template
        .metadata
        .as_ref()
        .and_then(|metadata| metadata.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_HASH.to_owned(), hash.clone());
    let namespace = ds.namespace().unwrap_or_default();
    let mut revision = history::new_revision(
        controller_reference(ds),
        &namespace,
        format!("{}-{hash}", ds.name_any()),
        labels,
        data,
        number,
    );
    revision.metadata.annotations = ds.metadata.annotations.clone();
    if let Some(created) = history.create(&revision).await? {
        return Ok(created);
    }
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &namespace);
    let mut live = api
        .get(&ds.name_any())
        .await
        .context(|| format!("reading daemon set {}", ds.name_any()))?;
    let live_count = live.status.as_ref().and_then(|s| s.collision_count);
    if live_count == collision_count {
        let status = live.status.get_or_insert_with(Default::default);
        status.collision_count = Some(collision_count.unwrap_or(0) + 1);
        api.replace_status(&ds.name_any(), &PostParams::default(), &live)
            .await
            .context(|| format!("counting a hash collision of daemon set {}", ds.name_any()))?;
    }
    Err(Error::Retry(format!(
        "controller revision {} holds another template",
        revision.name_any()
    )))
}

/// Deletes the oldest old revisions whose hash no pod carries, beyond the history limit.
pub async fn cleanup(
    history: &History,
    ds: &DaemonSet,
    pods: &[Arc<Pod>],
    old: &[Arc<ControllerRevision>],
) -> Result<()> {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|spec| spec.revision_history_limit)
        .unwrap_or(DEFAULT_HISTORY_LIMIT);
    let mut excess = old
        .len()
        .saturating_sub(usize::try_from(limit).unwrap_or(0));
    let live: HashSet<&String> = pods
        .iter()
        .filter_map(|pod| pod.labels().get(REVISION_HASH))
        .collect();
    for revision in old {
        if excess == 0 {
            break;
        }
        if revision
            .labels()
            .get(REVISION_HASH)
            .is_some_and(|hash| live.contains(hash))
        {
            continue;
        }
        history.delete(revision).await?;
        excess -= 1;
    }
    Ok(())
}
