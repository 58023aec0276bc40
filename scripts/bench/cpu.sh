#!/usr/bin/env bash
# CPU per request of GET /api/v1/production/lines through Apache + mod_fcgid, part by part,
# beside two baselines in the same run (issue 16; scripts/bench.sh calls it, it also runs
# alone against a demo):
#   product       the release binaries (an Apache the caller started, CPU_APACHE_PIDFILE);
#   trivial-fcgi  scripts/bench/trivial_fcgi.c (libfcgi, a fixed answer) through an Apache
#                 with the same settings: the floor of FastCGI through Apache;
#   seed          the seed stack (FastAPI + SQLAlchemy under uvicorn, 2 workers;
#                 ../shared/baselines/seed_stack) over the same client database.
# Each: a 3-s warm-up, then wrk -t2 -cCPU_CONNECTIONS -dCPU_DURATION, CPU of the function
# processes, Apache and mysqld from /proc/<pid>/stat (scripts/bench/cpu_per_request.py).
#
# Environment (required): CPU_PRODUCT_URL (the product's base URL), CPU_AUTH (a bearer
#   token), CPU_APACHE_PIDFILE, CPU_ENV_FILE (the binaries' env file), CPU_DB_URL
#   (mysql://user@host:port of the client database's server), CPU_CLIENT_DB, CPU_TZ,
#   CPU_OUT (a folder for the results);
# optional: CPU_BIN_DIR (target/release), CPU_PORT (18190: the trivial Apache; +1 the seed
#   stack), CPU_CONNECTIONS (8), CPU_DURATION (10s), SEED_STACK_DIR.
# Writes CPU_OUT/{product,trivial-fcgi,seed}.json and CPU_OUT/table.md; prints the table.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"

: "${CPU_PRODUCT_URL:?}" "${CPU_AUTH:?}" "${CPU_APACHE_PIDFILE:?}" "${CPU_ENV_FILE:?}"
: "${CPU_DB_URL:?}" "${CPU_CLIENT_DB:?}" "${CPU_TZ:?}" "${CPU_OUT:?}"
BIN_DIR="$(cd "${CPU_BIN_DIR:-$TARGET_DIR/release}" && pwd)"
PORT="${CPU_PORT:-18190}"
SEED_PORT=$((PORT + 1))
CONNS="${CPU_CONNECTIONS:-8}"
DURATION="${CPU_DURATION:-10s}"
SEED_DIR="${SEED_STACK_DIR:-$REPO_ROOT/../shared/baselines/seed_stack}"
TOOL="$REPO_ROOT/scripts/bench/cpu_per_request.py"
ROUTE=/api/v1/production/lines
mkdir -p "$CPU_OUT"
OUT="$(cd "$CPU_OUT" && pwd)"
LOG="$OUT/cpu.log"
: >"$LOG"

command -v wrk >/dev/null 2>&1 || die "wrk is not installed (scripts/deps.sh test)"
parse_mysql_url "$CPU_DB_URL" || die "cannot parse $CPU_DB_URL"
# The database server: the process listening on its port.
MYSQLD_PID="$(ss -Hltnp "sport = :$DBU_PORT" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)"
[ -n "$MYSQLD_PID" ] || die "no process listens on port $DBU_PORT (the database of $CPU_DB_URL)"

run() {      # run LABEL URL FUNCTIONS_GROUP... (extra --group/-H arguments)
    local label="$1" url="$2"
    shift 2
    printf 'cpu: %s (wrk -c%s -d%s %s)\n' "$label" "$CONNS" "$DURATION" "$url" >&2
    python3 "$TOOL" run --label "$label" --url "$url" -c "$CONNS" -d "$DURATION" \
        --group "mysqld=pid:$MYSQLD_PID" "$@" >"$OUT/$label.json" 2>>"$LOG" \
        || { warn "$label: measurement failed (log: $LOG)"; rm -f "$OUT/$label.json"; }
}

