//! Leader election through a Lease, as client-go's `leaderelection` with upstream's defaults (15 s
//! lease, 10 s renew deadline, 2 s retry period), shared by the controller manager
//! (`kube-system/kube-controller-manager`) and the scheduler (`kube-system/kube-scheduler`): only
//! the holder works, so several servers can run both and one of each acts.
//!
//! A lease held by someone else counts as expired once it has not changed for its
//! `leaseDurationSeconds` *as observed locally*, so clock skew between servers does not matter.
//! Acquiring records upstream's `LeaderElection` event `<identity> became leader` on the Lease;
//! losing it records `<identity> stopped leading`.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::events::{NORMAL, Recorder};

/// The reason of the events an election records.
pub const REASON: &str = "LeaderElection";

/// Settings of an election.
#[derive(Debug, Clone)]
pub struct Election {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (`<hostname>_<uuid>`, see [`identity`]).
    pub identity: String,
    /// The source component of the election's events (`kube-controller-manager`,
    /// `default-scheduler`).
    pub component: &'static str,
    /// How long a lease lasts without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down.
    pub renew_deadline: Duration,
    /// How often candidates retry and the leader renews.
    pub retry_period: Duration,
}

impl Election {
    /// Upstream's defaults for the Lease `kube-system/<name>`.
    pub fn new(name: &str, identity: String, component: &'static str) -> Election {
        Election {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            component,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// A candidate identity as upstream's components make it: the host name, `_`, a random UUID.
pub fn identity(host: &str) -> String {
    format!("{host}_{}", uuid::Uuid::new_v4())
}

/// Runs forever: campaigns for the lease, calls `lead` on acquiring it, and drops what `lead`
/// returned (the term's guard, e.g. [`Spawned`]) as soon as the lease is lost, then campaigns again.
pub async fn run<G>(client: kube::Client, election: Election, mut lead: impl FnMut() -> G) {
    let mut elector = Elector::new(client, election);
    loop {
        let lease = elector.acquire().await;
        let term = lead();
        elector.hold(lease).await;
        drop(term);
    }
}

/// A task that is aborted when this guard is dropped: the usual term of leadership.
#[derive(Debug)]
pub struct Spawned(JoinHandle<()>);

impl Spawned {
    /// Spawns `work` on the current runtime.
    pub fn new(work: impl Future<Output = ()> + Send + 'static) -> Spawned {
        Spawned(tokio::spawn(work))
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One candidate's view of the election.
struct Elector {
    leases: Api<Lease>,
    recorder: Recorder,
    election: Election,
    /// The lease spec as last seen, and when it was seen to change.
    observed: Option<LeaseSpec>,
    observed_at: Instant,
}

/// The outcome of one attempt to acquire or renew.
enum Attempt {
    /// The lease is ours (now), as written.
    Held(Box<Lease>),
    /// Someone else holds a lease that has not expired.
    HeldByOther(String),
}

impl Elector {
    fn new(client: kube::Client, election: Election) -> Elector {
        Elector {
            leases: Api::namespaced(client.clone(), &election.namespace),
            recorder: Recorder::new(client, election.component),
            election,
            observed: None,
            observed_at: Instant::now(),
        }
    }

    /// Retries every retry period (with upstream's jitter) until the lease is ours; returns it as
    /// written.
    async fn acquire(&mut self) -> Box<Lease> {
        let election = self.election.clone();
        tracing::info!(identity = %election.identity, "attempting to acquire leader lease {}...", self.lease_name());
        loop {
            match tokio::time::timeout(election.renew_deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Held(lease))) => {
                    tracing::info!(identity = %election.identity, "successfully acquired lease {}", self.lease_name());
                    self.record(&lease, "became leader");
                    return lease;
                }
                Ok(Ok(Attempt::HeldByOther(holder))) => {
                    tracing::debug!(%holder, "lease {} is held by another candidate", self.lease_name());
                }
                Ok(Err(error)) => {
                    tracing::debug!(%error, "error retrieving resource lock {}", self.lease_name())
                }
                Err(_) => {
                    tracing::debug!("acquiring lease {} timed out", self.lease_name())
                }
            }
            // wait.JitterUntil with a jitter factor of 1.2.
            let jitter = election.retry_period.mul_f64(1.2 * rand::random::<f64>());
            tokio::time::sleep(election.retry_period + jitter).await;
        }
    }

    /// Renews every retry period; returns once a renewal could not be made within the renew
    /// deadline, or another candidate is seen holding the lease.
    async fn hold(&mut self, mut last: Box<Lease>) {
        let election = self.election.clone();
        loop {
            tokio::time::sleep(election.retry_period).await;
            let deadline = Instant::now() + election.renew_deadline;
            let renewed = loop {
                match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                    Ok(Ok(Attempt::Held(lease))) => break Some(lease),
                    Ok(Ok(Attempt::HeldByOther(holder))) => {
                        tracing::warn!(%holder, "lease {} was taken by another candidate", self.lease_name());
                        break None;
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "renewing lease {} failed", self.lease_name());
                    }
                    Err(_) => break None,
                }
                if Instant::now() + election.retry_period >= deadline {
                    break None;
                }
                tokio::time::sleep(election.retry_period).await;
            };
            match renewed {
                Some(lease) => last = lease,
                None => break,
            }
        }
        tracing::error!(identity = %election.identity, "failed to renew lease {}: leaderelection lost", self.lease_name());
        self.record(&last, "stopped leading");
    }

    fn lease_name(&self) -> String {
        format!("{}/{}", self.election.namespace, self.election.name)
    }

    /// Records `<identity> <what>` on the Lease, as client-go's `LeaseLock.RecordEvent`.
    fn record(&self, lease: &Lease, what: &str) {
        self.recorder.event(
            lease,
            NORMAL,
            REASON,
            format!("{} {what}", self.election.identity),
        );
    }

    /// One attempt: creates the Lease if there is none, else takes or renews it when [`claim`]
    /// allows.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let now = MicroTime(jiff::Timestamp::now());
        let Some(mut lease) = self.leases.get_opt(&self.election.name).await? else {
            let election = &self.election;
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(election.name.clone()),
                    namespace: Some(election.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    lease_transitions: Some(0),
                    ..claim(&LeaseSpec::default(), election, Duration::MAX, now).unwrap_or_default()
                }),
            };
            let created = self.leases.create(&PostParams::default(), &lease).await?;
            self.observe(created.spec.clone());
            return Ok(Attempt::Held(Box::new(created)));
        };
        let spec = lease.spec.clone().unwrap_or_default();
        if self.observed.as_ref() != Some(&spec) {
            self.observe(Some(spec.clone()));
        }
        let Some(claimed) = claim(&spec, &self.election, self.observed_at.elapsed(), now) else {
            return Ok(Attempt::HeldByOther(
                spec.holder_identity.unwrap_or_default(),
            ));
        };
        lease.spec = Some(claimed);
        let updated = self
            .leases
            .replace(&self.election.name, &PostParams::default(), &lease)
            .await?;
        self.observe(updated.spec.clone());
        Ok(Attempt::Held(Box::new(updated)))
    }

    fn observe(&mut self, spec: Option<LeaseSpec>) {
        self.observed = spec;
        self.observed_at = Instant::now();
    }
}

