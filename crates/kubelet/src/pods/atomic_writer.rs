//! Writes a volume's files the way upstream's atomic writer does, so running containers see a
//! complete old or new set and never a mix: the payload goes to a fresh timestamped folder, `..data`
//! is swapped to it with a rename, and each top-level name is a symlink through `..data`.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One file of a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFile {
    /// Contents.
    pub content: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// Files by relative path (`key` or `dir/key`).
pub type Payload = BTreeMap<String, PayloadFile>;

const DATA_LINK: &str = "..data";

/// Makes `dir` show exactly `payload`. Does nothing when the current payload is the same.
pub fn write_payload(dir: &Path, payload: &Payload) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if current_payload_matches(dir, payload) {
        return Ok(());
    }
    let stamp = chrono::Utc::now()
        .format("..%Y_%m_%d_%H_%M_%S.%f")
        .to_string();
    let version_dir = dir.join(&stamp);
    std::fs::create_dir_all(&version_dir)?;
    for (relative, file) in payload {
        let path = safe_join(&version_dir, relative)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.content)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))?;
    }
    let old_version = std::fs::read_link(dir.join(DATA_LINK)).ok();
    let temporary_link = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&temporary_link);
    std::os::unix::fs::symlink(&stamp, &temporary_link)?;
    std::fs::rename(&temporary_link, dir.join(DATA_LINK))?;

    let top_level: std::collections::BTreeSet<String> = payload
        .keys()
        .filter_map(|relative| relative.split('/').next().map(str::to_string))
        .collect();
    for name in &top_level {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA_LINK).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("..") && !top_level.contains(&name) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    if let Some(old) = old_version {
        let old_dir = dir.join(old);
        if old_dir != version_dir {
            let _ = std::fs::remove_dir_all(old_dir);
        }
    }
    Ok(())
}

fn current_payload_matches(dir: &Path, payload: &Payload) -> bool {
    let Ok(target) = std::fs::read_link(dir.join(DATA_LINK)) else {
        return false;
    };
    let current = dir.join(target);
    let mut count = 0;
    for (relative, file) in payload {
        match std::fs::read(current.join(relative)) {
            Ok(content) if content == file.content => count += 1,
            _ => return false,
        }
    }
    count_files(&current) == count
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            let path = entry.path();
            if path.is_dir() { count_files(&path) } else { 1 }
        })
        .sum()
}

/// Joins a relative payload path, refusing absolute paths and `..` components.
fn safe_join(base: &Path, relative: &str) -> std::io::Result<PathBuf> {
    let path = Path::new(relative);
    if path.is_absolute()
        || path
            .components()
            .any(|part| matches!(part, std::path::Component::ParentDir))
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid path {relative:?}"),
        ));
    }
    Ok(base.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> PayloadFile {
        PayloadFile {
            content: text.as_bytes().to_vec(),
            mode: 0o644,
        }
    }

    #[test]
    fn updates_swap_the_data_link_and_drop_removed_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut payload = Payload::new();
        payload.insert("a".into(), file("1"));
        payload.insert("sub/b".into(), file("2"));
        write_payload(dir.path(), &payload).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "1");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/b")).unwrap(),
            "2"
        );

        payload.remove("sub/b");
        payload.insert("a".into(), file("3"));
        write_payload(dir.path(), &payload).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("a")).unwrap(), "3");
        assert!(!dir.path().join("sub").exists());
        let versions = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with("..2"))
            .count();
        assert_eq!(versions, 1);
    }

    #[test]
    fn refuses_escaping_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut payload = Payload::new();
        payload.insert("../x".into(), file("1"));
        assert!(write_payload(dir.path(), &payload).is_err());
    }
}
