//! The jobs table (Name, Status, Completions, Duration, Age) and the cronjobs table (Name, Schedule,
//! Timezone, Suspend, Active, Last Schedule, Age), with upstream's wide columns.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::controllers::{template_cells, template_columns};
use super::{ColumnDefinition, Printer, age_of, column, human_duration, name_and_age};

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
        column(
            "Completions",
            "string",
            "The completion status of the job.",
            0,
        ),
        column(
            "Duration",
            "string",
            "Time required to complete the job.",
            0,
        ),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(true));
    columns
}

fn job_cells(job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(job, now);
    let condition = |kind: &str| {
        job.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|condition| condition["type"] == kind && condition["status"] == "True")
            })
    };
    let status = if condition("Failed") {
        "Failed"
    } else if condition("Complete") {
        "Complete"
    } else if condition("Suspended") {
        "Suspended"
    } else if condition("FailureTarget") {
        "FailureTarget"
    } else if condition("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = job
        .pointer("/status/succeeded")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(completions) => format!("{succeeded}/{completions}"),
        None => {
            let parallelism = job
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            format!("{succeeded}/1 of {parallelism}")
        }
    };
    let time = |pointer: &str| {
        job.pointer(pointer)
            .and_then(Value::as_str)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc))
    };
    let duration = match (time("/status/startTime"), time("/status/completionTime")) {
        (Some(start), Some(end)) => human_duration(end - start),
        (Some(start), None) => human_duration(now - start),
        (None, _) => String::new(),
    };
    let mut cells = vec![
        name,
        Value::String(status.to_owned()),
        Value::String(completions),
        Value::String(duration),
        age,
    ];
    cells.extend(template_cells(job, true));
    cells
}

fn cron_job_columns() -> Vec<ColumnDefinition> {
    let mut columns = vec![
        ColumnDefinition::name(),
        column("Schedule", "string", "The schedule in Cron format.", 0),
        column(
            "Timezone",
            "string",
            "The time zone name for the given schedule.",
            0,
        ),
        column(
            "Suspend",
            "boolean",
            "Whether subsequent executions are suspended.",
            0,
        ),
        column(
            "Active",
            "integer",
            "A list of pointers to currently running jobs.",
            0,
        ),
        column(
            "Last Schedule",
            "string",
            "Information when was the last time the job was successfully scheduled.",
            0,
        ),
        ColumnDefinition::age(),
    ];
    columns.extend(template_columns(true));
    columns
}

fn cron_job_cells(cron_job: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(cron_job, now);
    let text = |pointer: &str, default: &str| {
        cron_job
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .unwrap_or(default)
            .to_owned()
    };
    let suspended = cron_job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let active = cron_job
        .pointer("/status/active")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let last = cron_job
        .pointer("/status/lastScheduleTime")
        .and_then(Value::as_str)
        .map_or_else(|| "<none>".to_owned(), |time| age_of(Some(time), now));
    let template = cron_job
        .pointer("/spec/jobTemplate")
        .cloned()
        .unwrap_or(Value::Null);
    let mut cells = vec![
        name,
        Value::String(text("/spec/schedule", "")),
        Value::String(text("/spec/timeZone", "<none>")),
        Value::String(if suspended { "True" } else { "False" }.to_owned()),
        Value::from(active),
        Value::String(last),
        age,
    ];
    cells.extend(template_cells(&template, true));
    cells
}
