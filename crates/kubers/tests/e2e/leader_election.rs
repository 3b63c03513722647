//! Leader election of the controller manager and the scheduler through Leases in `kube-system`: the
//! holder, its times and transitions as upstream writes them, the `LeaderElection` events; a leader
//! that sees its lease taken stops its controllers and campaigns again; two servers sharing one
//! etcd elect one controller manager, and the other takes over once the leader's server is killed.

use std::path::Path;
use std::time::{Duration, Instant};

use kubers_testkit::etcd::EtcdServer;
use kubers_testkit::server::TestServer;

use crate::*;

/// The controller manager's Lease (and the source component of its events).
const LEASE: &str = "kube-controller-manager";
/// The log line of a candidate that acquired it, as client-go's.
const ACQUIRED: &str = "successfully acquired lease kube-system/kube-controller-manager";
/// The log line of a leader that lost it.
const LOST: &str = "failed to renew lease kube-system/kube-controller-manager: leaderelection lost";

/// Waits (up to `limit`) until `check` returns something; `logs` explains a timeout.
fn wait_for<T>(
    what: &str,
    limit: Duration,
    logs: impl Fn() -> String,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; server logs:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A field of the controller manager's Lease, empty when it does not exist (yet).
fn lease_field(server: &TestServer, kubectl: &Path, path: &str) -> String {
    let output = run(
        server,
        kubectl,
        &[
            "get",
            "lease",
            "-n",
            "kube-system",
            LEASE,
            "-o",
            &format!("jsonpath={{{path}}}"),
        ],
        None,
    );
    if output.status.success() {
        String::from_utf8_lossy(&output.stdout).into_owned()
    } else {
        String::new()
    }
}

/// The holder of `lease` once there is one.
fn holder_of(server: &TestServer, kubectl: &Path, lease: &str) -> String {
    wait_for(
        &format!("a holder of the lease {lease}"),
        Duration::from_secs(60),
        || server.log(),
        || {
            let output = run(
                server,
                kubectl,
                &[
                    "get",
                    "lease",
                    "-n",
                    "kube-system",
                    lease,
                    "-o",
                    "jsonpath={.spec.holderIdentity}",
                ],
                None,
            );
            let holder = String::from_utf8_lossy(&output.stdout).into_owned();
            (output.status.success() && !holder.is_empty()).then_some(holder)
        },
    )
}

/// Waits until the `default` ServiceAccount (written by the service-account controller) exists in
/// `namespace`: the controllers run.
fn controllers_serve(server: &TestServer, kubectl: &Path, namespace: &str) {
    ok(server, kubectl, &["create", "namespace", namespace]);
    wait_for(
        &format!("the default ServiceAccount in {namespace}"),
        Duration::from_secs(60),
        || server.log(),
        || {
            run(
                server,
                kubectl,
                &["get", "serviceaccount", "default", "-n", namespace],
                None,
            )
            .status
            .success()
            .then_some(())
        },
    )
}

/// The `LeaderElection` events about `lease`: `message|source|kind|type` per event.
fn election_events(server: &TestServer, kubectl: &Path, lease: &str) -> Vec<String> {
    let output = ok(
        server,
        kubectl,
        &[
            "get",
            "events",
            "-n",
            "kube-system",
            "--field-selector",
            &format!("involvedObject.name={lease},reason=LeaderElection"),
            "-o",
            "jsonpath={range .items[*]}{.message}|{.source.component}|{.involvedObject.kind}|{.type}|{.count}{\"\\n\"}{end}",
        ],
    );
    output.lines().map(str::to_owned).collect()
}

#[test]
fn the_controller_manager_holds_its_lease() {
    let server = server();
    for kubectl in &kubectls() {
        let holder = holder_of(&server, kubectl, LEASE);
        let yaml = ok(
            &server,
            kubectl,
            &["get", "lease", "-n", "kube-system", LEASE, "-o", "yaml"],
        );
        assert!(
            yaml.contains(&format!("holderIdentity: {holder}")),
            "{yaml}"
        );
        assert!(yaml.contains("leaseDurationSeconds: 15"), "{yaml}");
        assert!(yaml.contains("leaseTransitions: 0"), "{yaml}");
        // `<hostname>_<uuid>`.
        let (host, uuid) = holder.rsplit_once('_').expect("identity is host_uuid");
        assert!(!host.is_empty(), "{holder}");
        assert_eq!(uuid.len(), 36, "{holder}");
        assert_eq!(uuid.matches('-').count(), 4, "{holder}");
        // Acquire and renew times are MicroTimes: microseconds, UTC.
        for field in [".spec.acquireTime", ".spec.renewTime"] {
            let time = lease_field(&server, kubectl, field);
            let fraction = time
                .strip_suffix('Z')
                .and_then(|time| time.rsplit_once('.'))
                .map(|(_, fraction)| fraction.len());
            assert_eq!(fraction, Some(6), "{field} is {time:?}");
        }
        // The election is announced on the Lease, as client-go's LeaseLock records it.
        let events = wait_for(
            "the LeaderElection event",
            Duration::from_secs(30),
            || server.log(),
            || {
                let events = election_events(&server, kubectl, LEASE);
                (!events.is_empty()).then_some(events)
            },
        );
        assert_eq!(
            events,
            [format!(
                "{holder} became leader|kube-controller-manager|Lease|Normal|1"
            )]
        );
        // The scheduler is elected the same way, under its own name.
        let scheduler = holder_of(&server, kubectl, "kube-scheduler");
        let events = wait_for(
            "the scheduler's LeaderElection event",
            Duration::from_secs(30),
            || server.log(),
            || {
                let events = election_events(&server, kubectl, "kube-scheduler");
                (!events.is_empty()).then_some(events)
            },
        );
        assert_eq!(
            events,
            [format!(
                "{scheduler} became leader|default-scheduler|Lease|Normal|1"
            )]
        );
    }
    controllers_serve(&server, &kubectls()[0], "elected");
}

#[test]
fn a_leader_that_sees_its_lease_taken_steps_down_and_campaigns_again() {
    let server = server();
    let kubectl = &kubectls()[1];
    let holder = holder_of(&server, kubectl, LEASE);
    // Someone else claims the lease (and never renews it).
    ok(
        &server,
        kubectl,
        &[
            "patch",
            "lease",
            "-n",
            "kube-system",
            LEASE,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"holderIdentity":"impostor"}}"#,
        ],
    );
    wait_for(
        "the controller manager to step down",
        Duration::from_secs(60),
        || server.log(),
        || {
            server
                .log()
                .lines()
                .any(|line| line.contains(LOST))
                .then_some(())
        },
    );
    // Once the impostor's lease expires the same candidate takes it back, counting a transition
    // (the impostor's edit counted none).
    wait_for(
        "the lease to come back",
        Duration::from_secs(90),
        || server.log(),
        || (lease_field(&server, kubectl, ".spec.holderIdentity") == holder).then_some(()),
    );
    assert_eq!(lease_field(&server, kubectl, ".spec.leaseTransitions"), "1");
    // The second `became leader` is the same event as the first, counted on it as client-go's
    // recorder counts repeats.
    let events = wait_for(
        "the second LeaderElection event",
        Duration::from_secs(30),
        || server.log(),
        || {
            let events = election_events(&server, kubectl, LEASE);
            let again = format!("{holder} became leader|");
            events
                .iter()
                .any(|event| event.starts_with(&again) && event.ends_with("|2"))
                .then_some(events)
        },
    );
    let messages: Vec<&str> = events
        .iter()
        .filter_map(|event| event.split('|').next())
        .collect();
    for expected in ["became leader", "stopped leading"] {
        assert!(
            messages.contains(&format!("{holder} {expected}").as_str()),
            "{events:?}"
        );
    }
    // The controllers run again in the new term.
    controllers_serve(&server, kubectl, "second-term");
}

