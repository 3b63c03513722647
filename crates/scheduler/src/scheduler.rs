//! The scheduling loop: applies what the informers report to the cache and the queue, takes pods
//! from the queue one at a time, decides, assumes the pod on its node and binds it in the
//! background (so the next decision already sees it), and handles failures (condition, event,
//! preemption, retry). One task owns all state; nothing is shared or locked.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Binding, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

use crate::algorithm::{self, Cycle, Unschedulable};
use crate::cache::{Cache, NodeChange};
use crate::informers::{self, Source, Update};
use crate::model::pod::PodInfo;
use crate::plugins::events;
use crate::plugins::volume_binding::{PodVolumes, fully_bound};
use crate::preemption::{self, Outcome};
use crate::queue::Queue;
use crate::writer::{Write, Writer};

/// How many bindings may be in flight.
const BINDINGS_IN_FLIGHT: usize = 64;
/// Informer updates applied between two decisions at most (so a burst cannot starve scheduling).
const UPDATES_PER_TURN: usize = 512;
/// The informers whose first list must be complete before the first decision.
const REQUIRED: [Source; 6] = [
    Source::Nodes,
    Source::Pods,
    Source::Namespaces,
    Source::Claims,
    Source::Volumes,
    Source::Classes,
];
/// How long binding a pod waits for its volumes to be bound (upstream's `bindTimeoutSeconds`).
const VOLUME_BIND_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings of the scheduling loop.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// The `schedulerName` this scheduler serves.
    pub scheduler_name: String,
    /// The `reportingInstance` of its events.
    pub instance: String,
    /// Whether preemption runs for unschedulable pods.
    pub preemption: bool,
}

/// Why binding a pod failed.
enum BindError {
    /// Its volumes could not be bound (upstream's PreBind of VolumeBinding).
    Volumes(String),
    /// The `pods/binding` request failed.
    Api(kube::Error),
}

/// The result of one binding.
struct Bound {
    pod: Arc<PodInfo>,
    node: String,
    volumes: PodVolumes,
    result: Result<(), BindError>,
}

/// The state of the loop.
struct Scheduler {
    config: LoopConfig,
    client: kube::Client,
    cache: Cache,
    queue: Queue,
    writer: Writer,
    synced: HashSet<Source>,
    next_start: usize,
    rng: StdRng,
    bindings: Arc<Semaphore>,
    bound_tx: mpsc::UnboundedSender<Bound>,
    scheduled: u64,
}

/// Runs the informers and the loop until the informers stop.
pub async fn run(client: kube::Client, config: LoopConfig) {
    let (tx, mut updates) = mpsc::unbounded_channel();
    let informers = informers::start(&client, &tx);
    drop(tx);
    let _abort_informers = AbortOnDrop(informers);
    let (bound_tx, mut bound_rx) = mpsc::unbounded_channel();
    let mut scheduler = Scheduler {
        writer: Writer::start(client.clone(), config.instance.clone()),
        config,
        client,
        cache: Cache::new(),
        queue: Queue::new(),
        synced: HashSet::new(),
        next_start: 0,
        rng: StdRng::from_os_rng(),
        bindings: Arc::new(Semaphore::new(BINDINGS_IN_FLIGHT)),
        bound_tx,
        scheduled: 0,
    };
    loop {
        for _ in 0..UPDATES_PER_TURN {
            match updates.try_recv() {
                Ok(update) => scheduler.apply(update),
                Err(_) => break,
            }
        }
        while let Ok(bound) = bound_rx.try_recv() {
            scheduler.bound(bound);
        }
        let in_flight = BINDINGS_IN_FLIGHT - scheduler.bindings.available_permits();
        scheduler
            .writer
            .set_busy(in_flight + usize::from(scheduler.queue.has_active()));
        if scheduler.ready()
            && let Some(pod) = scheduler.queue.pop(std::time::Instant::now())
        {
            scheduler.schedule_one(pod).await;
            tokio::task::yield_now().await;
            continue;
        }
        let wake = scheduler
            .queue
            .next_wakeup()
            .map(Instant::from_std)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            update = updates.recv() => match update {
                Some(update) => scheduler.apply(update),
                None => return,
            },
            Some(bound) = bound_rx.recv() => scheduler.bound(bound),
            _ = tokio::time::sleep_until(wake) => {
                scheduler.queue.flush_unschedulable(std::time::Instant::now());
            }
        }
    }
}

