//! Compaction, kept one revision behind in etcd so that every event a watch may still deliver
//! carries its previous value.
//!
//! etcd compacted at revision C keeps, for each key, its last version at or before C, and a watch
//! may start at C. But the event at C then has no previous value: the version it replaced is gone,
//! and etcd silently sends the event without it. So [`Store::compact`](crate::Store::compact) to C
//! compacts etcd to C - 1 and this backend refuses reads and watches before C itself: the store's
//! compaction revision is etcd's plus one. A new [`EtcdStore`] learns etcd's compaction revision
//! when it connects, and watches report later ones; reads at etcd's compaction revision that another
//! instance made are still served, which is harmless.
//!
//! A watch event that still arrives without its previous value (its watcher fell behind a compaction
//! that etcd did not cancel it for, or something else compacted etcd) ends the watch with
//! [`Error::Compacted`], as a backend that keeps history would.

use std::sync::atomic::Ordering;

use etcd_client::{GetOptions, WatchOptions};

use super::EtcdStore;
use super::errors::Failure;
use crate::{Error, Result, Revision};

impl EtcdStore {
    pub(super) async fn compact_to(&self, revision: Revision) -> Result<()> {
        if revision <= self.compacted.load(Ordering::Relaxed) {
            return Ok(());
        }
        let current = self.read_current_revision().await?;
        if revision > current {
            return Err(Error::FutureRevision {
                requested: revision,
                current,
            });
        }
        let kept = revision - 1;
        if kept > 0 {
            match self.compaction(kept).await {
                Ok(_) => {}
                // etcd refuses a compaction at or below its last one as "compacted": nothing to do.
                Err(failure) if failure.is_compacted() => {}
                Err(failure) => {
                    return Err(self.fail(failure, &format!("compact to revision {revision}")));
                }
            }
        }
        self.saw_compaction(revision);
        Ok(())
    }

    /// Fails with [`Error::Compacted`] when `revision` is before the known compaction.
    pub(super) fn check_not_compacted(&self, revision: Revision) -> Result<()> {
        if revision > 0 && revision < self.compacted.load(Ordering::Relaxed) {
            return Err(Error::Compacted {
                requested: revision,
            });
        }
        Ok(())
    }

    /// Records that the store is compacted at least to `revision`.
    pub(super) fn saw_compaction(&self, revision: Revision) {
        let known = self
            .compacted
            .fetch_max(revision, Ordering::Relaxed)
            .max(revision);
        self.metrics.compacted_revision.set(known);
    }

    /// Learns the compaction revision from etcd: reading at revision 1 fails once etcd was
    /// compacted, and a watch from revision 1 is then answered with etcd's compaction revision.
    pub(super) async fn discover_compaction(&self) -> Result<(), Failure> {
        let probe = self.keys.etcd_key("/");
        let options = GetOptions::new().with_count_only().with_revision(1);
        match self.range(probe.clone(), options).await {
            Err(failure) if failure.is_compacted() => {}
            Ok(_) => return Ok(()),
            Err(failure) => return Err(failure),
        }
        let options = WatchOptions::new().with_start_revision(1);
        let (mut watcher, mut stream) = self.watch_stream(probe, options).await?;
        let answer = tokio::time::timeout(self.request_timeout, async {
            loop {
                match stream.message().await? {
                    Some(response) if response.compact_revision() > 0 => {
                        return Ok(Some(response.compact_revision()));
                    }
                    Some(response) if response.canceled() => return Ok(None),
                    Some(_) => {}
                    None => return Ok(None),
                }
            }
        })
        .await;
        let _ = watcher.cancel().await;
        match answer {
            Ok(Ok(Some(etcd_revision))) => {
                self.saw_compaction(etcd_revision + 1);
                Ok(())
            }
            Ok(Ok(None)) => Ok(()),
            Ok(Err(error)) => Err(Failure::Etcd(error)),
            Err(_) => Err(Failure::TimedOut(self.request_timeout)),
        }
    }
}
