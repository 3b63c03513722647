//! Pod volumes on the node: each volume of the spec becomes a folder (or file) under the pod's folder
//! that containers bind-mount, laid out as upstream's kubelet does
//! (`pods/UID/volumes/kubernetes.io~PLUGIN/NAME`).
//!
//! secret and projected volumes (the `kube-api-access-*` token volume among them) and
//! `emptyDir.medium: Memory` are tmpfs mounts, sized as upstream sizes memory-backed volumes;
//! configMap and downwardAPI volumes are plain folders. Their files are written with the atomic
//! writer, so later updates reach running containers. persistentVolumeClaim volumes use the hostPath
//! or local PersistentVolume their claim is bound to. Mounts are found again in mountinfo, so setup
//! is idempotent across agent restarts; teardown unmounts before anything is removed.

mod claims;
pub mod memory;
pub mod mounts;
mod sources;
pub mod usage;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{HostPathVolumeSource, Pod, Volume};

use super::NodeContext;
use super::atomic_writer::{Payload, write_payload};
use mounts::MountTable;

/// Plugin folder of emptyDir volumes.
pub(crate) const EMPTY_DIR: &str = "kubernetes.io~empty-dir";
const SECRET: &str = "kubernetes.io~secret";
const CONFIG_MAP: &str = "kubernetes.io~configmap";
const DOWNWARD_API: &str = "kubernetes.io~downward-api";
const PROJECTED: &str = "kubernetes.io~projected";
const LOCAL_VOLUME: &str = "kubernetes.io~local-volume";

/// A volume ready for containers to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedVolume {
    /// Its host path.
    pub path: PathBuf,
    /// Whether every container mount of it is read-only (secret, configMap, downwardAPI and
    /// projected volumes always are; claims when the pod's volume source says so).
    pub read_only: bool,
}

/// Prepared volumes by volume name.
pub type VolumePaths = HashMap<String, PreparedVolume>;

/// Sets up every volume of the pod. The errors are messages for `FailedMount` events: upstream's
/// `Unable to attach or mount volumes: ...` when a claim cannot be used yet, `MountVolume.SetUp
/// failed for volume ...` when a volume could not be set up.
pub async fn prepare(context: &NodeContext, pod: &Pod) -> Result<VolumePaths, Vec<String>> {
    let mut paths = VolumePaths::new();
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(paths);
    };
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let pod_dir = context.paths.pod_dir(&uid);
    let mut table: Option<MountTable> = None;
    let mut unprocessed: Vec<(String, String)> = Vec::new();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut messages = Vec::new();
    for volume in spec.volumes.iter().flatten() {
        let source = match &volume.persistent_volume_claim {
            Some(claim) => match claims::resolve(context, &namespace, claim).await {
                Ok(bound) => Source::Claim(Box::new(bound)),
                Err(message) => {
                    unprocessed.push((volume.name.clone(), message));
                    continue;
                }
            },
            None => Source::Inline(volume),
        };
        if source.needs_mount_table() && table.is_none() {
            match MountTable::read() {
                Ok(read) => table = Some(read),
                Err(error) => {
                    failed.insert(volume.name.clone());
                    messages.push(format!("reading the mount table: {error}"));
                    continue;
                }
            }
        }
        let setup = Setup {
            context,
            pod,
            pod_dir: &pod_dir,
            table: table.as_ref(),
        };
        let result = setup.volume(volume, &source).await;
        if source.needs_mount_table() {
            // It may have mounted something: the next volume reads the table afresh.
            table = None;
        }
        match result {
            Ok(prepared) => {
                paths.insert(volume.name.clone(), prepared);
            }
            Err(message) => {
                failed.insert(volume.name.clone());
                messages.push(format!(
                    "MountVolume.SetUp failed for volume {:?} : {message}",
                    source.display_name(volume)
                ));
            }
        }
    }
    if let Some(message) = unable_to_mount(&expected_volumes(pod), &failed, &unprocessed) {
        messages.insert(0, message);
    }
    if messages.is_empty() {
        Ok(paths)
    } else {
        Err(messages)
    }
}

