#!/usr/bin/env python3
"""CPU per request, part by part, over one fixed wrk run (issue 16).

Requests per second alone cannot compare a responder with the floor when Apache is the
limit; the CPU each part spends per request can. `run` reads utime + stime of every
process of each group from /proc/<pid>/stat before and after a wrk run and divides by
the requests wrk completed. `table` prints several runs side by side with their ratios.

    cpu_per_request.py run --label product --url URL [-H 'Name: value'] [-c 8] [-d 10s]
        --group functions=exe:DIR        processes whose executable is under DIR
        --group apache=tree:PIDFILE      the process named by PIDFILE and its descendants
        --group mysqld=pid:PIDFILE       that process alone
        --group app=tree:PID             a pid given directly works too
    cpu_per_request.py table RUN.json...

A process is counted in the first group that claims it (list the function processes
before the Apache tree they descend from). A process that ends during the run loses its
CPU from the count; mod_fcgid's processes live on, as the warm-up (--warmup, default 3 s)
has spawned them.
"""

import argparse
import json
import os
import re
import subprocess
import sys

TICKS = os.sysconf("SC_CLK_TCK")


def children_of():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return kids


def pid_of(spec):
    if spec.isdigit():
        return int(spec)
    with open(spec) as f:
        return int(f.read().split()[0])


def members(kind, arg, kids):
    """The pids a group's spec names now."""
    if kind == "exe":
        root = os.path.realpath(arg) + os.sep
        found = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    if os.readlink(f"/proc/{pid}/exe").startswith(root):
                        found.append(int(pid))
                except OSError:
                    pass
        return found
    top = pid_of(arg)
    if kind == "pid":
        return [top]
    tree, todo = [], [top]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(kids.get(pid, []))
    return tree


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return None


def snapshot(groups):
    """{group: {pid: ticks}}, each pid in the first group that names it."""
    kids, claimed, out = children_of(), set(), {}
    for name, kind, arg in groups:
        out[name] = {}
        for pid in members(kind, arg, kids):
            if pid in claimed:
                continue
            ticks = cpu_ticks(pid)
            if ticks is not None:
                claimed.add(pid)
                out[name][pid] = ticks
    return out


def parse_wrk(text):
    def num(rx, conv=float):
        m = re.search(rx, text)
        return conv(m.group(1)) if m else None

    def ms(value, unit):
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    out = {
        "requests": num(r"(\d+) requests in", int),
        "req_s": num(r"Requests/sec:\s+([\d.]+)"),
        "non_2xx": num(r"Non-2xx or 3xx responses: (\d+)", int) or 0,
        "errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text)),
    }
    for q in ("50", "99"):
        m = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)\b", text)
        out[f"p{q}_ms"] = round(ms(*m.groups()), 3) if m else None
    return out


def wrk(url, headers, connections, duration, latency=True):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}"]
    if latency:
        cmd.append("--latency")
    for h in headers:
        cmd += ["-H", h]
    return subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout


def cmd_run(a):
    groups = []
    for g in a.group:
        name, spec = g.split("=", 1)
        kind, arg = spec.split(":", 1)
        if kind not in ("exe", "tree", "pid"):
            sys.exit(f"unknown group kind {kind!r} (exe, tree, pid)")
        groups.append((name, kind, arg))
    if a.warmup != "0":
        wrk(a.url, a.header, a.connections, a.warmup, latency=False)
    before = snapshot(groups)
    text = wrk(a.url, a.header, a.connections, a.duration)
    after = snapshot(groups)
    result = {"label": a.label, "url": a.url, "connections": a.connections, "duration": a.duration}
    result.update(parse_wrk(text))
    answered = result["requests"] or 0
    cpu = {}
    for name, _, _ in groups:
        ticks = sum(t - before[name].get(pid, 0) for pid, t in after[name].items())
        cpu[name] = {
            "processes": len(after[name]),
            "cpu_s": round(ticks / TICKS, 3),
            "ms_per_request": round(ticks / TICKS * 1000 / answered, 4) if answered else None,
        }
    result["cpu"] = cpu
    if result["non_2xx"] or result["errors"]:
        result["warning"] = f"{result['non_2xx']} answers not 2xx, {result['errors']} socket errors"
    print(json.dumps(result))


def cmd_table(a):
    runs = [json.load(open(p)) for p in a.runs]
    groups = []
    for r in runs:
        for g in r["cpu"]:
            if g not in groups:
                groups.append(g)
    head = ["run", "req/s", "p50 ms", "p99 ms"] + [f"{g} ms/req" for g in groups]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in runs:
        row = [r["label"], f"{r['req_s']:,.0f}" if r["req_s"] else "n/a",
               str(r.get("p50_ms")), str(r.get("p99_ms"))]
        for g in groups:
            c = r["cpu"].get(g)
            row.append(f"{c['ms_per_request']:.3f}" if c and c["ms_per_request"] is not None else "")
        print("| " + " | ".join(row) + " |")
        if r.get("warning"):
            print(f"|   ({r['label']}: {r['warning']}) |")
    by = {r["label"]: r for r in runs}

    def ms(label, *names):
        r = by.get(label)
        if not r:
            return None
        vals = [r["cpu"][n]["ms_per_request"] for n in names if n in r["cpu"]]
        return sum(vals) if vals and None not in vals else None

    def ratio(x, y):
        return f"{x / y:.2f}" if x is not None and y else "n/a"

    for spec in a.ratio:
        # "NAME|LABEL:GROUP+GROUP/LABEL:GROUP+GROUP" or "NAME|req_s:LABEL/LABEL"
        name, expr = spec.rsplit("|", 1)
        num, den = expr.split("/")
        if num.startswith("req_s:"):
            x = by.get(num[6:], {}).get("req_s")
            y = by.get(den, {}).get("req_s")
        else:
            nl, ng = num.split(":")
            dl, dg = den.split(":")
            x, y = ms(nl, *ng.split("+")), ms(dl, *dg.split("+"))
        print(f"{name}: {ratio(x, y)}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--label", required=True)
    r.add_argument("--url", required=True)
    r.add_argument("-H", "--header", action="append", default=[])
    r.add_argument("-c", "--connections", type=int, default=8)
    r.add_argument("-d", "--duration", default="10s")
    r.add_argument("--warmup", default="3s")
    r.add_argument("--group", action="append", default=[], required=True)
    t = sub.add_parser("table")
    t.add_argument("runs", nargs="+")
    t.add_argument("--ratio", action="append", default=[],
                   help="NAME|LABEL:GROUP[+GROUP]/LABEL:GROUP[+GROUP] or NAME|req_s:LABEL/LABEL")
    a = p.parse_args()
    {"run": cmd_run, "table": cmd_table}[a.cmd](a)


if __name__ == "__main__":
    main()
