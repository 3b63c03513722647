//! The error every controller's sync returns: a failed API call, or a state it cannot act on.

/// A failed reconciliation; the work queue retries the key with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("{action}: {source}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// Something the controller cannot act on yet (retried with backoff).
    #[error("{0}")]
    Retry(String),
}

/// Results of the controllers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done to a client error.
pub trait Context<T> {
    /// Wraps the error with `action`.
    fn context(self, action: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, kube::Error> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Api {
            action: action(),
            source,
        })
    }
}

/// Whether `error` is the API's 404.
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Whether `error` is the API's 409.
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}