/// Unmounts the pod's volumes (tmpfs, local volume bind mounts) and leaves its folders: what a
/// finished pod keeps until it is deleted.
pub fn release(pod_dir: &Path) -> std::io::Result<()> {
    mounts::unmount_all_under(&pod_dir.join("volumes"))
}

/// Removes a pod's folder after unmounting everything under it.
pub fn remove_pod_dir(pod_dir: &Path) -> std::io::Result<()> {
    mounts::remove_unmounted(pod_dir)
}

/// Upstream's `Unable to attach or mount volumes: ...` message when volumes that containers mount
/// could not be processed (their claims are not usable yet). `failed` are the volumes whose setup
/// failed, `unprocessed` the volumes not processed with why.
fn unable_to_mount(
    expected: &BTreeSet<String>,
    failed: &BTreeSet<String>,
    unprocessed: &[(String, String)],
) -> Option<String> {
    let unprocessed: Vec<&(String, String)> = unprocessed
        .iter()
        .filter(|(name, _)| expected.contains(name))
        .collect();
    if unprocessed.is_empty() {
        return None;
    }
    let not_processed: BTreeSet<&str> = unprocessed.iter().map(|(name, _)| name.as_str()).collect();
    let unmounted: BTreeSet<&str> = failed
        .iter()
        .map(String::as_str)
        .filter(|name| expected.contains(*name))
        .chain(not_processed.iter().copied())
        .collect();
    // Upstream keeps a pod's processing errors in a set: sorted, each once.
    let reasons: BTreeSet<&str> = unprocessed
        .iter()
        .map(|(_, message)| message.as_str())
        .collect();
    let list = |names: BTreeSet<&str>| names.into_iter().collect::<Vec<_>>().join(" ");
    Some(format!(
        "Unable to attach or mount volumes: unmounted volumes=[{}], unattached volumes=[], failed to process volumes=[{}]: {}",
        list(unmounted),
        list(not_processed),
        reasons.into_iter().collect::<Vec<_>>().join("; ")
    ))
}

/// The volumes containers mount (upstream waits only for these).
fn expected_volumes(pod: &Pod) -> BTreeSet<String> {
    let Some(spec) = pod.spec.as_ref() else {
        return BTreeSet::new();
    };
    let containers = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten());
    let mut names = BTreeSet::new();
    for container in containers {
        for mount in container.volume_mounts.iter().flatten() {
            names.insert(mount.name.clone());
        }
        for device in container.volume_devices.iter().flatten() {
            names.insert(device.name.clone());
        }
    }
    for container in spec.ephemeral_containers.iter().flatten() {
        for mount in container.volume_mounts.iter().flatten() {
            names.insert(mount.name.clone());
        }
    }
    names
}

/// Where a volume's contents come from.
enum Source<'a> {
    /// The pod's own volume source.
    Inline(&'a Volume),
    /// The PersistentVolume a claim is bound to.
    Claim(Box<claims::BoundClaim>),
}

impl Source<'_> {
    /// Whether setting it up mounts something (and so needs to know what is mounted).
    fn needs_mount_table(&self) -> bool {
        match self {
            Source::Inline(volume) => {
                volume.secret.is_some()
                    || volume.projected.is_some()
                    || volume
                        .empty_dir
                        .as_ref()
                        .is_some_and(|source| source.medium.as_deref() == Some("Memory"))
            }
            Source::Claim(bound) => bound
                .pv
                .spec
                .as_ref()
                .is_some_and(|spec| spec.local.is_some()),
        }
    }

    /// The name upstream's mount messages use: the PV's for claims, the volume's otherwise.
    fn display_name<'b>(&'b self, volume: &'b Volume) -> &'b str {
        match self {
            Source::Inline(_) => &volume.name,
            Source::Claim(bound) => &bound.pv_name,
        }
    }
}

/// What setting up one volume needs.
struct Setup<'a> {
    context: &'a NodeContext,
    pod: &'a Pod,
    pod_dir: &'a Path,
    table: Option<&'a MountTable>,
}

