//! The kubers scheduler: places pending pods on nodes like upstream's kube-scheduler with its
//! default profile, as an ordinary API client (kube-rs watchers, `pods/binding`, events), elected
//! through the Lease `kube-system/kube-scheduler` so several servers can run it.
//!
//! - Pure, unit-tested logic: [`model`] (pods and nodes as plain data), [`cache`] (the cluster with
//!   assumed pods), [`plugins`] (upstream's filters and scores), [`algorithm`] (one decision),
//!   [`preemption`], [`queue`] (priority queue with backoff).
//! - I/O: [`informers`] (watches), [`scheduler`] (the loop and bindings), [`writer`] (events,
//!   conditions, evictions), [`leader`] (the Lease).

pub mod algorithm;
pub mod cache;
pub mod informers;
pub mod leader;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod scheduler;
pub mod writer;

use model::pod::DEFAULT_SCHEDULER;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The `schedulerName` served (`default-scheduler`).
    pub scheduler_name: String,
    /// This instance's identity in the Lease and in events (`<host>_<random>`).
    pub identity: String,
    /// Whether unschedulable pods may preempt lower-priority ones.
    pub preemption: bool,
}

impl SchedulerConfig {
    /// The default scheduler, identified by the host name plus a random suffix.
    pub fn new(host: &str) -> SchedulerConfig {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER.into(),
            identity: format!("{host}_{:016x}", rand::random::<u64>()),
            preemption: true,
        }
    }
}

/// Runs the scheduler forever: waits for the Lease, then schedules while it holds it.
pub async fn run(client: kube::Client, config: SchedulerConfig) {
    let election = leader::Election::new("kube-scheduler", config.identity.clone());
    let host = config
        .identity
        .rsplit_once('_')
        .map(|(host, _)| host.to_owned())
        .unwrap_or_else(|| config.identity.clone());
    let loop_config = scheduler::LoopConfig {
        scheduler_name: config.scheduler_name.clone(),
        instance: format!("{DEFAULT_SCHEDULER}-{host}"),
        preemption: config.preemption,
    };
    leader::run(client.clone(), election, move || {
        scheduler::run(client.clone(), loop_config.clone())
    })
    .await;
}
