#!/usr/bin/env bash
# Benchmark of the data and metrics calls on the large demo data set (docs/operations.md#performance-targets):
# the 30-day data and metrics calls next to the bare SQL they run, and a year-long OEE.
#
#   scripts/bench-data.sh            # prepares the data once, then measures
#   BENCH_RELOAD=1 scripts/bench-data.sh
#
# Steps:
#   1. a database server (scripts/db.sh url) and the release binaries (cargo build --release);
#   2. a global database BENCH_GLOBAL_DB (default bench_data_global) with one tenant
#      "Bench Plant" (Europe/Madrid) whose client database is BENCH_CLIENT_DB (default
#      bench_data_client), loaded with `dashctl demo-data --size large --days 90`
#      (≥ 10 M detections; skipped when already loaded unless BENCH_RELOAD=1), its stops
#      computed and its minute rollup brought up to date with `jobs downtime` (what cron runs);
#   3. tests/tests/integration/data_bench.rs (an #[ignore]d test) prints the table of figures: each call
#      next to the bare SQL it runs (its statements on a pooled connection taken the same way,
#      plus the rate-limit and user_query writes of an HTTP call), timed in turn run by run.
# Environment: DATABASE_URL, BENCH_GLOBAL_DB, BENCH_CLIENT_DB, BENCH_LINE (default 1),
# BENCH_RUNS (default 15), BENCH_RELOAD=1.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

DATABASE_URL="$("$REPO_ROOT/scripts/db.sh" url)" || die "no database server: run scripts/db.sh start"
export DATABASE_URL
GLOBAL="${BENCH_GLOBAL_DB:-bench_data_global}"
CLIENT="${BENCH_CLIENT_DB:-bench_data_client}"
BIN="$TARGET_DIR/release"

log "building the release binaries"
cargo build --release -p dashctl -p jobs -p auth -p data -p metrics >&2

dashctl() {
    env -i PATH="$PATH" DASHBOARD_ENV_FILE=/dev/null DATABASE_URL="$DATABASE_URL" DB_GLOBAL_NAME="$GLOBAL" \
        "$BIN/dashctl" "$@"
}

dashctl migrate >&2
TENANT="$(dashctl register-tenant --name "Bench Plant" --timezone Europe/Madrid --db-name "$CLIENT" --if-not-exists --skip-verify | tail -n 1)"
case "$TENANT" in
    ''|*[!0-9]*) die "register-tenant did not print a tenant id: $TENANT" ;;
esac
log "tenant $TENANT → $CLIENT"

FORCE=()
[ "${BENCH_RELOAD:-0}" = 1 ] && FORCE=(--force)
log "demo data (large, 90 days; skipped when already loaded)"
dashctl demo-data --tenant "$TENANT" --size large --days 90 "${FORCE[@]}" >&2
log "stops and minute rollup (jobs downtime)"
env -i PATH="$PATH" DASHBOARD_ENV_FILE=/dev/null DATABASE_URL="$DATABASE_URL" DB_GLOBAL_NAME="$GLOBAL" \
    JWT_SECRET="bench-data-jwt-secret-0123456789abcdef0123" "$BIN/jobs" downtime --tenant "$TENANT" >&2

log "measuring"
BENCH_DATABASE_URL="$DATABASE_URL" BENCH_GLOBAL_DB="$GLOBAL" BENCH_TENANT="$TENANT" \
BENCH_LINE="${BENCH_LINE:-1}" BENCH_RUNS="${BENCH_RUNS:-15}" DASHBOARD_BIN_DIR="$BIN" \
    cargo test --release -p integration-tests --test integration -- data_bench:: --ignored --nocapture
