#!/usr/bin/env bash
# make bench: the performance targets of docs/operations.md#performance-targets, each figure beside a baseline measured in
# the same run. Prints one table and writes it as JSON to bench-results/latest.json
# (git-ignored; the raw outputs of every step are kept in bench-results/work/).
#
#   scripts/bench.sh                 # or: make bench
#   BENCH_SKIP_BUILD=1 scripts/bench.sh
#
# What it does:
#   1. scripts/build.sh (release), scripts/db.sh start;
#   2. a dedicated global database BENCH_GLOBAL_DB (default bench_data_global) with one
#      tenant "Bench Plant" whose client database is BENCH_CLIENT_DB (default
#      bench_data_client), loaded once with `dashctl demo-data --size large --days 90`
#      (>= 10 M detections; a few minutes the first time, reused afterwards — the same data
#      set scripts/bench-data.sh uses) and a `manager` user; never the demo's databases;
#   3. downtime job: full backfill (the first `jobs downtime` after a load, else
#      `jobs downtime --from <first day>`), a run with nothing new, 15 minutes of new
#      detections and the incremental run over them (or scripts/bench-downtime.sh, below);
#   4. a private Apache on 127.0.0.1:BENCH_PORT (default 18080, run dir .run/bench/apache):
#      a trivial C CGI then the real binaries as CGI (mod_cgid), then FastCGI (mod_fcgid):
#      wrk on a metadata route and on a static file, the 30-day data/metrics calls, the
#      year-long OEE and the dashboard page with 8 widgets; stopped at the end;
#      then CPU per request of production/lines for the function processes, Apache and
#      mysqld beside libfcgi's trivial responder and the seed stack (scripts/bench/cpu.sh);
#   5. stripped binary sizes, peak RSS of each binary run as CGI, Lambda cold start against
#      a local Runtime API (scripts/bench/benchtool.py);
#   6. scripts/bench-data.sh (when present: bare-SQL baselines of the data/metrics calls).
# Figures that cannot be measured (route missing, step failed) print "n/a (reason)".
#
# Environment: BENCH_PORT (18080), BENCH_GLOBAL_DB, BENCH_CLIENT_DB, BENCH_PASSWORD,
#   BENCH_CGI_REQUESTS (200), BENCH_WRK_DURATION (10s), BENCH_RUNS (7: medians of the
#   data/metrics calls), BENCH_LAMBDA_RUNS (10), BENCH_SKIP_BUILD=1, BENCH_RELOAD=1 (reload
#   the data set), BENCH_DATA=0 (skip scripts/bench-data.sh), BENCH_DATA_RUNS (3: its
#   BENCH_RUNS; its slowest statements take seconds each), BENCH_DATA_TIMEOUT (480 s),
#   BENCH_OUT (bench-results/latest.json).
# scripts/bench-downtime.sh, when it exists and the databases are <prefix>_global and
#   <prefix>_client, measures the downtime job (BENCH_DB_PREFIX=<prefix>, same data set;
#   its text summary is parsed); otherwise, or when it fails, this script measures it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

PORT="${BENCH_PORT:-18080}"
GLOBAL="${BENCH_GLOBAL_DB:-bench_data_global}"
CLIENT="${BENCH_CLIENT_DB:-bench_data_client}"
PASSWORD="${BENCH_PASSWORD:-bench-password-2026}"
BENCH_USER=manager
CGI_N="${BENCH_CGI_REQUESTS:-200}"
WRK_DURATION="${BENCH_WRK_DURATION:-10s}"
RUNS="${BENCH_RUNS:-7}"
LAMBDA_RUNS="${BENCH_LAMBDA_RUNS:-10}"
OUT="${BENCH_OUT:-$REPO_ROOT/bench-results/latest.json}"
RESULTS="$REPO_ROOT/bench-results"
WORK="$RESULTS/work"
BDIR="$RUN_ROOT/bench"
ENV_FILE="$BDIR/bench.env"
APACHE_DIR="$BDIR/apache"
TRIVIAL_DIR="$BDIR/trivial-bin"
STATIC_DIR="$BDIR/static"
BIN="$TARGET_DIR/release"
TOOL="$REPO_ROOT/scripts/bench/benchtool.py"
BASE="http://127.0.0.1:$PORT"
NOTES=()
BENCH_DATA_TIMEOUT="${BENCH_DATA_TIMEOUT:-480}"
T_START="$(now_ms)"

step() { printf 'bench: %s\n' "$*" >&2; }
note() { NOTES+=("$*"); warn "$*"; }
na() { printf '%s\n' "$2" >"$WORK/$1"; warn "$1: $2"; }     # na FILE REASON
json_na() { python3 -c 'import json,sys; print(json.dumps({"na": sys.argv[1]}))' "$1"; }

command -v python3 >/dev/null 2>&1 || die "python3 is required (scripts/bench/benchtool.py)"
rm -rf "$WORK"
mkdir -p "$WORK"
mkdir_public "$RUN_ROOT" "$BDIR" "$STATIC_DIR" "$STATIC_DIR/dist" "$TRIVIAL_DIR"
LOG="$WORK/bench.log"
: >"$LOG"

