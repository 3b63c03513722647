//! The kubers controller manager: control loops, each an ordinary API client that reads shared
//! informer caches, queues keys in rate-limited work queues and writes through the API server.
//!
//! - [`manager`]: the controller manager elected through the Lease
//!   `kube-system/kube-controller-manager` ([`kubers_client::leader_election`], which the
//!   scheduler uses too).
//! - [`informer`], [`queue`], [`discovery`]: the shared machinery; events, retries and leader
//!   election come from [`kubers_client`], shared with the scheduler and the kubelet.
//! - [`namespace`]: empties terminating namespaces and finalizes them.
//! - [`garbage_collector`]: deletes dependents of deleted owners (background, foreground, orphan).
//! - [`service_account`], [`root_ca`]: the `default` ServiceAccount and the `kube-root-ca.crt`
//!   ConfigMap in every namespace.
//! - [`replica_set`]: ReplicaSets and ReplicationControllers keep their pods ([`pods`],
//!   [`selector`], [`expectations`]).
//! - [`deployment`]: Deployments roll out ReplicaSets.
//! - [`endpoints`]: Endpoints and EndpointSlices of Services with selectors.
//! - [`pod_gc`]: pods of deleted nodes, and finished pods beyond the threshold.
//! - [`job`]: Jobs run pods to completion or fail past their limits.
//! - [`cron_job`]: CronJobs create Jobs on their schedule.
//! - [`ttl_after_finished`]: finished Jobs go after their `ttlSecondsAfterFinished`.
//! - [`daemon_set`]: one pod per eligible Node.
//! - [`stateful_set`]: pods with stable names, in order.
//! - [`history`]: ControllerRevisions, the template history of DaemonSets and StatefulSets.
//! - [`node_lifecycle`]: silent nodes go Unknown and get tainted; NoExecute taints evict.
//! - [`node_ipam`]: gives every Node a pod CIDR (a `/24` of the cluster CIDR).
//! - [`persistent_volume`]: binds claims to volumes, releases and reclaims volumes.
//! - [`local_path`]: provisions `hostPath` volumes for `rancher.io/local-path` claims.
//! - [`pvc_protection`], [`pv_protection`] ([`protection`]): claims in use by pods and bound
//!   volumes keep their `StorageObjectInUseProtection` finalizers.
//! - [`resource_quota`]: the usage of every ResourceQuota.
//! - [`disruption`]: the status of every PodDisruptionBudget.

pub mod cron_job;
pub mod daemon_set;
pub mod deployment;
pub mod discovery;
pub mod disruption;
pub mod endpoints;
pub mod error;
pub mod expectations;
pub mod garbage_collector;
pub mod history;
pub mod informer;
pub mod job;
pub mod local_path;
pub mod manager;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod persistent_volume;
pub mod pod_control;
pub mod pod_gc;
pub mod pods;
pub mod protection;
pub mod pv_protection;
pub mod pvc_protection;
pub mod queue;
pub mod replica_set;
pub mod resource_quota;
pub mod root_ca;
pub mod selector;
pub mod service_account;
pub mod stateful_set;
pub mod ttl_after_finished;

use k8s_openapi::api::core::v1::Namespace;

/// Runs every controller until one of them ends, unelected (see [`manager::run_elected`]).
pub async fn run(client: kube::Client, config: ControllerConfig) {
    let informers = informer::Informers::new(client.clone());
    namespace::start(client.clone(), &informers);
    service_account::start(client.clone(), &informers);
    replica_set::start::<k8s_openapi::api::apps::v1::ReplicaSet>(client.clone(), &informers);
    replica_set::start::<k8s_openapi::api::core::v1::ReplicationController>(
        client.clone(),
        &informers,
    );
    match config.root_ca_file.as_deref().map(std::fs::read_to_string) {
        Some(Ok(ca)) => root_ca::start(client.clone(), &informers, ca),
        Some(Err(error)) => {
            tracing::error!(%error, "cannot read the cluster CA; not publishing it")
        }
        None => {}
    }
    deployment::start(client.clone(), &informers);
    daemon_set::start(client.clone(), &informers);
    stateful_set::start(client.clone(), &informers);
    node_lifecycle::start(client.clone(), &informers);
    endpoints::start(client.clone(), &informers);
    pod_gc::start(client.clone(), &informers);
    job::start(client.clone(), &informers);
    cron_job::start(client.clone(), &informers);
    ttl_after_finished::start(client.clone(), &informers);
    garbage_collector::start(client.clone(), &informers);
    persistent_volume::start(client.clone(), &informers);
    pvc_protection::start(client.clone(), &informers);
    pv_protection::start(client.clone(), &informers);
    resource_quota::start(client.clone(), &informers);
    disruption::start(client.clone(), &informers);
    local_path::start(
        client.clone(),
        &informers,
        config.local_storage_path.display().to_string(),
    );
    informers.start();
    node_ipam::run(client, config.cluster_cidr).await;
}

/// The user agent of the controller manager's requests: upstream's, so that its writes are recorded
/// in `managedFields` under the manager `kube-controller-manager`.
pub const USER_AGENT: &str = "kube-controller-manager/v1.34.0 (linux/amd64) kubernetes/kubers";

/// A client for the controllers from the admin `config`, identified as `kube-controller-manager`.
pub fn client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    kubers_client::retry::client(config)
}

/// Settings shared by the controllers.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// The pod network of the cluster, split into per-node `/24`s.
    pub cluster_cidr: node_ipam::Ipv4Range,
    /// The cluster CA certificate (PEM) to publish as `kube-root-ca.crt` in every namespace.
    pub root_ca_file: Option<std::path::PathBuf>,
    /// Where the local-path provisioner makes volumes on nodes (k3s's
    /// `--default-local-storage-path`, `<data-dir>/storage` by default).
    pub local_storage_path: std::path::PathBuf,
}

/// Whether a namespace takes new content (it exists and is not being terminated).
fn active(namespace: &Namespace) -> bool {
    namespace.metadata.deletion_timestamp.is_none()
        && namespace
            .status
            .as_ref()
            .and_then(|status| status.phase.as_deref())
            != Some("Terminating")
}
