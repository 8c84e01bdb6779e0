"""The three CaseMesh nodes under test: certificates, a token, one
`casemesh serve` per network namespace (with `--fault-injection`, so the
clock nemeses can move its clock), and one frame proxy per namespace that
carries the node's outbound replication links (so the proxy nemesis can
delay, duplicate and reorder frames). Nodes can be paused, killed and
restarted; their data folders survive restarts, as a real node's disk would.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time

import netns

API_PORT = 8080
GOSSIP_PORT = 7080
PROXY_BASE_PORT = 17080
HERE = os.path.dirname(os.path.abspath(__file__))


class Node:
    def __init__(self, node_id, region, address, index):
        self.id = node_id
        self.region = region
        self.address = address
        self.index = index
        self.process = None
        self.proxy = None
        self.starts = 0

    @property
    def api(self):
        return (self.address, API_PORT)


def request(address, method, path, token=None, body=None, timeout=3.0):
    """One HTTP request; returns (status, parsed JSON or None). Raises
    OSError/TimeoutError/http.client errors when there is no answer."""
    connection = http.client.HTTPConnection(address[0], address[1], timeout=timeout)
    try:
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed
    finally:
        connection.close()


class Cluster:
    """Starts and controls the nodes. `binary` is the casemesh executable."""

    def __init__(self, binary, layout, directory, seed, log, use_proxy=True):
        self.binary = binary
        self.use_proxy = use_proxy
        self.directory = directory
        self.seed = seed
        self.log = log
        self.nodes = [Node(n["id"], n["region"], n["netnsAddress"], i) for i, n in enumerate(layout["nodes"])]
        self.by_id = {n.id: n for n in self.nodes}
        self.certs = os.path.join(directory, "certs")
        self.tokens_file = os.path.join(directory, "tokens")
        self.token = None

    # -- set-up ---------------------------------------------------------

    def prepare(self):
        """Certificates (every node address and loopback, where the proxies
        listen) and one global-manager token for the workload."""
        os.makedirs(self.directory, exist_ok=True)
        args = [self.binary, "certs", "init", "--dir", self.certs]
        for node in self.nodes:
            args += ["--node", node.id]
        for host in [n.address for n in self.nodes] + ["127.0.0.1"]:
            args += ["--host", host]
        netns.run(args)
        out = netns.run([self.binary, "tokens", "add", "--file", self.tokens_file, "--name", "chaos", "--role", "global-manager"]).stdout
        self.token = out.strip().splitlines()[-1].strip()

    def proxy_port(self, peer):
        return PROXY_BASE_PORT + peer.index

    def control_file(self, node):
        return os.path.join(self.directory, f"proxy-{node.id}.json")

    def start_proxy(self, node):
        """The node's outbound links: peer P is dialled at 127.0.0.1:port(P)
        inside the node's namespace and forwarded to P's gossip address."""
        args = ["ip", "netns", "exec", netns.namespace(node.id), sys.executable, os.path.join(HERE, "proxy.py"),
                "--node", node.id, "--tls-dir", self.certs, "--control", self.control_file(node),
                "--log", os.path.join(self.directory, node.id, "proxy.log"), "--seed", str(self.seed * 10 + node.index)]
        for peer in self.nodes:
            if peer is not node:
                args += ["--link", f"{peer.id}=127.0.0.1:{self.proxy_port(peer)}={peer.address}:{GOSSIP_PORT}"]
        os.makedirs(os.path.join(self.directory, node.id), exist_ok=True)
        node.proxy = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.directory, node.id, "proxy.err"), "ab"))

    def start_node(self, node):
        """Starts `casemesh serve` in the node's namespace (not waiting)."""
        folder = os.path.join(self.directory, node.id)
        os.makedirs(folder, exist_ok=True)
        args = ["ip", "netns", "exec", netns.namespace(node.id), self.binary, "serve",
                "--node-id", node.id, "--region", node.region, "--data-dir", os.path.join(folder, "data"),
                "--api-listen", f"{node.address}:{API_PORT}", "--gossip-listen", f"{node.address}:{GOSSIP_PORT}",
                "--tls-dir", self.certs, "--tokens", self.tokens_file, "--fault-injection", "--request-timeout", "10"]
        for peer in self.nodes:
            if peer is not node:
                address = f"127.0.0.1:{self.proxy_port(peer)}" if self.use_proxy else f"{peer.address}:{GOSSIP_PORT}"
                args += ["--peer", f"{peer.id}@{address}"]
        node.starts += 1
        logfile = open(os.path.join(folder, "node.log"), "ab")
        logfile.write(f"---- start {node.starts} at {time.strftime('%H:%M:%S')}\n".encode())
        logfile.flush()
        node.process = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT)

    def wait_healthy(self, node, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                raise RuntimeError(f"node {node.id} exited with {node.process.returncode} while starting; see {self.directory}/{node.id}/node.log")
            try:
                status, _ = request(node.api, "GET", "/v1/health", timeout=1.0)
                if status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"node {node.id} did not answer /v1/health within {timeout:.0f} s; see {self.directory}/{node.id}/node.log")

    def start(self):
        for node in self.nodes:
            if self.use_proxy:
                self.start_proxy(node)
            self.start_node(node)
        for node in self.nodes:
            self.wait_healthy(node)

    # -- faults on processes --------------------------------------------

    def pause(self, node):
        os.kill(node.process.pid, signal.SIGSTOP)

    def resume(self, node):
        os.kill(node.process.pid, signal.SIGCONT)

    def kill(self, node):
        node.process.kill()
        node.process.wait()

    def restart(self, node):
        self.start_node(node)
        self.wait_healthy(node)

    def set_clock(self, node, offset=0, strobe=0, period=0):
        body = {"offsetMillis": offset, "strobeMillis": strobe, "strobePeriodMillis": period}
        status, answer = request(node.api, "PUT", "/v1/faults/clock", self.token, body)
        if status != 200:
            raise RuntimeError(f"moving {node.id}'s clock failed: {status} {answer}")

    def set_proxy(self, node, settings):
        """Writes the proxy's control file (atomically: the proxy polls it)."""
        path = self.control_file(node)
        with open(path + ".tmp", "w") as f:
            json.dump(settings, f)
        os.replace(path + ".tmp", path)

    # -- observation ----------------------------------------------------

    def digest(self, node):
        status, answer = request(node.api, "GET", "/v1/digest", self.token, timeout=5.0)
        if status != 200:
            raise RuntimeError(f"{node.id} /v1/digest answered {status}")
        return answer["digest"], answer["cases"]

    def case(self, node, case_id):
        status, answer = request(node.api, "GET", f"/v1/cases/{case_id}", self.token, timeout=10.0)
        return answer if status == 200 else None

    def list_ids(self, node):
        """Every case id the node holds (following the list cursor)."""
        ids, cursor = [], None
        while True:
            path = "/v1/cases?limit=200" + (f"&cursor={cursor}" if cursor else "")
            status, answer = request(node.api, "GET", path, self.token, timeout=10.0)
            if status != 200:
                raise RuntimeError(f"{node.id} list answered {status}: {answer}")
            ids += [c["id"] for c in answer["cases"]]
            cursor = answer.get("nextCursor")
            if not cursor:
                return ids

    # -- shutdown --------------------------------------------------------

    def stop(self):
        """SIGTERM every node and proxy (resuming paused ones first), then
        SIGKILL whatever is still there after 10 s."""
        for node in self.nodes:
            for process in (node.process, node.proxy):
                if process is not None and process.poll() is None:
                    try:
                        os.kill(process.pid, signal.SIGCONT)
                        process.terminate()
                    except ProcessLookupError:
                        pass
        deadline = time.monotonic() + 10
        for node in self.nodes:
            for process in (node.process, node.proxy):
                if process is None:
                    continue
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
