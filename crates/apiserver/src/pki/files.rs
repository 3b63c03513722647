//! Small file helpers: optional reads, directories with a mode, and atomic writes with a mode.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Error, Result};

/// Reads `path` as UTF-8, returning `None` when it does not exist.
pub(super) fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Creates `dir` (and its parents) with `mode` if it does not exist yet.
pub(super) fn ensure_dir(dir: &Path, mode: u32) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// Writes `contents` to `path` with `mode`, atomically: a temporary file in the same directory is
/// written, synced and renamed over `path`, so readers see either the old or the new file.
/// Missing parent directories are created (mode 0700).
pub(super) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        ensure_dir(parent, 0o700)?;
    }
    let tmp = temp_path(path);
    if let Err(source) = write_new(&tmp, contents, mode) {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Write { path: tmp, source });
    }
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Creates `path` with exactly `mode` and writes and syncs `contents`.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    // The mode given to open() is filtered by the umask; set it exactly.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// A fresh temporary sibling of `path` for [`write_atomic`].
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".tmp.{}.{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_sets_mode_and_creates_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/secret");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_optional(&dir.path().join("missing")).unwrap(), None);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
