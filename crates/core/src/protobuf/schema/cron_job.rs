//! `batch/v1.CronJob`: what `kubectl create cronjob` sends.

use super::{JOB_SPEC, Kind, OBJECT_META, Schema, field};

/// `JobTemplateSpec`.
pub static JOB_TEMPLATE_SPEC: Schema = Schema {
    name: "JobTemplateSpec",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&JOB_SPEC)),
    ],
};

/// `CronJobSpec`.
pub static CRON_JOB_SPEC: Schema = Schema {
    name: "CronJobSpec",
    fields: &[
        field(1, "schedule", Kind::String),
        field(2, "startingDeadlineSeconds", Kind::Int),
        field(3, "concurrencyPolicy", Kind::String),
        field(4, "suspend", Kind::Bool),
        field(5, "jobTemplate", Kind::Message(&JOB_TEMPLATE_SPEC)),
        field(6, "successfulJobsHistoryLimit", Kind::Int),
        field(7, "failedJobsHistoryLimit", Kind::Int),
        field(8, "timeZone", Kind::String),
    ],
};

/// `CronJob`.
pub static CRON_JOB: Schema = Schema {
    name: "CronJob",
    fields: &[
        field(1, "metadata", Kind::Message(&OBJECT_META)),
        field(2, "spec", Kind::Message(&CRON_JOB_SPEC)),
        field(3, "status", Kind::Discard),
    ],
};
