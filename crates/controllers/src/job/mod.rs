//! The Job controller, as upstream's: runs `parallelism` pods until `completions` succeeded (or,
//! without completions, until one succeeded and none runs), fails the Job past `backoffLimit` or
//! `activeDeadlineSeconds` (`FailureTarget` and `Failed` conditions), completes it
//! (`SuccessCriteriaMet`, `Complete`, `completionTime`), and counts finished pods through the
//! `batch.kubernetes.io/job-tracking` finalizer and `uncountedTerminatedPods`, so that no pod is
//! counted twice or lost. Indexed Jobs ([`indexed`]) run one pod per completion index and count
//! indexes instead. Pod failure policies and `backoffLimitPerIndex` are not handled yet.

pub mod indexed;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::error::{Error, Result, is_not_found};
use crate::events::{NORMAL, Recorder, WARNING};
use crate::expectations::Expectations;
use crate::informer::{Change, Informer, Informers};
use crate::pod_control::PodControl;
use crate::pods::{controller_of, controller_reference, from_template, is_ready};
use crate::queue::{WorkQueue, key_of, run_workers};
use indexed::{Intervals, index_of, is_indexed};
use rules::{add_condition, condition, count, want_active};

pub use rules::finished;

/// The finalizer that keeps a finished pod until the Job counted it.
pub const TRACKING: &str = "batch.kubernetes.io/job-tracking";

/// Queue keys of pods whose Job is gone start with this.
const ORPHAN: &str = "orphan:";

