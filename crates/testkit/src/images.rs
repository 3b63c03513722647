//! Test images built on the spot: a busybox image from Debian's static busybox (`busybox-static`),
//! as an OCI image-layout archive the agent imports from `DIR/agent/images/`.

use std::io;
use std::path::Path;
use std::process::Command;

use kubers_kubelet::images::oci::{ImageConfig, LayerEntry, oci_archive};

/// The reference of the busybox test image.
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:1.35";

/// Where Debian's busybox-static installs the binary.
const BUSYBOX_BINARY: &str = "/bin/busybox";

/// The busybox image: `/bin/busybox` plus a symlink for each applet, `/bin/sh` as the command.
pub fn busybox_archive() -> io::Result<Vec<u8>> {
    busybox_image(BUSYBOX_IMAGE, Vec::new())
}

/// A busybox image of its own (its layer differs from [`busybox_archive`]'s, so a runtime that
/// has that one still pulls every blob): `/etc/variant` holds `variant`.
pub fn busybox_variant_archive(reference: &str, variant: &str) -> io::Result<Vec<u8>> {
    let marker = LayerEntry::File {
        path: "etc/variant".into(),
        mode: 0o644,
        content: format!("{variant}\n").into_bytes(),
    };
    busybox_image(reference, vec![marker])
}

fn busybox_image(reference: &str, extra: Vec<LayerEntry>) -> io::Result<Vec<u8>> {
    let binary = std::fs::read(BUSYBOX_BINARY).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("{BUSYBOX_BINARY}: {error} (install busybox-static)"),
        )
    })?;
    let output = Command::new(BUSYBOX_BINARY).arg("--list").output()?;
    let applets = String::from_utf8_lossy(&output.stdout).to_string();
    let mut entries = vec![
        LayerEntry::Dir { path: "bin".into() },
        LayerEntry::Dir { path: "etc".into() },
        LayerEntry::Dir { path: "tmp".into() },
        LayerEntry::Dir { path: "var".into() },
        LayerEntry::Dir {
            path: "var/www".into(),
        },
        LayerEntry::File {
            path: "bin/busybox".into(),
            mode: 0o755,
            content: binary,
        },
        LayerEntry::File {
            path: "etc/passwd".into(),
            mode: 0o644,
            content:
                b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
                    .to_vec(),
        },
        LayerEntry::File {
            path: "etc/group".into(),
            mode: 0o644,
            content: b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
        },
    ];
    entries.extend(extra);
    for applet in applets
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "busybox")
    {
        entries.push(LayerEntry::Symlink {
            path: format!("bin/{applet}"),
            target: "busybox".into(),
        });
    }
    let config = ImageConfig {
        cmd: vec!["sh".into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        ..ImageConfig::default()
    };
    oci_archive(reference, &entries, &config)
}

/// Writes the busybox archive to `path`.
pub fn write_busybox_archive(path: &Path) -> io::Result<()> {
    std::fs::write(path, busybox_archive()?)
}