apache() { scripts/apache.sh "$@" --run-dir "$APACHE_DIR" >>"$LOG" 2>&1; }
cleanup() {
    apache stop || true
}
trap cleanup EXIT

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v l="${LOAD_START%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n) }'; then
    note "load average ${LOAD_START%% *} on $(nproc) cores when the bench started: other processes compete for the CPU, so the timings are pessimistic"
fi

# ------------------------------------------------------------------ 1. build, database
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    step "building (scripts/build.sh; log: $WORK/build.log)"
    if ! scripts/build.sh >"$WORK/build.log" 2>&1; then
        tail -n 30 "$WORK/build.log" >&2
        die "the build failed (log: $WORK/build.log)"
    fi
fi
# What ships (the cPanel bundle, the Lambda zips) is built with the smaller "dist" profile
# (thin LTO, opt-level s): its sizes are reported beside target/release's.
if [ "${BENCH_SKIP_DIST:-0}" != 1 ]; then
    step "building the dist profile for the shipped sizes (log: $WORK/build-dist.log)"
    cargo build --profile dist --workspace --bins >"$WORK/build-dist.log" 2>&1 \
        || note "the dist build failed (log: $WORK/build-dist.log): shipped sizes are n/a"
fi
for b in dashctl jobs auth production; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing (run make build)"
done

step "database (scripts/db.sh)"
scripts/db.sh start >>"$LOG" 2>&1 || die "no database server (log: $LOG)"
DB_URL="$(scripts/db.sh url)"
parse_mysql_url "$DB_URL" || die "cannot parse DATABASE_URL $DB_URL"
MYSQL="$(mysql_client)" || die "the mariadb client is not installed"
sql() {      # sql [DB] QUERY — tab-separated rows on stdout
    local db="" args
    if [ $# -gt 1 ]; then db="$1"; shift; fi
    args=(--no-defaults -u "$DBU_USER" -N -B --local-infile=0)
    if [ -n "$DBU_SOCKET" ]; then args+=(-S "$DBU_SOCKET"); else args+=(--protocol=TCP -h "$DBU_HOST" -P "$DBU_PORT"); fi
    [ -n "$db" ] && args+=(-D "$db")
    MYSQL_PWD="$DBU_PASS" "$MYSQL" "${args[@]}" -e "$1"
}

# The env file of the bench binaries (Apache passes its path; CGI runs below read it too).
if [ ! -s "$BDIR/jwt_secret" ]; then
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$BDIR/jwt_secret")
fi
(umask 077; cat >"$ENV_FILE" <<EOF
# Generated by scripts/bench.sh for make bench (its own databases; never the demo's).
DATABASE_URL=$DB_URL
DB_GLOBAL_NAME=$GLOBAL
JWT_SECRET=$(cat "$BDIR/jwt_secret")
COOKIE_SECURE=false
LOG_FORMAT=text
RUST_LOG=warn
RATE_LIMIT_USER_PER_MIN=100000000
RATE_LIMIT_AUTH_IP_PER_MIN=100000000
EOF
)
if is_root && id www-data >/dev/null 2>&1; then
    chgrp www-data "$ENV_FILE" && chmod 0640 "$ENV_FILE"
fi

dashctl() {
    env -i PATH="$PATH" DASHBOARD_ENV_FILE=/dev/null DATABASE_URL="$DB_URL" DB_GLOBAL_NAME="$GLOBAL" \
        "$BIN/dashctl" "$@"
}

# ------------------------------------------------------------------ 2. the data set
step "data set: $GLOBAL / $CLIENT (dashctl demo-data --size large; reused when loaded)"
dashctl migrate >>"$LOG" 2>&1 || die "dashctl migrate failed (log: $LOG)"
dashctl seed-widget-catalog >>"$LOG" 2>&1 || die "dashctl seed-widget-catalog failed (log: $LOG)"
TENANT="$(dashctl register-tenant --name "Bench Plant" --timezone Europe/Madrid --db-name "$CLIENT" \
    --if-not-exists --skip-verify 2>>"$LOG" | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
case "$TENANT" in ''|*[!0-9]*) die "register-tenant did not print a tenant id (log: $LOG)" ;; esac
dashctl provision-client --tenant "$TENANT" --reference >>"$LOG" 2>&1 \
    || die "dashctl provision-client failed (log: $LOG)"
FORCE=()
[ "${BENCH_RELOAD:-0}" = 1 ] && FORCE=(--force)
load_start="$(now_ms)"
dashctl demo-data --tenant "$TENANT" --size large --days 90 "${FORCE[@]}" >"$WORK/demo-data.txt" 2>&1 \
    || { cat "$WORK/demo-data.txt" >&2; die "dashctl demo-data failed"; }
if grep -q '^loaded [0-9]' "$WORK/demo-data.txt"; then
    DATA_STATE="loaded by this run in $(fmt_ms $(( $(now_ms) - load_start )))"
    step "  $(grep '^loaded [0-9]' "$WORK/demo-data.txt")"
else
    DATA_STATE="reused"
