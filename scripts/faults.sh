#!/usr/bin/env bash
# Fault checks (part of make test): the stack misbehaves on purpose and must answer well.
#
#   scripts/faults.sh                 # every check; exit 1 when one fails
#   scripts/faults.sh --only a,c      # some of them (a b c d e f)
#   scripts/faults.sh --keep          # leave the private stack running at the end
#
#   a  database stopped during requests: every group's health and authenticated
#      data/metrics requests answer 503 JSON with Retry-After within 3 s (FastCGI and
#      CGI), and everything answers again once the database is back, Apache untouched;
#   b  downtime job killed (-9) mid-run, three times, then run to completion: the stored stops
#      and the watermark equal those of one clean run over an identical copy of the data;
#   c  FastCGI recycling under load (FcgidMaxRequestsPerProcess 50): wrk with a few
#      thousand authenticated GETs over every group: no non-2xx answer, no socket error;
#   d  a client database missing a column and a table: that tenant gets clear JSON
#      errors (never a 500, never SQL text); the other tenant is unaffected;
#   e  database frozen with SIGSTOP (a hung server, a partition): 503 within 5 s, never a hang;
#   f  a tenant's own database server stopped: Remote Plant's client database lives on a second
#      private MariaDB (register-tenant --db-host/--db-port), Demo Plant's on the main one;
#      with the second server stopped, Remote Plant's data routes answer 503 JSON +
#      Retry-After within the acquire timeout (DB_CONNECT_TIMEOUT_SECONDS + 1 s), Demo Plant's
#      answer 200 with a median latency ≤ max(3 × before, before + 50 ms) (both measured
#      with Remote Plant's requests between Demo Plant's, served by the same processes),
#      and Remote Plant answers 200 again once its server is back, Apache untouched.
#
# Everything runs on a private stack under .run/faults/: its own MariaDB (scripts/db.sh
# with DB_FORCE_PRIVATE=1, port 18210, never the machine's server), for check f a second
# one (private_db in scripts/lib.sh, .run/faults/mariadb-second, port 18211), Apaches on
# ports 18201-18205 (scripts/apache.sh). Needs the release binaries (cargo build --release
# --workspace), curl, python3, wrk (check c is skipped with a warning without it).
# Environment: FAULTS_DAYS (history of the demo tenants, default 14), FAULTS_KILL_DAYS
# (history of the killed job's line, default 90), FAULTS_WRK_SECONDS (default 20) and
# FAULTS_WRK_MIN_REQUESTS (default 2000) of check c, FAULTS_TWO_ROUNDS (rounds of the data
# requests measured before and during the outage of check f, default 10),
# FAULTS_BIN_DIR (default target/release). Log: .run/faults/setup.log.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/soak/stack.sh
. "$REPO_ROOT/scripts/soak/stack.sh"
cd "$REPO_ROOT"

ONLY="a,b,c,d,e,f"
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --only) ONLY="${2:-}"; shift 2 ;;
        --only=*) ONLY="${1#*=}"; shift ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }

FDIR="$RUN_ROOT/faults"
P_FCGID=18201 P_CGI=18202 P_RECYCLE=18203 P_SCHEMA=18204 P_TWO=18205 P_DB=18210 P_DB2=18211
DB2_DIR="$FDIR/mariadb-second"
PASSED=0 FAILED=0 FAILED_NAMES=()
T0="$(now_ms)"

