#!/usr/bin/env python3
"""A frame-level fault proxy for CaseMesh replication links.

This kernel has no tc netem, so the chaos harness cannot delay, duplicate or
reorder packets in the network. And because nodes talk mutual TLS, a plain
TCP proxy could only delay bytes: duplicating or swapping TLS records would
just break the TLS session. So this proxy terminates TLS on both sides with
the cluster's own certificates and works on whole replication frames (a
4-byte big-endian length, then the payload; see
Sources/CaseMeshReplication/WIRE.md).

It runs beside one node (`--node`), in that node's network namespace. Each
`--link peer=listenhost:port=targethost:port` is one of the node's outbound
links: the node is configured with `--peer peer@listenhost:port`, so when it
dials that peer it reaches the proxy, which

  * answers as the peer (the peer's certificate and key), requiring a client
    certificate from the cluster CA that names `--node`;
  * dials the real peer at the target as `--node` (its certificate and key),
    trusting the cluster CA only and checking that the certificate's
    casemesh://node/<id> name is the peer's (host names are not checked,
    as the nodes do not check them either);
  * relays frames both ways, applying the faults from the `--control` file.

Control file (JSON, polled every 100 ms; a missing file means no faults, a
malformed one keeps the previous settings):

    {"delay_ms": [min, max], "duplicate": p, "reorder": p}

per frame and direction, except the first frame each way (the hello), which
always passes at once. A delayed frame waits a uniform time in [min, max] ms
but never overtakes the frames before it; a duplicated frame is sent twice
in a row; a reordered frame is held back and sent right after the next frame
of its direction, or alone after 50 ms if none comes.

Counters per link and direction go to the log on every connection close,
every 5 s and at shutdown (SIGTERM or SIGINT: every connection is closed and
the proxy exits 0). Python 3.11 standard library only.

    python3 proxy.py --node emea --tls-dir DIR \\
        --link amer=127.0.0.1:17081=10.77.0.2:7080 \\
        --link apac=127.0.0.1:17082=10.77.0.3:7080 \\
        --control proxy-emea.json [--log proxy.log] [--seed N]
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import ssl
import sys
import time

IDENTITY_PREFIX = "casemesh://node/"
MAX_FRAME_BYTES = 16 * 1024 * 1024
CONTROL_POLL_SECONDS = 0.1
REPORT_SECONDS = 5.0
REORDER_WAIT_SECONDS = 0.05
HANDSHAKE_SECONDS = 10.0
DIAL_SECONDS = 5.0  # as long as a node waits for its own connects
QUEUE_FRAMES = 1024
COUNTER_NAMES = ["frames", "bytes", "delayed", "duplicated", "reordered"]


class ProxyError(Exception):
    """A connection must end; the message says why, in words, for the log."""


# -- logging -------------------------------------------------------------


def explain(error):
    """An exception in words for the log; some (a reset, a timeout) have an
    empty message, and then their type is all there is to say."""
    text = str(error)
    if not text:
        return type(error).__name__
    if isinstance(error, (ssl.SSLError, ProxyError)):
        return text  # these already say what they are
    return f"{type(error).__name__}: {text}"


class Log:
    """Timestamped plain-text lines to a file (appended) or to stderr, so
    the harness can keep one log per node next to the node's own."""

    def __init__(self, path, node):
        self.node = node
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
            self.stream = open(path, "a", buffering=1)
        else:
            self.stream = sys.stderr

    def __call__(self, text):
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        self.stream.write(f"{stamp} proxy {self.node}: {text}\n")
        self.stream.flush()


# -- fault settings --------------------------------------------------------


