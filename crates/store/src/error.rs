//! The one error type every backend returns, so callers map errors to API statuses once.

use crate::Revision;

/// A store error. Variants before [`Error::Unavailable`] are answers about the data; the rest are
/// failures of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `create` found the key already there.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// `update` or `delete` found no such key.
    #[error("key {key:?} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// A compare-and-swap lost: the key was modified since the expected revision.
    #[error("key {key:?} was modified: expected revision {expected}, found {}", current.mod_revision)]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key-value as it is now, so the caller can retry without another read.
        current: Box<crate::KeyValue>,
    },
    /// The requested revision is older than the last compaction.
    #[error("revision {requested} has been compacted")]
    Compacted {
        /// The revision that was asked for.
        requested: Revision,
    },
    /// The requested revision is newer than the store.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's current revision (0 when the backend does not say).
        current: Revision,
    },
    /// The key is empty or malformed.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value is larger than every backend accepts.
    #[error("value for key {key:?} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The key.
        key: String,
        /// The value's size.
        size: usize,
        /// The limit ([`crate::MAX_VALUE_BYTES`]).
        limit: usize,
    },
    /// The backend cannot be reached or did not answer in time; the operation may be retried.
    #[error("store unavailable: {message}")]
    Unavailable {
        /// What failed.
        message: String,
    },
    /// The database file is not one this program can use (corrupt, foreign, or from a newer version).
    #[error("database {path}: {message}")]
    Database {
        /// The database file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The store was closed or its writer stopped.
    #[error("store is closed")]
    Closed,
    /// Any other backend failure, with its cause.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A `Result` whose error is the store's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a backend error with what was being done.
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}
