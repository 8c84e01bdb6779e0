"""Judges a chaos run: reads the workload's history and the final state of
every node (formats: HISTORY.md) and decides whether CaseMesh kept its
promises through the faults.

    python3 checker.py --history history.jsonl --final final.json --out report.json

Prints a summary table and writes the full report as JSON. Exit status: 0
when the run is valid, 1 when any check failed, 2 when the input is
malformed. `check(lines, final)` is the same judgement as a function.

What is checked, and why each rule is sound (never blames a correct store):

- Convergence: the run says the digests agreed after the heal, every node
  reports the same digest, and every node shows every case identically.
- Cases: every acknowledged create is present; no case exists that nobody
  tried to create; a refused create never appears.
- Notes (add-wins set with unique elements): each note text is written once,
  so an acknowledged add whose note was never targeted by a remove must be
  present; a note whose remove was acknowledged must be absent; no note text
  appears that was never added (or whose add was refused), none twice.
- Attendees (add-wins set, ids reused so adds and removes race across
  regions): an attendee must be present when some acknowledged put of it
  started after every remove of it had finished (no remove can have observed
  that put); it must be absent when an acknowledged remove came after every
  put of it, all of them acknowledged earlier by the same node (the remove
  observed them all). Anything else is a legitimate race and either outcome
  is accepted. A present attendee's name was written by some put of it.
- Fields (last-writer-wins by hybrid time, then node): every acknowledged
  write shows in the case's timeline as a `fieldChanged` event (a losing
  write is still recorded; a missing one was lost); the final value is the
  last such event in timeline order, which is (hybrid time, node) order; two
  writes acknowledged one after the other by the same node are in that order
  (a node's clock never runs backwards); a refused write's value never shows.
- Escalations and troubleshooting steps: acknowledged ones are in the case.
- Availability: every write sent to a running node is acknowledged (a node
  is not running between the start and stop of a pause or crash nemesis
  that names it). Definite refusals (4xx, e.g. removing an attendee the node
  does not hold) are counted apart: they are answers, not unavailability.
- Reads: a read that misses a note its own node had acknowledged before the
  read began (and nobody removed) is a violation; missing a note written in
  another region is a stale read, only counted.
- Latency quantiles per operation, and the nemeses that ran.
"""

import argparse
import json
import math
import sys

WRITES = ("create", "set_field", "add_note", "remove_note", "put_attendee", "remove_attendee", "add_step", "escalate")
KINDS = ("invoke", "ok", "fail", "info", "nemesis")
STOPPING = ("pause", "crash")
FIELDS = ("owner", "problemStatement")
EXAMPLES = 20


class Malformed(Exception):
    """The history or the final state does not follow HISTORY.md."""


class Op:
    """One operation: its invoke and its completion (info when the history
    ends without one, as an interrupted run leaves it)."""

    __slots__ = ("i", "process", "node", "f", "case", "value", "kind", "t0", "t1", "status", "result", "error")

    def __init__(self, line):
        self.i = line["i"]
        self.process = line.get("process")
        self.node = line.get("node")
        self.f = line.get("f")
        self.case = line.get("case")
        self.value = line.get("value") or {}
        self.kind = "info"
        self.t0 = line["t"]
        self.t1 = math.inf
        self.status = None
        self.result = None
        self.error = "no completion recorded"

    def describe(self):
        return f"op {self.i} {self.f} {self.case} at {self.node} by {self.process} (t {self.t0:.3f}–{self.t1:.3f}, {self.kind})"


class Findings:
    """Counts and a few examples of each kind of violation."""

    def __init__(self):
        self.counts = {}
        self.examples = {}
        self.lost = set()

    def add(self, kind, text, lost=None):
        """`lost` names the acknowledged write a violation shows lost, so a
        write missing on every node counts once."""
        if lost is not None:
            self.lost.add((kind, lost))
        self.counts[kind] = self.counts.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < EXAMPLES:
            shown.append(text)

    def total(self):
        return sum(self.counts.values())

    def as_json(self):
        return {"violations": self.counts, "examples": self.examples}


def load_history(path):
    lines = []
    with open(path) as f:
        for number, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as error:
                raise Malformed(f"{path}:{number}: not JSON ({error})")
            lines.append(line)
    return lines


