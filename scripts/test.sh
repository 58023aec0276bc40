#!/usr/bin/env bash
# shellcheck disable=SC2317  # the step functions are called through run_step
# The one test entry point (make test, .ci/run).
#
#   scripts/test.sh
#
# Steps, each timed:
#   deps → db → fmt → clippy → aws → build → bundle → tests → cpanel → deny → browser
#   → faults → schemathesis → fuzz   (the bounded part of the reliability suite; the long
#   part is make soak)
#   deps     scripts/deps.sh (installs what is missing; as root)
#   db       scripts/db.sh start; exports DATABASE_URL and TEST_DATABASE_URL; unless the tests
#            step is skipped, also a second MariaDB (private_db in scripts/lib.sh: its own
#            data dir .run/mariadb-second, port TEST_SECOND_DB_PORT, default 3317) for the
#            tenants whose client database lives on another server, exported as
#            TEST_SECOND_DATABASE_URL (one already set is used instead); stopped after the
#            tests step
#   fmt      cargo fmt --all -- --check
#   clippy   cargo clippy --release --workspace --all-targets -- -D warnings
#   aws      scripts/lint-aws.sh: cfn-lint and sam validate --lint on infra/aws/template.yaml,
#            OpenAPI 3.1 validation of infra/openapi/openapi.json
#   build    front end (if package.json) + cargo build --release --workspace
#   bundle   scripts/package-cpanel.sh (make cpanel-bundle): cargo zigbuild for glibc 2.17,
#            fails on a newer glibc symbol; exports DASHBOARD_CPANEL_BUNDLE for the next steps
#   tests    cargo nextest run --release --workspace --no-fail-fast
#            (cargo test --release --workspace without nextest), with
#            DASHBOARD_BIN_DIR=<target dir>/release (tests/tests/integration/cpanel.rs runs the bundle
#            in a cPanel-like Apache, as CGI and as FastCGI); the tenancy matrix and
#            two_servers.rs put a tenant on the second server (under CI they fail without it)
#   cpanel   scripts/cpanel-smoke.sh: the bundle through install.sh and .htaccess in a
#            plain Apache (mod_fcgid, then mod_cgid)
#   deny     cargo deny check licenses bans sources (offline; advisories need network)
#   browser  node --test tests/browser/ (unit tests of the page scripts), then
#            node tests/browser/run.mjs against the demo, when that file exists
#   faults   scripts/faults.sh: database stopped and frozen, downtime job killed mid-run,
#            FastCGI recycled under load, a client database missing a column or table, the
#            second server of one tenant stopped (the other tenant unaffected)
#   schemathesis scripts/schemathesis.sh: generated requests against the OpenAPI document
#            (no 5xx, every answer matches its schema and documented status)
#   fuzz     scripts/fuzz.sh: the cargo-fuzz targets (CGI parser, query parameters,
#            layout/filter JSON), FUZZ_SECONDS (20) each
#
# A failed fmt/clippy/deny step does not stop the run (all failures are reported at the
# end); a failed deps/db/build step does, and skips what depends on it.
# Environment:
#   TEST_SKIP=fmt,clippy     steps to skip (comma list)
#   TEST_SECOND_DATABASE_URL a second server to use instead of starting one (it must accept
#                            TEST_DATABASE_URL's user and password)
#   TEST_FAIL_FAST=1         stop at the first failed step
#   NEXTEST_PROFILE, NEXTEST_* and RUST_TEST_THREADS pass through.
# Exit status: 0 when every step that ran passed, 1 otherwise.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

STEP_NAMES=() STEP_RESULTS=() STEP_TIMES=()
FAILED=()
T_ALL="$(now_ms)"

skipped() { [[ ",${TEST_SKIP:-}," == *",$1,"* ]]; }

# run_step NAME COMMAND... — runs it, records and prints status and time.
run_step() {
    local name="$1" t0 rc ms
    shift
    if skipped "$name"; then
        STEP_NAMES+=("$name"); STEP_RESULTS+=("skipped"); STEP_TIMES+=("-")
        printf '=== %s: skipped (TEST_SKIP)\n' "$name"
        return 0
    fi
    printf '\n=== %s: %s\n' "$name" "$*"
    t0="$(now_ms)"
    "$@"
    rc=$?
    ms=$(( $(now_ms) - t0 ))
    STEP_NAMES+=("$name"); STEP_TIMES+=("$(fmt_ms "$ms")")
    if [ "$rc" -eq 0 ]; then
        STEP_RESULTS+=("ok")
        printf '=== %s: ok (%s)\n' "$name" "$(fmt_ms "$ms")"
    else
        STEP_RESULTS+=("FAILED (exit $rc)")
        FAILED+=("$name")
        printf '=== %s: FAILED with exit %s (%s)\n' "$name" "$rc" "$(fmt_ms "$ms")"
        if [ "${TEST_FAIL_FAST:-0}" = 1 ]; then finish; fi
    fi
    return "$rc"
}

skip_step() {   # NAME REASON
    STEP_NAMES+=("$1"); STEP_RESULTS+=("not run: $2"); STEP_TIMES+=("-")
    printf '=== %s: not run (%s)\n' "$1" "$2"
}

finish() {
    local i
    stop_second_db
    printf '\n=== summary (total %s)\n' "$(fmt_ms $(( $(now_ms) - T_ALL )))"
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-12s %-10s %s\n' "${STEP_NAMES[$i]}" "${STEP_TIMES[$i]}" "${STEP_RESULTS[$i]}"
    done
    if [ "${#FAILED[@]}" -gt 0 ]; then
        printf '\nFAILED steps: %s\n' "${FAILED[*]}"
        exit 1
    fi
    printf '\nall steps passed\n'
    exit 0
}

