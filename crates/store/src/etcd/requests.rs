//! The etcd requests the backend sends, each bounded by the request timeout and retried while
//! that is safe.
//!
//! etcd-client balances requests over the endpoints but does not fail over: a request that lands on
//! a dead endpoint fails with a connect error even when another endpoint is up. So a request is
//! retried, with a short backoff and until the request timeout, when it cannot have taken effect:
//! reads after any connection failure, writes only when the connection was never made.

use std::future::Future;
use std::time::Duration;

use etcd_client::{
    CompactionOptions, CompactionResponse, GetOptions, GetResponse, Txn, TxnResponse, WatchOptions,
    WatchStream, Watcher,
};
use tokio::time::Instant;

use super::EtcdStore;
use super::errors::Failure;

/// The first pause before a retry; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// Which failures a request may be retried after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Retry {
    /// Any connection failure: repeating the request changes nothing.
    Idempotent,
    /// Only failures before the request was sent: a write may have been applied otherwise.
    Unsent,
}

impl EtcdStore {
    /// A range request (get, list, count).
    pub(super) async fn range(
        &self,
        key: Vec<u8>,
        options: GetOptions,
    ) -> Result<GetResponse, Failure> {
        self.send(Retry::Idempotent, || {
            let mut kv = self.kv.clone();
            let (key, options) = (key.clone(), options.clone());
            async move { kv.get(key, Some(options)).await }
        })
        .await
    }

    /// A transaction that writes.
    pub(super) async fn write(&self, txn: Txn) -> Result<TxnResponse, Failure> {
        self.send(Retry::Unsent, || {
            let mut kv = self.kv.clone();
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await
    }

    /// A physical compaction to `revision`.
    pub(super) async fn compaction(&self, revision: i64) -> Result<CompactionResponse, Failure> {
        // Repeating a compaction is harmless: etcd answers "compacted" to the second one.
        self.send(Retry::Idempotent, || {
            let mut kv = self.kv.clone();
            async move {
                kv.compact(revision, Some(CompactionOptions::new().with_physical()))
                    .await
            }
        })
        .await
    }

    /// A new watch stream with one watch.
    pub(super) async fn watch_stream(
        &self,
        key: Vec<u8>,
        options: WatchOptions,
    ) -> Result<(Watcher, WatchStream), Failure> {
        self.send(Retry::Idempotent, || {
            let mut watch = self.watch.clone();
            let (key, options) = (key.clone(), options.clone());
            async move { watch.watch(key, Some(options)).await }
        })
        .await
    }

    async fn send<T, F, R>(&self, retry: Retry, make: F) -> Result<T, Failure>
    where
        F: FnMut() -> R,
        R: Future<Output = Result<T, etcd_client::Error>>,
    {
        send(self.request_timeout, retry, make).await
    }
}

/// Sends the request `make` builds, again after failures `retry` allows, until it succeeds, fails
/// otherwise, or `timeout` passes; then the last failure, if any, says why.
pub(super) async fn send<T, F, R>(
    timeout: Duration,
    retry: Retry,
    mut make: F,
) -> Result<T, Failure>
where
    F: FnMut() -> R,
    R: Future<Output = Result<T, etcd_client::Error>>,
{
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    let mut last = None;
    loop {
        let failure = match tokio::time::timeout_at(deadline, make()).await {
            Ok(Ok(response)) => return Ok(response),
            Ok(Err(error)) => Failure::Etcd(error),
            Err(_) => return Err(last.unwrap_or(Failure::TimedOut(timeout))),
        };
        let retryable = match retry {
            Retry::Idempotent => failure.is_transport(),
            Retry::Unsent => failure.is_unsent(),
        };
        if !retryable || Instant::now() + backoff >= deadline {
            return Err(failure);
        }
        tracing::debug!(%failure, ?backoff, "etcd request failed, retrying");
        last = Some(failure);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
