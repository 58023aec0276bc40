#!/usr/bin/env bash
# Downtime engine benchmark (docs/operations.md#performance-targets): on the large demo data set (3 lines × 90 days,
# ≥ 10 M detections) it measures, with the release `jobs` binary, end to end:
#
#   1. the full backfill (every line from scratch): output detections processed per
#      second, and the process's peak memory (GNU time's maximum RSS);
#   2. the backfill of the smallest line alone (a seventh of the detections): its peak
#      memory is the same as the full one's (streaming, flat);
#   3. the incremental run after 15 minutes of new data on every line: the engine's
#      time per line and the whole process's wall time.
#
# Targets: ≥ 500,000 detections/s, flat memory, incremental run < 100 ms.
#
#   scripts/bench-downtime.sh                 # loads the data set once, then measures
#   BENCH_DAYS=30 scripts/bench-downtime.sh   # a smaller set
#
# Environment: DATABASE_URL (default: scripts/db.sh url), BENCH_DB_PREFIX (dash_bench),
#   BENCH_DAYS (90), BENCH_SIZE (large), BENCH_SKIP_BUILD=1, BENCH_RELOAD=1 (reload data).
# Databases: <prefix>_global and <prefix>_client, kept between runs (the load is the
# slow part); drop them by hand when done.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PREFIX="${BENCH_DB_PREFIX:-dash_bench}"
DAYS="${BENCH_DAYS:-90}"
SIZE="${BENCH_SIZE:-large}"
BIN_DIR="$TARGET_DIR/release"
WORK="$RUN_ROOT/bench-downtime"
ENV_FILE="$WORK/bench.env"

command -v jq >/dev/null 2>&1 || die "jq is needed to read the job summaries (apt-get install jq)"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed for the peak memory (apt-get install time)"
CLIENT_BIN="$(mysql_client)" || die "the mariadb (or mysql) client is needed"

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building the release binaries (jobs, dashctl)"
    cargo build --release -p jobs -p dashctl >&2
fi
mkdir_public "$RUN_ROOT" "$WORK"

URL="${DATABASE_URL:-$(scripts/db.sh url)}"
parse_mysql_url "$URL" || die "DATABASE_URL is not a mysql:// URL"
sql() {
    local args=(--no-defaults -u "$DBU_USER" -N -B)
    if [ -n "$DBU_SOCKET" ]; then args+=(-S "$DBU_SOCKET"); else args+=(--protocol=TCP -h "$DBU_HOST" -P "$DBU_PORT"); fi
    MYSQL_PWD="$DBU_PASS" "$CLIENT_BIN" "${args[@]}" "$@"
}

GLOBAL="${PREFIX}_global"
CLIENT="${PREFIX}_client"
{
    echo "DATABASE_URL=$URL"
    echo "DB_GLOBAL_NAME=$GLOBAL"
    echo "JWT_SECRET=bench-only-secret-0123456789abcdef0123456789"
    echo "LOG_FORMAT=text"
    echo "RUST_LOG=warn"
} >"$ENV_FILE"
export DASHBOARD_ENV_FILE="$ENV_FILE"
dashctl() { "$BIN_DIR/dashctl" "$@"; }
jobs_bin() { "$BIN_DIR/jobs" "$@"; }

sql -e "CREATE DATABASE IF NOT EXISTS \`$GLOBAL\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
dashctl migrate >/dev/null
TENANT="$(sql "$GLOBAL" -e "SELECT tenant_id FROM tenant WHERE company_name = 'Bench Plant'")"
if [ -z "$TENANT" ]; then
    TENANT="$(dashctl register-tenant --name "Bench Plant" --timezone Europe/Madrid --db-name "$CLIENT" --skip-verify)"
fi
log "tenant $TENANT, client database $CLIENT"

loaded="$(sql "$GLOBAL" -e "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '$CLIENT' AND TABLE_NAME LIKE 'detection\\_line\\_%'")"
if [ "${BENCH_RELOAD:-0}" = 1 ] || [ "$loaded" = 0 ]; then
    log "loading the $SIZE demo data set ($DAYS days); this takes a while"
    force=()
    [ "${BENCH_RELOAD:-0}" = 1 ] && force=(--force)
    start="$(now_ms)"
    dashctl demo-data --tenant "$TENANT" --size "$SIZE" --days "$DAYS" "${force[@]}" >&2
    log "loaded in $(fmt_ms $(($(now_ms) - start)))"
fi

