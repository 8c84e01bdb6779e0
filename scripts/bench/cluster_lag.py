"""Replication lag of a CaseMesh cluster at a steady write rate.

Writers add notes at NODE A at RATE writes/s (paced, spread over several
connections); a watcher per other node polls its /v1/cluster "applied"
positions every POLL_MS milliseconds (default 5). The watchers run in
processes of their own: sharing the writers' interpreter lock, a poll could
wait a hundred milliseconds for its turn at high rates, which the lag would
then include. A write's lag is the time from its acknowledgement at A until
both other nodes have applied A's log up to it, as first seen by a poll: a
figure is high by up to one poll interval (and a request's time), never low.

Why not poll every millisecond: on the two cores that also run the three
nodes, ~650 polls/s per watcher cost the machine about 14% more CPU (each
watcher 11% instead of 4%, and the nodes answering them), which the nodes
then lacked; the lag measured the probe as much as replication.

usage: cluster_lag.py URL_A URL_B URL_C TOKEN CASES RATE SECONDS [POLL_MS]
"""
import base64
import bisect
import http.client
import json
import multiprocessing
import sys
import threading
import time
from urllib.parse import urlparse


def connect(url):
    parsed = urlparse(url)
    return http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)


def watch(url, token, stop, results, interval):
    """Polls one node until `stop` is set; sends back [(time, applied dict)]."""
    connection = connect(url)
    polls = []
    while not stop.is_set():
        connection.request("GET", "/v1/cluster", headers={"Authorization": "Bearer " + token})
        response = connection.getresponse()
        view = json.loads(response.read())
        polls.append((time.monotonic(), view.get("applied", {})))
        time.sleep(interval)
    results.put((url, polls))


def main():
    url_a, url_b, url_c, token, cases, rate, seconds = sys.argv[1:8]
    poll = float(sys.argv[8]) / 1000 if len(sys.argv) > 8 else 0.005
    cases, rate, seconds = int(cases), float(rate), float(seconds)
    # Enough connections that the rate is reached even when a write takes
    # 50 ms under load.
    writers = max(16, int(rate / 20))
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    acked = {}  # counter at A -> monotonic time of the acknowledgement
    lock = threading.Lock()
    origin = None
    errors = []

    def writer(index):
        nonlocal origin
        connection = connect(url_a)
        interval = writers / rate
        next_at = time.monotonic() + index * interval / writers
        sent = 0
        while time.monotonic() < start + seconds:
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            next_at += interval
            sent += 1
            body = json.dumps({"text": "lag probe %d-%d " % (index, sent) + "x" * 260, "visibility": "internal"})
            connection.request("POST", "/v1/cases/bench-%d/notes" % ((index * 7919 + sent) % cases + 1), body, headers)
            response = connection.getresponse()
            response.read()
            now = time.monotonic()
            if response.status != 201:
                errors.append(response.status)
                continue
            token_header = response.getheader("CaseMesh-Causal-Token")
            text = base64.urlsafe_b64decode(token_header + "=" * (-len(token_header) % 4)).decode()
            node, counter = text.split(",")[0].split(":")
            with lock:
                origin = node
                acked[int(counter)] = now

    watching = multiprocessing.Event()
    results = multiprocessing.Queue()
    watchers = [multiprocessing.Process(target=watch, args=(url, token, watching, results, poll)) for url in (url_b, url_c)]
    for process in watchers:
        process.start()
    start = time.monotonic()
    threads = [threading.Thread(target=writer, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(1.0)  # let the last writes arrive
    watching.set()
    collected = dict(results.get() for _ in watchers)
    for process in watchers:
        process.join()
    seen = {url: [(moment, applied.get(origin, 0)) for moment, applied in collected[url]] for url in (url_b, url_c)}

    # Applied positions only grow, so the first poll showing a counter is
    # found by bisection.
    index = {}
    for url, polls in seen.items():
        applied, best = [], 0
        for _, value in polls:
            best = max(best, value)
            applied.append(best)
        index[url] = (applied, [moment for moment, _ in polls])

    def first_seen(url, counter):
        applied, moments = index[url]
        position = bisect.bisect_left(applied, counter)
        return moments[position] if position < len(moments) else None

    lags = []
    missing = 0
    for counter, moment in acked.items():
        b, c = first_seen(url_b, counter), first_seen(url_c, counter)
        if b is None or c is None:
            missing += 1
            continue
        lags.append(max(0.0, max(b, c) - moment) * 1000)
    lags.sort()
    elapsed = seconds
    if not lags:
        print("lag: no write was measured (errors: %s)" % errors[:5])
        sys.exit(1)
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
    print("lag: writes=%d rate=%.0f/s p50=%.1fms p99=%.1fms max=%.1fms unseen=%d errors=%d poll=%gms"
          % (len(lags), len(acked) / elapsed, pick(0.50), pick(0.99), lags[-1], missing, len(errors), poll * 1000))


if __name__ == "__main__":
    main()
