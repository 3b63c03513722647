//! The backend under test: a fresh store per case (a temp-dir SQLite file or a private etcd) that a case
//! can restart, and the timeouts that turn a hang into a failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kubers_store::etcd::{EtcdConfig, EtcdStore};
use kubers_store::sqlite::{SqliteConfig, SqliteStore};
use kubers_store::{ListRequest, ListResponse, Revision, Store};
use kubers_testkit::etcd::EtcdServer;
use tempfile::TempDir;

/// The longest a single case may run before it fails.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(240);

/// The longest any wait on a watch may take before the case fails.
pub const WATCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The key prefix of the `etcd_prefixed` backend.
pub const ETCD_KEY_PREFIX: &str = "/kubers-conformance";

/// Where the store of a case lives.
enum Backend {
    /// A SQLite file in a temp dir that outlives restarts of the store.
    Sqlite { dir: TempDir },
    /// A private etcd server that outlives restarts of the client.
    Etcd {
        server: EtcdServer,
        key_prefix: &'static str,
    },
}

/// One case's store and the means to restart it.
pub struct Harness {
    backend: Backend,
    store: Option<Arc<dyn Store>>,
}

impl Harness {
    /// A new SQLite store in its own temp dir.
    pub async fn sqlite() -> Harness {
        let dir = tempfile::tempdir().expect("create a temp dir for the sqlite store");
        let store = open_sqlite(&sqlite_path(&dir));
        Harness {
            backend: Backend::Sqlite { dir },
            store: Some(store),
        }
    }

    /// A new etcd store on a private etcd server; panics when etcd is not installed.
    pub async fn etcd() -> Harness {
        Harness::etcd_with_prefix("").await
    }

    /// Like [`Harness::etcd`], with every key stored under [`ETCD_KEY_PREFIX`] in etcd, as
    /// kube-apiserver's `--etcd-prefix` does.
    pub async fn etcd_prefixed() -> Harness {
        Harness::etcd_with_prefix(ETCD_KEY_PREFIX).await
    }

    async fn etcd_with_prefix(key_prefix: &'static str) -> Harness {
        let server = EtcdServer::start().unwrap_or_else(|error| {
            panic!(
                "cannot start etcd for the etcd conformance cases: {error}; install etcd on PATH \
                 or point KUBERS_ETCD_BIN at the binary"
            )
        });
        let store = connect_etcd(&server, key_prefix).await;
        Harness {
            backend: Backend::Etcd { server, key_prefix },
            store: Some(store),
        }
    }

    /// The store under test.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self.store.as_ref().expect("the harness has a store"))
    }

    /// Closes the store and opens it again on the same data: SQLite reopens its file, etcd is killed with
    /// SIGKILL, started again on its data dir, and reconnected. The case must hold no store handle.
    pub async fn restart(&mut self) {
        let store = self.store.take().expect("the harness has a store");
        close(store).await;
        let store = match &mut self.backend {
            Backend::Sqlite { dir } => open_sqlite(&sqlite_path(dir)),
            Backend::Etcd { server, key_prefix } => {
                server.kill().expect("kill etcd");
                server.restart().expect("restart etcd");
                connect_etcd(server, key_prefix).await
            }
        };
        self.store = Some(store);
    }

    /// Closes the store and opens it again, leaving etcd running: a restart of kubers, not of its data.
    pub async fn reopen(&mut self) {
        let store = self.store.take().expect("the harness has a store");
        close(store).await;
        let store = match &self.backend {
            Backend::Sqlite { dir } => open_sqlite(&sqlite_path(dir)),
            Backend::Etcd { server, key_prefix } => connect_etcd(server, key_prefix).await,
        };
        self.store = Some(store);
    }

    /// Closes the store at the end of a case.
    pub async fn close(mut self) {
        if let Some(store) = self.store.take() {
            close(store).await;
        }
    }
}

fn sqlite_path(dir: &TempDir) -> PathBuf {
    dir.path().join("state.db")
}

fn open_sqlite(path: &Path) -> Arc<dyn Store> {
    let store = SqliteStore::open(SqliteConfig::new(path))
        .unwrap_or_else(|error| panic!("open sqlite store {}: {error}", path.display()));
    Arc::new(store)
}

async fn connect_etcd(server: &EtcdServer, key_prefix: &str) -> Arc<dyn Store> {
    let endpoint = server.endpoint();
    let config = EtcdConfig {
        key_prefix: key_prefix.to_owned(),
        ..EtcdConfig::new([endpoint.clone()])
    };
    let store = EtcdStore::connect(config)
        .await
        .unwrap_or_else(|error| panic!("connect to etcd at {endpoint}: {error}"));
    Arc::new(store)
}

/// Drops the last handle of `store` off the async workers, since closing may join the backend's threads.
async fn close(store: Arc<dyn Store>) {
    assert_eq!(
        Arc::strong_count(&store),
        1,
        "the case still holds a store handle: drop it (and its tasks) before restarting"
    );
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .expect("close the store");
}

/// Bytes of a string, for short values.
pub fn b(value: &str) -> Bytes {
    Bytes::copy_from_slice(value.as_bytes())
}

/// Lists all of `prefix` at `revision` (0: now); panics on error.
pub async fn list_at(store: &dyn Store, prefix: &str, revision: Revision) -> ListResponse {
    store
        .list(&ListRequest {
            prefix: prefix.to_owned(),
            revision,
            ..ListRequest::default()
        })
        .await
        .unwrap_or_else(|error| panic!("list {prefix:?} at revision {revision}: {error}"))
}

/// The current revision; panics on error.
pub async fn current(store: &dyn Store) -> Revision {
    store.current_revision().await.expect("current_revision")
}
