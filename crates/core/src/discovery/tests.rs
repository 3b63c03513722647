//! Discovery documents and Accept negotiation, checked against what kubectl 1.20 and 1.35 need.

use serde_json::{Value, json};

use super::*;

const A_AGG: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

fn value<T: serde::Serialize>(doc: &T) -> Value {
    serde_json::to_value(doc).unwrap()
}

#[test]
fn accept_negotiation() {
    fn check(accept: &str, expected: Option<AggregatedVersion>) {
        assert_eq!(wants_aggregated(accept), expected, "{accept}");
    }
    check(A_AGG, Some(AggregatedVersion::V2));
    check("application/json, */*", None);
    check("application/json", None);
    check("", None);
    check(
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
        Some(AggregatedVersion::V2Beta1),
    );
    check(
        "application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io",
        Some(AggregatedVersion::V2),
    );
    check(
        "application/json;q=0.9,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        Some(AggregatedVersion::V2),
    );
    check(
        "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
        None,
    );
    check(
        "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        None,
    );
    check(
        "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
        Some(AggregatedVersion::V2Beta1),
    );
    check(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0",
        None,
    );
    assert_eq!(
        AggregatedVersion::V2.content_type(),
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(
        AggregatedVersion::V2Beta1.content_type(),
        AGGREGATED_V2BETA1
    );
}

#[test]
fn legacy_api_versions() {
    assert_eq!(
        value(&api_versions("10.0.0.1:6443")),
        json!({"kind":"APIVersions","versions":["v1"],
               "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]})
    );
}

#[test]
fn legacy_group_list() {
    let doc = value(&api_group_list());
    assert_eq!(doc["kind"], "APIGroupList");
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(
        doc["groups"][0],
        json!({"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"apps/v1","version":"v1"}})
    );
    let autoscaling = doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "autoscaling")
        .unwrap();
    assert_eq!(
        *autoscaling,
        json!({"name":"autoscaling",
               "versions":[{"groupVersion":"autoscaling/v2","version":"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}],
               "preferredVersion":{"groupVersion":"autoscaling/v2","version":"v2"}})
    );
    let single = value(&api_group("batch").unwrap());
    assert_eq!(single["kind"], "APIGroup");
    assert_eq!(single["apiVersion"], "v1");
    assert_eq!(single["name"], "batch");
    assert!(api_group("").is_none());
    assert!(api_group("nope.example.com").is_none());
}

fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
}

#[test]
fn legacy_core_resource_list() {
    let doc = value(&api_resource_list("", "v1").unwrap());
    assert_eq!(doc["kind"], "APIResourceList");
    assert_eq!(doc["groupVersion"], "v1");
    assert!(doc.get("apiVersion").is_none());
    assert_eq!(
        *find(&doc, "pods"),
        json!({"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod",
               "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
               "shortNames":["po"],"categories":["all"]})
    );
    assert_eq!(
        *find(&doc, "pods/eviction"),
        json!({"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","version":"v1",
               "kind":"Eviction","verbs":["create"]})
    );
    assert_eq!(
        *find(&doc, "pods/log"),
        json!({"name":"pods/log","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]})
    );
    assert_eq!(
        *find(&doc, "bindings"),
        json!({"name":"bindings","singularName":"binding","namespaced":true,"kind":"Binding","verbs":["create"]})
    );
    let names: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(
        &names[..4],
        ["bindings", "configmaps", "endpoints", "events"]
    );
}

#[test]
fn legacy_group_resource_list() {
    let doc = value(&api_resource_list("apps", "v1").unwrap());
    assert_eq!(doc["apiVersion"], "v1");
    assert_eq!(doc["groupVersion"], "apps/v1");
    assert_eq!(
        *find(&doc, "deployments/scale"),
        json!({"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling",
               "version":"v1","kind":"Scale","verbs":["get","patch","update"]})
    );
    assert_eq!(find(&doc, "deployments")["shortNames"], json!(["deploy"]));
    assert!(api_resource_list("apps", "v2").is_none());
    assert!(api_resource_list("nope", "v1").is_none());
    assert!(api_resource_list("autoscaling", "v1").is_some());
}

#[test]
fn aggregated_documents() {
    let core = value(&aggregated_core(AggregatedVersion::V2));
    assert_eq!(core["kind"], "APIGroupDiscoveryList");
    assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2");
    assert_eq!(core["metadata"], json!({}));
    assert_eq!(core["items"].as_array().unwrap().len(), 1);
    assert_eq!(core["items"][0]["metadata"], json!({}));
    let v1 = &core["items"][0]["versions"][0];
    assert_eq!(v1["version"], "v1");
    assert_eq!(v1["freshness"], "Current");
    let pods = v1["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "pods")
        .unwrap();
    assert_eq!(
        pods["responseKind"],
        json!({"group":"","version":"v1","kind":"Pod"})
    );
    assert_eq!(pods["scope"], "Namespaced");
    assert_eq!(pods["singularResource"], "pod");
    assert_eq!(pods["shortNames"], json!(["po"]));
    assert_eq!(pods["categories"], json!(["all"]));
    let log = pods["subresources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subresource"] == "log")
        .unwrap();
    assert_eq!(
        *log,
        json!({"subresource":"log","responseKind":{"group":"","version":"v1","kind":"Pod"},"verbs":["get"]})
    );

    let apis = value(&aggregated_apis(AggregatedVersion::V2Beta1));
    assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2beta1");
    assert_eq!(apis["items"][0]["metadata"], json!({"name":"apps"}));
    let deployments = apis["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "deployments")
        .unwrap();
    assert_eq!(
        *deployments,
        json!({"resource":"deployments","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},
               "scope":"Namespaced","singularResource":"deployment",
               "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],
               "shortNames":["deploy"],"categories":["all"],
               "subresources":[
                 {"subresource":"scale","responseKind":{"group":"autoscaling","version":"v1","kind":"Scale"},"verbs":["get","patch","update"]},
                 {"subresource":"status","responseKind":{"group":"apps","version":"v1","kind":"Deployment"},"verbs":["get","patch","update"]}]})
    );
    let autoscaling = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "autoscaling")
        .unwrap();
    let versions: Vec<&str> = autoscaling["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v2", "v1"]);
    let namespaces = core["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "namespaces")
        .unwrap();
    assert_eq!(namespaces["scope"], "Cluster");
    let leases = apis["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "coordination.k8s.io")
        .unwrap();
    assert!(
        leases["versions"][0]["resources"][0]
            .get("shortNames")
            .is_none()
    );
    assert!(
        leases["versions"][0]["resources"][0]
            .get("subresources")
            .is_none()
    );
}

#[test]
fn documents_round_trip() {
    let doc = aggregated_apis(AggregatedVersion::V2);
    let text = serde_json::to_string(&doc).unwrap();
    let back: ApiGroupDiscoveryList = serde_json::from_str(&text).unwrap();
    assert_eq!(back, doc);
    let list = api_resource_list("", "v1").unwrap();
    let back: ApiResourceList =
        serde_json::from_str(&serde_json::to_string(&list).unwrap()).unwrap();
    assert_eq!(back, list);
}
