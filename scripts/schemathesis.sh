#!/usr/bin/env bash
# Schemathesis against the OpenAPI document (issue 7): generated requests to every
# documented operation, signed in, with the checks
#
#   not_a_server_error            no 5xx
#   response_schema_conformance   every answer matches its documented schema
#   status_code_conformance       every status is one the document lists
#
#   scripts/schemathesis.sh                      # starts its own server (below), runs, stops it
#   BASE_URL=http://127.0.0.1:8080 scripts/schemathesis.sh   # against a running demo
#
# The document is the committed infra/openapi/openapi.json, the one the server serves at
# /api/v1/openapi.json (tests/tests/integration/openapi.rs checks they are the same), so a fix to it is
# tested without rebuilding the binaries.
#
# The server. Without BASE_URL: scripts/demo.sh (dependencies, database, demo tenants; the
# binaries of target/release, built when missing) and a private Apache (FastCGI) on
# SCHEMATHESIS_PORT (18091), run dir .run/apache-schemathesis, whose env file is
# .run/dashboard.env plus high RATE_LIMIT_* values (the default 100 requests a minute per
# user would answer most generated requests 429); stopped at exit. With BASE_URL that server
# is used as it is: its rate limits apply (429 is documented, so it passes, but tests less).
#
# The user. Unless SCHEMATHESIS_SETUP=0, dashctl (with .run/dashboard.env, so the database
# of scripts/demo.sh) makes a tenant of its own, "Schemathesis Plant" (client database
# dashboard_client_schemathesis, 14 days of demo data), and its admin `st-admin`: the
# generated writes (users, layouts, stop justifications, recalculations) stay in that
# tenant, never in the demo plants the browser tests and people use. An admin reaches the
# most routes; superadmin-only routes answer it 403, which is checked too.
# SCHEMATHESIS_USER / SCHEMATHESIS_PASSWORD sign in as someone else (no setup then).
#
# Not tested (excluded), and why:
#   POST /api/v1/auth/login            the document's example names `manager`: variations of it
#                                      are failed logins that lock the demo's manager out
#                                      (the script's own login checks the route works)
#   POST /api/v1/auth/logout           would end the session the run uses
#   POST /api/v1/auth/change-password, POST /api/v1/users/me/change-password
#                                      would change the run's password, or lock it out
#   POST /profile/sessions/{id}/revoke would revoke sessions (and is a page form, cookie only)
#   the QUERY method on /static/dist/*  Apache serves those files itself and answers 501 to a
#                                      method it does not know, as HTTP says it should
#
# Bounded and repeatable: SCHEMATHESIS_MAX_EXAMPLES (50) cases per operation and phase,
# SCHEMATHESIS_SEED (20261130), no cache of earlier failures: about 6,400 requests, 70 s on
# 2 idle cores (4-5 min when they are busy); stopped, failing, after SCHEMATHESIS_TIMEOUT
# (600 s). SCHEMATHESIS_MAX_TIME=N instead repeats the
# fuzzing and stateful phases until N seconds are spent (longer hunts; not repeatable).
# SCHEMATHESIS_WORKERS (2). Schemathesis (SCHEMATHESIS_VERSION, pinned) is installed into
# .run/pytools with pip the first time. Reports: .run/schemathesis/ (junit.xml, output.log).
# Exit 1 when a check fails (the failures and curl lines to reproduce them are printed).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

VENV="$RUN_ROOT/pytools"
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
PORT="${SCHEMATHESIS_PORT:-18091}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-50}"
SEED="${SCHEMATHESIS_SEED:-20261130}"
MAX_TIME="${SCHEMATHESIS_MAX_TIME:-}"
TIMEOUT="${SCHEMATHESIS_TIMEOUT:-600}"
WORKERS="${SCHEMATHESIS_WORKERS:-2}"
SETUP="${SCHEMATHESIS_SETUP:-1}"
USERNAME="${SCHEMATHESIS_USER:-st-admin}"
PASSWORD="${SCHEMATHESIS_PASSWORD:-${DEMO_PASSWORD:-demo-password}}"
OUT_DIR="$RUN_ROOT/schemathesis"
APACHE_DIR="$RUN_ROOT/apache-schemathesis"
ENV_FILE="$RUN_ROOT/dashboard.env"
ST_ENV_FILE="$RUN_ROOT/schemathesis.env"
BIN_DIR="$TARGET_DIR/release"
CHECKS="not_a_server_error,response_schema_conformance,status_code_conformance"

