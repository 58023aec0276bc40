#!/usr/bin/env bash
# Installs what the build, the demo and the tests need on Debian 12, only what is missing.
#
#   scripts/deps.sh            # everything make test needs; quiet when it is all there
#   scripts/deps.sh --for demo # only what make demo needs: no test tools (Chromium, wrk,
#                              # hyperfine, cgi-fcgi), no cargo-nextest / cargo-deny (about
#                              # 5 minutes of compiling on a new machine)
#
# Environment:
#   DEPS_SKIP_APT=1            do not touch system packages
#   DEPS_SKIP_CARGO_TOOLS=1    do not install cargo-nextest / cargo-deny
#   DEPS_SKIP_NPM=1            do not run npm ci
#   DEPS_VERBOSE=1             show apt/cargo/npm output
# Works as root, or as a user with password-less sudo; with CI=true and no stdin.
# Logs: .run/logs/deps-*.log (printed when a step fails).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PURPOSE=test
case "${1:-}" in
    "") ;;
    --for) PURPOSE="${2:-}" ;;
    --for=*) PURPOSE="${1#--for=}" ;;
    *) die "usage: scripts/deps.sh [--for demo|test]" ;;
esac
case "$PURPOSE" in
    demo|test) ;;
    *) die "--for takes demo or test, not '$PURPOSE'" ;;
esac

export DEBIAN_FRONTEND=noninteractive
LOG_DIR="$RUN_ROOT/logs"
mkdir_public "$RUN_ROOT" "$LOG_DIR"

# Run a noisy command; keep its output in a log, show the tail only on failure.
quiet() {
    local logname="$1"; shift
    local logfile="$LOG_DIR/deps-$logname.log"
    if [ "${DEPS_VERBOSE:-0}" = 1 ]; then
        "$@" 2>&1 | tee "$logfile"
        return "${PIPESTATUS[0]}"
    fi
    if ! "$@" >"$logfile" 2>&1 </dev/null; then
        warn "'$*' failed; last lines of $logfile:"
        tail -n 25 "$logfile" >&2
        return 1
    fi
}

SUDO=()
if ! is_root; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    else
        SUDO=(none)
    fi
fi

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# ---------------------------------------------------------------- system packages
# package:command pairs; the command (when given) is checked first so that a tool
# installed some other way counts too.
REQUIRED_PKGS=(
    mariadb-server:mariadbd
    mariadb-client:mariadb
    apache2:apache2
    libapache2-mod-fcgid:
    curl:curl
    python3:python3
    ca-certificates:
)
OPTIONAL_PKGS=()         # the tests' and benchmarks' tools; the demo runs without them
if [ "$PURPOSE" = test ]; then
    OPTIONAL_PKGS=(
        libfcgi-bin:cgi-fcgi
        libfcgi-dev:        # the trivial FastCGI responder of make bench (fcgiapp.h)
        chromium:chromium
        wrk:wrk
        hyperfine:hyperfine
    )
fi
command -v cc >/dev/null 2>&1 || REQUIRED_PKGS+=(gcc:cc)      # Rust's linker
command -v git >/dev/null 2>&1 || REQUIRED_PKGS+=(git:git)
command -v make >/dev/null 2>&1 || REQUIRED_PKGS+=(make:make)
command -v objdump >/dev/null 2>&1 || REQUIRED_PKGS+=(binutils:objdump)   # glibc check of the cPanel bundle
# Python venvs hold the tools installed on first use: Zig (cargo zigbuild, make cpanel-bundle),
# cfn-lint, aws-sam-cli and openapi-spec-validator (make lint-aws); see .run/pytools.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || REQUIRED_PKGS+=(python3-venv:)
if [ -f "$REPO_ROOT/package.json" ] && ! command -v npm >/dev/null 2>&1; then
    REQUIRED_PKGS+=(nodejs:node npm:npm)
fi

