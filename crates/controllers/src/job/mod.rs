//! The Job controller, as upstream's: runs `parallelism` pods until `completions` succeeded (or,
//! without completions, until one succeeded and none runs), fails the Job past `backoffLimit` or
//! `activeDeadlineSeconds` (`FailureTarget` and `Failed` conditions), completes it
//! (`SuccessCriteriaMet`, `Complete`, `completionTime`), and counts finished pods through the
//! `batch.kubernetes.io/job-tracking` finalizer and `uncountedTerminatedPods`, so that no pod is
//! counted twice or lost. Indexed Jobs ([`indexed`]) run one pod per completion index and count
//! indexes instead, may fail single indexes ([`per_index`]: `backoffLimitPerIndex`,
//! `maxFailedIndexes`) and succeed early ([`success_policy`]). A [`failure_policy`] decides how pod
//! failures count; `podReplacementPolicy: Failed` replaces a pod only once it failed. Replacements
//! of failed pods wait out the [`backoff`] delay (the Job is queued again for when it ends). A
//! suspended Job (`spec.suspend`) runs no pods and has a true `Suspended` condition; a Job whose
//! `spec.managedBy` names another controller is left to it. [`sync`] is one pass over a Job.

pub mod backoff;
pub mod failure_policy;
pub mod indexed;
pub mod per_index;
pub mod rules;
pub mod success_policy;
mod sync;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use futures::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kubers_client::events::{NORMAL, Recorder, WARNING};
use serde_json::json;

use crate::error::{Error, Result, is_not_found};
use crate::expectations::Expectations;
use crate::informer::{Change, Informer, Informers};
use crate::pod_control::PodControl;
use crate::pods::{controller_of, controller_reference, from_template};
use crate::queue::{WorkQueue, key_of, run_workers};

pub use rules::finished;

/// The finalizer that keeps a finished pod until the Job counted it.
pub const TRACKING: &str = "batch.kubernetes.io/job-tracking";

/// Queue keys of pods whose Job is gone start with this.
const ORPHAN: &str = "orphan:";

/// The `spec.managedBy` value of Jobs this controller runs (unset means the same).
pub const JOB_CONTROLLER: &str = "kubernetes.io/job-controller";

/// Whether another controller runs the Job (`spec.managedBy` set to anything but
/// [`JOB_CONTROLLER`]).
pub fn managed_elsewhere(job: &Job) -> bool {
    job.spec
        .as_ref()
        .and_then(|spec| spec.managed_by.as_deref())
        .is_some_and(|manager| manager != JOB_CONTROLLER)
}

/// A Job's backoff record and the finished pods already in it (those still holding the tracking
/// finalizer, so that none is counted twice).
#[derive(Debug, Default)]
struct Kept {
    record: backoff::Record,
    seen: HashSet<String>,
}

/// The controller's caches and clients.
struct JobController {
    client: kube::Client,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Expectations,
    recorder: Recorder,
    /// The pod failure backoff delays.
    backoff: backoff::Backoff,
    /// Backoff records by Job key (in memory, as upstream's `backoffStore`).
    records: Mutex<HashMap<String, Kept>>,
}

fn phase(pod: &Pod) -> Option<&str> {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
}

fn has_tracking(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING)
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    start_with(client, informers, backoff::Backoff::default());
}