class Faults:
    """One set of fault settings. The default is no faults at all, which
    is also what a missing control file means."""

    def __init__(self, delay_ms=(0.0, 0.0), duplicate=0.0, reorder=0.0):
        self.delay_ms = (float(delay_ms[0]), float(delay_ms[1]))
        self.duplicate = float(duplicate)
        self.reorder = float(reorder)

    @classmethod
    def parse(cls, text):
        """Reads the control file's JSON. Unknown keys are refused rather than
        ignored, so a misspelt fault cannot silently mean "no fault"."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("the control file must hold a JSON object")
        unknown = set(data) - {"delay_ms", "duplicate", "reorder"}
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        delay = data.get("delay_ms", [0, 0])
        if (not isinstance(delay, list) or len(delay) != 2 or not all(_is_number(x) for x in delay)
                or delay[0] < 0 or delay[1] < delay[0]):
            raise ValueError("delay_ms must be [min, max] with 0 <= min <= max")
        for key in ("duplicate", "reorder"):
            value = data.get(key, 0)
            if not _is_number(value) or not 0 <= value <= 1:
                raise ValueError(f"{key} must be a probability between 0 and 1")
        return cls(delay, data.get("duplicate", 0), data.get("reorder", 0))

    def describe(self):
        """The settings in words, for the log."""
        if self.delay_ms == (0.0, 0.0) and self.duplicate == 0 and self.reorder == 0:
            return "no faults"
        return (f"delay {self.delay_ms[0]:g}-{self.delay_ms[1]:g} ms, duplicate {self.duplicate:.0%}, "
                f"reorder {self.reorder:.0%}")


def _is_number(value):
    """JSON numbers only: bool is an int subclass in Python but not a number here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Control:
    """Watches the control file by its stat signature (mtime, inode, size),
    so an atomic replace is seen even within one mtime tick, and each bad
    version of the file is reported once rather than every poll."""

    def __init__(self, path, log):
        self.path = path
        self.log = log
        self.faults = Faults()
        self.signature = None

    def poll(self):
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            if self.signature is not None:
                self.signature = None
                self.faults = Faults()
                self.log(f"control file {self.path} is gone: no faults")
            return
        except OSError as error:
            self.log(f"control file {self.path} cannot be read ({error}); keeping {self.faults.describe()}")
            return
        signature = (info.st_mtime_ns, info.st_ino, info.st_size)
        if signature == self.signature:
            return
        self.signature = signature
        try:
            with open(self.path) as f:
                faults = Faults.parse(f.read())
        except (OSError, ValueError) as error:
            self.log(f"control file {self.path} is malformed ({error}); keeping {self.faults.describe()}")
            return
        self.faults = faults
        self.log(f"faults now: {faults.describe()}")

    async def watch(self):
        """Polls for ever: the harness changes faults by rewriting the file."""
        while True:
            self.poll()
            await asyncio.sleep(CONTROL_POLL_SECONDS)


# -- counters -------------------------------------------------------------


class Counters:
    """Frame counters of one direction (of one link or one connection)."""

    def __init__(self):
        self.values = dict.fromkeys(COUNTER_NAMES, 0)

    def add(self, name, amount=1):
        self.values[name] += amount

    def describe(self):
        return " ".join(f"{name} {self.values[name]}" for name in COUNTER_NAMES)


class Link:
    """One `--link`: where the node dials the peer, where the peer really is,
    and the counters of everything that went through."""

    def __init__(self, node, spec):
        try:
            peer, listen, target = spec.split("=")
            self.listen_host, self.listen_port = _host_port(listen)
            self.target_host, self.target_port = _host_port(target)
        except ValueError:
            raise ValueError(f"--link {spec!r}: expected peer=listenhost:port=targethost:port") from None
        if not peer or peer == node:
            raise ValueError(f"--link {spec!r}: the peer must be named and differ from --node")
        self.node = node
        self.peer = peer
        self.outbound = f"{node}->{peer}"
        self.inbound = f"{peer}->{node}"
        self.directions = {self.outbound: Counters(), self.inbound: Counters()}
        self.connections = 0
        self.open = 0
        self.refused = 0
        self.dial_failures = 0
        self.server_context = None
        self.client_context = None
        self.listener = None

    def describe(self):
        return (f"counters link {self.peer}: connections {self.connections} open {self.open} "
                f"refused {self.refused} dial_failures {self.dial_failures}; "
                + "; ".join(f"{name} {counters.describe()}" for name, counters in self.directions.items()))


