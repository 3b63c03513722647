//! Pod volumes on a real node: memory-backed volumes are tmpfs mounts that survive an agent restart
//! without being mounted twice and leave with their pod; persistentVolumeClaim volumes use the
//! hostPath or local PersistentVolume they are bound to; a disk emptyDir over its `sizeLimit` gets
//! its pod evicted; what deleted pods leave behind is cleaned up.

use std::path::{Path, PathBuf};
use std::process::Output;

use kubers_testkit::cluster::TestCluster;
use kubers_testkit::images::BUSYBOX_IMAGE;

use crate::node::{cluster, eventually, kubectl, kubectl_output, wait_for};
use crate::text;

/// `reason: message` of the pod's events, one a line.
fn events(cluster: &TestCluster, pod: &str) -> String {
    kubectl(
        cluster,
        &[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={pod}"),
            "-o",
            "jsonpath={range .items[*]}{.type} {.reason}: {.message}{\"\\n\"}{end}",
        ],
        None,
    )
}

fn exec(cluster: &TestCluster, pod: &str, command: &[&str]) -> Output {
    let mut args = vec!["exec", pod, "--"];
    args.extend_from_slice(command);
    kubectl_output(cluster, &args, None)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn uid(cluster: &TestCluster, kind: &str, name: &str) -> String {
    kubectl(
        cluster,
        &["get", kind, name, "-o", "jsonpath={.metadata.uid}"],
        None,
    )
}

/// The machine's mounts at or below `dir`, as `(mount point, type, super options)`.
fn host_mounts_under(dir: &Path) -> Vec<(String, String, String)> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .expect("mountinfo")
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let point = before.split(' ').nth(4)?.replace("\\040", " ");
            let mut rest = after.split(' ');
            let kind = rest.next()?.to_string();
            let options = rest.nth(1)?.to_string();
            (point == prefix || point.starts_with(&format!("{prefix}/")))
                .then_some((point, kind, options))
        })
        .collect()
}

/// The line of `/proc/mounts` for `point`.
fn mount_line<'a>(mounts: &'a str, point: &str) -> &'a str {
    mounts
        .lines()
        .find(|line| line.split(' ').nth(1) == Some(point))
        .unwrap_or_else(|| panic!("{point} is not mounted in the container:\n{mounts}"))
}

/// The pod's sandboxes as CRI lists them.
fn sandbox_count(cluster: &TestCluster, uid: &str) -> usize {
    use k8s_cri::v1 as cri;
    let socket = cluster.data_dir().join("agent/containerd/containerd.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let cri = kubers_kubelet::cri::Cri::connect(&socket).expect("the CRI socket");
        let filter = cri::PodSandboxFilter {
            label_selector: [(
                kubers_kubelet::pods::labels::POD_UID.to_string(),
                uid.to_string(),
            )]
            .into(),
            ..cri::PodSandboxFilter::default()
        };
        cri.runtime
            .clone()
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await
            .expect("ListPodSandbox")
            .into_inner()
            .items
            .len()
    })
}

/// Kills the pod's pause process (the sandbox dies; the kubelet makes a new one).
fn kill_pause(uid: &str) {
    let cgroup = format!("pod{uid}");
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "pause")
                && std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                    .is_ok_and(|groups| groups.contains(&cgroup))
        })
        .collect();
    assert_eq!(pids.len(), 1, "one pause process of pod {uid}: {pids:?}");
    let killed = std::process::Command::new("kill")
        .args(["-9", &pids[0]])
        .output()
        .expect("kill runs");
    assert!(killed.status.success(), "{}", text(&killed));
}

fn pod_dir(cluster: &TestCluster, uid: &str) -> PathBuf {
    cluster.data_dir().join("agent/pods").join(uid)
}

