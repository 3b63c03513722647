//! The agent's error type.

use std::io;

/// Errors of the node agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The container runtime refused or failed a request.
    #[error("container runtime: {0}")]
    Runtime(String),
    /// The API server refused or failed a request.
    #[error("API server: {0}")]
    Api(#[from] kube::Error),
    /// Configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// A CRI call failed.
    pub fn cri(call: &str, status: tonic::Status) -> Self {
        Error::Runtime(format!("{call}: {}", status.message()))
    }
}

/// Result with the agent's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
