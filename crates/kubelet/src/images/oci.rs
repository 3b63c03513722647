//! Writes single-layer OCI image-layout archives (the format `ctr images import` and the agent's image
//! folder take) from a list of files, for the pause image and for test images.

use std::io;

use ring::digest::{SHA256, digest};
use serde_json::json;

/// One entry of the image's only layer.
#[derive(Debug, Clone)]
pub enum LayerEntry {
    /// A directory (mode 0755).
    Dir {
        /// Path inside the image, without a leading slash.
        path: String,
    },
    /// A regular file.
    File {
        /// Path inside the image, without a leading slash.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Contents.
        content: Vec<u8>,
    },
    /// A symbolic link.
    Symlink {
        /// Path inside the image, without a leading slash.
        path: String,
        /// Link target.
        target: String,
    },
}

/// The runtime configuration recorded in the image.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    /// `Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Cmd`.
    pub cmd: Vec<String>,
    /// `Env`, as `NAME=value`.
    pub env: Vec<String>,
    /// `WorkingDir`.
    pub working_dir: Option<String>,
}

/// Builds an OCI image-layout tar whose index names `reference` (a full reference such as
/// `docker.io/library/busybox:1.35`) in both `org.opencontainers.image.ref.name` and
/// `io.containerd.image.name`.
pub fn oci_archive(
    reference: &str,
    entries: &[LayerEntry],
    config: &ImageConfig,
) -> io::Result<Vec<u8>> {
    let layer = layer_tar(entries)?;
    let layer_digest = sha256(&layer);
    let image_config = json!({
        "architecture": oci_architecture(),
        "os": "linux",
        "config": {
            "Entrypoint": non_empty(&config.entrypoint),
            "Cmd": non_empty(&config.cmd),
            "Env": non_empty(&config.env),
            "WorkingDir": config.working_dir.clone().unwrap_or_default(),
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    });
    let config_bytes = serde_json::to_vec(&image_config).map_err(io::Error::other)?;
    let config_digest = sha256(&config_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_bytes.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    });
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
    let manifest_digest = sha256(&manifest_bytes);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_bytes.len(),
            "platform": {"architecture": oci_architecture(), "os": "linux"},
            "annotations": {
                "io.containerd.image.name": reference,
                "org.opencontainers.image.ref.name": reference,
            },
        }],
    });
    let index_bytes = serde_json::to_vec(&index).map_err(io::Error::other)?;

    let mut archive = tar::Builder::new(Vec::new());
    append_file(
        &mut archive,
        "oci-layout",
        0o644,
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    append_file(&mut archive, "index.json", 0o644, &index_bytes)?;
    append_dir(&mut archive, "blobs")?;
    append_dir(&mut archive, "blobs/sha256")?;
    for (digest, bytes) in [
        (&layer_digest, &layer),
        (&config_digest, &config_bytes),
        (&manifest_digest, &manifest_bytes),
    ] {
        let hex = digest.trim_start_matches("sha256:");
        append_file(&mut archive, &format!("blobs/sha256/{hex}"), 0o644, bytes)?;
    }
    archive.into_inner()
}

fn layer_tar(entries: &[LayerEntry]) -> io::Result<Vec<u8>> {
    let mut layer = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            LayerEntry::Dir { path } => append_dir(&mut layer, path)?,
            LayerEntry::File {
                path,
                mode,
                content,
            } => append_file(&mut layer, path, *mode, content)?,
            LayerEntry::Symlink { path, target } => {
                let mut header = tar::Header::new_ustar();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                header.set_mtime(0);
                layer.append_link(&mut header, path, target)?;
            }
        }
    }
    layer.into_inner()
}

fn append_file<W: io::Write>(
    archive: &mut tar::Builder<W>,
    path: &str,
    mode: u32,
    content: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(mode);
    header.set_size(content.len() as u64);
    header.set_mtime(0);
    archive.append_data(&mut header, path, content)
}

fn append_dir<W: io::Write>(archive: &mut tar::Builder<W>, path: &str) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    header.set_mtime(0);
    archive.append_data(
        &mut header,
        format!("{}/", path.trim_end_matches('/')),
        io::empty(),
    )
}

fn sha256(bytes: &[u8]) -> String {
    let hash = digest(&SHA256, bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash.as_ref() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

fn non_empty(values: &[String]) -> serde_json::Value {
    if values.is_empty() {
        serde_json::Value::Null
    } else {
        json!(values)
    }
}

/// The OCI name of the architecture this binary was built for.
pub fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_holds_layout_index_and_blobs() {
        let entries = vec![
            LayerEntry::Dir { path: "bin".into() },
            LayerEntry::File {
                path: "bin/tool".into(),
                mode: 0o755,
                content: b"#!".to_vec(),
            },
            LayerEntry::Symlink {
                path: "bin/sh".into(),
                target: "tool".into(),
            },
        ];
        let bytes = oci_archive("example.com/tool:1", &entries, &ImageConfig::default()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"oci-layout".to_string()));
        assert!(names.contains(&"index.json".to_string()));
        assert_eq!(
            names
                .iter()
                .filter(|name| name.starts_with("blobs/sha256/") && name.len() > 20)
                .count(),
            3
        );
    }
}
