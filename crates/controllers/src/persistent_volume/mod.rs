//! The PersistentVolume controller, as upstream's `persistentvolume-binder`: binds unbound claims to
//! matching Available volumes (or the volume they name), completes bindings the scheduler or a user
//! started in a volume's `claimRef`, asks external provisioners for volumes of classes that have one,
//! waits for the first consumer of `WaitForFirstConsumer` classes, gives claims without a class the
//! default one, and releases volumes whose claim is gone (then retains or deletes them by their
//! reclaim policy). Matching itself is [`kubers_core::volumes`].
//!
//! - [`claims`]: a claim's sync (unbound, pre-bound, bound, lost).
//! - [`volumes`]: a volume's sync (available, bound, released, reclaimed).
//! - [`writes`]: the binding protocol's writes, each read back into [`fresh`].

mod claims;
pub mod fresh;
mod volumes;
mod writes;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;
use kubers_client::events::Recorder;

use crate::error::Result;
use crate::informer::{Change, Informer, Informers};
use crate::queue::{WorkQueue, run_workers};
use fresh::Fresh;
pub use writes::claim_reference;

/// The controller's name in events.
pub const COMPONENT: &str = "persistentvolume-controller";

/// What the work queue holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A claim, by namespace and name.
    Claim(String, String),
    /// A volume, by name.
    Volume(String),
}

/// The controller's caches and clients.
struct Controller {
    client: kube::Client,
    volumes: Arc<Informer<PersistentVolume>>,
    claims: Arc<Informer<PersistentVolumeClaim>>,
    classes: Arc<Informer<StorageClass>>,
    fresh_volumes: Fresh<PersistentVolume>,
    fresh_claims: Fresh<PersistentVolumeClaim>,
    queue: Arc<WorkQueue<Key>>,
    recorder: Recorder,
}

fn claim_key(claim: &PersistentVolumeClaim) -> Key {
    Key::Claim(claim.namespace().unwrap_or_default(), claim.name_any())
}

/// The claim a volume's `claimRef` names.
fn referenced_claim(volume: &PersistentVolume) -> Option<Key> {
    let reference = volume.spec.as_ref()?.claim_ref.as_ref()?;
    Some(Key::Claim(
        reference.namespace.clone().unwrap_or_default(),
        reference.name.clone()?,
    ))
}

/// Registers the controller with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(Controller {
        recorder: Recorder::new(client.clone(), COMPONENT),
        client,
        volumes: informers.get::<PersistentVolume>(),
        claims: informers.get::<PersistentVolumeClaim>(),
        classes: informers.get::<StorageClass>(),
        fresh_volumes: Fresh::default(),
        fresh_claims: Fresh::default(),
        queue: WorkQueue::new(),
    });
    {
        let queue = Arc::clone(&controller.queue);
        let volumes = Arc::clone(&controller.volumes);
        controller.claims.on_change(move |change| {
            let claim = change.object();
            queue.add(claim_key(claim));
            if let Change::Deleted(claim) = change {
                // Its volume is released.
                for volume in volumes.list() {
                    if referenced_claim(&volume) == Some(claim_key(claim)) {
                        queue.add(Key::Volume(volume.name_any()));
                    }
                }
            }
        });
    }
    {
        let queue = Arc::clone(&controller.queue);
        let claims = Arc::clone(&controller.claims);
        controller.volumes.on_change(move |change| {
            let volume = change.object();
            if matches!(change, Change::Deleted(_)) {
                // Its claim is lost.
                if let Some(claim) = referenced_claim(volume) {
                    queue.add(claim);
                }
                return;
            }
            queue.add(Key::Volume(volume.name_any()));
            match referenced_claim(volume) {
                // A volume reserved or bound for a claim may complete its binding.
                Some(claim) => queue.add(claim),
                // A free volume may serve a pending claim of its class (upstream finds these in
                // its periodic resync; kubers reacts to the change instead).
                None => {
                    let class = kubers_core::volumes::volume_class(volume);
                    for claim in claims.list() {
                        if kubers_core::volumes::claim_volume_name(&claim).is_none()
                            && kubers_core::volumes::claim_class(&claim) == class
                        {
                            queue.add(claim_key(&claim));
                        }
                    }
                }
            }
        });
    }
    {
        let queue = Arc::clone(&controller.queue);
        let claims = Arc::clone(&controller.claims);
        controller.classes.on_change(move |change| {
            if matches!(change, Change::Deleted(_)) {
                return;
            }
            // A new class, or a new default, may unblock pending claims.
            for claim in claims.list() {
                if kubers_core::volumes::claim_volume_name(&claim).is_none() {
                    queue.add(claim_key(&claim));
                }
            }
        });
    }
    tokio::spawn(async move {
        controller.volumes.synced().await;
        controller.claims.synced().await;
        controller.classes.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers(COMPONENT, queue, 1, move |key: Key| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(key).await }
        });
    });
}

impl Controller {
    async fn sync(&self, key: Key) -> Result<()> {
        match key {
            Key::Claim(namespace, name) => match self.claim(&namespace, &name) {
                Some(claim) => self.sync_claim(claim).await,
                None => Ok(()),
            },
            Key::Volume(name) => match self.volume(&name) {
                Some(volume) => self.sync_volume(volume).await,
                None => Ok(()),
            },
        }
    }

    /// The newest known version of a claim.
    fn claim(&self, namespace: &str, name: &str) -> Option<Arc<PersistentVolumeClaim>> {
        self.fresh_claims.pick(
            &format!("{namespace}/{name}"),
            self.claims.get(namespace, name),
        )
    }

    /// The newest known version of a volume.
    fn volume(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.fresh_volumes.pick(name, self.volumes.get("", name))
    }

    /// Every volume, each in its newest known version.
    fn all_volumes(&self) -> Vec<Arc<PersistentVolume>> {
        self.volumes
            .list()
            .into_iter()
            .filter_map(|volume| self.volume(&volume.name_any()))
            .collect()
    }

    /// A class by name (none for the empty name).
    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        if name.is_empty() {
            return None;
        }
        self.classes.get("", name)
    }
}