#[test]
fn memory_backed_volumes_are_tmpfs_once_and_leave_with_their_pod() {
    let mut cluster = cluster();
    kubectl(
        &cluster,
        &[
            "create",
            "secret",
            "generic",
            "creds",
            "--from-literal=password=first",
        ],
        None,
    );
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: mem
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts:
    - {{name: creds, mountPath: /etc/creds}}
    - {{name: scratch, mountPath: /scratch}}
  volumes:
  - name: creds
    secret: {{secretName: creds}}
  - name: scratch
    emptyDir: {{medium: Memory, sizeLimit: 64Mi}}
"#,
        node = cluster.node_name()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    wait_for(
        &cluster,
        "mem",
        "{.status.containerStatuses[0].ready}",
        |ready| ready == "true",
    );

    // Inside the container: the secret and the token volume are read-only tmpfs mounts, the memory
    // emptyDir a writable tmpfs of its sizeLimit.
    let mounts = stdout(&exec(&cluster, "mem", &["cat", "/proc/mounts"]));
    let creds = mount_line(&mounts, "/etc/creds");
    assert!(
        creds.starts_with("tmpfs ") && creds.contains(" tmpfs ro,"),
        "{creds}"
    );
    let token = mount_line(&mounts, "/var/run/secrets/kubernetes.io/serviceaccount");
    assert!(token.contains(" tmpfs ro,"), "{token}");
    let scratch = mount_line(&mounts, "/scratch");
    assert!(
        scratch.contains(" tmpfs rw,") && scratch.contains("size=65536k"),
        "{scratch}"
    );
    let password = exec(&cluster, "mem", &["cat", "/etc/creds/password"]);
    assert_eq!(stdout(&password), "first", "{}", text(&password));

    // On the node: one tmpfs per memory-backed volume under the pod's folder.
    let uid = uid(&cluster, "pod", "mem");
    let dir = pod_dir(&cluster, &uid);
    let before = host_mounts_under(&dir);
    let kinds: Vec<(&str, &str)> = before
        .iter()
        .map(|(point, kind, _)| {
            let plugin = point.rsplit('/').nth(1).unwrap_or_default();
            (plugin, kind.as_str())
        })
        .collect();
    assert_eq!(before.len(), 3, "{before:?}");
    for plugin in [
        "kubernetes.io~secret",
        "kubernetes.io~projected",
        "kubernetes.io~empty-dir",
    ] {
        assert!(kinds.contains(&(plugin, "tmpfs")), "{plugin}: {before:?}");
    }

    // A restarted agent finds its mounts and does not mount again; a changed secret still reaches
    // the container (the pod is touched so the new agent syncs it once more).
    cluster
        .restart_server()
        .expect("the server and agent come back");
    kubectl(
        &cluster,
        &[
            "patch",
            "secret",
            "creds",
            "--type=merge",
            "-p",
            r#"{"data":{"password":"c2Vjb25k"}}"#,
        ],
        None,
    );
    kubectl(&cluster, &["label", "pod", "mem", "touched=yes"], None);
    eventually("the updated secret in the container", &cluster, || {
        let output = exec(&cluster, "mem", &["cat", "/etc/creds/password"]);
        (stdout(&output) == "second").then_some(())
    });
    assert_eq!(host_mounts_under(&dir), before);

    // Old sandboxes go: the sandbox dies twice; once the oldest holds no container any more it is
    // removed, and the newest one and the one holding the previous container attempt stay.
    assert_eq!(sandbox_count(&cluster, &uid), 1);
    for round in ["1", "2"] {
        kill_pause(&uid);
        wait_for(
            &cluster,
            "mem",
            "{.status.containerStatuses[0].restartCount}/{.status.containerStatuses[0].ready}",
            |value| value == format!("{round}/true"),
        );
    }
    eventually("the oldest sandbox removed", &cluster, || {
        (sandbox_count(&cluster, &uid) == 2).then_some(())
    });
    assert_eq!(host_mounts_under(&dir), before);

    // What a pod that is gone left behind (a folder with a tmpfs, a pod cgroup, a log folder) is
    // removed by housekeeping.
    let gone = "00000000-0000-4000-8000-00000000beef";
    let leftover = pod_dir(&cluster, gone).join("volumes/kubernetes.io~empty-dir/cache");
    std::fs::create_dir_all(&leftover).expect("a leftover volume folder");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&leftover)
        .output()
        .expect("mount runs");
    assert!(mounted.status.success(), "{}", text(&mounted));
    std::fs::write(leftover.join("file"), "x").expect("a file in the leftover tmpfs");
    let hierarchy = ["/sys/fs/cgroup/memory", "/sys/fs/cgroup"]
        .into_iter()
        .find(|path| Path::new(path).join("cgroup.procs").exists())
        .expect("a cgroup hierarchy");
    let cgroup = Path::new(hierarchy)
        .join("kubers")
        .join(cluster.node_name())
        .join(format!("pod{gone}"));
    std::fs::create_dir_all(&cgroup).expect("a leftover pod cgroup");
    let logs = cluster
        .data_dir()
        .join(format!("agent/logs/default_gone_{gone}"));
    std::fs::create_dir_all(logs.join("main")).expect("a leftover log folder");
    eventually(
        "the leftovers of a pod that is gone removed",
        &cluster,
        || (!pod_dir(&cluster, gone).exists() && !cgroup.exists() && !logs.exists()).then_some(()),
    );
    assert!(host_mounts_under(&pod_dir(&cluster, gone)).is_empty());

    // Deleting the pod unmounts its tmpfs volumes and removes its folder.
    kubectl(&cluster, &["delete", "pod", "mem", "--timeout=60s"], None);
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(
        host_mounts_under(&dir).is_empty(),
        "{:?}",
        host_mounts_under(&dir)
    );
}

