//! How etcd's failures become store errors: timeouts and transport failures are
//! [`Error::Unavailable`], revision answers are recognised by etcd's message, the rest is
//! [`Error::Backend`].

use std::time::Duration;

use crate::Error;

/// etcd's message for a read or watch at a revision older than the last compaction.
const COMPACTED_MESSAGE: &str = "required revision has been compacted";
/// etcd's message for a read or compaction at a revision newer than the store.
const FUTURE_REVISION_MESSAGE: &str = "required revision is a future revision";
/// etcd's message when it sheds load; the request may be retried.
const TOO_MANY_REQUESTS_MESSAGE: &str = "too many requests";

/// Parts of the messages hyper and tonic give connection failures, which arrive with gRPC code
/// `Unknown` (for example "h2 protocol error: error reading a body from connection" when the server
/// goes away during a request).
const TRANSPORT_MESSAGES: [&str; 4] = [
    "transport error",
    "connect",
    "h2 protocol error",
    "broken pipe",
];

/// Parts of the messages of connection failures before a request is sent (tonic reports a failed
/// connect as `Unavailable` with the connector's message, e.g. "tcp connect error", "dns error").
const UNSENT_MESSAGES: [&str; 2] = ["connect", "dns error"];

/// gRPC status codes (from the gRPC specification) that mean "try again later".
const GRPC_CANCELLED: i32 = 1;
const GRPC_UNKNOWN: i32 = 2;
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_UNAVAILABLE: i32 = 14;

/// A failed request to etcd, before the operation that sent it gives it a meaning.
#[derive(Debug)]
pub(super) enum Failure {
    /// No answer within the configured timeout.
    TimedOut(Duration),
    /// etcd, or the connection to it, answered with an error.
    Etcd(etcd_client::Error),
}

impl Failure {
    /// Whether etcd refused the request because the revision it names was compacted.
    pub(super) fn is_compacted(&self) -> bool {
        self.message_contains(COMPACTED_MESSAGE)
    }

    /// Whether etcd refused the request because the revision it names is in the future.
    pub(super) fn is_future_revision(&self) -> bool {
        self.message_contains(FUTURE_REVISION_MESSAGE)
    }

    /// Whether the failure is about reaching etcd rather than about the request.
    pub(super) fn is_transport(&self) -> bool {
        match self {
            Failure::TimedOut(_) => true,
            Failure::Etcd(error) => is_transport(error),
        }
    }

    /// Whether the request certainly never took effect: the connection to a server could not be
    /// made, or the server shed it before looking at it.
    pub(super) fn is_unsent(&self) -> bool {
        match self {
            Failure::TimedOut(_) => false,
            Failure::Etcd(etcd_client::Error::TransportError(_)) => true,
            Failure::Etcd(etcd_client::Error::GRpcStatus(status)) => {
                let message = status.message();
                (i32::from(status.code()) == GRPC_UNAVAILABLE
                    && UNSENT_MESSAGES.iter().any(|part| message.contains(part)))
                    || message.contains(TOO_MANY_REQUESTS_MESSAGE)
            }
            Failure::Etcd(_) => false,
        }
    }

    /// The store error for this failure; `context` says what was being done (e.g. `get "/a"`) and
    /// `endpoints` which etcd servers were asked.
    pub(super) fn into_error(self, context: &str, endpoints: &str) -> Error {
        match self {
            Failure::TimedOut(timeout) => Error::Unavailable {
                message: format!("etcd at {endpoints} did not answer {context} within {timeout:?}"),
            },
            Failure::Etcd(error) if is_transport(&error) => Error::Unavailable {
                message: format!("cannot reach etcd at {endpoints} for {context}: {error}"),
            },
            Failure::Etcd(error) => Error::backend(format!("etcd {context} failed"), error),
        }
    }

