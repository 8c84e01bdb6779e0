"""Unit tests of the chaos checker (checker.py) on small synthetic histories
and final states: every rule of its docstring gets a run that breaks it
(and, where the rule has a boundary, a run just inside it that must pass),
plus the malformed-input handling, the command line and the summary.

Run from the repository root:

    python3 -m unittest Cluster/chaos/test_checker.py -v
"""

import contextlib
import copy
import io
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checker  # noqa: E402

NODES = ("emea", "amer", "apac")
HEAL = {"type": "nemesis", "t": 1000.0, "event": "heal-all"}
STATUS = {"ok": 200, "fail": 409, "info": None}


class History:
    """A history.jsonl as a list of lines, built one operation at a time."""

    def __init__(self):
        self.lines = []

    def op(self, f, t0, t1, node="emea", kind="ok", case="c1", value=None, result=None, process=None, status=None,
           error=None):
        """Appends an invoke at t0 and its completion (`kind`) at t1."""
        i = sum(1 for line in self.lines if line["type"] == "invoke") + 1
        base = {"i": i, "process": process or f"{node}-1", "node": node, "f": f, "case": case, "value": value or {}}
        self.lines.append(dict(base, type="invoke", t=t0))
        done = dict(base, type=kind, t=t1, status=status if status is not None else STATUS[kind])
        if kind == "ok":
            done["result"] = result or {}
        else:
            done["error"] = error or ("refused" if kind == "fail" else "timed out")
        self.lines.append(done)
        return self

    def nemesis(self, name, node, start, stop=None):
        """A fault naming `node` from `start` to `stop` (never stopped when None)."""
        self.lines.append({"type": "nemesis", "t": start, "event": "start", "name": name, "nodes": [node], "detail": "test"})
        if stop is not None:
            self.lines.append({"type": "nemesis", "t": stop, "event": "stop", "name": name, "nodes": [node]})
        return self

    # The workload's operations, with the value shapes of HISTORY.md.
    def add_note(self, text, note_id, t0, t1, **kw):
        return self.op("add_note", t0, t1, value={"text": text}, result={"note_id": note_id}, **kw)

    def remove_note(self, note_id, t0, t1, **kw):
        return self.op("remove_note", t0, t1, value={"note_id": note_id}, **kw)

    def put(self, attendee, name, t0, t1, **kw):
        return self.op("put_attendee", t0, t1, value={"attendee_id": attendee, "name": name}, **kw)

    def remove(self, attendee, t0, t1, **kw):
        return self.op("remove_attendee", t0, t1, value={"attendee_id": attendee}, **kw)

    def set_field(self, field, value, t0, t1, **kw):
        return self.op("set_field", t0, t1, value={"field": field, "value": value}, **kw)

    def read(self, notes, t0, t1, **kw):
        return self.op("read", t0, t1, result={"notes": notes, "attendees": [], "fields": {}}, **kw)


def new_case(problem="p0", **extra):
    """A case's API JSON as a node returns it right after its create."""
    case = {"fields": {"title": "Printer on fire", "problemStatement": problem}, "notes": [], "attendees": [],
            "timeline": [{"kind": "created", "at": 0.1, "node": "emea"}], "troubleshooting": [], "escalationLevel": "l1"}
    case.update(extra)
    return case


def changed(field, to, at, node="emea"):
    return {"kind": "fieldChanged", "field": field, "to": to, "at": at, "node": node}


def final_state(cases, converged=True):
    """final.json with the three nodes holding identical copies of `cases`."""
    return {"heal_t": HEAL["t"], "converged": converged, "convergence_seconds": 0.5 if converged else None,
            "nodes": {node: {"digest": "d1", "cases": copy.deepcopy(cases)} for node in NODES}}


class CheckerTest(unittest.TestCase):
    """Each test starts from case c1, created (acknowledged) by emea at t 0–0.5
    with problemStatement p0, adds operations to self.history and edits
    self.case (what every node shows) to match or break a rule."""

    def setUp(self):
        self.history = History().op("create", 0.0, 0.5, value={"fields": {"title": "Printer on fire", "problemStatement": "p0"}})
        self.case = new_case()

    def run_check(self, final=None, heal=True):
        lines = self.history.lines + ([HEAL] if heal else [])
        return checker.check(lines, final if final is not None else final_state({"c1": self.case}))

    def assertValid(self, report):
        self.assertEqual(report["violations"], {}, checker.summary(report))
        self.assertTrue(report["valid"])

    def assertViolation(self, report, kind):
        self.assertIn(kind, report["violations"], checker.summary(report))
        self.assertFalse(report["valid"])