#[test]
fn claims_use_their_volumes_and_empty_dirs_over_their_limit_evict() {
    let cluster = cluster();
    let node = cluster.node_name().to_string();
    // The eviction check runs every 10 s: the pod that overflows its emptyDir starts first.
    let hog = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 30
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "dd if=/dev/zero of=/scratch/fill bs=1024 count=4096; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts: [{{name: scratch, mountPath: /scratch}}]
  volumes:
  - name: scratch
    emptyDir: {{sizeLimit: 1Mi}}
"#
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&hog));

    let host_dir = cluster.data_dir().join("pv-host");
    std::fs::create_dir_all(&host_dir).expect("the hostPath folder");
    std::fs::write(host_dir.join("host.txt"), "from the host").expect("a host file");
    let local_dir = cluster.data_dir().join("pv-local");
    std::fs::create_dir_all(&local_dir).expect("the local volume folder");
    std::fs::write(local_dir.join("local.txt"), "from the local disk").expect("a local file");

    let claimer = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: claimer
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo written > /data/from-pod; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumeMounts:
    - {{name: data, mountPath: /data}}
    - {{name: readonly, mountPath: /readonly}}
    - {{name: fast, mountPath: /fast}}
  volumes:
  - name: data
    persistentVolumeClaim: {{claimName: data}}
  - name: readonly
    persistentVolumeClaim: {{claimName: data, readOnly: true}}
  - name: fast
    persistentVolumeClaim: {{claimName: fast}}
