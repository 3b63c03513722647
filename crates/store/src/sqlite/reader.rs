//! Reads: a small pool of read-only connections and the queries behind get, list, count and the
//! history replay of watches.
//!
//! SQLite's WAL mode gives every read transaction a snapshot, so a page of a list, its remaining count
//! and the revision it reports all come from one consistent state while the writer goes on committing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, Transaction};

use super::schema::{self, Revisions, database_error};
use crate::{Error, Event, KeyValue, ListRequest, ListResponse, Result, Revision};

/// Idle connections kept for reuse; more are opened under load and closed afterwards.
const MAX_IDLE_READERS: usize = 8;

/// The history rows replayed per read transaction when a watch catches up.
pub const REPLAY_BATCH: usize = 1000;

/// Read-only connections to the database file.
#[derive(Debug)]
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Self {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on a pooled connection on tokio's blocking pool.
    pub async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<Result<T>> + Send + 'static,
    {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || readers.run_blocking(read))
            .await
            .map_err(|error| Error::backend("read task failed", error))?
    }

    fn run_blocking<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<Result<T>>,
    ) -> Result<T> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.path)?,
        };
        let result = read(&conn).map_err(|error| database_error(&self.path, error));
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        result?
    }
}

/// Reads the current value of `key`.
pub fn get(conn: &Connection, key: &str) -> rusqlite::Result<Result<Option<KeyValue>>> {
    conn.prepare_cached(
        "SELECT k.key, k.create_revision, k.revision, k.value FROM current c \
         JOIN kv k ON k.revision = c.revision WHERE c.key = ?1",
    )?
    .query_row([key], key_value)
    .optional()
    .map(Ok)
}

/// Counts the live keys under `prefix`.
pub fn count(conn: &Connection, prefix: &str) -> rusqlite::Result<Result<u64>> {
    let end = crate::prefix_end(prefix);
    let count: i64 = conn
        .prepare_cached("SELECT count(*) FROM current WHERE key >= ?1 AND key < ?2")?
        .query_row((prefix, text(&end)), |row| row.get(0))?;
    Ok(Ok(u64::try_from(count).unwrap_or(0)))
}