def parse_ops(lines):
    """Pairs invokes with completions; returns (ops by number, nemesis lines)."""
    ops = {}
    nemeses = []
    for number, line in enumerate(lines, 1):
        if not isinstance(line, dict) or line.get("type") not in KINDS or not isinstance(line.get("t"), (int, float)):
            raise Malformed(f"history line {number}: needs a type ({', '.join(KINDS)}) and a numeric t")
        kind = line["type"]
        if kind == "nemesis":
            if line.get("event") not in ("start", "stop", "heal-all"):
                raise Malformed(f"history line {number}: a nemesis event is start, stop or heal-all")
            nemeses.append(line)
            continue
        if not isinstance(line.get("i"), int):
            raise Malformed(f"history line {number}: an operation needs an integer i")
        if kind == "invoke":
            if line["i"] in ops:
                raise Malformed(f"history line {number}: operation {line['i']} invoked twice")
            if line.get("f") not in WRITES + ("read",):
                raise Malformed(f"history line {number}: unknown operation f={line.get('f')!r}")
            ops[line["i"]] = Op(line)
            continue
        op = ops.get(line["i"])
        if op is None:
            raise Malformed(f"history line {number}: completion of operation {line['i']}, which was never invoked")
        if op.t1 != math.inf:
            raise Malformed(f"history line {number}: operation {line['i']} completed twice")
        op.kind = kind
        op.t1 = line["t"]
        op.status = line.get("status")
        op.result = line.get("result")
        op.error = line.get("error")
    return ops, nemeses


def stopped_windows(nemeses):
    """node -> [(from, to)] while a pause or crash had it stopped."""
    windows = {}
    open_since = {}
    for line in nemeses:
        if line.get("name") not in STOPPING:
            continue
        for node in line.get("nodes") or []:
            key = (line["name"], node)
            if line["event"] == "start":
                open_since[key] = line["t"]
            elif line["event"] == "stop" and key in open_since:
                windows.setdefault(node, []).append((open_since.pop(key), line["t"]))
    for (name, node), since in open_since.items():
        windows.setdefault(node, []).append((since, math.inf))
    return windows


def node_was_stopped(op, windows):
    return any(start <= op.t1 and op.t0 <= end for start, end in windows.get(op.node, []))