# 1. The product, through the caller's Apache.
run product "$CPU_PRODUCT_URL$ROUTE" -H "Authorization: Bearer $CPU_AUTH" \
    --group "functions=exe:$BIN_DIR" --group "apache=tree:$CPU_APACHE_PIDFILE"

# 2. The floor: libfcgi's trivial responder as `production` through an Apache of its own.
TRIVIAL_BIN="$OUT/trivial-fcgi-bin"
TRIVIAL_RUN="$OUT/apache-trivial"
mkdir_public "$TRIVIAL_BIN"
trivial_apache() { scripts/apache.sh "$1" --mode fcgid --port "$PORT" --listen 127.0.0.1 \
    --bin-dir "$TRIVIAL_BIN" --run-dir "$TRIVIAL_RUN" --env-file "$CPU_ENV_FILE" --no-access-log >>"$LOG" 2>&1; }
if cc -O2 -o "$TRIVIAL_BIN/production" scripts/bench/trivial_fcgi.c -lfcgi >>"$LOG" 2>&1; then
    chmod 0755 "$TRIVIAL_BIN/production"
    if trivial_apache start; then
        run trivial-fcgi "http://127.0.0.1:$PORT$ROUTE" \
            --group "functions=exe:$TRIVIAL_BIN" --group "apache=tree:$TRIVIAL_RUN/httpd.pid"
    else
        warn "the trivial responder's Apache did not start (log: $LOG)"
    fi
    trivial_apache stop || true
else
    warn "scripts/bench/trivial_fcgi.c did not compile: libfcgi-dev missing? (scripts/deps.sh test)"
fi

# 3. The seed stack over the same client database.
if [ -x "$SEED_DIR/serve.sh" ]; then
    SEED_STACK_DB_USER="$DBU_USER" SEED_STACK_DB_HOST="$DBU_HOST" SEED_STACK_DB_PORT="$DBU_PORT" \
        setsid "$SEED_DIR/serve.sh" "$SEED_PORT" "$CPU_CLIENT_DB" "$CPU_TZ" 2 >"$OUT/seed.log" 2>&1 &
    seed_pid=$!
    token=""
    for _ in $(seq 1 600); do      # its first start installs a venv
        token="$(sed -n 's/^token: //p' "$OUT/seed.log")"
        if [ -n "$token" ] && curl -sf -o /dev/null -H "Authorization: Bearer $token" \
                "http://127.0.0.1:$SEED_PORT$ROUTE"; then
            break
        fi
        kill -0 "$seed_pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$seed_pid" 2>/dev/null && [ -n "$token" ]; then
        run seed "http://127.0.0.1:$SEED_PORT$ROUTE" -H "Authorization: Bearer $token" \
            --group "app=tree:$seed_pid"
    else
        warn "the seed stack did not start (log: $OUT/seed.log)"
    fi
    kill -- -"$seed_pid" 2>/dev/null || true
    wait "$seed_pid" 2>/dev/null || true
else
    warn "no seed stack at $SEED_DIR (SEED_STACK_DIR)"
fi

runs=()
for label in product trivial-fcgi seed; do
    [ -s "$OUT/$label.json" ] && runs+=("$OUT/$label.json")
done
[ "${#runs[@]}" -gt 0 ] || die "nothing was measured (log: $LOG)"
python3 "$TOOL" table "${runs[@]}" \
    --ratio "product (functions + mysqld) / seed (app + mysqld), target <= 0.33|product:functions+mysqld/seed:app+mysqld" \
    --ratio "product functions / trivial-fcgi functions, target <= 2|product:functions/trivial-fcgi:functions" \
    --ratio "product Apache / trivial-fcgi Apache (the host's cost)|product:apache/trivial-fcgi:apache" \
    --ratio "product req/s / trivial-fcgi req/s, target >= 0.9|req_s:product/trivial-fcgi" \
    --ratio "product req/s / seed req/s|req_s:product/seed" | tee "$OUT/table.md"
