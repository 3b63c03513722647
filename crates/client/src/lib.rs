//! The API-client plumbing that the controller manager, the scheduler and the kubelet share, each
//! being an ordinary client of the API server:
//!
//! - [`events`]: events recorded like client-go's recorder (correlated, written in the background).
//! - [`retry`]: clients with kube-rs's server-aware retries, except for refused evictions.
//! - [`leader_election`]: client-go's Lease-based leader election (controller manager, scheduler).

pub mod events;
pub mod leader_election;
pub mod retry;