class Clean(CheckerTest):
    def test_clean_history_is_valid(self):
        h = self.history
        h.add_note("first look", "n1", 1, 2).put("att-1", "Ana", 1, 2, node="amer")
        h.set_field("owner", "o1", 2, 3, node="apac").op("add_step", 3, 4, value={"level": "l1", "action": "s1", "outcome": "reproduced"})
        h.op("escalate", 4, 5, value={"level": "l2", "reason": "r1"}).read(["first look"], 6, 7)
        self.case.update(notes=[{"id": "n1", "text": "first look"}], attendees=[{"id": "att-1", "name": "Ana"}],
                         troubleshooting=[{"action": "s1"}], escalationLevel="l2")
        self.case["fields"]["owner"] = "o1"
        self.case["timeline"].append(changed("owner", "o1", 2.5, "apac"))
        report = self.run_check()
        self.assertValid(report)
        self.assertEqual(report["lost"], 0)
        self.assertEqual(report["availability"]["ok_fraction"], 1.0)
        self.assertTrue(report["healed"])
        self.assertEqual(report["acknowledged_creates"], 1)


class Convergence(CheckerTest):
    def test_not_converged(self):
        self.assertViolation(self.run_check(final_state({"c1": self.case}, converged=False)), "not converged")

    def test_digests_differ(self):
        final = final_state({"c1": self.case})
        final["nodes"]["apac"]["digest"] = "d2"
        self.assertViolation(self.run_check(final), "digests differ")

    def test_case_shown_differently_by_one_node(self):
        final = final_state({"c1": self.case})
        final["nodes"]["amer"]["cases"]["c1"]["fields"]["title"] = "Printer fixed"
        report = self.run_check(final)
        self.assertViolation(report, "case differs between nodes")
        self.assertEqual(set(report["violations"]), {"case differs between nodes"})


class Cases(CheckerTest):
    def test_acknowledged_create_missing(self):
        report = self.run_check(final_state({}))
        self.assertViolation(report, "acknowledged create lost")
        self.assertGreaterEqual(report["lost"], 1)

    def test_phantom_case(self):
        self.assertViolation(self.run_check(final_state({"c1": self.case, "c9": new_case()})), "phantom case")

    def test_refused_create_present(self):
        self.history.op("create", 1, 2, case="c2", kind="fail", value={"fields": {"title": "t"}})
        self.assertViolation(self.run_check(final_state({"c1": self.case, "c2": new_case(None)})), "refused create appeared")


class Notes(CheckerTest):
    def test_acknowledged_add_lost(self):
        self.history.add_note("a", "n1", 1, 2)
        report = self.run_check()
        self.assertViolation(report, "acknowledged note lost")
        self.assertGreaterEqual(report["lost"], 1)

    # One write lost on all three nodes is one lost write.
    def test_one_lost_write_counts_once(self):
        self.history.add_note("a", "n1", 1, 2)
        self.assertEqual(self.run_check()["lost"], 1)

    def test_removed_note_present(self):
        self.history.add_note("a", "n1", 1, 2).remove_note("n1", 3, 4, node="amer")
        self.case["notes"] = [{"id": "n1", "text": "a"}]
        self.assertViolation(self.run_check(), "removed note present")

    def test_note_removed_by_unknown_outcome_may_be_absent(self):
        # The info remove goes to a paused node, so availability stays clean too.
        self.history.add_note("a", "n1", 1, 2).remove_note("n1", 3, 4, node="amer", kind="info").nemesis("pause", "amer", 2.5, 5)
        self.assertValid(self.run_check())

    def test_phantom_note(self):
        self.case["notes"] = [{"id": "n9", "text": "ghost"}]
        self.assertViolation(self.run_check(), "phantom note")

    def test_duplicate_note(self):
        self.history.add_note("a", "n1", 1, 2)
        self.case["notes"] = [{"id": "n1", "text": "a"}, {"id": "n2", "text": "a"}]
        self.assertViolation(self.run_check(), "duplicate note")

    def test_refused_add_present(self):
        self.history.add_note("b", None, 1, 2, kind="fail")
        self.case["notes"] = [{"id": "n2", "text": "b"}]
        self.assertViolation(self.run_check(), "refused note appeared")


