//! The pause image, built from the static pause executable compiled into this crate.

use std::io;

use super::oci::{ImageConfig, LayerEntry, oci_archive};

/// The static pause executable (see `pause/pause.rs` and the build script).
static PAUSE_EXECUTABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));

/// Reference under which the pause image is imported; the sandbox image of every pod.
pub const PAUSE_IMAGE: &str = concat!("localhost/kubers/pause:", env!("CARGO_PKG_VERSION"));

/// The pause image as an OCI image-layout archive.
pub fn pause_archive() -> io::Result<Vec<u8>> {
    let entries = [LayerEntry::File {
        path: "pause".into(),
        mode: 0o755,
        content: PAUSE_EXECUTABLE.to_vec(),
    }];
    let config = ImageConfig {
        entrypoint: vec!["/pause".into()],
        ..ImageConfig::default()
    };
    oci_archive(PAUSE_IMAGE, &entries, &config)
}
