//! The TTL-after-finished controller, as upstream's: a finished Job with
//! `ttlSecondsAfterFinished` is deleted (in the foreground, so its pods go first) that many seconds
//! after it completed or failed, checked again against a fresh read before deleting.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Preconditions};

use crate::error::{Error, Result, is_not_found};
use crate::informer::{Informer, Informers};
use crate::job::finished;
use crate::queue::{WorkQueue, run_workers};

/// When a finished Job with a TTL expires: the time of its `Complete` or `Failed` condition plus
/// the TTL, in seconds since the epoch.
fn expires_at(job: &Job) -> Option<i64> {
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    if !finished(job) {
        return None;
    }
    let status = job.status.as_ref()?;
    let finished_at = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .find_map(|c| c.last_transition_time.as_ref())
        .or(status.completion_time.as_ref())?;
    Some(finished_at.0.as_second() + i64::from(ttl))
}

/// Registers the controller with the informers and starts its worker once they synced.
pub fn start(client: kube::Client, informers: &Informers) {
    let jobs = informers.get::<Job>();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    {
        let queue = Arc::clone(&queue);
        jobs.on_change(move |change| {
            let job = change.object();
            if job.metadata.deletion_timestamp.is_none() && expires_at(job).is_some() {
                queue.add(format!(
                    "{}/{}",
                    job.namespace().unwrap_or_default(),
                    job.name_any()
                ));
            }
        });
    }
    tokio::spawn(async move {
        jobs.synced().await;
        let requeue = Arc::clone(&queue);
        run_workers(
            "ttl-after-finished-controller",
            queue,
            1,
            move |key: String| {
                let client = client.clone();
                let jobs = Arc::clone(&jobs);
                let queue = Arc::clone(&requeue);
                async move { sync(client, &jobs, &queue, key).await }
            },
        );
    });
}

async fn sync(
    client: kube::Client,
    jobs: &Informer<Job>,
    queue: &Arc<WorkQueue<String>>,
    key: String,
) -> Result<()> {
    let Some((namespace, name)) = key.split_once('/') else {
        return Ok(());
    };
    let Some(job) = jobs.get(namespace, name) else {
        return Ok(());
    };
    let Some(expires) = expires_at(&job) else {
        return Ok(());
    };
    let left = expires - Timestamp::now().as_second();
    if left > 0 {
        queue.add_after(
            key.clone(),
            Duration::from_secs(u64::try_from(left).unwrap_or(0)),
        );
        return Ok(());
    }
    // The TTL may have changed meanwhile: decide on a fresh read.
    let api: Api<Job> = Api::namespaced(client, namespace);
    let fresh = match api.get_opt(name).await {
        Ok(Some(fresh)) => fresh,
        Ok(None) => return Ok(()),
        Err(source) => {
            return Err(Error::Api {
                action: format!("reading job {key}"),
                source,
            });
        }
    };
    if expires_at(&fresh).is_none_or(|expires| expires > Timestamp::now().as_second()) {
        return Ok(());
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: fresh.uid(),
            resource_version: fresh.resource_version(),
        }),
        ..DeleteParams::foreground()
    };
    tracing::info!(job = %key, "deleting a finished job past its ttlSecondsAfterFinished");
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(source) => Err(Error::Api {
            action: format!("deleting job {key}"),
            source,
        }),
    }
}
