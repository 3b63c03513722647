//! The CronJob controller, as upstream's `ControllerV2`: each CronJob is looked at when it or one of
//! its Jobs changes and again just after its next schedule time (a delayed add to the work queue,
//! never a poll). A look moves finished Jobs out of `status.active` (`SawCompletedJob`, recording
//! `lastSuccessfulTime`), deletes finished Jobs beyond the history limits (`SuccessfulDelete`), and
//! unless suspended creates the Job of the latest due schedule time (`<cronjob>-<minutes since the
//! epoch>`, with the `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation and a controller
//! reference), honouring `startingDeadlineSeconds` (`MissSchedule`) and the concurrency policy
//! (`Forbid` skips with `JobAlreadyActive`, `Replace` deletes the running Jobs first).
//!
//! - [`schedule`]: cron schedules and their next time, in a time zone.
//! - [`times`]: which schedule time is due, and when the next one comes.

pub mod schedule;
pub mod times;

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Resource, ResourceExt};
use kubers_client::events::{NORMAL, Recorder, WARNING};

use crate::error::{Context, Error, Result, is_not_found};
use crate::informer::{Change, Informer, Informers};
use crate::pods::controller_of;
use crate::queue::{WorkQueue, run_workers};
use schedule::Schedule;
use times::{History, Missed};

/// The annotation with the time a Job was scheduled for (RFC 3339, in the CronJob's time zone).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

struct CronJobController {
    client: kube::Client,
    cron_jobs: Arc<Informer<CronJob>>,
    jobs: Arc<Informer<Job>>,
    queue: Arc<WorkQueue<String>>,
    recorder: Recorder,
}

fn key_of(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// Registers the controller with the informers and starts its workers once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let controller = Arc::new(CronJobController {
        recorder: Recorder::new(client.clone(), "cronjob-controller"),
        client,
        cron_jobs: informers.get::<CronJob>(),
        jobs: informers.get::<Job>(),
        queue: WorkQueue::new(),
    });
    {
        let handler = Arc::clone(&controller);
        controller.cron_jobs.on_change(move |change| {
            let cron_job = change.object();
            let key = key_of(
                &cron_job.namespace().unwrap_or_default(),
                &cron_job.name_any(),
            );
            if let Change::Updated { old, new } = change {
                let spec = |cj: &CronJob| {
                    cj.spec
                        .as_ref()
                        .map(|spec| (spec.schedule.clone(), spec.time_zone.clone()))
                };
                if spec(old) != spec(new) {
                    // A new schedule: look again at its next time (an earlier pending look stays).
                    if let Ok((parsed, _)) = parse(new)
                        && let Some(delay) =
                            times::until_next(history(new), Timestamp::now(), &parsed)
                    {
                        handler.queue.add_after(key, delay);
                    } else {
                        handler.recorder.event(
                            &**new,
                            WARNING,
                            "UnParseableCronJobSchedule",
                            format!(
                                "unparseable schedule for cronjob: {}",
                                new.spec.as_ref().map(|s| s.schedule.as_str()).unwrap_or("")
                            ),
                        );
                    }
                    return;
                }
            }
            handler.queue.add(key);
        });
    }
    {
        let handler = Arc::clone(&controller);
        controller.jobs.on_change(move |change| {
            let job = change.object();
            let namespace = job.namespace().unwrap_or_default();
            let mut owners = vec![controller_of(&job.metadata).cloned()];
            if let Change::Updated { old, .. } = &change {
                owners.push(controller_of(&old.metadata).cloned());
            }
            for owner in owners.into_iter().flatten() {
                if let Some(cron_job) = handler.resolve(&namespace, &owner) {
                    handler.queue.add(key_of(&namespace, &cron_job.name_any()));
                }
            }
        });
    }
    tokio::spawn(async move {
        controller.cron_jobs.synced().await;
        controller.jobs.synced().await;
        let queue = Arc::clone(&controller.queue);
        run_workers("cronjob-controller", queue, 2, move |key: String| {
            let controller = Arc::clone(&controller);
            async move { controller.sync(&key).await }
        });
    });
}

/// The time inputs of a CronJob.
fn history(cron_job: &CronJob) -> History {
    History {
        created: cron_job
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|time| time.0)
            .unwrap_or_else(Timestamp::now),
        last_schedule: cron_job
            .status
            .as_ref()
            .and_then(|status| status.last_schedule_time.as_ref())
            .map(|time| time.0),
        starting_deadline_seconds: cron_job
            .spec
            .as_ref()
            .and_then(|spec| spec.starting_deadline_seconds),
    }
}

