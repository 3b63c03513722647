//! The etcd v3 backend: the [`Store`] trait on an etcd cluster, for clusters with several servers.
//!
//! Every operation is one etcd request (compare-and-swap writes are one transaction; compaction
//! first reads the current revision), bounded by [`EtcdConfig::request_timeout`] and retried on
//! connection failures while that is safe. Keys are stored as given, behind an optional
//! [`EtcdConfig::key_prefix`], so `etcdctl get --prefix /registry` shows what the API server wrote.
//! Revisions are etcd's own, which is why the SQLite backend copies etcd's revision rules.
//!
//! - `config`: endpoints, key prefix, timeouts.
//! - `kv`: reads, writes and counts.
//! - `compaction`: compaction, one revision behind in etcd so that watch events keep their
//!   previous values.
//! - `requests`: the etcd requests, with the request timeout and retries on connection failures.
//! - `watch`: etcd watches forwarded into a [`Watch`].
//! - `convert`: the key prefix and etcd's key-values and events.
//! - `errors`: which etcd failures mean "unavailable", "compacted" or "future revision".

mod compaction;
mod config;
mod convert;
mod errors;
mod kv;
mod requests;
mod watch;

#[cfg(test)]
mod tests;

pub use config::EtcdConfig;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{Client, ConnectOptions, KvClient, WatchClient};

use crate::{
    Deleted, Error, KeyValue, ListRequest, ListResponse, Result, Revision, Store, StoreMetrics,
    Watch, WatchOptions,
};
use convert::Keys;
use errors::Failure;
use requests::Retry;

/// The largest response accepted from etcd: a list page or a watch catch-up batch may hold many
/// values of up to [`crate::MAX_VALUE_BYTES`], far over gRPC's default of 4 MiB (kube-apiserver
/// lifts the limit the same way).
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;

/// HTTP/2 pings on the connection, so a watch on a vanished server fails instead of waiting forever.
/// etcd refuses pings more often than every 5 s (`--grpc-keepalive-min-time`).
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// How long a ping may go unanswered before the connection counts as dead.
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The store on an etcd v3 cluster.
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    keys: Arc<Keys>,
    /// The endpoints, for error messages.
    endpoints: Arc<str>,
    request_timeout: Duration,
    /// How long to hold back a requested progress notification (see [`watch`]); `None` when the
    /// server orders them correctly.
    progress_settle: Option<Duration>,
    /// The store's compaction revision as far as this instance knows (see [`compaction`]).
    compacted: Arc<AtomicI64>,
    /// Dropped with the store, which ends its watches.
    alive: tokio::sync::watch::Sender<()>,
    /// The highest revision this instance wrote or read, for [`StoreMetrics::current_revision`].
    latest: AtomicI64,
    metrics: StoreMetrics,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl EtcdStore {
    /// Connects to etcd and checks with one request (a status request, which also tells the
    /// server's version) that it answers.
    ///
    /// Fails with [`Error::Unavailable`] naming the endpoints when the request fails or no endpoint
    /// answers within [`EtcdConfig::connect_timeout`].
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore> {
        let endpoints: Arc<str> = Arc::from(config.endpoint_list());
        if config.endpoints.is_empty() {
            return Err(Error::Unavailable {
                message: "no etcd endpoints configured".to_owned(),
            });
        }
        let options = ConnectOptions::new()
            .with_connect_timeout(config.connect_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let connecting = async {
            // The client connects lazily: the status request is what reaches a server.
            let client = Client::connect(&config.endpoints, Some(options)).await?;
            let status = requests::send(config.connect_timeout, Retry::Idempotent, || {
                let mut maintenance = client.maintenance_client();
                async move { maintenance.status().await }
            })
            .await?;
            Ok::<_, Failure>((client, status.version().to_owned()))
        };
        let (client, version) = match tokio::time::timeout(config.connect_timeout, connecting).await
        {
            Ok(Ok(connected)) => connected,
            // Whatever the cause (refused, not etcd, bad URL), the server cannot be used.
            Ok(Err(failure)) => {
                return Err(Error::Unavailable {
                    message: format!("cannot reach etcd at {endpoints}: {failure}"),
                });
            }
            Err(_) => {
                return Err(Failure::TimedOut(config.connect_timeout)
                    .into_error("status request", &endpoints));
            }
        };
        tracing::debug!(%endpoints, %version, prefix = %config.key_prefix, "connected to etcd");
        let store = EtcdStore {
            kv: client
                .kv_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            keys: Arc::new(Keys::new(config.key_prefix)),
            endpoints,
            request_timeout: config.request_timeout,
            progress_settle: watch::progress_settle(&version),
            compacted: Arc::new(AtomicI64::new(0)),
            latest: AtomicI64::new(0),
            alive: tokio::sync::watch::Sender::new(()),
            metrics: StoreMetrics::default(),
        };
        if let Err(failure) = store.discover_compaction().await {
            // Not knowing it only makes reads just before the compaction succeed.
            let endpoints = &store.endpoints;
            tracing::warn!(%endpoints, %failure, "cannot learn the compaction revision of etcd");
        }
        Ok(store)
    }

    /// The store error for a failed request; `context` says what was being done.
    fn fail(&self, failure: Failure, context: &str) -> Error {
        failure.into_error(context, &self.endpoints)
    }

    /// Records `revision`, from a response header, as seen.
    fn saw_revision(&self, revision: Revision) {
        let latest = self
            .latest
            .fetch_max(revision, Ordering::Relaxed)
            .max(revision);
        self.metrics.current_revision.set(latest);
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.get_key(key).await
    }

    async fn list(&self, request: &ListRequest) -> Result<ListResponse> {
        self.list_range(request).await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<Revision> {
        self.create_key(key, value).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<Revision> {
        self.update_key(key, value, expected).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<Deleted> {
        self.delete_key(key, expected).await
    }

    async fn count(&self, prefix: &str) -> Result<u64> {
        self.count_range(prefix).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.read_current_revision().await
    }

    async fn watch(&self, prefix: &str, after: Revision, options: WatchOptions) -> Result<Watch> {
        self.open_watch(prefix, after, options).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.compact_to(revision).await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.compacted.load(Ordering::Relaxed))
    }

    fn metrics(&self) -> &StoreMetrics {
        &self.metrics
    }
}
