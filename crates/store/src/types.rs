//! The values the store hands out: key-values with their revisions, list pages, watch events.

use bytes::Bytes;

/// A store revision: the logical clock advanced by every successful write (etcd's `mod_revision`).
pub type Revision = i64;

/// One key with its value and the revisions that created and last modified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, starting with `/`.
    pub key: String,
    /// The stored bytes (empty in the `kv` of a delete event).
    pub value: Bytes,
    /// The revision that created this incarnation of the key.
    pub create_revision: Revision,
    /// The revision of the last write to the key (the delete itself, in a delete event).
    pub mod_revision: Revision,
}

/// A page of keys under a prefix, read at one revision.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this prefix (which itself starts with `/`).
    pub prefix: String,
    /// Only keys strictly greater than this one: the last key of the previous page.
    pub after: Option<String>,
    /// The revision to read at; 0 for the current state.
    pub revision: Revision,
    /// At most this many keys; 0 for no limit.
    pub limit: usize,
}

/// The answer to a [`ListRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResponse {
    /// The keys, in key order.
    pub items: Vec<KeyValue>,
    /// The revision the page was read at: pass it back to read the next page of the same snapshot.
    pub revision: Revision,
    /// How many keys of the range (after `after`) were not returned because of the limit.
    pub remaining: u64,
}

impl ListResponse {
    /// Whether more keys follow this page.
    pub fn more(&self) -> bool {
        self.remaining > 0
    }
}

/// What a delete removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deleted {
    /// The revision of the delete.
    pub revision: Revision,
    /// The key-value as it was just before the delete.
    pub prev: KeyValue,
}

/// The kind of change a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key did not exist before this revision.
    Create,
    /// The key existed and got a new value.
    Update,
    /// The key was removed.
    Delete,
}

/// One change, as a watch delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The key after the change; for a delete, the key with an empty value and the delete's revision.
    pub kv: KeyValue,
    /// The key-value just before the change (`None` for a create).
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision of the change.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}
