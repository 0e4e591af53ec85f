#!/usr/bin/env python3
"""Runs a training command and times its optimizer updates from the log it appends.

Usage: time_updates.py LOG SKIP -- COMMAND...
Polls LOG (train_log.jsonl) every 10 ms while COMMAND runs, notes when each `"update": N` line first
appears, and prints one JSON line: the seconds per update between the first update after SKIP
(warm-up) and the last one (`step_s`), the updates timed, and the wall time of the whole command.
Startup, data loading and validation stay outside `step_s`. Exits with COMMAND's status.
"""
import json, os, re, subprocess, sys, time

def main():
    log, skip, sep, *cmd = sys.argv[1:]
    assert sep == "--" and cmd, __doc__
    skip = int(skip)
    seen = {}
    pat = re.compile(r'"update": (\d+)')
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    pos = 0
    while True:
        done = proc.poll() is not None
        if os.path.exists(log):
            with open(log) as f:
                f.seek(pos)
                chunk = f.read()
                # Only whole lines.
                end = chunk.rfind("\n") + 1
                pos += len(chunk[:end].encode())
                now = time.monotonic()
                for m in pat.finditer(chunk[:end]):
                    seen.setdefault(int(m.group(1)), now)
        if done:
            break
        time.sleep(0.01)
    wall = time.monotonic() - t0
    ups = sorted(u for u in seen if u > skip)
    out = {"wall_s": round(wall, 3), "updates": len(seen)}
    if len(ups) >= 2:
        out["step_s"] = round((seen[ups[-1]] - seen[ups[0]]) / (ups[-1] - ups[0]), 4)
        out["timed_updates"] = ups[-1] - ups[0]
    print(json.dumps(out))
    sys.exit(proc.returncode)

if __name__ == "__main__":
    main()
