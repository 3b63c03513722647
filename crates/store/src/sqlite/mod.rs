//! The embedded SQLite backend: one database file, one writer thread with group commit, pooled readers,
//! and watches fed from the commit path.
//!
//! - [`schema`]: the file, its schema and its checks.
//! - [`writer`]: group commit, revisions, event publication, compaction.
//! - [`checkpointer`]: write-ahead log checkpoints on their own thread.
//! - [`reader`]: reads at the current or an older revision, and history replay for watches.
//! - [`watch`]: one task per watch, replaying history and then following live events.

mod checkpointer;
mod events;
mod reader;
mod schema;
mod shared;
mod watch;
mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::{broadcast, oneshot};

pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

use self::reader::Readers;
use self::shared::Shared;
use self::watch::WatchTask;
use self::writer::{Command, Writer};
use crate::{
    Deleted, Error, KeyValue, ListRequest, ListResponse, Result, Revision, Store, StoreMetrics,
    Watch, WatchOptions, validate_key, validate_prefix, validate_value,
};

/// Committed batches buffered for watches that are momentarily behind; a watch further behind replays
/// from the database instead.
const LIVE_BUFFER: usize = 1024;

/// Where and how to open a SQLite store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqliteConfig {
    /// The database file (`<data-dir>/server/db/state.db` in a server).
    pub path: PathBuf,
}

impl SqliteConfig {
    /// A store in the file at `path` (created with its directory if missing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteConfig { path: path.into() }
    }
}

/// A store in one SQLite file. Dropping it finishes the queued writes and closes the file.
#[derive(Debug)]
pub struct SqliteStore {
    shared: Arc<Shared>,
    readers: Arc<Readers>,
    commands: Option<mpsc::Sender<Command>>,
    writer: Option<JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens (or creates) the store at `config.path` and starts its writer thread.
    ///
    /// Refuses a file that is not a kubers database or that a newer version wrote, with
    /// [`Error::Database`].
    pub fn open(config: SqliteConfig) -> Result<SqliteStore> {
        let conn = schema::open_writer(&config.path)?;
        let revisions = schema::read_revisions(&conn)
            .map_err(|error| schema::database_error(&config.path, error))?;
        let (events, _) = broadcast::channel(LIVE_BUFFER);
        let metrics = StoreMetrics::default();
        metrics.current_revision.set(revisions.current);
        metrics.compacted_revision.set(revisions.compacted);
        let shared = Arc::new(Shared {
            committed: AtomicI64::new(revisions.current),
            compacted: AtomicI64::new(revisions.compacted),
            events: Mutex::new(Some(events.clone())),
            metrics,
        });
        let (commands, queue) = mpsc::channel();
        let writer = Writer::new(
            conn,
            &config.path,
            Arc::clone(&shared),
            events,
            revisions.current,
        )?;
        let writer = std::thread::Builder::new()
            .name("store-writer".to_owned())
            .spawn(move || writer.run(queue))
            .map_err(|error| Error::backend("cannot start the store writer thread", error))?;
        Ok(SqliteStore {
            shared,
            readers: Arc::new(Readers::new(config.path)),
            commands: Some(commands),
            writer: Some(writer),
        })
    }

    async fn send<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .as_ref()
            .ok_or(Error::Closed)?
            .send(command(reply))
            .map_err(|_| Error::Closed)?;
        answer.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Ok(mut events) = self.shared.events.lock() {
            events.take();
        }
        self.commands.take();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the store writer thread panicked");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        validate_key(key)?;
        let key = key.to_owned();
        self.readers.run(move |conn| reader::get(conn, &key)).await
    }

    async fn list(&self, request: &ListRequest) -> Result<ListResponse> {
        validate_prefix(&request.prefix)?;
        if let Some(after) = &request.after {
            validate_key(after)?;
        }
        let request = request.clone();
        self.readers
            .run(move |conn| reader::list(conn, &request))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let key = key.to_owned();
        self.send(|reply| Command::Create { key, value, reply })
            .await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        validate_key(key)?;
        validate_value(key, &value)?;
        let key = key.to_owned();
        self.send(|reply| Command::Update {
            key,
            value,
            expected,
            reply,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        validate_key(key)?;
        let key = key.to_owned();
        self.send(|reply| Command::Delete {
            key,
            expected,
            reply,
        })
        .await
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        validate_prefix(prefix)?;
        let prefix = prefix.to_owned();
        self.readers
            .run(move |conn| reader::count(conn, &prefix))
            .await
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.committed.load(Ordering::SeqCst))
    }

    async fn watch(&self, prefix: &str, after: Revision, options: WatchOptions) -> Result<Watch> {
        validate_prefix(prefix)?;
        // Subscribe before reading anything, so no batch committed from here on can be missed.
        let live = self.shared.subscribe().ok_or(Error::Closed)?;
        let after = if after <= 0 {
            self.shared.committed.load(Ordering::SeqCst)
        } else {
            after
        };
        if after + 1 < self.shared.compacted.load(Ordering::SeqCst) {
            return Err(Error::Compacted { requested: after });
        }
        let (out, watch) = Watch::channel();
        let task = WatchTask {
            shared: Arc::clone(&self.shared),
            readers: Arc::clone(&self.readers),
            prefix: prefix.to_owned(),
            seen: after,
            live,
            out,
            options,
        };
        tokio::spawn(task.run());
        Ok(watch)
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.send(|reply| Command::Compact { revision, reply })
            .await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.compacted.load(Ordering::SeqCst))
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.shared.metrics
    }
}

#[cfg(test)]
mod tests;
