//! Compaction inside the writer: the compaction point is recorded durably at once, then history before it
//! is removed in chunks between commit batches, so writers wait for one chunk at most and a compaction
//! always progresses under load.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rusqlite::{OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::Writer;
use crate::sqlite::checkpointer::Request;
use crate::sqlite::schema::database_error;
use crate::{Error, Result, Revision};

/// History rows examined per compaction chunk.
const COMPACTION_CHUNK: i64 = 2000;

/// A compaction under way.
pub(super) struct Compaction {
    /// Rows superseded before this revision (and tombstones before it) are removed.
    target: Revision,
    /// History up to this revision has been examined.
    cursor: Revision,
    removed: u64,
    started: Instant,
    replies: Vec<oneshot::Sender<Result<()>>>,
}

impl Writer {
    /// Records the new compaction point durably, then schedules removal of the history before it.
    pub(super) fn start_compaction(
        &mut self,
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    ) {
        if revision > self.revision {
            let _ = reply.send(Err(Error::FutureRevision {
                requested: revision,
                current: self.revision,
            }));
            return;
        }
        if revision <= self.shared.compacted.load(Ordering::SeqCst) {
            let _ = reply.send(Ok(()));
            return;
        }
        let recorded = self
            .conn
            .prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compacted'")
            .and_then(|mut statement| statement.execute([revision]));
        if let Err(error) = recorded {
            let _ = reply.send(Err(database_error(&self.path, error)));
            return;
        }
        self.shared.compacted.store(revision, Ordering::SeqCst);
        match &mut self.compaction {
            Some(compaction) => {
                // History before the old cursor may now be removable too: examine it again.
                compaction.target = revision;
                compaction.cursor = 0;
                compaction.replies.push(reply);
            }
            None => {
                self.compaction = Some(Compaction {
                    target: revision,
                    cursor: 0,
                    removed: 0,
                    started: Instant::now(),
                    replies: vec![reply],
                });
            }
        }
    }

    /// Removes one chunk of compacted history; finishes the compaction after the last chunk.
    pub(super) fn compact_step(&mut self) {
        let Some(compaction) = self.compaction.as_mut() else {
            return;
        };
        let (target, cursor) = (compaction.target, compaction.cursor);
        let step = (|| -> rusqlite::Result<(Revision, usize, bool)> {
            let txn = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let window_end: Option<Revision> = txn
                .prepare_cached(
                    "SELECT revision FROM kv WHERE revision > ?1 AND revision < ?2 \
                     ORDER BY revision LIMIT 1 OFFSET ?3",
                )?
                .query_row((cursor, target, COMPACTION_CHUNK - 1), |row| row.get(0))
                .optional()?;
            let (end, last) = match window_end {
                Some(end) => (end, false),
                None => (target - 1, true),
            };
            // A row is history when a newer row of its key exists before the target, or when it is a
            // tombstone before the target; the newest row of each key at the target stays readable.
            let removed = txn
                .prepare_cached(
                    "DELETE FROM kv WHERE revision > ?1 AND revision <= ?2 AND revision < ?3 \
                     AND (deleted = 1 OR EXISTS (SELECT 1 FROM kv b WHERE b.key = kv.key \
                          AND b.revision > kv.revision AND b.revision < ?3))",
                )?
                .execute((cursor, end, target))?;
            txn.commit()?;
            Ok((end, removed, last))
        })();
        match step {
            Ok((end, removed, last)) => {
                compaction.cursor = end;
                compaction.removed += removed as u64;
                self.dirty = true;
                if last {
                    self.finish_compaction();
                }
            }
            Err(error) => {
                let error = database_error(&self.path, error);
                tracing::error!(%error, revision = target, "compaction failed");
                if let Some(compaction) = self.compaction.take() {
                    for reply in compaction.replies {
                        let _ = reply.send(Err(Error::backend(
                            format!("compaction to revision {target}"),
                            error.to_string(),
                        )));
                    }
                }
            }
        }
    }

    fn finish_compaction(&mut self) {
        let Some(compaction) = self.compaction.take() else {
            return;
        };
        self.shared
            .metrics
            .compacted_entries
            .inc_by(compaction.removed);
        self.release_free_pages();
        self.checkpointer.request(Request::Truncate);
        tracing::debug!(
            revision = compaction.target,
            removed = compaction.removed,
            elapsed = ?compaction.started.elapsed(),
            "history compacted"
        );
        for reply in compaction.replies {
            let _ = reply.send(Ok(()));
        }
    }

    /// Gives free pages back to the file system once they are a quarter of the file.
    fn release_free_pages(&self) {
        let pages = |pragma: &str| -> i64 {
            self.conn
                .pragma_query_value(None, pragma, |row| row.get(0))
                .unwrap_or(0)
        };
        let (free, total) = (pages("freelist_count"), pages("page_count"));
        if free > 0 && free * 4 >= total {
            if let Err(error) = self.conn.execute_batch("PRAGMA incremental_vacuum") {
                tracing::warn!(%error, "incremental vacuum failed");
            }
        }
    }

    /// Fails the callers of an unfinished compaction (the store is closing).
    pub(super) fn abandon_compaction(&mut self) {
        if let Some(compaction) = self.compaction.take() {
            for reply in compaction.replies {
                let _ = reply.send(Err(Error::Closed));
            }
        }
    }
}
