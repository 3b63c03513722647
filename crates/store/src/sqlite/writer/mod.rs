//! The single writer: group commit, revision assignment, event publication, compaction and WAL upkeep.
//!
//! One thread owns the read-write connection. It takes every write waiting in its queue, applies them in
//! one transaction (each successful write takes the next revision; a failed compare-and-swap takes none),
//! commits once, which is one fsync for the whole batch, then publishes the batch's events to watchers and
//! answers the callers. A caller is answered only after its write is durable.
//!
//! Between batches it removes compacted history in small chunks, so a compaction never holds writers back
//! for long and always makes progress under load. Checkpoints run on the [`Checkpointer`]'s thread: the
//! writer asks for one as the log grows and a truncating one once writes pause. When there is nothing to
//! do it blocks on its queue: an idle store uses no CPU.

use std::cell::Cell;
use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::hooks::Wal;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{broadcast, oneshot};

use self::compaction::Compaction;
use self::ops::Write;
use super::checkpointer::{self, Checkpointer, Request};
use super::schema::database_error;
use super::shared::{Batch, Shared};
use crate::{Deleted, Error, Event, KeyValue, Result, Revision};

mod compaction;
mod ops;

/// Most writes committed in one transaction.
const MAX_BATCH: usize = 512;
/// Quiet time after the last write before the write-ahead log is checkpointed and truncated.
const IDLE_CHECKPOINT_DELAY: Duration = Duration::from_millis(500);
/// How long a log restart waits for readers on old snapshots.
const RESTART_WAIT: Duration = Duration::from_millis(50);
/// How long the writer waits for a lock held by a checkpoint.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The most log a restart copies itself; more is left to a passive checkpoint first.
const RESTART_TAIL_BYTES: u64 = 256 * 1024;
/// Bytes of one log frame: a page and its header.
const LOG_FRAME_BYTES: u64 = 4096 + 24;

thread_local! {
    /// Pages in the log after the writer's last commit, as SQLite's log hook reports them.
    static LOG_PAGES: Cell<i64> = const { Cell::new(0) };
}

/// SQLite's log hook, called on the writer thread after each commit.
fn record_log_pages(_: &Wal, pages: c_int) -> rusqlite::Result<()> {
    LOG_PAGES.with(|log| log.set(i64::from(pages)));
    Ok(())
}

/// A request to the writer.
pub enum Command {
    /// Create a key that must not exist.
    Create {
        key: String,
        value: Bytes,
        reply: oneshot::Sender<Result<Revision>>,
    },
    /// Replace a key's value if its modification revision is `expected`.
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
        reply: oneshot::Sender<Result<Revision>>,
    },
    /// Delete a key, if `expected` is given only at that modification revision.
    Delete {
        key: String,
        expected: Option<Revision>,
        reply: oneshot::Sender<Result<Deleted>>,
    },
    /// Discard history before `revision`; answered when the history is gone.
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A caller waiting for the outcome of its write.
struct Pending {
    reply: Reply,
    /// The write's revision and the value it replaced, or why it was refused.
    outcome: Result<(Revision, Option<KeyValue>)>,
}

/// Where a write's answer goes.
enum Reply {
    Revision(oneshot::Sender<Result<Revision>>),
    Deleted(oneshot::Sender<Result<Deleted>>),
}

/// The writer thread's state.
pub struct Writer {
    conn: Connection,
    path: PathBuf,
    checkpointer: Checkpointer,
    shared: Arc<Shared>,
    events: broadcast::Sender<Arc<Batch>>,
    /// The revision of the last committed write.
    revision: Revision,
    compaction: Option<Compaction>,
    /// Whether writes were committed since the last truncating checkpoint was asked for.
    dirty: bool,
    /// Pages in the log when the last passive checkpoint was asked for.
    passive_at_pages: i64,
}