/// Reads one page of a list, at the current revision or at an older one.
pub fn list(conn: &Connection, request: &ListRequest) -> rusqlite::Result<Result<ListResponse>> {
    let txn = conn.unchecked_transaction()?;
    let revisions = schema::read_revisions(&txn)?;
    let at = match check_revision(request.revision, revisions) {
        Ok(at) => at,
        Err(error) => return Ok(Err(error)),
    };
    let end = crate::prefix_end(&request.prefix);
    // Keys after `after` (exclusive) or from the prefix itself (inclusive); "> x" on a key equals ">= x\0".
    let (start, inclusive) = match &request.after {
        Some(after) if after.as_str() >= request.prefix.as_str() => (after.as_str(), false),
        _ => (request.prefix.as_str(), true),
    };
    let limit = if request.limit == 0 {
        -1
    } else {
        i64::try_from(request.limit).unwrap_or(i64::MAX)
    };
    let lower = if inclusive { ">=" } else { ">" };
    let items = if at == revisions.current {
        let sql = format!(
            "SELECT k.key, k.create_revision, k.revision, k.value FROM current c \
             JOIN kv k ON k.revision = c.revision WHERE c.key {lower} ?1 AND c.key < ?2 \
             ORDER BY c.key LIMIT ?3"
        );
        txn.prepare_cached(&sql)?
            .query_map((start, text(&end), limit), key_value)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        let sql = format!(
            "SELECT a.key, a.create_revision, a.revision, a.value FROM kv a \
             WHERE a.key {lower} ?1 AND a.key < ?2 AND a.revision <= ?3 AND a.deleted = 0 \
             AND NOT EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key AND b.revision > a.revision \
                             AND b.revision <= ?3) \
             ORDER BY a.key LIMIT ?4"
        );
        txn.prepare_cached(&sql)?
            .query_map((start, text(&end), at, limit), key_value)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    let remaining = match items.last() {
        Some(last) if request.limit > 0 && items.len() == request.limit => {
            count_after(&txn, &last.key, &end, at, revisions.current)?
        }
        _ => 0,
    };
    Ok(Ok(ListResponse {
        items,
        revision: at,
        remaining,
    }))
}

/// Counts the keys after `last` (exclusive) and before `end` that were live at revision `at`.
fn count_after(
    txn: &Transaction<'_>,
    last: &str,
    end: &[u8],
    at: Revision,
    current: Revision,
) -> rusqlite::Result<u64> {
    let count: i64 = if at == current {
        txn.prepare_cached("SELECT count(*) FROM current WHERE key > ?1 AND key < ?2")?
            .query_row((last, text(end)), |row| row.get(0))?
    } else {
        txn.prepare_cached(
            "SELECT count(*) FROM kv a WHERE a.key > ?1 AND a.key < ?2 AND a.revision <= ?3 \
             AND a.deleted = 0 AND NOT EXISTS (SELECT 1 FROM kv b WHERE b.key = a.key \
             AND b.revision > a.revision AND b.revision <= ?3)",
        )?
        .query_row((last, text(end), at), |row| row.get(0))?
    };
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The revision a read at `requested` (0 = now) uses, or why it cannot be served.
fn check_revision(requested: Revision, revisions: Revisions) -> Result<Revision> {
    if requested == 0 {
        Ok(revisions.current)
    } else if requested > revisions.current {
        Err(Error::FutureRevision {
            requested,
            current: revisions.current,
        })
    } else if requested < revisions.compacted {
        Err(Error::Compacted { requested })
    } else {
        Ok(requested)
    }
}

/// A chunk of history for a watch that catches up: the changes under `prefix` after revision `after`.
#[derive(Debug)]
pub struct Replay {
    /// Changes in revision order (at most [`REPLAY_BATCH`]).
    pub events: Vec<Event>,
    /// The revision up to which history has been read: the last event's revision when the chunk is full,
    /// else the current revision of the snapshot.
    pub through: Revision,
    /// Whether the replay reached the current revision of its snapshot.
    pub done: bool,
}

/// Reads the next chunk of history after `after` under `prefix`; fails with [`Error::Compacted`] when the
/// events right after `after` are gone.
pub fn replay(
    conn: &Connection,
    prefix: &str,
    after: Revision,
) -> rusqlite::Result<Result<Replay>> {
    let txn = conn.unchecked_transaction()?;
    let revisions = schema::read_revisions(&txn)?;
    // Compacting at C keeps revision C and later, so a watch may start right before C.
    if after + 1 < revisions.compacted {
        return Ok(Err(Error::Compacted { requested: after }));
    }
    let end = crate::prefix_end(prefix);
    let events = txn
        .prepare_cached(
            "SELECT a.key, a.revision, a.create_revision, a.deleted, a.value, a.prev_revision, \
                    p.create_revision, p.value \
             FROM kv a LEFT JOIN kv p ON a.prev_revision > 0 AND p.revision = a.prev_revision \
             WHERE a.revision > ?1 AND a.revision <= ?2 AND a.key >= ?3 AND a.key < ?4 \
             ORDER BY a.revision LIMIT ?5",
        )?
        .query_map(
            (
                after,
                revisions.current,
                prefix,
                text(&end),
                REPLAY_BATCH as i64,
            ),
            history_event,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let done = events.len() < REPLAY_BATCH;
    let through = match events.last() {
        Some(last) if !done => last.revision(),
        _ => revisions.current,
    };
    Ok(Ok(Replay {
        events,
        through,
        done,
    }))
}

fn key_value(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        create_revision: row.get(1)?,
        mod_revision: row.get(2)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
    })
}

fn history_event(row: &Row<'_>) -> rusqlite::Result<Event> {
    let key: String = row.get(0)?;
    let revision: Revision = row.get(1)?;
    let create_revision: Revision = row.get(2)?;
    let deleted: bool = row.get(3)?;
    let prev_revision: Revision = row.get(5)?;
    let prev = match row.get::<_, Option<Revision>>(6)? {
        Some(prev_create) if prev_revision > 0 => Some(KeyValue {
            key: key.clone(),
            value: Bytes::from(row.get::<_, Vec<u8>>(7)?),
            create_revision: prev_create,
            mod_revision: prev_revision,
        }),
        _ => None,
    };
    Ok(if deleted {
        super::events::deleted(key, revision, prev)
    } else {
        let value = Bytes::from(row.get::<_, Vec<u8>>(4)?);
        super::events::put(key, value, create_revision, revision, prev)
    })
}

/// Binds raw bytes as TEXT: a prefix's range end need not be valid UTF-8, and SQLite compares TEXT bytewise.
fn text(bytes: &[u8]) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(ValueRef::Text(bytes))
}
