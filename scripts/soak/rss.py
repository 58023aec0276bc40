#!/usr/bin/env python3
"""Samples the RSS of an Apache's mod_fcgid workers (scripts/soak.sh).

    rss.py APACHE_PID BIN_DIR OUT_FILE INTERVAL_S DEADLINE_EPOCH_S

Every INTERVAL_S seconds until DEADLINE (or SIGTERM), appends one JSON line per sample:
{"t": seconds since start, "procs": [{"pid", "name", "rss_kb"}]}, where the processes are
the descendants of APACHE_PID whose executable is in BIN_DIR (the FastCGI workers).
"""
import json
import os
import signal
import sys
import time


def descendants(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    apache, bin_dir, out_file = int(sys.argv[1]), os.path.realpath(sys.argv[2]), sys.argv[3]
    interval, deadline = float(sys.argv[4]), float(sys.argv[5])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    start = time.time()
    with open(out_file, "a") as out:
        while time.time() < deadline:
            procs = []
            for pid in descendants(apache):
                try:
                    # " (deleted)": the binary was rebuilt while the process runs.
                    exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
                except OSError:
                    continue
                if os.path.dirname(exe) != bin_dir:
                    continue
                rss = rss_kb(pid)
                if rss is not None:
                    procs.append({"pid": pid, "name": os.path.basename(exe), "rss_kb": rss})
            out.write(json.dumps({"t": round(time.time() - start, 1), "procs": procs}) + "\n")
            out.flush()
            time.sleep(max(0.0, min(interval, deadline - time.time())))


if __name__ == "__main__":
    main()