impl Setup<'_> {
    async fn volume(&self, volume: &Volume, source: &Source<'_>) -> Result<PreparedVolume, String> {
        match source {
            Source::Inline(volume) => self.inline(volume).await,
            Source::Claim(bound) => self.claim(volume, bound),
        }
    }

    fn plugin_dir(&self, plugin: &str, name: &str) -> PathBuf {
        self.pod_dir.join("volumes").join(plugin).join(name)
    }

    fn table(&self) -> Result<&MountTable, String> {
        self.table
            .ok_or_else(|| "the mount table was not read".to_string())
    }

    async fn inline(&self, volume: &Volume) -> Result<PreparedVolume, String> {
        let namespace = self.pod.metadata.namespace.clone().unwrap_or_default();
        let writable = |path: PathBuf| PreparedVolume {
            path,
            read_only: false,
        };
        let read_only = |path: PathBuf| PreparedVolume {
            path,
            read_only: true,
        };
        if let Some(host_path) = &volume.host_path {
            return check_host_path(host_path).map(writable);
        }
        if let Some(source) = &volume.empty_dir {
            let path = self.plugin_dir(EMPTY_DIR, &volume.name);
            match source.medium.as_deref().unwrap_or_default() {
                "" => {
                    make_dir(&path, 0o777)?;
                }
                "Memory" => {
                    let size = memory::tmpfs_size(
                        self.node_allocatable_memory(),
                        self.pod,
                        source.size_limit.as_ref(),
                    );
                    self.memory_dir(&path, size)?;
                }
                other => return Err(format!("unknown storage medium {other:?}")),
            }
            return Ok(writable(path));
        }
        if let Some(source) = &volume.config_map {
            let path = self.plugin_dir(CONFIG_MAP, &volume.name);
            let payload = sources::config_map(self.context, &namespace, source).await?;
            write(&path, &payload)?;
            return Ok(read_only(path));
        }
        if let Some(source) = &volume.secret {
            let path = self.plugin_dir(SECRET, &volume.name);
            let payload = sources::secret(self.context, &namespace, source).await?;
            self.memory_dir(&path, self.wrapped_memory_size())?;
            write(&path, &payload)?;
            return Ok(read_only(path));
        }
        if let Some(source) = &volume.downward_api {
            let path = self.plugin_dir(DOWNWARD_API, &volume.name);
            let payload = sources::downward_api(
                self.context,
                self.pod,
                source.items.as_deref().unwrap_or_default(),
                source.default_mode,
            )?;
            write(&path, &payload)?;
            return Ok(read_only(path));
        }
        if let Some(source) = &volume.projected {
            let path = self.plugin_dir(PROJECTED, &volume.name);
            let payload = sources::projected(self.context, self.pod, source).await?;
            self.memory_dir(&path, self.wrapped_memory_size())?;
            write(&path, &payload)?;
            return Ok(read_only(path));
        }
        Err("unsupported volume type".to_string())
    }

    fn claim(&self, volume: &Volume, bound: &claims::BoundClaim) -> Result<PreparedVolume, String> {
        let Some(spec) = bound.pv.spec.as_ref() else {
            return Err(format!("PersistentVolume {} has no spec", bound.pv_name));
        };
        if spec.volume_mode.as_deref() == Some("Block") {
            return Err(format!(
                "volume {} has volumeMode Block, but is specified in volumeMounts",
                volume.name
            ));
        }
        if let Some(host_path) = &spec.host_path {
            let source = HostPathVolumeSource {
                path: host_path.path.clone(),
                type_: host_path.type_.clone(),
            };
            return check_host_path(&source).map(|path| PreparedVolume {
                path,
                read_only: bound.read_only,
            });
        }
        if let Some(local) = &spec.local {
            let source = Path::new(&local.path);
            if !source.exists() {
                return Err(format!("path {:?} does not exist", local.path));
            }
            if !source.is_dir() {
                return Err(format!("path {:?} is not a directory", local.path));
            }
            let path = self.plugin_dir(LOCAL_VOLUME, &bound.pv_name);
            make_dir(&path, 0o750)?;
            mounts::ensure_bind(self.table()?, source, &path, bound.read_only)
                .map_err(|error| format!("mount failed: {error}"))?;
            return Ok(PreparedVolume {
                path,
                read_only: bound.read_only,
            });
        }
        Err(format!(
            "no volume plugin matched PersistentVolume {} (only hostPath and local are supported)",
            bound.pv_name
        ))
    }

    /// Makes `path` a tmpfs of `size` bytes (a no-op when it is one already).
    fn memory_dir(&self, path: &Path, size: i128) -> Result<(), String> {
        make_dir(path, 0o777)?;
        let options = mounts::tmpfs_options(Some(size), mounts::noswap_supported());
        mounts::ensure_tmpfs(self.table()?, path, &options).map_err(|error| error.to_string())
    }

    /// The size of the memory-backed emptyDir that secret and projected volumes wrap.
    fn wrapped_memory_size(&self) -> i128 {
        memory::tmpfs_size(self.node_allocatable_memory(), self.pod, None)
    }

    fn node_allocatable_memory(&self) -> i128 {
        i128::from(self.context.system.memory_kib) * 1024
    }
}

