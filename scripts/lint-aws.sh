#!/usr/bin/env bash
# Lints what ships to AWS (make lint-aws; the "aws" step of make test):
#
#   cfn-lint infra/aws/template.yaml
#   sam validate --lint -t infra/aws/template.yaml     (offline: no AWS account needed)
#   openapi-spec-validator infra/openapi/openapi.json   (the document is valid OpenAPI 3.1)
#
# That the template's routes, the cargo-lambda routers and the OpenAPI document list the
# same routes as the code is checked by tests/tests/integration/openapi.rs.
#
# Tools come from .run/pytools (a Python venv), else from PATH; what is missing from both
# is installed into .run/pytools with pip (cfn-lint, aws-sam-cli, openapi-spec-validator:
# about 2 minutes with a warm pip cache, 8 without). Exit 1 when a check fails.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TEMPLATE=infra/aws/template.yaml
DOCUMENT=infra/openapi/openapi.json
VENV="$RUN_ROOT/pytools"

# tool COMMAND PIP_PACKAGE — prints the path of COMMAND, installing PIP_PACKAGE when needed.
tool() {
    local cmd="$1" pkg="$2"
    if [ -x "$VENV/bin/$cmd" ]; then
        echo "$VENV/bin/$cmd"
        return
    fi
    if command -v "$cmd" >/dev/null 2>&1; then
        command -v "$cmd"
        return
    fi
    command -v python3 >/dev/null 2>&1 || die "python3 is needed to install $pkg"
    mkdir_public "$RUN_ROOT"
    if [ ! -x "$VENV/bin/python3" ]; then
        python3 -m venv "$VENV" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
    fi
    log "installing $pkg into $VENV (pip, once)"
    "$VENV/bin/pip" install -q --disable-pip-version-check "$pkg" >&2 || die "pip install $pkg failed"
    [ -x "$VENV/bin/$cmd" ] || die "$pkg did not install $cmd"
    echo "$VENV/bin/$cmd"
}

CFN_LINT="$(tool cfn-lint cfn-lint)"
SAM="$(tool sam aws-sam-cli)"
OAS="$(tool openapi-spec-validator openapi-spec-validator)"

# sam needs a region to load the template, never credentials for validate; no telemetry.
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-eu-west-1}}"
export SAM_CLI_TELEMETRY=0

failures=0
check() {   # NAME COMMAND...
    local name="$1" out
    shift
    if out="$("$@" 2>&1)"; then
        printf '  ok    %s\n' "$name"
    else
        printf '  FAIL  %s\n' "$name"
        printf '%s\n' "$out" | sed 's/^/        /'
        failures=$((failures + 1))
    fi
}

echo "lint-aws: $("$CFN_LINT" --version 2>&1 | head -n 1); $("$SAM" --version 2>&1 | head -n 1)"
check "cfn-lint $TEMPLATE" "$CFN_LINT" "$TEMPLATE"
check "sam validate --lint -t $TEMPLATE" "$SAM" validate --lint -t "$TEMPLATE"
check "openapi-spec-validator $DOCUMENT" "$OAS" "$DOCUMENT"

if [ "$failures" -gt 0 ]; then
    echo "lint-aws: $failures check(s) failed"
    exit 1
fi
echo "lint-aws: all checks passed"