"#
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&claimer));
    // Missing claims: the pod waits in ContainerCreating with upstream's FailedMount warning.
    let missing = |claim: &str| {
        format!(
            "error processing PVC default/{claim}: failed to fetch PVC from API server: persistentvolumeclaims \"{claim}\" not found"
        )
    };
    let expected = format!(
        "Warning FailedMount: Unable to attach or mount volumes: unmounted volumes=[data fast readonly], unattached volumes=[], failed to process volumes=[data fast readonly]: {}; {}",
        missing("data"),
        missing("fast")
    );
    eventually("the FailedMount event", &cluster, || {
        events(&cluster, "claimer")
            .lines()
            .any(|line| line == expected)
            .then_some(())
    });
    let waiting = kubectl(
        &cluster,
        &[
            "get",
            "pod",
            "claimer",
            "-o",
            "jsonpath={.status.phase} {.status.containerStatuses[0].state.waiting.reason}",
        ],
        None,
    );
    assert_eq!(waiting, "Pending ContainerCreating");

    // Claims bound by hand (no PV controller here): the claim names its volume, the volume points
    // back at the claim, both are Bound.
    for (claim, volume) in [("data", "pv-data"), ("fast", "pv-fast")] {
        let manifest = format!(
            r#"apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {claim}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: {volume}
  resources: {{requests: {{storage: 1Gi}}}}
"#
        );
        kubectl(&cluster, &["apply", "-f", "-"], Some(&manifest));
    }
    let data_uid = uid(&cluster, "pvc", "data");
    let fast_uid = uid(&cluster, "pvc", "fast");
    let volumes = format!(
        r#"apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-data
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {{namespace: default, name: data, uid: {data_uid}}}
  hostPath: {{path: {host}, type: Directory}}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-fast
spec:
  capacity: {{storage: 1Gi}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {{namespace: default, name: fast, uid: {fast_uid}}}
  local: {{path: {local}}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {{key: kubernetes.io/hostname, operator: In, values: [{node}]}}
"#,
        host = host_dir.display(),
        local = local_dir.display()
    );
    kubectl(&cluster, &["apply", "-f", "-"], Some(&volumes));
    let bound = r#"{"status":{"phase":"Bound"}}"#;
    for (kind, name) in [
        ("pv", "pv-data"),
        ("pv", "pv-fast"),
        ("pvc", "data"),
        ("pvc", "fast"),
    ] {
        kubectl(
            &cluster,
            &[
                "patch",
                kind,
                name,
                "--subresource=status",
                "--type=merge",
                "-p",
                bound,
            ],
            None,
        );
    }
    wait_for(
        &cluster,
        "claimer",
        "{.status.containerStatuses[0].ready}",
        |ready| ready == "true",
    );
    let read = exec(
        &cluster,
        "claimer",
        &["cat", "/data/host.txt", "/fast/local.txt"],
    );
    assert_eq!(
        stdout(&read),
        "from the hostfrom the local disk",
        "{}",
        text(&read)
    );
    eventually("the pod's write on the host", &cluster, || {
        std::fs::read_to_string(host_dir.join("from-pod"))
            .ok()
            .filter(|content| content == "written\n")
    });
    let refused = exec(&cluster, "claimer", &["touch", "/readonly/nope"]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(!host_dir.join("nope").exists());
    let uid = uid(&cluster, "pod", "claimer");
    let dir = pod_dir(&cluster, &uid);
    let mounts = host_mounts_under(&dir);
    assert!(
        mounts
            .iter()
            .any(|(point, _, _)| point.ends_with("/volumes/kubernetes.io~local-volume/pv-fast")),
        "{mounts:?}"
    );

    // The overflowing pod was evicted as upstream's eviction manager does.
    let evicted = wait_for(
        &cluster,
        "hog",
        "{.status.phase}/{.status.reason}/{.status.message}",
        |value| value.starts_with("Failed/"),
    );
    assert_eq!(
        evicted,
        "Failed/Evicted/Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". "
    );
    let hog_events = events(&cluster, "hog");
    assert!(
        hog_events.contains(
            "Warning Evicted: Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". "
        ) && hog_events.contains("Normal Killing: Stopping container main"),
        "{hog_events}"
    );
    wait_for(
        &cluster,
        "hog",
        "{.status.containerStatuses[0].state.terminated.reason}",
        |reason| !reason.is_empty(),
    );

    // Deleting the pod releases the local volume's bind mount and never empties its source.
    kubectl(
        &cluster,
        &["delete", "pod", "claimer", "--timeout=60s"],
        None,
    );
    assert!(!dir.exists(), "{} is left", dir.display());
    assert!(host_mounts_under(&dir).is_empty());
    assert_eq!(
        std::fs::read_to_string(local_dir.join("local.txt")).expect("the local file stays"),
        "from the local disk"
    );
    assert!(host_dir.join("host.txt").exists() && host_dir.join("from-pod").exists());
}