impl Writer {
    pub fn new(
        conn: Connection,
        path: &Path,
        shared: Arc<Shared>,
        events: broadcast::Sender<Arc<Batch>>,
        revision: Revision,
    ) -> Result<Self> {
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {};",
            checkpointer::LOG_SIZE_LIMIT
        ))
        .map_err(|error| database_error(path, error))?;
        // After the pragma above, which would replace it.
        conn.wal_hook(Some(record_log_pages));
        let checkpointer = Checkpointer::spawn(path, Arc::clone(&shared))?;
        checkpointer.request(Request::Truncate);
        Ok(Writer {
            conn,
            path: path.to_owned(),
            checkpointer,
            shared,
            events,
            revision,
            compaction: None,
            dirty: false,
            passive_at_pages: 0,
        })
    }

    /// Serves `commands` until every sender is gone, then checkpoints and returns.
    pub fn run(mut self, commands: Receiver<Command>) {
        loop {
            let first = if self.compaction.is_some() {
                match commands.try_recv() {
                    Ok(command) => command,
                    Err(TryRecvError::Empty) => {
                        self.compact_step();
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => break,
                }
            } else if self.dirty {
                match commands.recv_timeout(IDLE_CHECKPOINT_DELAY) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout) => {
                        self.checkpointer.request(Request::Truncate);
                        self.dirty = false;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match commands.recv() {
                    Ok(command) => command,
                    Err(_) => break,
                }
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match commands.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.commit(batch);
            if self.compaction.is_some() {
                self.compact_step();
            }
        }
        self.abandon_compaction();
        // Dropping the checkpointer truncates the log and waits for it.
    }

    /// Applies a batch of commands in one transaction and answers them once it is durable.
    fn commit(&mut self, batch: Vec<Command>) {
        let started = Instant::now();
        let mut compactions = Vec::new();
        let mut writes = Vec::with_capacity(batch.len());
        for command in batch {
            match command {
                Command::Compact { revision, reply } => compactions.push((revision, reply)),
                write => writes.push(write),
            }
        }
        if !writes.is_empty() {
            let count = writes.len();
            match self.apply(writes) {
                Ok((pending, events, revision)) => {
                    if !events.is_empty() {
                        // Publish before advancing the committed revision: a watcher that sees the new
                        // revision finds the events already queued (see the watch's progress rule).
                        let _ = self.events.send(Arc::new(Batch {
                            events,
                            through: revision,
                        }));
                    }
                    self.revision = revision;
                    self.shared.committed.store(revision, Ordering::SeqCst);
                    self.dirty = true;
                    for outcome in pending {
                        outcome.answer();
                    }
                    let metrics = &self.shared.metrics;
                    metrics.current_revision.set(revision);
                    metrics.commit_batch_size.observe(count as f64);
                    metrics
                        .commit_duration
                        .observe(started.elapsed().as_secs_f64());
                    self.log_grew();
                }
                Err((pending, error)) => {
                    tracing::error!(%error, "commit failed");
                    for outcome in pending {
                        outcome.fail(&error);
                    }
                }
            }
        }
        for (revision, reply) in compactions {
            self.start_compaction(revision, reply);
        }
    }

    /// Runs `writes` in one transaction. On success returns the answers, the events and the new revision;
    /// on failure every caller gets the error.
    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        writes: Vec<Command>,
    ) -> std::result::Result<(Vec<Pending>, Vec<Event>, Revision), (Vec<Pending>, Error)> {
        let path = self.path.clone();
        let mut revision = self.revision;
        let mut pending = Vec::with_capacity(writes.len());
        let mut events = Vec::with_capacity(writes.len());
        let mut writes = writes.into_iter();
        let result = (|| -> rusqlite::Result<()> {
            // Immediate: take the write lock up front. A deferred transaction that reads first could find
            // its snapshot stale when it turns to writing (after a log restart) and fail at once.
            let txn = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for command in writes.by_ref() {
                let Some((write, reply)) = command.split() else {
                    continue;
                };
                match ops::apply(&txn, write, revision + 1) {
                    Ok(outcome) => {
                        let outcome = outcome.map(|event| {
                            revision += 1;
                            let prev = event.prev.clone();
                            events.push(event);
                            (revision, prev)
                        });
                        pending.push(Pending { reply, outcome });
                    }
                    Err(error) => {
                        pending.push(Pending {
                            reply,
                            outcome: Err(Error::Closed),
                        });
                        return Err(error);
                    }
                }
            }
            if revision > self.revision {
                txn.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'revision'")?
                    .execute([revision])?;
            }
            txn.commit()
        })();
        match result {
            Ok(()) => Ok((pending, events, revision)),
            Err(error) => {
                // Writes after the failing statement were never applied; they fail with the batch.
                pending.extend(writes.filter_map(Pending::unapplied));
                Err((pending, database_error(&path, error)))
            }
        }
    }

    /// Keeps the log in bounds after a commit: asks for a passive checkpoint every
    /// [`checkpointer::PASSIVE_BYTES`] and restarts the log once it holds [`checkpointer::RESTART_BYTES`].
    fn log_grew(&mut self) {
        let pages = LOG_PAGES.with(Cell::get);
        if pages < self.passive_at_pages {
            // The log restarted since.
            self.passive_at_pages = 0;
        }
        let page_bytes = |pages: i64| u64::try_from(pages).unwrap_or(0) * LOG_FRAME_BYTES;
        if page_bytes(pages - self.passive_at_pages) >= checkpointer::PASSIVE_BYTES {
            self.passive_at_pages = pages;
            self.checkpointer.request(Request::Passive);
        }
        // A restart copies what passive checkpoints have not copied yet, while writes wait: so restart
        // only right after a passive checkpoint finished, with a short tail left. The writer holds no
        // transaction here, so only readers on old snapshots can delay the restart; it waits for them
        // briefly, else tries again after the next commit.
        if page_bytes(pages) < checkpointer::RESTART_BYTES || self.checkpointer.is_busy() {
            return;
        }
        if page_bytes(pages - self.passive_at_pages) > RESTART_TAIL_BYTES {
            self.passive_at_pages = pages;
            self.checkpointer.request(Request::Passive);
        } else {
            let restarted = self.conn.busy_timeout(RESTART_WAIT).and_then(|()| {
                self.conn
                    .query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
                        row.get::<_, i64>(0)
                    })
            });
            let restored = self.conn.busy_timeout(BUSY_TIMEOUT);
            if let Err(error) = restarted.and(restored) {
                tracing::warn!(%error, "restarting the write-ahead log failed");
            }
        }
    }
}

