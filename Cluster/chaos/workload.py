"""The client workload that runs during the faults, and the history it
records (format: HISTORY.md).

Two workers per node send every request to their own node — an engineer in
a region works against the region's node — and mix creates, field updates,
note adds and removes, attendee puts and removes, troubleshooting steps,
escalations and reads. Most operations target a few shared cases that exist
on every node before the faults start, so the regions write the same cases
concurrently through partitions (LWW conflicts, add/remove races); the rest
target cases the worker created itself. Every written value and note text is
unique in the run, which lets the checker tell writes apart.
"""

import http.client
import json
import random
import threading
import time

import nodes as nodes_module

TIMEOUT = 3.0
ATTENDEE_POOL = 4


class History:
    """The run's history, appended to a JSONL file as it happens (so an
    interrupted run still leaves what it did) and kept in memory."""

    def __init__(self, path, start):
        self.path = path
        self.start = start
        self.lines = []
        self.lock = threading.Lock()
        self.file = open(path, "w")
        self.next_index = 0

    def now(self):
        return round(time.monotonic() - self.start, 6)

    def append(self, line):
        with self.lock:
            line.setdefault("t", self.now())
            self.lines.append(line)
            self.file.write(json.dumps(line, sort_keys=True) + "\n")
            self.file.flush()

    def invoke(self, process, node, f, case, value):
        with self.lock:
            index = self.next_index
            self.next_index += 1
        self.append({"i": index, "type": "invoke", "process": process, "node": node, "f": f, "case": case, "value": value})
        return index

    def complete(self, index, kind, process, node, f, case, value, status=None, result=None, error=None):
        line = {"i": index, "type": kind, "process": process, "node": node, "f": f, "case": case, "value": value, "status": status}
        if result is not None:
            line["result"] = result
        if error is not None:
            line["error"] = error
        self.append(line)

    def nemesis(self, event, name=None, nodes=None, detail=None, t=None, in_effect=None):
        line = {"type": "nemesis", "event": event}
        if t is not None:
            line["t"] = t
        if in_effect is not None:
            line["in_effect"] = in_effect
        if name is not None:
            line["name"] = name
        if nodes is not None:
            line["nodes"] = nodes
        if detail is not None:
            line["detail"] = detail
        self.append(line)

    def close(self):
        self.file.close()