#[test]
fn two_servers_elect_one_controller_manager_and_fail_over() {
    let etcd = EtcdServer::start().expect("etcd starts");
    let endpoint = etcd.endpoint();
    let binary = Path::new(env!("CARGO_BIN_EXE_kubers"));
    let start = || {
        TestServer::start_with(binary, &["--datastore-endpoint", &endpoint])
            .expect("kubers server starts on etcd")
    };
    let mut servers = vec![Some(start()), Some(start())];
    let kubectl = &kubectls()[0];
    let logs = |servers: &[Option<TestServer>]| {
        servers
            .iter()
            .flatten()
            .map(|server| server.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let first = servers[0].as_ref().expect("started");
    let leader = holder_of(first, kubectl, LEASE);
    // Exactly one server campaigns as the holder and acquired the lease.
    let acquired = |server: &TestServer, identity: &str| {
        server
            .log()
            .lines()
            .any(|line| line.contains(ACQUIRED) && line.contains(identity))
    };
    let leading: Vec<usize> = (0..2)
        .filter(|&index| {
            servers[index]
                .as_ref()
                .is_some_and(|server| server.log().contains(&leader))
        })
        .collect();
    assert_eq!(leading.len(), 1, "{}", logs(&servers));
    let leading = leading[0];
    let follower = 1 - leading;
    let follower_log = servers[follower].as_ref().map(TestServer::log);
    assert!(
        !follower_log.is_some_and(|log| { log.contains(ACQUIRED) }),
        "{}",
        logs(&servers)
    );
    {
        let server = servers[leading].as_ref().expect("started");
        assert!(acquired(server, &leader), "{}", server.log());
        controllers_serve(server, kubectl, "before-failover");
    }

    // Kill the leader's server (SIGKILL: the lease is not released).
    drop(servers[leading].take());
    let survivor = servers[follower].as_ref().expect("started");
    let successor = wait_for(
        "the other server to take the lease over",
        Duration::from_secs(120),
        || survivor.log(),
        || {
            let holder = lease_field(survivor, kubectl, ".spec.holderIdentity");
            (!holder.is_empty() && holder != leader).then_some(holder)
        },
    );
    assert!(acquired(survivor, &successor), "{}", survivor.log());
    assert_eq!(
        lease_field(survivor, kubectl, ".spec.leaseTransitions"),
        "1"
    );
    controllers_serve(survivor, kubectl, "after-failover");
}
