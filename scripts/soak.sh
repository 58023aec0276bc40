#!/usr/bin/env bash
# Soak test (make soak): steady mixed traffic through FastCGI for a while, then the figures.
#
#   scripts/soak.sh                     # 5 minutes
#   scripts/soak.sh --minutes 1         # a quick check
#   scripts/soak.sh --rate 150 --threads 4 --keep
#
# On a private stack under .run/soak/ (its own MariaDB on port 18250 through scripts/db.sh
# with DB_FORCE_PRIVATE=1, Apache + mod_fcgid on 18251, the two demo plants with
# SOAK_DAYS=14 days of history), wrk (scripts/soak/soak.lua) sends about --rate requests/s
# (default 100) on loopback: authenticated GETs over routes of every function group,
# justifications (PUT /api/v1/downtime/{id}) as the operator, logins, and a share of
# malformed requests (bad ids, reversed or oversized ranges, junk JSON, bad tokens, SQL
# fragments) that must get a 4xx. scripts/soak/rss.py samples the RSS of every FastCGI
# worker every 10 s. At the end it prints and writes .run/soak/soak-<time>.json (and
# .run/soak/latest.json): requests served, errors (answers other than 2xx/3xx, and for
# malformed requests other than 4xx, plus socket errors), faults survived, bad inputs
# tried, rows lost (detections and justified stops before/after; every justification
# answered 200 must be stored as written), RSS first/max/last per worker process.
# Exit 1 when errors > 0, rows lost > 0, or a worker's RSS floor grows by more than
# max(SOAK_RSS_GROWTH_MB (16) MiB, 50 %): the lowest RSS of the second half of its samples
# against the lowest of the first half (a leak raises the floor; auth's argon2 hashing
# takes 64 MiB for a moment and gives it back).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/soak/stack.sh
. "$REPO_ROOT/scripts/soak/stack.sh"
cd "$REPO_ROOT"

MINUTES=5 RATE=100 THREADS=4 KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) MINUTES="${2:-}"; shift 2 ;;
        --minutes=*) MINUTES="${1#*=}"; shift ;;
        --rate) RATE="${2:-}"; shift 2 ;;
        --rate=*) RATE="${1#*=}"; shift ;;
        --threads) THREADS="${2:-}"; shift 2 ;;
        --threads=*) THREADS="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
if ! [[ "$MINUTES" =~ ^[0-9]+$ ]] || [ "$MINUTES" -lt 1 ]; then die "--minutes must be a whole number >= 1"; fi
if ! [[ "$RATE" =~ ^[0-9]+$ ]] || [ "$RATE" -lt 1 ]; then die "--rate must be a whole number >= 1"; fi
if ! [[ "$THREADS" =~ ^[0-9]+$ ]] || [ "$THREADS" -lt 1 ] || [ "$THREADS" -gt 32 ]; then
    die "--threads must be 1..32"
fi
command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh installs it)"

SDIR="$RUN_ROOT/soak"
P_DB=18250 P_HTTP=18251
BASE="http://127.0.0.1:$P_HTTP"
RSS_PID=""
T0="$(now_ms)"

