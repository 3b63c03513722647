//! Mounts in the host mount namespace under the agent's pod folders: tmpfs for memory-backed
//! volumes, bind mounts for local PersistentVolumes, and unmounting (lazily when busy). What is
//! mounted is always read from `/proc/self/mountinfo`, so a restarted agent finds its earlier mounts
//! and never mounts twice.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted (octal escapes decoded).
    pub mount_point: PathBuf,
    /// The file-system type (`tmpfs`, `ext4`, ...).
    pub fs_type: String,
    /// The per-superblock options (`rw,size=65536k`).
    pub super_options: String,
}

/// The mounts of this process's mount namespace.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    entries: Vec<MountEntry>,
}

impl MountTable {
    /// Reads `/proc/self/mountinfo`.
    pub fn read() -> io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string(
            "/proc/self/mountinfo",
        )?))
    }

    /// Parses mountinfo text; malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        MountTable {
            entries: text.lines().filter_map(parse_line).collect(),
        }
    }

    /// The topmost mount at exactly `path`.
    pub fn at(&self, path: &Path) -> Option<&MountEntry> {
        self.entries
            .iter()
            .rev()
            .find(|entry| entry.mount_point == path)
    }

    /// Mount points at `dir` or below it, deepest first, each once.
    pub fn under(&self, dir: &Path) -> Vec<PathBuf> {
        let mut points: Vec<PathBuf> = self
            .entries
            .iter()
            .filter(|entry| entry.mount_point.starts_with(dir))
            .map(|entry| entry.mount_point.clone())
            .collect();
        points.sort_by_key(|point| std::cmp::Reverse(point.components().count()));
        points.dedup();
        points
    }
}

/// `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`.
fn parse_line(line: &str) -> Option<MountEntry> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split(' ').nth(4)?;
    let mut rest = after.split(' ');
    let fs_type = rest.next()?;
    let _source = rest.next()?;
    let super_options = rest.next().unwrap_or_default();
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fs_type: fs_type.to_string(),
        super_options: super_options.to_string(),
    })
}

/// Decodes the kernel's `\ooo` octal escapes (space, tab, newline, backslash).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let octal = bytes.get(index + 1..index + 4).and_then(|digits| {
            digits
                .iter()
                .all(|digit| (b'0'..=b'7').contains(digit))
                .then(|| {
                    digits
                        .iter()
                        .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'))
                })
                .and_then(|value| u8::try_from(value).ok())
        });
        match octal {
            Some(value) if bytes[index] == b'\\' => {
                out.push(value);
                index += 4;
            }
            _ => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path as the kernel reports it in mountinfo (symbolic links resolved); the path itself when it
/// cannot be resolved.
pub fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The mount data of a memory-backed volume, as upstream's emptyDir builds it: `size=BYTES` when a
/// size is known, and `noswap` on kernels that have it (6.4 and newer).
pub fn tmpfs_options(size: Option<i128>, noswap: bool) -> String {
    let mut options = Vec::new();
    if let Some(size) = size.filter(|size| *size > 0) {
        options.push(format!("size={size}"));
    }
    if noswap {
        options.push("noswap".to_string());
    }
    options.join(",")
}

/// Whether this kernel takes tmpfs's `noswap` option (Linux 6.4 and newer), read once.
pub fn noswap_supported() -> bool {
    static SUPPORTED: OnceLock<bool> = OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|release| kernel_at_least(&release, (6, 4)))
            .unwrap_or(false)
    })
}

fn kernel_at_least(release: &str, wanted: (u32, u32)) -> Option<bool> {
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major, minor) >= wanted)
}

/// Mounts a tmpfs with `options` at `target` (which must exist), unless `target` already is one.
pub fn ensure_tmpfs(table: &MountTable, target: &Path, options: &str) -> io::Result<()> {
    let real = real_path(target);
    if table
        .at(&real)
        .is_some_and(|entry| entry.fs_type == "tmpfs")
    {
        return Ok(());
    }
    let data = (!options.is_empty()).then_some(options);
    nix::mount::mount(Some("tmpfs"), &real, Some("tmpfs"), MsFlags::empty(), data)
        .map_err(|errno| mount_error("mounting tmpfs on", &real, errno))
}

/// Bind-mounts `source` on `target` (which must exist), read-only when asked, unless something is
/// mounted on `target` already.
pub fn ensure_bind(
    table: &MountTable,
    source: &Path,
    target: &Path,
    read_only: bool,
) -> io::Result<()> {
    let real = real_path(target);
    if table.at(&real).is_some() {
        return Ok(());
    }
    nix::mount::mount(
        Some(source),
        &real,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| mount_error("bind-mounting onto", &real, errno))?;
    if read_only {
        let remounted = nix::mount::mount(
            None::<&str>,
            &real,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        );
        if let Err(errno) = remounted {
            let _ = unmount(&real);
            return Err(mount_error("remounting read-only", &real, errno));
        }
    }
    Ok(())
}

