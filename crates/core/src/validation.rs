//! Validation of the fields upstream refuses most often, with its field paths and messages: pods and pod
//! templates (containers, names, images), and workload selectors that must match their templates.
//!
//! FIXME: the rest of upstream's validation (resources, probes, volumes, ports, ...) is still to come.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::registry::ResourceInfo;
use crate::status::Cause;

/// The problems of `object`, a `info` resource; empty when it is valid.
pub fn validate(info: &ResourceInfo, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    match (info.group, info.resource) {
        ("", "pods") => pod_spec(object.get("spec"), "spec", &mut causes),
        ("", "podtemplates") => pod_spec(
            object.pointer("/template/spec"),
            "template.spec",
            &mut causes,
        ),
        ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") => {
            selector_matches(object, &mut causes);
            pod_spec(
                object.pointer("/spec/template/spec"),
                "spec.template.spec",
                &mut causes,
            );
        }
        ("batch", "cronjobs") => cron_job_schedule(object, &mut causes),
        ("batch", "jobs") => {
            pod_spec(
                object.pointer("/spec/template/spec"),
                "spec.template.spec",
                &mut causes,
            );
        }
        _ => {}
    }
    causes
}

/// A CronJob's schedule may not name a time zone (`TZ=`, `CRON_TZ=`): `spec.timeZone` does.
fn cron_job_schedule(object: &Value, causes: &mut Vec<Cause>) {
    if let Some(schedule) = object.pointer("/spec/schedule").and_then(Value::as_str)
        && schedule.contains("TZ")
    {
        causes.push(Cause::invalid(
            "spec.schedule",
            &json!(schedule),
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    }
}

fn pod_spec(spec: Option<&Value>, path: &str, causes: &mut Vec<Cause>) {
    let containers = spec
        .and_then(|spec| spec.get("containers"))
        .and_then(Value::as_array);
    match containers {
        None => causes.push(Cause::required(&format!("{path}.containers"), "")),
        Some(list) if list.is_empty() => {
            causes.push(Cause::required(&format!("{path}.containers"), ""))
        }
        Some(_) => {}
    }
    let mut names = HashSet::new();
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec
            .and_then(|spec| spec.get(list))
            .and_then(Value::as_array)
        else {
            continue;
        };
        for (index, container) in containers.iter().enumerate() {
            let field = format!("{path}.{list}[{index}]");
            match container
                .get("name")
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
            {
                None => causes.push(Cause::required(&format!("{field}.name"), "")),
                Some(name) => {
                    if let Some(problem) = dns_label_problem(name) {
                        causes.push(Cause::invalid(
                            &format!("{field}.name"),
                            &json!(name),
                            &problem,
                        ));
                    }
                    if !names.insert(name.to_owned()) {
                        causes.push(Cause::duplicate(&format!("{field}.name"), &json!(name)));
                    }
                }
            }
            if container
                .get("image")
                .and_then(Value::as_str)
                .is_none_or(|image| image.trim().is_empty())
            {
                causes.push(Cause::required(&format!("{field}.image"), ""));
            }
        }
    }
}

fn selector_matches(object: &Value, causes: &mut Vec<Cause>) {
    let Some(selector) = object
        .pointer("/spec/selector")
        .filter(|selector| !selector.is_null())
    else {
        causes.push(Cause::required("spec.selector", ""));
        return;
    };
    let labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object);
    let Some(match_labels) = selector.get("matchLabels").and_then(Value::as_object) else {
        return;
    };
    let matches = match_labels
        .iter()
        .all(|(key, value)| labels.and_then(|labels| labels.get(key)) == Some(value));
    if !matches {
        causes.push(Cause::invalid(
            "spec.template.metadata.labels",
            &labels.map_or(json!({}), |labels| Value::Object(labels.clone())),
            "`selector` does not match template `labels`",
        ));
    }
}

fn dns_label_problem(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let valid = name.len() <= 63
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.iter().all(|b| alnum(b) || *b == b'-');
    (!valid).then(|| {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must \
         start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for \
         validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::validate;
    use crate::registry;

    fn messages(resource: (&str, &str), object: serde_json::Value) -> Vec<String> {
        let info = registry::find(resource.0, "v1", resource.1).expect("resource");
        validate(info, &object)
            .iter()
            .map(|cause| cause.line())
            .collect()
    }

    #[test]
    fn pods() {
        assert!(
            messages(
                ("", "pods"),
                json!({"spec": {"containers": [{"name": "a", "image": "x"}]}})
            )
            .is_empty()
        );
        assert_eq!(
            messages(
                ("", "pods"),
                json!({"spec": {"containers": [{"name": "a"}, {"name": "a", "image": "y"}]}})
            ),
            [
                "spec.containers[0].image: Required value",
                "spec.containers[1].name: Duplicate value: \"a\""
            ]
        );
        assert_eq!(
            messages(("", "pods"), json!({"spec": {}})),
            ["spec.containers: Required value"]
        );
    }

    #[test]
    fn deployment_selector_must_match_the_template() {
        let deployment = json!({"spec": {"selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        assert_eq!(
            messages(("apps", "deployments"), deployment),
            [
                "spec.template.metadata.labels: Invalid value: {\"app\":\"b\"}: `selector` does not match template `labels`"
            ]
        );
    }
}
