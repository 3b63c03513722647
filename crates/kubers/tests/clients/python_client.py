"""The official Kubernetes Python client against kubers: list, create, watch."""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()

names = sorted(ns.metadata.name for ns in core.list_namespace().items)
print("namespaces", ",".join(names))

seen = []


def follow():
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_config_map, "default", timeout_seconds=10):
        seen.append((event["type"], event["object"].metadata.name))
        if event["object"].metadata.name == "from-python" and event["type"] == "DELETED":
            stream.stop()


watcher = threading.Thread(target=follow)
watcher.start()
time.sleep(1)
body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="from-python"), data={"k": "v"})
created = core.create_namespaced_config_map("default", body)
print("created", created.metadata.name, created.metadata.resource_version != "")
core.patch_namespaced_config_map("from-python", "default", {"data": {"k": "w"}})
print("read", core.read_namespaced_config_map("from-python", "default").data["k"])
core.delete_namespaced_config_map("from-python", "default")
watcher.join(15)
print("events", ",".join(kind for kind, name in seen if name == "from-python"))
try:
    core.read_namespaced_config_map("from-python", "default")
except client.exceptions.ApiException as error:
    print("missing", error.status)