def quantiles(values):
    if not values:
        return None
    ordered = sorted(values)

    def at(q):
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]
    return {"count": len(ordered), "p50_ms": round(at(0.50) * 1000, 1), "p95_ms": round(at(0.95) * 1000, 1),
            "p99_ms": round(at(0.99) * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def check_convergence(final, findings):
    nodes = final["nodes"]
    if not final.get("converged"):
        findings.add("not converged", "the digests did not agree within the quiescence window after the heal")
    digests = {node: state.get("digest") for node, state in nodes.items()}
    if len(set(digests.values())) != 1:
        findings.add("digests differ", json.dumps(digests, sort_keys=True))
    names = sorted(nodes)
    reference = nodes[names[0]]["cases"]
    for other in names[1:]:
        cases = nodes[other]["cases"]
        for case_id in sorted(set(reference) | set(cases)):
            if reference.get(case_id) != cases.get(case_id):
                findings.add("case differs between nodes", f"{case_id}: {names[0]} and {other} show it differently")
    return {"converged": bool(final.get("converged")), "convergence_seconds": final.get("convergence_seconds"),
            "digests_equal": len(set(digests.values())) == 1, "nodes": names,
            "cases_per_node": {node: len(state["cases"]) for node, state in nodes.items()}}


def by_case(ops, f):
    """case id -> the operations `f` on it, in history order."""
    grouped = {}
    for op in ops:
        if op.f == f:
            grouped.setdefault(op.case, []).append(op)
    return grouped


def note_removes(ops):
    """note id -> removes of it that may have taken effect (ok or unknown)."""
    removes = {}
    for op in ops:
        if op.f == "remove_note" and op.kind in ("ok", "info"):
            removes.setdefault(op.value.get("note_id"), []).append(op)
    return removes


def check_cases(node, cases, ops, findings):
    creates = by_case(ops, "create")
    acked = 0
    for case_id, attempts in creates.items():
        if any(op.kind == "ok" for op in attempts):
            acked += 1
            if case_id not in cases:
                findings.add("acknowledged create lost", f"{node}: {case_id} missing ({attempts[0].describe()})", lost=case_id)
        elif all(op.kind == "fail" for op in attempts) and case_id in cases:
            findings.add("refused create appeared", f"{node}: {case_id} exists though its create was refused")
    for case_id in cases:
        if case_id not in creates:
            findings.add("phantom case", f"{node}: {case_id} was never created by the workload")
    return acked


def check_notes(node, cases, ops, findings):
    adds = {op.value.get("text"): op for op in ops if op.f == "add_note"}
    adds_by_case = by_case(ops, "add_note")
    removes = note_removes(ops)
    for case_id, case in cases.items():
        seen_ids = set()
        seen_texts = set()
        for note in case.get("notes", []):
            text, note_id = note.get("text"), note.get("id")
            if note_id in seen_ids or text in seen_texts:
                findings.add("duplicate note", f"{node}: {case_id} shows note {text!r} more than once")
            seen_ids.add(note_id)
            seen_texts.add(text)
            add = adds.get(text)
            if add is None or add.case != case_id:
                findings.add("phantom note", f"{node}: {case_id} shows note {text!r}, never added to it")
            elif add.kind == "fail":
                findings.add("refused note appeared", f"{node}: {case_id} shows note {text!r} whose add was refused")
            removed = removes.get(note_id, [])
            if any(op.kind == "ok" for op in removed):
                findings.add("removed note present", f"{node}: {case_id} still shows note {text!r} after {removed[0].describe()}")
        for add in adds_by_case.get(case_id, []):
            if add.kind != "ok":
                continue
            text, note_id = add.value.get("text"), (add.result or {}).get("note_id")
            if text not in seen_texts and not removes.get(note_id):
                findings.add("acknowledged note lost", f"{node}: {case_id} lacks note {text!r} ({add.describe()}), never removed", lost=add.i)


def check_attendees(node, cases, ops, findings):
    puts, removes = {}, {}
    for op in ops:
        if op.f == "put_attendee":
            puts.setdefault((op.case, op.value.get("attendee_id")), []).append(op)
        elif op.f == "remove_attendee":
            removes.setdefault((op.case, op.value.get("attendee_id")), []).append(op)
    decided = {"must_be_present": 0, "must_be_absent": 0, "either": 0}
    for case_id, case in cases.items():
        present = {}
        for attendee in case.get("attendees", []):
            if attendee.get("id") in present:
                findings.add("duplicate attendee", f"{node}: {case_id} shows attendee {attendee.get('id')} twice")
            present[attendee.get("id")] = attendee
        keys = {key for key in list(puts) + list(removes) if key[0] == case_id} | {(case_id, a) for a in present}
        for key in sorted(keys, key=str):
            attendee_id = key[1]
            tried = [op for op in puts.get(key, []) if op.kind in ("ok", "info")]
            refused_names = {op.value.get("name") for op in puts.get(key, []) if op.kind == "fail"}
            effective_removes = [op for op in removes.get(key, []) if op.kind in ("ok", "info")]
            if attendee_id in present:
                name = present[attendee_id].get("name")
                if not tried:
                    findings.add("phantom attendee", f"{node}: {case_id} shows {attendee_id}, never put")
                elif name not in {op.value.get("name") for op in tried}:
                    kind = "refused attendee write appeared" if name in refused_names else "phantom attendee name"
                    findings.add(kind, f"{node}: {case_id} shows {attendee_id} named {name!r}")
            # A remove with an unknown outcome may still be served later
            # (a request to a paused node runs after the resume): it never ends.
            must_present = any(p.kind == "ok" and all(r.kind == "ok" and r.t1 < p.t0 for r in effective_removes) for p in tried)
            must_absent = any(r.kind == "ok" and all(p.kind == "ok" and p.node == r.node and p.t1 < r.t0 for p in tried)
                              for r in effective_removes)
            if must_present:
                decided["must_be_present"] += 1
                if attendee_id not in present:
                    findings.add("acknowledged attendee lost", f"{node}: {case_id} lacks {attendee_id}, put after every remove of it", lost=key)
            elif must_absent:
                decided["must_be_absent"] += 1
                if attendee_id in present:
                    findings.add("removed attendee present", f"{node}: {case_id} shows {attendee_id} after a remove that observed every put")
            else:
                decided["either"] += 1
    return decided


def check_fields(node, cases, ops, findings):
    writes = {}
    for op in ops:
        if op.f == "set_field":
            writes.setdefault((op.case, op.value.get("field")), []).append(op)
        elif op.f == "create":
            for field in FIELDS:
                if field in (op.value.get("fields") or {}):
                    writes.setdefault((op.case, field), []).append(op)

    def written(op, field):
        return op.value.get("value") if op.f == "set_field" else op.value["fields"][field]

    for case_id, case in cases.items():
        timeline = case.get("timeline", [])
        previous = None
        for event in timeline:
            stamp = (event.get("at"), event.get("node"))
            if previous is not None and stamp[0] is not None and previous[0] is not None and stamp[0] < previous[0]:
                findings.add("timeline out of order", f"{node}: {case_id} has an event at {stamp} after one at {previous}")
            previous = stamp
        for field in FIELDS:
            ops_here = writes.get((case_id, field), [])
            changes = [event.get("to") for event in timeline if event.get("kind") == "fieldChanged" and event.get("field") == field]
            position = {value: index for index, value in enumerate(changes)}
            tried = {written(op, field): op for op in ops_here if op.kind in ("ok", "info")}
            refused = {written(op, field) for op in ops_here if op.kind == "fail"}
            final = (case.get("fields") or {}).get(field)
            creates = [op for op in ops_here if op.f == "create"]
            expected = changes[-1] if changes else (written(creates[0], field) if creates else None)
            if final != expected:
                findings.add("wrong field winner", f"{node}: {case_id}.{field} is {final!r}, the last write in hybrid-time order is {expected!r}")
            if final is not None and final not in tried:
                kind = "refused field write appeared" if final in refused else "phantom field value"
                findings.add(kind, f"{node}: {case_id}.{field} is {final!r}")
            for value in changes:
                if value in refused:
                    findings.add("refused field write appeared", f"{node}: {case_id}.{field} timeline shows {value!r}")
                elif value not in tried:
                    findings.add("phantom field value", f"{node}: {case_id}.{field} timeline shows {value!r}, never written")
            acked = [op for op in ops_here if op.kind == "ok" and op.f == "set_field"]
            for op in acked:
                if written(op, field) not in position:
                    findings.add("acknowledged field write lost", f"{node}: {case_id}.{field}={written(op, field)!r} missing from the timeline ({op.describe()})", lost=op.i)
            for first in acked:
                for second in acked:
                    if first.node == second.node and first.t1 < second.t0:
                        a, b = position.get(written(first, field)), position.get(written(second, field))
                        if a is not None and b is not None and a > b:
                            findings.add("same-node writes out of order",
                                         f"{node}: {case_id}.{field}: {written(second, field)!r} sorts before the earlier {written(first, field)!r} from {first.node}")


def check_escalations(node, cases, ops, findings):
    for op in ops:
        if op.kind != "ok" or op.f not in ("add_step", "escalate"):
            continue
        case = cases.get(op.case)
        if case is None:
            continue  # reported as a lost create
        if op.f == "add_step":
            if not any(step.get("action") == op.value.get("action") for step in case.get("troubleshooting", [])):
                findings.add("acknowledged step lost", f"{node}: {op.case} lacks step {op.value.get('action')!r} ({op.describe()})", lost=op.i)
        elif case.get("escalationLevel") != op.value.get("level"):
            findings.add("acknowledged escalation lost", f"{node}: {op.case} is at {case.get('escalationLevel')!r}, escalated to {op.value.get('level')!r} ({op.describe()})", lost=op.i)


def check_availability(ops, windows, findings):
    counted = {"ok": 0, "info": 0, "fail": 0}
    stopped = {"ok": 0, "info": 0, "fail": 0}
    refusals = {}
    per_node = {}
    for op in ops:
        if op.f not in WRITES or op.process == "setup":
            continue
        if node_was_stopped(op, windows):
            stopped[op.kind] += 1
            continue
        counted[op.kind] += 1
        entry = per_node.setdefault(op.node, {"ok": 0, "info": 0, "fail": 0})
        entry[op.kind] += 1
        if op.kind == "fail":
            reason = f"{op.f}: {op.status} {op.error}"
            refusals[reason] = refusals.get(reason, 0) + 1
        elif op.kind == "info":
            findings.add("write to a running node not acknowledged", f"{op.describe()}: {op.status} {op.error}")
    answered = counted["ok"] + counted["info"]
    return {"writes_to_running_nodes": counted, "ok_fraction": (counted["ok"] / answered) if answered else None,
            "per_node": per_node, "refusals": refusals, "writes_to_stopped_nodes": stopped}


def isolation_sides(ops, nemeses):
    """Writes that began and ended while one node was cut off from the others
    (an `isolate` nemesis, from when its rules were in place), split into the cut-off node's and the other two's:
    the figure that tells an available store from a quorum store (which
    cannot write on the minority side). Reported, not judged: the
    availability check above already covers every running node."""
    windows, began = [], {}
    for line in nemeses:
        if line.get("name") != "isolate" or not line.get("nodes"):
            continue
        lone = line["nodes"][0]
        if line["event"] == "start":
            began[lone] = line.get("in_effect", line["t"])
        elif line["event"] == "stop" and lone in began:
            windows.append((began.pop(lone), line["t"], lone))
    sides = {"isolated": {"ok": 0, "fail": 0, "info": 0}, "majority": {"ok": 0, "fail": 0, "info": 0}}
    for op in ops:
        if op.f not in WRITES or op.process == "setup":
            continue
        for start, stop, lone in windows:
            if start <= op.t0 and op.t1 <= stop:
                sides["isolated" if op.node == lone else "majority"][op.kind] += 1
                break
    for counts in sides.values():
        answered = counts["ok"] + counts["info"]
        counts["ok_fraction"] = counts["ok"] / answered if answered else None
    return {"windows": len(windows), **sides}


def check_reads(ops, findings):
    adds_by_case = by_case([op for op in ops if op.kind == "ok"], "add_note")
    removes = note_removes(ops)
    reads = [op for op in ops if op.f == "read" and op.kind == "ok"]
    stale = 0
    for read in reads:
        shown = set((read.result or {}).get("notes", []))
        stale_here = False
        for add in adds_by_case.get(read.case, []):
            if add.t1 >= read.t0 or add.value.get("text") in shown:
                continue
            if any(r.t0 < read.t1 for r in removes.get((add.result or {}).get("note_id"), [])):
                continue
            if add.node == read.node:
                findings.add("read missed its own node's write", f"{read.describe()} lacks {add.value.get('text')!r} acknowledged by {add.node} at {add.t1:.3f}")
            else:
                stale_here = True
        stale += stale_here
    return {"reads": len(reads), "stale_reads": stale,
            "stale_fraction": (stale / len(reads)) if reads else None}


def check(lines, final):
    """The whole judgement: returns the report (a dict; `valid` says it all)."""
    if not isinstance(final, dict) or not isinstance(final.get("nodes"), dict) or not final["nodes"]:
        raise Malformed("final state: needs a non-empty `nodes` object")
    for node, state in final["nodes"].items():
        if not isinstance(state, dict) or not isinstance(state.get("cases"), dict):
            raise Malformed(f"final state: node {node} needs a `cases` object")
    ops_by_number, nemeses = parse_ops(lines)
    ops = sorted(ops_by_number.values(), key=lambda op: op.i)
    windows = stopped_windows(nemeses)
    findings = Findings()
    report = {"convergence": check_convergence(final, findings)}
    # Every node is judged on its own; the counts reported are the first node's.
    counted = {}
    for node, state in sorted(final["nodes"].items()):
        cases = state["cases"]
        acked_creates = check_cases(node, cases, ops, findings)
        check_notes(node, cases, ops, findings)
        attendees = check_attendees(node, cases, ops, findings)
        counted.setdefault("creates", acked_creates)
        counted.setdefault("attendees", attendees)
        check_fields(node, cases, ops, findings)
        check_escalations(node, cases, ops, findings)
    report["availability"] = check_availability(ops, windows, findings)
    report["availability"]["during_isolation"] = isolation_sides(ops, nemeses)
    report["reads"] = check_reads(ops, findings)
    counts = {}
    for op in ops:
        entry = counts.setdefault(op.f, {"ok": 0, "fail": 0, "info": 0})
        entry[op.kind] += 1
    report["operations"] = counts
    report["attendee_outcomes"] = counted["attendees"]
    report["acknowledged_creates"] = counted["creates"]
    report["latency"] = {f: quantiles([op.t1 - op.t0 for op in ops if op.f == f and op.kind == "ok"]) for f in sorted(counts)}
    started = {}
    for line in nemeses:
        if line["event"] == "start":
            started[line.get("name")] = started.get(line.get("name"), 0) + 1
    report["nemeses"] = started
    report["healed"] = any(line["event"] == "heal-all" for line in nemeses)
    if not report["healed"]:
        findings.add("no final heal", "the history has no heal-all line: the run did not finish")
    report.update(findings.as_json())
    report["lost"] = len(findings.lost)
    report["valid"] = findings.total() == 0
    return report


def side_summary(isolation):
    """`isolated node 1.000 (n of n), other nodes 1.000 (n of n)`."""
    parts = []
    for side, label in (("isolated", "cut-off node"), ("majority", "other nodes")):
        counts = isolation[side]
        fraction = counts["ok_fraction"]
        shown = "n/a" if fraction is None else f"{fraction:.3f}"
        parts.append(f"{label} {shown} ({counts['ok']} of {counts['ok'] + counts['info']})")
    return ", ".join(parts)


def summary(report):
    """The table a person reads after a run."""
    rows = []
    conv = report["convergence"]
    seconds = conv["convergence_seconds"]
    rows.append(("converged", f"yes, {seconds:.2f} s after the heal" if conv["converged"] and seconds is not None else "NO"))
    rows.append(("digests equal", "yes" if conv["digests_equal"] else "NO"))
    rows.append(("cases per node", ", ".join(f"{n} {c}" for n, c in sorted(conv["cases_per_node"].items()))))
    ops = report["operations"]
    for f in sorted(ops):
        entry = ops[f]
        latency = report["latency"].get(f)
        timing = f"; p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms" if latency else ""
        rows.append((f"  {f}", f"ok {entry['ok']}, fail {entry['fail']}, unknown {entry['info']}{timing}"))
    avail = report["availability"]
    fraction = avail["ok_fraction"]
    rows.append(("ok-fraction (running nodes)", "n/a" if fraction is None else f"{fraction:.4f} "
                 f"({avail['writes_to_running_nodes']['ok']} of {avail['writes_to_running_nodes']['ok'] + avail['writes_to_running_nodes']['info']})"))
    isolation = avail.get("during_isolation") or {}
    if isolation.get("windows"):
        rows.append(("writes while isolated", side_summary(isolation)))
    stopped = avail["writes_to_stopped_nodes"]
    rows.append(("writes to stopped nodes", f"ok {stopped['ok']}, unknown {stopped['info']}, fail {stopped['fail']} (not counted)"))
    if avail["refusals"]:
        rows.append(("refusals (4xx)", "; ".join(f"{k} ×{v}" for k, v in sorted(avail["refusals"].items()))))
    outcomes = report["attendee_outcomes"]
    rows.append(("attendee outcomes checked", f"must be present {outcomes.get('must_be_present', 0)}, must be absent {outcomes.get('must_be_absent', 0)}, racing {outcomes.get('either', 0)}"))
    reads = report["reads"]
    rows.append(("stale reads", f"{reads['stale_reads']} of {reads['reads']} (another region's write not yet seen)"))
    rows.append(("nemeses", ", ".join(f"{k} ×{v}" for k, v in sorted(report["nemeses"].items())) or "none"))
    rows.append(("lost acknowledged writes", str(report["lost"])))
    for kind, count in sorted(report["violations"].items()):
        rows.append((f"VIOLATION {kind}", f"{count}; e.g. {report['examples'][kind][0]}"))
    rows.append(("verdict", "VALID" if report["valid"] else "INVALID"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Checks a chaos run's history against the nodes' final state.")
    parser.add_argument("--history", required=True, help="history.jsonl written by the harness")
    parser.add_argument("--final", required=True, help="final.json written by the harness")
    parser.add_argument("--out", help="where to write the report (JSON)")
    args = parser.parse_args(argv)
    try:
        lines = load_history(args.history)
        with open(args.final) as f:
            try:
                final = json.load(f)
            except json.JSONDecodeError as error:
                raise Malformed(f"{args.final}: not JSON ({error})")
        report = check(lines, final)
    except (Malformed, OSError) as error:
        print(f"checker: {error}", file=sys.stderr)
        return 2
    print(summary(report))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
