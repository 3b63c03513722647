//! The endpoints controllers inside `kubers server`: a Service publishes the addresses of its
//! ready pods as Endpoints and EndpointSlices.

use crate::converge::{apply, until};
use crate::workloads::*;
use crate::*;

#[test]
fn services_publish_their_ready_pods_as_endpoints_and_slices() {
    let server = server();
    let kubectl = &kubectls()[1];
    let manifest = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\nspec:\n  selector:\n    app: api\n  ports:\n  - name: http\n    port: 80\n    targetPort: web\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: api\n  labels:\n    app: api\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n    ports:\n    - name: web\n      containerPort: 8080\n";
    apply(&server, kubectl, manifest);
    // Without an address the pod is not an endpoint; the slice is a placeholder.
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[*].metadata.labels.endpointslice\\.kubernetes\\.io/managed-by}",
        ],
        |out| out == "endpointslice-controller.k8s.io",
    );
    let status = "{\"status\":{\"podIP\":\"10.42.0.5\",\"podIPs\":[{\"ip\":\"10.42.0.5\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}";
    patch_status(&server, kubectl, "pod/api", status);
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpoints",
            "api",
            "-o",
            "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}/{.subsets[0].addresses[0].targetRef.name}",
        ],
        |out| out == "10.42.0.5:8080/api",
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[0].endpoints[0].addresses[0]}/{.items[0].endpoints[0].conditions.ready}/{.items[0].ports[0].port}",
        ],
        |out| out == "10.42.0.5/true/8080",
    );
    // Not ready: a not-ready address, and a slice endpoint that is not ready.
    let unready = "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}";
    patch_status(&server, kubectl, "pod/api", unready);
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpoints",
            "api",
            "-o",
            "jsonpath={.subsets[0].notReadyAddresses[0].ip}",
        ],
        |out| out == "10.42.0.5",
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "jsonpath={.items[0].endpoints[0].conditions.ready}",
        ],
        |out| out == "false",
    );
    // The Service goes, and its endpoints with it.
    ok(&server, kubectl, &["delete", "service", "api"]);
    until(
        &server,
        kubectl,
        &["get", "endpoints", "-o", "name"],
        |out| !out.contains("endpoints/api"),
    );
    until(
        &server,
        kubectl,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=api",
            "-o",
            "name",
        ],
        |out| out.is_empty(),
    );
}
