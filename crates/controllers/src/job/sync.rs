//! One pass over a Job, in upstream's order: finished pods are first recorded in
//! `uncountedTerminatedPods` (and succeeded or failed indexes in `completedIndexes` and
//! `failedIndexes`), then let go of the tracking finalizer, then moved into the counters; only then
//! does the Job decide whether it ends (a `FailJob` rule, `backoffLimit`, `activeDeadlineSeconds`,
//! `maxFailedIndexes`, failed indexes, `successPolicy`, completions) or which pods to create or
//! remove. The interim condition is written first; the final one once no pod is left to count or
//! terminating. Replacements wait out the pod failure backoff; a suspended Job deletes its pods and
//! stops its deadline, and restarts it when resumed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::UncountedTerminatedPods;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kubers_client::events::{NORMAL, WARNING};

use super::backoff::remaining_per_index;
use super::failure_policy;
use super::indexed::{self, Intervals, index_of, is_indexed};
use super::per_index;
use super::rules::{
    Target, add_condition, condition, count, ensure_condition, finished, has_true_condition,
    only_replace_failed, past_backoff_limit_on_failure, pod_failed, want_active,
};
use super::success_policy;
use super::{JobController, ORPHAN, has_tracking, managed_elsewhere, phase};
use crate::error::Result;
use crate::pods::{controller_of, is_ready};

fn is_finished(pod: &Pod) -> bool {
    matches!(phase(pod), Some("Succeeded" | "Failed"))
}

/// The shortest wait the queue takes for a Job (upstream's `syncJobBatchPeriod`).
const MIN_REQUEUE: Duration = Duration::from_secs(1);