fi
dashctl create-user --tenant "$TENANT" --username "$BENCH_USER" --password "$PASSWORD" --role manager \
    --if-not-exists >>"$LOG" 2>&1 || die "dashctl create-user failed (log: $LOG)"

# Detection tables and their line / output areas (names come from information_schema).
mapfile -t DET_TABLES < <(sql "SELECT table_name FROM information_schema.tables WHERE table_schema = '$CLIENT' \
    AND table_name LIKE 'detection\\_line\\_%' ORDER BY table_name")
[ "${#DET_TABLES[@]}" -gt 0 ] || die "$CLIENT has no detection_line_* tables"
DETECTIONS="$(sql "SELECT SUM(table_rows) FROM information_schema.tables WHERE table_schema = '$CLIENT' \
    AND table_name LIKE 'detection\\_line\\_%'")"
newest=""; oldest=""
for t in "${DET_TABLES[@]}"; do
    n="$(sql "$CLIENT" "SELECT detected_at FROM \`$t\` ORDER BY detection_id DESC LIMIT 1")"
    o="$(sql "$CLIENT" "SELECT detected_at FROM \`$t\` ORDER BY detection_id ASC LIMIT 1")"
    if [ -z "$newest" ] || [[ "$n" > "$newest" ]]; then newest="$n"; fi
    if [ -z "$oldest" ] || [[ "$o" < "$oldest" ]]; then oldest="$o"; fi
done
LINE_ID="$(sql "$CLIENT" "SELECT MIN(line_id) FROM production_line WHERE is_active = 1")"
DAY_END="${newest:0:10}"                                   # windows end at the newest data day
day() { date -u -d "$DAY_END $1 days" +%F; }
D30="$(day -30)"; D365="$(day -365)"; D7="$(day -7)"
FROM_DAY="$(date -u -d "${oldest:0:10} -2 days" +%F)"
step "  tenant $TENANT: ≈$DETECTIONS detections, $oldest → $newest ($DATA_STATE)"

# ------------------------------------------------------------------ 3. downtime job
timed_job() {      # timed_job NAME ARGS... → $WORK/NAME.json (summary), NAME.time, NAME.ms
    local name="$1" t0 t1
    shift
    t0="$(date +%s%N)"
    env -i PATH="$PATH" DASHBOARD_ENV_FILE="$ENV_FILE" /usr/bin/time -f 'TIME %e %M' -o "$WORK/$name.time" \
        "$BIN/jobs" "$@" --json >"$WORK/$name.json" 2>"$WORK/$name.err" || return 1
    t1="$(date +%s%N)"
    echo $(( (t1 - t0) / 1000 )) >"$WORK/$name.us"
}

# Baseline of the backfill rate: the same output-area detections read with the mariadb
# client in the engine's order (detected_at, detection_id) and thrown away.
downtime_read_baseline() {
    local t line outs rows=0 t0 t1 n
    step "downtime: baseline (reading the same detections with the mariadb client)"
    t0="$(date +%s%N)"
    for t in "${DET_TABLES[@]}"; do
        line="$(sql "$CLIENT" "SELECT a.line_id FROM area a JOIN (SELECT area_id FROM \`$t\` LIMIT 1) x USING (area_id)")"
        outs="$(sql "$CLIENT" "SELECT GROUP_CONCAT(area_id) FROM area WHERE line_id = ${line:-0} AND area_type = 'output'")"
        if [ -z "$outs" ] || [ "$outs" = NULL ]; then continue; fi
        n="$(sql "$CLIENT" "SELECT detection_id, detected_at FROM \`$t\` WHERE area_id IN ($outs) \
            ORDER BY detected_at, detection_id" | wc -l)"
        rows=$((rows + n))
    done
    t1="$(date +%s%N)"
    echo "$rows $(( (t1 - t0) / 1000 ))" >"$WORK/dt_read.txt"
}

downtime_self() {
    local first_rows kind
    step "downtime: catching up (jobs downtime --tenant $TENANT)"
    timed_job dt_first downtime --tenant "$TENANT" || { json_na "jobs downtime failed: $(tail -n 3 "$WORK/dt_first.err" | tr '\n' ' ')" >"$WORK/downtime.json"; return 0; }
    first_rows="$(python3 -c 'import json,sys; print(sum(i.get("rows") or 0 for i in json.load(open(sys.argv[1]))["items"]))' "$WORK/dt_first.json")"
    if [ "${first_rows:-0}" -ge 1000000 ]; then
        kind="first jobs downtime over the loaded data (no stops stored yet)"
        cp "$WORK/dt_first.json" "$WORK/dt_backfill.json"; cp "$WORK/dt_first.time" "$WORK/dt_backfill.time"
        cp "$WORK/dt_first.us" "$WORK/dt_backfill.us"
    else
        kind="jobs downtime --from $FROM_DAY (recompute of every stop)"
        step "downtime: full backfill (jobs downtime --tenant $TENANT --from $FROM_DAY; about a minute)"
        timed_job dt_backfill downtime --tenant "$TENANT" --from "$FROM_DAY" \
            || { json_na "jobs downtime --from failed: $(tail -n 3 "$WORK/dt_backfill.err" | tr '\n' ' ')" >"$WORK/downtime.json"; return 0; }
    fi
    timed_job dt_idle downtime --tenant "$TENANT" || true
    downtime_read_baseline

    # 15 minutes of new detections per line: the same minutes of the day before, moved on
    # by one day (strictly after the newest detection, so after the job's watermark).
    step "downtime: 15 minutes of new detections, then the incremental run"
    local inserted=0 c t
    for t in "${DET_TABLES[@]}"; do
        c="$(sql "$CLIENT" "SET @m = (SELECT detected_at FROM \`$t\` ORDER BY detection_id DESC LIMIT 1);
            INSERT INTO \`$t\` (detected_at, area_id, product_id)
              SELECT detected_at + INTERVAL 1 DAY, area_id, product_id FROM \`$t\`
              WHERE detected_at > @m - INTERVAL 1 DAY AND detected_at <= @m - INTERVAL 1 DAY + INTERVAL 15 MINUTE
              ORDER BY detected_at, detection_id;
            SELECT ROW_COUNT();")" || c=0
        inserted=$((inserted + ${c:-0}))
    done
    echo "$inserted" >"$WORK/dt_inserted.txt"
    timed_job dt_incr downtime --tenant "$TENANT" || true
    downtime_json "$kind" self
}

# scripts/bench-downtime.sh (another helper's script): it keeps its data set in
# <BENCH_DB_PREFIX>_global / _client, so it runs only when ours follow that pattern (one
# data set, never two). Its text summary is parsed; 1 when it fails or is not understood.
downtime_script() {
    local prefix="${GLOBAL%_global}"
    [ "$GLOBAL" = "${prefix}_global" ] && [ "$CLIENT" = "${prefix}_client" ] || return 1
    step "downtime: scripts/bench-downtime.sh (BENCH_DB_PREFIX=$prefix; about three minutes)"
    DATABASE_URL="$DB_URL" BENCH_DB_PREFIX="$prefix" BENCH_SKIP_BUILD=1 BENCH_GLOBAL_DB="$GLOBAL" \
        BENCH_CLIENT_DB="$CLIENT" BENCH_TENANT="$TENANT" \
        scripts/bench-downtime.sh >"$WORK/bench_downtime.txt" 2>"$WORK/bench_downtime.err" || return 1
    grep -q 'end to end (process)' "$WORK/bench_downtime.txt" || return 1
    timed_job dt_idle downtime --tenant "$TENANT" || true
    downtime_read_baseline
    downtime_json "scripts/bench-downtime.sh: every stop deleted, then jobs downtime" script
}

downtime_json() {      # downtime_json KIND self|script → $WORK/downtime.json
    python3 - "$WORK" "$1" "$2" >"$WORK/downtime.json" <<'PY'
import json, os, re, sys
w, kind, source = sys.argv[1:4]
def rd(n):
    p = os.path.join(w, n)
    return open(p, encoding="utf-8", errors="replace").read() if os.path.exists(p) else ""
def run(name):
    try:
        doc = json.loads(rd(name + ".json"))
    except ValueError:
        return {"na": "no summary from jobs (%s)" % rd(name + ".err")[-200:].strip()}
    m = re.search(r"TIME ([\d.]+) (\d+)", rd(name + ".time"))
    us = rd(name + ".us").strip()
    items = doc.get("items", [])
    bad = [i for i in items if i.get("status") != "ok"]
    out = {"wall_s": int(us) / 1e6 if us else None, "wall_ms": int(us) / 1e3 if us else None,
           "rss_kib": int(m.group(2)) if m else None, "job_ms": doc.get("duration_ms"),
           "detections": sum(i.get("rows") or 0 for i in items),
           "per_line": [{"line_id": i.get("line_id"), "rows": i.get("rows"), "ms": i.get("duration_ms"),
                         "status": i.get("status")} for i in items]}
    if bad:
        out["na"] = "job items not ok: %s" % [(i.get("line_id"), i.get("status")) for i in bad]
    return out
res = {"idle": run("dt_idle")}
if source == "self":
    res["backfill"] = run("dt_backfill")
    res["incremental"] = run("dt_incr")
    res["incremental"]["inserted"] = int(rd("dt_inserted.txt").strip() or 0)
    res["flat_baseline"] = dict(res["idle"], how="a run with nothing new (same binary)")
else:
    txt = rd("bench_downtime.txt")
    res["script_output"] = txt.strip().splitlines()[-12:]
    def f(rx, conv=float):
        m = re.search(rx, txt)
        return tuple(conv(g) for g in m.groups()) if m else None
    det = f(r"full backfill\s+(\d+) output detections", int)
    e2e = f(r"end to end \(process\)\s+([\d.]+) s\s+\S+\s+(\d+) detections/s")
    rss = f(r"peak RSS\s+\d+ MB \((\d+) kB\)", int)
    flat = f(r"memory stays flat\s+(\d+) detections: (\d+) MB; (\d+) detections \(one line\): (\d+) MB", int)
    inc = f(r"incremental \(15 min of data\)\s+(\d+) detections; slowest line (\d+) ms; whole job (\d+) ms; process ([\d.]+) s")
    res["backfill"] = {"detections": det[0] if det else None, "wall_s": e2e[0] if e2e else None,
                       "rss_kib": rss[0] if rss else None}
    if not (det and e2e):
        res["backfill"]["na"] = "bench-downtime.sh output not understood"
    res["flat_baseline"] = ({"rss_kib": flat[3] * 1024, "detections": flat[2],
                             "how": "the same backfill of one line only (%s detections; bench-downtime.sh, whole MB)" % format(flat[2], ",")}
                            if flat else {"na": "not printed"})
    res["incremental"] = ({"inserted": int(inc[0]), "wall_ms": inc[3] * 1000, "job_ms": inc[2], "slowest_line_ms": inc[1],
                           "wall_resolution_ms": 10} if inc else {"na": "bench-downtime.sh output not understood"})
res["backfill"]["kind"] = kind
r = rd("dt_read.txt").split()
res["read_sql"] = {"detections": int(r[0]), "wall_s": int(r[1]) / 1e6} if len(r) == 2 else {"na": "not measured"}
print(json.dumps(res))
PY
}

if [ -x scripts/bench-downtime.sh ] && downtime_script; then
    :
else
    if [ -x scripts/bench-downtime.sh ]; then
        note "scripts/bench-downtime.sh was not usable here (see bench-results/work/bench_downtime.*): bench.sh measured the downtime job itself"
    fi
    downtime_self
fi

# ------------------------------------------------------------------ 4. Apache
AUTH_H=""
login() {      # sets TOKEN and COOKIE
    local out
    out="$(python3 "$TOOL" login --base "$BASE" --user "$BENCH_USER" --password "$PASSWORD")" || {
        warn "login failed: $out"; TOKEN=""; COOKIE=""; return 1; }
    TOKEN="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["token"])' "$out")"
    COOKIE="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["cookie"])' "$out")"
    AUTH_H="Authorization: Bearer $TOKEN"
}
apache_start() {      # MODE BIN_DIR
    apache restart --mode "$1" --port "$PORT" --listen 127.0.0.1 --bin-dir "$2" --env-file "$ENV_FILE" \
        --static-dir "$STATIC_DIR" --no-access-log
}

# 4a. The baseline CGI: a trivial C program at the same URL through the same Apache.
step "CGI baseline: trivial C program through Apache (mod_cgid), $CGI_N requests"
CC="$(command -v cc || command -v gcc || true)"
if [ -n "$CC" ] && "$CC" -O2 -o "$TRIVIAL_DIR/production" scripts/bench/trivial_cgi.c 2>>"$LOG"; then
    chmod 0755 "$TRIVIAL_DIR/production"
    if apache_start cgi "$TRIVIAL_DIR"; then
        python3 "$TOOL" seq --url "$BASE/api/v1/production/lines" -n "$CGI_N" \
            -H "Authorization: Bearer x" >"$WORK/cgi_trivial.json" || json_na "request loop failed" >"$WORK/cgi_trivial.json"
    else
        json_na "apache (cgi) did not start with the trivial binary (log: $LOG)" >"$WORK/cgi_trivial.json"
    fi
else
    json_na "no C compiler (cc)" >"$WORK/cgi_trivial.json"
fi
python3 "$TOOL" mysql-rtt --url "$DB_URL" -n 50 >"$WORK/mysql_rtt.json" || json_na "probe failed" >"$WORK/mysql_rtt.json"
if grep -q '"na"' "$WORK/mysql_rtt.json"; then
    # Fallback: the mariadb client's connect + SELECT 1, minus the client's own start.
    rtt="$(python3 - "$MYSQL" "$DBU_HOST" "$DBU_PORT" "$DBU_USER" <<'PY'
import os, statistics, subprocess, sys, time, json
cli, host, port, user = sys.argv[1:5]
def t(args):
    s = []
    for _ in range(23):
        t0 = time.perf_counter(); subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s.append((time.perf_counter() - t0) * 1000)
    return statistics.median(s[3:])
q = t([cli, "--no-defaults", "--protocol=TCP", "-h", host, "-P", port, "-u", user, "-N", "-e", "SELECT 1"])
v = t([cli, "--no-defaults", "--version"])
print(json.dumps({"p50_ms": round(q - v, 3), "p99_ms": round(q - v, 3), "n": 20,
      "how": "mariadb -e 'SELECT 1' minus mariadb --version (client start)"}))
PY
)" && printf '%s\n' "$rtt" >"$WORK/mysql_rtt.json"
fi

# 4b. The real binaries as CGI.
step "CGI: GET /api/v1/production/lines, $CGI_N sequential requests"
if apache_start cgi "$BIN" && login; then
    python3 "$TOOL" seq --url "$BASE/api/v1/production/lines" -n "$CGI_N" -H "$AUTH_H" >"$WORK/cgi_lines.json" \
        || json_na "request loop failed" >"$WORK/cgi_lines.json"
    # The same bytes as a static file: the FastCGI baseline below.
    curl -sf -H "$AUTH_H" "$BASE/api/v1/production/lines" -o "$STATIC_DIR/dist/lines.json" || true
else
    json_na "apache (cgi) or the login failed (log: $LOG, $APACHE_DIR/logs/error.log)" >"$WORK/cgi_lines.json"
fi
[ -s "$STATIC_DIR/dist/lines.json" ] || cp scripts/bench/trivial_cgi.c "$STATIC_DIR/dist/lines.json"
chmod 0644 "$STATIC_DIR/dist/lines.json"

# 4c. FastCGI.
step "FastCGI: wrk -t2 -c8 -d$WRK_DURATION on /api/v1/production/lines and on a static file"
if apache_start fcgid "$BIN" && login; then
    if command -v wrk >/dev/null 2>&1; then
        wrk -t2 -c8 -d3s -H "$AUTH_H" "$BASE/api/v1/production/lines" >/dev/null 2>&1 || true     # spawn the processes
        wrk -t2 -c8 -d"$WRK_DURATION" --latency -H "$AUTH_H" "$BASE/api/v1/production/lines" >"$WORK/wrk_lines.txt" 2>&1 \
            || na wrk_lines.na "wrk failed"
        wrk -t2 -c8 -d2s "$BASE/static/dist/lines.json" >/dev/null 2>&1 || true
        wrk -t2 -c8 -d"$WRK_DURATION" --latency "$BASE/static/dist/lines.json" >"$WORK/wrk_static.txt" 2>&1 || true
        step "FastCGI: CPU per request of production/lines beside libfcgi's trivial responder and the seed stack (scripts/bench/cpu.sh)"
        CPU_PRODUCT_URL="$BASE" CPU_AUTH="$TOKEN" CPU_APACHE_PIDFILE="$APACHE_DIR/httpd.pid" \
            CPU_ENV_FILE="$ENV_FILE" CPU_DB_URL="$DB_URL" CPU_CLIENT_DB="$CLIENT" CPU_TZ=Europe/Madrid \
            CPU_OUT="$WORK/cpu" CPU_BIN_DIR="$BIN" CPU_PORT="$((PORT + 110))" CPU_DURATION="$WRK_DURATION" \
            scripts/bench/cpu.sh >>"$LOG" 2>&1 || note "scripts/bench/cpu.sh failed (log: $WORK/cpu/cpu.log)"
    else
        na wrk_lines.na "wrk is not installed (apt-get install wrk)"
    fi

    step "FastCGI: 30-day data/metrics calls and the year-long OEE (median of $RUNS)"
    q30="line_id=$LINE_ID&start_date=$D30&end_date=$DAY_END"
    q365="line_id=$LINE_ID&start_date=$D365&end_date=$DAY_END"
    for spec in "api_summary.json /api/v1/data/production/summary?$q30" \
                "api_oee30.json /api/v1/metrics/oee?$q30" \
                "api_oee365.json /api/v1/metrics/oee?$q365"; do
        f="${spec%% *}"; u="${spec#* }"
        python3 "$TOOL" seq --url "$BASE$u" -n "$RUNS" --warmup 2 -H "$AUTH_H" >"$WORK/$f" \
            || json_na "request loop failed" >"$WORK/$f"
        st="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(d.get("statuses",{})))' "$WORK/$f" 2>/dev/null || true)"
        if [ -n "$st" ] && [ "$st" != 200 ]; then
            code="$(curl -s -o "$WORK/$f.body" -w '%{http_code}' -H "$AUTH_H" "$BASE$u" || true)"
            json_na "GET ${u%%\?*} answered $code: $(head -c 160 "$WORK/$f.body" | tr -d '\n')" >"$WORK/$f"
        fi
    done

    step "FastCGI: the dashboard page with 8 widgets"
    layout='{"role":"manager","layout":{"columns":12,"widgets":[
      {"widget_type":"kpi_oee","x":0,"y":0,"w":3,"h":2,"params":{},"title":null},
      {"widget_type":"kpi_availability","x":3,"y":0,"w":3,"h":2,"params":{},"title":null},
      {"widget_type":"kpi_quality","x":6,"y":0,"w":3,"h":2,"params":{},"title":null},
      {"widget_type":"kpi_production","x":9,"y":0,"w":3,"h":2,"params":{},"title":null},
      {"widget_type":"oee_trend","x":0,"y":2,"w":8,"h":4,"params":{},"title":null},
      {"widget_type":"downtime_pareto","x":8,"y":2,"w":4,"h":4,"params":{},"title":null},
      {"widget_type":"production_over_time","x":0,"y":6,"w":6,"h":4,"params":{},"title":null},
      {"widget_type":"shift_summary","x":6,"y":6,"w":6,"h":4,"params":{},"title":null}]}}'
    python3 "$TOOL" post --url "$BASE/api/v1/dashboard/layout" --json "$layout" -H "$AUTH_H" >"$WORK/layout.json" || true
    if ! grep -q '"status": 200' "$WORK/layout.json"; then
        note "saving the 8-widget layout failed ($(head -c 200 "$WORK/layout.json")): the page shows its default layout"
    fi
    python3 "$TOOL" dashboard --base "$BASE" --cookie "$COOKIE" --runs 5 \
        --start "${D7}T00:00" --end "${DAY_END}T00:00" >"$WORK/dashboard.json" \
        || json_na "dashboard measurement failed" >"$WORK/dashboard.json"
else
    for f in api_summary.json api_oee30.json api_oee365.json dashboard.json; do
        json_na "apache (fcgid) or the login failed (log: $APACHE_DIR/logs/error.log)" >"$WORK/$f"
    done
    na wrk_lines.na "apache (fcgid) or the login failed"
fi
apache stop || true

# ------------------------------------------------------------------ 5. binaries
step "binaries: stripped sizes, peak RSS as CGI, Lambda cold start"
python3 - "$BIN" "$TARGET_DIR/dist" >"$WORK/sizes.json" <<'PY'
import json, os, subprocess, sys, tempfile
out = {}
for n in ("auth", "production", "data", "downtime", "metrics", "dashboard", "jobs", "dashctl"):
    out[n] = {}
    for profile, b in (("release", sys.argv[1]), ("dist", sys.argv[2])):
        p = os.path.join(b, n)
        if not os.path.exists(p):
            out[n][profile] = {"na": "not built"}; continue
        with tempfile.TemporaryDirectory() as d:
            s = os.path.join(d, n)
            r = subprocess.run(["strip", "-o", s, p], capture_output=True)
            e = {"file": os.path.getsize(p), "stripped": os.path.getsize(s) if r.returncode == 0 else None}
            if r.returncode:
                e["na"] = "strip failed"
            out[n][profile] = e
print(json.dumps(out))
PY

cgi_rss() {      # cgi_rss BINARY URI [BEARER] [COOKIE] [BODY] → {"route","kib","status"}
    local bin="$1" uri="$2" bearer="${3:-}" cookie="${4:-}" body="${5:-}" path query="" method=GET st kib
    path="${uri%%\?*}"; [[ "$uri" == *\?* ]] && query="${uri#*\?}"
    [ -n "$body" ] && method=POST
    local envs=(PATH=/usr/bin:/bin "DASHBOARD_ENV_FILE=$ENV_FILE" GATEWAY_INTERFACE=CGI/1.1
        SERVER_PROTOCOL=HTTP/1.1 SERVER_NAME=127.0.0.1 "SERVER_PORT=$PORT" REMOTE_ADDR=127.0.0.1
        "REQUEST_METHOD=$method" "REQUEST_URI=$uri" "SCRIPT_NAME=$path" "QUERY_STRING=$query")
    [ -n "$bearer" ] && envs+=("HTTP_AUTHORIZATION=Bearer $bearer")
    [ -n "$cookie" ] && envs+=("HTTP_COOKIE=$cookie")
    [ -n "$body" ] && envs+=(CONTENT_TYPE=application/json "CONTENT_LENGTH=${#body}")
    if [ ! -x "$BIN/$bin" ]; then json_na "$bin is not built"; return; fi
    printf '%s' "$body" | env -i "${envs[@]}" /usr/bin/time -f 'TIME %e %M' -o "$WORK/rss.time" \
        "$BIN/$bin" >"$WORK/rss.out" 2>/dev/null || true
    st="$(head -c 4000 "$WORK/rss.out" | tr -d '\r' | sed -n 's/^Status: *\([0-9][0-9]*\).*/\1/p' | head -n 1)"
    kib="$(sed -n 's/^TIME [0-9.]* \([0-9]*\)$/\1/p' "$WORK/rss.time")"
    python3 -c 'import json,sys; print(json.dumps({"route": sys.argv[1], "kib": int(sys.argv[2]) if sys.argv[2] else None, "status": sys.argv[3] or "200"}))' \
        "$method ${path}" "$kib" "$st"
}
# A fresh login (the tokens of the Apache phase may have expired), itself measured.
login_body="{\"username\":\"$BENCH_USER\",\"password\":\"$PASSWORD\"}"
login_rss="$(cgi_rss auth /api/v1/auth/login "" "" "$login_body")"
if fresh="$(python3 - "$WORK/rss.out" <<'PY'
import json, sys
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, _, body = raw.partition(b"\n\n")
cookies = [l.split(b":", 1)[1].strip().split(b";")[0].decode() for l in head.split(b"\n")
           if l.lower().startswith(b"set-cookie:")]
print(json.loads(body)["access_token"])
print("; ".join(cookies))
PY
)"; then
    TOKEN="$(sed -n 1p <<<"$fresh")"
    COOKIE="$(sed -n 2p <<<"$fresh")"
else
    note "the CGI login for the peak RSS figures failed: requests with a token will answer 401"
fi
{
    triv_kib=null
    if [ -x "$TRIVIAL_DIR/production" ]; then
        triv_kib="$(env -i GATEWAY_INTERFACE=CGI/1.1 /usr/bin/time -f '%M' "$TRIVIAL_DIR/production" 2>&1 >/dev/null | tail -n 1)"
        [[ "$triv_kib" =~ ^[0-9]+$ ]] || triv_kib=null
    fi
    printf '{'
    printf '"_trivial_cgi": {"kib": %s},' "$triv_kib"
    printf '"auth": {"health": %s, "request": %s},' "$(cgi_rss auth /api/v1/auth/health)" "$login_rss"
    printf '"production": {"health": %s, "request": %s},' "$(cgi_rss production /api/v1/production/health)" \
        "$(cgi_rss production /api/v1/production/lines "${TOKEN:-}")"
    printf '"data": {"health": %s, "request": %s},' "$(cgi_rss data /api/v1/data/health)" \
        "$(cgi_rss data "/api/v1/data/production/summary?line_id=$LINE_ID&start_date=$D30&end_date=$DAY_END" "${TOKEN:-}")"
    printf '"downtime": {"health": %s, "request": %s},' "$(cgi_rss downtime /api/v1/downtime/health)" \
        "$(cgi_rss downtime "/api/v1/downtime?line_id=$LINE_ID&start_date=$D30&end_date=$DAY_END" "${TOKEN:-}")"
    printf '"metrics": {"health": %s, "request": %s},' "$(cgi_rss metrics /api/v1/metrics/health)" \
        "$(cgi_rss metrics "/api/v1/metrics/oee?line_id=$LINE_ID&start_date=$D30&end_date=$DAY_END" "${TOKEN:-}")"
    printf '"dashboard": {"health": %s, "request": %s}' "$(cgi_rss dashboard /api/v1/system/health)" \
        "$(cgi_rss dashboard /dashboard "" "${COOKIE:-}")"
    printf '}\n'
} >"$WORK/rss.json"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/rss.json" 2>/dev/null \
    || { note "peak RSS measurements unreadable ($WORK/rss.json)"; echo '{}' >"$WORK/rss.json"; }

python3 "$TOOL" lambda --bin "$BIN/production" --env-file "$ENV_FILE" --runs "$LAMBDA_RUNS" \
    --path /api/v1/production/health >"$WORK/lambda.json" 2>>"$LOG" || json_na "lambda harness failed" >"$WORK/lambda.json"

# ------------------------------------------------------------------ 6. bench-data.sh (last: it may rebuild; binaries were measured above)
if [ "${BENCH_DATA:-1}" != 0 ] && [ -x scripts/bench-data.sh ]; then
    step "bare-SQL baselines: scripts/bench-data.sh (log: $WORK/bench_data.txt)"
    rc=0
    DATABASE_URL="$DB_URL" BENCH_GLOBAL_DB="$GLOBAL" BENCH_CLIENT_DB="$CLIENT" BENCH_LINE="$LINE_ID" \
        BENCH_RUNS="${BENCH_DATA_RUNS:-3}" CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-1}" \
        timeout "$BENCH_DATA_TIMEOUT" scripts/bench-data.sh >"$WORK/bench_data.txt" 2>&1 || rc=$?
    if [ "$rc" = 124 ]; then
        na bench_data.na "scripts/bench-data.sh timed out after ${BENCH_DATA_TIMEOUT} s (BENCH_DATA_TIMEOUT; its cargo test build counts)"
    elif [ "$rc" != 0 ]; then
        na bench_data.na "scripts/bench-data.sh failed (exit $rc): $(grep -E 'panicked|^error' "$WORK/bench_data.txt" | awk '!seen[$0]++' | head -n 2 | tr '\n' ' ' | cut -c1-200)"
    fi
elif [ "${BENCH_DATA:-1}" = 0 ]; then
    na bench_data.na "skipped (BENCH_DATA=0)"
else
    na bench_data.na "scripts/bench-data.sh does not exist"
fi

# ------------------------------------------------------------------ 7. the table
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
git diff --quiet HEAD -- 2>/dev/null || git_rev="$git_rev (+ uncommitted changes)"
notes_json="$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "${NOTES[@]+"${NOTES[@]}"}")"
python3 - "$WORK/meta.json" <<PY
import json, time
json.dump({
  "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
  "duration_s": round(($(now_ms) - $T_START) / 1000),
  "machine": "$(nproc) cores ($cpu), load average $LOAD_START at start, $LOAD_END at end",
  "data_set": "tenant $TENANT of $GLOBAL, client db $CLIENT: ≈$DETECTIONS detections in ${#DET_TABLES[@]} lines, $oldest → $newest ($DATA_STATE); windows end $DAY_END (line $LINE_ID)",
  "apache": "private Apache 127.0.0.1:$PORT ($APACHE_DIR), mod_cgid then mod_fcgid, access log off",
  "git": "$git_rev",
  "database": "${DBU_HOST}:${DBU_PORT}",
  "notes": $notes_json,
}, open("$WORK/meta.json", "w"), indent=2, ensure_ascii=False)
PY
python3 "$TOOL" report --work "$WORK" --out "$OUT"
if [ -s "$WORK/cpu/table.md" ]; then
    printf '\nCPU per request, GET /api/v1/production/lines, 8 connections (scripts/bench/cpu.sh):\n\n'
    cat "$WORK/cpu/table.md"
fi
step "written $OUT (raw outputs: $WORK) in $(fmt_ms $(( $(now_ms) - T_START )))"
