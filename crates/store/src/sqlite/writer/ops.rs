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

pub(super) fn create(
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

pub(super) fn update(
    txn: &Transaction<'_>,
    key: String,
    value: Bytes,
    expected: Revision,
    revision: Revision,
) -> rusqlite::Result<Result<Event>> {
    let Some(prev) = current(txn, &key)? else {
        return Ok(Err(Error::NotFound { key }));
    };
    if prev.mod_revision != expected {
        return Ok(Err(Error::Conflict {
            key,
            expected,
            current: Box::new(prev),
        }));
    }
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

pub(super) fn delete(
    txn: &Transaction<'_>,
    key: String,
    expected: Option<Revision>,
    revision: Revision,
) -> rusqlite::Result<Result<(Event, KeyValue)>> {
    let Some(prev) = current(txn, &key)? else {
        return Ok(Err(Error::NotFound { key }));
    };
    if let Some(expected) = expected.filter(|&expected| expected != prev.mod_revision) {
        return Ok(Err(Error::Conflict {
            key,
            expected,
            current: Box::new(prev),
        }));
    }
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
    Ok(Ok((
        events::deleted(key, revision, Some(prev.clone())),
        prev,
    )))
}
