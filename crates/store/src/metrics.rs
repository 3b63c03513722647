//! Store metrics in Prometheus form: sizes, revisions, commits and compaction runs.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Metrics every backend keeps (sizes stay 0 where the backend has no local files).
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Size of the database file, in bytes.
    pub db_size_bytes: Gauge,
    /// Size of the write-ahead log file, in bytes.
    pub wal_size_bytes: Gauge,
    /// The revision of the last committed write.
    pub current_revision: Gauge,
    /// The revision of the last compaction.
    pub compacted_revision: Gauge,
    /// Completed compaction runs.
    pub compactions: Counter,
    /// Compaction runs that failed.
    pub compaction_failures: Counter,
    /// Duration of compaction runs, in seconds.
    pub compaction_duration: Histogram,
    /// Unix time of the last successful compaction, in seconds.
    pub last_compaction_timestamp: Gauge,
    /// History entries removed by compaction.
    pub compacted_entries: Counter,
    /// Writes committed together in one transaction (group commit).
    pub commit_batch_size: Histogram,
    /// Duration of a commit including its fsync, in seconds.
    pub commit_duration: Histogram,
    /// Write-ahead log checkpoints that truncated the log.
    pub wal_checkpoints: Counter,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            db_size_bytes: Gauge::default(),
            wal_size_bytes: Gauge::default(),
            current_revision: Gauge::default(),
            compacted_revision: Gauge::default(),
            compactions: Counter::default(),
            compaction_failures: Counter::default(),
            compaction_duration: Histogram::new(exponential_buckets(0.001, 4.0, 10)),
            last_compaction_timestamp: Gauge::default(),
            compacted_entries: Counter::default(),
            commit_batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
            commit_duration: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            wal_checkpoints: Counter::default(),
        }
    }
}

impl StoreMetrics {
    /// Registers every metric under the `kubers_store_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("kubers_store");
        r.register_with_unit(
            "db_size",
            "Size of the database file",
            Unit::Bytes,
            self.db_size_bytes.clone(),
        );
        r.register_with_unit(
            "wal_size",
            "Size of the write-ahead log file",
            Unit::Bytes,
            self.wal_size_bytes.clone(),
        );
        r.register(
            "current_revision",
            "Revision of the last committed write",
            self.current_revision.clone(),
        );
        r.register(
            "compacted_revision",
            "Revision of the last compaction",
            self.compacted_revision.clone(),
        );
        r.register(
            "compactions",
            "Completed compaction runs",
            self.compactions.clone(),
        );
        r.register(
            "compaction_failures",
            "Compaction runs that failed",
            self.compaction_failures.clone(),
        );
        r.register_with_unit(
            "compaction_duration",
            "Duration of compaction runs",
            Unit::Seconds,
            self.compaction_duration.clone(),
        );
        r.register(
            "last_compaction_timestamp_seconds",
            "Unix time of the last successful compaction",
            self.last_compaction_timestamp.clone(),
        );
        r.register(
            "compacted_entries",
            "History entries removed by compaction",
            self.compacted_entries.clone(),
        );
        r.register(
            "commit_batch_size",
            "Writes committed together in one transaction",
            self.commit_batch_size.clone(),
        );
        r.register_with_unit(
            "commit_duration",
            "Duration of a commit including its fsync",
            Unit::Seconds,
            self.commit_duration.clone(),
        );
        r.register(
            "wal_checkpoints",
            "Write-ahead log checkpoints that truncated the log",
            self.wal_checkpoints.clone(),
        );
    }
}