impl JobController {
    pub(super) async fn sync(&self, key: &str) -> Result<()> {
        if let Some(pod) = key.strip_prefix(ORPHAN) {
            return self.release_orphan(pod).await;
        }
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(job) = self.jobs.get(namespace, name) else {
            self.expectations.forget(key);
            self.forget_backoff(key);
            return Ok(());
        };
        // Another controller runs it (checked here too: the Job may have been replaced since it
        // was queued).
        if managed_elsewhere(&job) {
            return Ok(());
        }
        let uid = job.uid().unwrap_or_default();
        let owned: Vec<Arc<Pod>> = self
            .pods
            .list_namespace(namespace)
            .into_iter()
            .filter(|pod| controller_of(&pod.metadata).is_some_and(|owner| owner.uid == uid))
            .collect();
        let mut status = job.status.clone().unwrap_or_default();
        let spec = job.spec.clone().unwrap_or_default();
        let indexed = is_indexed(&job);
        let completions = spec.completions.unwrap_or(0);
        let policy = spec.pod_failure_policy.as_ref();
        let only_failed = only_replace_failed(&spec);
        let is_failed = |pod: &Pod| pod_failed(pod, only_failed);
        let per_index = indexed && spec.backoff_limit_per_index.is_some();
        // A target an earlier pass recorded stands; every pod may then let go of its finalizer.
        let recorded = Target::recorded(&status);
        let valid_index = |pod: &Pod| index_of(pod).filter(|ix| *ix < completions);
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

        // Failed indexes (with `backoffLimitPerIndex`): those recorded, and those the failure of a
        // pod not counted yet fails now.
        let failed_indexes = per_index.then(|| {
            let fresh: BTreeSet<i32> = owned
                .iter()
                .filter(|pod| has_tracking(pod))
                .filter(|pod| per_index::fails_index(&spec, pod, is_failed(pod)))
                .filter_map(|pod| valid_index(pod))
                .collect();
            Intervals::parse(status.failed_indexes.as_deref().unwrap_or(""), completions)
                .with(&fresh.into_iter().collect::<Vec<_>>())
        });
        let failed_text = failed_indexes.as_ref().map(ToString::to_string);
        let mut newly = status.failed_indexes != failed_text;
        status.failed_indexes = failed_text;

        // The backoff record with the pods finished since the last pass (upstream's
        // `getNewFinishedPods`).
        let record = self.backoff_record(key, &owned, |pod| {
            let pod_uid = pod.uid().unwrap_or_default();
            if uncounted_succeeded.contains(&pod_uid)
                || uncounted_failed.contains(&pod_uid)
                || (indexed && valid_index(pod).is_none())
            {
                return None;
            }
            if phase(pod) == Some("Succeeded") {
                Some(true)
            } else {
                is_failed(pod).then_some(false)
            }
        });

        // 1. Finished pods still holding the finalizer join the uncounted ones (written first, so
        //    a crash between the steps never loses or doubles a count).
        let failing = recorded.as_ref().is_some_and(|target| !target.success);
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
                // A failing Job counts all its unfinished pods as failed. Pods outside an Indexed
                // Job's indexes, and failures an `Ignore` rule matches, are not counted.
                _ if is_failed(pod) || failing => {
                    let counts = (!indexed || valid_index(pod).is_some())
                        && failure_policy::matches(policy, pod).counts;
                    if counts {
                        uncounted_failed.insert(pod_uid);
                        newly = true;
                    }
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

        let active: Vec<Arc<Pod>> = owned
            .iter()
            .filter(|pod| !is_finished(pod) && pod.metadata.deletion_timestamp.is_none())
            .cloned()
            .collect();
        let terminating_pods: Vec<&Arc<Pod>> = owned
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_some() && !is_finished(pod))
            .collect();
        let terminating = terminating_pods.len();
        // The last failed pod of an index waiting for its replacement keeps its finalizer, so the
        // replacement can carry the index's failure counts.
        let delayed = if per_index && recorded.is_none() {
            let active_indexes: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
            let failed = failed_indexes.clone().unwrap_or_default();
            per_index::delayed(
                owned.iter().filter(|pod| {
                    has_tracking(pod) && is_failed(pod) && valid_index(pod).is_some()
                }),
                |ix| !completed.has(ix) && !failed.has(ix) && !active_indexes.contains(&ix),
            )
        } else {
            BTreeMap::new()
        };
        let kept = |pod: &Pod| delayed.values().any(|kept| kept.uid() == pod.uid());

        // 2. Counted pods (and failures not to count) let go of the finalizer.
        for pod in owned.iter().filter(|pod| has_tracking(pod)) {
            let pod_uid = pod.uid().unwrap_or_default();
            let uncounted =
                uncounted_succeeded.contains(&pod_uid) || uncounted_failed.contains(&pod_uid);
            let removable = recorded.is_some()
                || (indexed && phase(pod) == Some("Succeeded") && counted_index(pod))
                || ((uncounted || is_failed(pod)) && !kept(pod));
            if removable {
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
        if finished(&job) {
            self.forget_backoff(key);
            status.active = Some(0);
            status.ready = Some(0);
            status.terminating = Some(count(terminating));
            return self.write_if_changed(&job, status).await;
        }

        // 4. Whether the Job ends, else which pods to create or remove.
        let now = Timestamp::now();
        let suspended = spec.suspend.unwrap_or(false);
        if status.start_time.is_none() && !suspended {
            status.start_time = Some(Time(now));
        }
        // A suspended Job's deadline is stopped; a resumed one's starts again now (the start time
        // is reset below), so suspended time never counts.
        let resuming = !suspended && has_true_condition(&status, "Suspended");
        let deadline_start = if resuming {
            Some(now)
        } else {
            status.start_time.as_ref().map(|start| start.0)
        };
        let over_deadline = spec
            .active_deadline_seconds
            .zip(deadline_start)
            .filter(|_| !suspended)
            .map(|(deadline, start)| start.as_second() + deadline - now.as_second());
        let target = recorded.or_else(|| {
            let fail_job = policy.and_then(|_| {
                owned
                    .iter()
                    .filter(|pod| is_failed(pod))
                    .find_map(|pod| failure_policy::matches(policy, pod).fail_job)
            });
            if let Some(message) = fail_job {
                return Some(Target::failure("PodFailurePolicy", &message));
            }
            if failed > spec.backoff_limit.unwrap_or(6)
                || past_backoff_limit_on_failure(&spec, owned.iter())
            {
                return Some(Target::failure(
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ));
            }
            if over_deadline.is_some_and(|left| left <= 0) {
                return Some(Target::failure(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                ));
            }
            if let Some(failed) = &failed_indexes {
                if spec
                    .max_failed_indexes
                    .is_some_and(|max| failed.total() > max)
                {
                    return Some(Target::failure(
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                    ));
                }
                if failed.total() > 0 && failed.total() + completed.total() >= completions {
                    return Some(Target::failure("FailedIndexes", "Job has failed indexes"));
                }
            }
            if indexed
                && let Some(message) =
                    success_policy::matched(spec.success_policy.as_ref(), completions, &completed)
            {
                return Some(Target::success("SuccessPolicy", &message));
            }
            let complete = match spec.completions {
                Some(completions) => succeeded >= completions,
                None => succeeded > 0 && active.is_empty(),
            };
            complete.then(|| {
                Target::success(
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                )
            })
        });
        let mut active_count = active.len();
        let mut ready = active.iter().filter(|pod| is_ready(pod)).count();
        let mut deleted = 0;
        // Reported once the status saying so is written (a stale pass's write fails instead).
        let mut finished_event = None;
        let mut suspend_event = None;
        if let Some(target) = target {
            self.delete_pods(&job, key, &active).await?;
            (active_count, ready, deleted) = (0, 0, active.len());
            let (interim, last) = target.condition_types();
            add_condition(
                &mut status,
                condition(interim, &target.reason, &target.message),
            );
            // The final condition once every pod is counted and none is left running or
            // terminating (upstream's order).
            if pending_count == 0 && terminating == 0 && active.is_empty() {
                add_condition(
                    &mut status,
                    condition(last, &target.reason, &target.message),
                );
                if target.success {
                    status.completion_time = Some(Time(now));
                    finished_event =
                        Some((NORMAL, "Completed".to_owned(), "Job completed".to_owned()));
                } else {
                    finished_event = Some((WARNING, target.reason.clone(), target.message.clone()));
                }
            }
        } else if self.expectations.satisfied(key) {
            // Indexed Jobs first drop pods repeating an index, outside the range, or of a failed
            // index.
            let (mut extra, mut active) = if indexed {
                indexed::duplicates(&active, completions)
            } else {
                (Vec::new(), active.clone())
            };
            if let Some(failed) = &failed_indexes {
                let (doomed, left): (Vec<_>, Vec<_>) = active
                    .into_iter()
                    .partition(|pod| index_of(pod).is_some_and(|ix| failed.has(ix)));
                extra.extend(doomed);
                active = left;
            }
            let want =
                usize::try_from(want_active(&job, count(active.len()), succeeded)).unwrap_or(0);
            active_count = active.len().min(want);
            // With `podReplacementPolicy: Failed`, a terminating pod is replaced once it failed.
            let held = if only_failed { terminating } else { 0 };
            // Replacements of failed pods wait out the backoff: the whole Job's, or each index's
            // with `backoffLimitPerIndex`.
            let job_wait = if per_index {
                Duration::ZERO
            } else {
                record.remaining(&self.backoff, now)
            };
            let mut wait = None;
            if !extra.is_empty() {
                // Deletions first; creations wait for the next pass (upstream's order).
                self.delete_job_pods(&job, key, &extra).await?;
                deleted = extra.len();
            } else if active.len() + held < want && !job_wait.is_zero() {
                wait = Some(job_wait);
            } else if active.len() + held < want {
                let room = want - active.len() - held;
                let mut indexes: Vec<Option<i32>> = if indexed {
                    let mut taken = completed.clone();
                    if let Some(failed) = &failed_indexes {
                        taken = taken.merge(failed);
                    }
                    if only_failed {
                        let held: BTreeSet<i32> = terminating_pods
                            .iter()
                            .filter_map(|p| index_of(p))
                            .collect();
                        taken = taken.with(&held.into_iter().collect::<Vec<_>>());
                    }
                    indexed::first_pending(&active, &taken, room, completions)
                        .into_iter()
                        .map(Some)
                        .collect()
                } else {
                    vec![None; room]
                };
                if per_index {
                    let (ready, waiting): (Vec<_>, Vec<_>) = indexes
                        .into_iter()
                        .map(|ix| {
                            let last = ix.and_then(|ix| delayed.get(&ix)).map(|pod| &**pod);
                            (ix, remaining_per_index(&self.backoff, last, now))
                        })
                        .partition(|(_, left)| left.is_zero());
                    wait = waiting.iter().map(|(_, left)| *left).min();
                    indexes = ready.into_iter().map(|(ix, _)| ix).collect();
                }
                active_count = active.len() + indexes.len();
                let counts = per_index.then(|| {
                    indexes
                        .iter()
                        .flatten()
                        .map(|ix| {
                            let replaced = delayed.get(ix).map(|pod| &**pod);
                            (*ix, per_index::replacement_counts(&spec, replaced))
                        })
                        .collect::<BTreeMap<_, _>>()
                });
                if !indexes.is_empty() {
                    self.create_pods(&job, key, &indexes, counts.as_ref())
                        .await?;
                }
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
                self.delete_job_pods(&job, key, &surplus).await?;
                deleted = surplus.len();
            }
            if let Some(wait) = wait {
                self.queue.add_after(key.to_owned(), wait.max(MIN_REQUEUE));
            }
            // The `Suspended` condition follows `spec.suspend`; resuming restarts the deadline.
            if suspended {
                if ensure_condition(
                    &mut status,
                    "Suspended",
                    "True",
                    "JobSuspended",
                    "Job suspended",
                ) {
                    suspend_event = Some(("Suspended", "Job suspended"));
                }
            } else if ensure_condition(
                &mut status,
                "Suspended",
                "False",
                "JobResumed",
                "Job resumed",
            ) {
                suspend_event = Some(("Resumed", "Job resumed"));
                status.start_time = Some(Time(now));
            }
            if let Some(left) = over_deadline.filter(|left| *left > 0) {
                self.queue.add_after(
                    key.to_owned(),
                    Duration::from_secs(u64::try_from(left).unwrap_or(0) + 1),
                );
            }
        }
        status.active = Some(count(active_count));
        status.ready = Some(count(ready.min(active_count)));
        status.terminating = Some(count(terminating + deleted));
        self.write_if_changed(&job, status).await?;
        if let Some((kind, reason, message)) = finished_event {
            self.recorder.event(&*job, kind, &reason, &message);
        }
        if let Some((reason, message)) = suspend_event {
            self.recorder.event(&*job, NORMAL, reason, message);
        }
        Ok(())
    }
}