class Attendees(CheckerTest):
    def test_put_after_every_remove_must_be_present(self):
        self.history.put("att-1", "Ana", 1, 2).remove("att-1", 3, 4).put("att-1", "Bo", 5, 6, node="amer")
        report = self.run_check()
        self.assertViolation(report, "acknowledged attendee lost")
        self.assertEqual(report["attendee_outcomes"]["must_be_present"], 1)
        self.case["attendees"] = [{"id": "att-1", "name": "Bo"}]
        self.assertValid(self.run_check())

    def test_remove_after_all_puts_by_same_node_must_be_absent(self):
        self.history.put("att-1", "Ana", 1, 2).put("att-1", "Bo", 2, 3).remove("att-1", 4, 5)
        self.assertValid(self.run_check())
        self.case["attendees"] = [{"id": "att-1", "name": "Bo"}]
        report = self.run_check()
        self.assertViolation(report, "removed attendee present")
        self.assertEqual(report["attendee_outcomes"]["must_be_absent"], 1)

    def test_put_on_other_node_racing_remove_accepts_either_outcome(self):
        # Bo's put on amer overlaps the remove, or finished just before it
        # (not yet replicated to emea when the remove ran there).
        for put_t0, put_t1 in ((3, 5), (2, 3)):
            with self.subTest(put=(put_t0, put_t1)):
                self.setUp()
                self.history.put("att-1", "Ana", 1, 2).put("att-1", "Bo", put_t0, put_t1, node="amer").remove("att-1", 4, 6)
                self.assertValid(self.run_check())
                self.case["attendees"] = [{"id": "att-1", "name": "Bo"}]
                report = self.run_check()
                self.assertValid(report)
                self.assertEqual(report["attendee_outcomes"], {"must_be_present": 0, "must_be_absent": 0, "either": 1})

    def test_phantom_attendee(self):
        self.case["attendees"] = [{"id": "att-7", "name": "Zed"}]
        self.assertViolation(self.run_check(), "phantom attendee")

    def test_name_from_refused_put(self):
        self.history.put("att-1", "Ana", 1, 2).put("att-1", "Bo", 3, 4, kind="fail")
        self.case["attendees"] = [{"id": "att-1", "name": "Bo"}]
        self.assertViolation(self.run_check(), "refused attendee write appeared")

    # A remove whose outcome is unknown may still be applied later (a request
    # to a paused node is served after the resume) and observe a later put.
    def test_remove_with_unknown_outcome_never_finishes(self):
        self.history.nemesis("pause", "emea", 0.8, 5)
        self.history.put("att-1", "Ana", 0.6, 0.7).remove("att-1", 1, 2, kind="info").put("att-1", "Bo", 3, 4, node="amer")
        self.assertValid(self.run_check())  # absent: the late remove observed Bo's put


class Fields(CheckerTest):
    def two_owner_writes(self, second_node, kind="ok"):
        self.history.set_field("owner", "o1", 1, 2).set_field("owner", "o2", 3, 4, node=second_node, kind=kind)

    def test_final_value_not_last_in_timeline(self):
        self.two_owner_writes("amer")
        self.case["timeline"] += [changed("owner", "o1", 1.5), changed("owner", "o2", 3.5, "amer")]
        self.case["fields"]["owner"] = "o1"
        self.assertViolation(self.run_check(), "wrong field winner")
        self.case["fields"]["owner"] = "o2"
        self.assertValid(self.run_check())

    def test_acknowledged_write_missing_from_timeline(self):
        self.two_owner_writes("amer")
        self.case["timeline"].append(changed("owner", "o2", 3.5, "amer"))
        self.case["fields"]["owner"] = "o2"
        report = self.run_check()
        self.assertViolation(report, "acknowledged field write lost")
        self.assertGreaterEqual(report["lost"], 1)

    def test_refused_write_visible(self):
        self.two_owner_writes("amer", kind="fail")
        self.case["timeline"] += [changed("owner", "o1", 1.5), changed("owner", "o2", 3.5, "amer")]
        self.case["fields"]["owner"] = "o2"
        self.assertViolation(self.run_check(), "refused field write appeared")

    def test_same_node_writes_in_reverse_order(self):
        self.two_owner_writes("emea")
        self.case["timeline"] += [changed("owner", "o2", 1.5), changed("owner", "o1", 3.5)]
        self.case["fields"]["owner"] = "o1"
        self.assertViolation(self.run_check(), "same-node writes out of order")

    def test_writes_of_two_nodes_may_sort_either_way(self):
        self.two_owner_writes("amer")
        self.case["timeline"] += [changed("owner", "o2", 1.5, "amer"), changed("owner", "o1", 1.6)]
        self.case["fields"]["owner"] = "o1"
        self.assertValid(self.run_check())

    def test_create_value_is_initial_without_field_changes(self):
        self.assertValid(self.run_check())
        self.case["fields"]["problemStatement"] = "p-other"
        self.assertViolation(self.run_check(), "wrong field winner")


