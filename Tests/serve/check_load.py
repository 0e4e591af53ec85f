"""Checks a `clip serve` started with tight limits (--max-queue 2 --max-in-flight 8 --batch-wait-ms 300, no key) and
CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS (the worker sleeps that long before each batch): a burst past the limits gets
only 200, 429 and 503 and the server stays up; then SIGTERM while a request is in flight (held there by the delay):
the request is answered with 200 after the signal was sent (scripts/test-serve.sh checks the server exits 0)."""

import argparse
import json
import os
import signal
import sys
import threading
import time

import requests

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--index", required=True)
ap.add_argument("--delay-ms", type=float, required=True, help="the server's CLIPCORE_SERVE_TEST_ENCODE_DELAY_MS")
args = ap.parse_args()
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what)
    failures += 0 if cond else 1


statuses = []
lock = threading.Lock()


def one(i):
    try:
        r = requests.post(args.url + "/knn-service", data=json.dumps({"text": "shape %d" % i, "num_images": 5, "indice_name": args.index}), timeout=60)
        code = r.status_code
        retry = r.headers.get("Retry-After")
        if code in (429, 503) and not retry:
            code = -code   # a refusal must say when to retry
    except Exception as e:
        code = repr(e)
    with lock:
        statuses.append(code)


threads = [threading.Thread(target=one, args=(i,)) for i in range(60)]
for t in threads:
    t.start()
for t in threads:
    t.join()
counts = {s: statuses.count(s) for s in set(statuses)}
print("burst of 60 concurrent queries:", counts)
check(all(s in (200, 429, 503) for s in statuses), "a burst past the limits: only 200, 429 and 503 with Retry-After")
check(any(s in (429, 503) for s in statuses), "the limits refused part of the burst")
check(any(s == 200 for s in statuses), "part of the burst answered")
check(requests.get(args.url + "/health", timeout=10).text == "ok", "/health after the burst")
m = requests.get(args.url + "/metrics", timeout=10).text
check("clipserve_refused_total" in m, "/metrics counts the refusals")

# Graceful shutdown: the worker holds the query for --delay-ms; SIGTERM arrives a quarter into it.
result = {}


def slow():
    try:
        r = requests.post(args.url + "/knn-service", data=json.dumps({"text": "a blue square", "num_images": 3, "indice_name": args.index}), timeout=60)
        result["answered"] = time.monotonic()
        result["status"] = r.status_code
        result["n"] = len(r.json())
    except Exception as e:
        result["status"] = repr(e)


t = threading.Thread(target=slow)
t.start()
time.sleep(args.delay_ms / 4000)
sent = time.monotonic()
os.kill(args.pid, signal.SIGTERM)
t.join()
check(result.get("status") == 200 and result.get("n", 0) > 0, "SIGTERM with a query in flight: the query is answered with 200 (%r)" % result)
check(result.get("answered", 0) > sent, "the answer came after the SIGTERM was sent (%.3f s after)" % (result.get("answered", 0) - sent))
deadline = time.time() + 20
exited = False
while time.time() < deadline:
    try:
        state = [l for l in open("/proc/%d/status" % args.pid) if l.startswith("State:")][0]
    except (FileNotFoundError, IndexError):
        state = "gone"
    if state == "gone" or "Z" in state.split()[1]:   # gone, or a zombie its parent (the shell script) has yet to reap
        exited = True
        break
    time.sleep(0.05)
check(exited, "the server exits after SIGTERM")
sys.exit(1 if failures else 0)
