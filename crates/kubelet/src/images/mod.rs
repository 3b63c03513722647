//! Images on the node: the agent's own pause image, importing image archives into containerd, and
//! pulls through CRI.

pub mod import;
pub mod oci;
pub mod pause;
pub mod pull;
