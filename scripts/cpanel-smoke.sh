#!/usr/bin/env bash
# Installs the cPanel package into a scratch "hosting account" and checks it through a
# private Apache that knows nothing about the app (AllowOverride All: cgi/.htaccess does
# the routing, as on shared hosting). Exercises package-cpanel.sh, cgi/install.sh and
# cgi/.htaccess with the real binaries.
#
#   scripts/cpanel-smoke.sh [--mode fcgid|cgi|both] [--port 18090] [--package FILE] [--keep]
#
# The package: --package FILE, else $DASHBOARD_CPANEL_BUNDLE (make test sets it to the
# glibc-2.17 bundle of make cpanel-bundle), else target/release packaged now (no rebuild).
# tests/tests/integration/cpanel.rs goes further with the same bundle (sign-in and an OEE reading under
# both handlers); this script checks install.sh and the routing. The site's bin/.env gets
# DATABASE_URL from $DATABASE_URL or scripts/db.sh url. Work dir: .run/cpanel-smoke/.
# As root the site belongs to www-data (suEXEC runs programs as the site's owner).
# Exit 1 when a check fails; --keep leaves Apache running for a look.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
shopt -u patsub_replacement 2>/dev/null || true
cd "$REPO_ROOT"

MODES=(fcgid cgi) PORT=18090 PACKAGE="" KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) case "$2" in both) MODES=(fcgid cgi) ;; fcgid|cgi) MODES=("$2") ;; *) die "bad --mode $2" ;; esac; shift 2 ;;
        --port) PORT="$2"; shift 2 ;;
        --package) PACKAGE="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
done

WORK="$RUN_ROOT/cpanel-smoke"
SITE="$WORK/site"
RUN_DIR="$WORK/apache"
SOCK_DIR="$RUN_DIR/run"
[ "${#SOCK_DIR}" -le 70 ] || SOCK_DIR="/tmp/dashboard-cpanel-smoke-$(printf '%s' "$RUN_DIR" | md5sum | cut -c1-12)"
CONF="$RUN_DIR/httpd.conf"

stop_apache() {
    local pid
    pid="$(cat "$RUN_DIR/httpd.pid" 2>/dev/null)" || return 0
    if kill -0 "$pid" 2>/dev/null; then
        apache2 -f "$CONF" -k stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$RUN_DIR/httpd.pid"
}
stop_apache
# Whatever happens, do not leave Apache behind (unless --keep).
trap '[ "$KEEP" = 1 ] || stop_apache' EXIT

[ -n "$PACKAGE" ] || PACKAGE="${DASHBOARD_CPANEL_BUNDLE:-}"
if [ -z "$PACKAGE" ]; then
    mkdir_public "$RUN_ROOT" "$WORK"
    PACKAGE="$(PACKAGE_BIN_DIR="$TARGET_DIR/release" PACKAGE_OUT_DIR="$WORK/package" \
        scripts/package-cpanel.sh 2>"$WORK/package.log")" \
        || { cat "$WORK/package.log" >&2; die "could not package target/release (run make build first)"; }
fi
[ -f "$PACKAGE" ] || die "package $PACKAGE not found"

rm -rf "$SITE"
mkdir_public "$RUN_ROOT" "$WORK" "$RUN_DIR"
mkdir -p "$SOCK_DIR"
rm -f "$RUN_DIR/error.log" "$RUN_DIR/access.log"
bash cgi/install.sh "$SITE" "$PACKAGE" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; die "install.sh failed"; }

db_url="${DATABASE_URL:-}"
[ -n "$db_url" ] || db_url="$(scripts/db.sh url 2>/dev/null)" || db_url="mysql://root@127.0.0.1:3306"
{
    echo "DATABASE_URL=$db_url"
    echo "DB_GLOBAL_NAME=${DB_GLOBAL_NAME:-dashboard_global}"
    echo "JWT_SECRET=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    echo "COOKIE_SECURE=auto"
    echo "LOG_FORMAT=text"
    echo "RUST_LOG=warn"
} >"$SITE/bin/.env"
chmod 600 "$SITE/bin/.env"

user_block=""
if is_root; then
    chown -R www-data:www-data "$SITE" "$SOCK_DIR"
    user_block=$'User www-data\nGroup www-data'
