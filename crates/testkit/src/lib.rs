//! Test and benchmark harness for kubers.
//!
//! Everything here starts real processes on the local machine for tests and benchmarks, and cleans
//! up after itself: each helper owns the processes it spawned and stops only those.

pub mod agent;
pub mod cluster;
pub mod etcd;
pub mod grpc_health;
pub mod http1;
pub mod images;
pub mod netns;
pub mod process;
pub mod registry;
pub mod server;
pub mod simulated;