mkdir_public "$RUN_ROOT"
mkdir -p "$OUT_DIR"

# --- schemathesis, pinned, in the venv ---------------------------------------------------
ST="$VENV/bin/schemathesis"
if [ ! -x "$ST" ] || [ "$("$ST" --version 2>/dev/null | awk '{print $NF}')" != "$VERSION" ]; then
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install schemathesis"
    if [ ! -x "$VENV/bin/python3" ]; then
        python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
    fi
    log "installing schemathesis==$VERSION into $VENV (pip, once)"
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION" >&2 \
        || die "pip install schemathesis==$VERSION failed"
    [ -x "$ST" ] || die "schemathesis did not install its command"
fi

# --- the server ---------------------------------------------------------------------------
started=0
stop_server() {
    if [ "$started" = 1 ]; then
        APACHE_RUN_DIR="$APACHE_DIR" scripts/apache.sh stop --port "$PORT" >/dev/null 2>&1 || true
    fi
}
trap stop_server EXIT

if [ -z "${BASE_URL:-}" ]; then
    build=1
    [ -x "$BIN_DIR/dashctl" ] && [ -x "$BIN_DIR/dashboard" ] && build=0
    log "starting the demo database and a private server on port $PORT"
    started=1
    DEMO_SKIP_BUILD=$((1 - build)) DEMO_PORT="$PORT" DEMO_MODE=fcgid \
        APACHE_RUN_DIR="$APACHE_DIR" scripts/demo.sh >/dev/null
    # The same configuration with rate limits no generated run reaches.
    (
        umask 077
        grep -v '^RATE_LIMIT_' "$ENV_FILE"
        printf 'RATE_LIMIT_USER_PER_MIN=1000000\nRATE_LIMIT_AUTH_IP_PER_MIN=1000000\n'
    ) >"$ST_ENV_FILE.tmp"
    mv -f "$ST_ENV_FILE.tmp" "$ST_ENV_FILE"
    APACHE_RUN_DIR="$APACHE_DIR" scripts/apache.sh restart --mode fcgid --port "$PORT" \
        --env-file "$ST_ENV_FILE" --bin-dir "$BIN_DIR" >/dev/null
    BASE_URL="http://127.0.0.1:$PORT"
fi
BASE_URL="${BASE_URL%/}"

# --- the tenant and the user --------------------------------------------------------------
if [ "$SETUP" = 1 ] && [ "$USERNAME" = st-admin ]; then
    [ -f "$ENV_FILE" ] || die "$ENV_FILE is missing: run scripts/demo.sh first (or SCHEMATHESIS_SETUP=0)"
    setup_log="$OUT_DIR/setup.log"
    : >"$setup_log"
    dctl() {
        printf '$ dashctl %s\n' "$*" >>"$setup_log"
        DASHBOARD_ENV_FILE="$ENV_FILE" "$BIN_DIR/dashctl" "$@" 2>>"$setup_log" \
            || { tail -n 20 "$setup_log" >&2; die "dashctl $1 failed (log: $setup_log)"; }
    }
    log "tenant Schemathesis Plant and its admin $USERNAME"
    tenant="$(dctl register-tenant --name "Schemathesis Plant" --timezone Europe/Madrid \
        --db-name dashboard_client_schemathesis --language en --if-not-exists --skip-verify \
        | awk 'NF { last = $0 } END { print last }' | tr -d '[:space:]')"
    [ -n "$tenant" ] || die "dashctl register-tenant printed no tenant id"
    dctl provision-client --tenant "$tenant" --reference >>"$setup_log"
    dctl demo-data --tenant "$tenant" --seed 7 --days 14 >>"$setup_log"
    DASHBOARD_ENV_FILE="$ENV_FILE" "$BIN_DIR/jobs" downtime --tenant "$tenant" >>"$setup_log" 2>&1 \
        || warn "jobs downtime --tenant $tenant failed (see $setup_log)"
    dctl create-user --tenant "$tenant" --username "$USERNAME" --password "$PASSWORD" \
        --role admin --if-not-exists >>"$setup_log"
