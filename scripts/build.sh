#!/usr/bin/env bash
# Builds everything: the front end (when package.json exists) and then the workspace.
#
#   scripts/build.sh                  # cargo build --release --workspace
#   BUILD_PROFILE=dist scripts/build.sh   # another cargo profile (target/dist/)
#   BUILD_SKIP_FRONTEND=1 / BUILD_SKIP_CARGO=1
#
# The front end goes first: its output lands in static/ and the binaries may embed
# templates and an asset manifest at compile time.
# `npm ci` runs only when node_modules is missing or older than package(-lock).json;
# `npm run build` only when package.json has a "build" script.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

if [ "${BUILD_SKIP_FRONTEND:-0}" != 1 ] && [ -f package.json ]; then
    command -v npm >/dev/null 2>&1 || die "package.json exists but npm is missing (scripts/deps.sh)"
    stamp=node_modules/.package-lock.json
    if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
        if [ -f package-lock.json ]; then
            npm ci --no-audit --no-fund --loglevel=error
        else
            npm install --no-audit --no-fund --loglevel=error
        fi
        touch "$stamp" 2>/dev/null || true
    fi
    if node -e 'process.exit(require("./package.json").scripts && require("./package.json").scripts.build ? 0 : 1)' 2>/dev/null; then
        npm run --silent build
    fi
fi

if [ "${BUILD_SKIP_CARGO:-0}" != 1 ]; then
    profile="${BUILD_PROFILE:-release}"
    if [ "$profile" = release ]; then
        cargo build --release --workspace
    else
        cargo build --profile "$profile" --workspace
    fi
fi
