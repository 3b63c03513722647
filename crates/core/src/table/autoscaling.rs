//! The horizontalpodautoscalers table (Reference, Targets, MinPods, MaxPods, Replicas, Age), with
//! upstream's Targets text: `cpu: 50%/80%`, `<unknown>/80%` before the first measurement, `(avg)` for
//! average values, at most two metrics then `+ N more...`. Reads `autoscaling/v2` objects and the
//! `autoscaling/v1` CPU target alike.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::descriptions as doc;
use super::fields::{NONE, UNKNOWN, UNSET, int, is_set, list, quantity, text};
use super::{ColumnDefinition, Printer, column, name_and_age};

pub(crate) const HORIZONTAL_POD_AUTOSCALERS: Printer = Printer { columns, cells };

/// How many metrics the Targets cell shows before `+ N more...`.
const MAX_METRICS: usize = 2;

/// What Go's `(*Quantity).String` prints for a nil quantity.
const NIL: &str = "<nil>";

fn columns() -> Vec<ColumnDefinition> {
    vec![
        ColumnDefinition::name(),
        column("Reference", "string", doc::HPA_SCALE_TARGET, 0),
        column("Targets", "string", doc::HPA_METRICS, 0),
        column("MinPods", "string", doc::HPA_MIN_REPLICAS, 0),
        column("MaxPods", "string", doc::HPA_MAX_REPLICAS, 0),
        column("Replicas", "string", doc::HPA_CURRENT_REPLICAS, 0),
        ColumnDefinition::age(),
    ]
}

/// The metric specs and statuses, `autoscaling/v1`'s CPU percentages turned into their v2 form.
fn metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    if is_set(hpa, "/spec/metrics") || !is_set(hpa, "/spec/targetCPUUtilizationPercentage") {
        return (
            list(hpa, "/spec/metrics").to_vec(),
            list(hpa, "/status/currentMetrics").to_vec(),
        );
    }
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization",
        "averageUtilization": hpa.pointer("/spec/targetCPUUtilizationPercentage"),
    }}});
    let statuses = match hpa.pointer("/status/currentCPUUtilizationPercentage") {
        Some(current) if !current.is_null() => vec![json!({"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": current},
        }})],
        _ => Vec::new(),
    };
    (vec![spec], statuses)
}

/// `current/target` of a value or average-value target (`Object` and `External` metrics).
fn value_target(source: &Value, status: Option<&Value>) -> String {
    if let Some(average) = source
        .pointer("/target/averageValue")
        .filter(|v| !v.is_null())
    {
        let current = status
            .and_then(|status| status.pointer("/current/averageValue"))
            .filter(|current| !current.is_null())
            .map_or_else(
                || UNKNOWN.to_owned(),
                |current| quantity(Some(current), NIL),
            );
        return format!("{current}/{} (avg)", quantity(Some(average), NIL));
    }
    let current = status.map_or_else(
        || UNKNOWN.to_owned(),
        |status| quantity(status.pointer("/current/value"), NIL),
    );
    format!(
        "{current}/{}",
        quantity(source.pointer("/target/value"), NIL)
    )
}

/// `name: current/target` of a (container) resource metric: an average value, else a utilization.
fn resource_target(source: &Value, status: Option<&Value>) -> String {
    let name = text(source, "/name");
    if let Some(average) = source
        .pointer("/target/averageValue")
        .filter(|v| !v.is_null())
    {
        let current = status.map_or_else(
            || UNKNOWN.to_owned(),
            |status| quantity(status.pointer("/current/averageValue"), NIL),
        );
        return format!("{name}: {current}/{}", quantity(Some(average), NIL));
    }
    let percent = |value: Option<&Value>| value.and_then(Value::as_i64).map(|v| format!("{v}%"));
    let current = percent(status.and_then(|status| status.pointer("/current/averageUtilization")))
        .unwrap_or_else(|| UNKNOWN.to_owned());
    let target = percent(source.pointer("/target/averageUtilization"))
        .unwrap_or_else(|| "<auto>".to_owned());
    format!("{name}: {current}/{target}")
}

/// Upstream's `formatHPAMetrics`.
fn format_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return NONE.to_owned();
    }
    let texts: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            // The status at the same index, when it carries the same kind of source.
            let status = |field: &str| {
                statuses
                    .get(index)
                    .and_then(|status| status.get(field))
                    .filter(|source| !source.is_null())
            };
            let source = |field: &str| spec.get(field).unwrap_or(&Value::Null);
            match spec["type"].as_str() {
                Some("External") => value_target(source("external"), status("external")),
                Some("Object") => value_target(source("object"), status("object")),
                Some("Pods") => {
                    let current = status("pods").map_or_else(
                        || UNKNOWN.to_owned(),
                        |status| quantity(status.pointer("/current/averageValue"), NIL),
                    );
                    let target = quantity(source("pods").pointer("/target/averageValue"), NIL);
                    format!("{current}/{target}")
                }
                Some("Resource") => resource_target(source("resource"), status("resource")),
                Some("ContainerResource") => {
                    resource_target(source("containerResource"), status("containerResource"))
                }
                _ => "<unknown type>".to_owned(),
            }
        })
        .collect();
    let shown = texts
        .iter()
        .take(MAX_METRICS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if texts.len() > MAX_METRICS {
        return format!("{shown} + {} more...", texts.len() - MAX_METRICS);
    }
    shown
}

fn cells(hpa: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (name, age) = name_and_age(hpa, now);
    let reference = format!(
        "{}/{}",
        text(hpa, "/spec/scaleTargetRef/kind"),
        text(hpa, "/spec/scaleTargetRef/name")
    );
    let (specs, statuses) = metrics(hpa);
    let min_pods = hpa
        .pointer("/spec/minReplicas")
        .and_then(Value::as_i64)
        .map_or_else(|| UNSET.to_owned(), |min| min.to_string());
    vec![
        name,
        reference.into(),
        format_metrics(&specs, &statuses).into(),
        min_pods.into(),
        int(hpa, "/spec/maxReplicas").into(),
        int(hpa, "/status/currentReplicas").into(),
        age,
    ]
}
