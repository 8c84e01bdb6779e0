"""Three hosts on one machine: a network namespace per node, each with a veth
pair plugged into one bridge, so that iptables rules inside a namespace can
cut, one way or both, exactly the links between nodes while the harness (in
the root namespace, on the bridge) still reaches every node's API.

Everything created here has a `cm` prefix and is removed by `teardown()`,
which is safe to call any number of times and also clears what an
interrupted earlier run left behind.
"""

import os
import shutil
import subprocess

BRIDGE = "cmbr0"
HOST_ADDRESS = "10.77.0.254"
PREFIX = 24


class NetnsUnavailable(Exception):
    """Raised when this machine cannot build the namespaces (reason in words)."""


def run(args, check=True, quiet=False):
    """Runs a command; failures raise with the command's own error text."""
    result = subprocess.run(args, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def namespace(node_id):
    return f"cm-{node_id}"


def veth(node_id):
    return f"cmv-{node_id}"


def check_available():
    """Says why the harness cannot run here, or returns None if it can."""
    if os.geteuid() != 0:
        return "network namespaces and iptables need root (run as root)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: apt-get install {'iproute2' if tool == 'ip' else 'iptables'})"
    probe = "cm-probe"
    result = run(["ip", "netns", "add", probe], check=False)
    if result.returncode != 0:
        return f"cannot create a network namespace: {result.stderr.strip()}"
    try:
        result = run(["ip", "netns", "exec", probe, "iptables", "-L", "INPUT", "-n"], check=False)
        if result.returncode != 0:
            return f"iptables does not work inside a namespace: {result.stderr.strip()}"
    finally:
        run(["ip", "netns", "del", probe], check=False)
    return None


def setup(nodes):
    """Builds the bridge and one namespace per node: `nodes` is a list of
    (node id, address) pairs, addresses in 10.77.0.0/24."""
    teardown([n for n, _ in nodes])
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{HOST_ADDRESS}/{PREFIX}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    for node_id, address in nodes:
        ns = namespace(node_id)
        run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", veth(node_id), "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", veth(node_id), "master", BRIDGE])
        run(["ip", "link", "set", veth(node_id), "up"])
        run(["ip", "netns", "exec", ns, "ip", "addr", "add", f"{address}/{PREFIX}", "dev", "eth0"])
        run(["ip", "netns", "exec", ns, "ip", "link", "set", "eth0", "up"])
        run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
    # Bridged frames must not pass the root namespace's own iptables (if
    # br_netfilter is loaded): every rule lives inside the node namespaces.
    for key in ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"):
        path = "/proc/sys/" + key.replace(".", "/")
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("0")


def teardown(node_ids):
    """Kills every process left in the namespaces, deletes them (their veths
    and iptables rules go with them) and the bridge. Never raises."""
    existing = run(["ip", "netns", "list"], check=False).stdout.split()
    names = {namespace(n) for n in node_ids} | {n for n in existing if n.startswith("cm-")}
    for ns in names:
        if ns not in existing:
            continue
        pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        run(["ip", "netns", "del", ns], check=False)
    for node_id in node_ids:
        run(["ip", "link", "del", veth(node_id)], check=False, quiet=True)
    run(["ip", "link", "del", BRIDGE], check=False, quiet=True)


def iptables(node_id, *args):
    """Runs iptables inside a node's namespace."""
    return run(["ip", "netns", "exec", namespace(node_id), "iptables", "-w", *args])


def drop_from(node_id, source_address, probability=None):
    """Drops packets arriving at `node_id` from `source_address` (the link
    source → node_id, one way), all of them or a random fraction."""
    rule = ["-A", "INPUT", "-s", source_address]
    if probability is not None:
        rule += ["-m", "statistic", "--mode", "random", "--probability", f"{probability:.4f}"]
    iptables(node_id, *rule, "-j", "DROP")


def flush(node_id):
    """Removes every rule a nemesis added in `node_id`'s namespace."""
    iptables(node_id, "-F", "INPUT")


def rules(node_id):
    """The namespace's INPUT rules as text (for the report)."""
    return iptables(node_id, "-S", "INPUT").stdout.strip()
