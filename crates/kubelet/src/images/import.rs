//! Imports image archives (OCI image layouts and `docker save` tarballs) into containerd's `k8s.io`
//! namespace with `ctr`, which ships with containerd.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::{Error, Result};

/// Imports one archive file.
pub async fn import_archive(containerd_socket: &Path, archive: &Path) -> Result<()> {
    let output = Command::new("ctr")
        .arg("--address")
        .arg(containerd_socket)
        .args(["--namespace", "k8s.io", "images", "import"])
        .arg(archive)
        .output()
        .await
        .map_err(|error| {
            Error::Runtime(format!(
                "cannot run ctr to import {}: {error}",
                archive.display()
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Runtime(format!(
            "importing {} failed: {}",
            archive.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

/// Imports an archive held in memory by writing it to `scratch` first.
pub async fn import_bytes(containerd_socket: &Path, scratch: &Path, bytes: &[u8]) -> Result<()> {
    tokio::fs::write(scratch, bytes)
        .await
        .map_err(|error| Error::io(format!("writing {}", scratch.display()), error))?;
    let result = import_archive(containerd_socket, scratch).await;
    let _ = tokio::fs::remove_file(scratch).await;
    result
}

/// The `.tar` files in the agent's image folder, sorted by name.
pub async fn archives_in(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut entries = match tokio::fs::read_dir(folder).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(Error::io(format!("reading {}", folder.display()), error)),
    };
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|error| Error::io(format!("reading {}", folder.display()), error))?
    {
        let path = entry.path();
        if path.extension().is_some_and(|extension| extension == "tar") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