/// Unmounts `target`: a plain unmount, or a lazy one (`MNT_DETACH`) when it is busy. Not being
/// mounted is fine.
pub fn unmount(target: &Path) -> io::Result<()> {
    match nix::mount::umount2(target, MntFlags::empty()) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EBUSY) => match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) => Ok(()),
            Err(errno) => Err(mount_error("lazily unmounting", target, errno)),
        },
        Err(errno) => Err(mount_error("unmounting", target, errno)),
    }
}

/// Unmounts everything mounted at `dir` or below it, deepest first, until nothing is left there.
pub fn unmount_all_under(dir: &Path) -> io::Result<()> {
    let dir = real_path(dir);
    // Mounts can be stacked on one point; each pass removes the top of every stack.
    for _ in 0..8 {
        let points = MountTable::read()?.under(&dir);
        if points.is_empty() {
            return Ok(());
        }
        for point in points {
            unmount(&point)?;
        }
    }
    let left = MountTable::read()?.under(&dir);
    if left.is_empty() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "mounts are left under {}: {left:?}",
            dir.display()
        )))
    }
}

/// Removes `dir` and everything in it once nothing is mounted there any more; refuses while
/// something still is, so a bind mount's source is never emptied through it.
pub fn remove_unmounted(dir: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    unmount_all_under(dir)?;
    let left = MountTable::read()?.under(&real_path(dir));
    if !left.is_empty() {
        return Err(io::Error::other(format!(
            "not removing {}: still mounted there: {left:?}",
            dir.display()
        )));
    }
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        result => result,
    }
}

fn mount_error(what: &str, path: &Path, errno: Errno) -> io::Error {
    io::Error::new(
        io::Error::from(errno).kind(),
        format!("{what} {}: {}", path.display(), errno.desc()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
42 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw,discard
90 27 0:50 / /data/agent/pods/u1/volumes/kubernetes.io~secret/my\\040secret rw,relatime - tmpfs tmpfs rw,size=65536k,noswap
91 27 0:51 / /data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache rw,relatime - tmpfs tmpfs rw,size=1024k
92 91 254:0 /srv/local /data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache/inner rw - ext4 /dev/vda rw
93 27 0:52 / /data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache rw,relatime - tmpfs tmpfs rw,size=2048k
94 27 0:53 / /data/agent/pods/u10/volumes/kubernetes.io~projected/token rw - tmpfs tmpfs rw
bad line
";

    #[test]
    fn mountinfo_lines_give_point_type_and_options() {
        let table = MountTable::parse(SAMPLE);
        let secret = table
            .at(Path::new(
                "/data/agent/pods/u1/volumes/kubernetes.io~secret/my secret",
            ))
            .expect("the escaped space is decoded");
        assert_eq!(secret.fs_type, "tmpfs");
        assert_eq!(secret.super_options, "rw,size=65536k,noswap");
        let netns = table.at(Path::new("/run/netns")).expect("optional fields");
        assert_eq!(netns.fs_type, "ext4");
        // The topmost of two stacked mounts wins.
        let cache = table
            .at(Path::new(
                "/data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache",
            ))
            .expect("stacked");
        assert_eq!(cache.super_options, "rw,size=2048k");
        assert!(table.at(Path::new("/data/agent/pods/u1")).is_none());
    }

    #[test]
    fn mounts_under_a_folder_come_deepest_first_and_skip_siblings_with_a_common_prefix() {
        let table = MountTable::parse(SAMPLE);
        let under = table.under(Path::new("/data/agent/pods/u1"));
        assert_eq!(
            under,
            vec![
                PathBuf::from("/data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache/inner"),
                PathBuf::from("/data/agent/pods/u1/volumes/kubernetes.io~secret/my secret"),
                PathBuf::from("/data/agent/pods/u1/volumes/kubernetes.io~empty-dir/cache"),
            ]
        );
    }

    #[test]
    fn escapes_decode_and_stray_backslashes_stay() {
        assert_eq!(unescape("a\\040b\\011c\\134d"), "a b\tc\\d");
        assert_eq!(unescape("tail\\04"), "tail\\04");
        assert_eq!(unescape("x\\999"), "x\\999");
    }

    #[test]
    fn tmpfs_options_follow_upstream() {
        assert_eq!(
            tmpfs_options(Some(67_108_864), true),
            "size=67108864,noswap"
        );
        assert_eq!(tmpfs_options(Some(0), false), "");
        assert_eq!(tmpfs_options(None, true), "noswap");
        assert_eq!(kernel_at_least("6.18.44-fc-v657\n", (6, 4)), Some(true));
        assert_eq!(kernel_at_least("5.10.0-28-amd64", (6, 4)), Some(false));
        assert_eq!(kernel_at_least("6.4", (6, 4)), Some(true));
    }
}
