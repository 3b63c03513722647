"""Server-side apply through the official Kubernetes Python client: request checks and responses."""
import json
import sys

from kubernetes import client, config

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
APPLY = "application/apply-patch+yaml"


def config_map(data, api_version="v1", **metadata):
    return {"apiVersion": api_version, "kind": "ConfigMap",
            "metadata": {"name": "applied", **metadata}, "data": data}


def attempt(label, call):
    try:
        call()
        print(label, "ok")
    except client.exceptions.ApiException as error:
        status = json.loads(error.body)
        print(label, error.status, status.get("reason", ""), status["message"])


attempt("no-manager", lambda: core.patch_namespaced_config_map(
    "applied", "default", config_map({"a": "1"}), _content_type=APPLY))
attempt("wrong-version", lambda: core.patch_namespaced_config_map(
    "applied", "default", config_map({"a": "1"}, api_version="v2"), field_manager="py",
    _content_type=APPLY))
attempt("managed-fields", lambda: core.patch_namespaced_config_map(
    "applied", "default", config_map({"a": "1"}, managedFields=[]), field_manager="py",
    _content_type=APPLY))
_, created, _ = core.patch_namespaced_config_map_with_http_info(
    "applied", "default", config_map({"a": "1"}), field_manager="py", _content_type=APPLY)
print("created", created)
_, updated, _ = core.patch_namespaced_config_map_with_http_info(
    "applied", "default", config_map({"a": "2"}), field_manager="py", _content_type=APPLY)
print("updated", updated)
attempt("conflict", lambda: core.patch_namespaced_config_map(
    "applied", "default", config_map({"a": "3"}), field_manager="other", _content_type=APPLY))
attempt("force-merge", lambda: core.patch_namespaced_config_map(
    "applied", "default", {"data": {"b": "1"}}, force=True,
    _content_type="application/merge-patch+json"))
forced = core.patch_namespaced_config_map(
    "applied", "default", config_map({"a": "3"}), field_manager="other", force=True,
    _content_type=APPLY)
print("forced", forced.data["a"],
      " ".join(sorted(f"{e.manager}/{e.operation}" for e in forced.metadata.managed_fields)))
