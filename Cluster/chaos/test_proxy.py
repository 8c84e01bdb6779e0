"""Integration tests of the frame proxy (proxy.py) with real processes on
loopback: two `casemesh serve` nodes whose replication links both pass
through a proxy that delays, duplicates and reorders frames; the proxy
between a scripted node and peer, for the exact fault semantics and frame
limits; and the proxy refusing clients and peers it must not serve.

Run from the repository root:

    python3 -m unittest Cluster/chaos/test_proxy.py -v

The casemesh executable is .build/debug/casemesh, or $CASEMESH_BIN; without
it the tests are skipped. Set CASEMESH_KEEP=1 to keep the test folders
(logs included) for a look afterwards.
"""

import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodes  # noqa: E402  (the harness's HTTP helper)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.environ.get("CASEMESH_BIN") or os.path.join(ROOT, ".build", "debug", "casemesh")
PROXY = os.path.join(HERE, "proxy.py")
FAULTS = {"delay_ms": [0, 20], "duplicate": 0.3, "reorder": 0.3}
CASES_PER_NODE = 30
CONVERGE_SECONDS = 30.0
# What a node says when it refuses a frame or a connection, or cannot use
# what it received: every warning or worse, and the frame errors by name
# (Transport.swift's wording) in case one is logged at a lower level.
NODE_COMPLAINTS = re.compile(r" (warning|error|critical) casemesh:|a frame from the peer was refused|a second hello"
                             r"|first frame was not a hello")

_taken_ports = set()


def free_port():
    """A loopback port nobody listens on, below 32768: the kernel hands out
    ephemeral ports from 32768 up, so a port picked there could be taken by
    some outgoing connection before the process that needs it binds it."""
    for _ in range(200):
        port = random.randint(20000, 32767)
        if port in _taken_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _taken_ports.add(port)
        return port
    raise RuntimeError("no free loopback port between 20000 and 32767")


def frame(payload):
    """`payload` framed as on the wire: a 4-byte big-endian length first."""
    return len(payload).to_bytes(4, "big") + payload


def counters_of(log_text):
    """The last counters line of each link in a proxy log, as
    {direction: {counter: value}} plus {"link <peer>": {...}} for the
    link-wide numbers."""
    result = {}
    for line in log_text.splitlines():
        match = re.search(r"counters link (\S+): (.*)$", line)
        if not match:
            continue
        parts = match.group(2).split("; ")
        result[f"link {match.group(1)}"] = _numbers(parts[0])
        for part in parts[1:]:
            direction, rest = part.split(" ", 1)
            result[direction] = _numbers(rest)
    return result


def _numbers(text):
    words = text.split()
    return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


