//! The compaction schedule: keeps at least one interval of history and discards what is older.
//!
//! Like kube-apiserver's `--etcd-compaction-interval`, every tick records the current revision and
//! compacts to the revision recorded at the previous tick, so a watcher or paginated list that is less than
//! one interval old never sees `Compacted`. The same loop drives both backends; each run is counted and
//! timed in [`crate::StoreMetrics`], and a failure is logged and counted, never silent.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;

use crate::{Revision, Store};

/// How often to compact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactorConfig {
    /// Time between compactions; history younger than this is always kept.
    pub interval: Duration,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        CompactorConfig {
            interval: Duration::from_secs(300),
        }
    }
}

/// A running compaction loop; dropping it stops the loop.
#[derive(Debug)]
pub struct Compactor {
    task: JoinHandle<()>,
}

impl Compactor {
    /// Starts compacting `store` on the schedule of `config`.
    pub fn spawn(store: Arc<dyn Store>, config: CompactorConfig) -> Compactor {
        Compactor {
            task: tokio::spawn(run(store, config)),
        }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(store: Arc<dyn Store>, config: CompactorConfig) {
    let mut ticks = tokio::time::interval(config.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The revision seen at the previous tick: the target of the next compaction.
    let mut previous: Option<Revision> = None;
    loop {
        ticks.tick().await;
        let current = match store.current_revision().await {
            Ok(revision) => revision,
            Err(error) => {
                tracing::warn!(%error, "compaction skipped: cannot read the current revision");
                store.metrics().compaction_failures.inc();
                continue;
            }
        };
        if let Some(target) = previous.filter(|&target| target > 1) {
            compact_once(store.as_ref(), target).await;
        }
        previous = Some(current);
    }
}

/// Compacts `store` to `target` once, recording the run in the store's metrics.
pub(crate) async fn compact_once(store: &dyn Store, target: Revision) {
    let metrics = store.metrics();
    let started = Instant::now();
    match store.compact(target).await {
        Ok(()) => {
            metrics
                .compaction_duration
                .observe(started.elapsed().as_secs_f64());
            metrics.compactions.inc();
            metrics.compacted_revision.set(target);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            metrics
                .last_compaction_timestamp
                .set(i64::try_from(now).unwrap_or(i64::MAX));
            tracing::debug!(revision = target, elapsed = ?started.elapsed(), "compacted");
        }
        Err(error) => {
            metrics.compaction_failures.inc();
            tracing::warn!(%error, revision = target, "compaction failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::{Compactor, CompactorConfig};
    use crate::sqlite::{SqliteConfig, SqliteStore};
    use crate::{Error, ListRequest, Store};

    #[tokio::test(flavor = "multi_thread")]
    async fn compacts_to_the_revision_of_the_previous_tick()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(SqliteStore::open(SqliteConfig::new(
            dir.path().join("state.db"),
        ))?);
        let first = store.create("/k/a", Bytes::from("1")).await?;
        let second = store.update("/k/a", Bytes::from("2"), first).await?;
        let _compactor = Compactor::spawn(
            Arc::clone(&store) as Arc<dyn Store>,
            CompactorConfig {
                interval: Duration::from_millis(100),
            },
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.compacted_revision().await? < second {
            assert!(tokio::time::Instant::now() < deadline, "never compacted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The first tick only records the revision; the second compacts to it, never past it.
        assert_eq!(store.compacted_revision().await?, second);
        let old = store
            .list(&ListRequest {
                prefix: "/k/".into(),
                revision: first,
                ..ListRequest::default()
            })
            .await;
        assert!(matches!(old, Err(Error::Compacted { requested }) if requested == first));
        let metrics = store.metrics();
        assert!(metrics.compactions.get() >= 1);
        assert_eq!(metrics.compaction_failures.get(), 0);
        assert!(metrics.last_compaction_timestamp.get() > 0);
        Ok(())
    }
}
