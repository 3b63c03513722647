//! Images on the node: the agent's own pause image, importing image archives into containerd, and
//! pulls through CRI with the pod's pull secrets (`credentials`, matched by `keyring`).

pub mod credentials;
pub mod import;
pub mod keyring;
pub mod oci;
pub mod pause;
pub mod pull;