step_db() {
    scripts/db.sh start || return 1
    DATABASE_URL="$(scripts/db.sh url)" || return 1
    export DATABASE_URL
    export TEST_DATABASE_URL="${TEST_DATABASE_URL:-$DATABASE_URL}"
    echo "DATABASE_URL=$DATABASE_URL"
    skipped tests || start_second_db
}

# The second database server of the tests: a tenant's client database there, its row in the
# global database of the first (tests/src/testdb.rs). A failure to start it is reported here
# and leaves TEST_SECOND_DATABASE_URL unset: the tests that need it then fail under CI (and
# are skipped in a local run); the other steps go on.
SECOND_DB_DIR="$RUN_ROOT/mariadb-second"
SECOND_DB_STARTED=0
start_second_db() {
    local url
    if [ -n "${TEST_SECOND_DATABASE_URL:-}" ]; then
        if mysql_answers "$TEST_SECOND_DATABASE_URL"; then
            echo "TEST_SECOND_DATABASE_URL=$TEST_SECOND_DATABASE_URL (given)"
        else
            warn "TEST_SECOND_DATABASE_URL=$TEST_SECOND_DATABASE_URL does not answer"
        fi
        return 0
    fi
    if url="$(DB_PRIVATE_BUFFER_POOL=64M private_db start "$SECOND_DB_DIR" "${TEST_SECOND_DB_PORT:-3317}")"; then
        SECOND_DB_STARTED=1
        export TEST_SECOND_DATABASE_URL="$url"
        echo "TEST_SECOND_DATABASE_URL=$url (private, $SECOND_DB_DIR)"
    else
        warn "the second MariaDB did not start (log: $SECOND_DB_DIR/mariadbd.err); TEST_SECOND_DATABASE_URL is unset"
    fi
    return 0
}

stop_second_db() {
    if [ "$SECOND_DB_STARTED" = 1 ]; then
        private_db stop "$SECOND_DB_DIR" >/dev/null 2>&1 || warn "could not stop the second MariaDB"
        SECOND_DB_STARTED=0
    fi
}

step_tests() {
    export DASHBOARD_BIN_DIR="$TARGET_DIR/release"
    if cargo nextest --version >/dev/null 2>&1; then
        local extra=()
        cargo nextest run --help 2>/dev/null | grep -q -- '--no-tests' && extra+=(--no-tests=warn)
        cargo nextest run --release --workspace --no-fail-fast "${extra[@]}"
    else
        echo "(cargo-nextest not installed: using cargo test)"
        cargo test --release --workspace --no-fail-fast
    fi
}

step_bundle() {
    local archive
    # The build step has just built the front end.
    archive="$(PACKAGE_SKIP_FRONTEND=1 scripts/package-cpanel.sh)" || return 1
    export DASHBOARD_CPANEL_BUNDLE="$archive"
    echo "DASHBOARD_CPANEL_BUNDLE=$archive"
}

step_deny() {
    if ! cargo deny --version >/dev/null 2>&1; then
        echo "cargo-deny is not installed (scripts/deps.sh installs it)"
        return 1
    fi
    local log="$RUN_ROOT/logs/cargo-deny.log"
    mkdir_public "$RUN_ROOT" "$RUN_ROOT/logs"
    # --offline: the licence/ban/source checks need only Cargo.lock and the downloaded
    # crates (present after the build); no advisory database is fetched.
    if cargo deny --offline check licenses bans sources >"$log" 2>&1; then
        tail -n 1 "$log"
        return 0
    fi
    # Maybe some crate's sources are not downloaded yet (first run): try once online.
    if cargo deny check licenses bans sources >"$log" 2>&1; then
        tail -n 1 "$log"
        return 0
    fi
    grep -v '^warning\[duplicate\]' "$log" | sed -n '1,200p'
    return 1
}

# The browser test drives the real demo: Apache (FastCGI) over the demo tenants.
# The page scripts' unit tests (tests/browser/*.test.mjs) run first, without a browser.
step_browser() {
    export DASHBOARD_BIN_DIR="$TARGET_DIR/release"
    local port="${BROWSER_PORT:-18090}" rc=0
    node --test tests/browser/ || rc=$?
    DEMO_SKIP_DEPS=1 DEMO_SKIP_BUILD=1 DEMO_PORT="$port" DEMO_MODE=fcgid scripts/demo.sh >/dev/null || return 1
    BASE_URL="http://127.0.0.1:$port" node tests/browser/run.mjs || rc=$?
    scripts/apache.sh stop >/dev/null 2>&1 || true
    return "$rc"
}

run_step deps scripts/deps.sh || finish
run_step db step_db || finish
run_step fmt cargo fmt --all -- --check
run_step clippy cargo clippy --release --workspace --all-targets -- -D warnings
run_step aws scripts/lint-aws.sh
if run_step build scripts/build.sh; then
    run_step bundle step_bundle
    run_step tests step_tests
    stop_second_db
    run_step cpanel scripts/cpanel-smoke.sh
    run_step deny step_deny
    if [ -f tests/browser/run.mjs ]; then
        run_step browser step_browser
    else
        skip_step browser "no tests/browser/run.mjs"
    fi
    run_step faults scripts/faults.sh
    run_step schemathesis scripts/schemathesis.sh
    run_step fuzz scripts/fuzz.sh --seconds "${FUZZ_SECONDS:-20}"
else
    skip_step bundle "build failed"
    skip_step tests "build failed"
    stop_second_db
    skip_step cpanel "build failed"
    run_step deny step_deny
    skip_step browser "build failed"
    skip_step faults "build failed"
    skip_step schemathesis "build failed"
    skip_step fuzz "build failed"
fi
finish