missing_of() {
    local entry pkg cmd
    for entry in "$@"; do
        pkg="${entry%%:*}"; cmd="${entry#*:}"
        if [ -n "$cmd" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
        if [ "$pkg" = libapache2-mod-fcgid ] && [ -f /usr/lib/apache2/modules/mod_fcgid.so ]; then continue; fi
        pkg_installed "$pkg" || printf '%s\n' "$pkg"
    done
}

install_system_packages() {
    local missing_req missing_opt all
    mapfile -t missing_req < <(missing_of "${REQUIRED_PKGS[@]}")
    mapfile -t missing_opt < <(missing_of "${OPTIONAL_PKGS[@]}")
    all=("${missing_req[@]}" "${missing_opt[@]}")
    [ "${#all[@]}" -eq 0 ] && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        [ "${#missing_req[@]}" -gt 0 ] && die "missing ${missing_req[*]} and no apt-get; install them by hand"
        warn "missing optional ${missing_opt[*]} (no apt-get)"
        return 0
    fi
    if [ "${SUDO[*]-}" = none ]; then
        [ "${#missing_req[@]}" -gt 0 ] && die "missing packages: ${all[*]}; run as root: apt-get install -y ${all[*]}"
        warn "missing optional packages: ${missing_opt[*]} (run as root: apt-get install -y ${missing_opt[*]})"
        return 0
    fi
    log "installing ${all[*]} (apt-get; log in $LOG_DIR/deps-apt.log)"
    quiet apt-update "${SUDO[@]}" apt-get update -q || warn "apt-get update failed; trying the install anyway"
    local opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    if quiet apt "${SUDO[@]}" apt-get install "${opts[@]}" "${all[@]}"; then
        return 0
    fi
    # One by one, to tell which package is the problem.
    local p failed_req=()
    for p in "${all[@]}"; do
        pkg_installed "$p" && continue
        if ! quiet "apt-$p" "${SUDO[@]}" apt-get install "${opts[@]}" "$p"; then
            if printf '%s\n' "${missing_req[@]}" | grep -qx "$p"; then
                failed_req+=("$p")
            else
                warn "optional package $p could not be installed"
            fi
        fi
    done
    [ "${#failed_req[@]}" -eq 0 ] || die "could not install ${failed_req[*]}"
}

if [ "${DEPS_SKIP_APT:-0}" != 1 ]; then
    install_system_packages
fi

# ---------------------------------------------------------------- Rust toolchain
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (https://rustup.rs), then run this again"

for comp in rustfmt clippy; do
    sub="${comp/rustfmt/fmt}"
    if ! cargo "$sub" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            quiet "rustup-$comp" rustup component add "$comp" || warn "could not add the $comp component"
        else
            warn "cargo $sub is missing and rustup is not available"
        fi
    fi
done

if [ "${DEPS_SKIP_CARGO_TOOLS:-0}" != 1 ] && [ "$PURPOSE" = test ]; then
    if ! cargo nextest --version >/dev/null 2>&1; then
        log "installing cargo-nextest (cargo install --locked; takes a few minutes, once)"
        quiet cargo-nextest cargo install --locked cargo-nextest \
            || warn "cargo-nextest could not be installed; tests will run with cargo test"
    fi
    if ! cargo deny --version >/dev/null 2>&1; then
        log "installing cargo-deny (cargo install --locked; takes several minutes, once)"
        quiet cargo-deny cargo install --locked cargo-deny \
            || warn "cargo-deny could not be installed; the licence check will be skipped"
    fi
fi

# ---------------------------------------------------------------- front end
if [ "${DEPS_SKIP_NPM:-0}" != 1 ] && [ -f "$REPO_ROOT/package.json" ]; then
    command -v npm >/dev/null 2>&1 || die "package.json exists but npm is missing"
    stamp="$REPO_ROOT/node_modules/.package-lock.json"
    lock="$REPO_ROOT/package-lock.json"
    if [ ! -f "$stamp" ] || [ "$REPO_ROOT/package.json" -nt "$stamp" ] || { [ -f "$lock" ] && [ "$lock" -nt "$stamp" ]; }; then
        if [ -f "$lock" ]; then
            log "npm ci"
            (cd "$REPO_ROOT" && quiet npm npm ci --no-audit --no-fund --loglevel=error)
        else
            log "npm install (no package-lock.json yet)"
            (cd "$REPO_ROOT" && quiet npm npm install --no-audit --no-fund --loglevel=error)
        fi
        touch "$stamp" 2>/dev/null || true
    fi
fi
exit 0
