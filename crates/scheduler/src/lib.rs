//! The kubers scheduler: places pending pods on nodes like upstream's kube-scheduler with its
//! default profile, as an ordinary API client (kube-rs watchers, `pods/binding`, events), elected
//! through the Lease `kube-system/kube-scheduler` so several servers can run it.
//!
//! - Pure, unit-tested logic: [`model`] (pods and nodes as plain data), [`cache`] (the cluster with
//!   assumed pods), [`plugins`] (upstream's filters and scores), [`algorithm`] (one decision),
//!   [`preemption`], [`queue`] (priority queue with backoff).
//! - I/O: [`informers`] (watches), [`scheduler`] (the loop and bindings), [`writer`] (events,
//!   conditions, evictions); the Lease through [`kubers_client::leader_election`], shared with the
//!   controller manager.

pub mod algorithm;
pub mod cache;
pub mod informers;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod queue;
pub mod scheduler;
pub mod writer;

use kubers_client::leader_election::{self, Election, Spawned};
use model::pod::DEFAULT_SCHEDULER;

/// Settings of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// The `schedulerName` served (`default-scheduler`).
    pub scheduler_name: String,
    /// This instance's identity in the Lease and in events (`<host>_<uuid>`).
    pub identity: String,
    /// Whether unschedulable pods may preempt lower-priority ones.
    pub preemption: bool,
}

impl SchedulerConfig {
    /// The default scheduler, identified by the host name plus a random UUID.
    pub fn new(host: &str) -> SchedulerConfig {
        SchedulerConfig {
            scheduler_name: DEFAULT_SCHEDULER.into(),
            identity: leader_election::identity(host),
            preemption: true,
        }
    }
}

/// Starts the scheduler on threads of its own (a two-worker runtime named `scheduler`, with its own
/// API client), so its CPU-bound loop never competes with the API server's tasks for their worker
/// threads when both run in one process.
pub fn start_on_own_threads(
    kube: kube::Config,
    config: SchedulerConfig,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("scheduler")
        .enable_all()
        .build()?;
    let client = {
        let _entered = runtime.enter();
        kubers_client::retry::client(kube).map_err(std::io::Error::other)?
    };
    std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || runtime.block_on(run(client, config)))
}

/// Runs the scheduler forever: waits for the Lease, then schedules while it holds it.
pub async fn run(client: kube::Client, config: SchedulerConfig) {
    let election = Election::new("kube-scheduler", config.identity.clone(), DEFAULT_SCHEDULER);
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
    leader_election::run(client.clone(), election, move || {
        Spawned::new(scheduler::run(client.clone(), loop_config.clone()))
    })
    .await;
}