class Worker(threading.Thread):
    """One client, bound to one node, running until `stop` is set."""

    def __init__(self, name, node, cluster, history, shared_cases, rng, stop):
        super().__init__(name=name, daemon=True)
        self.process = name
        self.node = node
        self.cluster = cluster
        self.history = history
        self.shared = shared_cases
        self.rng = rng
        self.stop = stop
        self.counter = 0
        self.own_cases = []
        self.my_notes = {}  # case id -> note ids this worker added (ok) and has not removed
        self.escalated = set()
        self.my_attendees = {}  # case id -> attendee ids this worker put (ok) through its node

    def unique(self, prefix):
        self.counter += 1
        return f"{prefix}-{self.process}-{self.counter}"

    def call(self, f, case, value, method, path, body=None):
        """Sends one request and records invoke and completion."""
        index = self.history.invoke(self.process, self.node.id, f, case, value)
        try:
            status, answer = nodes_module.request(self.node.api, method, path, self.cluster.token, body, timeout=TIMEOUT)
        except (OSError, http.client.HTTPException) as error:
            self.history.complete(index, "info", self.process, self.node.id, f, case, value, error=f"{type(error).__name__}: {error}")
            # A node that is down refuses at once: do not spin against it.
            time.sleep(0.2)
            return None
        if 200 <= status < 300:
            result = self.result_of(f, answer)
            self.history.complete(index, "ok", self.process, self.node.id, f, case, value, status=status, result=result)
            return answer
        code = (answer or {}).get("error", {}).get("code") if isinstance(answer, dict) else None
        kind = "info" if status >= 500 else "fail"
        self.history.complete(index, kind, self.process, self.node.id, f, case, value, status=status, error=code or f"HTTP {status}")
        return None

    @staticmethod
    def result_of(f, answer):
        if f == "add_note":
            return {"note_id": answer.get("id")} if isinstance(answer, dict) else {}
        if f == "read" and isinstance(answer, dict):
            return {"notes": [n["text"] for n in answer.get("notes", [])],
                    "attendees": [a["id"] for a in answer.get("attendees", [])],
                    "fields": {k: answer.get("fields", {}).get(k) for k in ("owner", "problemStatement")}}
        return None

    def pick_case(self):
        if self.own_cases and self.rng.random() < 0.4:
            return self.rng.choice(self.own_cases)
        return self.rng.choice(self.shared)

    def step(self):
        roll = self.rng.random()
        if roll < 0.08 or not self.shared:
            case = self.unique("case").replace("case-", "c-")
            # A complete escalation request, so the case can be escalated later.
            body = {"id": case, "title": self.unique("title"), "customer": "Contoso Pharma AG", "product": "Billing Suite",
                    "severity": self.rng.choice(["sev1", "sev2", "sev3", "sev4"]), "problemStatement": self.unique("p"),
                    "businessImpact": "Invoices cannot be sent", "workaround": "none", "criticalMilestone": "2030-01-01T00:00:00Z"}
            if self.call("create", case, {"fields": body}, "POST", "/v1/cases", body) is not None:
                self.own_cases.append(case)
            return
        case = self.pick_case()
        if roll < 0.33:
            field = self.rng.choice(["owner", "problemStatement"])
            value = self.unique("o" if field == "owner" else "p")
            self.call("set_field", case, {"field": field, "value": value}, "PATCH", f"/v1/cases/{case}", {field: value})
        elif roll < 0.55:
            text = self.unique("note")
            answer = self.call("add_note", case, {"text": text}, "POST", f"/v1/cases/{case}/notes", {"text": text, "visibility": "internal"})
            if answer is not None and answer.get("id"):
                self.my_notes.setdefault(case, []).append(answer["id"])
        elif roll < 0.63:
            candidates = [c for c, ids in self.my_notes.items() if ids]
            if not candidates:
                return
            note_case = self.rng.choice(candidates)
            note = self.my_notes[note_case].pop(self.rng.randrange(len(self.my_notes[note_case])))
            self.call("remove_note", note_case, {"note_id": note}, "DELETE", f"/v1/cases/{note_case}/notes/{note}")
        elif roll < 0.76:
            attendee = f"att-{self.rng.randrange(ATTENDEE_POOL)}"
            name = self.unique("A")
            body = {"name": name, "email": f"{attendee}@example.com", "role": "customer"}
            if self.call("put_attendee", case, {"attendee_id": attendee, "name": name}, "PUT", f"/v1/cases/{case}/attendees/{attendee}", body) is not None:
                self.my_attendees.setdefault(case, set()).add(attendee)
        elif roll < 0.85:
            # Removes what this node has shown present (another region may
            # be adding the same attendee at the same time: add wins).
            candidates = [c for c, ids in self.my_attendees.items() if ids]
            if not candidates:
                return
            case = self.rng.choice(candidates)
            attendee = self.rng.choice(sorted(self.my_attendees[case]))
            self.my_attendees[case].discard(attendee)
            self.call("remove_attendee", case, {"attendee_id": attendee}, "DELETE", f"/v1/cases/{case}/attendees/{attendee}")
        elif roll < 0.93:
            self.call("read", case, {}, "GET", f"/v1/cases/{case}")
        elif self.own_cases:
            own = [c for c in self.own_cases if c not in self.escalated]
            if not own:
                return
            target = self.rng.choice(own)
            self.escalated.add(target)
            step = {"level": "l1", "action": self.unique("step"), "outcome": "reproduced"}
            if self.call("add_step", target, step, "POST", f"/v1/cases/{target}/troubleshooting", step) is not None:
                body = {"level": "l2", "reason": self.unique("reason")}
                self.call("escalate", target, body, "POST", f"/v1/cases/{target}/escalate", body)

    def run(self):
        while not self.stop.is_set():
            self.step()
            time.sleep(self.rng.uniform(0.005, 0.02))


def create_shared_cases(cluster, history, count, rng):
    """Cases every node holds before the faults start (created at the first
    node, then awaited on all), so that all regions can write them at once."""
    first = cluster.nodes[0]
    ids = []
    for n in range(count):
        case = f"shared-{n + 1}"
        body = {"id": case, "title": f"Shared escalation {n + 1}", "customer": "Northwind Traders", "product": "Identity Gateway",
                "severity": rng.choice(["sev1", "sev2"])}
        index = history.invoke("setup", first.id, "create", case, {"fields": body})
        status, answer = nodes_module.request(first.api, "POST", "/v1/cases", cluster.token, body, timeout=10.0)
        if status not in (200, 201):
            raise RuntimeError(f"creating shared case {case} failed: {status} {answer}")
        history.complete(index, "ok", "setup", first.id, "create", case, {"fields": body}, status=status)
        ids.append(case)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(cluster.case(node, ids[-1]) is not None for node in cluster.nodes):
            return ids
        time.sleep(0.2)
    raise RuntimeError("the shared cases did not reach every node within 30 s")
