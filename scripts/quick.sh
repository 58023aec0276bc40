#!/usr/bin/env bash
# The edit loop (make quick): formatting, clippy, every crate's unit tests and the
# in-process API tests (tests/src/app.rs: the routers over a fresh database, no
# process or host in between). Minutes, not the half hour of make test: no
# release binaries run, no Apache, browser, faults, schemathesis or fuzzing.
#
#   scripts/quick.sh
# Exit status: 0 when every step passed.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1

failed=()
step() {
    local name="$1" t0
    shift
    t0="$(now_ms)"
    printf '\n=== %s\n' "$name"
    if "$@"; then
        printf '=== %s: ok (%s)\n' "$name" "$(fmt_ms $(( $(now_ms) - t0 )))"
    else
        printf '=== %s: FAILED (%s)\n' "$name" "$(fmt_ms $(( $(now_ms) - t0 )))"
        failed+=("$name")
    fi
}

scripts/db.sh start >/dev/null || die "the database did not start"
TEST_DATABASE_URL="${TEST_DATABASE_URL:-$(scripts/db.sh url)}"
export TEST_DATABASE_URL
step fmt cargo fmt --all -- --check
step clippy cargo clippy --release --workspace --all-targets -- -D warnings
step unit cargo test --release --workspace --lib
step api cargo test --release -p integration-tests --test integration -- bad_input:: openapi::
if [ "${#failed[@]}" -gt 0 ]; then
    printf '\nFAILED: %s\n' "${failed[*]}"
    exit 1
fi
printf '\nall quick steps passed\n'
