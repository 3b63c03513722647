//! The jobs table (Name, Status, Completions, Duration, Age) and the cronjobs table (Name, Schedule,
//! Timezone, Suspend, Active, Last Schedule, Age), with upstream's wide columns.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::controllers::{template_columns, workload_cells};
use super::descriptions as doc;
use super::fields::{NONE, bool_ptr, condition_true, int, is_set, list, text, time};
use super::{ColumnDefinition, Printer, age_of, column, human_duration, meta_str, name_and_age};

pub(crate) const JOBS: Printer = Printer {
    columns: job_columns,
    cells: job_cells,
};
pub(crate) const CRON_JOBS: Printer = Printer {
    columns: cron_job_columns,
    cells: cron_job_cells,
};

fn job_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Status", "string", "Status of the job.", 0),
        column("Completions", "string", doc::JOB_SUCCEEDED, 0),
        column(
            "Duration",
            "string",
            "Time required to complete the job.",
            0,
        ),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::JOB_SELECTOR)));
    columns
}

/// The Status cell: the first of Complete, Failed, Terminating, Suspended, FailureTarget and
/// SuccessCriteriaMet that holds, else Running.
fn job_status(job: &Value) -> &'static str {
    let holds = |kind: &str| condition_true(job, "/status/conditions", kind);
    if holds("Complete") {
        "Complete"
    } else if holds("Failed") {
        "Failed"
    } else if meta_str(job, "deletionTimestamp").is_some() {
        "Terminating"
    } else if holds("Suspended") {
        "Suspended"
    } else if holds("FailureTarget") {
        "FailureTarget"
    } else if holds("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

fn job_cells(job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(job, now);
    let succeeded = int(job, "/status/succeeded");
    let completions = if is_set(job, "/spec/completions") {
        format!("{succeeded}/{}", int(job, "/spec/completions"))
    } else {
        match int(job, "/spec/parallelism") {
            parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
            _ => format!("{succeeded}/1"),
        }
    };
    let duration = match (
        time(job, "/status/startTime"),
        time(job, "/status/completionTime"),
    ) {
        (Some(start), Some(end)) => human_duration(end - start),
        (Some(start), None) => human_duration(now - start),
        (None, _) => String::new(),
    };
    let mut cells = vec![
        name,
        job_status(job).into(),
        completions.into(),
        duration.into(),
        age,
    ];
    let selector = job.pointer("/spec/selector").unwrap_or(&Value::Null);
    cells.extend(workload_cells(job, "/spec/template", selector));
    cells
}

fn cron_job_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Schedule", "string", doc::CJ_SCHEDULE, 0),
        column("Timezone", "string", doc::CJ_TIMEZONE, 0),
        column("Suspend", "boolean", doc::CJ_SUSPEND, 0),
        column("Active", "integer", doc::CJ_ACTIVE, 0),
        column("Last Schedule", "string", doc::CJ_LAST_SCHEDULE, 0),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(Some(doc::JOB_SELECTOR)));
    columns
}

fn cron_job_cells(cron_job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(cron_job, now);
    let last = if is_set(cron_job, "/status/lastScheduleTime") {
        age_of(Some(text(cron_job, "/status/lastScheduleTime")), now)
    } else {
        NONE.to_owned()
    };
    let time_zone = cron_job
        .pointer("/spec/timeZone")
        .and_then(Value::as_str)
        .unwrap_or(NONE);
    let mut cells = vec![
        name,
        text(cron_job, "/spec/schedule").into(),
        time_zone.into(),
        bool_ptr(cron_job, "/spec/suspend").into(),
        list(cron_job, "/status/active").len().into(),
        last.into(),
        age,
    ];
    let selector = cron_job
        .pointer("/spec/jobTemplate/spec/selector")
        .unwrap_or(&Value::Null);
    cells.extend(workload_cells(
        cron_job,
        "/spec/jobTemplate/spec/template",
        selector,
    ));
    cells
}