/// Checks a hostPath against its `type` (creating it for the `...OrCreate` types) and returns it.
fn check_host_path(source: &HostPathVolumeSource) -> Result<PathBuf, String> {
    let io = |error: std::io::Error| error.to_string();
    let path = PathBuf::from(&source.path);
    match source.type_.as_deref().unwrap_or("") {
        "DirectoryOrCreate" if !path.exists() => {
            std::fs::create_dir_all(&path).map_err(io)?;
            set_mode(&path, 0o755).map_err(io)?;
        }
        "DirectoryOrCreate" | "Directory" if !path.is_dir() => {
            return Err(format!(
                "hostPath type check failed: {} is not a directory",
                source.path
            ));
        }
        "FileOrCreate" if !path.exists() => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::write(&path, b"").map_err(io)?;
            set_mode(&path, 0o644).map_err(io)?;
        }
        "FileOrCreate" | "File" if !path.is_file() => {
            return Err(format!(
                "hostPath type check failed: {} is not a file",
                source.path
            ));
        }
        _ => {}
    }
    Ok(path)
}

/// Creates a folder and gives it `mode` unless its permission bits already are `mode` (a tmpfs root
/// keeps its sticky bit, as upstream's emptyDir setup leaves it).
fn make_dir(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path)
        .map_err(|error| format!("creating {}: {error}", path.display()))?;
    let current = std::fs::metadata(path)
        .map_err(|error| format!("reading {}: {error}", path.display()))?
        .permissions()
        .mode();
    if current & 0o777 == mode & 0o777 {
        return Ok(());
    }
    set_mode(path, mode).map_err(|error| format!("chmod {}: {error}", path.display()))
}

fn write(path: &Path, payload: &Payload) -> Result<(), String> {
    write_payload(path, payload).map_err(|error| error.to_string())
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn unusable_claims_are_reported_as_upstream_words_them() {
        let missing = |claim: &str| {
            format!(
                "error processing PVC default/{claim}: failed to fetch PVC from API server: persistentvolumeclaims \"{claim}\" not found"
            )
        };
        let unprocessed = vec![
            ("data".to_string(), missing("data")),
            ("readonly".to_string(), missing("data")),
            ("unused".to_string(), missing("other")),
            ("fast".to_string(), missing("fast")),
        ];
        let message = unable_to_mount(
            &names(&["data", "readonly", "fast", "cache"]),
            &names(&["cache"]),
            &unprocessed,
        );
        assert_eq!(
            message.as_deref(),
            Some(
                "Unable to attach or mount volumes: unmounted volumes=[cache data fast readonly], unattached volumes=[], failed to process volumes=[data fast readonly]: error processing PVC default/data: failed to fetch PVC from API server: persistentvolumeclaims \"data\" not found; error processing PVC default/fast: failed to fetch PVC from API server: persistentvolumeclaims \"fast\" not found"
            )
        );
        // A volume no container mounts does not hold the pod back.
        assert_eq!(
            unable_to_mount(&names(&["data"]), &BTreeSet::new(), &unprocessed[2..3]),
            None
        );
    }
}