class ProcessTestCase(unittest.TestCase):
    """Spawns casemesh and proxy processes in a test folder and makes sure
    every one of them is gone when the test ends, however it ends."""

    def setUp(self):
        if not os.access(BINARY, os.X_OK):
            self.skipTest(f"no casemesh executable at {BINARY} (build it, or point CASEMESH_BIN at one)")
        self.directory = tempfile.mkdtemp(prefix="casemesh-proxy-test-")
        if not os.environ.get("CASEMESH_KEEP"):
            self.addCleanup(shutil.rmtree, self.directory, True)
        else:
            self.addCleanup(print, f"\nkept {self.directory}", file=sys.stderr)

    def path(self, *names):
        return os.path.join(self.directory, *names)

    def tool(self, *args):
        """Runs a casemesh subcommand to completion; its output, or a failure
        that quotes what it said."""
        result = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            self.fail(f"casemesh {' '.join(args)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def spawn(self, args, log_name):
        """Starts a process with its output in a log file; registered for
        SIGTERM then SIGKILL at cleanup."""
        log = open(self.path(log_name), "ab")
        self.addCleanup(log.close)
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        self.addCleanup(self.stop, process)
        return process

    @staticmethod
    def stop(process, timeout=10):
        """SIGTERM and wait; SIGKILL if it does not go. Returns the exit code."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def start_proxy(self, node, links, name, seed=1):
        args = [sys.executable, PROXY, "--node", node, "--tls-dir", self.path("certs"),
                "--control", self.path("control.json"), "--log", self.path(f"{name}.log"), "--seed", str(seed)]
        for peer, listen, target in links:
            args += ["--link", f"{peer}=127.0.0.1:{listen}=127.0.0.1:{target}"]
        process = self.spawn(args, f"{name}.err")
        self.wait_for(lambda: "listening on" in self.read(f"{name}.log") or process.poll() is not None, 10,
                      f"{name} did not start")
        self.assertIsNone(process.poll(), f"{name} exited: {self.read(f'{name}.err')} {self.read(f'{name}.log')}")
        self.proxy_process = process
        return process

    def read(self, name):
        try:
            with open(self.path(name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    @staticmethod
    def wait_for(condition, seconds, message):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(message)


class NodesThroughProxyTests(ProcessTestCase):
    """Two nodes that reach each other only through proxies that delay,
    duplicate and reorder frames must still converge: replication messages
    are documented as idempotent and order-independent."""

    def setUp(self):
        super().setUp()
        self.tool("certs", "init", "--dir", self.path("certs"), "--node", "a", "--node", "b", "--host", "127.0.0.1")
        output = self.tool("tokens", "add", "--file", self.path("tokens"), "--name", "proxy-test", "--role", "global-manager")
        self.token = output.strip().splitlines()[-1].strip()
        self.api = {"a": free_port(), "b": free_port()}
        self.gossip = {"a": free_port(), "b": free_port()}
        self.via = {"a": free_port(), "b": free_port()}  # via[x]: where the other node dials x
        with open(self.path("control.json"), "w") as f:
            json.dump(FAULTS, f)

    def start_node(self, name, region, peer):
        args = [BINARY, "serve", "--node-id", name, "--region", region, "--data-dir", self.path(name),
                "--api-listen", f"127.0.0.1:{self.api[name]}", "--gossip-listen", f"127.0.0.1:{self.gossip[name]}",
                "--peer", f"{peer}@127.0.0.1:{self.via[peer]}", "--tls-dir", self.path("certs"),
                "--tokens", self.path("tokens"), "--log-level", "info"]
        return self.spawn(args, f"node-{name}.log")

    def request(self, name, method, path, body=None):
        return nodes.request(("127.0.0.1", self.api[name]), method, path, self.token, body, timeout=10)

    def wait_healthy(self, name, process):
        def healthy():
            if process.poll() is not None:
                raise AssertionError(f"node {name} exited: {self.read(f'node-{name}.log')[-3000:]}")
            try:
                return self.request(name, "GET", "/v1/health")[0] == 200
            except (OSError, http.client.HTTPException):
                return False
        self.wait_for(healthy, 60, f"node {name} did not answer /v1/health: {self.read(f'node-{name}.log')[-3000:]}")

    def digests(self):
        found = {}
        for name in ("a", "b"):
            try:
                status, answer = self.request(name, "GET", "/v1/digest")
                found[name] = (answer["digest"], answer["cases"]) if status == 200 else None
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                found[name] = None
        return found

    def test_nodes_converge_through_duplication_and_reordering(self):
        # Each node reaches its peer through the proxy beside it (only a
        # dials, being the smaller id; b's proxy is there to show it idle).
        proxy_a = self.start_proxy("a", [("b", self.via["b"], self.gossip["b"])], "proxy-a", seed=1)
        proxy_b = self.start_proxy("b", [("a", self.via["a"], self.gossip["a"])], "proxy-b", seed=2)
        nodes = {"a": self.start_node("a", "EMEA", "b"), "b": self.start_node("b", "AMER", "a")}
        for name, process in nodes.items():
            self.wait_healthy(name, process)

        for i in range(CASES_PER_NODE):
            for name in ("a", "b"):
                body = {"id": f"proxy-{name}-{i}", "title": f"Replication through the proxy {name} {i}",
                        "customer": "Acme", "product": "Payments", "severity": "sev3"}
                status, answer = self.request(name, "POST", "/v1/cases", body)
                self.assertEqual(status, 201, f"creating a case on {name}: {answer}")

        started = time.monotonic()
        last = {}
        while time.monotonic() - started < CONVERGE_SECONDS:
            last = self.digests()
            if (last["a"] is not None and last["a"] == last["b"] and last["a"][1] == 2 * CASES_PER_NODE):
                break
            time.sleep(0.1)
        converged_after = time.monotonic() - started
        complaints = {name: [line for line in self.read(f"node-{name}.log").splitlines() if NODE_COMPLAINTS.search(line)]
                      for name in nodes}
        self.assertTrue(last.get("a") is not None and last["a"] == last["b"] and last["a"][1] == 2 * CASES_PER_NODE,
                        f"no convergence within {CONVERGE_SECONDS:.0f} s: {last}; node complaints: {complaints}")

        # SIGTERM writes the final counters and must exit 0.
        for name, process in (("proxy-a", proxy_a), ("proxy-b", proxy_b)):
            self.assertEqual(self.stop(process), 0, f"{name} did not exit cleanly: {self.read(name + '.err')}")
        counters = {name: counters_of(self.read(f"{name}.log")) for name in ("proxy-a", "proxy-b")}
        # Each proxy sees both directions of the connections it carries.
        directions = {f"{proxy} {d}": c for proxy, per_proxy in counters.items() for d, c in per_proxy.items() if "->" in d}
        connects = {name: self.read(f"node-{name}.log").count("peer connected") for name in nodes}
        print(f"\nconverged {converged_after:.1f} s after the last write; peer connections per node {connects}",
              file=sys.stderr)
        for direction, values in sorted(directions.items()):
            print(f"  {direction}: {values}", file=sys.stderr)
        for name, lines in complaints.items():
            for line in lines[:10]:
                print(f"  node {name}: {line}", file=sys.stderr)

        self.assertEqual(set(directions), {"proxy-a a->b", "proxy-a b->a", "proxy-b a->b", "proxy-b b->a"})
        self.assertGreater(sum(c["duplicated"] for c in directions.values()), 0, directions)
        self.assertGreater(sum(c["reordered"] for c in directions.values()), 0, directions)
        # One connection per pair: only the node with the smaller id (a)
        # dials, so all of it passes a's proxy, and it stays up.
        links = {proxy: next(c for d, c in counters[proxy].items() if d.startswith("link ")) for proxy in ("proxy-a", "proxy-b")}
        self.assertGreater(links["proxy-a"]["connections"], 0, "proxy-a relayed no connection")
        self.assertEqual(links["proxy-b"]["connections"], 0, "b dialled a, but only the smaller id dials")
        self.assertLessEqual(connects["a"], 3, f"the pair kept reconnecting: {connects}")
        # Duplicates and swaps are legal on the wire: no node may refuse them.
        self.assertEqual(complaints, {"a": [], "b": []})


class ForeignClientTests(ProcessTestCase):
    """The proxy lends the node's identity to whoever it relays for, so it
    must admit nobody but that node: not a certificate from another CA, not
    another node of the cluster."""

    def setUp(self):
        super().setUp()
        self.tool("certs", "init", "--dir", self.path("certs"), "--node", "a", "--node", "b", "--host", "127.0.0.1")
        # Same node name, different CA: only the signature tells them apart.
        self.tool("certs", "init", "--dir", self.path("foreign"), "--node", "a", "--host", "127.0.0.1")
        self.dialled = 0
        self.target = socket.create_server(("127.0.0.1", free_port()))
        self.target.settimeout(0.2)
        self.addCleanup(self.target.close)
        threading.Thread(target=self.count_dials, daemon=True).start()
        self.listen = free_port()
        self.proxy = self.start_proxy("a", [("b", self.listen, self.target.getsockname()[1])], "proxy")

    def count_dials(self):
        """Stands in for node b: counts connections and hangs up at once, so
        the proxy's dial fails and it closes the client's connection."""
        while self.target.fileno() != -1:
            try:
                connection, _ = self.target.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.dialled += 1
            connection.close()

    def connect(self, directory, node):
        """A TLS 1.3 client with `node`'s certificate from `directory`; it
        does not judge the proxy's certificate, so that any failure is the
        proxy refusing the client. Returns what the first read gave: bytes,
        or the exception that ended the connection."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(os.path.join(directory, f"{node}.pem"), os.path.join(directory, f"{node}-key.pem"))
        with socket.create_connection(("127.0.0.1", self.listen), timeout=15) as raw:
            try:
                with context.wrap_socket(raw, server_hostname="b") as tls:
                    tls.sendall(frame(b"hello"))
                    return tls.recv(100)
            except (ssl.SSLError, ConnectionError) as error:
                return error

    def test_client_certificate_from_another_ca_is_refused(self):
        outcome = self.connect(self.path("foreign"), "a")
        self.assertFalse(isinstance(outcome, bytes) and outcome, f"the proxy answered a foreign client: {outcome!r}")
        self.wait_for(lambda: ": refused " in self.read("proxy.log"), 5, f"no refusal logged: {self.read('proxy.log')}")
        self.assertIn("TLS handshake failed", self.read("proxy.log"))
        self.assertEqual(self.dialled, 0, "the proxy dialled the peer for a foreign client")

        # The control: the cluster's own certificate for a gets through TLS and
        # makes the proxy dial, so the refusal above was the CA's doing.
        self.connect(self.path("certs"), "a")
        self.wait_for(lambda: "dialling b" in self.read("proxy.log"), 15, f"no dial: {self.read('proxy.log')}")
        self.assertEqual(self.dialled, 1)

        self.assertEqual(self.stop(self.proxy), 0)
        link = counters_of(self.read("proxy.log"))["link b"]
        self.assertEqual((link["refused"], link["dial_failures"], link["connections"]), (1, 1, 0), link)

    def test_cluster_client_for_another_node_is_refused(self):
        outcome = self.connect(self.path("certs"), "b")
        self.assertFalse(isinstance(outcome, bytes) and outcome, f"the proxy answered node b: {outcome!r}")
        self.wait_for(lambda: ": refused " in self.read("proxy.log"), 5, f"no refusal logged: {self.read('proxy.log')}")
        self.assertIn("the client certificate is for b", self.read("proxy.log"))
        self.assertEqual(self.dialled, 0)



class FakePeer:
    """Stands where the proxy dials: completes mutual TLS with a chosen
    cluster certificate, sends a hello frame, and records every frame that
    arrives until the proxy hangs up."""

    def __init__(self, certs, node):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_3
        self.context.load_cert_chain(os.path.join(certs, f"{node}.pem"), os.path.join(certs, f"{node}-key.pem"))
        self.context.load_verify_locations(os.path.join(certs, "ca.pem"))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.server = socket.create_server(("127.0.0.1", free_port()))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.frames = []
        self.done = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while self.server.fileno() != -1:
            try:
                raw, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(frame(b"hello from the peer"))
                    self.frames += read_frames(tls)
            except (OSError, ssl.SSLError):
                pass
            self.done.set()

    def close(self):
        self.server.close()


def split_frames(data):
    """The whole frames at the start of `data`, and what is left over."""
    frames = []
    while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "big"):
        length = int.from_bytes(data[:4], "big")
        frames.append(data[4:4 + length])
        data = data[4 + length:]
    return frames, data