# Line codes and the number of output detections (what the engine reads).
mapfile -t CODES < <(sql "$CLIENT" -e "SELECT SUBSTRING(TABLE_NAME, 16) FROM information_schema.TABLES
    WHERE TABLE_SCHEMA = '$CLIENT' AND TABLE_NAME LIKE 'detection\\_line\\_%' ORDER BY TABLE_NAME")
total_rows=0
output_rows=0
for code in "${CODES[@]}"; do
    t=$(sql "$CLIENT" -e "SELECT COUNT(*) FROM detection_line_$code")
    o=$(sql "$CLIENT" -e "SELECT COUNT(*) FROM detection_line_$code d JOIN area a ON a.area_id = d.area_id WHERE a.area_type = 'output'")
    total_rows=$((total_rows + t))
    output_rows=$((output_rows + o))
done

reset_stops() {
    for code in "${CODES[@]}"; do
        sql "$CLIENT" -e "TRUNCATE TABLE downtime_events_$code"
    done
    sql "$CLIENT" -e "DELETE FROM dash_line_state WHERE entry IN ('downtime_watermark', 'downtime_last_run')"
}

# run_job OUT_PREFIX ARGS... — runs `jobs ARGS --json` under GNU time; leaves the JSON
# summary in OUT_PREFIX.json and "max_rss_kb elapsed_s" in OUT_PREFIX.time.
run_job() {
    local out="$1"
    shift
    /usr/bin/time -f '%M %e' -o "$out.time" "$BIN_DIR/jobs" "$@" --json >"$out.json" 2>"$out.log" || {
        cat "$out.log" >&2
        die "jobs $* failed"
    }
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }'; }

# 1. Full backfill.
reset_stops
sql "$CLIENT" -e "FLUSH TABLES" >/dev/null 2>&1 || true
log "full backfill of ${#CODES[@]} lines"
run_job "$WORK/backfill" downtime --tenant "$TENANT"
read -r bf_rss_kb bf_wall <"$WORK/backfill.time"
bf_dets=$(jq '[.items[].rows] | add' "$WORK/backfill.json")
bf_job_ms=$(jq '.duration_ms' "$WORK/backfill.json")
bf_stops=$(jq '[.items[].detail.stops] | add' "$WORK/backfill.json")
bf_micro=$(jq '[.items[].detail.micro_stops] | add' "$WORK/backfill.json")
[ "$(jq '.failed' "$WORK/backfill.json")" = 0 ] || die "the backfill had failures: $(cat "$WORK/backfill.json")"

# 2. Memory against volume: the backfill of the smallest line alone (a fraction of the
# detections) must peak at about the same RSS as the full one. Then the other lines are
# backfilled again so that every line is up to date for the incremental run.
reset_stops
small_line="$(sql "$CLIENT" -e "SELECT line_id FROM production_line ORDER BY line_id DESC LIMIT 1")"
run_job "$WORK/one_line" downtime --tenant "$TENANT" --line "$small_line"
read -r small_rss_kb _ <"$WORK/one_line.time"
small_dets=$(jq '[.items[].rows] | add' "$WORK/one_line.json")
run_job "$WORK/rest" downtime --tenant "$TENANT"

# 3. Incremental: 15 more minutes on every line (the last 15 minutes copied forward).
for code in "${CODES[@]}"; do
    sql "$CLIENT" -e "INSERT INTO detection_line_$code (detected_at, area_id, product_id)
        SELECT detected_at + INTERVAL 15 MINUTE, area_id, product_id FROM detection_line_$code
        WHERE detected_at > (SELECT MAX(detected_at) - INTERVAL 15 MINUTE FROM detection_line_$code)"
done
run_job "$WORK/incremental" downtime --tenant "$TENANT"
read -r inc_rss_kb inc_wall <"$WORK/incremental.time"
inc_dets=$(jq '[.items[].rows] | add' "$WORK/incremental.json")
inc_max_line_ms=$(jq '[.items[].duration_ms] | max' "$WORK/incremental.json")
inc_job_ms=$(jq '.duration_ms' "$WORK/incremental.json")

bf_rate_wall=$(rate "$bf_dets" "$bf_wall")
bf_rate_job=$(rate "$bf_dets" "$(awk -v ms="$bf_job_ms" 'BEGIN { print ms / 1000 }')")
cat <<EOF

Downtime engine benchmark — $SIZE demo set, $DAYS days, ${#CODES[@]} lines
  detections in the tables        $total_rows (output areas: $output_rows)
  full backfill                   $bf_dets output detections → $bf_stops stops, $bf_micro micro-stops
    end to end (process)          ${bf_wall} s   → $bf_rate_wall detections/s   (target ≥ 500000)
    engine (job time)             $((bf_job_ms)) ms → $bf_rate_job detections/s
    peak RSS                      $((bf_rss_kb / 1024)) MB ($bf_rss_kb kB)
  memory stays flat               $bf_dets detections: $((bf_rss_kb / 1024)) MB; $small_dets detections (one line): $((small_rss_kb / 1024)) MB
  incremental (15 min of data)    $inc_dets detections; slowest line ${inc_max_line_ms} ms; whole job ${inc_job_ms} ms; process ${inc_wall} s; peak RSS $((inc_rss_kb / 1024)) MB   (target < 100 ms)
EOF
