"""The official Kubernetes Python client's exec (WebSocket channel protocol) against kubers."""
import sys

from kubernetes import client, config
from kubernetes.stream import stream

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
pod = sys.argv[2]

output = stream(core.connect_get_namespaced_pod_exec, pod, "default",
                command=["sh", "-c", "echo from python"],
                stderr=True, stdin=False, stdout=True, tty=False)
print("output", output.strip())

session = stream(core.connect_get_namespaced_pod_exec, pod, "default",
                 command=["sh", "-c", "exit 4"],
                 stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
session.run_forever(timeout=30)
print("exit", session.returncode)