/// Stops the informers when the loop ends (or is aborted on losing leadership).
struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in &self.0 {
            handle.abort();
        }
    }
}

impl Scheduler {
    fn ready(&self) -> bool {
        REQUIRED.iter().all(|source| self.synced.contains(source))
    }

    /// Applies one informer update.
    fn apply(&mut self, update: Update) {
        let now = std::time::Instant::now();
        match update {
            Update::Node(spec) => match self.cache.upsert_node(spec) {
                NodeChange::Added => {
                    self.queue.on_event(events::NODE_ADD, now);
                }
                NodeChange::Updated => {
                    self.queue.on_event(events::NODE_UPDATE, now);
                }
                NodeChange::Unchanged => {}
            },
            Update::NodeGone(name) => self.cache.remove_node(&name),
            Update::Pod(pod) => self.pod_changed(pod, now),
            Update::PodGone(uid) => {
                if self.cache.remove_pod(&uid).is_some() {
                    self.queue.on_event(events::POD_DELETE, now);
                }
                self.cache.clear_nomination(&uid);
                self.queue.remove(&uid);
            }
            Update::Namespace(name, labels) => {
                if self.cache.set_namespace(name, labels) {
                    self.queue.on_event(events::NAMESPACE, now);
                }
            }
            Update::NamespaceGone(name) => self.cache.remove_namespace(&name),
            Update::Service(namespace, name, selector) => {
                let services = self.cache.workloads.services.entry(namespace).or_default();
                match selector {
                    Some(selector) => {
                        services.insert(name, selector);
                    }
                    None => {
                        services.remove(&name);
                    }
                }
            }
            Update::ServiceGone(namespace, name) => {
                if let Some(services) = self.cache.workloads.services.get_mut(&namespace) {
                    services.remove(&name);
                }
            }
            Update::Controller(kind, namespace, name, selector) => {
                self.cache
                    .workloads
                    .controllers
                    .insert((kind, namespace, name), selector);
            }
            Update::ControllerGone(kind, namespace, name) => {
                self.cache
                    .workloads
                    .controllers
                    .remove(&(kind, namespace, name));
            }
            Update::Claim(claim) => {
                self.cache.volumes.upsert_claim(claim);
                self.queue.on_event(events::CLAIM, now);
            }
            Update::ClaimGone(namespace, name) => {
                self.cache.volumes.remove_claim(&(namespace, name))
            }
            Update::Volume(volume) => {
                self.cache.volumes.upsert_volume(volume);
                self.queue.on_event(events::VOLUME, now);
            }
            Update::VolumeGone(name) => self.cache.volumes.remove_volume(&name),
            Update::Class(class) => {
                self.cache.volumes.upsert_class(class);
                self.queue.on_event(events::STORAGE_CLASS, now);
            }
            Update::ClassGone(name) => self.cache.volumes.remove_class(&name),
            Update::Synced(source) => {
                tracing::debug!(?source, "scheduler informer synced");
                self.synced.insert(source);
            }
        }
    }

    fn pod_changed(&mut self, pod: Arc<PodInfo>, now: std::time::Instant) {
        let uid = pod.uid.clone();
        if !pod.node_name.is_empty() {
            let previous = self
                .cache
                .node(&pod.node_name)
                .and_then(|node| node.pods.iter().find(|p| p.uid == uid).cloned());
            let event = match previous {
                Some(old) if !self.cache.is_assumed(&uid) => (old.labels != pod.labels
                    || old.terminating != pod.terminating)
                    .then_some(events::POD_UPDATE),
                _ => Some(events::POD_ADD),
            };
            self.cache.add_assigned_pod(pod);
            self.queue.remove(&uid);
            if let Some(event) = event {
                self.queue.on_event(event, now);
            }
            return;
        }
        if !pod.wants_scheduling(&self.config.scheduler_name) {
            self.queue.remove(&uid);
            self.cache.clear_nomination(&uid);
            return;
        }
        if self.cache.is_assumed(&uid) {
            // Being bound; the watch has not caught up with our binding yet.
            return;
        }
        self.cache.nominate(Arc::clone(&pod));
        self.queue.add(pod, now);
    }

