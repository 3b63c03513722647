//! `kubectl get` of the kinds upstream prints with their own columns: the header line and one row,
//! as kubectl 1.33 and 1.35 print the server's Tables.

use crate::*;

/// One object of each kind checked below, applied in one go.
const MANIFEST: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
secrets: [{name: robot-token}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: example.com/fast
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-tables}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadOnlyMany, ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: fast
  hostPath: {path: /tmp/pv-tables}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: fast
  resources: {requests: {storage: 10Gi}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
preemptionPolicy: Never
description: tables test
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db}
spec:
  podSelector: {matchLabels: {role: db}}
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: example.com/ingress}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: nginx
  rules:
  - host: a.example
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {kind: User, apiGroup: rbac.authorization.k8s.io, name: alice}
- {kind: ServiceAccount, namespace: default, name: robot}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: lock}
spec: {holderIdentity: me}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: manual-1}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints: [{addresses: [10.0.0.1]}, {addresses: [10.0.0.2]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: tables-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
"#;

/// The cells of a printed table line: kubectl pads columns with at least three spaces, and no cell
/// here holds two spaces in a row. Empty cells vanish.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect()
}

/// `kubectl get` output's header and the row of `name` (perhaps followed by ` (default)`), with the AGE cell (at `age`) replaced by `*`.
fn header_and_row<'a>(table: &'a str, name: &str, age: usize) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut lines = table.lines();
    let header = cells(lines.next().unwrap_or(""));
    let mut row = lines
        .map(cells)
        .find(|row| {
            row.first()
                .is_some_and(|first| first.split(' ').next() == Some(name))
        })
        .unwrap_or_default();
    if let Some(cell) = row.get_mut(age) {
        *cell = "*";
    }
    (header, row)
}

/// What `kubectl get <resource> <name> <flags>` must print.
struct Check {
    resource: &'static str,
    name: &'static str,
    flags: &'static [&'static str],
    header: &'static [&'static str],
    /// The row, with the AGE cell as `*` and empty cells left out.
    row: &'static [&'static str],
    /// The index of the AGE cell in `row`.
    age: usize,
}

#[test]
fn kinds_print_upstream_columns() {
    let server = server();
    let kubectls = kubectls();
    let applied = run(&server, &kubectls[0], &["apply", "-f", "-"], Some(MANIFEST));
    assert!(applied.status.success(), "{}", text(&applied));
    let checks = [
        Check {
            resource: "serviceaccount",
            name: "robot",
            flags: &[],
            header: &["NAME", "SECRETS", "AGE"],
            row: &["robot", "1", "*"],
            age: 2,
        },
        Check {
            resource: "storageclass",
            name: "fast",
            flags: &[],
            header: &[
                "NAME",
                "PROVISIONER",
                "RECLAIMPOLICY",
                "VOLUMEBINDINGMODE",
                "ALLOWVOLUMEEXPANSION",
                "AGE",
            ],
            row: &[
                "fast (default)",
                "example.com/fast",
                "Delete",
                "WaitForFirstConsumer",
                "true",
                "*",
            ],
            age: 5,
        },
        Check {
            resource: "pv",
            name: "pv-tables",
            flags: &["-o", "wide"],
            header: &[
                "NAME",
                "CAPACITY",
                "ACCESS MODES",
                "RECLAIM POLICY",
                "STATUS",
                "CLAIM",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "REASON",
                "AGE",
                "VOLUMEMODE",
            ],
            // No claim and no reason: those cells are empty. The volume controller made it Available
            // (the claim asks for more than it holds) and defaulting set its volume mode.
            row: &[
                "pv-tables",
                "5Gi",
                "RWO,ROX",
                "Retain",
                "Available",
                "fast",
                "<unset>",
                "*",
                "Filesystem",
            ],
            age: 7,
        },
        Check {
            resource: "pvc",
            name: "data",
            flags: &[],
            header: &[
                "NAME",
                "STATUS",
                "VOLUME",
                "CAPACITY",
                "ACCESS MODES",
                "STORAGECLASS",
                "VOLUMEATTRIBUTESCLASS",
                "AGE",
            ],
            row: &["data", "Pending", "fast", "<unset>", "*"],
            age: 4,
        },
        Check {
            resource: "priorityclass",
            name: "high",
            flags: &[],
            header: &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
            row: &["high", "1000", "false", "*", "Never"],
            age: 3,
        },
        Check {
            resource: "pdb",
            name: "web",
            flags: &[],
            header: &[
                "NAME",
                "MIN AVAILABLE",
                "MAX UNAVAILABLE",
                "ALLOWED DISRUPTIONS",
                "AGE",
            ],
            row: &["web", "1", "N/A", "0", "*"],
            age: 4,
        },
        Check {
            resource: "networkpolicy",
            name: "db",
            flags: &[],
            header: &["NAME", "POD-SELECTOR", "AGE"],
            row: &["db", "role=db", "*"],
            age: 2,
        },
        Check {
            resource: "ingressclass",
            name: "nginx",
            flags: &[],
            header: &["NAME", "CONTROLLER", "PARAMETERS", "AGE"],
            row: &["nginx", "example.com/ingress", "<none>", "*"],
            age: 3,
        },
        Check {
            resource: "ingress",
            name: "web",
            flags: &[],
            header: &["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"],
            // No address yet: that cell is empty.
            row: &["web", "nginx", "a.example", "80", "*"],
            age: 4,
        },
        Check {
            resource: "rolebinding",
            name: "readers",
            flags: &["-o", "wide"],
            header: &["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
            row: &["readers", "ClusterRole/view", "*", "alice", "default/robot"],
            age: 2,
        },
        Check {
            resource: "lease",
            name: "lock",
            flags: &[],
            header: &["NAME", "HOLDER", "AGE"],
            row: &["lock", "me", "*"],
            age: 2,
        },
        Check {
            resource: "endpointslice",
            name: "manual-1",
            flags: &[],
            header: &["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
            row: &["manual-1", "IPv4", "80", "10.0.0.1,10.0.0.2", "*"],
            age: 4,
        },
        Check {
            resource: "hpa",
            name: "web",
            flags: &[],
            header: &[
                "NAME",
                "REFERENCE",
                "TARGETS",
                "MINPODS",
                "MAXPODS",
                "REPLICAS",
                "AGE",
            ],
            row: &[
                "web",
                "Deployment/web",
                "cpu: <unknown>/80%",
                "1",
                "5",
                "0",
                "*",
            ],
            age: 6,
        },
        Check {
            resource: "clusterrole",
            name: "tables-reader",
            flags: &[],
            header: &["NAME", "CREATED AT"],
            row: &["tables-reader", "*"],
            age: 1,
        },
    ];
    for kubectl in &kubectls {
        for check in &checks {
            let Check {
                resource,
                name,
                flags,
                header,
                row,
                age,
            } = check;
            let mut args = vec!["get", *resource, *name];
            args.extend_from_slice(flags);
            let table = ok(&server, kubectl, &args);
            let (printed_header, printed_row) = header_and_row(&table, name, *age);
            assert_eq!(
                (printed_header.as_slice(), printed_row.as_slice()),
                (*header, *row),
                "{} get {resource}:\n{table}",
                kubectl.display()
            );
        }
    }
}