def _host_port(text):
    """`host:port` (IPv6 hosts in brackets); ValueError when it is not."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host.strip("[]"), int(port)


# -- TLS ------------------------------------------------------------------


def tls_contexts(directory, node, peer):
    """The two faces of a link, with the nodes' own rules: TLS 1.3 only,
    mutual authentication, the cluster CA as the only trust root, and no
    host name checks (identity is the certificate's node URI). Towards the
    node the proxy is the peer; towards the peer it is the node."""
    def path(name):
        full = os.path.join(directory, name)
        if not os.path.isfile(full):
            raise ValueError(f"{full} is missing (is --tls-dir the folder `casemesh certs init` wrote?)")
        return full

    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    server.load_cert_chain(path(f"{peer}.pem"), path(f"{peer}-key.pem"))
    server.load_verify_locations(path("ca.pem"))
    server.verify_mode = ssl.CERT_REQUIRED

    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.minimum_version = ssl.TLSVersion.TLSv1_3
    client.check_hostname = False
    client.verify_mode = ssl.CERT_REQUIRED
    client.load_cert_chain(path(f"{node}.pem"), path(f"{node}-key.pem"))
    client.load_verify_locations(path("ca.pem"))
    return server, client


def certified_node(writer):
    """The node id in the peer's verified certificate: its one
    casemesh://node/<id> URI, as the nodes themselves read it."""
    certificate = writer.get_extra_info("peercert") or {}
    ids = [value[len(IDENTITY_PREFIX):] for kind, value in certificate.get("subjectAltName", ())
           if kind == "URI" and value.startswith(IDENTITY_PREFIX)]
    if not ids:
        raise ProxyError("the certificate names no CaseMesh node")
    if len(ids) > 1:
        raise ProxyError(f"the certificate names several nodes: {', '.join(ids)}")
    return ids[0]


# -- frames ---------------------------------------------------------------


async def read_frame(reader):
    """One frame as it came (length prefix included, so it can be sent on
    unchanged), or None at a clean end of stream. The length is checked
    before the payload is read, as the nodes do."""
    try:
        header = await reader.readexactly(4)
    except asyncio.IncompleteReadError as error:
        if not error.partial:
            return None
        raise ProxyError("the stream ended inside a frame header") from None
    length = int.from_bytes(header, "big")
    if length == 0:
        raise ProxyError("an empty frame")
    if length > MAX_FRAME_BYTES:
        raise ProxyError(f"a frame of {length} bytes exceeds the limit of {MAX_FRAME_BYTES}")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProxyError(f"the stream ended inside a frame of {length} bytes") from None
    return header + payload


class Frame:
    """A frame on its way through one direction: when it may leave, and
    whether it is the hello (which no fault touches)."""

    __slots__ = ("data", "due", "hello")

    def __init__(self, data, due, hello):
        self.data = data
        self.due = due
        self.hello = hello


END = object()


class Pump:
    """One direction of one connection. Reading and writing are separate
    tasks joined by a bounded queue: reading stamps each frame with its
    delay as it arrives, writing releases frames in arrival order once due
    (so a delay never reorders by itself) and applies duplication and
    reordering at the moment a frame would leave. Separate random streams
    for the two tasks keep a seeded run reproducible whatever the
    interleaving of the tasks."""

    def __init__(self, name, reader, writer, control, counters, seed):
        self.name = name
        self.reader = reader
        self.writer = writer
        self.control = control
        self.counters = counters
        self.queue = asyncio.Queue(QUEUE_FRAMES)
        self.delay_random = random.Random(f"{seed}/delay")
        self.fault_random = random.Random(f"{seed}/fault")
        self.ended = "no reason"

    async def run(self):
        """Relays until the source closes (after the frames already read
        are delivered) or either end fails; returns how it ended."""
        tasks = [asyncio.create_task(self._read_all()), asyncio.create_task(self._write_all())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()
            return self.ended
        finally:
            for task in tasks:
                task.cancel()

    def _count(self, name, amount=1):
        for counters in self.counters:
            counters.add(name, amount)

    async def _read_all(self):
        """Reads frames as fast as they come, so a delay is measured from a
        frame's arrival, not from when the frame before it left."""
        loop = asyncio.get_running_loop()
        hello = True
        while True:
            try:
                data = await read_frame(self.reader)
            except (ConnectionError, ssl.SSLError, OSError) as error:
                raise ProxyError(f"{self.name}: reading failed: {explain(error)}") from None
            except ProxyError as error:
                raise ProxyError(f"{self.name}: {error}") from None
            if data is None:
                self.ended = f"{self.name}: the sender closed the connection"
                await self.queue.put(END)
                return
            self._count("frames")
            self._count("bytes", len(data))
            delay = 0.0 if hello else self._draw_delay()
            await self.queue.put(Frame(data, loop.time() + delay, hello))
            hello = False

    def _draw_delay(self):
        """Seconds to hold one frame, from the current settings."""
        low, high = self.control.faults.delay_ms
        delay = self.delay_random.uniform(low, high) / 1000 if high > 0 else 0.0
        if delay > 0:
            self._count("delayed")
        return delay

    async def _write_all(self):
        """Releases frames in arrival order, each once due. A frame picked
        for reordering waits in `held` and goes right after the next one."""
        held = None
        while True:
            frame = await self._next(waiting=held is not None)
            if frame is None:
                # Nothing came to overtake the held frame: it goes alone, merely late.
                await self._send(held)
                held = None
                continue
            if frame is END:
                if held is not None:
                    await self._send(held)
                return
            wait = frame.due - asyncio.get_running_loop().time()
            if wait > 0:
                await asyncio.sleep(wait)
            if frame.hello:
                await self._send(frame, faults=False)
            elif held is None and self.fault_random.random() < self.control.faults.reorder:
                held = frame
            else:
                await self._send(frame)
                if held is not None:
                    self._count("reordered")
                    await self._send(held)
                    held = None

    async def _next(self, waiting):
        """The next queued frame; None if `waiting` (a frame is held) and
        none arrives within the reorder window, so a held frame is never
        stuck behind a quiet connection."""
        if not waiting:
            return await self.queue.get()
        try:
            return await asyncio.wait_for(self.queue.get(), REORDER_WAIT_SECONDS)
        except asyncio.TimeoutError:
            return None

    async def _send(self, frame, faults=True):
        """Writes one frame, twice in a row when drawn for duplication, and
        waits for the socket to take it (the back-pressure reaches the
        reader through the bounded queue)."""
        copies = 1
        if faults and self.fault_random.random() < self.control.faults.duplicate:
            copies = 2
            self._count("duplicated")
        try:
            for _ in range(copies):
                self.writer.write(frame.data)
            await self.writer.drain()
        except (ConnectionError, ssl.SSLError, OSError) as error:
            raise ProxyError(f"{self.name}: writing failed: {explain(error)}") from None


# -- the proxy --------------------------------------------------------------


class Proxy:
    """Listens on every link, relays each accepted connection to its peer,
    reports counters, and shuts everything down on request."""

    def __init__(self, args, log):
        self.args = args
        self.log = log
        self.node = args.node
        self.control = Control(args.control, log)
        self.links = [Link(args.node, spec) for spec in args.link]
        peers = [link.peer for link in self.links]
        if len(set(peers)) != len(peers):
            raise ValueError("each peer may have one --link only")
        self.seed = args.seed
        self.serial = 0
        self.connections = set()

    def prepare(self):
        """Loads the certificates and binds every listener before anything
        runs, so a mistake in the arguments fails at once and loudly."""
        for link in self.links:
            link.server_context, link.client_context = tls_contexts(self.args.tls_dir, self.node, link.peer)
            listener = socket.create_server((link.listen_host, link.listen_port))
            listener.setblocking(False)
            link.listener = listener

    async def run(self, stop):
        """Serves until `stop` is set, then closes every listener and
        connection and writes the final counters, so a SIGTERM leaves a
        complete record."""
        self.log(f"started with seed {self.seed}")
        self.control.poll()
        if self.control.signature is None:
            self.log(f"no control file at {self.control.path} yet: no faults")
        for link in self.links:
            self.log(f"link {link.peer}: listening on {link.listen_host}:{link.listen_port}, "
                     f"relaying to {link.target_host}:{link.target_port}")
        background = [asyncio.create_task(self.control.watch()), asyncio.create_task(self._report())]
        background += [asyncio.create_task(self._accept(link)) for link in self.links]
        await stop.wait()
        self.log("stopping: closing listeners and connections")
        for task in background:
            task.cancel()
        for link in self.links:
            link.listener.close()
        for task in list(self.connections):
            task.cancel()
        if self.connections:
            await asyncio.wait(list(self.connections), timeout=5)
        await asyncio.gather(*background, return_exceptions=True)
        for link in self.links:
            self.log(link.describe())
        self.log("stopped")

    async def _report(self):
        """Counters every few seconds, so a long-lived connection (or a
        proxy that is killed) still leaves recent numbers in the log."""
        while True:
            await asyncio.sleep(REPORT_SECONDS)
            for link in self.links:
                self.log(link.describe())

    async def _accept(self, link):
        """Accepts the node's connections on one link, each relayed on its own."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(link.listener)
            except OSError as error:
                # Out of descriptors and the like: say so, wait, go on.
                self.log(f"link {link.peer}: accepting failed ({error}); retrying")
                await asyncio.sleep(0.5)
                continue
            self.serial += 1
            task = asyncio.create_task(self._connection(link, sock, f"{address[0]}:{address[1]}", self.serial))
            self.connections.add(task)
            task.add_done_callback(self.connections.discard)

    async def _connection(self, link, sock, address, serial):
        """One connection from the node: admitted as the peer, relayed to
        the real peer as the node; both sides are closed however it ends."""
        tag = f"link {link.peer} connection {serial}"
        writers = []
        try:
            node_side = await self._admit(link, sock, address, tag)
            if node_side is None:
                return
            writers.append(node_side[1])
            peer_side = await self._reach(link, tag)
            if peer_side is None:
                return
            writers.append(peer_side[1])
            await self._carry(link, serial, tag, address, node_side, peer_side)
        except Exception as error:  # a bug must cost one connection, not the proxy
            self.log(f"{tag}: failed unexpectedly: {explain(error)}")
        finally:
            await close_all(writers)

    async def _admit(self, link, sock, address, tag):
        """TLS as the peer, then the client's identity: only `--node` may
        use a link, as the proxy lends it that node's identity. The accepted
        socket goes to TLS directly (no plaintext stream first), so no byte
        of the handshake can be read by anything else. None when refused."""
        try:
            node_side = await accept_tls(sock, link.server_context)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError) as error:
            link.refused += 1
            self.log(f"{tag}: refused {address}: TLS handshake failed: {explain(error)}")
            sock.close()
            return None
        try:
            client = certified_node(node_side[1])
            if client != self.node:
                raise ProxyError(f"the client certificate is for {client}, but this proxy speaks for {self.node}")
        except ProxyError as error:
            link.refused += 1
            self.log(f"{tag}: refused {address}: {error}")
            await close_all([node_side[1]])
            return None
        return node_side

    async def _reach(self, link, tag):
        """The connection to the real peer, or None (logged) when it cannot
        be had; the node then sees its connection close and retries."""
        try:
            return await self._dial(link)
        except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError, ProxyError) as error:
            link.dial_failures += 1
            self.log(f"{tag}: dialling {link.peer} at {link.target_host}:{link.target_port} failed "
                     f"({explain(error)}); closing the node's connection")
            return None

    async def _carry(self, link, serial, tag, address, node_side, peer_side):
        """The relay, with its bookkeeping: the link's counters go to the
        log whenever one of its connections ends."""
        link.connections += 1
        link.open += 1
        self.log(f"{tag}: relaying {address} to {link.peer} at {link.target_host}:{link.target_port}")
        try:
            reason, counters = await self._relay(link, serial, node_side, peer_side)
            self.log(f"{tag}: closed ({reason}); this connection: "
                     + "; ".join(f"{name} {c.describe()}" for name, c in counters.items()))
        except asyncio.CancelledError:
            self.log(f"{tag}: closed (the proxy is stopping)")
            raise
        finally:
            link.open -= 1
            self.log(link.describe())

    async def _dial(self, link):
        """Reaches the real peer as the node, and refuses anyone but the peer."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(link.target_host, link.target_port, ssl=link.client_context,
                                    server_hostname=link.peer, ssl_handshake_timeout=HANDSHAKE_SECONDS),
            DIAL_SECONDS)
        try:
            reached = certified_node(writer)
            if reached != link.peer:
                raise ProxyError(f"reached {reached}, not {link.peer}")
        except ProxyError:
            await close_all([writer])
            raise
        return reader, writer

    async def _relay(self, link, serial, node_side, peer_side):
        """Both directions until one ends; then both sides are closed."""
        base = f"{self.seed}/{link.peer}/{serial}"
        outbound = Counters()
        inbound = Counters()
        pumps = [
            Pump(link.outbound, node_side[0], peer_side[1], self.control,
                 [outbound, link.directions[link.outbound]], f"{base}/out"),
            Pump(link.inbound, peer_side[0], node_side[1], self.control,
                 [inbound, link.directions[link.inbound]], f"{base}/in"),
        ]
        tasks = [asyncio.create_task(pump.run()) for pump in pumps]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            task = done.pop()
            if task.exception() is not None:
                reason = str(task.exception())
            else:
                reason = task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return reason, {link.outbound: outbound, link.inbound: inbound}