/// The controller's caches and clients.
struct JobController {
    client: kube::Client,
    jobs: Arc<Informer<Job>>,
    pods: Arc<Informer<Pod>>,
    queue: Arc<WorkQueue<String>>,
    expectations: Expectations,
    recorder: Recorder,
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
    let controller = Arc::new(JobController {
        recorder: Recorder::new(client.clone(), "job-controller"),
        client,
        jobs: informers.get::<Job>(),
        pods: informers.get::<Pod>(),
        queue: WorkQueue::new(),
        expectations: Expectations::default(),
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

    async fn delete_pods(&self, job: &Job, key: &str, pods: &[Arc<Pod>]) -> Result<()> {
        PodControl {
            client: &self.client,
            recorder: &self.recorder,
            expectations: &self.expectations,
        }
        .delete_pods(job, key, pods, &DeleteParams::background())
        .await
    }

    /// Creates one pod per entry: of that completion index for an Indexed Job, any for others.
    async fn create_pods(&self, job: &Job, key: &str, indexes: &[Option<i32>]) -> Result<()> {
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

    async fn sync(&self, key: &str) -> Result<()> {
        if let Some(pod) = key.strip_prefix(ORPHAN) {
            return self.release_orphan(pod).await;
        }
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(job) = self.jobs.get(namespace, name) else {
            self.expectations.forget(key);
            return Ok(());
        };
        let uid = job.uid().unwrap_or_default();
        let owned: Vec<Arc<Pod>> = self
            .pods
            .list_namespace(namespace)
            .into_iter()
            .filter(|pod| controller_of(&pod.metadata).is_some_and(|owner| owner.uid == uid))
            .collect();
        let mut status = job.status.clone().unwrap_or_default();
        let indexed = is_indexed(&job);
        let completions = job
            .spec
            .as_ref()
            .and_then(|spec| spec.completions)
            .unwrap_or(0);
        let completed = Intervals::parse(
            status.completed_indexes.as_deref().unwrap_or(""),
            completions,
        );
        // An Indexed Job counts a succeeded pod by its index (once), not by its uid.
        let counted_index =
            |pod: &Pod| index_of(pod).is_none_or(|ix| ix >= completions || completed.has(ix));
        let mut new_indexes = BTreeSet::new();
        let uncounted = status.uncounted_terminated_pods.clone().unwrap_or_default();
        let mut uncounted_succeeded: BTreeSet<String> = uncounted
            .succeeded
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut uncounted_failed: BTreeSet<String> =
            uncounted.failed.unwrap_or_default().into_iter().collect();

        // 1. Finished pods still holding the finalizer join the uncounted ones (written first, so
        //    a crash between the steps never loses or doubles a count).
        let mut newly = false;
        for pod in owned.iter().filter(|pod| has_tracking(pod)) {
            let pod_uid = pod.uid().unwrap_or_default();
            if uncounted_succeeded.contains(&pod_uid) || uncounted_failed.contains(&pod_uid) {
                continue;
            }
            match phase(pod) {
                Some("Succeeded") if indexed => {
                    if !counted_index(pod)
                        && let Some(ix) = index_of(pod)
                    {
                        new_indexes.insert(ix);
                        newly = true;
                    }
                }
                Some("Succeeded") => {
                    uncounted_succeeded.insert(pod_uid);
                    newly = true;
                }
                Some("Failed") => {
                    uncounted_failed.insert(pod_uid);
                    newly = true;
                }
                _ if pod.metadata.deletion_timestamp.is_some() => {
                    uncounted_failed.insert(pod_uid);
                    newly = true;
                }
                _ => {}
            }
        }
        let uncounted_status = |succeeded: &BTreeSet<String>, failed: &BTreeSet<String>| {
            Some(UncountedTerminatedPods {
                succeeded: Some(succeeded.iter().cloned().collect()),
                failed: Some(failed.iter().cloned().collect()),
            })
        };
        let completed = completed.with(&new_indexes.into_iter().collect::<Vec<_>>());
        if indexed {
            let text = completed.to_string();
            status.completed_indexes = (!text.is_empty()).then_some(text);
        }
        if newly {
            if indexed {
                status.succeeded = Some(completed.total());
            }
            status.uncounted_terminated_pods =
                uncounted_status(&uncounted_succeeded, &uncounted_failed);
            return self.write_status(&job, status).await;
        }
        // 2. Counted pods let go of the finalizer.
        for pod in owned.iter().filter(|pod| has_tracking(pod)) {
            let pod_uid = pod.uid().unwrap_or_default();
            let counted = uncounted_succeeded.contains(&pod_uid)
                || uncounted_failed.contains(&pod_uid)
                || (indexed && phase(pod) == Some("Succeeded") && counted_index(pod));
            if counted {
                self.remove_tracking(pod).await?;
            }
        }
        // 3. Uncounted pods without the finalizer (or gone) move into the counters.
        let still_tracked = |pod_uid: &String| {
            owned
                .iter()
                .any(|pod| pod.uid().as_ref() == Some(pod_uid) && has_tracking(pod))
        };
        let mut succeeded = status.succeeded.unwrap_or(0);
        let mut failed = status.failed.unwrap_or(0);
        uncounted_succeeded.retain(|pod_uid| {
            let keep = still_tracked(pod_uid);
            if !keep {
                succeeded += 1;
            }
            keep
        });
        uncounted_failed.retain(|pod_uid| {
            let keep = still_tracked(pod_uid);
            if !keep {
                failed += 1;
            }
            keep
        });
        status.uncounted_terminated_pods =
            uncounted_status(&uncounted_succeeded, &uncounted_failed);
        if indexed {
            succeeded = completed.total();
        }
        status.succeeded = Some(succeeded);
        status.failed = Some(failed);
        let pending_count = uncounted_succeeded.len() + uncounted_failed.len();
        // Decisions count the finished pods not moved into the counters yet as well.
        let succeeded = succeeded + count(uncounted_succeeded.len());
        let failed = failed + count(uncounted_failed.len());
        let active: Vec<Arc<Pod>> = owned
            .iter()
            .filter(|pod| {
                !matches!(phase(pod), Some("Succeeded" | "Failed"))
                    && pod.metadata.deletion_timestamp.is_none()
            })
            .cloned()
            .collect();
        let terminating = owned
            .iter()
            .filter(|pod| {
                pod.metadata.deletion_timestamp.is_some()
                    && !matches!(phase(pod), Some("Succeeded" | "Failed"))
            })
            .count();
        if finished(&job) {
            status.active = Some(0);
            status.ready = Some(0);
            status.terminating = Some(count(terminating));
            return self.write_if_changed(&job, status).await;
        }
        let spec = job.spec.clone().unwrap_or_default();
        let now = Timestamp::now();
        if status.start_time.is_none() && !spec.suspend.unwrap_or(false) {
            status.start_time = Some(Time(now));
        }
        let over_deadline = spec
            .active_deadline_seconds
            .zip(status.start_time.as_ref())
            .map(|(deadline, start)| start.0.as_second() + deadline - now.as_second());
        let failure = if failed > spec.backoff_limit.unwrap_or(6) {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if over_deadline.is_some_and(|left| left <= 0) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
        let complete = match spec.completions {
            Some(completions) => succeeded >= completions,
            None => succeeded > 0 && active.is_empty(),
        };
        let mut active_count = active.len();
        if let Some((reason, message)) = failure {
            self.delete_pods(&job, key, &active).await?;
            active_count = 0;
            add_condition(&mut status, condition("FailureTarget", reason, message));
            // `Failed` once every finished pod is in the counters (upstream's order).
            if pending_count == 0 {
                add_condition(&mut status, condition("Failed", reason, message));
                self.recorder.event(&*job, WARNING, reason, message);
            }
        } else if complete {
            self.delete_pods(&job, key, &active).await?;
            active_count = 0;
            let message = "Reached expected number of succeeded pods";
            add_condition(
                &mut status,
                condition("SuccessCriteriaMet", "CompletionsReached", message),
            );
            // `Complete` once every finished pod is in the counters (upstream's order).
            if pending_count == 0 {
                add_condition(
                    &mut status,
                    condition("Complete", "CompletionsReached", message),
                );
                status.completion_time = Some(Time(now));
                self.recorder
                    .event(&*job, NORMAL, "Completed", "Job completed");
            }
        } else if self.expectations.satisfied(key) {
            // Indexed Jobs first drop pods repeating an index or outside the range.
            let (extra, active) = if indexed {
                indexed::duplicates(&active, completions)
            } else {
                (Vec::new(), active.clone())
            };
            let want =
                usize::try_from(want_active(&job, count(active.len()), succeeded)).unwrap_or(0);
            active_count = active.len().min(want);
            if !extra.is_empty() {
                // Deletions first; creations wait for the next pass (upstream's order).
                self.delete_pods(&job, key, &extra).await?;
            } else if active.len() < want {
                let indexes: Vec<Option<i32>> = if indexed {
                    indexed::first_pending(&active, &completed, want - active.len(), completions)
                        .into_iter()
                        .map(Some)
                        .collect()
                } else {
                    vec![None; want - active.len()]
                };
                active_count = active.len() + indexes.len();
                self.create_pods(&job, key, &indexes).await?;
            } else if active.len() > want {
                let mut surplus = active.clone();
                // Not-ready and newest pods go first.
                surplus.sort_by_key(|pod| {
                    (
                        is_ready(pod),
                        std::cmp::Reverse(pod.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                    )
                });
                surplus.truncate(active.len() - want);
                self.delete_pods(&job, key, &surplus).await?;
            }
            if let Some(left) = over_deadline.filter(|left| *left > 0) {
                self.queue.add_after(
                    key.to_owned(),
                    Duration::from_secs(u64::try_from(left).unwrap_or(0) + 1),
                );
            }
        }
        status.active = Some(count(active_count));
        status.ready = Some(count(active.iter().filter(|pod| is_ready(pod)).count()));
        status.terminating = Some(count(terminating));
        self.write_if_changed(&job, status).await
    }

    async fn write_if_changed(&self, job: &Job, status: JobStatus) -> Result<()> {
        if job.status.as_ref() == Some(&status) {
            return Ok(());
        }
        self.write_status(job, status).await
    }
}
