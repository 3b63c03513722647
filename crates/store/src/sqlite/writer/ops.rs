//! The writes themselves, inside the writer's transaction: create, compare-and-swap update and delete,
//! each returning the event it causes or the reason it was refused.

use bytes::Bytes;
use rusqlite::{OptionalExtension, Transaction};

use crate::sqlite::events;
use crate::{Error, Event, KeyValue, Result, Revision};

/// The live row of `key`: its modification revision, create revision and value.
fn current(txn: &Transaction<'_>, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    txn.prepare_cached(
        "SELECT c.revision, k.create_revision, k.value FROM current c \
         JOIN kv k ON k.revision = c.revision WHERE c.key = ?1",
    )?
    .query_row([key], |row| {
        Ok(KeyValue {
            key: key.to_owned(),
            mod_revision: row.get(0)?,
            create_revision: row.get(1)?,
            value: Bytes::from(row.get::<_, Vec<u8>>(2)?),
        })
    })
    .optional()
}

fn insert_row(
    txn: &Transaction<'_>,
    revision: Revision,
    key: &str,
    create_revision: Revision,
    prev_revision: Revision,
    deleted: bool,
    value: &[u8],
) -> rusqlite::Result<()> {
    txn.prepare_cached(
        "INSERT INTO kv (revision, key, create_revision, prev_revision, deleted, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        revision,
        key,
        create_revision,
        prev_revision,
        deleted,
        value,
    ))?;
    Ok(())
}

/// One write of a batch.
pub(super) enum Write {
    /// Create a key that must not exist.
    Create { key: String, value: Bytes },
    /// Replace a value at the expected modification revision.
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    /// Delete a key, at the expected modification revision if given.
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

/// Applies `write` as revision `revision`: the event it causes, or why it was refused.
pub(super) fn apply(
    txn: &Transaction<'_>,
    write: Write,
    revision: Revision,
) -> rusqlite::Result<Result<Event>> {
    match write {
        Write::Create { key, value } => create(txn, key, value, revision),
        Write::Update {
            key,
            value,
            expected,
        } => update(txn, key, value, expected, revision),
        Write::Delete { key, expected } => delete(txn, key, expected, revision),
    }
}

fn create(
    txn: &Transaction<'_>,
    key: String,
    value: Bytes,
    revision: Revision,
) -> rusqlite::Result<Result<Event>> {
    let inserted = txn
        .prepare_cached(
            "INSERT INTO current (key, revision) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute((&key, revision))?;
    if inserted == 0 {
        return Ok(Err(Error::AlreadyExists { key }));
    }
    insert_row(txn, revision, &key, revision, 0, false, &value)?;
    Ok(Ok(events::put(key, value, revision, revision, None)))
}

/// The live value of `key` if its modification revision is `expected` (or any, for `None`); else why not.
fn guarded(
    txn: &Transaction<'_>,
    key: &str,
    expected: Option<Revision>,
) -> rusqlite::Result<Result<KeyValue>> {
    let Some(prev) = current(txn, key)? else {
        return Ok(Err(Error::NotFound {
            key: key.to_owned(),
        }));
    };
    match expected {
        Some(expected) if expected != prev.mod_revision => Ok(Err(Error::Conflict {
            key: key.to_owned(),
            expected,
            current: Box::new(prev),
        })),
        _ => Ok(Ok(prev)),
    }
}

fn update(
    txn: &Transaction<'_>,
    key: String,
    value: Bytes,
    expected: Revision,
    revision: Revision,
) -> rusqlite::Result<Result<Event>> {
    let prev = match guarded(txn, &key, Some(expected))? {
        Ok(prev) => prev,
        Err(refused) => return Ok(Err(refused)),
    };
    insert_row(
        txn,
        revision,
        &key,
        prev.create_revision,
        prev.mod_revision,
        false,
        &value,
    )?;
    txn.prepare_cached("UPDATE current SET revision = ?2 WHERE key = ?1")?
        .execute((&key, revision))?;
    let create_revision = prev.create_revision;
    Ok(Ok(events::put(
        key,
        value,
        create_revision,
        revision,
        Some(prev),
    )))
}

fn delete(
    txn: &Transaction<'_>,
    key: String,
    expected: Option<Revision>,
    revision: Revision,
) -> rusqlite::Result<Result<Event>> {
    let prev = match guarded(txn, &key, expected)? {
        Ok(prev) => prev,
        Err(refused) => return Ok(Err(refused)),
    };
    insert_row(
        txn,
        revision,
        &key,
        prev.create_revision,
        prev.mod_revision,
        true,
        &[],
    )?;
    txn.prepare_cached("DELETE FROM current WHERE key = ?1")?
        .execute([&key])?;
    Ok(Ok(events::deleted(key, revision, Some(prev))))
}
