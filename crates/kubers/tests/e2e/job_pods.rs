//! A Job's pods as the Job tests read them through kubectl: name, phase, whether they are being
//! deleted, completion index and creation time, and waits for the Job's pods to reach a state.

use std::path::Path;

use k8s_openapi::jiff::Timestamp;
use kubers_testkit::server::TestServer;

use crate::converge::{field, until};
use crate::ok;

/// `name|phase|deletionTimestamp|completion index|creationTimestamp` of each pod, one a line.
const POD_FIELDS: &str = "jsonpath={range .items[*]}{.metadata.name}|{.status.phase}|{.metadata.deletionTimestamp}|{.metadata.labels.batch\\.kubernetes\\.io/job-completion-index}|{.metadata.creationTimestamp}{\"\\n\"}{end}";

/// One pod of a Job as listed.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    pub phase: String,
    pub deleting: bool,
    /// The completion index (empty outside Indexed Jobs).
    pub index: String,
    pub created: Timestamp,
}

impl Listed {
    pub fn running(&self) -> bool {
        self.phase == "Running" && !self.deleting
    }

    /// `pod/<name>`, for kubectl.
    pub fn object(&self) -> String {
        format!("pod/{}", self.name)
    }
}

fn parse(out: &str) -> Vec<Listed> {
    out.lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            Listed {
                name: fields[0].to_owned(),
                phase: fields[1].to_owned(),
                deleting: !fields[2].is_empty(),
                index: fields[3].to_owned(),
                created: fields[4].parse().expect("a creation timestamp"),
            }
        })
        .collect()
}

/// The Job's pods, once `done` holds for them.
pub fn pods_when(
    server: &TestServer,
    kubectl: &Path,
    job: &str,
    done: impl Fn(&[Listed]) -> bool,
) -> Vec<Listed> {
    let selector = format!("job-name={job}");
    let args = ["get", "pods", "-l", &selector, "-o", POD_FIELDS];
    parse(&until(server, kubectl, &args, |out| done(&parse(out))))
}

/// The Job's running pods, once there are `count` (sorted by completion index).
pub fn running(server: &TestServer, kubectl: &Path, job: &str, count: usize) -> Vec<Listed> {
    let mut pods: Vec<Listed> = pods_when(server, kubectl, job, |pods| {
        pods.iter().filter(|pod| pod.running()).count() == count
    })
    .into_iter()
    .filter(Listed::running)
    .collect();
    pods.sort_by(|a, b| a.index.cmp(&b.index));
    pods
}

/// A Job manifest: `spec` (lines indented by two) and a one-container `Never` template.
pub fn job(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{spec}  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: busybox:1.36\n"
    )
}

/// Waits (up to 120 s) with `kubectl wait` for the Job's `condition`.
pub fn wait_for(server: &TestServer, kubectl: &Path, job: &str, condition: &str) {
    ok(
        server,
        kubectl,
        &[
            "wait",
            &format!("--for=condition={condition}"),
            &format!("job/{job}"),
            "--timeout=120s",
        ],
    );
}

/// The `parts` (`status`, `reason`, `message` ...) of the Job's condition of type `kind`, joined by
/// `|`.
pub fn condition(
    server: &TestServer,
    kubectl: &Path,
    job: &str,
    kind: &str,
    parts: &[&str],
) -> String {
    let path: Vec<String> = parts
        .iter()
        .map(|part| format!("{{.status.conditions[?(@.type==\"{kind}\")].{part}}}"))
        .collect();
    field(server, kubectl, &["job", job], &path.join("|"))
}
