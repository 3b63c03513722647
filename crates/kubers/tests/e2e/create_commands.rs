//! Every `kubectl create` subcommand: kubectl 1.35 sends these bodies as protobuf, 1.33 as JSON; both
//! must be decoded, defaulted, validated and stored.

use crate::*;

/// `kubectl create` arguments and the object they make, named `NAME`-`INDEX`.
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    (
        "clusterrole/reader",
        &["clusterrole", "NAME", "--verb=get,list", "--resource=pods"],
    ),
    (
        "clusterrolebinding/reader",
        &[
            "clusterrolebinding",
            "NAME",
            "--clusterrole=view",
            "--user=alice",
        ],
    ),
    (
        "configmap/settings",
        &["configmap", "NAME", "--from-literal=a=b"],
    ),
    (
        "cronjob/nightly",
        &[
            "cronjob",
            "NAME",
            "--image=busybox",
            "--schedule=0 3 * * *",
            "--",
            "true",
        ],
    ),
    ("deployment/web", &["deployment", "NAME", "--image=nginx"]),
    (
        "ingress/front",
        &["ingress", "NAME", "--rule=example.com/=web:80"],
    ),
    (
        "job/once",
        &["job", "NAME", "--image=busybox", "--", "true"],
    ),
    ("namespace/team", &["namespace", "NAME"]),
    (
        "poddisruptionbudget/budget",
        &[
            "poddisruptionbudget",
            "NAME",
            "--selector=app=web",
            "--min-available=1",
        ],
    ),
    (
        "priorityclass/high",
        &["priorityclass", "NAME", "--value=1000"],
    ),
    ("resourcequota/quota", &["quota", "NAME", "--hard=pods=10"]),
    (
        "role/pod-reader",
        &["role", "NAME", "--verb=get", "--resource=pods"],
    ),
    (
        "rolebinding/pod-reader",
        &["rolebinding", "NAME", "--role=pod-reader", "--user=alice"],
    ),
    (
        "secret/registry",
        &[
            "secret",
            "docker-registry",
            "NAME",
            "--docker-server=registry.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
    ),
    (
        "service/db",
        &["service", "nodeport", "NAME", "--tcp=5432:5432"],
    ),
    (
        "service/alias",
        &[
            "service",
            "externalname",
            "NAME",
            "--external-name=db.example.com",
        ],
    ),
    ("serviceaccount/robot", &["serviceaccount", "NAME"]),
];

#[test]
fn every_create_subcommand_makes_its_object() {
    let server = server();
    for (index, kubectl) in kubectls().iter().enumerate() {
        for (object, arguments) in SUBCOMMANDS {
            let (_, base) = object.split_once('/').unwrap_or(("", object));
            let name = format!("{base}-{index}");
            let mut args = vec!["create"];
            args.extend(arguments.iter().map(|argument| {
                if *argument == "NAME" {
                    name.as_str()
                } else {
                    argument
                }
            }));
            let created = ok(&server, kubectl, &args);
            assert!(
                created.contains(&format!("/{name} created")),
                "{}: {created}",
                kubectl.display()
            );
        }
    }
}
