//! Opening the store the flags name: embedded SQLite by default, etcd with `--datastore-endpoint`.

use std::sync::Arc;

use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{Compactor, CompactorConfig, Store};

use crate::config::ApiServerConfig;

/// The open store and its compaction loop (stopped when this is dropped).
pub struct Storage {
    /// The store every request goes to.
    pub store: Arc<dyn Store>,
    _compactor: Compactor,
}

impl Storage {
    /// Opens the store for `config` and starts compacting it on upstream's schedule.
    pub async fn open(config: &ApiServerConfig) -> kubers_store::Result<Storage> {
        let store: Arc<dyn Store> = if config.datastore_endpoint.trim().is_empty() {
            let path = config.server_dir().join("db").join("state.db");
            Arc::new(SqliteStore::open(SqliteConfig::new(path))?)
        } else {
            let etcd = EtcdConfig::from_endpoint_list(&config.datastore_endpoint)?;
            Arc::new(EtcdStore::connect(etcd).await?)
        };
        let compactor = Compactor::spawn(Arc::clone(&store), CompactorConfig::default());
        Ok(Storage {
            store,
            _compactor: compactor,
        })
    }
}
