//! The kubers scheduler: places pending pods on nodes like upstream's kube-scheduler with its
//! default profile.
//!
//! - [`model`], [`cache`], [`plugins`], [`algorithm`], [`preemption`] and [`queue`] are pure: the
//!   cluster as plain data, the default filters and scores, one decision, victims for preemption,
//!   and the priority queue with backoff.

pub mod algorithm;
pub mod cache;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod queue;
