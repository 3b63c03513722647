//! The field manager's layers together: creates, updates and applies recorded in `managedFields`.

use serde_json::{Value, json};

use super::*;

const NOW: &str = "2026-01-01T00:00:00Z";
const LATER: &str = "2026-01-01T00:01:00Z";

fn request<'a>(manager: &'a str, now: &'a str) -> Request<'a> {
    Request::new(manager, "apps/v1", "", true, now)
}

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx",
                    "ports": [{"containerPort": 80}]}]}}}})
}

fn entries(object: &Value) -> Vec<(String, String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| {
                    let text = |name: &str| entry[name].as_str().unwrap_or("").to_owned();
                    (text("manager"), text("operation"), text("subresource"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entry<'a>(object: &'a Value, manager: &str) -> &'a Value {
    object["metadata"]["managedFields"]
        .as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["manager"] == manager))
        .unwrap_or(&Value::Null)
}

#[test]
fn create_records_an_update_entry() {
    let mut object = deployment(2);
    object["status"] = json!({"replicas": 0});
    update(None, &mut object, &request("kubectl-create", NOW));
    let created = entry(&object, "kubectl-create");
    assert_eq!(created["operation"], "Update");
    assert_eq!(created["apiVersion"], "apps/v1");
    assert_eq!(created["time"], NOW);
    assert_eq!(created["fieldsType"], "FieldsV1");
    assert_eq!(
        created["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                    "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}
        })
    );
}

#[test]
fn updates_move_ownership_and_keep_or_reset_supplied_entries() {
    let mut object = deployment(2);
    update(None, &mut object, &request("kubectl-create", NOW));
    let live = object.clone();
    let mut scaled = live.clone();
    scaled["spec"]["replicas"] = json!(4);
    update(Some(&live), &mut scaled, &request("kubectl-edit", LATER));
    assert_eq!(
        entry(&scaled, "kubectl-edit")["fieldsV1"],
        json!({"f:spec": {"f:replicas": {}}})
    );
    assert_eq!(entry(&scaled, "kubectl-edit")["time"], LATER);
    assert_eq!(
        entry(&scaled, "kubectl-create")["fieldsV1"]["f:spec"].get("f:replicas"),
        None
    );
    // An update that changes nothing records nothing.
    let mut same = scaled.clone();
    update(Some(&scaled), &mut same, &request("someone", LATER));
    assert_eq!(entries(&same).len(), 2);
    // A body without managedFields keeps the stored ones; an empty list clears them.
    let mut without = scaled.clone();
    without["metadata"]
        .as_object_mut()
        .map(|metadata| metadata.remove("managedFields"));
    update(
        Some(&scaled),
        &mut without,
        &request("kubectl-replace", LATER),
    );
    assert_eq!(entries(&without).len(), 2);
    let mut reset = scaled.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    update(Some(&scaled), &mut reset, &request("kubectl-edit", LATER));
    assert!(reset["metadata"].get("managedFields").is_none());
    // Status writes record their subresource and never take the spec.
    let mut status = scaled.clone();
    status["status"] = json!({"replicas": 4});
    update(
        Some(&scaled),
        &mut status,
        &Request::new("kube-controller-manager", "apps/v1", "status", true, LATER),
    );
    let status_entry = entry(&status, "kube-controller-manager");
    assert_eq!(status_entry["subresource"], "status");
    assert_eq!(
        status_entry["fieldsV1"],
        json!({"f:status": {".": {}, "f:replicas": {}}})
    );
}