class Escalations(CheckerTest):
    def test_acknowledged_step_missing(self):
        self.history.op("add_step", 1, 2, value={"level": "l1", "action": "s1", "outcome": "reproduced"})
        self.assertViolation(self.run_check(), "acknowledged step lost")

    def test_acknowledged_escalation_still_l1(self):
        self.history.op("escalate", 1, 2, value={"level": "l2", "reason": "r1"})
        self.assertViolation(self.run_check(), "acknowledged escalation lost")


class Availability(CheckerTest):
    UNACKED = "write to a running node not acknowledged"

    def test_unknown_write_to_running_node(self):
        self.history.set_field("owner", "o1", 1, 3, kind="info")
        report = self.run_check()
        self.assertViolation(report, self.UNACKED)
        self.assertLess(report["availability"]["ok_fraction"], 1.0)

    def test_pause_of_another_node_excuses_nothing(self):
        self.history.set_field("owner", "o1", 1, 3, kind="info").nemesis("pause", "amer", 0.5, 5)
        self.assertViolation(self.run_check(), self.UNACKED)

    def test_write_overlapping_pause_not_counted(self):
        self.history.set_field("owner", "o1", 1, 3, kind="info").nemesis("pause", "emea", 2, 5)
        report = self.run_check()
        self.assertValid(report)
        self.assertEqual(report["availability"]["ok_fraction"], 1.0)
        self.assertEqual(report["availability"]["writes_to_stopped_nodes"]["info"], 1)

    def test_crash_started_before_completion_excludes_write(self):
        self.history.set_field("owner", "o1", 1, 3, kind="info").nemesis("crash", "emea", 2.5)
        self.assertValid(self.run_check())

    def test_crash_started_after_completion_does_not(self):
        self.history.set_field("owner", "o1", 1, 3, kind="info").nemesis("crash", "emea", 3.5, 8)
        self.assertViolation(self.run_check(), self.UNACKED)

    def test_refusal_is_counted_apart(self):
        self.history.remove("att-1", 1, 2, kind="fail", status=404, error="not found")
        report = self.run_check()
        self.assertValid(report)
        self.assertEqual(report["availability"]["refusals"], {"remove_attendee: 404 not found": 1})
        self.assertEqual(report["availability"]["ok_fraction"], 1.0)

    def test_writes_during_isolation_split_by_side(self):
        # Inside the window: one ok and one unknown at the cut-off node, one ok
        # elsewhere; a write straddling the window's end counts on neither side.
        # The cut takes effect at 1.5; a write begun before that counts on neither side.
        self.history.nemesis("isolate", "amer", 1, 5)
        self.history.lines[-2]["in_effect"] = 1.5
        self.history.set_field("owner", "o0", 1.2, 1.3, node="amer", kind="info")
        self.history.set_field("owner", "o1", 2, 3, node="amer").set_field("owner", "o2", 2, 4.5, node="amer", kind="info")
        self.history.set_field("owner", "o3", 2, 3, node="apac").set_field("owner", "o4", 4.8, 5.2, node="apac")
        sides = self.run_check()["availability"]["during_isolation"]
        self.assertEqual(sides["windows"], 1)
        self.assertEqual((sides["isolated"]["ok"], sides["isolated"]["info"], sides["isolated"]["ok_fraction"]), (1, 1, 0.5))
        self.assertEqual((sides["majority"]["ok"], sides["majority"]["info"], sides["majority"]["ok_fraction"]), (1, 0, 1.0))
        self.assertIn("cut-off node 0.500 (1 of 2)", checker.summary(self.run_check()))