    /// Decides for one pod and starts its binding, or records why it cannot be placed.
    async fn schedule_one(&mut self, pod: Arc<PodInfo>) {
        let now = std::time::Instant::now();
        if self.cache.is_assigned(&pod.uid) {
            self.queue.done(&pod.uid);
            return;
        }
        match algorithm::schedule(&self.cache, &pod, &mut self.next_start, &mut self.rng) {
            Ok(decision) => {
                tracing::debug!(
                    pod = %pod.key(),
                    node = %decision.node,
                    evaluated = decision.evaluated,
                    feasible = decision.feasible,
                    took_us = now.elapsed().as_micros() as u64,
                    "scheduled"
                );
                let volumes = if pod.spec.claims.is_empty() {
                    PodVolumes::default()
                } else {
                    Cycle::new(&pod, &self.cache).pod_volumes(&decision.node, &self.cache)
                };
                self.cache.assume(&pod, &decision.node);
                for volume in &volumes.bindings {
                    self.cache.volumes.assume_volume(Arc::clone(volume));
                }
                for claim in &volumes.provisions {
                    self.cache.volumes.assume_claim(Arc::clone(claim));
                }
                // A pod waiting for its volumes (up to ten minutes) holds no binding slot meanwhile,
                // so such pods never stall the loop.
                let permit = if volumes.is_empty() {
                    let Ok(permit) = Arc::clone(&self.bindings).acquire_owned().await else {
                        return;
                    };
                    Some(permit)
                } else {
                    None
                };
                let bindings = Arc::clone(&self.bindings);
                let client = self.client.clone();
                let done = self.bound_tx.clone();
                tokio::spawn(async move {
                    let result = match bind_volumes(&client, &pod, &volumes).await {
                        Ok(()) => {
                            let permit = match permit {
                                Some(permit) => Ok(permit),
                                None => bindings.acquire_owned().await,
                            };
                            match permit {
                                Ok(_permit) => bind(&client, &pod, &decision.node)
                                    .await
                                    .map_err(BindError::Api),
                                Err(_) => {
                                    Err(BindError::Volumes("the scheduler is stopping".into()))
                                }
                            }
                        }
                        Err(error) => Err(BindError::Volumes(error)),
                    };
                    let _ = done.send(Bound {
                        pod,
                        node: decision.node,
                        volumes,
                        result,
                    });
                });
            }
            Err(unschedulable) => self.unschedulable(pod, unschedulable, now),
        }
    }

    fn unschedulable(&mut self, pod: Arc<PodInfo>, error: Unschedulable, now: std::time::Instant) {
        let mut message = algorithm::unschedulable_message(&error).into_owned();
        let mut wakes_on = error.wakes_on();
        let mut nominate = None;
        if let (Unschedulable::NoFit(diagnosis), true) = (&error, self.config.preemption) {
            match preemption::preempt(&self.cache, &pod, diagnosis, &mut self.rng) {
                Outcome::NotEligible(reason) | Outcome::NoCandidate(reason) => {
                    message.push_str(&format!(" preemption: {reason}"));
                    if !pod.nominated_node.is_empty() {
                        nominate = Some(String::new());
                        self.cache.clear_nomination(&pod.uid);
                    }
                }
                Outcome::Nominate {
                    node,
                    victims,
                    displaced,
                } => {
                    tracing::info!(pod = %pod.key(), %node, victims = victims.len(), "preempting");
                    for victim in victims {
                        self.writer.send(Write::Evict {
                            victim,
                            preemptor: Arc::clone(&pod),
                            node: node.clone(),
                        });
                    }
                    for other in displaced {
                        self.cache.clear_nomination(&other.uid);
                        self.writer.send(Write::ClearNomination(other));
                    }
                    let mut nominated = (*pod).clone();
                    nominated.nominated_node = node.clone();
                    self.cache.nominate(Arc::new(nominated));
                    nominate = Some(node);
                    wakes_on |= events::POD_DELETE;
                }
            }
        }
        tracing::debug!(pod = %pod.key(), %message, "unschedulable");
        self.queue.unschedulable(&pod.uid, wakes_on, now);
        self.writer.send(Write::Failed {
            pod,
            message,
            nominate,
        });
    }

