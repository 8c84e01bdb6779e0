"""A chaos run on a real three-node CaseMesh cluster (see scripts/chaos).

Builds the namespaces, starts the nodes and proxies, creates shared cases,
runs the workload while the nemesis schedule injects faults, heals
everything, waits for the digests to agree, reads every case from every
node, and hands the history and the final state to the checker. The
namespaces, rules and processes are removed however the run ends.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import checker  # noqa: E402
import etcd  # noqa: E402
import netns  # noqa: E402
import nemesis  # noqa: E402
import nodes  # noqa: E402
import workload  # noqa: E402

SKIP = 77
# The faults the etcd comparison can inject: the network ones (it has no
# fault-injection clock and no frame proxy).
ETCD_NEMESES = ["isolate", "bridge", "ring", "loss", "flap"]


def say(text):
    print(text, flush=True)


def parse():
    parser = argparse.ArgumentParser(prog="scripts/chaos", description="Fault injection on a real three-node CaseMesh cluster, judged by a history checker.")
    parser.add_argument("--nemesis", choices=["mixed"] + nemesis.NAMES,
                        help="one fault kind, or mixed (a seeded random schedule of all of them; the default, "
                             "except against etcd: isolate)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the schedule and the workload (default 1)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of faults and workload (default 60)")
    parser.add_argument("--quiet-window", type=float, default=60, help="seconds allowed after the final heal for the digests to agree (default 60)")
    parser.add_argument("--shared-cases", type=int, default=6, help="cases every region writes concurrently (default 6)")
    parser.add_argument("--workers", type=int, default=2, help="client workers per node (default 2)")
    parser.add_argument("--no-proxy", action="store_true", help="nodes dial each other directly (no frame proxy; the proxy nemesis is left out)")
    parser.add_argument("--binary", default=os.path.join(HERE, "..", "..", ".build", "debug", "casemesh"), help="the casemesh executable")
    parser.add_argument("--against", choices=["casemesh", "etcd"], default="casemesh",
                        help="etcd: the same seeded partitions on a three-node etcd cluster, reporting write availability on each side "
                             "(nemesis isolate unless given; mixed means the network faults only)")
    parser.add_argument("--out", help="folder for the history, final state, report and node logs (default .casemesh/chaos/seed-N-NEMESIS)")
    args = parser.parse_args()
    if args.duration <= 0 or args.quiet_window <= 0:
        parser.error("--duration and --quiet-window must be positive")
    if args.no_proxy and args.nemesis == "proxy":
        parser.error("the proxy nemesis needs the proxy (drop --no-proxy)")
    if args.nemesis is None:
        args.nemesis = "isolate" if args.against == "etcd" else "mixed"
    if args.against == "etcd" and args.nemesis not in ETCD_NEMESES + ["mixed"]:
        parser.error(f"against etcd the nemesis is one of {', '.join(ETCD_NEMESES)} or mixed")
    return args


def fresh_folder(path):
    if os.path.exists(path):
        subprocess.run(["rm", "-rf", path], check=True)
    os.makedirs(path)


def wait_converged(cluster, window):
    """Polls every node's digest until all agree; returns the seconds it took, or None."""
    start = time.monotonic()
    while time.monotonic() - start < window:
        try:
            digests = {cluster.digest(node) for node in cluster.nodes}
            if len(digests) == 1:
                return time.monotonic() - start
        except (OSError, RuntimeError, ValueError):
            pass
        time.sleep(0.1)
    return None


def final_state(cluster, heal_t, converged_after):
    """Every case from every node, as the API shows it."""
    state = {"heal_t": heal_t, "converged": converged_after is not None, "convergence_seconds": converged_after, "nodes": {}}
    for node in cluster.nodes:
        digest, _ = cluster.digest(node)
        cases = {}
        for case_id in cluster.list_ids(node):
            cases[case_id] = cluster.case(node, case_id)
        state["nodes"][node.id] = {"digest": digest, "cases": cases}
    return state


def interrupted(signum, frame):
    raise KeyboardInterrupt()


def run_faults(cluster, history, rng, names, duration, workers, stop):
    """Starts the workers, runs the seeded fault schedule, then stops them."""
    for worker in workers:
        worker.start()
    nemesis.run_schedule(cluster, history, rng, names, duration, threading.Event(), say)
    stop.set()
    for worker in workers:
        worker.join()


