#!/usr/bin/env python3
"""Drives bench/fairness.sh: a victim calls its audited action ten times a second while a
hostile extension on the same server runs one attack; prints the victim's p50, p99, worst
and errors per attack, and the server's RSS. Standard library only.

    fairness.py URL SERVER_PID SECONDS

ATTACKS=word,word (environment) runs only the attacks whose label holds one of the words
(the baseline always runs).
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

URL, PID, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
HOST = urllib.parse.urlparse(URL)
BASE = "/api/v1/extensions/{}/environments/production/actions/functions:{}"


def call(ext, action, timeout=60.0):
    """POSTs one call; (status, seconds), status None when the client gave up."""
    started = time.monotonic()
    conn = http.client.HTTPConnection(HOST.hostname, HOST.port, timeout=timeout)
    try:
        conn.request("POST", BASE.format(ext, action), body=b'{"args":{}}',
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return None, time.monotonic() - started
    finally:
        conn.close()


def rss_mb():
    with open(f"/proc/{PID}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def victim(seconds):
    """Ten calls a second, each on time; latencies and errors."""
    latencies, errors = [], 0
    end = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < end:
        status, took = call("victim", "read")
        latencies.append(took)
        errors += status != 200
        next_at += 0.1
        time.sleep(max(0.0, next_at - time.monotonic()))
    return latencies, errors


def report(label, latencies, errors, peak_rss):
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"{label}: victim p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, "
          f"worst {latencies[-1] * 1000:.1f} ms, errors {errors}/{len(latencies)}, "
          f"server RSS peak {peak_rss:.0f} MB", flush=True)


def run(label, attack, clients):
    """Runs `attack` on `clients` threads until the victim is done."""
    only = [w for w in os.environ.get("ATTACKS", "").split(",") if w]
    if clients and only and not any(w in label for w in only):
        return
    stop = threading.Event()
    threads = [threading.Thread(target=attack, args=(stop,), daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(0.5 if clients else 0)
    peak = [rss_mb()]

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    latencies, errors = victim(SECONDS)
    stop.set()
    for t in threads:
        t.join(timeout=35)
    report(label, latencies, errors, peak[0])


def leave_early(stop):
    # ~71 calls a second over 21 threads, each client gone after 300 ms.
    while not stop.is_set():
        call("hostile", "sleepy", timeout=0.3)


def spin(stop):
    while not stop.is_set():
        call("hostile", "spin")


def hoard(stop):
    while not stop.is_set():
        call("hostile", "hoard")


def denied(stop):
    while not stop.is_set():
        call("hostile", "denied")


run("no attack", lambda stop: None, 0)
run("callers leaving a 29 s timer after 300 ms (21 clients)", leave_early, 21)
run("busy loops (2 clients)", spin, 2)
run("busy loops (4 clients)", spin, 4)
run("busy loops (20 clients)", spin, 20)
run("100 calls holding 60 MiB over a timer", hoard, 100)
run("ctx.secrets.get of 9,999 ungranted names (4 clients)", denied, 4)
print(f"server RSS after the attacks: {rss_mb():.0f} MB", flush=True)
