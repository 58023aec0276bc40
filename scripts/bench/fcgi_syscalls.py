#!/usr/bin/env python3
"""The system calls one FastCGI request costs a function process.

Starts BINARY as mod_fcgid does (a listening Unix socket on fd 0) under
`strace -c -f`, sends it REQUESTS requests one after the other, each on a new
connection without FCGI_KEEP_CONN (what mod_fcgid does), then stops it and
prints strace's table divided by the number of requests. A warm-up of WARMUP
requests first (pools connect, caches fill) is counted apart: strace attaches
after it.

    scripts/bench/fcgi_syscalls.py --env-file F --uri /api/v1/production/health \
        [--requests 1000] [--warmup 20] [--header 'Authorization: Bearer …'] BINARY
"""

import argparse
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BEGIN_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT = 1, 3, 4, 5, 6
RESPONDER = 1


def record(kind, req_id, content=b""):
    return struct.pack(">BBHHBB", 1, kind, req_id, len(content), 0, 0) + content


def pair(name, value):
    out = b""
    for n in (len(name), len(value)):
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


def one_request(path, variables):
    """One request on a new connection; the status line of the answer."""
    params = b"".join(pair(k.encode(), v.encode()) for k, v in variables.items())
    message = (
        record(BEGIN_REQUEST, 1, struct.pack(">HB5x", RESPONDER, 0))
        + record(PARAMS, 1, params)
        + record(PARAMS, 1)
        + record(STDIN, 1)
    )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(path)
        conn.sendall(message)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    stdout, ended, at = b"", False, 0
    while at + 8 <= len(data):
        _, kind, _, length, padding = struct.unpack(">BBHHB", data[at : at + 7])
        content = data[at + 8 : at + 8 + length]
        at += 8 + length + padding
        if kind == STDOUT:
            stdout += content
        elif kind == END_REQUEST:
            ended = True
    if not ended:
        raise RuntimeError("no END_REQUEST record")
    return stdout.split(b"\r\n", 1)[0].decode("latin-1")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--env-file", required=True)
    ap.add_argument("--uri", default="/api/v1/production/health")
    ap.add_argument("--header", action="append", default=[], help="'Name: value'")
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--strace-out", help="keep strace's raw table here")
    args = ap.parse_args()

    variables = {
        "REQUEST_METHOD": "GET",
        "REQUEST_URI": args.uri,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
    }
    for header in args.header:
        name, value = header.split(":", 1)
        variables["HTTP_" + name.strip().upper().replace("-", "_")] = value.strip()

    work = tempfile.mkdtemp(prefix="fcgi-syscalls-")
    path = os.path.join(work, "app.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    env = {"PATH": "/usr/bin:/bin", "DASHBOARD_ENV_FILE": args.env_file}
    app = subprocess.Popen([args.binary], stdin=listener.fileno(), env=env)
    listener.close()
    tracer = None
    try:
        for _ in range(args.warmup):
            status = one_request(path, variables)
        print(f"warm-up answered: {status}", file=sys.stderr)
        table = args.strace_out or os.path.join(work, "strace.txt")
        tracer = subprocess.Popen(["strace", "-c", "-f", "-o", table, "-p", str(app.pid)])
        time.sleep(0.5)  # strace attaches to every thread
        statuses = {}
        for _ in range(args.requests):
            status = one_request(path, variables)
            statuses[status] = statuses.get(status, 0) + 1
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=10)
        tracer = None
    finally:
        if tracer:
            tracer.kill()
        app.terminate()
        app.wait(timeout=10)

    print(f"{args.requests} requests: {statuses}")
    print(f"{'syscall':<20} {'calls/request':>14}")
    total = 0.0
    with open(table) as f:
        for line in f:
            cols = line.split()
            # "% time seconds usecs/call calls [errors] syscall"
            if len(cols) >= 5 and re.fullmatch(r"[\d.]+", cols[0]) and cols[-1] != "total":
                calls = int(cols[3])
                total += calls / args.requests
                print(f"{cols[-1]:<20} {calls / args.requests:>14.2f}")
    print(f"{'total':<20} {total:>14.2f}")


if __name__ == "__main__":
    main()