/// The lease spec that makes this candidate the holder, or `None` while another holder's lease has
/// changed within its duration (`unchanged_for`: how long it has looked the same from here).
/// Taking the lease over counts a transition and sets the acquire time; renewing keeps both.
pub fn claim(
    spec: &LeaseSpec,
    election: &Election,
    unchanged_for: Duration,
    now: MicroTime,
) -> Option<LeaseSpec> {
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let ours = holder == election.identity;
    let held_by_other = !holder.is_empty() && !ours;
    let their_duration = spec
        .lease_duration_seconds
        .map(|seconds| Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
        .unwrap_or(election.lease_duration);
    if held_by_other && unchanged_for < their_duration {
        return None;
    }
    Some(LeaseSpec {
        holder_identity: Some(election.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(election.lease_duration.as_secs()).unwrap_or(i32::MAX),
        ),
        acquire_time: if ours {
            spec.acquire_time.clone()
        } else {
            Some(now.clone())
        },
        renew_time: Some(now),
        lease_transitions: Some(spec.lease_transitions.unwrap_or(0) + i32::from(!ours)),
        ..spec.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> MicroTime {
        MicroTime(jiff::Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn leases_change_hands_only_when_stale() {
        let election = Election::new("kube-scheduler", "me".into(), "default-scheduler");
        let theirs = LeaseSpec {
            holder_identity: Some("them".into()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(at(1)),
            renew_time: Some(at(100)),
            lease_transitions: Some(2),
            ..LeaseSpec::default()
        };
        assert!(claim(&theirs, &election, Duration::from_secs(14), at(200)).is_none());
        let taken = claim(&theirs, &election, Duration::from_secs(15), at(200)).unwrap();
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        assert_eq!(taken.lease_transitions, Some(3));
        assert_eq!(taken.acquire_time, Some(at(200)));
        // Renewing our own lease keeps the acquire time and the transitions.
        let renewed = claim(&taken, &election, Duration::ZERO, at(202)).unwrap();
        assert_eq!(renewed.acquire_time, Some(at(200)));
        assert_eq!(renewed.renew_time, Some(at(202)));
        assert_eq!(renewed.lease_transitions, Some(3));
        // A released lease (no holder) is free.
        let released = LeaseSpec::default();
        assert!(claim(&released, &election, Duration::ZERO, at(1)).is_some());
    }

    #[test]
    fn a_new_lease_starts_with_no_transitions() {
        let election = Election::new("kube-controller-manager", "me".into(), "x");
        let first = LeaseSpec {
            lease_transitions: Some(0),
            ..claim(&LeaseSpec::default(), &election, Duration::MAX, at(5)).unwrap()
        };
        assert_eq!(first.holder_identity.as_deref(), Some("me"));
        assert_eq!(first.lease_duration_seconds, Some(15));
        assert_eq!(first.acquire_time, Some(at(5)));
        assert_eq!(first.renew_time, Some(at(5)));
        assert_eq!(first.lease_transitions, Some(0));
    }

    #[test]
    fn identities_are_host_and_uuid() {
        let id = identity("node-1");
        let (host, uuid) = id.split_once('_').unwrap();
        assert_eq!(host, "node-1");
        assert!(uuid::Uuid::parse_str(uuid).is_ok());
        assert_ne!(identity("node-1"), id);
    }
}