def run_etcd(args, layout, out, rng):
    """The seeded schedule of network faults against etcd, with a put
    workload at every node; prints and writes the availability by side."""
    reason = etcd.check_available()
    if reason:
        say(f"chaos: SKIPPED — {reason}")
        return SKIP
    names = ETCD_NEMESES if args.nemesis == "mixed" else [args.nemesis]
    cluster = etcd.EtcdCluster(layout, out, say)
    ids = [n.id for n in cluster.nodes]
    stop = threading.Event()
    history = None
    try:
        say(f"chaos: etcd, seed {args.seed}, nemesis {args.nemesis}, {args.duration:.0f} s; output in {out}")
        netns.setup([(n.id, n.address) for n in cluster.nodes])
        cluster.start()
        say(f"chaos: etcd cluster up (leader {cluster.leader()}); workload and faults start")
        history = workload.History(os.path.join(out, "history.jsonl"), time.monotonic())
        workers = [etcd.PutWorker(f"{node.id}-{k}", node, history, stop) for node in cluster.nodes for k in range(args.workers)]
        run_faults(cluster, history, rng, names, args.duration, workers, stop)
        nemesis.heal_all_links(cluster)
        history.nemesis("heal-all")
        history.close()
        ops, nemeses = checker.parse_ops(history.lines)
        ops = list(ops.values())
        sides = checker.isolation_sides(ops, nemeses)
        writes = [op for op in ops if op.f == "create"]
        ok = sum(op.kind == "ok" for op in writes)
        report = {"system": "etcd", "seed": args.seed, "nemesis": args.nemesis, "during_isolation": sides,
                  "writes": {"ok": ok, "unknown": len(writes) - ok},
                  "latency": checker.quantiles([op.t1 - op.t0 for op in writes if op.kind == "ok"])}
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
        say(f"etcd writes           ok {ok}, unknown {len(writes) - ok} (timeout {workload.TIMEOUT:.0f} s)")
        if sides["windows"]:
            say(f"writes while isolated {checker.side_summary(sides)}")
        say(f"chaos: history {out}/history.jsonl, report {out}/report.json, etcd logs {out}/<node>/etcd.log")
        return 0
    except KeyboardInterrupt:
        say("chaos: interrupted; tearing down")
        return 130
    finally:
        stop.set()
        if history is not None:
            history.close()
        try:
            cluster.stop()
        finally:
            netns.teardown(ids)


def main():
    args = parse()
    reason = netns.check_available()
    if reason:
        say(f"chaos: SKIPPED — {reason}")
        return SKIP
    binary = os.path.abspath(args.binary)
    if args.against == "casemesh" and not os.access(binary, os.X_OK):
        say(f"chaos: no casemesh executable at {binary} (build it with `swift build --product casemesh`, or pass --binary)")
        return 2
    root = os.path.abspath(os.path.join(HERE, "..", ".."))
    system = "etcd-" if args.against == "etcd" else ""
    out = os.path.abspath(args.out or os.path.join(root, ".casemesh", "chaos", f"{system}seed-{args.seed}-{args.nemesis}"))
    fresh_folder(out)
    with open(os.path.join(root, "Cluster", "local.json")) as f:
        layout = json.load(f)
    rng = random.Random(args.seed)
    if args.against == "etcd":
        signal.signal(signal.SIGTERM, interrupted)
        return run_etcd(args, layout, out, rng)
    names = nemesis.NAMES if args.nemesis == "mixed" else [args.nemesis]
    if args.no_proxy:
        names = [n for n in names if n != "proxy"]
    cluster = nodes.Cluster(binary, layout, out, args.seed, say, use_proxy=not args.no_proxy)
    ids = [n.id for n in cluster.nodes]

    # SIGTERM ends the run like Ctrl-C: through the finally below.
    signal.signal(signal.SIGTERM, interrupted)
    history = None
    stop = threading.Event()
    try:
        say(f"chaos: seed {args.seed}, nemesis {args.nemesis}, {args.duration:.0f} s; output in {out}")
        netns.setup([(n.id, n.address) for n in cluster.nodes])
        cluster.prepare()
        cluster.start()
        history = workload.History(os.path.join(out, "history.jsonl"), time.monotonic())
        shared = workload.create_shared_cases(cluster, history, args.shared_cases, rng)
        say(f"chaos: cluster up, {len(shared)} shared cases on every node; workload and faults start")
        workers = [workload.Worker(f"{node.id}-{k}", node, cluster, history, shared, random.Random(rng.random()), stop)
                   for node in cluster.nodes for k in range(args.workers)]
        run_faults(cluster, history, rng, names, args.duration, workers, stop)
        nemesis.heal_all(cluster)
        history.nemesis("heal-all")
        heal_t = history.now()
        say(f"{heal_t:7.1f} s  all faults healed; waiting up to {args.quiet_window:.0f} s for equal digests")
        converged = wait_converged(cluster, args.quiet_window)
        say(f"chaos: {'converged after %.2f s' % converged if converged is not None else 'NOT converged'}; reading every case from every node")
        state = final_state(cluster, heal_t, converged)
        with open(os.path.join(out, "final.json"), "w") as f:
            json.dump(state, f, indent=1, sort_keys=True)
        history.close()
        cluster.stop()
        result = subprocess.run([sys.executable, os.path.join(HERE, "checker.py"), "--history", os.path.join(out, "history.jsonl"),
                                 "--final", os.path.join(out, "final.json"), "--out", os.path.join(out, "report.json")])
        say(f"chaos: history {out}/history.jsonl, report {out}/report.json, node logs {out}/<node>/node.log")
        return result.returncode
    except KeyboardInterrupt:
        say("chaos: interrupted; tearing down")
        return 130
    finally:
        stop.set()
        try:
            cluster.stop()
        finally:
            netns.teardown(ids)


if __name__ == "__main__":
    sys.exit(main())