/// [`start`] with other pod failure backoff delays than upstream's.
pub fn start_with(client: kube::Client, informers: &Informers, backoff: backoff::Backoff) {
    let controller = Arc::new(JobController {
        recorder: Recorder::new(client.clone(), "job-controller"),
        client,
        jobs: informers.get::<Job>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
        expectations: Expectations::default(),
        backoff,
        records: Mutex::default(),
    });
    {
        let controller = Arc::clone(&controller);
        controller.jobs.clone().on_change(move |change| {
            let job = change.object();
            let key = key_of(&job.namespace().unwrap_or_default(), &job.name_any());
            if let Change::Deleted(_) = change {
                controller.expectations.forget(&key);
            }
            controller.queue.add(key);
        });
    }
    {
        let controller = Arc::clone(&controller);
        controller.pods.clone().on_change(move |change| {
            let pod = change.object();
            let Some(job) = controller.job_of(pod) else {
                // A pod whose Job is gone must not keep the tracking finalizer forever.
                let of_a_job =
                    controller_of(&pod.metadata).is_some_and(|owner| owner.kind == "Job");
                if has_tracking(pod) && of_a_job {
                    controller.queue.add(format!(
                        "{ORPHAN}{}",
                        key_of(&pod.namespace().unwrap_or_default(), &pod.name_any())
                    ));
                }
                return;
            };
            let key = key_of(&job.namespace().unwrap_or_default(), &job.name_any());
            let pod_key = key_of(&pod.namespace().unwrap_or_default(), &pod.name_any());
            match change {
                Change::Added(_) => controller.expectations.creation_observed(&key),
                Change::Deleted(_) => controller.expectations.deletion_observed(&key, &pod_key),
                Change::Updated { old, new } => {
                    if old.metadata.deletion_timestamp.is_none()
                        && new.metadata.deletion_timestamp.is_some()
                    {
                        controller.expectations.deletion_observed(&key, &pod_key);
                    }
                }
            }
            controller.queue.add(key);
        });
    }
    tokio::spawn(async move {
        controller.jobs.synced().await;
        controller.pods.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("job-controller", queue, 4, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

impl JobController {
    fn job_of(&self, pod: &Pod) -> Option<Arc<Job>> {
        let reference = controller_of(&pod.metadata)?;
        if reference.kind != "Job" {
            return None;
        }
        let job = self
            .jobs
            .get(&pod.namespace().unwrap_or_default(), &reference.name)?;
        (job.uid().as_deref() == Some(reference.uid.as_str())).then_some(job)
    }

    fn pods_api(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn write_status(&self, job: &Job, status: JobStatus) -> Result<()> {
        let mut updated = job.clone();
        updated.status = Some(status);
        let api: Api<Job> =
            Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        match api
            .replace_status(&job.name_any(), &PostParams::default(), &updated)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("updating the status of job {}", job.name_any()),
                source,
            }),
        }
    }

    async fn remove_tracking(&self, pod: &Pod) -> Result<()> {
        let kept: Vec<&String> = pod.finalizers().iter().filter(|f| *f != TRACKING).collect();
        let patch = json!({"metadata": {
            "finalizers": if kept.is_empty() { serde_json::Value::Null } else { json!(kept) },
            "resourceVersion": pod.resource_version(),
        }});
        match self
            .pods_api(&pod.namespace().unwrap_or_default())
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_not_found(&error) => Ok(()),
            Err(source) => Err(Error::Api {
                action: format!("removing the tracking finalizer of pod {}", pod.name_any()),
                source,
            }),
        }
    }

    /// The Job's backoff record with the finished pods `new_finished` tells (`Some(true)` for a
    /// success, `Some(false)` for a failure) that are not in it yet, among `owned`.
    fn backoff_record(
        &self,
        key: &str,
        owned: &[Arc<Pod>],
        new_finished: impl Fn(&Pod) -> Option<bool>,
    ) -> backoff::Record {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let kept = records.entry(key.to_owned()).or_default();
        let tracked: HashSet<String> = owned
            .iter()
            .filter(|pod| has_tracking(pod))
            .filter_map(|pod| pod.uid())
            .collect();
        kept.seen.retain(|uid| tracked.contains(uid));
        let (mut succeeded, mut failed) = (Vec::new(), Vec::new());
        for pod in owned.iter().filter(|pod| has_tracking(pod)) {
            let Some(uid) = pod.uid() else { continue };
            if kept.seen.contains(&uid) {
                continue;
            }
            let Some(success) = new_finished(pod) else {
                continue;
            };
            let finished = backoff::finished_at(pod);
            if success {
                succeeded.push(finished);
            } else {
                failed.push(finished);
            }
            kept.seen.insert(uid);
        }
        kept.record = kept.record.advance(succeeded, failed);
        kept.record
    }

    /// Forgets the backoff record of a Job gone or finished.
    fn forget_backoff(&self, key: &str) {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Deletes pods the Job no longer wants (surplus, repeated indexes, a suspended Job's), first
    /// letting go of their tracking finalizer so that they are not counted as failed (upstream's
    /// `deleteJobPods`).
    async fn delete_job_pods(&self, job: &Job, key: &str, pods: &[Arc<Pod>]) -> Result<()> {
        let released = join_all(
            pods.iter()
                .filter(|pod| has_tracking(pod))
                .map(|pod| self.remove_tracking(pod)),
        )
        .await;
        released.into_iter().collect::<Result<Vec<()>>>()?;
        self.delete_pods(job, key, pods).await
    }

    async fn delete_pods(&self, job: &Job, key: &str, pods: &[Arc<Pod>]) -> Result<()> {
        PodControl {
            client: &self.client,
            recorder: &self.recorder,
            expectations: &self.expectations,
        }
        .delete_pods(job, key, pods, &DeleteParams::background())
        .await
    }

    /// Creates one pod per entry: of that completion index for an Indexed Job, any for others;
    /// with `failure_counts` (`backoffLimitPerIndex`), each index's pod carries its counts.
    async fn create_pods(
        &self,
        job: &Job,
        key: &str,
        indexes: &[Option<i32>],
        failure_counts: Option<&BTreeMap<i32, (i32, i32)>>,
    ) -> Result<()> {
        let count = indexes.len();
        let Some(template) = job.spec.as_ref().map(|spec| spec.template.clone()) else {
            return Ok(());
        };
        let namespace = job.namespace().unwrap_or_default();
        let mut pod = from_template(&template, controller_reference(job), &namespace);
        let uid = job.uid().unwrap_or_default();
        let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
        for (label, value) in [
            ("batch.kubernetes.io/controller-uid", uid.clone()),
            ("controller-uid", uid),
            ("batch.kubernetes.io/job-name", job.name_any()),
            ("job-name", job.name_any()),
        ] {
            labels.entry(label.to_owned()).or_insert(value);
        }
        pod.metadata
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(TRACKING.to_owned());
        self.expectations.expect_creations(key, count);
        let api = self.pods_api(&namespace);
        let params = PostParams::default();
        let pods: Vec<Pod> = indexes
            .iter()
            .map(|index| {
                let mut pod = pod.clone();
                if let Some(index) = index {
                    indexed::assign(&mut pod, &job.name_any(), *index);
                    if let Some(counts) = failure_counts {
                        let counts = counts.get(index).copied().unwrap_or_default();
                        per_index::annotate(&mut pod, counts);
                    }
                }
                pod
            })
            .collect();
        let results = join_all(pods.iter().map(|pod| api.create(&params, pod))).await;
        let mut failure = None;
        for result in results {
            match result {
                Ok(made) => self.recorder.event(
                    job,
                    NORMAL,
                    "SuccessfulCreate",
                    format!("Created pod: {}", made.name_any()),
                ),
                Err(error) => {
                    self.expectations.creation_observed(key);
                    let terminating = matches!(&error, kube::Error::Api(status)
                        if status.code == 403 && status.message.contains("being terminated"));
                    if !terminating {
                        self.recorder.event(
                            job,
                            WARNING,
                            "FailedCreate",
                            format!("Error creating: {error}"),
                        );
                        failure.get_or_insert(error);
                    }
                }
            }
        }
        match failure {
            None => Ok(()),
            Some(source) => Err(Error::Api {
                action: format!("creating pods for job {key}"),
                source,
            }),
        }
    }

    /// Removes the tracking finalizer of a pod whose Job no longer exists.
    async fn release_orphan(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(pod) = self.pods.get(namespace, name) else {
            return Ok(());
        };
        if !has_tracking(&pod) || self.job_of(&pod).is_some() {
            return Ok(());
        }
        let Some(owner) = controller_of(&pod.metadata) else {
            return self.remove_tracking(&pod).await;
        };
        let api: Api<Job> = Api::namespaced(self.client.clone(), namespace);
        let live = api
            .get_opt(&owner.name)
            .await
            .map_err(|source| Error::Api {
                action: format!("reading job {}", owner.name),
                source,
            })?;
        if live.is_some_and(|job| job.uid().as_deref() == Some(owner.uid.as_str())) {
            return Ok(());
        }
        self.remove_tracking(&pod).await
    }

    async fn write_if_changed(&self, job: &Job, status: JobStatus) -> Result<()> {
        if job.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.write_status(job, status).await
    }
}
