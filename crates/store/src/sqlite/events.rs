//! Building watch events, the same way from the commit path and from history.

use bytes::Bytes;

use crate::{Event, EventKind, KeyValue, Revision};

/// The event of a write that stored `value`: a create when the write started the key's life.
pub fn put(
    key: String,
    value: Bytes,
    create_revision: Revision,
    revision: Revision,
    prev: Option<KeyValue>,
) -> Event {
    let kind = if create_revision == revision {
        EventKind::Create
    } else {
        EventKind::Update
    };
    Event {
        kind,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: revision,
        },
        prev,
    }
}

/// The event of a delete at `revision`: the key with an empty value, like etcd's tombstone.
pub fn deleted(key: String, revision: Revision, prev: Option<KeyValue>) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            key,
            value: Bytes::new(),
            create_revision: 0,
            mod_revision: revision,
        },
        prev,
    }
}
