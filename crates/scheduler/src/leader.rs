//! Leader election through a Lease (`kube-system/kube-scheduler`), as client-go's `leaderelection`
//! with upstream's defaults (15 s lease, 10 s renew deadline, 2 s retry): only the holder
//! schedules, so several servers can run the scheduler and one acts. A lease held by someone else
//! counts as expired once it has not changed for a lease duration *as observed locally*, so clock
//! skew between servers does not matter.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::time::Instant;

/// Settings of an election.
#[derive(Debug, Clone)]
pub struct Election {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (`<hostname>_<random>`).
    pub identity: String,
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often candidates retry and the leader renews.
    pub retry_period: Duration,
}

impl Election {
    /// Upstream's defaults for `kube-system/<name>`.
    pub fn new(name: &str, identity: String) -> Election {
        Election {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// The lease as last seen, and when it was seen to change.
struct Observed {
    spec: Option<LeaseSpec>,
    changed_at: Instant,
}

/// Runs `lead` whenever this candidate holds the lease, forever: it is started on acquiring the
/// lease and dropped when a renewal cannot be made within the renew deadline.
pub async fn run<F, Fut>(client: kube::Client, election: Election, lead: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let leases: Api<Lease> = Api::namespaced(client, &election.namespace);
    let mut observed = Observed {
        spec: None,
        changed_at: Instant::now(),
    };
    loop {
        // Candidate: retry until the lease is ours.
        loop {
            match try_acquire_or_renew(&leases, &election, &mut observed).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(error) => tracing::debug!(%error, "acquiring the scheduler lease failed"),
            }
            tokio::time::sleep(election.retry_period).await;
        }
        tracing::info!(identity = %election.identity, lease = %election.name, "became leader");
        let work = tokio::spawn(lead());
        // Leader: renew until a renewal is overdue.
        let mut renewed_at = Instant::now();
        loop {
            tokio::time::sleep(election.retry_period).await;
            match try_acquire_or_renew(&leases, &election, &mut observed).await {
                Ok(true) => renewed_at = Instant::now(),
                Ok(false) => break,
                Err(error) => {
                    tracing::warn!(%error, "renewing the scheduler lease failed");
                    if renewed_at.elapsed() > election.renew_deadline {
                        break;
                    }
                }
            }
        }
        work.abort();
        tracing::warn!(identity = %election.identity, lease = %election.name, "lost leadership");
    }
}

/// One attempt: `Ok(true)` when the lease is (now) ours.
async fn try_acquire_or_renew(
    leases: &Api<Lease>,
    election: &Election,
    observed: &mut Observed,
) -> Result<bool, kube::Error> {
    let now = MicroTime(jiff::Timestamp::now());
    let duration = i32::try_from(election.lease_duration.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = leases.get_opt(&election.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(election.name.clone()),
                namespace: Some(election.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(election.identity.clone()),
                lease_duration_seconds: Some(duration),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        leases.create(&PostParams::default(), &lease).await?;
        return Ok(true);
    };
    let spec = lease.spec.clone().unwrap_or_default();
    if observed.spec.as_ref() != Some(&spec) {
        observed.spec = Some(spec.clone());
        observed.changed_at = Instant::now();
    }
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let ours = holder == election.identity;
    let held_by_other = !holder.is_empty() && !ours;
    let their_duration = spec
        .lease_duration_seconds
        .map(|seconds| Duration::from_secs(seconds.max(0) as u64))
        .unwrap_or(election.lease_duration);
    if held_by_other && observed.changed_at.elapsed() < their_duration {
        return Ok(false);
    }
    let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
    lease.spec = Some(LeaseSpec {
        holder_identity: Some(election.identity.clone()),
        lease_duration_seconds: Some(duration),
        acquire_time: if ours {
            spec.acquire_time.clone()
        } else {
            Some(now.clone())
        },
        renew_time: Some(now),
        lease_transitions: Some(transitions),
        ..spec
    });
    let updated = leases
        .replace(&election.name, &PostParams::default(), &lease)
        .await?;
    observed.spec = updated.spec;
    observed.changed_at = Instant::now();
    Ok(true)
}