/// The time zone named by `spec.timeZone`, or the controller's own (upstream's `time.Local`).
fn zone_of(cron_job: &CronJob) -> Result<TimeZone, String> {
    match cron_job
        .spec
        .as_ref()
        .and_then(|spec| spec.time_zone.as_deref())
    {
        None => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).map_err(|error| error.to_string()),
    }
}

/// The schedule of a CronJob and whether it names its own zone (`TZ=`/`CRON_TZ=`, which upstream
/// accepts with a warning). A `spec.timeZone` that cannot be loaded leaves the default zone, as
/// upstream's `formatSchedule` does (the caller reports it first).
fn parse(cron_job: &CronJob) -> Result<(Schedule, bool), String> {
    let spec = cron_job
        .spec
        .as_ref()
        .map(|spec| spec.schedule.as_str())
        .unwrap_or("");
    if spec.contains("TZ") {
        return Ok((Schedule::parse(spec, TimeZone::system())?, true));
    }
    let zone = zone_of(cron_job).unwrap_or_else(|_| TimeZone::system());
    Ok((Schedule::parse(spec, zone)?, false))
}

/// Whether a Job has a true `Complete` or `Failed` condition, and which.
fn finished_condition(job: &Job) -> Option<&str> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

/// Upstream's `byJobStartTime`: started Jobs first, oldest first, then by name.
fn by_start_time(a: &Arc<Job>, b: &Arc<Job>) -> std::cmp::Ordering {
    let start = |job: &Job| {
        job.status
            .as_ref()
            .and_then(|status| status.start_time.as_ref())
            .map(|time| time.0)
    };
    match (start(a), start(b)) {
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (x, y) if x == y => a.name_any().cmp(&b.name_any()),
        (x, y) => x.cmp(&y),
    }
}

/// The name of the Job for `scheduled`: the CronJob's name and the minutes since the epoch.
pub fn job_name(cron_job: &str, scheduled: Timestamp) -> String {
    format!("{cron_job}-{}", scheduled.as_second().div_euclid(60))
}

/// RFC 3339 as Go writes it: `Z` for a zero offset.
fn rfc3339(time: Timestamp, zone: TimeZone) -> String {
    let zoned = time.to_zoned(zone);
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The Job a CronJob runs at `scheduled` (upstream's `getJobFromTemplate2`).
fn job_for(cron_job: &CronJob, scheduled: Timestamp) -> Job {
    let template = cron_job
        .spec
        .as_ref()
        .map(|spec| spec.job_template.clone())
        .unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let mut annotations = metadata.annotations.unwrap_or_default();
    // An unset zone is UTC here (Go's `LoadLocation("")`).
    let zone = match cron_job
        .spec
        .as_ref()
        .and_then(|spec| spec.time_zone.as_deref())
    {
        Some(name) => TimeZone::get(name).unwrap_or(TimeZone::UTC),
        None => TimeZone::UTC,
    };
    annotations.insert(SCHEDULED_TIMESTAMP.to_owned(), rfc3339(scheduled, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(&cron_job.name_any(), scheduled)),
            namespace: cron_job.namespace(),
            labels: Some(metadata.labels.unwrap_or_default()),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: CronJob::api_version(&()).into_owned(),
                kind: CronJob::kind(&()).into_owned(),
                name: cron_job.name_any(),
                uid: cron_job.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// A reference to `job` as `status.active` holds it.
fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some(Job::api_version(&()).into_owned()),
        kind: Some(Job::kind(&()).into_owned()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..ObjectReference::default()
    }
}

fn in_active(status: &CronJobStatus, uid: &str) -> bool {
    status
        .active
        .iter()
        .flatten()
        .any(|job| job.uid.as_deref() == Some(uid))
}

fn remove_active(status: &mut CronJobStatus, uid: &str) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|job| job.uid.as_deref() != Some(uid));
    }
}