    fn message_contains(&self, needle: &str) -> bool {
        match self {
            Failure::Etcd(etcd_client::Error::GRpcStatus(status)) => {
                status.message().contains(needle)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::TimedOut(timeout) => write!(f, "no answer within {timeout:?}"),
            Failure::Etcd(error) => write!(f, "{error}"),
        }
    }
}

impl From<etcd_client::Error> for Failure {
    fn from(error: etcd_client::Error) -> Self {
        Failure::Etcd(error)
    }
}

/// Whether `error` means the connection to etcd failed or etcd cannot serve right now (no leader,
/// overloaded), as opposed to etcd refusing this particular request.
fn is_transport(error: &etcd_client::Error) -> bool {
    match error {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(status) => {
            let message = status.message();
            match i32::from(status.code()) {
                GRPC_UNAVAILABLE | GRPC_DEADLINE_EXCEEDED | GRPC_CANCELLED => true,
                // hyper's connection errors surface as `Unknown` with a transport message.
                GRPC_UNKNOWN => TRANSPORT_MESSAGES.iter().any(|part| message.contains(part)),
                _ => message.contains(TOO_MANY_REQUESTS_MESSAGE),
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use super::*;

    /// A gRPC status error as etcd-client reports it. `tonic::Status` converts from an I/O error
    /// (the kind picks the gRPC code), which spares the store a direct dependency on `tonic`.
    fn grpc(kind: ErrorKind, message: &str) -> Failure {
        Failure::Etcd(etcd_client::Error::GRpcStatus(
            std::io::Error::new(kind, message.to_owned()).into(),
        ))
    }

    #[test]
    fn revision_answers_are_recognised_by_message() {
        let compacted = grpc(
            ErrorKind::UnexpectedEof,
            "etcdserver: mvcc: required revision has been compacted",
        );
        assert!(compacted.is_compacted());
        assert!(!compacted.is_future_revision());

        let future = grpc(
            ErrorKind::UnexpectedEof,
            "etcdserver: mvcc: required revision is a future revision",
        );
        assert!(future.is_future_revision());
        assert!(!future.is_compacted());
    }

    #[test]
    fn transport_failures_are_unavailable() {
        for failure in [
            grpc(ErrorKind::ConnectionRefused, "connection refused"),
            grpc(ErrorKind::TimedOut, "deadline exceeded"),
            grpc(ErrorKind::Other, "transport error"),
            grpc(
                ErrorKind::Other,
                "h2 protocol error: error reading a body from connection",
            ),
            grpc(ErrorKind::PermissionDenied, "etcdserver: too many requests"),
            Failure::Etcd(etcd_client::Error::IoError(std::io::Error::from(
                ErrorKind::ConnectionReset,
            ))),
            Failure::TimedOut(Duration::from_secs(1)),
        ] {
            match failure.into_error("get \"/a\"", "http://127.0.0.1:1") {
                Error::Unavailable { message } => {
                    assert!(message.contains("http://127.0.0.1:1"), "{message}");
                    assert!(message.contains("get \"/a\""), "{message}");
                }
                other => panic!("expected unavailable, got {other:?}"),
            }
        }
    }

    #[test]
    fn only_failed_connects_are_unsent() {
        assert!(grpc(ErrorKind::ConnectionRefused, "tcp connect error").is_unsent());
        assert!(grpc(ErrorKind::ConnectionRefused, "dns error").is_unsent());
        assert!(grpc(ErrorKind::PermissionDenied, "etcdserver: too many requests").is_unsent());
        // The server may have applied these.
        assert!(
            !grpc(
                ErrorKind::ConnectionRefused,
                "etcdserver: request timed out"
            )
            .is_unsent()
        );
        assert!(!grpc(ErrorKind::Other, "h2 protocol error: error reading a body").is_unsent());
        assert!(!Failure::TimedOut(Duration::from_secs(1)).is_unsent());
        assert!(grpc(ErrorKind::Other, "h2 protocol error: error reading a body").is_transport());
    }

    #[test]
    fn other_failures_are_backend_errors_with_context() {
        let failure = grpc(ErrorKind::InvalidInput, "etcdserver: request is too large");
        let error = failure.into_error("update \"/a\"", "http://127.0.0.1:1");
        assert!(matches!(error, Error::Backend { .. }), "{error:?}");
        assert!(
            error.to_string().starts_with("etcd update \"/a\" failed: "),
            "{error}"
        );
        assert!(
            error.to_string().contains("request is too large"),
            "{error}"
        );
    }
}
