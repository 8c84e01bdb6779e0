"""The faults. Each nemesis starts a fault and later removes it; `heal_all`
removes every fault at once. Links are cut with iptables inside the
receiving node's namespace (packets from the source are dropped on arrival,
so a cut is one-way unless both directions are cut); processes are paused
with SIGSTOP and killed with SIGKILL; clocks move through the node's
fault-injection endpoint; delay, duplication and reordering come from the
frame proxies. Every start and stop is written to the history.
"""

import threading
import time

import netns

NAMES = ["isolate", "bridge", "ring", "loss", "flap", "pause", "crash", "clock-bump", "clock-strobe", "proxy"]


class Nemesis:
    """A fault in progress: `stop()` removes it."""

    name = "none"

    def __init__(self, cluster, history, rng):
        self.cluster = cluster
        self.history = history
        self.rng = rng
        self.nodes = []
        self.detail = None

    def start(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def cut(self, source, target):
        """Drops every packet from `source` arriving at `target`."""
        netns.drop_from(target.id, source.address)

    def heal_links(self):
        for node in self.cluster.nodes:
            netns.flush(node.id)


class Isolate(Nemesis):
    """One node cut from both others, both ways (a region offline)."""

    name = "isolate"

    def start(self):
        lone = self.rng.choice(self.cluster.nodes)
        for other in self.cluster.nodes:
            if other is not lone:
                self.cut(lone, other)
                self.cut(other, lone)
        self.nodes = [lone.id]
        self.detail = f"{lone.id} cut from the others"

    def stop(self):
        self.heal_links()


class Bridge(Nemesis):
    """Two nodes cut from each other; the third reaches both (forwarding
    must carry writes across)."""

    name = "bridge"

    def start(self):
        middle = self.rng.choice(self.cluster.nodes)
        a, b = [n for n in self.cluster.nodes if n is not middle]
        self.cut(a, b)
        self.cut(b, a)
        self.nodes = [a.id, b.id]
        self.detail = f"{a.id} and {b.id} cut from each other, {middle.id} reaches both"

    def stop(self):
        self.heal_links()


class Ring(Nemesis):
    """One-way cuts around the ring: every node can send to one peer only
    and hear from the other only."""

    name = "ring"

    def start(self):
        order = list(self.cluster.nodes)
        self.rng.shuffle(order)
        cuts = []
        for i, node in enumerate(order):
            target = order[(i + 1) % len(order)]
            self.cut(node, target)
            cuts.append(f"{node.id}->{target.id}")
        self.nodes = [n.id for n in order]
        self.detail = "dropped: " + ", ".join(cuts)

    def stop(self):
        self.heal_links()


class Loss(Nemesis):
    """Random packet loss on every link between nodes (iptables statistic)."""

    name = "loss"

    def start(self):
        probability = self.rng.choice([0.1, 0.2, 0.3, 0.5])
        for target in self.cluster.nodes:
            for source in self.cluster.nodes:
                if source is not target:
                    netns.drop_from(target.id, source.address, probability)
        self.nodes = [n.id for n in self.cluster.nodes]
        self.detail = f"{probability:.0%} of packets dropped on every link"

    def stop(self):
        self.heal_links()


class Flap(Nemesis):
    """One pair's link goes down and up every half second to two seconds."""

    name = "flap"

    def start(self):
        a, b = self.rng.sample(self.cluster.nodes, 2)
        self.nodes = [a.id, b.id]
        self.detail = f"link {a.id}<->{b.id} flapping"
        self.halt = threading.Event()
        seed = self.rng.random()

        def flap():
            import random
            local = random.Random(seed)
            down = False
            while not self.halt.wait(local.uniform(0.5, 2.0)):
                if down:
                    self.heal_links()
                else:
                    self.cut(a, b)
                    self.cut(b, a)
                down = not down

        self.thread = threading.Thread(target=flap, daemon=True)
        self.thread.start()

    def stop(self):
        self.halt.set()
        self.thread.join()
        self.heal_links()


class Pause(Nemesis):
    """SIGSTOP: the node holds its sockets but answers nothing (a GC pause,
    a hung VM); peers must notice through heartbeats."""

    name = "pause"

    def start(self):
        node = self.rng.choice(self.cluster.nodes)
        self.node = node
        self.cluster.pause(node)
        self.nodes = [node.id]
        self.detail = f"{node.id} stopped (SIGSTOP)"

    def stop(self):
        self.cluster.resume(self.node)


class Crash(Nemesis):
    """SIGKILL, then a restart from the same data folder: everything the
    node acknowledged must still be there."""

    name = "crash"

    def start(self):
        node = self.rng.choice(self.cluster.nodes)
        self.node = node
        self.cluster.kill(node)
        self.nodes = [node.id]
        self.detail = f"{node.id} killed (SIGKILL)"

    def stop(self):
        self.cluster.restart(self.node)


class ClockBump(Nemesis):
    """One node's clock jumps ahead or back (within and beyond the cluster's
    500 ms maximum offset): peers refuse timestamps too far ahead, and no
    node's hybrid clock may run backwards."""

    name = "clock-bump"

    def start(self):
        node = self.rng.choice(self.cluster.nodes)
        self.node = node
        offset = self.rng.choice([-1, 1]) * self.rng.choice([100, 400, 900, 2000])
        self.cluster.set_clock(node, offset=offset)
        self.nodes = [node.id]
        self.detail = f"{node.id} clock {offset:+d} ms"

    def stop(self):
        self.cluster.set_clock(self.node)


class ClockStrobe(Nemesis):
    """One node's clock jumps back and forth many times a second."""

    name = "clock-strobe"

    def start(self):
        node = self.rng.choice(self.cluster.nodes)
        self.node = node
        amplitude = self.rng.choice([200, 600, 1500])
        period = self.rng.choice([20, 50, 200])
        self.cluster.set_clock(node, strobe=amplitude, period=period)
        self.nodes = [node.id]
        self.detail = f"{node.id} clock strobing +{amplitude} ms every other {period} ms"

    def stop(self):
        self.cluster.set_clock(self.node)


class Proxy(Nemesis):
    """Replication frames delayed, duplicated and reordered by the proxies."""

    name = "proxy"

    def start(self):
        settings = {"delay_ms": [0, self.rng.choice([10, 50, 200])], "duplicate": self.rng.choice([0.1, 0.3]),
                    "reorder": self.rng.choice([0.1, 0.3])}
        for node in self.cluster.nodes:
            self.cluster.set_proxy(node, settings)
        self.nodes = [n.id for n in self.cluster.nodes]
        self.detail = f"frames delayed {settings['delay_ms'][0]}-{settings['delay_ms'][1]} ms, duplicated {settings['duplicate']:.0%}, reordered {settings['reorder']:.0%}"

    def stop(self):
        for node in self.cluster.nodes:
            self.cluster.set_proxy(node, {})


KINDS = {cls.name: cls for cls in [Isolate, Bridge, Ring, Loss, Flap, Pause, Crash, ClockBump, ClockStrobe, Proxy]}


def run_schedule(cluster, history, rng, names, duration, stop_event, say):
    """Alternates quiet spells (2–4 s) and faults (4–10 s) until `duration`
    seconds have passed; each fault is drawn from `names` with the seeded
    generator, so a seed replays the same schedule."""
    end = time.monotonic() + duration
    while time.monotonic() < end and not stop_event.is_set():
        if stop_event.wait(min(rng.uniform(2, 4), max(0, end - time.monotonic()))):
            break
        if time.monotonic() >= end:
            break
        nemesis = KINDS[rng.choice(names)](cluster, history, rng)
        # The fault counts from before it is injected: a request that meets
        # a node being killed falls inside the node's stopped window.
        began = history.now()
        nemesis.start()
        history.nemesis("start", nemesis.name, nemesis.nodes, nemesis.detail, t=began, in_effect=history.now())
        say(f"{history.now():7.1f} s  {nemesis.name}: {nemesis.detail}")
        stop_event.wait(min(rng.uniform(4, 10), max(0.5, end - time.monotonic())))
        nemesis.stop()
        history.nemesis("stop", nemesis.name, nemesis.nodes)
        say(f"{history.now():7.1f} s  {nemesis.name} healed")


def heal_all_links(cluster):
    """Removes every link fault (all iptables rules the nemeses added)."""
    for node in cluster.nodes:
        try:
            netns.flush(node.id)
        except RuntimeError:
            pass


def heal_all(cluster):
    """Removes every fault: links, proxies, clocks; resumes and restarts
    nodes. Used after the schedule and on interruption."""
    heal_all_links(cluster)
    for node in cluster.nodes:
        cluster.set_proxy(node, {})
        if node.process is not None and node.process.poll() is None:
            try:
                cluster.resume(node)
            except ProcessLookupError:
                pass
    for node in cluster.nodes:
        if node.process is None or node.process.poll() is not None:
            cluster.restart(node)
    for node in cluster.nodes:
        cluster.set_clock(node)