#[test]
fn apply_creates_updates_conflicts_and_forces() {
    let created = apply(
        None,
        &deployment(2),
        "Deployment",
        &request("kubectl", NOW),
        false,
    )
    .expect("applies");
    assert_eq!(
        entries(&created),
        [("kubectl".into(), "Apply".into(), String::new())]
    );
    let applied = entry(&created, "kubectl");
    assert_eq!(
        applied["fieldsV1"]["f:metadata"],
        json!({"f:labels": {"f:app": {}}})
    );
    assert_eq!(applied["time"], NOW);

    // Another manager changes the replicas; applying them again conflicts.
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    update(
        Some(&created),
        &mut scaled,
        &Request::new("kubectl", "apps/v1", "scale", true, LATER),
    );
    let conflict = apply(
        Some(&scaled),
        &deployment(3),
        "Deployment",
        &request("kubectl", LATER),
        false,
    )
    .expect_err("conflicts");
    let ApplyError::Conflicts(conflicts) = &conflict else {
        panic!("{conflict:?}");
    };
    assert_eq!(
        conflicts.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    // Applying the live value is no conflict: both own it.
    let shared = apply(
        Some(&scaled),
        &deployment(5),
        "Deployment",
        &request("kubectl", LATER),
        false,
    )
    .expect("same value");
    assert_eq!(entries(&shared).len(), 2);
    let forced = apply(
        Some(&scaled),
        &deployment(3),
        "Deployment",
        &request("kubectl", LATER),
        true,
    )
    .expect("forced");
    assert_eq!(forced["spec"]["replicas"], 3);
    assert_eq!(
        entries(&forced),
        [("kubectl".into(), "Apply".into(), String::new())]
    );
}

#[test]
fn apply_removes_fields_dropped_from_the_configuration() {
    let created = apply(
        None,
        &deployment(2),
        "Deployment",
        &request("deployer", NOW),
        false,
    )
    .expect("applies");
    let mut smaller = deployment(2);
    smaller["metadata"]["labels"] = json!({});
    smaller["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .map(|container| container.remove("ports"));
    let applied = apply(
        Some(&created),
        &smaller,
        "Deployment",
        &request("deployer", LATER),
        false,
    )
    .expect("applies");
    assert_eq!(applied["metadata"].get("labels"), None);
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0].get("ports"),
        None
    );
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
}

#[test]
fn apply_checks_the_request() {
    let mut wrong = deployment(1);
    wrong["apiVersion"] = json!("apps/v1beta1");
    assert_eq!(
        apply(None, &wrong, "Deployment", &request("a", NOW), false),
        Err(ApplyError::BadRequest(
            "Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1".into()
        ))
    );
    let mut managed = deployment(1);
    managed["metadata"]["managedFields"] = json!([]);
    assert_eq!(
        apply(None, &managed, "Deployment", &request("a", NOW), false),
        Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".into()
        ))
    );
    let mut twice = deployment(1);
    twice["spec"]["template"]["spec"]["containers"] = json!([{"name": "a"}, {"name": "a"}]);
    let error =
        apply(None, &twice, "Deployment", &request("a", NOW), false).expect_err("duplicates");
    assert_eq!(
        error,
        ApplyError::Internal(
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): \
             .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
                .into()
        )
    );
    assert_eq!(error.to_status().code, 500);
}

#[test]
fn first_apply_to_an_untracked_object_and_client_side_apply_upgrade() {
    // An object without managedFields: its fields go to before-first-apply.
    let mut untracked = deployment(2);
    untracked["metadata"]["uid"] = json!("u1");
    let applied = apply(
        Some(&untracked),
        &deployment(2),
        "Deployment",
        &request("ops", NOW),
        false,
    )
    .expect("same values");
    assert!(
        entries(&applied)
            .iter()
            .any(|(manager, ..)| manager == BEFORE_FIRST_APPLY)
    );
    let conflict = apply(
        Some(&untracked),
        &deployment(3),
        "Deployment",
        &request("ops", NOW),
        false,
    );
    assert!(matches!(conflict, Err(ApplyError::Conflicts(_))));

    // Client-side apply made it: `kubectl` may take fields still at their last-applied value.
    let mut csa = deployment(2);
    csa["metadata"]["annotations"] =
        json!({last_applied::ANNOTATION: last_applied::build(&deployment(2))});
    update(None, &mut csa, &request("kubectl-client-side-apply", NOW));
    let upgraded = apply(
        Some(&csa),
        &deployment(3),
        "Deployment",
        &request("kubectl", LATER),
        false,
    )
    .expect("allowed by the annotation");
    assert_eq!(upgraded["spec"]["replicas"], 3);
    let annotation = last_applied::last_applied(&upgraded).unwrap_or("");
    assert!(annotation.contains("\"replicas\":3"), "{annotation}");
    let other = apply(
        Some(&csa),
        &deployment(3),
        "Deployment",
        &request("deployer", LATER),
        false,
    )
    .expect_err("conflicts");
    assert_eq!(
        other.to_status().body["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn user_agents_and_manager_names() {
    assert_eq!(
        manager_from_user_agent("kubectl/v1.35.2 (linux/amd64) kubernetes/fdc9d74"),
        "kubectl"
    );
    assert_eq!(manager_from_user_agent(""), "");
    assert_eq!(manager_from_user_agent(&"a".repeat(200)).len(), 128);
    assert_eq!(check_field_manager("kubectl"), None);
    assert!(check_field_manager(&"a".repeat(129)).is_some());
    assert!(check_field_manager("a\u{7}").is_some());
}
