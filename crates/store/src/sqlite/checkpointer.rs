//! Write-ahead log checkpoints on their own thread, so copying the log into the database (and that
//! copy's fsync) never delays a commit.
//!
//! The writer turns SQLite's automatic checkpoints off and asks this thread instead: a passive
//! checkpoint each time the log has grown by [`PASSIVE_BYTES`] (it copies pages beside the writer without
//! blocking it), and a truncating one when writes pause. Under sustained writes a passive checkpoint never
//! catches up with the end of the log, so the writer itself restarts the log every [`RESTART_BYTES`]
//! (see the writer): the pages are by then mostly copied, so that restart is short, and the log file is
//! reused from its start instead of growing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use super::schema::database_error;
use super::shared::Shared;
use crate::{Error, Result};

/// Log growth that triggers a passive checkpoint.
pub const PASSIVE_BYTES: u64 = 2 * 1024 * 1024;
/// Log growth after which the writer restarts the log from its start.
pub const RESTART_BYTES: u64 = 64 * 1024 * 1024;
/// The log file is cut back to this size whenever it restarts (SQLite's `journal_size_limit`).
pub const LOG_SIZE_LIMIT: u64 = 96 * 1024 * 1024;

/// What the writer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Copy what the log holds into the database without waiting for anyone.
    Passive,
    /// Copy everything and truncate the log to zero bytes (waits briefly for the writer).
    Truncate,
}

/// The handle the writer keeps.
pub struct Checkpointer {
    requests: Option<SyncSender<Request>>,
    thread: Option<JoinHandle<()>>,
    /// Requests sent and not yet done.
    busy: Arc<AtomicUsize>,
}

impl Checkpointer {
    /// Starts the checkpoint thread for the database at `path`.
    pub fn spawn(path: &Path, shared: Arc<Shared>) -> Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|conn| {
            conn.execute_batch(&format!(
                "PRAGMA busy_timeout = 5000; PRAGMA journal_size_limit = {LOG_SIZE_LIMIT};"
            ))?;
            Ok(conn)
        })
        .map_err(|error| database_error(path, error))?;
        let (requests, queue) = mpsc::sync_channel(1);
        let busy = Arc::new(AtomicUsize::new(0));
        let worker = Worker {
            busy: Arc::clone(&busy),
            conn,
            path: path.to_owned(),
            wal_path: wal_path(path),
            shared,
        };
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".to_owned())
            .spawn(move || worker.run(queue))
            .map_err(|error| Error::backend("cannot start the checkpoint thread", error))?;
        Ok(Checkpointer {
            requests: Some(requests),
            thread: Some(thread),
            busy,
        })
    }

    /// Asks for a checkpoint; a request already queued covers this one.
    pub fn request(&self, request: Request) {
        if let Some(requests) = &self.requests {
            match requests.try_send(request) {
                Ok(()) => {
                    self.busy.fetch_add(1, Ordering::AcqRel);
                }
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
            }
        }
    }
}

impl Checkpointer {
    /// Whether a checkpoint is queued or running (a log restart would wait for it).
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the checkpoint thread panicked");
        }
    }
}

/// The path of the log file of the database at `path`.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

struct Worker {
    /// Requests sent and not yet done.
    busy: Arc<AtomicUsize>,
    conn: Connection,
    path: PathBuf,
    wal_path: PathBuf,
    shared: Arc<Shared>,
}

impl Worker {
    fn run(self, queue: Receiver<Request>) {
        while let Ok(mut request) = queue.recv() {
            // Merge whatever else queued up meanwhile; a truncation covers a passive checkpoint.
            let mut merged = 1;
            while let Ok(next) = queue.try_recv() {
                merged += 1;
                if next == Request::Truncate {
                    request = next;
                }
            }
            self.checkpoint(request);
            self.busy.fetch_sub(merged, Ordering::AcqRel);
        }
        self.checkpoint(Request::Truncate);
    }

    fn checkpoint(&self, request: Request) {
        let sql = match request {
            Request::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Request::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        match self.conn.query_row(sql, [], |row| row.get::<_, i64>(0)) {
            Ok(0) if request == Request::Truncate => {
                self.shared.metrics.wal_checkpoints.inc();
            }
            // Busy, or a passive run: the next request tries again.
            Ok(_) => {}
            Err(error) => {
                let error = database_error(&self.path, error);
                tracing::warn!(%error, "checkpoint failed");
            }
        }
        let size = |path: &Path| {
            std::fs::metadata(path).map_or(0, |meta| i64::try_from(meta.len()).unwrap_or(i64::MAX))
        };
        self.shared.metrics.db_size_bytes.set(size(&self.path));
        self.shared.metrics.wal_size_bytes.set(size(&self.wal_path));
    }
}