fi

failures=0
check() {   # NAME EXPECTED_STATUSES(regex) CONTENT_TYPE(regex or -) CURL_ARGS...
    local name="$1" want="$2" ctype="$3" got
    shift 3
    rm -f "$WORK/body"
    got="$(curl -s -o "$WORK/body" -w '%{http_code} %{content_type}' --max-time 30 "$@" || true)"
    if [[ "${got%% *}" =~ ^($want)$ ]] && { [ "$ctype" = - ] || [[ "${got#* }" =~ $ctype ]]; }; then
        printf '  ok    %-46s %s\n' "$name" "$got"
    else
        printf '  FAIL  %-46s got "%s", want %s %s\n' "$name" "$got" "$want" "$ctype"
        if [ -s "$WORK/body" ]; then head -c 300 "$WORK/body" | sed 's/^/        /'; echo; fi
        failures=$((failures + 1))
    fi
}

big="$WORK/big.json"
head -c 1500000 /dev/zero | tr '\0' ' ' >"$big"

for mode in "${MODES[@]}"; do
    stop_apache
    if [ "$mode" = fcgid ]; then
        mode_block="LoadModule fcgid_module /usr/lib/apache2/modules/mod_fcgid.so
FcgidIPCDir \"$SOCK_DIR/fcgid\"
FcgidProcessTableFile \"$SOCK_DIR/fcgid_shm\"
FcgidMaxRequestLen 2097152"
    else
        mode_block="LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
ScriptSock \"$SOCK_DIR/cgid.sock\""
    fi
    conf=""
    while IFS= read -r line || [ -n "$line" ]; do
        line="${line//@RUN_DIR@/$RUN_DIR}"; line="${line//@SOCK_DIR@/$SOCK_DIR}"
        line="${line//@SITE_DIR@/$SITE}"; line="${line//@PORT@/$PORT}"
        line="${line//@USER_BLOCK@/$user_block}"; line="${line//@MODE_BLOCK@/$mode_block}"
        conf+="$line"$'\n'
    done <infra/apache/cpanel-sim.conf.tmpl
    printf '%s' "$conf" >"$CONF"
    tcp_open 127.0.0.1 "$PORT" && die "port $PORT is in use"
    apache2 -f "$CONF" -k start >"$RUN_DIR/start.log" 2>&1 || { cat "$RUN_DIR/start.log" >&2; die "apache did not start"; }
    for _ in $(seq 1 100); do tcp_open 127.0.0.1 "$PORT" && break; sleep 0.1; done

    base="http://127.0.0.1:$PORT"
    echo "cpanel-smoke: $mode via .htaccess on $base"
    check "GET /api/v1/production/health" '200|503' json "$base/api/v1/production/health"
    check "GET /api/v1/system/health" '200|503' json "$base/api/v1/system/health"
    check "GET /api/v1/auth/me (no token)" '401' json "$base/api/v1/auth/me"
    check "GET /api/v1/auth/me (bad bearer)" '401' json -H 'Authorization: Bearer not-a-token' "$base/api/v1/auth/me"
    check "POST /api/v1/auth/login 1.5 MB body" '413' json -X POST -H 'Content-Type: application/json' --data-binary "@$big" "$base/api/v1/auth/login"
    check "GET /login" '200' html "$base/login"
    check "GET /bin/.env (refused)" '403' - "$base/bin/.env"
    check "GET /bin/dashctl (refused)" '403' - "$base/bin/dashctl"
    static_file="$(cd "$SITE/static" && find . -type f -name '*.css' -print -quit 2>/dev/null | sed 's|^\./||')"
    if [ -n "$static_file" ]; then
        check "GET /static/$static_file" '200' css "$base/static/$static_file"
    fi
done

if [ "$KEEP" = 1 ]; then
    echo "cpanel-smoke: Apache left running on http://127.0.0.1:$PORT/ (conf $CONF)"
else
    stop_apache
fi
if [ "$failures" -gt 0 ]; then
    echo "cpanel-smoke: $failures check(s) failed; Apache log: $RUN_DIR/error.log"
    grep -v ':notice\]' "$RUN_DIR/error.log" 2>/dev/null | tail -n 15 || true
    exit 1
fi
echo "cpanel-smoke: all checks passed"
