//! Revisioned key-value store with watch: the one place cluster state lives.
//!
//! The [`Store`] trait is the narrow slice of etcd v3 that an API server needs: get, consistent paginated
//! list, create, compare-and-swap update and delete, count, the current revision, ordered watch with the
//! previous value and progress notifications, and compaction. Two backends implement it with identical
//! semantics, checked by one conformance suite:
//!
//! - [`sqlite::SqliteStore`]: the embedded default, one file under the data directory.
//! - [`etcd::EtcdStore`]: etcd v3, for clusters with several servers.
//!
//! Revisions follow etcd: a store starts at revision 1, every successful write gets the next revision,
//! and a failed compare-and-swap consumes none. The revision of an object's last write is its
//! `resourceVersion` in the API.

mod compactor;
mod error;
pub mod etcd;
mod keys;
mod metrics;
pub mod sqlite;
mod types;
mod watch;

pub use compactor::{Compactor, CompactorConfig};
pub use error::{Error, Result};
pub use keys::{
    MAX_KEY_BYTES, MAX_VALUE_BYTES, prefix_end, validate_key, validate_prefix, validate_value,
};
pub use metrics::StoreMetrics;
pub use types::{Deleted, Event, EventKind, KeyValue, ListRequest, ListResponse, Revision};
pub use watch::{Watch, WatchItem, WatchOptions};

use async_trait::async_trait;
use bytes::Bytes;

/// What the API server needs from its storage: etcd v3's key-value and watch semantics, no more.
///
/// Keys are UTF-8 paths that start with `/` (see [`validate_key`]); values are opaque bytes of at most
/// [`MAX_VALUE_BYTES`]. Every method is cancel-safe in the sense that dropping its future never leaves a
/// write half applied: a write is either committed (and then durable) or not at all.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current value of `key`, or `None` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys under `request.prefix`, in key order, as they were at one revision.
    ///
    /// A revision of 0 reads the current state; the response's `revision` is the one that was read, and a
    /// continuation (`after` = the last key returned) passes it back to see the same snapshot. A revision
    /// older than the last compaction fails with [`Error::Compacted`], one newer than the store with
    /// [`Error::FutureRevision`].
    async fn list(&self, request: &ListRequest) -> Result<ListResponse>;

    /// Creates `key`; fails with [`Error::AlreadyExists`] when it exists. Returns the new revision.
    async fn create(&self, key: &str, value: Bytes) -> Result<Revision>;

    /// Replaces the value of `key` if its modification revision is still `expected`.
    ///
    /// Fails with [`Error::NotFound`] when the key does not exist and with [`Error::Conflict`] (carrying
    /// the current value) when another write came first. Returns the new revision.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision>;

    /// Deletes `key`, if given only while its modification revision is still `expected`.
    ///
    /// Returns the revision of the delete and the value it removed.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted>;

    /// The number of keys under `prefix` now.
    async fn count(&self, prefix: &str) -> Result<u64>;

    /// The revision of the last write (1 for a new store).
    async fn current_revision(&self) -> Result<Revision>;

    /// Every change under `prefix` with a revision greater than `after`, in revision order, each with the
    /// value it replaced; 0 means "from now on".
    ///
    /// Fails with [`Error::Compacted`] when events after `after` are no longer kept. A watcher that falls
    /// so far behind that its next events were compacted receives that error as its last item.
    async fn watch(&self, prefix: &str, after: Revision, options: WatchOptions) -> Result<Watch>;

    /// Discards the history before `revision`: afterwards reads at an older revision and watches that
    /// would start before it fail with [`Error::Compacted`]. Compacting to a revision at or below the last
    /// compaction does nothing.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The revision of the last compaction (0 when the store was never compacted), as far as this store
    /// instance knows.
    async fn compacted_revision(&self) -> Result<Revision>;

    /// The store's metrics, for the server's `/metrics`.
    fn metrics(&self) -> &StoreMetrics;
}