    /// Handles a finished binding.
    fn bound(&mut self, bound: Bound) {
        let uid = bound.pod.uid.clone();
        match bound.result {
            Ok(()) => {
                self.scheduled += 1;
                if self.scheduled % 10_000 == 0 {
                    tracing::info!(scheduled = self.scheduled, "pods bound");
                }
                self.queue.done(&uid);
                self.writer.send(Write::Scheduled {
                    pod: bound.pod,
                    node: bound.node,
                });
            }
            Err(BindError::Volumes(error)) => {
                self.cache.forget(&uid);
                self.cache
                    .volumes
                    .revert(&bound.volumes.bindings, &bound.volumes.provisions);
                tracing::debug!(pod = %bound.pod.key(), %error, "binding volumes failed");
                self.queue.retry(&uid, std::time::Instant::now());
                self.writer.send(Write::Failed {
                    pod: bound.pod,
                    message: format!(
                        "running PreBind plugin \"VolumeBinding\": binding volumes: {error}"
                    ),
                    nominate: None,
                });
            }
            Err(BindError::Api(error)) => {
                self.cache.forget(&uid);
                self.cache
                    .volumes
                    .revert(&bound.volumes.bindings, &bound.volumes.provisions);
                let gone = matches!(&error, kube::Error::Api(status) if status.code == 404 || status.code == 409);
                tracing::debug!(pod = %bound.pod.key(), %error, "binding failed");
                if gone {
                    self.queue.remove(&uid);
                } else {
                    self.queue.retry(&uid, std::time::Instant::now());
                    self.writer.send(Write::BindingRejected {
                        pod: bound.pod,
                        error: error.to_string(),
                    });
                }
            }
        }
    }
}

/// Upstream's PreBind of VolumeBinding: writes the chosen volumes' `claimRef`s and the
/// `selected-node` of claims to provision, then waits (by watch) until the PersistentVolume
/// controller (and a provisioner) bound every claim of the pod.
async fn bind_volumes(
    client: &kube::Client,
    pod: &PodInfo,
    volumes: &PodVolumes,
) -> Result<(), String> {
    if volumes.is_empty() {
        return Ok(());
    }
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for volume in &volumes.bindings {
        let name = volume.metadata.name.as_deref().unwrap_or("");
        pvs.replace(name, &PostParams::default(), volume)
            .await
            .map_err(|error| format!("binding volume {name:?}: {error}"))?;
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &pod.namespace);
    for claim in &volumes.provisions {
        let name = claim.metadata.name.as_deref().unwrap_or("");
        claims
            .replace(name, &PostParams::default(), claim)
            .await
            .map_err(|error| format!("selecting a node for claim {name:?}: {error}"))?;
    }
    for claim in &pod.spec.claims {
        let bound = kube::runtime::wait::await_condition(
            claims.clone(),
            &claim.name,
            |claim: Option<&PersistentVolumeClaim>| claim.is_some_and(fully_bound),
        );
        match tokio::time::timeout(VOLUME_BIND_TIMEOUT, bound).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(format!("watching claim {:?}: {error}", claim.name)),
            Err(_) => return Err("context deadline exceeded".into()),
        }
    }
    Ok(())
}

/// `POST pods/<name>/binding`.
async fn bind(client: &kube::Client, pod: &PodInfo, node: &str) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(pod.name.clone()),
            namespace: Some(pod.namespace.clone()),
            uid: Some(pod.uid.clone()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.to_owned()),
            ..ObjectReference::default()
        },
    };
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        &pod.name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map(|_| ())
}