class Reads(CheckerTest):
    def test_read_misses_own_nodes_write(self):
        self.history.add_note("a", "n1", 1, 2).read([], 3, 4)
        self.case["notes"] = [{"id": "n1", "text": "a"}]
        self.assertViolation(self.run_check(), "read missed its own node's write")

    def test_read_misses_other_nodes_write_is_stale_only(self):
        self.history.add_note("a", "n1", 1, 2, node="amer").read([], 3, 4).read(["a"], 5, 6)
        self.case["notes"] = [{"id": "n1", "text": "a"}]
        report = self.run_check()
        self.assertValid(report)
        self.assertEqual((report["reads"]["reads"], report["reads"]["stale_reads"]), (2, 1))

    def test_read_concurrent_with_add_may_miss_it(self):
        self.history.add_note("a", "n1", 1, 3).read([], 2, 4)
        self.case["notes"] = [{"id": "n1", "text": "a"}]
        self.assertValid(self.run_check())


class Healing(CheckerTest):
    def test_history_without_heal_all(self):
        report = self.run_check(heal=False)
        self.assertViolation(report, "no final heal")
        self.assertFalse(report["healed"])


class MalformedInput(unittest.TestCase):
    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.addCleanup(self.folder.cleanup)

    def write(self, name, text):
        path = os.path.join(self.folder.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def history_text(self, history):
        return "\n".join(json.dumps(line) for line in history.lines + [HEAL]) + "\n"

    def test_bad_json_line(self):
        path = self.write("history.jsonl", '{"type": "nemesis", "t": 1, "event": "heal-all"}\n{not json\n')
        with self.assertRaises(checker.Malformed):
            checker.load_history(path)

    def test_malformed_histories(self):
        invoke = {"type": "invoke", "i": 1, "t": 0.0, "node": "emea", "process": "emea-1", "f": "read", "case": "c1"}
        for name, lines in {"completion without invoke": [{"type": "ok", "i": 5, "t": 1.0}],
                            "unknown f": [dict(invoke, f="explode")],
                            "duplicate invoke": [invoke, dict(invoke, t=0.5)]}.items():
            with self.subTest(name), self.assertRaises(checker.Malformed):
                checker.check(lines + [HEAL], final_state({}))

    def test_final_without_nodes(self):
        for final in ({"converged": True}, {"converged": True, "nodes": {}}, []):
            with self.subTest(final=final), self.assertRaises(checker.Malformed):
                checker.check([HEAL], final)

    def run_main(self, history_text, final):
        history = self.write("history.jsonl", history_text)
        final_path = self.write("final.json", json.dumps(final))
        out = os.path.join(self.folder.name, "report.json")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = checker.main(["--history", history, "--final", final_path, "--out", out])
        return status, out

    def test_main_exit_status_and_report_file(self):
        run = History().op("create", 0, 1, value={"fields": {"problemStatement": "p0"}})
        status, out = self.run_main("{broken\n", final_state({"c1": new_case()}))
        self.assertEqual(status, 2)
        self.assertFalse(os.path.exists(out))
        status, out = self.run_main(self.history_text(run), final_state({}))
        self.assertEqual(status, 1)
        with open(out) as f:
            self.assertIn("acknowledged create lost", json.load(f)["violations"])
        status, out = self.run_main(self.history_text(run), final_state({"c1": new_case()}))
        self.assertEqual(status, 0)
        with open(out) as f:
            self.assertTrue(json.load(f)["valid"])


class Summary(CheckerTest):
    def test_summary_names_verdict_and_violations(self):
        text = checker.summary(self.run_check())
        self.assertRegex(text, re.compile(r"^verdict\s+VALID$", re.M))
        self.assertNotIn("VIOLATION", text)
        self.history.add_note("a", "n1", 1, 2)
        text = checker.summary(self.run_check())
        self.assertRegex(text, re.compile(r"^verdict\s+INVALID$", re.M))
        self.assertIn("VIOLATION acknowledged note lost", text)


if __name__ == "__main__":
    unittest.main()
