#!/usr/bin/env bash
# The cargo-fuzz targets of fuzz/ (issue 7), each run for a bounded time:
#
#   scripts/fuzz.sh                     # every target, 20 s each
#   scripts/fuzz.sh --seconds 300       # longer
#   scripts/fuzz.sh cgi_request         # some targets only
#
# Targets (fuzz/fuzz_targets/):
#   cgi_request   shared::hosts::cgi::parse_request + read_exact_body on any CGI env and body
#   query_params  shared::query::params::Params (query string or JSON body) and its accessors
#   layout_json   shared::catalog validate_layout / validate_params / effective_params and
#                 the dashboard's widget params from query and filters, on any JSON
#
# cargo-fuzz needs nightly rustc flags: on the stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# AddressSanitizer is used when it works (FUZZ_SANITIZER=address, the default; the runtime
# ships with the stable toolchain), else the targets are built without a sanitizer
# (FUZZ_SANITIZER=none forces that). cargo-fuzz is installed with cargo install when missing
# (a few minutes, once). The fuzz crate is a workspace of its own: its build goes to
# FUZZ_TARGET_DIR (default <machine cache>/fuzz-target, see CACHE_ROOT in lib.sh) and never
# touches the main target dir. The first build on a machine compiles every dependency again
# with ASan (about 14 minutes on 2 cores); later runs, from any clone, reuse them.
#
# Corpus: the committed seeds in fuzz/corpus/<target>/seed-*, and what the runs find in
# FUZZ_TARGET_DIR/corpus/<target>/ (kept between runs). A crash, a panic, a timeout
# (FUZZ_TIMEOUT, 30 s per input) or running out of memory (2 GiB) leaves its input in
# fuzz/artifacts/<target>/ (git-ignored); reproduce with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -a <target> <artifact>
# Exit 1 when a target failed (named, with its artifact), 2 on a usage or build error.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

SECONDS_PER_TARGET=20
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) [ $# -ge 2 ] || { usage >&2; exit 2; }; SECONDS_PER_TARGET="$2"; shift 2 ;;
        --seconds=*) SECONDS_PER_TARGET="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) usage >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
case "$SECONDS_PER_TARGET" in
    ''|*[!0-9]*|0) echo "fuzz.sh: --seconds needs a whole number of seconds above 0" >&2; exit 2 ;;
esac

FUZZ_DIR="$REPO_ROOT/fuzz"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$CACHE_ROOT/fuzz-target}"
SANITIZER="${FUZZ_SANITIZER:-address}"
PER_INPUT_TIMEOUT="${FUZZ_TIMEOUT:-30}"
ALL_TARGETS=(cgi_request query_params layout_json)
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
    [ -f "$FUZZ_DIR/fuzz_targets/$t.rs" ] || { echo "fuzz.sh: no target $t (fuzz/fuzz_targets/$t.rs)" >&2; exit 2; }
done

export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz (cargo install cargo-fuzz --locked, once)"
    cargo install cargo-fuzz --locked >&2 || { echo "fuzz.sh: cargo install cargo-fuzz failed" >&2; exit 2; }
fi

build_args=(--fuzz-dir "$FUZZ_DIR" --target-dir "$FUZZ_TARGET_DIR" --release --debug-assertions)
log "building ${TARGETS[*]} (sanitizer: $SANITIZER)"
built=1
if [ ${#TARGETS[@]} -eq 1 ]; then
    cargo fuzz build "${build_args[@]}" --sanitizer "$SANITIZER" "${TARGETS[0]}" >&2 || built=0
else
    cargo fuzz build "${build_args[@]}" --sanitizer "$SANITIZER" >&2 || built=0
fi
if [ "$built" = 0 ] && [ "$SANITIZER" != none ]; then
    warn "the build with -s $SANITIZER failed; building without a sanitizer"
    SANITIZER=none
    built=1
    cargo fuzz build "${build_args[@]}" --sanitizer none >&2 || built=0
fi
[ "$built" = 1 ] || { echo "fuzz.sh: cargo fuzz build failed" >&2; exit 2; }

failed=()
summary=()
for t in "${TARGETS[@]}"; do
    work="$FUZZ_TARGET_DIR/corpus/$t"
    artifacts="$FUZZ_DIR/artifacts/$t"
    logf="$FUZZ_TARGET_DIR/logs/$t.log"
    mkdir -p "$work" "$artifacts" "$(dirname "$logf")"
    log "running $t for ${SECONDS_PER_TARGET}s"
    extra=() asan="${ASAN_OPTIONS:-}"
    case "$t" in
        # read_exact_body leaves a detached thread checking for extra bytes; LeakSanitizer
        # counts that thread's handle and glibc's bookkeeping for it as leaks when the
        # thread is still alive at a check or at exit (not a leak). Both libFuzzer's
        # per-input check and ASan's at-exit check are off for this target; memory growth
        # is still caught by -rss_limit_mb.
        cgi_request) extra=(-detect_leaks=0); asan="${asan:+$asan:}detect_leaks=0" ;;
    esac
    rc=0
    # New inputs go to the first corpus dir (git-ignored); the seeds are only read.
    ASAN_OPTIONS="$asan" cargo fuzz run "${build_args[@]}" --sanitizer "$SANITIZER" "$t" "$work" "$FUZZ_DIR/corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout="$PER_INPUT_TIMEOUT" -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 -close_fd_mask=1 "${extra[@]}" \
        </dev/null >"$logf" 2>&1 || rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)"
    corpus="$(find "$work" -type f | wc -l | tr -d ' ')"
    if [ "$rc" -ne 0 ]; then
        artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$logf" | tail -n 1)"
        echo "fuzz.sh: FAIL $t (exit $rc) — artifact: ${artifact:-none written}; log: $logf"
        grep -n -m 1 -A 25 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)|==[0-9]+==ERROR" "$logf" \
            | sed 's/^/    /' || tail -n 30 "$logf" | sed 's/^/    /'
        failed+=("$t${artifact:+ ($artifact)}")
        summary+=("  FAIL  $t: ${execs:-?} executions, artifact ${artifact:-none}")
    else
        summary+=("  ok    $t: ${execs:-?} executions in ${SECONDS_PER_TARGET}s, corpus $corpus inputs")
    fi
done

echo "fuzz.sh: sanitizer $SANITIZER, ${SECONDS_PER_TARGET}s per target"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}"
    exit 1
fi
echo "fuzz.sh: ${#TARGETS[@]} passed, 0 failed"
