#!/usr/bin/env python3
"""bench-apiserver: the API server benchmark behind docs/benchmarks.md.

Starts `kubers server --disable-agent` (embedded SQLite, a temporary data directory, a free port on
127.0.0.1), then measures, in order:

  1. idle RSS, --idle-wait seconds after the server answered /readyz;
  2. `kbench.py api` and `kbench.py watch` (the shared load tool, with --server-pids), unless --skip-kbench;
  3. RSS after creating --objects ConfigMaps of 1 KiB (16 concurrent creates), then after a LIST of all
     ConfigMaps with resourceVersion=0 (which starts and fills a lazily started watch cache), then once
     more after --idle-wait seconds.

Prints one JSON document on stdout and a summary on stderr; the server is stopped by its PID at the end.

  python3 scripts/bench-apiserver.py [--binary target/release/kubers] [--kbench ../shared/tools/kbench.py]

Needs aiohttp and PyYAML (like kbench).
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_kbench(path):
    spec = importlib.util.spec_from_file_location("kbench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return round((int(fields[11]) + int(fields[12])) / ticks, 2)


def log(message):
    sys.stderr.write("[bench] %s\n" % message)
    sys.stderr.flush()


async def wait_ready(kb, conn, server, deadline_s=60):
    client = kb.Client(conn, limit=2, timeout=5)
    try:
        deadline = time.time() + deadline_s
        while time.time() < deadline:
            if server.poll() is not None:
                raise SystemExit("kubers server exited with %s" % server.returncode)
            status, _, _ = await client.req("GET", "/readyz")
            if status == 200:
                return
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise SystemExit("kubers server not ready after %d s" % deadline_s)


async def fill(kb, conn, objects, concurrency):
    """Creates `objects` ConfigMaps of 1 KiB in a fresh namespace; returns (namespace, seconds)."""
    client = kb.Client(conn, limit=concurrency + 2)
    try:
        ns = await kb.make_namespace(client, "bench-mem")
        base = "/api/v1/namespaces/%s/configmaps" % ns
        payload = "x" * 1024
        started = time.perf_counter()
        queue = iter(range(objects))
        errors = []

        async def worker():
            for index in queue:
                body = kb.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": {"name": "cm-%06d" % index, "labels": {"app": "bench"}},
                                 "data": {"payload": payload}})
                status, data, _ = await client.req("POST", base, body)
                if status != 201:
                    errors.append((status, data[:200]))

        await asyncio.gather(*[worker() for _ in range(concurrency)])
        if errors:
            raise SystemExit("%d creates failed, first: %r" % (len(errors), errors[0]))
        return ns, time.perf_counter() - started
    finally:
        await client.close()


async def read_back(kb, conn, objects):
    """A LIST at resourceVersion=0 of every ConfigMap: what makes a lazily started watch cache fill."""
    client = kb.Client(conn, limit=2)
    try:
        started = time.perf_counter()
        status, body, _ = await client.req("GET", "/api/v1/configmaps", params={"resourceVersion": "0"})
        if status != 200:
            raise SystemExit("LIST rv=0 failed: %s %r" % (status, body[:200]))
        items = len(json.loads(body).get("items") or [])
        if items < objects:
            # A cache that is still filling answered from the store; a second LIST reads the cache.
            status, body, _ = await client.req("GET", "/api/v1/configmaps", params={"resourceVersion": "0"})
            items = len(json.loads(body).get("items") or [])
        return items, time.perf_counter() - started
    finally:
        await client.close()


def run_kbench(kbench, command, kubeconfig, pid, extra):
    args = [sys.executable, kbench, command, "--kubeconfig", kubeconfig, "--server-pids", str(pid)] + extra
    log(" ".join(args[1:]))
    output = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, "target/release/kubers"))
    parser.add_argument("--kbench", default=os.path.join(ROOT, "../shared/tools/kbench.py"))
    parser.add_argument("--objects", type=int, default=10000, help="ConfigMaps for the memory step")
    parser.add_argument("--idle-wait", type=float, default=60.0, help="seconds before each idle sample")
    parser.add_argument("--skip-kbench", action="store_true", help="only the memory steps")
    args = parser.parse_args()
    if not os.path.exists(args.kbench):
        args.kbench = "/work/shared/tools/kbench.py"
    kb = load_kbench(args.kbench)

    workdir = tempfile.mkdtemp(prefix="kubers-bench-")
    kubeconfig = os.path.join(workdir, "kubeconfig.yaml")
    port = free_port()
    if not os.access(args.binary, os.X_OK):
        shutil.rmtree(workdir, ignore_errors=True)
        raise SystemExit("no kubers binary at %s: cargo build --release -p kubers" % args.binary)
    log_file = open(os.path.join(workdir, "server.log"), "wb")
    server = subprocess.Popen(
        [args.binary, "server", "--data-dir", os.path.join(workdir, "data"), "--write-kubeconfig", kubeconfig,
         "--https-listen-port", str(port), "--bind-address", "127.0.0.1", "--disable-agent"],
        stdout=subprocess.DEVNULL, stderr=log_file)
    result = {"binary": args.binary, "objects": args.objects, "date": time.strftime("%Y-%m-%d")}
    try:
        deadline = time.time() + 30
        while not os.path.exists(kubeconfig) and time.time() < deadline:
            time.sleep(0.1)
        conn = kb.load_conn(argparse.Namespace(kubeconfig=kubeconfig, context=None, server=None, token=None,
                                               insecure=False))
        asyncio.run(wait_ready(kb, conn, server))
        log("server %d ready; idle for %.0f s" % (server.pid, args.idle_wait))
        time.sleep(args.idle_wait)
        result["idle_rss_mib"] = rss_mib(server.pid)
        result["idle_cpu_s"] = cpu_s(server.pid)
        if not args.skip_kbench:
            result["api"] = run_kbench(args.kbench, "api", kubeconfig, server.pid, [])
            result["watch"] = run_kbench(args.kbench, "watch", kubeconfig, server.pid, [])
            result["after_kbench_rss_mib"] = rss_mib(server.pid)
        log("creating %d ConfigMaps" % args.objects)
        _, seconds = asyncio.run(fill(kb, conn, args.objects, 16))
        result["create_s"] = round(seconds, 2)
        result["filled_rss_mib"] = rss_mib(server.pid)
        items, seconds = asyncio.run(read_back(kb, conn, args.objects))
        result["list_rv0_items"] = items
        result["list_rv0_s"] = round(seconds, 3)
        result["filled_listed_rss_mib"] = rss_mib(server.pid)
        log("idle for %.0f s with %d ConfigMaps" % (args.idle_wait, args.objects))
        time.sleep(args.idle_wait)
        result["filled_idle_rss_mib"] = rss_mib(server.pid)
        with open("/proc/%d/status" % server.pid) as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    result["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result))
    for key in ("idle_rss_mib", "after_kbench_rss_mib", "filled_rss_mib", "filled_listed_rss_mib",
                "filled_idle_rss_mib", "peak_rss_mib", "create_s", "list_rv0_s"):
        if key in result:
            log("%-22s %s" % (key, result[key]))
    for name in ("api", "watch"):
        if name in result:
            log("%s: %s" % (name, json.dumps(result[name].get("phases") or result[name].get("latency")
                                             or result[name])[:2000]))


if __name__ == "__main__":
    main()
