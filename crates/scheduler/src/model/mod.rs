//! The scheduler's plain data: pods, nodes, resources, selectors and taints as parsed once from the
//! API objects. No I/O; everything here is unit-tested directly.

pub mod node;
pub mod pod;
pub mod resources;
pub mod selector;
pub mod taints;
pub mod volumes;
