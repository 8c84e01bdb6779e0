#!/usr/bin/env python3
"""pycrdt (Yrs) side of the CaseMesh core benchmark.

Same workload as Sources/CaseMeshBench/main.swift:
  (a) create N cases, each a map of four short string fields, one
      transaction per case;
  (b) one field update (status) per case, one transaction per update;
  (c) merge the whole state into an empty replica: encode the full state
      (Doc.get_update), apply it to a fresh Doc and read its root map.

Every phase is run --runs times on a fresh Doc; the median is reported.
Exits non-zero if the merged replica differs from the source.
"""

import argparse
import json
import platform
import statistics
import sys
import time

import pycrdt
from pycrdt import Doc, Map

# The data generator is mirrored exactly in Sources/CaseMeshBench/main.swift.
ISSUES = [
    "Login loop after SSO",
    "Invoice PDF is blank",
    "Sync stalls on mobile",
    "Export times out",
    "Wrong VAT on order",
    "Webhook retries storm",
    "Search misses new docs",
    "Password reset fails",
]
CUSTOMERS = [
    "Northwind Traders",
    "Contoso Pharma AG",
    "Fabrikam Logistics",
    "Globex Retail Ltd",
    "Initech Insurance",
    "Umbrella Health",
    "Stark Components",
]
PRODUCTS = [
    "Billing Suite 4.2",
    "Mobile App (iOS)",
    "Mobile App (Android)",
    "Data Export API",
    "Identity Gateway",
]
CREATE_STATUS = "new - awaiting triage"
UPDATE_STATUSES = [
    "escalated to tier 2",
    "waiting on customer",
    "fix in progress (eng)",
    "resolved - fix shipped",
]


def case_id(i: int) -> str:
    return f"case-{i:06d}"


def fields(i: int):
    return (
        f"{ISSUES[i % len(ISSUES)]} #{i}",
        CUSTOMERS[(i * 3) % len(CUSTOMERS)],
        PRODUCTS[(i * 7) % len(PRODUCTS)],
        CREATE_STATUS,
    )


def updated_status(i: int) -> str:
    return UPDATE_STATUSES[i % len(UPDATE_STATUSES)]


def run_once(ids, rows, new_statuses):
    n = len(ids)

    # (a) creates: one transaction per case.
    doc = Doc()
    cases = doc.get("cases", type=Map)
    t0 = time.perf_counter_ns()
    for i in range(n):
        title, customer, product, status = rows[i]
        with doc.transaction():
            cases[ids[i]] = Map({
                "title": title,
                "customer": customer,
                "product": product,
                "status": status,
            })
    t1 = time.perf_counter_ns()

    # (b) updates: one transaction per update.
    for i in range(n):
        with doc.transaction():
            cases[ids[i]]["status"] = new_statuses[i]
    t2 = time.perf_counter_ns()

    # (c) merge into an empty replica: encode the full state, decode and
    # integrate it into a fresh Doc, and read the root map.
    t3 = time.perf_counter_ns()
    update = doc.get_update()
    replica = Doc()
    replica.apply_update(update)
    merged = replica.get("cases", type=Map)
    merged_count = len(merged)
    t4 = time.perf_counter_ns()

    return {
        "create_s": (t1 - t0) / 1e9,
        "update_s": (t2 - t1) / 1e9,
        "merge_s": (t4 - t3) / 1e9,
        "update_bytes": len(update),
        "merged_count": merged_count,
        "source": cases,
        "merged": merged,
    }


def verify(result, ids, rows, new_statuses):
    n = len(ids)
    problems = []
    if result["merged_count"] != n:
        problems.append(f"merged replica has {result['merged_count']} cases, expected {n}")
    source = result["source"].to_py()
    merged = result["merged"].to_py()
    if merged != source:
        problems.append("merged replica content differs from the source replica")
    if n > 0:
        last = n - 1
        got = merged.get(ids[last], {})
        title, customer, product, _ = rows[last]
        expected = {"title": title, "customer": customer, "product": product, "status": new_statuses[last]}
        if got != expected:
            problems.append(f"case {ids[last]} is {got!r}, expected {expected!r}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON line with the results at the end")
    args = parser.parse_args()
    if args.cases < 1 or args.runs < 1:
        parser.error("--cases and --runs must be at least 1")

    n = args.cases
    ids = [case_id(i + 1) for i in range(n)]
    rows = [fields(i + 1) for i in range(n)]
    new_statuses = [updated_status(i + 1) for i in range(n)]

    creates, updates, merges = [], [], []
    update_bytes = merged_count = 0
    for run in range(args.runs):
        result = run_once(ids, rows, new_statuses)
        problems = verify(result, ids, rows, new_statuses)
        if problems:
            for p in problems:
                print(f"pycrdt-bench: VERIFICATION FAILED (run {run + 1}): {p}", file=sys.stderr)
            sys.exit(1)
        creates.append(result["create_s"])
        updates.append(result["update_s"])
        merges.append(result["merge_s"])
        update_bytes = result["update_bytes"]
        merged_count = result["merged_count"]

    create_s = statistics.median(creates)
    update_s = statistics.median(updates)
    merge_s = statistics.median(merges)
    out = {
        "system": "pycrdt",
        "version": pycrdt.__version__,
        "python": platform.python_version(),
        "cases": n,
        "runs": args.runs,
        "create_ops_per_s": n / create_s,
        "update_ops_per_s": n / update_s,
        "merge_ms": merge_s * 1e3,
        "create_s_runs": creates,
        "update_s_runs": updates,
        "merge_ms_runs": [m * 1e3 for m in merges],
        "encoded_bytes": update_bytes,
        "merged_cases": merged_count,
        "verified": True,
    }

    print(f"pycrdt {pycrdt.__version__} (Python {platform.python_version()}), {n} cases, median of {args.runs} runs")
    print(f"  (a) create   {out['create_ops_per_s']:>12,.0f} ops/s   ({create_s * 1e3:.1f} ms)")
    print(f"  (b) update   {out['update_ops_per_s']:>12,.0f} ops/s   ({update_s * 1e3:.1f} ms)")
    print(f"  (c) merge    {out['merge_ms']:>12.2f} ms      (encode + decode + integrate, {update_bytes:,} bytes)")
    print(f"  merged replica: {merged_count} cases, content verified")
    if args.json:
        print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