cleanup() {
    local rc=$?
    if [ -n "$RSS_PID" ]; then kill "$RSS_PID" 2>/dev/null || true; fi
    if [ "$KEEP" = 1 ]; then
        log "--keep: stack left running at $BASE (env file $ST_ENV)"
    else
        stack_cleanup
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "private stack in $SDIR (MariaDB on $P_DB, Apache fcgid on $P_HTTP; log $SDIR/setup.log)"
stack_init "$SDIR" "$P_DB"
stack_db_start
stack_write_env "RATE_LIMIT_USER_PER_MIN=0
RATE_LIMIT_AUTH_IP_PER_MIN=0"
stack_load_demo "${SOAK_DAYS:-14}"
# No recycling: a leak must show in the RSS of long-lived workers.
FCGID_MAX_REQUESTS=0 stack_apache soak start fcgid "$P_HTTP"
for _ in $(seq 1 50); do         # the pid file may come a moment after the port opens
    [ -s "$SDIR/apache-soak/httpd.pid" ] && break
    sleep 0.1
done
APACHE_PID="$(cat "$SDIR/apache-soak/httpd.pid" 2>/dev/null)" || die "apache wrote no pid file in $SDIR/apache-soak"
RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$SDIR/run-$RUN_ID"
mkdir -p "$OUT"
log "setup done in $(fmt_ms $(($(now_ms) - T0)))"

DB=dashboard_client_demo
# Lines of Demo Plant: "id code" per line.
mapfile -t LINES < <(stack_lines "$DB")
[ "${#LINES[@]}" -ge 1 ] || die "Demo Plant has no lines"
FAILURES="$(stack_sql "$DB" "SELECT failure_id FROM failure WHERE is_active = 1 ORDER BY failure_id LIMIT 8" | tr '\n' ' ')"
STOPS=""
for l in "${LINES[@]}"; do
    STOPS="$STOPS $(stack_sql "$DB" "SELECT CONCAT(${l%% *}, ':', downtime_id) FROM downtime_events_${l#* }
        WHERE is_micro = 0 AND failure_id IS NULL ORDER BY start_time DESC LIMIT 120" | tr '\n' ' ')"
done
[ -n "${STOPS// /}" ] || die "Demo Plant has no unjustified stops to justify (jobs downtime did not run?)"
ONE_STOP="$(printf '%s' "$STOPS" | awk '{print $1}')"

# counts — "detections justified" of Demo Plant and Second Plant together.
counts() {
    local db l code det=0 just=0 d j
    for db in dashboard_client_demo dashboard_client_second; do
        while read -r l code; do
            d="$(stack_sql "$db" "SELECT COUNT(*) FROM detection_line_$code")"
            j="$(stack_sql "$db" "SELECT COUNT(*) FROM downtime_events_$code WHERE failure_id IS NOT NULL")"
            det=$((det + d)); just=$((just + j))
        done < <(stack_lines "$db")
    done
    echo "$det $just"
}

GOOD=(
    /api/v1/auth/me /api/v1/users/me /api/v1/tenants/current
    /api/v1/production/lines /api/v1/production/lines/1 /api/v1/production/areas
    /api/v1/production/lines/2/areas /api/v1/production/products /api/v1/production/products/1
    /api/v1/production/shifts
    "/api/v1/data/detections?line_id=1&range=today&limit=50"
    "/api/v1/data/production/summary?line_id=1&range=yesterday"
    "/api/v1/data/production/by-product?line_id=2&range=last_7_days"
    "/api/v1/data/production/by-area?line_id=1&range=today"
    "/api/v1/downtime?line_id=1&range=last_7_days&limit=20"
    "/api/v1/downtime/summary?line_id=2&range=last_7_days"
    "/api/v1/downtime/${ONE_STOP#*:}?line_id=${ONE_STOP%%:*}"
    "/api/v1/metrics/oee?line_id=1&range=yesterday&interval=hour"
    "/api/v1/metrics/oee?line_id=2&range=last_7_days&interval=day"
    "/api/v1/metrics/availability?line_id=1&range=today"
    "/api/v1/metrics/performance?line_id=2&range=yesterday"
    "/api/v1/metrics/quality?line_id=1&range=last_7_days"
    /api/v1/dashboard/layout /api/v1/dashboard/filters /api/v1/dashboard/catalog
    /api/v1/system/health /api/v1/system/version
    /api/v1/production/health /api/v1/data/health /api/v1/metrics/health
)
# METHOD|PATH|BODY|AUTH (token, none or junk): each must get a 4xx.
BAD=(
    "GET|/api/v1/production/lines/999999||token"
    "GET|/api/v1/production/lines/abc||token"
    "GET|/api/v1/production/products/-1||token"
    "GET|/api/v1/metrics/oee?line_id=1&from=2026-11-20T00:00:00&to=2026-11-10T00:00:00||token"
    "GET|/api/v1/data/production/summary?line_id=1&from=2026-11-20&to=2026-11-01||token"
    "GET|/api/v1/data/production/summary?line_id=999&range=today||token"
    "GET|/api/v1/downtime?line_id=1&start_date=2000-01-01&end_date=2026-01-01||token"
    "GET|/api/v1/downtime/summary?line_id=1&start_date=2026-11-20&end_date=2026-11-01||token"
    "GET|/api/v1/metrics/oee?line_id=1&range=bogus||token"
    "GET|/api/v1/metrics/oee?line_id=1%27%20OR%201=1--&range=today||token"
    "GET|/api/v1/metrics/oee?line_id=1&range=today&timezone=Mars/Base||token"
    "GET|/api/v1/data/detections?line_id=1&range=today&limit=-5||token"
    "GET|/api/v1/downtime?line_id=1&range=today&cursor=%3Cscript%3Ealert(1)%3C/script%3E||token"
    "PUT|/api/v1/downtime/${ONE_STOP#*:}?line_id=${ONE_STOP%%:*}|{not json|token"
    "PUT|/api/v1/downtime/${ONE_STOP#*:}?line_id=${ONE_STOP%%:*}|{\"failure_id\": 999999}|token"
    "PUT|/api/v1/downtime/999999999?line_id=1|{\"failure_id\": 1}|token"
    "PUT|/api/v1/downtime/abc?line_id=1|{\"failure_id\": 1}|token"
    "POST|/api/v1/auth/login|{\"username\": 1}|none"
    "POST|/api/v1/auth/login|{\"username\": \"nobody-soak\", \"password\": \"wrong-password\"}|none"
    "GET|/api/v1/production/lines||junk"
    "GET|/api/v1/production/lines||none"
    "DELETE|/api/v1/production/lines||token"
    "POST|/api/v1/dashboard/layout|[1, 2, 3]|token"
    "GET|/api/v1/nope||token"
)

# One operator per wrk thread: a thread's logins replace its own token, and the cap on
# sessions per user (MAX_SESSIONS_PER_USER) never revokes another thread's.
TOKENS=""
for i in $(seq 1 "$THREADS"); do
    st_user "$ST_DEMO_ID" "soak$i" operator
    TOKENS="$TOKENS $(login "$BASE" "soak$i")"
done
TOKEN="$(login "$BASE" operator)"
# Before the soak: every route answers as it should (clear message when one does not).
pre_bad=""
for p in "${GOOD[@]}"; do
    http GET "$BASE$p" "$TOKEN"
    [[ "$HS" =~ ^[23] ]] || pre_bad="$pre_bad $HS:$p"
done
for b in "${BAD[@]}"; do
    IFS='|' read -r m p body auth <<<"$b"
    tok=""; [ "$auth" = token ] && tok="$TOKEN"; [ "$auth" = junk ] && tok="junk.junk.junk"
    http "$m" "$BASE$p" "$tok" "$body"
    [[ "$HS" =~ ^4 ]] || pre_bad="$pre_bad $HS:$m:$p"
done
[ -z "$pre_bad" ] || warn "before the soak, routes that answer wrongly (counted as errors below):$pre_bad"

read -r DET_BEFORE JUST_BEFORE < <(counts)
DURATION_S=$((MINUTES * 60))
python3 "$REPO_ROOT/scripts/soak/rss.py" "$APACHE_PID" "$ST_BIN" "$OUT/rss.jsonl" 10 \
    "$(( $(date +%s) + DURATION_S + 5 ))" &
RSS_PID=$!
DELAY_MS=$(( 1000 * THREADS / RATE ))
log "soak: ${MINUTES} min, ~$RATE requests/s ($THREADS threads, one request every ${DELAY_MS} ms each)"
set +e
SOAK_THREADS="$THREADS" SOAK_TOKENS="$TOKENS" SOAK_USER_PREFIX=soak SOAK_PASSWORD="$ST_PASSWORD" \
SOAK_DELAY_MS="$DELAY_MS" SOAK_STOPS="$STOPS" SOAK_FAILURES="$FAILURES" SOAK_OUT="$OUT" \
SOAK_GOOD="${GOOD[*]}" SOAK_BAD="$(printf '%s\n' "${BAD[@]}")" \
    timeout $((DURATION_S + 120)) wrk -t "$THREADS" -c "$THREADS" -d "${DURATION_S}s" --timeout 10s \
    -s "$REPO_ROOT/scripts/soak/soak.lua" "$BASE" >"$OUT/wrk.txt" 2>&1
WRK_RC=$?
set -e
kill "$RSS_PID" 2>/dev/null || true
wait "$RSS_PID" 2>/dev/null || true
RSS_PID=""
read -r DET_AFTER JUST_AFTER < <(counts)

# Every justification answered 200: the last one written per stop must be stored.
for l in "${LINES[@]}"; do
    stack_sql "$DB" "SELECT ${l%% *}, downtime_id, failure_id, justification FROM downtime_events_${l#* }
        WHERE failure_id IS NOT NULL" >>"$OUT/stored.tsv"
done

python3 - "$OUT" "$SDIR" "$RUN_ID" "$WRK_RC" "$MINUTES" "$RATE" "$THREADS" \
    "$DET_BEFORE" "$DET_AFTER" "$JUST_BEFORE" "$JUST_AFTER" "${SOAK_RSS_GROWTH_MB:-16}" <<'PY'
import glob, json, os, re, sys
out, sdir, run_id, wrk_rc, minutes, rate, threads = sys.argv[1:8]
det_b, det_a, just_b, just_a = (int(x) for x in sys.argv[8:12])
growth_mb = float(sys.argv[12])

wrk = open(os.path.join(out, "wrk.txt")).read()
m = re.search(r"^SOAK (.*)$", wrk, re.M)
f = dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}
num = lambda k: int(f.get(k, "-1"))
first_errors = (re.search(r"^SOAK_FIRST_ERRORS (.*)$", wrk, re.M) or [None, "?"])[1]

# Justifications: the last write of each thread per stop (each thread has its own stops).
written = {}
for path in glob.glob(os.path.join(out, "justified-*.txt")):
    for line in open(path):
        parts = line.rstrip("\n").split(" ", 3)
        if len(parts) == 4:
            written[(parts[0], parts[1])] = (parts[2], parts[3])
stored = {}
for line in open(os.path.join(out, "stored.tsv")):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 4:
        stored[(parts[0], parts[1])] = (parts[2], parts[3])
missing = sorted(k for k, v in written.items() if stored.get(k) != v)
lost = max(0, det_b - det_a) + len(missing) + max(0, just_b + len(written) - just_a)

# RSS per process.
procs, series = {}, {}
for line in open(os.path.join(out, "rss.jsonl")):
    s = json.loads(line)
    for p in s["procs"]:
        e = procs.setdefault(p["pid"], {"pid": p["pid"], "name": p["name"], "samples": 0,
                                        "first_kb": p["rss_kb"], "max_kb": 0})
        e["samples"] += 1
        e["max_kb"] = max(e["max_kb"], p["rss_kb"])
        e["last_kb"] = p["rss_kb"]
        series.setdefault(p["pid"], []).append(p["rss_kb"])
# A leak raises the floor of a process's RSS; a request's transient memory (auth's argon2
# hash takes 64 MiB for a moment) does not. Growth = lowest RSS of the second half of its
# samples minus lowest of the first half.
rss_bad = []
for pid, e in procs.items():
    v = series[pid]
    half = len(v) // 2
    e["floor_growth_kb"] = (min(v[half:]) - min(v[:half])) if half else 0
    bound = max(growth_mb * 1024, 0.5 * min(v))
    if len(v) >= 4 and e["floor_growth_kb"] > bound:
        rss_bad.append(f'{e["name"]}[{pid}] floor +{e["floor_growth_kb"]} kB')

socket = num("socket_errors")
errors = num("errors") + max(socket, 0) + (0 if wrk_rc == "0" else 1) + (1 if not m else 0)
result = {
    "run": run_id, "minutes": int(minutes), "target_rate": int(rate), "threads": int(threads),
    "requests_served": num("answered"), "requests_sent": num("requests"),
    "rate_per_s": round(num("answered") / (int(minutes) * 60), 1),
    "errors": errors, "socket_errors": socket, "first_errors": first_errors.strip(),
    "faults_survived": 0, "bad_inputs_tried": num("bad_tried"), "bad_inputs_not_4xx": num("bad_wrong"),
    "justifications_written": num("justified"), "stops_justified": len(written), "logins": num("logins"),
    "latency_ms": {"p50": float(f.get("p50_ms", "nan")), "p99": float(f.get("p99_ms", "nan")),
                   "max": float(f.get("max_ms", "nan"))},
    "rows": {"detections_before": det_b, "detections_after": det_a,
             "justified_before": just_b, "justified_after": just_a,
             "justifications_missing": [f"{k[0]}:{k[1]}" for k in missing[:20]], "lost": lost},
    "rss": sorted(procs.values(), key=lambda e: (e["name"], e["pid"])),
    "rss_growth_bound": f"floor growth <= max({growth_mb:g} MiB, 50 %)", "rss_too_much": rss_bad,
}
result["ok"] = errors == 0 and lost == 0 and not rss_bad
for path in (os.path.join(sdir, f"soak-{run_id}.json"), os.path.join(sdir, "latest.json")):
    with open(path, "w") as fh:
        json.dump(result, fh, indent=2)

mb = lambda kb: f"{kb / 1024:.1f}"
print(f"\nsoak {run_id}: {minutes} min at ~{rate}/s target ({threads} threads)")
print(f"  requests served      {result['requests_served']}  ({result['rate_per_s']}/s; "
      f"p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms, max {result['latency_ms']['max']} ms)")
print(f"  errors               {errors}  (non-2xx/3xx, bad input not 4xx: {num('bad_wrong')}, socket errors: {socket})")
if errors:
    print(f"    first errors:{first_errors[:600]}")
print(f"  faults survived      0  (the fault checks are scripts/faults.sh)")
print(f"  bad inputs tried     {num('bad_tried')}  (all answered 4xx: {'yes' if num('bad_wrong') == 0 else 'no'})")
print(f"  writes               {num('justified')} justifications of {len(written)} stops, {num('logins')} logins")
print(f"  rows lost            {lost}  (detections {det_b} -> {det_a}, justified stops {just_b} -> {just_a}, "
      f"written but not stored: {len(missing)})")
print(f"  RSS per FastCGI worker (MiB, first/max/last over samples every 10 s):")
for e in result["rss"]:
    print(f"    {e['name']:<11} pid {e['pid']:<8} {mb(e['first_kb'])}/{mb(e['max_kb'])}/{mb(e['last_kb'])}"
          f"  ({e['samples']} samples, floor growth {e['floor_growth_kb'] / 1024:+.1f})")
if rss_bad:
    print(f"  RSS floor grew beyond max({growth_mb:g} MiB, 50 %): {', '.join(rss_bad)}")
print(f"  figures: {os.path.join(sdir, 'soak-' + run_id + '.json')}")
print("soak: ok" if result["ok"] else "soak: FAILED")
sys.exit(0 if result["ok"] else 1)
PY
