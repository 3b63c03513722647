//! The controller manager as `kubers server` runs it: elected through the Lease
//! `kube-system/kube-controller-manager`, running every controller only while it holds the lease.
//!
//! Each term of leadership gets a tokio runtime of its own (two worker threads named
//! `controllers`) and a client created inside it, so every task any controller spawns lives on
//! that runtime; losing the lease shuts the runtime down, which stops all of them at once, and the
//! manager campaigns again. Upstream's kube-controller-manager exits the process instead; see
//! `docs/adr/008-controller-manager-leader-election.md`.

use kubers_client::leader_election::{self, Election};

use crate::{ControllerConfig, run};

/// The Lease, and the source component of its events.
pub const LEASE_NAME: &str = "kube-controller-manager";

/// Runs forever: campaigns for the lease as `identity` (see [`leader_election::identity`]) and
/// runs the controllers with clients from `kube` while holding it.
pub async fn run_elected(kube: kube::Config, config: ControllerConfig, identity: String) {
    let client = match kubers_client::retry::client(kube.clone()) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot create the controller manager's client");
            return;
        }
    };
    let election = Election::new(LEASE_NAME, identity, LEASE_NAME);
    leader_election::run(client, election, || Term::start(&kube, &config)).await;
}

/// One term of leadership: the runtime every controller task of the term runs on.
struct Term(Option<tokio::runtime::Runtime>);

impl Term {
    /// Starts the controllers on a fresh runtime; on failure logs it and runs none (the lease is
    /// still renewed, so no other server takes over; this only happens when no thread can be
    /// started).
    fn start(kube: &kube::Config, config: &ControllerConfig) -> Term {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("controllers")
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::error!(%error, "cannot start the controllers' threads");
                return Term(None);
            }
        };
        let client = {
            let _entered = runtime.enter();
            kubers_client::retry::client(kube.clone())
        };
        match client {
            Ok(client) => {
                runtime.spawn(run(client, config.clone()));
            }
            Err(error) => tracing::error!(%error, "cannot create the controllers' client"),
        }
        Term(Some(runtime))
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            // Dropping a runtime blocks, which an async context forbids; this stops every task
            // without waiting for them.
            runtime.shutdown_background();
        }
    }
}