impl Command {
    /// The write and where its answer goes; `None` for a compaction.
    fn split(self) -> Option<(Write, Reply)> {
        match self {
            Command::Create { key, value, reply } => {
                Some((Write::Create { key, value }, Reply::Revision(reply)))
            }
            Command::Update {
                key,
                value,
                expected,
                reply,
            } => Some((
                Write::Update {
                    key,
                    value,
                    expected,
                },
                Reply::Revision(reply),
            )),
            Command::Delete {
                key,
                expected,
                reply,
            } => Some((Write::Delete { key, expected }, Reply::Deleted(reply))),
            Command::Compact { .. } => None,
        }
    }
}

impl Pending {
    /// A write the batch never got to, to be failed with it.
    fn unapplied(command: Command) -> Option<Pending> {
        let (_, reply) = command.split()?;
        Some(Pending {
            reply,
            outcome: Err(Error::Closed),
        })
    }

    fn answer(self) {
        self.reply.send(self.outcome);
    }

    fn fail(self, error: &Error) {
        self.reply
            .send(Err(Error::backend("commit failed", error.to_string())));
    }
}

impl Reply {
    /// Answers the caller: the new revision, or for a delete the revision and the removed value.
    fn send(self, outcome: Result<(Revision, Option<KeyValue>)>) {
        match self {
            Reply::Revision(reply) => {
                let _ = reply.send(outcome.map(|(revision, _)| revision));
            }
            Reply::Deleted(reply) => {
                let deleted = outcome.and_then(|(revision, prev)| {
                    prev.map(|prev| Deleted { revision, prev })
                        .ok_or(Error::Closed)
                });
                let _ = reply.send(deleted);
            }
        }
    }
}