def read_frames(sock, count=None):
    """Frames from a socket until it closes or fails, or until `count`
    have come."""
    frames, data = [], b""
    try:
        while count is None or len(frames) < count:
            chunk = sock.recv(65536)
            if not chunk:
                break
            more, data = split_frames(data + chunk)
            frames += more
    except (OSError, ssl.SSLError):
        pass
    return frames


class FrameTests(ProcessTestCase):
    """The proxy against a scripted node and peer: exact fault semantics
    (which a cluster run can only show statistically), frame limits, and
    the check that the peer it reached is the peer it dialled."""

    def setUp(self):
        super().setUp()
        self.tool("certs", "init", "--dir", self.path("certs"), "--node", "a", "--node", "b", "--host", "127.0.0.1")
        self.listen = free_port()

    def start(self, peer_certificate, faults):
        """A fake peer with `peer_certificate` behind a proxy for node a."""
        with open(self.path("control.json"), "w") as f:
            json.dump(faults, f)
        peer = FakePeer(self.path("certs"), peer_certificate)
        self.addCleanup(peer.close)
        self.start_proxy("a", [("b", self.listen, peer.port)], "proxy")
        return peer

    def node_a(self):
        """A TLS connection to the proxy as node a, checking that the proxy
        answers as b."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.check_hostname = False
        context.load_verify_locations(self.path("certs", "ca.pem"))
        context.load_cert_chain(self.path("certs", "a.pem"), self.path("certs", "a-key.pem"))
        tls = context.wrap_socket(socket.create_connection(("127.0.0.1", self.listen), timeout=15), server_hostname="b")
        self.addCleanup(tls.close)
        names = [value for kind, value in tls.getpeercert()["subjectAltName"] if kind == "URI"]
        self.assertEqual(names, ["casemesh://node/b"])
        return tls

    def test_duplicates_and_swaps_every_frame_but_the_hello(self):
        peer = self.start("b", {"duplicate": 1, "reorder": 1})
        tls = self.node_a()
        tls.sendall(b"".join(frame(text) for text in [b"hello", b"1", b"2", b"3", b"4", b"5"]))
        self.assertEqual(read_frames(tls, 1), [b"hello from the peer"])
        time.sleep(0.3)  # the odd frame out waits 50 ms for a partner, then goes alone
        tls.close()
        self.assertTrue(peer.done.wait(5))
        self.assertEqual(peer.frames, [b"hello", b"2", b"2", b"1", b"1", b"4", b"4", b"3", b"3", b"5", b"5"])
        self.stop_and_check_counters({"frames": 6, "duplicated": 5, "reordered": 2})

    def test_delay_keeps_the_order(self):
        peer = self.start("b", {"delay_ms": [0, 30]})
        tls = self.node_a()
        sent = [b"hello"] + [str(i).encode() for i in range(40)]
        tls.sendall(b"".join(frame(text) for text in sent))
        time.sleep(1.0)
        tls.close()
        self.assertTrue(peer.done.wait(5))
        self.assertEqual(peer.frames, sent)
        self.stop_and_check_counters({"frames": 41, "delayed": 40, "duplicated": 0, "reordered": 0})

    def test_empty_and_oversized_frames_close_the_connection(self):
        for bad in (b"\x00\x00\x00\x00", (16 * 1024 * 1024 + 1).to_bytes(4, "big")):
            with self.subTest(length=int.from_bytes(bad, "big")):
                peer = FakePeer(self.path("certs"), "b")
                self.addCleanup(peer.close)
                listen = free_port()
                self.start_proxy("a", [("b", listen, peer.port)], f"proxy-{listen}")
                self.listen = listen
                tls = self.node_a()
                tls.sendall(frame(b"hello") + bad)
                self.assertTrue(peer.done.wait(5), "the proxy kept the connection open")
                self.assertEqual(peer.frames, [b"hello"])
                log = self.read(f"proxy-{listen}.log")
                self.assertTrue("an empty frame" in log or "exceeds the limit" in log, log)

    def test_target_with_another_nodes_certificate_is_refused(self):
        peer = self.start("a", {})  # a cluster member, but not b
        tls = self.node_a()
        tls.sendall(frame(b"hello from a"))
        self.assertEqual(read_frames(tls, 1), [], "the proxy relayed from a target that is not b")
        self.wait_for(lambda: "reached a, not b" in self.read("proxy.log"), 5, f"no refusal: {self.read('proxy.log')}")
        self.assertTrue(peer.done.wait(5))
        self.assertEqual(peer.frames, [], "the proxy sent the node's frames to the wrong peer")

    def stop_and_check_counters(self, expected):
        """The a->b counters after a clean stop."""
        self.assertEqual(self.stop(self.proxy_process), 0)
        found = counters_of(self.read("proxy.log"))["a->b"]
        self.assertEqual({name: found[name] for name in expected}, expected, found)


if __name__ == "__main__":
    unittest.main()
