//! Services, endpoints, endpoint slices, ingresses, ingress classes and network policies.

use serde_json::{Value, json};

use super::{CREATED, check_cells, check_columns};

fn named(name: &str, rest: Value) -> Value {
    let mut object = json!({"metadata": {"name": name, "creationTimestamp": CREATED}});
    if let (Some(object), Some(rest)) = (object.as_object_mut(), rest.as_object()) {
        object.extend(rest.clone());
    }
    object
}

#[test]
fn services() {
    check_columns(
        "",
        "v1",
        "services",
        &[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
    );
    check_cells(
        "",
        "v1",
        "services",
        named(
            "web",
            json!({"spec": {"type": "NodePort", "clusterIP": "10.43.0.12", "selector": {"app": "web"},
                   "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}]}}),
        ),
        json!([
            "web",
            "NodePort",
            "10.43.0.12",
            "<none>",
            "80:30080/TCP,53/UDP",
            "10m",
            "app=web"
        ]),
    );
    check_cells(
        "",
        "v1",
        "services",
        named(
            "lb",
            json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.43.0.9"], "externalIPs": ["1.2.3.4"],
                            "ports": [{"port": 443, "protocol": "TCP", "nodePort": 31443}]},
                   "status": {"loadBalancer": {"ingress": [{"hostname": "lb.example"}, {"ip": "5.6.7.8"}]}}}),
        ),
        json!([
            "lb",
            "LoadBalancer",
            "10.43.0.9",
            "5.6.7.8,lb.example,1.2.3.4",
            "443:31443/TCP",
            "10m",
            "<none>"
        ]),
    );
    check_cells(
        "",
        "v1",
        "services",
        named(
            "pending",
            json!({"spec": {"type": "LoadBalancer", "clusterIP": "None"}}),
        ),
        json!([
            "pending",
            "LoadBalancer",
            "None",
            "<pending>",
            "<none>",
            "10m",
            "<none>"
        ]),
    );
    check_cells(
        "",
        "v1",
        "services",
        named(
            "ext",
            json!({"spec": {"type": "ExternalName", "externalName": "db.example"}}),
        ),
        json!([
            "ext",
            "ExternalName",
            "<none>",
            "db.example",
            "<none>",
            "10m",
            "<none>"
        ]),
    );
}

#[test]
fn endpoints() {
    check_columns(
        "",
        "v1",
        "endpoints",
        &[
            ("Name", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
    );
    let subsets = json!({"subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
    check_cells(
        "",
        "v1",
        "endpoints",
        named("web", subsets),
        json!([
            "web",
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...",
            "10m"
        ]),
    );
    check_cells(
        "",
        "v1",
        "endpoints",
        named(
            "headless",
            json!({"subsets": [{"addresses": [{"ip": "fd00::1"}]}]}),
        ),
        json!(["headless", "fd00::1", "10m"]),
    );
    check_cells(
        "",
        "v1",
        "endpoints",
        named(
            "v6",
            json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}),
        ),
        json!(["v6", "[fd00::1]:80", "10m"]),
    );
    check_cells(
        "",
        "v1",
        "endpoints",
        named("empty", json!({})),
        json!(["empty", "<none>", "10m"]),
    );
    check_cells(
        "",
        "v1",
        "endpoints",
        named(
            "unready",
            json!({"subsets": [{"notReadyAddresses": [{"ip": "10.0.0.3"}]}]}),
        ),
        json!(["unready", "", "10m"]),
    );
}

#[test]
fn endpoint_slices() {
    check_columns(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        &[
            ("Name", "string", 0),
            ("AddressType", "string", 0),
            ("Ports", "string", 0),
            ("Endpoints", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        named(
            "web-abc",
            json!({"addressType": "IPv4",
                   "ports": [{"port": 80}, {"name": "metrics"}, {}, {"port": 9090}],
                   "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]}),
        ),
        json!([
            "web-abc",
            "IPv4",
            "80,metrics,* + 1 more...",
            "10.0.0.1,10.0.0.2",
            "10m"
        ]),
    );
    check_cells(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        named("none", json!({"addressType": "IPv6"})),
        json!(["none", "IPv6", "<unset>", "<unset>", "10m"]),
    );
}

#[test]
fn ingresses_and_classes() {
    check_columns(
        "networking.k8s.io",
        "v1",
        "ingresses",
        &[
            ("Name", "string", 0),
            ("Class", "string", 0),
            ("Hosts", "string", 0),
            ("Address", "string", 0),
            ("Ports", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "ingresses",
        named(
            "web",
            json!({"spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example"]}],
                            "rules": [{"host": "a.example"}, {"host": "b.example"}, {}, {"host": "c.example"},
                                      {"host": "d.example"}]},
                   "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}}),
        ),
        json!([
            "web",
            "nginx",
            "a.example,b.example,c.example + 2 more...",
            "10.0.0.9",
            "80, 443",
            "10m"
        ]),
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "ingresses",
        named(
            "catchall",
            json!({"spec": {"defaultBackend": {"service": {"name": "web"}}}}),
        ),
        json!(["catchall", "<none>", "*", "", "80", "10m"]),
    );
    check_columns(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        &[
            ("Name", "string", 0),
            ("Controller", "string", 0),
            ("Parameters", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        named(
            "nginx",
            json!({"spec": {"controller": "k8s.io/ingress-nginx",
                            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}}),
        ),
        json!([
            "nginx",
            "k8s.io/ingress-nginx",
            "IngressParameters.k8s.example.com/p",
            "10m"
        ]),
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "ingressclasses",
        named("plain", json!({"spec": {"controller": "example.com/c"}})),
        json!(["plain", "example.com/c", "<none>", "10m"]),
    );
}

#[test]
fn network_policies() {
    check_columns(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        &[
            ("Name", "string", 0),
            ("Pod-Selector", "string", 0),
            ("Age", "string", 0),
        ],
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        named(
            "deny",
            json!({"spec": {"podSelector": {"matchLabels": {"role": "db"},
                   "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["dev"]}]}}}),
        ),
        json!(["deny", "env notin (dev),role=db", "10m"]),
    );
    check_cells(
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        named("all", json!({"spec": {"podSelector": {}}})),
        json!(["all", "<none>", "10m"]),
    );
}