/// RFC 1123 with a numeric zone, in UTC (Go's `time.RFC1123Z`).
fn rfc1123z(time: Timestamp) -> String {
    time.to_zoned(TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

impl CronJobController {
    /// The CronJob a controller reference names, if it still is that one.
    fn resolve(&self, namespace: &str, owner: &OwnerReference) -> Option<Arc<CronJob>> {
        if owner.kind != "CronJob" {
            return None;
        }
        let cron_job = self.cron_jobs.get(namespace, &owner.name)?;
        (cron_job.uid().as_deref() == Some(owner.uid.as_str())).then_some(cron_job)
    }

    fn jobs_api(&self, namespace: &str) -> Api<Job> {
        Api::namespaced(self.client.clone(), namespace)
    }

    async fn sync(&self, key: &str) -> Result<()> {
        let Some((namespace, name)) = key.split_once('/') else {
            return Ok(());
        };
        let Some(cron_job) = self.cron_jobs.get(namespace, name) else {
            return Ok(());
        };
        // Every Job whose controller reference names this CronJob (upstream matches the name).
        let jobs: Vec<Arc<Job>> = self
            .jobs
            .list_namespace(namespace)
            .into_iter()
            .filter(|job| {
                controller_of(&job.metadata)
                    .is_some_and(|owner| owner.kind == "CronJob" && owner.name == name)
            })
            .collect();
        let mut working = (*cron_job).clone();
        let cleaned = self.cleanup_finished(&mut working, &jobs).await;
        let synced = self.sync_cron_job(&mut working, &jobs).await;
        let changed = cleaned || synced.as_ref().is_ok_and(|(_, changed)| *changed);
        if changed {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), namespace);
            match api
                .replace_status(name, &PostParams::default(), &working)
                .await
            {
                Ok(_) => {}
                Err(error) if is_not_found(&error) => return Ok(()),
                Err(source) => {
                    return Err(Error::Api {
                        action: format!("updating the status of cron job {key}"),
                        source,
                    });
                }
            }
        }
        let (requeue, _) = synced?;
        if let Some(delay) = requeue {
            self.queue.add_after(key.to_owned(), delay);
        }
        Ok(())
    }

    /// Deletes the finished Jobs beyond the history limits; whether the status changed.
    async fn cleanup_finished(&self, cron_job: &mut CronJob, jobs: &[Arc<Job>]) -> bool {
        let spec = cron_job.spec.clone().unwrap_or_default();
        let mut changed = false;
        for (kind, limit) in [
            ("Complete", spec.successful_jobs_history_limit),
            ("Failed", spec.failed_jobs_history_limit),
        ] {
            let Some(limit) = limit else { continue };
            let mut finished: Vec<Arc<Job>> = jobs
                .iter()
                .filter(|job| finished_condition(job) == Some(kind))
                .cloned()
                .collect();
            let excess = finished
                .len()
                .saturating_sub(usize::try_from(limit).unwrap_or(0));
            if excess == 0 {
                continue;
            }
            finished.sort_by(by_start_time);
            for job in finished.iter().take(excess) {
                changed |= self.delete_job(cron_job, job).await;
            }
        }
        changed
    }

    /// Deletes a Job (its pods in the background) and drops it from the active list.
    async fn delete_job(&self, cron_job: &mut CronJob, job: &Job) -> bool {
        let namespace = job.namespace().unwrap_or_default();
        match self
            .jobs_api(&namespace)
            .delete(&job.name_any(), &DeleteParams::background())
            .await
        {
            Ok(_) => {}
            Err(error) => {
                self.recorder.event(
                    &*cron_job,
                    WARNING,
                    "FailedDelete",
                    format!("Deleted job: {error}"),
                );
                tracing::warn!(%error, job = %job.name_any(), "deleting a job of a cron job failed");
                return false;
            }
        }
        if let Some(status) = cron_job.status.as_mut() {
            remove_active(status, &job.uid().unwrap_or_default());
        }
        self.recorder.event(
            &*cron_job,
            NORMAL,
            "SuccessfulDelete",
            format!("Deleted job {}", job.name_any()),
        );
        true
    }

    /// Upstream's `syncCronJob`: the delay until the next look, and whether the status changed.
    async fn sync_cron_job(
        &self,
        cron_job: &mut CronJob,
        jobs: &[Arc<Job>],
    ) -> Result<(Option<std::time::Duration>, bool)> {
        let now = Timestamp::now();
        let mut changed = false;
        let namespace = cron_job.namespace().unwrap_or_default();
        for job in jobs {
            let uid = job.uid().unwrap_or_default();
            let status = cron_job.status.get_or_insert_with(CronJobStatus::default);
            let found = in_active(status, &uid);
            match finished_condition(job) {
                None if !found => {
                    // Perhaps our own status update is not in the cache yet: ask the server.
                    let live: Api<CronJob> = Api::namespaced(self.client.clone(), &namespace);
                    let fresh = live
                        .get(&cron_job.name_any())
                        .await
                        .context(|| format!("reading cron job {}", cron_job.name_any()))?;
                    if fresh.status.as_ref().is_some_and(|s| in_active(s, &uid)) {
                        *cron_job = fresh;
                        continue;
                    }
                    self.recorder.event(
                        &*cron_job,
                        WARNING,
                        "UnexpectedJob",
                        format!(
                            "Saw a job that the controller did not create or forgot: {}",
                            job.name_any()
                        ),
                    );
                }
                None => {}
                Some(condition) => {
                    if found {
                        remove_active(status, &uid);
                        changed = true;
                        self.recorder.event(
                            &*cron_job,
                            NORMAL,
                            "SawCompletedJob",
                            format!(
                                "Saw completed job: {}, condition: {condition}",
                                job.name_any()
                            ),
                        );
                    }
                    if condition == "Complete"
                        && let Some(completed) = job
                            .status
                            .as_ref()
                            .and_then(|status| status.completion_time.clone())
                    {
                        let status = cron_job.status.get_or_insert_with(CronJobStatus::default);
                        let later = status
                            .last_successful_time
                            .as_ref()
                            .is_none_or(|last| completed.0 > last.0);
                        if later {
                            status.last_successful_time = Some(completed);
                            changed = true;
                        }
                    }
                }
            }
        }
        // Active Jobs that no longer exist.
        let children: Vec<String> = jobs.iter().filter_map(|job| job.uid()).collect();
        let missing: Vec<ObjectReference> = cron_job
            .status
            .iter()
            .flat_map(|status| status.active.iter().flatten())
            .filter(|active| {
                !children
                    .iter()
                    .any(|uid| Some(uid.as_str()) == active.uid.as_deref())
            })
            .cloned()
            .collect();
        for active in missing {
            let name = active.name.clone().unwrap_or_default();
            let job_namespace = active
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.clone());
            let live = self
                .jobs_api(&job_namespace)
                .get_opt(&name)
                .await
                .context(|| format!("reading job {name}"))?;
            if live.is_none() {
                self.recorder.event(
                    &*cron_job,
                    NORMAL,
                    "MissingJob",
                    format!("Active job went missing: {name}"),
                );
                if let Some(status) = cron_job.status.as_mut() {
                    remove_active(status, active.uid.as_deref().unwrap_or_default());
                }
                changed = true;
            }
        }
        if cron_job.metadata.deletion_timestamp.is_some() {
            return Ok((None, changed));
        }
        let spec = cron_job.spec.clone().unwrap_or_default();
        if let Some(zone) = spec.time_zone.as_deref()
            && let Err(error) = zone_of(cron_job)
        {
            self.recorder.event(
                &*cron_job,
                WARNING,
                "UnknownTimeZone",
                format!("invalid timeZone: {zone:?}: {error}"),
            );
            return Ok((None, changed));
        }
        if spec.suspend.unwrap_or(false) {
            return Ok((None, changed));
        }
        let schedule = match parse(cron_job) {
            Ok((schedule, names_zone)) => {
                if names_zone {
                    self.recorder.event(
                        &*cron_job,
                        WARNING,
                        "UnsupportedSchedule",
                        format!(
                            "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                            spec.schedule
                        ),
                    );
                }
                schedule
            }
            Err(error) => {
                self.recorder.event(
                    &*cron_job,
                    WARNING,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {error}", spec.schedule),
                );
                return Ok((None, changed));
            }
        };
        let next_look = |cron_job: &CronJob| times::until_next(history(cron_job), now, &schedule);
        let recent = match times::most_recent(history(cron_job), now, &schedule, true) {
            Ok(recent) => recent,
            Err(error) => {
                self.recorder.event(
                    &*cron_job,
                    WARNING,
                    "InvalidSchedule",
                    format!("invalid schedule: {} : {error}", spec.schedule),
                );
                return Ok((None, changed));
            }
        };
        let Some(scheduled) = recent.most_recent.filter(|time| *time <= now) else {
            return Ok((next_look(cron_job), changed));
        };
        if recent.missed == Missed::Many {
            self.recorder.event(
                &*cron_job,
                WARNING,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            );
        }
        let too_late = spec.starting_deadline_seconds.is_some_and(|deadline| {
            scheduled.as_second().saturating_add(deadline) < now.as_second()
        });
        if too_late {
            self.recorder.event(
                &*cron_job,
                WARNING,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    rfc1123z(scheduled)
                ),
            );
            return Ok((next_look(cron_job), changed));
        }
        let name = job_name(&cron_job.name_any(), scheduled);
        let status = cron_job.status.get_or_insert_with(CronJobStatus::default);
        let processed = status
            .active
            .iter()
            .flatten()
            .any(|job| job.name.as_deref() == Some(name.as_str()))
            || status.last_schedule_time.as_ref().map(|time| time.0) == Some(scheduled);
        if processed {
            return Ok((next_look(cron_job), changed));
        }
        let active_count = status.active.as_ref().map_or(0, Vec::len);
        let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
        if policy == "Forbid" && active_count > 0 {
            self.recorder.event(
                &*cron_job,
                NORMAL,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            );
            return Ok((next_look(cron_job), changed));
        }
        if policy == "Replace" {
            let active: Vec<ObjectReference> = status.active.clone().unwrap_or_default();
            for reference in active {
                let job_name = reference.name.clone().unwrap_or_default();
                let job_namespace = reference
                    .namespace
                    .clone()
                    .unwrap_or_else(|| namespace.clone());
                let job = match self.jobs_api(&job_namespace).get(&job_name).await {
                    Ok(job) => job,
                    Err(error) => {
                        self.recorder.event(
                            &*cron_job,
                            WARNING,
                            "FailedGet",
                            format!("Get job: {error}"),
                        );
                        return Err(Error::Api {
                            action: format!("reading job {job_name}"),
                            source: error,
                        });
                    }
                };
                if !self.delete_job(cron_job, &job).await {
                    return Err(Error::Retry(format!(
                        "could not replace job {job_namespace}/{job_name}"
                    )));
                }
                changed = true;
            }
        }
        let request = job_for(cron_job, scheduled);
        let created = match self
            .jobs_api(&namespace)
            .create(&PostParams::default(), &request)
            .await
        {
            Ok(job) => {
                self.recorder.event(
                    &*cron_job,
                    NORMAL,
                    "SuccessfulCreate",
                    format!("Created job {}", job.name_any()),
                );
                job
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                // Created before, but perhaps not recorded: record it if it is ours.
                let job = self
                    .jobs_api(&namespace)
                    .get(&name)
                    .await
                    .context(|| format!("reading job {name}"))?;
                let ours = controller_of(&job.metadata)
                    .is_some_and(|owner| Some(&owner.uid) == cron_job.metadata.uid.as_ref());
                let uid = job.uid().unwrap_or_default();
                let recorded = cron_job
                    .status
                    .as_ref()
                    .is_some_and(|status| in_active(status, &uid));
                if !ours || recorded {
                    return Ok((None, changed));
                }
                tracing::info!(job = %name, "job already exists");
                job
            }
            Err(error) => {
                let terminating = matches!(&error, kube::Error::Api(status)
                    if status.code == 403 && status.message.contains("being terminated"));
                if !terminating {
                    self.recorder.event(
                        &*cron_job,
                        WARNING,
                        "FailedCreate",
                        format!("Error creating job: {error}"),
                    );
                }
                return Err(Error::Api {
                    action: format!("creating job {name}"),
                    source: error,
                });
            }
        };
        let status = cron_job.status.get_or_insert_with(CronJobStatus::default);
        status
            .active
            .get_or_insert_with(Vec::new)
            .push(reference(&created));
        status.last_schedule_time = Some(Time(scheduled));
        Ok((next_look(cron_job), true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_named_by_the_minute_and_annotated_in_the_zone() {
        let scheduled: Timestamp = "2024-03-01T10:05:00Z".parse().expect("a timestamp");
        assert_eq!(job_name("hello", scheduled), "hello-28488125");
        assert_eq!(rfc3339(scheduled, TimeZone::UTC), "2024-03-01T10:05:00Z");
        let berlin = TimeZone::get("Europe/Berlin").expect("tzdb");
        assert_eq!(rfc3339(scheduled, berlin), "2024-03-01T11:05:00+01:00");
        assert_eq!(rfc1123z(scheduled), "Fri, 01 Mar 2024 10:05:00 +0000");
    }
}