async def accept_tls(sock, context):
    """Server-side TLS on an accepted socket, as asyncio streams. Unlike
    asyncio.start_server(ssl=...), a failed handshake reaches the caller,
    so refusals are counted and logged."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    protocol = asyncio.StreamReaderProtocol(reader)
    transport, _ = await loop.connect_accepted_socket(lambda: protocol, sock, ssl=context,
                                                      ssl_handshake_timeout=HANDSHAKE_SECONDS)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    return reader, writer


async def close_all(writers):
    """Closes both sides of a connection: politely (TLS close_notify) when
    the other end is still there, by abort when it does not answer soon."""
    for writer in writers:
        writer.close()
    for writer in writers:
        try:
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        except (Exception, asyncio.CancelledError):
            writer.transport.abort()


# -- command line ----------------------------------------------------------


def parse(argv):
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(
        prog="proxy.py",
        description="Relays a CaseMesh node's outbound replication links frame by frame over mutual TLS, "
                    "delaying, duplicating and reordering frames as a control file says.")
    parser.add_argument("--node", required=True, help="the node this proxy runs beside (it speaks as this node)")
    parser.add_argument("--tls-dir", required=True,
                        help="the folder `casemesh certs init` wrote: ca.pem, and <id>.pem and <id>-key.pem "
                             "of the node and of every linked peer (the proxy answers as the peer)")
    parser.add_argument("--link", action="append", required=True, metavar="PEER=LISTENHOST:PORT=TARGETHOST:PORT",
                        help="one outbound link: the node dials PEER at LISTENHOST:PORT, "
                             "the real PEER is at TARGETHOST:PORT; repeatable")
    parser.add_argument("--control", required=True, help="JSON fault settings, polled every 100 ms; missing means no faults")
    parser.add_argument("--log", help="append log lines to this file (default: stderr)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws (default 0)")
    return parser.parse_args(argv)


async def main(argv):
    """Exit status: 0 after a clean stop, 2 when the proxy cannot start
    (bad arguments, missing certificates, a port in use)."""
    args = parse(argv)
    log = Log(args.log, args.node)
    try:
        proxy = Proxy(args, log)
        proxy.prepare()
    except (ValueError, OSError, ssl.SSLError) as error:
        log(f"cannot start: {error}")
        if args.log:
            print(f"proxy.py: cannot start: {error}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await proxy.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