cleanup() {
    local rc=$?
    if [ "$KEEP" = 1 ]; then
        log "--keep: stack left running (env file $ST_ENV)"
    else
        stack_cleanup
        private_db stop "$DB2_DIR" >>"${ST_LOG:-/dev/null}" 2>&1 || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# check NAME OK(0/1) DETAIL
check() {
    if [ "$2" = 0 ]; then
        printf 'ok    %-58s %s\n' "$1" "$3"
        PASSED=$((PASSED + 1))
    else
        printf 'FAIL  %-58s %s\n' "$1" "$3"
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$1")
    fi
}

# ------------------------------------------------------------------------ setup
log "private stack in $FDIR (MariaDB on $P_DB; log $FDIR/setup.log)"
stack_init "$FDIR" "$P_DB"
stack_db_start
stack_write_env "RATE_LIMIT_USER_PER_MIN=0
RATE_LIMIT_AUTH_IP_PER_MIN=0"
stack_load_demo "${FAULTS_DAYS:-14}"
log "setup done in $(fmt_ms $(($(now_ms) - T0)))"

# The requests of check a: health of every group, then authenticated data and metrics.
HEALTH_PATHS=(
    /api/v1/auth/health /api/v1/production/health /api/v1/data/health
    /api/v1/downtime/health /api/v1/metrics/health /api/v1/dashboard/health /api/v1/system/health
)
DATA_PATHS=(
    "/api/v1/data/production/summary?line_id=1&range=last_7_days"
    "/api/v1/metrics/oee?line_id=1&range=last_7_days&interval=day"
    "/api/v1/downtime?line_id=1&range=last_7_days&limit=20"
)

# round BASE TOKEN — one request to each path; sets R_OK R_TOTAL R_BAD (first bad ones).
round() {
    local p
    R_OK=0 R_TOTAL=0 R_BAD=""
    for p in "${HEALTH_PATHS[@]}" "${DATA_PATHS[@]}"; do
        http GET "$1$p" "$2"
        R_TOTAL=$((R_TOTAL + 1))
        if [ "$HS" = 200 ]; then R_OK=$((R_OK + 1)); else R_BAD="${R_BAD:-} $HS:$p"; fi
    done
}

# await_recovery BASE TOKEN — after a server comes back, rounds until three in a row succeed,
# for at most 15 s (the first rounds may meet connections that died with the server); sets
# RECOVERED (0 = recovered, the check's rc), ROUNDS and FIRST_FAIL.
await_recovery() {
    local streak=0 t_end=$((SECONDS + 15))
    RECOVERED=1 ROUNDS=0 FIRST_FAIL=""
    while [ "$SECONDS" -lt "$t_end" ]; do
        round "$1" "$2"
        ROUNDS=$((ROUNDS + 1))
        if [ "$R_OK" = "$R_TOTAL" ]; then
            streak=$((streak + 1))
            if [ "$streak" -ge 3 ]; then RECOVERED=0; return; fi
        else
            streak=0
            [ -n "$FIRST_FAIL" ] || FIRST_FAIL="round $ROUNDS: $((R_TOTAL - R_OK)) failed:$R_BAD"
            sleep 0.5
        fi
    done
}

# outage_round BASE TOKEN SECONDS PATH... — every path must be 503 + Retry-After + JSON error
# in < SECONDS; sets O_OK O_TOTAL O_BAD O_MAX.
outage_round() {
    local base="$1" token="$2" bound="$3" p code ra
    shift 3
    O_OK=0 O_TOTAL=0 O_BAD="" O_MAX=0
    for p in "$@"; do
        http GET "$base$p" "$token"
        O_TOTAL=$((O_TOTAL + 1))
        code="$(json_get 'j["error"]["code"]')"
        ra="$(header retry-after)"
        O_MAX="$(python3 -c "print(max($O_MAX, $HT))")"
        if [ "$HS" = 503 ] && [ -n "$ra" ] && [ -n "$code" ] \
                && python3 -c "import sys; sys.exit(0 if $HT < $bound else 1)"; then
            O_OK=$((O_OK + 1))
        else
            O_BAD="$O_BAD $HS/${HT}s/retry-after=${ra:-none}/code=${code:-none}:$p"
        fi
    done
}

# ------------------------------------------------------------------------ a: database stopped
fault_db_stopped() {
    local modes=(fcgid cgi) m base tok port rc
    declare -A TOK BASE
    stack_apache fcgid start fcgid "$P_FCGID"
    stack_apache cgi start cgi "$P_CGI"
    BASE[fcgid]="http://127.0.0.1:$P_FCGID" BASE[cgi]="http://127.0.0.1:$P_CGI"
    for m in "${modes[@]}"; do
        TOK[$m]="$(login "${BASE[$m]}" manager)"
        # Twice, so FastCGI processes hold pooled connections when the server goes.
        round "${BASE[$m]}" "${TOK[$m]}"
        round "${BASE[$m]}" "${TOK[$m]}"
        rc=0; [ "$R_OK" = "$R_TOTAL" ] || rc=1
        check "a.$m: requests succeed before the outage" "$rc" "$R_OK/$R_TOTAL${R_BAD:+ bad:$R_BAD}"
    done

    port="$ST_DB_PORT_USED"
    stack_db_stop
    if mysql_answers "$ST_DB_URL"; then die "the private MariaDB still answers after stop"; fi
    for m in "${modes[@]}"; do
        outage_round "${BASE[$m]}" "${TOK[$m]}" 3 "${HEALTH_PATHS[@]}" "${DATA_PATHS[@]}"
        rc=0; [ "$O_OK" = "$O_TOTAL" ] || rc=1
        check "a.$m: DB stopped: 503 JSON + Retry-After in < 3 s" "$rc" \
            "$O_OK/$O_TOTAL, slowest ${O_MAX}s${O_BAD:+ bad:$O_BAD}"
        # A second round: processes whose connections died in the first one.
        outage_round "${BASE[$m]}" "${TOK[$m]}" 3 "${HEALTH_PATHS[@]}" "${DATA_PATHS[@]}"
        rc=0; [ "$O_OK" = "$O_TOTAL" ] || rc=1
        check "a.$m: DB still stopped: same again" "$rc" \
            "$O_OK/$O_TOTAL, slowest ${O_MAX}s${O_BAD:+ bad:$O_BAD}"
    done

    stack_db_start
    if [ "$ST_DB_PORT_USED" != "$port" ]; then
        die "the private MariaDB came back on port $ST_DB_PORT_USED, not $port"
    fi
    for m in "${modes[@]}"; do
        # Apache untouched: the same processes must recover by themselves.
        await_recovery "${BASE[$m]}" "${TOK[$m]}"
        check "a.$m: DB back: requests succeed, Apache not restarted" "$RECOVERED" \
            "$ROUNDS rounds${FIRST_FAIL:+ (before recovery: $FIRST_FAIL)}"
    done
    stack_apache cgi stop
    stack_apache fcgid stop
}

# ------------------------------------------------------------------------ b: job killed
# events_digest DB CODE — digest of every stored stop (all columns but the surrogate id
# and the row timestamps), plus their count.
events_digest() {
    stack_sql "$1" "SELECT start_time, end_time, duration_seconds, detection_id, is_micro,
            IFNULL(failure_id, 'null'), IFNULL(justification, 'null'), IFNULL(justified_by, 'null'),
            IFNULL(justified_at, 'null')
        FROM downtime_events_$2 ORDER BY start_time" | md5sum | cut -c1-16
}
events_count() { stack_sql "$1" "SELECT COUNT(*) FROM downtime_events_$2"; }
rollup_rows() { stack_sql "$1" "SELECT COUNT(*) FROM dash_rollup WHERE line_id = 1 AND entry LIKE 'rollup\\_min:%'"; }
watermark_of() {
    stack_sql "$1" "SELECT value_json FROM dash_line_state WHERE entry = 'downtime_watermark' AND line_id = $2"
}
# state_rows DB LINE — what the job keeps for the line in the product's tables (watermarks,
# the minute rollup), without the *_last_run rows (timings); JSON values normalised.
state_rows() {
    stack_sql "$1" "SELECT entry, value_json FROM dash_line_state
            WHERE line_id = $2 AND entry NOT LIKE '%last_run'
        UNION ALL SELECT entry, value_json FROM dash_rollup WHERE line_id = $2 ORDER BY 1" \
    | python3 -c 'import json, sys
for line in sys.stdin:
    entry, value = line.rstrip("\n").split("\t", 1)
    print(entry, json.dumps(json.loads(value), sort_keys=True))'
}

# run_job TENANT — jobs downtime on line 1 until it is not busy (a killed run's advisory
# lock lasts until the server notices the dead connection); prints its duration in ms.
run_job() {
    local i t0 out
    for i in $(seq 1 40); do
        t0="$(now_ms)"
        out="$(DASHBOARD_ENV_FILE="$ST_ENV" DOWNTIME_PAGE_SIZE="$KILL_PAGE" \
            timeout 120 "$ST_BIN/jobs" downtime --tenant "$1" --line 1 2>&1)" \
            || { printf '%s\n' "$out" >>"$ST_LOG"; return 1; }
        printf '$ jobs downtime --tenant %s --line 1\n%s\n' "$1" "$out" >>"$ST_LOG"
        # Busy: the line's stops, or its rollup ("rollup":{"status":"busy"}, the item
        # itself still says OK), are locked by the killed run's connection until the
        # server notices it is gone.
        if grep -Eq '^BUSY|[1-9][0-9]* busy|"status": ?"busy"' <<<"$out"; then
            sleep 0.25
            continue
        fi
        echo $(($(now_ms) - t0))
        return 0
    done
    return 1
}

fault_job_killed() {
    local kill_id clean_id days="${FAULTS_KILL_DAYS:-90}" code clean_ms n_full n wm_k wm_c
    local d_k d_c kills="" landed=0 frac pid t_kill ids_same rc r r_full
    KILL_PAGE="${FAULTS_KILL_PAGE:-1000}"
    kill_id="$(st_register "Kill Plant" Europe/Madrid dashboard_faults_kill)"
    st_dashctl provision-client --tenant "$kill_id" --reference >/dev/null
    st_dashctl demo-data --tenant "$kill_id" --seed 7 --size small --days "$days" >/dev/null
    clean_id="$(st_register "Clean Plant" Europe/Madrid dashboard_faults_clean)"
    stack_copy_db dashboard_faults_kill dashboard_faults_clean
    code="$(stack_line_code dashboard_faults_kill 1)"
    n="$(stack_sql dashboard_faults_kill "SELECT COUNT(*) FROM detection_line_$code")"
    stack_sql dashboard_faults_kill "DELETE FROM downtime_events_$code; DELETE FROM dash_line_state WHERE line_id = 1; DELETE FROM dash_rollup WHERE line_id = 1"
    stack_sql dashboard_faults_clean "DELETE FROM downtime_events_$code; DELETE FROM dash_line_state WHERE line_id = 1; DELETE FROM dash_rollup WHERE line_id = 1"

    # The clean run: one uninterrupted pass.
    clean_ms="$(run_job "$clean_id")" || { check "b: downtime job killed mid-run" 1 "clean run failed (log $ST_LOG)"; return; }
    n_full="$(events_count dashboard_faults_clean "$code")"
    r_full="$(rollup_rows dashboard_faults_clean)"
    # Long enough for a timed kill to land inside it; that one did land is checked below.
    rc=0; [ "$clean_ms" -ge 200 ] || rc=1
    check "b: the clean run lasts >= 200 ms" "$rc" "$n detections of line 1, page $KILL_PAGE: ${clean_ms} ms, $n_full stops"

    # Killed three times, at 10 %, 30 % and 45 % of the clean run's time (early kills land
    # among the stops, later ones in the rollup phase of a resumed run), then resumed to
    # completion.
    for frac in 10 30 45; do
        DASHBOARD_ENV_FILE="$ST_ENV" DOWNTIME_PAGE_SIZE="$KILL_PAGE" \
            "$ST_BIN/jobs" downtime --tenant "$kill_id" --line 1 >>"$ST_LOG" 2>&1 &
        pid=$!
        t_kill=$((clean_ms * frac / 100))
        sleep "$(python3 -c "print($t_kill / 1000)")"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        n="$(events_count dashboard_faults_kill "$code")"
        r="$(rollup_rows dashboard_faults_kill)"
        kills="$kills killed at ${t_kill} ms: $n/$n_full stops, $r/$r_full rollup rows stored;"
        if { [ "$n" -gt 0 ] && [ "$n" -lt "$n_full" ]; } || { [ "$n" = "$n_full" ] && [ "$r" -lt "$r_full" ]; }; then
            landed=$((landed + 1))
        fi
    done
    if ! run_job "$kill_id" >/dev/null; then
        check "b: downtime job killed mid-run" 1 "the resumed run failed (log $ST_LOG)"
        return
    fi
    d_k="$(events_digest dashboard_faults_kill "$code")"
    d_c="$(events_digest dashboard_faults_clean "$code")"
    wm_k="$(watermark_of dashboard_faults_kill 1)"
    wm_c="$(watermark_of dashboard_faults_clean 1)"
    n="$(events_count dashboard_faults_kill "$code")"
    rc=0; [ "$landed" -ge 1 ] || rc=1
    check "b: a kill -9 landed mid-run" "$rc" "${kills%;}"
    rc=0; { [ "$d_k" = "$d_c" ] && [ "$n" = "$n_full" ]; } || rc=1
    check "b: killed+resumed stops == clean run's stops" "$rc" "$n vs $n_full stops, digest $d_k vs $d_c"
    rc=0; [ -n "$wm_k" ] && [ "$wm_k" = "$wm_c" ] || rc=1
    check "b: killed+resumed watermark == clean run's" "$rc" "${wm_k:-none}"
    local m_k m_c
    m_k="$(state_rows dashboard_faults_kill 1)"
    m_c="$(state_rows dashboard_faults_clean 1)"
    rc=0; [ "$m_k" = "$m_c" ] || rc=1
    check "b: killed+resumed dash_line_state and dash_rollup rows == clean's" "$rc" \
        "$(printf '%s\n' "$m_k" | grep -c .) rows (watermarks, minute rollup), digest $(printf '%s' "$m_k" | md5sum | cut -c1-16) vs $(printf '%s' "$m_c" | md5sum | cut -c1-16)"
    if [ "$rc" != 0 ]; then
        diff <(printf '%s\n' "$m_c") <(printf '%s\n' "$m_k") | cut -c1-300 | sed -n '1,10s/^/      /p' || true
    fi
    ids_same="$(python3 -c "import sys; print('yes' if sys.argv[1] == sys.argv[2] else 'no (ids are surrogate keys: gaps after a rolled-back page)')" \
        "$(stack_sql dashboard_faults_kill "SELECT downtime_id FROM downtime_events_$code ORDER BY start_time" | md5sum)" \
        "$(stack_sql dashboard_faults_clean "SELECT downtime_id FROM downtime_events_$code ORDER BY start_time" | md5sum)")"
    log "b: downtime_id sequences identical: $ids_same"
}

# ------------------------------------------------------------------------ c: recycling
fault_recycling() {
    local base="http://127.0.0.1:$P_RECYCLE" tok out total secs line reqs non2xx sock
    if ! command -v wrk >/dev/null 2>&1; then
        warn "wrk is not installed (scripts/deps.sh installs it)"
        check "c: FastCGI recycling under load" 1 "wrk missing"
        return
    fi
    FCGID_MAX_REQUESTS=50 stack_apache recycle start fcgid "$P_RECYCLE"
    grep -q '^FcgidMaxRequestsPerProcess 50$' "$FDIR/apache-recycle/httpd.conf" \
        || die "apache.sh did not apply FCGID_MAX_REQUESTS=50"
    tok="$(login "$base" manager)"
    total="${FAULTS_WRK_MIN_REQUESTS:-2000}"
    secs="${FAULTS_WRK_SECONDS:-20}"
    local paths=(
        /api/v1/production/lines /api/v1/production/products /api/v1/production/shifts
        /api/v1/production/areas /api/v1/auth/me /api/v1/users/me /api/v1/tenants/current
        "/api/v1/data/production/summary?line_id=1&range=today"
        "/api/v1/data/production/by-product?line_id=2&range=yesterday"
        "/api/v1/metrics/oee?line_id=1&range=yesterday"
        "/api/v1/metrics/availability?line_id=2&range=today"
        "/api/v1/downtime?line_id=1&range=yesterday&limit=10"
        "/api/v1/downtime/summary?line_id=1&range=last_7_days"
        /api/v1/dashboard/catalog /api/v1/dashboard/filters /api/v1/system/version /api/v1/data/health
    )
    local p bad_pre=""
    for p in "${paths[@]}"; do
        http GET "$base$p" "$tok"
        [ "$HS" = 200 ] || bad_pre="$bad_pre $HS:$p"
    done
    [ -z "$bad_pre" ] || warn "c: some routes do not answer 200 before the load:$bad_pre"
    out="$(TOKEN="$tok" WRK_LIMIT=0 WRK_PATHS="${paths[*]}" \
        timeout 120 wrk -t2 -c8 -d"${secs}s" --timeout 10s -s "$REPO_ROOT/scripts/soak/mixed.lua" "$base" 2>&1)" || true
    printf '%s\n' "$out" >>"$ST_LOG"
    line="$(printf '%s\n' "$out" | grep '^MIXED ' || true)"
    reqs="$(printf '%s' "$line" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')"
    non2xx="$(printf '%s' "$line" | sed -n 's/.* non2xx=\([0-9]*\).*/\1/p')"
    sock="$(printf '%s' "$line" | sed -n 's/.* socket_errors=\([0-9]*\).*/\1/p')"
    local rps max_ms
    rps="$(printf '%s\n' "$out" | awk '/^Requests\/sec/ { print $2 }')"
    max_ms="$(printf '%s' "$line" | sed -n 's/.* max_ms=\([0-9]*\).*/\1/p')"
    rc=0
    { [ -n "$reqs" ] && [ "$reqs" -ge "$total" ] && [ "$non2xx" = 0 ] && [ "$sock" = 0 ] \
        && [ -z "$bad_pre" ] && [ "${max_ms:-99999}" -lt 5000 ]; } || rc=1
    check "c: FcgidMaxRequestsPerProcess 50 under wrk" "$rc" \
        "${reqs:-?} requests in ${secs} s (${rps:-?}/s, ~$(( ${reqs:-0} / 50 )) recycles), non-2xx ${non2xx:-?}, socket errors ${sock:-?}, slowest ${max_ms:-?} ms${bad_pre:+, before:$bad_pre}"
    [ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/      /'
    stack_apache recycle stop
}

# ------------------------------------------------------------------------ d: client schema
SCHEMA_PATHS=(
    "/api/v1/production/lines"
    "/api/v1/data/production/by-product?line_id=1&range=last_7_days"
    "/api/v1/data/production/summary?line_id=1&range=last_7_days"
    "/api/v1/metrics/oee?line_id=1&range=last_7_days"
    "/api/v1/downtime?line_id=1&range=last_7_days"
    "/api/v1/downtime/summary?line_id=1&range=last_7_days"
    "/api/v1/dashboard/layout"
)
LEAK_RE="select |insert into|update .* set |delete from| from [a-z_]+ | where |sqlstate|errno|unknown column|doesn't exist|dashboard_client_|detection_line_|downtime_events_|panicked|backtrace|at src/"

# schema_round NAME TOKEN — Second Plant's requests after a schema fault: each a 200 (route
# untouched by it) or a JSON 4xx/5xx other than 500 with code and message, never SQL text.
schema_round() {
    local p code msg bad="" named=0 s_ok=0 leaks="" rc
    for p in "${SCHEMA_PATHS[@]}"; do
        http GET "$SCHEMA_BASE$p" "$2"
        code="$(json_get 'j["error"]["code"]')"
        msg="$(json_get 'j["error"]["message"]')"
        if [ "$HS" = 200 ]; then
            s_ok=$((s_ok + 1))
        elif [[ "$HS" =~ ^[45][0-9][0-9]$ ]] && [ "$HS" != 500 ] && [ -n "$code" ] && [ -n "$msg" ]; then
            [ "$code" = client_database_incomplete ] && named=$((named + 1))
        else
            bad="$bad $HS/${code:-no-json}:$p"
        fi
        if grep -Eiq "$LEAK_RE" "$ST_BODY"; then
            leaks="$leaks $HS:$p:$(head -c 200 "$ST_BODY")"
        fi
        printf 'd %s second %s %s %s\n' "$1" "$HS" "$p" "$(head -c 300 "$ST_BODY")" >>"$ST_LOG"
    done
    rc=0; { [ -z "$bad" ] && [ "$named" -ge "$3" ]; } || rc=1
    check "d: $1: Second Plant gets JSON errors" "$rc" \
        "$named client_database_incomplete (need $3), $s_ok routes 200${bad:+, bad:$bad}"
    rc=0; [ -z "$leaks" ] || rc=1
    check "d: $1: no SQL/schema text in the answers" "$rc" "${leaks:-none in ${#SCHEMA_PATHS[@]} answers}"
}

demo_round() {    # NAME TOKEN — Demo Plant: every route 200
    local p bad="" rc
    for p in "${SCHEMA_PATHS[@]}"; do
        http GET "$SCHEMA_BASE$p" "$2"
        [ "$HS" = 200 ] || bad="$bad $HS:$p"
    done
    rc=0; [ -z "$bad" ] || rc=1
    check "d: $1: Demo Plant unaffected" "$rc" "${bad:-all ${#SCHEMA_PATHS[@]} routes 200}"
}

fault_client_schema() {
    local tok_demo tok_second code2
    SCHEMA_BASE="http://127.0.0.1:$P_SCHEMA"
    code2="$(stack_line_code dashboard_client_second 1)"
    stack_apache schema start fcgid "$P_SCHEMA"
    tok_demo="$(login "$SCHEMA_BASE" manager)"
    tok_second="$(login "$SCHEMA_BASE" admin2)"
    # 1. Second Plant's database (the private copy) loses a column of line 1's detection
    #    table, and line 1's stops table (the downtime routes treat a missing stops table
    #    as "not provisioned yet": no stops, a warning in the log).
    stack_sql dashboard_client_second "ALTER TABLE detection_line_$code2 DROP COLUMN product_id;
        DROP TABLE downtime_events_$code2"
    schema_round "column dropped" "$tok_second" 3
    demo_round "column dropped" "$tok_demo"
    # 2. ... and a table every request reads (the reasons); restart Apache so that no
    #    process holds the metadata in its cache.
    stack_sql dashboard_client_second "SET FOREIGN_KEY_CHECKS = 0; DROP TABLE failure"
    stack_apache schema stop
    stack_apache schema start fcgid "$P_SCHEMA"
    schema_round "table dropped" "$tok_second" 5
    demo_round "table dropped" "$tok_demo"
    stack_apache schema stop
}

# ------------------------------------------------------------------------ e: database frozen
# The server is SIGSTOPped: connections stay open and queries never answer (a hung server, a network
# partition). Health and the data/metrics requests of processes that hold pooled
# connections must still answer 503 JSON + Retry-After within 5 s, not hang.
fault_db_frozen() {
    local base="http://127.0.0.1:$P_FCGID" tok pid p i n=0 ok=0 bad="" st t ra
    stack_apache fcgid start fcgid "$P_FCGID"
    tok="$(login "$base" manager)"
    round "$base" "$tok"; round "$base" "$tok"       # every process holds a connection
    pid="$(cat "$FDIR/mariadb/mariadbd.pid")"
    kill -STOP "$pid"
    # In parallel, each bounded by 15 s, so the check takes 15 s at most.
    for p in "${HEALTH_PATHS[@]}" "${DATA_PATHS[@]}"; do
        n=$((n + 1))
        curl -s -o "$FDIR/frozen-$n.body" -D "$FDIR/frozen-$n.head" -w '%{http_code} %{time_total}' \
            --max-time 15 -H "Authorization: Bearer $tok" "$base$p" >"$FDIR/frozen-$n.out" 2>/dev/null &
    done
    wait
    kill -CONT "$pid"
    i=0
    for p in "${HEALTH_PATHS[@]}" "${DATA_PATHS[@]}"; do
        i=$((i + 1))
        read -r st t <"$FDIR/frozen-$i.out" || true
        ra="$(tr -d '\r' <"$FDIR/frozen-$i.head" 2>/dev/null | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
        if [ "${st:-000}" = 503 ] && [ -n "$ra" ] && python3 -c "import sys; sys.exit(0 if ${t:-99} < 5 else 1)"; then
            ok=$((ok + 1))
        else
            bad="$bad ${st:-000}/${t:-?}s:$p"
        fi
    done
    local rc=0; [ "$ok" = "$n" ] || rc=1
    check "e: DB frozen (SIGSTOP): 503 + Retry-After in < 5 s" "$rc" "$ok/$n${bad:+ bad:$bad}"
    stack_apache fcgid stop
}

# ------------------------------------------------------------------------ f: a tenant's server stopped
# two_measure BASE TOKEN_A TOKEN_B ROUNDS — rounds of the data paths, each one a request of
# tenant A (timed) and then the same of tenant B, so that the same FastCGI processes serve
# both; sets M_OK M_TOTAL M_BAD M_MEDIAN_MS (A's) and B_CODES (B's statuses, sorted, counted).
two_measure() {
    local r p times=() codes=()
    M_OK=0 M_TOTAL=0 M_BAD=""
    for ((r = 0; r < $4; r++)); do
        for p in "${DATA_PATHS[@]}"; do
            http GET "$1$p" "$2"
            M_TOTAL=$((M_TOTAL + 1))
            times+=("$HT")
            if [ "$HS" = 200 ]; then M_OK=$((M_OK + 1)); else M_BAD="$M_BAD $HS:$p"; fi
            http GET "$1$p" "$3"
            codes+=("$HS")
        done
    done
    M_MEDIAN_MS="$(python3 -c 'import statistics, sys; print(round(statistics.median(float(t) for t in sys.argv[1:]) * 1000))' "${times[@]}")"
    B_CODES="$(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')"
}

fault_second_server() {
    local base="http://127.0.0.1:$P_TWO" url2 port2 remote_id tok_a tok_b rc acq bound_s
    local rounds="${FAULTS_TWO_ROUNDS:-10}" before_ms during_ms limit_ms
    # A clean slate, as stack_init gives the main server.
    private_db stop "$DB2_DIR" >>"$ST_LOG" 2>&1 || true
    rm -rf "$DB2_DIR"
    url2="$(DB_PRIVATE_BUFFER_POOL=64M private_db start "$DB2_DIR" "$P_DB2" 2>>"$ST_LOG")" \
        || { tail -n 20 "$ST_LOG" >&2; die "the second private MariaDB did not start (log: $ST_LOG)"; }
    port2="${url2##*:}"
    # Its client database is created empty: registered without the contract check, then
    # provisioned and filled as make demo does (scripts/demo.sh).
    remote_id="$(st_dashctl register-tenant --name "Remote Plant" --timezone America/Mexico_City \
            --db-name dashboard_faults_remote --db-host 127.0.0.1 --db-port "$port2" \
            --skip-verify --if-not-exists \
        | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
    [ -n "$remote_id" ] || die "register-tenant printed no id (log: $ST_LOG)"
    st_dashctl provision-client --tenant "$remote_id" --reference >/dev/null
    st_dashctl demo-data --tenant "$remote_id" --seed 3 --size small --days "${FAULTS_DAYS:-14}" >/dev/null
    st_jobs downtime --tenant "$remote_id" || die "jobs downtime --tenant $remote_id failed (log: $ST_LOG)"
    st_user "$remote_id" remote manager
    local on_main on_second
    on_main="$(stack_sql "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'dashboard_faults_remote'")"
    on_second="$("$ST_CLIENT" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$port2" -u root -N -B \
        -e "SELECT COUNT(*) FROM dashboard_faults_remote.production_line" 2>>"$ST_LOG" || echo 0)"
    rc=0; { [ "$on_main" = 0 ] && [ "${on_second:-0}" -gt 0 ]; } || rc=1
    check "f: Remote Plant's client database is on the second server only" "$rc" \
        "tenant $remote_id on 127.0.0.1:$port2 (${on_second:-0} lines there, $on_main such database on the main server)"

    stack_apache two start fcgid "$P_TWO"
    tok_a="$(login "$base" manager)"
    tok_b="$(login "$base" remote)"
    acq="$(sed -n 's/^DB_CONNECT_TIMEOUT_SECONDS=//p' "$ST_ENV" | tail -n 1)"
    bound_s=$(( ${acq:-2} + 1 ))

    # Before: both tenants answer; Demo Plant's latency measured with Remote Plant's
    # requests between its own (as during the outage below).
    round "$base" "$tok_a"; round "$base" "$tok_b"    # warm: every process holds both pools
    two_measure "$base" "$tok_a" "$tok_b" "$rounds"
    before_ms="$M_MEDIAN_MS"
    rc=0; { [ "$M_OK" = "$M_TOTAL" ] && [ "$B_CODES" = "200 x$M_TOTAL" ]; } || rc=1
    check "f: both tenants answer before the outage" "$rc" \
        "Demo Plant $M_OK/$M_TOTAL (median ${before_ms} ms)${M_BAD:+ bad:$M_BAD}; Remote Plant: $B_CODES"

    private_db stop "$DB2_DIR" >>"$ST_LOG" 2>&1 || die "the second MariaDB did not stop (log: $ST_LOG)"
    if mysql_answers "$url2"; then die "the second MariaDB still answers after stop"; fi
    # Remote Plant: 503 JSON + Retry-After within the acquire timeout, twice (the second
    # round meets processes whose pooled connections died in the first).
    outage_round "$base" "$tok_b" "$bound_s" "${DATA_PATHS[@]}"
    rc=0; [ "$O_OK" = "$O_TOTAL" ] || rc=1
    check "f: its server stopped: Remote Plant 503 JSON in < ${bound_s} s" "$rc" \
        "$O_OK/$O_TOTAL, slowest ${O_MAX}s${O_BAD:+ bad:$O_BAD}"
    outage_round "$base" "$tok_b" "$bound_s" "${DATA_PATHS[@]}"
    rc=0; [ "$O_OK" = "$O_TOTAL" ] || rc=1
    check "f: its server still stopped: same again" "$rc" "$O_OK/$O_TOTAL, slowest ${O_MAX}s${O_BAD:+ bad:$O_BAD}"

    # Demo Plant meanwhile: every answer 200, latency within the bound.
    two_measure "$base" "$tok_a" "$tok_b" "$rounds"
    during_ms="$M_MEDIAN_MS"
    limit_ms="$(( before_ms * 3 > before_ms + 50 ? before_ms * 3 : before_ms + 50 ))"
    rc=0; [ "$M_OK" = "$M_TOTAL" ] || rc=1
    check "f: Demo Plant answers while Remote Plant's server is down" "$rc" \
        "$M_OK/$M_TOTAL${M_BAD:+ bad:$M_BAD}; Remote Plant's between them: $B_CODES"
    rc=0; [ "$during_ms" -le "$limit_ms" ] || rc=1
    check "f: Demo Plant's median latency within max(3x, +50 ms)" "$rc" \
        "${during_ms} ms during vs ${before_ms} ms before (limit ${limit_ms} ms), $M_TOTAL requests each"
    rc=0; [ "$B_CODES" = "503 x$M_TOTAL" ] || rc=1
    check "f: Remote Plant's requests between them: all 503" "$rc" "$B_CODES"

    # The server back on the same port: Remote Plant recovers by itself (Apache untouched),
    # three rounds in a row within 15 s.
    url2="$(DB_PRIVATE_BUFFER_POOL=64M private_db start "$DB2_DIR" "$P_DB2" 2>>"$ST_LOG")" \
        || die "the second private MariaDB did not restart (log: $ST_LOG)"
    [ "${url2##*:}" = "$port2" ] || die "the second MariaDB came back on ${url2##*:}, not $port2"
    await_recovery "$base" "$tok_b"
    check "f: its server back: Remote Plant answers 200 again" "$RECOVERED" \
        "$ROUNDS rounds${FIRST_FAIL:+ (before recovery: $FIRST_FAIL)}"
    round "$base" "$tok_a"
    rc=0; [ "$R_OK" = "$R_TOTAL" ] || rc=1
    check "f: Demo Plant still answers" "$rc" "$R_OK/$R_TOTAL${R_BAD:+ bad:$R_BAD}"
    stack_apache two stop
    private_db stop "$DB2_DIR" >>"$ST_LOG" 2>&1 || true
}

want a && fault_db_stopped
want b && fault_job_killed
want c && fault_recycling
want d && fault_client_schema
want e && fault_db_frozen
want f && fault_second_server

printf '\nfaults took %s\n' "$(fmt_ms $(($(now_ms) - T0)))"
printf 'faults: %d passed, %d failed\n' "$PASSED" "$FAILED"
if [ "$FAILED" -gt 0 ]; then
    printf 'failed: %s\n' "${FAILED_NAMES[*]}"
    exit 1
fi
