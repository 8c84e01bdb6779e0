"""The same partitions on a three-node etcd cluster, for the side-by-side
table (`scripts/chaos --against etcd`).

etcd is the store a team would otherwise reach for to share state between
regions. It is linearizable: a write needs a quorum, so a node cut off from
the other two cannot accept writes while the partition lasts. This runs
etcd in the same namespaces as the CaseMesh nodes, puts new keys at every
node through etcd's JSON gateway with the same request timeout, injects the
same seeded schedule of isolations, and reports write availability on each
side of each partition — the figure CaseMesh's checker reports as
`availability.isolated` for its own runs.
"""

import base64
import os
import shutil
import subprocess
import threading
import time

import netns
import nodes as nodes_module
import workload

CLIENT_PORT = 2379
PEER_PORT = 2380


def check_available():
    if shutil.which("etcd") is None:
        return "`etcd` is not installed (Debian: apt-get install etcd-server)"
    return None


class EtcdNode:
    def __init__(self, node_id, address):
        self.id = node_id
        self.address = address
        self.process = None

    @property
    def api(self):
        return (self.address, CLIENT_PORT)


class EtcdCluster:
    """Three etcd members, one per namespace; what the nemeses need of a
    cluster is `nodes`, each with an `id` and an `address`."""

    def __init__(self, layout, directory, say):
        self.nodes = [EtcdNode(n["id"], n["netnsAddress"]) for n in layout["nodes"]]
        self.directory = directory
        self.say = say

    def start(self):
        members = ",".join(f"{n.id}=http://{n.address}:{PEER_PORT}" for n in self.nodes)
        for node in self.nodes:
            folder = os.path.join(self.directory, node.id)
            os.makedirs(folder, exist_ok=True)
            log = open(os.path.join(folder, "etcd.log"), "w")
            node.process = subprocess.Popen(
                ["ip", "netns", "exec", netns.namespace(node.id), "etcd", "--name", node.id,
                 "--data-dir", os.path.join(folder, "data"),
                 "--listen-client-urls", f"http://{node.address}:{CLIENT_PORT}",
                 "--advertise-client-urls", f"http://{node.address}:{CLIENT_PORT}",
                 "--listen-peer-urls", f"http://{node.address}:{PEER_PORT}",
                 "--initial-advertise-peer-urls", f"http://{node.address}:{PEER_PORT}",
                 "--initial-cluster", members, "--initial-cluster-state", "new",
                 "--initial-cluster-token", "casemesh-chaos"],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.leader() is not None:
                return
            time.sleep(0.2)
        raise RuntimeError("etcd elected no leader within 60 s (see the etcd.log files)")

    def leader(self):
        """The id of the node that is leader, as some node reports it, or None."""
        for node in self.nodes:
            try:
                status, answer = nodes_module.request(node.api, "POST", "/v3/maintenance/status", body={}, timeout=1.0)
            except (OSError, ValueError):
                continue
            if status == 200 and answer and answer.get("leader") and answer["leader"] == answer.get("header", {}).get("member_id"):
                return node.id
        return None

    def stop(self):
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


class PutWorker(threading.Thread):
    """Puts a new key at one node, again and again, recording each put."""

    def __init__(self, name, node, history, stop):
        super().__init__(name=name, daemon=True)
        self.process = name
        self.node = node
        self.history = history
        self.stop = stop
        self.counter = 0

    def run(self):
        while not self.stop.is_set():
            self.counter += 1
            key = f"case/{self.process}-{self.counter}"
            value = {"key": key}
            body = {"key": base64.b64encode(key.encode()).decode(), "value": base64.b64encode(b"escalated").decode()}
            index = self.history.invoke(self.process, self.node.id, "create", key, value)
            try:
                status, answer = nodes_module.request(self.node.api, "POST", "/v3/kv/put", body=body, timeout=workload.TIMEOUT)
            except (OSError, ValueError) as error:
                self.history.complete(index, "info", self.process, self.node.id, "create", key, value, error=f"{type(error).__name__}: {error}")
                time.sleep(0.2)
                continue
            if status == 200 and not (answer or {}).get("error"):
                self.history.complete(index, "ok", self.process, self.node.id, "create", key, value, status=status)
            else:
                reason = (answer or {}).get("error") or (answer or {}).get("message") or f"HTTP {status}"
                self.history.complete(index, "info", self.process, self.node.id, "create", key, value, status=status, error=reason)
                time.sleep(0.2)
            time.sleep(0.005)
