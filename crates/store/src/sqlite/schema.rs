//! The database file: opening it, recognising it as ours, creating and checking its schema.
//!
//! A kubers database carries `PRAGMA application_id` [`APPLICATION_ID`] and `PRAGMA user_version`
//! [`SCHEMA_VERSION`]. A file that is not SQLite, a SQLite file of another application, and a file written
//! by a newer schema are all refused with [`Error::Database`] before anything is written to them.
//!
//! Tables:
//! - `kv`: the history, one row per write (the revision is the row id). A delete writes a tombstone row.
//!   `prev_revision` points at the row the write replaced (0 for a create), which gives watch events their
//!   previous value without storing it twice.
//! - `current`: each live key and the revision of its latest row, for reads at the current revision.
//! - `meta`: the current revision and the compacted revision.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension};

use crate::{Error, Result, Revision};

/// Marks a SQLite file as a kubers store ("kubr").
pub const APPLICATION_ID: i64 = 0x6b75_6272;
/// The schema version this program writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

const CREATE_SCHEMA: &str = "
CREATE TABLE kv (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX kv_key_revision ON kv (key, revision);
CREATE TABLE current (
    key TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (name, value) VALUES ('revision', 1), ('compacted', 0);
";

/// The revisions recorded in `meta`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revisions {
    /// The revision of the last write.
    pub current: Revision,
    /// The revision of the last compaction.
    pub compacted: Revision,
}

/// Opens the writer's connection: creates the file and schema if new, checks an existing one.
pub fn open_writer(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| Error::Database {
            path: path.display().to_string(),
            message: format!("cannot create directory {}: {error}", dir.display()),
        })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| database_error(path, error))?;
    let application_id: i64 = conn
        .pragma_query_value(None, "application_id", |row| row.get(0))
        .map_err(|error| database_error(path, error))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|error| database_error(path, error))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(|error| database_error(path, error))?;

    if application_id == 0 && tables == 0 {
        // A new file: settings that must precede the first table, then the schema.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(|error| database_error(path, error))?;
        set_journal(&conn, path)?;
        let create = format!(
            "BEGIN; {CREATE_SCHEMA} PRAGMA application_id = {APPLICATION_ID}; \
             PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
        );
        conn.execute_batch(&create)
            .map_err(|error| database_error(path, error))?;
    } else if application_id != APPLICATION_ID {
        return Err(Error::Database {
            path: path.display().to_string(),
            message: format!(
                "not a kubers database (application id {application_id:#x}, {tables} schema objects)"
            ),
        });
    } else if version > SCHEMA_VERSION {
        return Err(Error::Database {
            path: path.display().to_string(),
            message: format!(
                "written by a newer kubers (schema version {version}; this one supports up to {SCHEMA_VERSION}); \
                 run a newer kubers or restore a backup"
            ),
        });
    } else if version < SCHEMA_VERSION {
        return Err(Error::Database {
            path: path.display().to_string(),
            message: format!("unknown schema version {version}"),
        });
    } else {
        set_journal(&conn, path)?;
    }
    // FULL: the WAL is fsynced at every commit, so an acknowledged write survives a crash of the machine,
    // not only of the process. Group commit amortises that fsync over every write in the batch.
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -16384; \
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(|error| database_error(path, error))?;
    Ok(conn)
}

/// Opens a read-only connection to an existing store.
pub fn open_reader(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| database_error(path, error))?;
    conn.execute_batch("PRAGMA cache_size = -2048; PRAGMA busy_timeout = 5000;")
        .map_err(|error| database_error(path, error))?;
    Ok(conn)
}

/// Reads the revisions from `meta`, checking them against the history.
pub fn read_revisions(conn: &Connection) -> rusqlite::Result<Revisions> {
    let meta = |name: &str| -> rusqlite::Result<Revision> {
        conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
            .query_row([name], |row| row.get(0))
    };
    let current = meta("revision")?;
    let compacted = meta("compacted")?;
    let newest: Option<Revision> = conn
        .query_row("SELECT max(revision) FROM kv", [], |row| row.get(0))
        .optional()?
        .flatten();
    Ok(Revisions {
        current: current.max(newest.unwrap_or(0)),
        compacted,
    })
}

fn set_journal(conn: &Connection, path: &Path) -> Result<()> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|error| database_error(path, error))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database {
            path: path.display().to_string(),
            message: format!("cannot switch to WAL mode (journal mode is {mode})"),
        });
    }
    Ok(())
}

/// Maps a SQLite error to a store error: problems of the file itself become [`Error::Database`].
pub fn database_error(path: &Path, error: rusqlite::Error) -> Error {
    let code = error.sqlite_error_code();
    match code {
        Some(ErrorCode::NotADatabase) => Error::Database {
            path: path.display().to_string(),
            message: "not a SQLite database (corrupt or foreign file)".to_owned(),
        },
        Some(
            ErrorCode::DatabaseCorrupt
            | ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull,
        ) => Error::Database {
            path: path.display().to_string(),
            message: error.to_string(),
        },
        _ => Error::backend(format!("database {}", path.display()), error),
    }
}