fi

# --- sign in ------------------------------------------------------------------------------
login_body="$(python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
    "$USERNAME" "$PASSWORD")"
answer="$(curl -sS --max-time 30 -X POST "$BASE_URL/api/v1/auth/login" \
    -H 'Content-Type: application/json' --data-binary "$login_body")" \
    || die "POST $BASE_URL/api/v1/auth/login failed"
TOKEN="$(printf '%s' "$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' 2>/dev/null)" \
    || die "signing in as $USERNAME failed: $answer"

# --- run ----------------------------------------------------------------------------------
CONFIG="$OUT_DIR/schemathesis.toml"
cat >"$CONFIG" <<'TOML'
# Written by scripts/schemathesis.sh.
# No replay of failures cached by earlier runs (and no .schemathesis/ in the work tree):
# the same seed gives the same run.
cache.enabled = false

# Apache serves /static/dist/ itself and answers 501 to the QUERY method, which it does not
# know: not a server error of ours. QUERY is still sent to every other route.
[[operations]]
include-path-regex = "^/static/dist/"
phases.coverage.unexpected-methods = ["get", "put", "post", "delete", "options", "patch", "trace"]
TOML
SCHEMA="$REPO_ROOT/infra/openapi/openapi.json"
log "schemathesis $VERSION against $BASE_URL as $USERNAME: checks $CHECKS, $MAX_EXAMPLES examples, seed $SEED"
rm -f "$OUT_DIR/junit.xml"
rc=0
CI="${CI:-true}" timeout --kill-after=10 "$TIMEOUT" "$ST" --config-file "$CONFIG" run "$SCHEMA" \
    --url "$BASE_URL" \
    -H "Authorization: Bearer $TOKEN" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    ${MAX_TIME:+--max-time "$MAX_TIME"} \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --generation-database none \
    --exclude-path /api/v1/auth/login \
    --exclude-path /api/v1/auth/logout \
    --exclude-path /api/v1/auth/change-password \
    --exclude-path /api/v1/users/me/change-password \
    --exclude-path '/profile/sessions/{id}/revoke' \
    --report junit --report-junit-path "$OUT_DIR/junit.xml" \
    --no-color --output-truncate false \
    </dev/null >"$OUT_DIR/output.log" 2>&1 || rc=$?

# --- summary ------------------------------------------------------------------------------
if [ "$rc" -ne 0 ]; then
    if grep -q '= FAILURES =' "$OUT_DIR/output.log"; then
        # The failures, with curl lines to reproduce them (schemathesis filters the token).
        sed -n '/= FAILURES =/,/= WARNINGS =\|= SUMMARY =/p' "$OUT_DIR/output.log" | head -n 400
    else
        tail -n 40 "$OUT_DIR/output.log"
    fi
    case "$rc" in 124|137) echo "schemathesis: stopped after ${TIMEOUT}s (SCHEMATHESIS_TIMEOUT)" ;; esac
fi
python3 - "$OUT_DIR/junit.xml" "$OUT_DIR/output.log" "$rc" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET
junit, log, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
text = open(log, encoding="utf-8", errors="replace").read()
failed = 0
try:
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed += case.find("failure") is not None or case.find("error") is not None
except (OSError, ET.ParseError):
    pass
tested = re.findall(r"^\s*Tested:\s*(\d+)", text, re.M)
selected = re.findall(r"^\s*Selected:\s*(\S+)", text, re.M)
cases = re.findall(r"^Test cases:\s*\n\s*(.+)$", text, re.M)
print(
    f"schemathesis: {tested[-1] if tested else '?'} operations tested "
    f"(selected {selected[-1] if selected else '?'}), {failed} with failures"
)
print(f"schemathesis: test cases: {cases[-1].strip() if cases else '?'}")
print(f"schemathesis: {'FAILED' if rc else 'passed'} (full output: {log})")
EOF
exit "$rc"
