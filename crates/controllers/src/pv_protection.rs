//! The PV protection controller, as upstream's `pv-protection-controller`: a PersistentVolume being
//! deleted loses its `kubernetes.io/pv-protection` finalizer (and so goes) once it is no longer
//! `Bound`; a volume without the finalizer gets it (admission adds it to new volumes, this catches
//! older ones).

use std::sync::Arc;

use k8s_openapi::api::core::v1::PersistentVolume;
use kube::ResourceExt;
use kube::api::Api;
use kubers_core::volumes::{PV_PROTECTION_FINALIZER, volume_phase};

use crate::error::Result;
use crate::informer::{Change, Informer, Informers};
use crate::protection::{is_deletion_candidate, needs_finalizer, set_finalizer};
use crate::queue::{WorkQueue, run_workers};

/// The controller's name.
pub const COMPONENT: &str = "pv-protection-controller";

/// What to do with a volume's finalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Remove,
    Keep,
}

/// The decision for one volume: a volume being deleted keeps its finalizer while it is `Bound`.
fn decide(volume: &PersistentVolume) -> Action {
    let meta = &volume.metadata;
    if is_deletion_candidate(meta, PV_PROTECTION_FINALIZER) {
        if volume_phase(volume) == "Bound" {
            Action::Keep
        } else {
            Action::Remove
        }
    } else if needs_finalizer(meta, PV_PROTECTION_FINALIZER) {
        Action::Add
    } else {
        Action::Keep
    }
}

/// Registers the controller with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let volumes = informers.get::<PersistentVolume>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        volumes.on_change(move |change| {
            let volume = change.object();
            if !matches!(change, Change::Deleted(_)) && decide(volume) != Action::Keep {
                queue.add(volume.name_any());
            }
        });
    }
    tokio::spawn(async move {
        volumes.synced().await;
        run_workers(COMPONENT, queue, 1, move |name: String| {
            let client = client.clone();
            let volumes = Arc::clone(&volumes);
            async move { sync(client, &volumes, &name).await }
        });
    });
}

async fn sync(
    client: kube::Client,
    volumes: &Informer<PersistentVolume>,
    name: &str,
) -> Result<()> {
    let Some(volume) = volumes.get("", name) else {
        return Ok(());
    };
    let api: Api<PersistentVolume> = Api::all(client);
    match decide(&volume) {
        Action::Add => set_finalizer(&api, &*volume, PV_PROTECTION_FINALIZER, true).await,
        Action::Remove => {
            tracing::info!(volume = %name, "removing the protection finalizer of a deleted volume that is not bound");
            set_finalizer(&api, &*volume, PV_PROTECTION_FINALIZER, false).await
        }
        Action::Keep => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn volume(finalizers: &[&str], deleted: bool, phase: Option<&str>) -> PersistentVolume {
        let mut object = json!({"metadata": {"name": "v", "finalizers": finalizers}});
        if deleted {
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        if let Some(phase) = phase {
            object["status"] = json!({"phase": phase});
        }
        serde_json::from_value::<PersistentVolume>(object).expect("a volume")
    }

    #[test]
    fn a_deleted_volume_keeps_its_finalizer_while_bound() {
        let protected = [PV_PROTECTION_FINALIZER];
        let cases = [
            (volume(&[], false, None), Action::Add),
            (volume(&protected, false, Some("Bound")), Action::Keep),
            (volume(&protected, true, Some("Bound")), Action::Keep),
            (volume(&protected, true, Some("Released")), Action::Remove),
            (volume(&protected, true, Some("Available")), Action::Remove),
            (volume(&protected, true, None), Action::Remove),
            (volume(&["example.com/other"], true, None), Action::Keep),
        ];
        for (volume, expected) in cases {
            let shown: Value = serde_json::to_value(&volume).unwrap_or_default();
            assert_eq!(decide(&volume), expected, "{shown}");
        }
    }
}
