//! The CronJob controller: a CronJob whose last schedule time lies in the past creates the Job of
//! its latest due time at once (so the test needs no wait for a minute to turn), records it as
//! active and lets it go once finished; `Forbid` skips while a Job runs; finished Jobs beyond the
//! history limit go; `kubectl create job --from=cronjob/NAME` makes an owned Job.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

fn cron_job(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: \"*/1 * * * *\"\n{extra}  jobTemplate:\n    metadata:\n      labels:\n        cron: {name}\n    spec:\n      template:\n        metadata:\n          labels:\n            cron: {name}\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: c\n            image: busybox:1.36\n"
    )
}

/// Five minutes ago, whole seconds, as the API writes times.
fn five_minutes_ago() -> String {
    let then = Timestamp::now() - SignedDuration::from_mins(5);
    Timestamp::from_second(then.as_second())
        .expect("a valid time")
        .to_string()
}

#[test]
fn a_cron_job_runs_a_missed_schedule_at_once_and_lets_the_job_go_when_done() {
    let server = server();
    let kubectl = &kubectls()[1];
    // Schedules naming their own zone are refused.
    let output = run(
        &server,
        kubectl,
        &["apply", "-f", "-"],
        Some(&cron_job("zoned", "").replace("\"*/1", "\"TZ=UTC */1")),
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
        "{}",
        text(&output)
    );

    apply(&server, kubectl, &cron_job("tick", ""));
    patch_status(
        &server,
        kubectl,
        "cronjob/tick",
        &format!(
            "{{\"status\":{{\"lastScheduleTime\":\"{}\"}}}}",
            five_minutes_ago()
        ),
    );
    let message = event(&server, kubectl, "tick", "SuccessfulCreate");
    let job = message
        .strip_prefix("Created job ")
        .expect("the upstream message")
        .to_owned();
    // Named by the minute it was scheduled for, which is the last schedule time now.
    let scheduled = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            &job,
            "-o",
            "jsonpath={.metadata.annotations.batch\\.kubernetes\\.io/cronjob-scheduled-timestamp}",
        ],
    );
    let minutes = scheduled
        .parse::<Timestamp>()
        .expect("an RFC 3339 time")
        .as_second()
        / 60;
    assert_eq!(job, format!("tick-{minutes}"));
    assert!(scheduled.ends_with(":00Z"), "{scheduled}");
    let owner = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            &job,
            "-o",
            "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}",
        ],
    );
    assert_eq!(owner, "CronJob/tick/true");
    until(
        &server,
        kubectl,
        &[
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.status.active[*].name}",
        ],
        |out| out.split(' ').any(|name| name == job),
    );

    // Once the Job completes it leaves the active list and sets the last successful time.
    let pods = pods_with(&server, kubectl, &format!("job-name={job}"), 1);
    finish(&server, kubectl, &pods[0], "Succeeded");
    let seen = event(&server, kubectl, "tick", "SawCompletedJob");
    assert_eq!(
        seen,
        format!("Saw completed job: {job}, condition: Complete")
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "cronjob",
            "tick",
            "-o",
            "jsonpath={.status.lastSuccessfulTime}",
        ],
        |out| !out.is_empty(),
    );
}

#[test]
fn forbid_skips_while_a_job_runs_and_history_limits_delete_old_jobs() {
    let server = server();
    let kubectl = &kubectls()[0];
    apply(
        &server,
        kubectl,
        &cron_job("single", "  concurrencyPolicy: Forbid\n"),
    );
    // A Job made from the CronJob by hand is owned by it.
    ok(
        &server,
        kubectl,
        &["create", "job", "--from=cronjob/single", "manual"],
    );
    let manual = ok(
        &server,
        kubectl,
        &[
            "get",
            "job",
            "manual",
            "-o",
            "jsonpath={.metadata.uid}|{.metadata.ownerReferences[0].name}|{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}",
        ],
    );
    let fields: Vec<&str> = manual.split('|').collect();
    assert_eq!(fields[1..], ["single", "manual"]);
    let active = format!(
        "{{\"status\":{{\"lastScheduleTime\":\"{}\",\"active\":[{{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"namespace\":\"default\",\"name\":\"manual\",\"uid\":\"{}\"}}]}}}}",
        five_minutes_ago(),
        fields[0]
    );
    patch_status(&server, kubectl, "cronjob/single", &active);
    let skipped = event(&server, kubectl, "single", "JobAlreadyActive");
    assert_eq!(
        skipped,
        "Not starting job because prior execution is running and concurrency policy is Forbid"
    );

    // History: one successful Job is kept (a suspended CronJob still cleans up).
    apply(
        &server,
        kubectl,
        &cron_job("kept", "  suspend: true\n  successfulJobsHistoryLimit: 1\n"),
    );
    for name in ["kept-a", "kept-b", "kept-c"] {
        ok(
            &server,
            kubectl,
            &["create", "job", "--from=cronjob/kept", name],
        );
        let pods = pods_with(&server, kubectl, &format!("job-name={name}"), 1);
        finish(&server, kubectl, &pods[0], "Succeeded");
        ok(
            &server,
            kubectl,
            &[
                "wait",
                "--for=condition=complete",
                &format!("job/{name}"),
                "--timeout=120s",
            ],
        );
    }
    until(
        &server,
        kubectl,
        &["get", "jobs", "-l", "cron=kept", "-o", "name"],
        |out| lines(out) == ["job.batch/kept-c"],
    );
    assert_eq!(
        event(&server, kubectl, "kept", "SuccessfulDelete"),
        "Deleted job kept-a"
    );
}
