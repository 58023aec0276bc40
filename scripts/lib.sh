# shellcheck shell=bash disable=SC2034
# Helpers shared by the scripts in this folder. Source it; do not run it.
#
#   . "$(dirname "$0")/lib.sh"
#
# Sets REPO_ROOT (the repository root, found from this file's location), RUN_ROOT
# (REPO_ROOT/.run, git-ignored: private MariaDB, Apache run dirs, generated env file) and
# TARGET_DIR (cargo's output: $CARGO_TARGET_DIR or REPO_ROOT/target) and CACHE_ROOT (the
# machine-level cache of artifact-only builds, below).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
RUN_ROOT="${DASHBOARD_RUN_ROOT:-$REPO_ROOT/.run}"
# Where cargo puts its output (CARGO_TARGET_DIR is honoured, relative to the repo root).
case "${CARGO_TARGET_DIR:-}" in
    "") TARGET_DIR="$REPO_ROOT/target" ;;
    /*) TARGET_DIR="$CARGO_TARGET_DIR" ;;
    *) TARGET_DIR="$REPO_ROOT/$CARGO_TARGET_DIR" ;;
esac
# Builds that are only ever artifacts (the cargo-fuzz ASan build, the zigbuild cPanel bundle)
# go to a machine-level cache shared by every clone, so that a second `make test` on the same
# machine — CI's fresh clone included — reuses their compiled dependencies. Cargo's fingerprints
# keep that safe: a clone at another path rebuilds its own crates and reuses only the rest.
CACHE_ROOT="${DASHBOARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dashboard-saas}"
export REPO_ROOT RUN_ROOT

# Messages go to stderr so that stdout stays clean for values (db.sh url, tenant ids).
_script_name="$(basename "${0:-dashboard}")"
log()  { printf '%s: %s\n' "$_script_name" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$_script_name" "$*" >&2; }
die()  { printf '%s: error: %s\n' "$_script_name" "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# mkdir -p that leaves every directory it creates world-traversable (0755), whatever the
# umask: Apache's user (www-data) must be able to reach files below .run/.
mkdir_public() {
    local d
    for d in "$@"; do
        if [ ! -d "$d" ]; then
            mkdir -p "$d"
        fi
        chmod 0755 "$d" 2>/dev/null || true
    done
}

# url_decode STRING — percent-decoding for user/password parts of a URL.
url_decode() {
    local s="${1//+/ }"
    printf '%b' "${s//%/\\x}"
}

# parse_mysql_url URL — sets DBU_USER DBU_PASS DBU_HOST DBU_PORT DBU_DB DBU_SOCKET.
# Accepts mysql://[user[:pass]@]host[:port][/db][?socket=/path&...].
parse_mysql_url() {
    local url="$1" rest auth hostport query
    DBU_USER="root" DBU_PASS="" DBU_HOST="127.0.0.1" DBU_PORT="3306" DBU_DB="" DBU_SOCKET=""
    case "$url" in
        mysql://*|mariadb://*) rest="${url#*://}" ;;
        *) return 1 ;;
    esac
    query=""
    if [[ "$rest" == *\?* ]]; then
        query="${rest#*\?}"
        rest="${rest%%\?*}"
    fi
    if [[ "$rest" == *@* ]]; then
        auth="${rest%@*}"
        rest="${rest##*@}"
        if [[ "$auth" == *:* ]]; then
            DBU_USER="$(url_decode "${auth%%:*}")"
            DBU_PASS="$(url_decode "${auth#*:}")"
        else
            DBU_USER="$(url_decode "$auth")"
        fi
    fi
    hostport="${rest%%/*}"
    if [[ "$rest" == */* ]]; then
        DBU_DB="${rest#*/}"
    fi
    if [[ "$hostport" == \[*\]* ]]; then          # [::1]:3306
        DBU_HOST="${hostport%%]*}"; DBU_HOST="${DBU_HOST#[}"
        hostport="${hostport#*]}"
        [[ "$hostport" == :* ]] && DBU_PORT="${hostport#:}"
    elif [[ "$hostport" == *:* ]]; then
        DBU_HOST="${hostport%%:*}"
        DBU_PORT="${hostport##*:}"
    elif [ -n "$hostport" ]; then
        DBU_HOST="$hostport"
    fi
    local kv
    if [ -n "$query" ]; then
        local IFS='&'
        for kv in $query; do
            case "$kv" in
                socket=*) DBU_SOCKET="$(url_decode "${kv#socket=}")" ;;
            esac
        done
    fi
    return 0
}

mysql_client() {
    if command -v mariadb >/dev/null 2>&1; then echo mariadb
    elif command -v mysql >/dev/null 2>&1; then echo mysql
    else return 1
    fi
}

# tcp_open HOST PORT — true when something accepts TCP connections there.
tcp_open() {
    (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1
}

# mysql_answers URL — true when the server at URL accepts the credentials and runs SELECT 1.
mysql_answers() {
    local url="$1" client
    parse_mysql_url "$url" || return 1
    if ! client="$(mysql_client)"; then
        # No client installed: the best we can say is that the port is open.
        [ -n "$DBU_SOCKET" ] && [ -S "$DBU_SOCKET" ] && return 0
        tcp_open "$DBU_HOST" "$DBU_PORT"
        return
    fi
    local args=(--no-defaults --connect-timeout=3 -u "$DBU_USER" -N -B -e 'SELECT 1')
    if [ -n "$DBU_SOCKET" ]; then
        args+=(-S "$DBU_SOCKET")
    else
        args+=(--protocol=TCP -h "$DBU_HOST" -P "$DBU_PORT")
    fi
    MYSQL_PWD="$DBU_PASS" "$client" "${args[@]}" >/dev/null 2>&1
}

# private_db start|stop|url|status DIR [PORT] — a private MariaDB of its own: scripts/db.sh
# with DB_FORCE_PRIVATE=1, its data under DIR, listening on 127.0.0.1:PORT (default 3307; the
# next free port when taken), root without a password over TCP; never the machine's server nor
# $DATABASE_URL. `start` and `url` print its URL (mysql://root@127.0.0.1:PORT). For a second
# server beside the main one: make test's (TEST_SECOND_DATABASE_URL), fault check f's.
private_db() {
    local cmd="$1" dir="$2" port="${3:-3307}"
    case "$cmd" in
        start)
            DB_FORCE_PRIVATE=1 DB_PRIVATE_DIR="$dir" DB_PRIVATE_PORT="$port" \
                "$REPO_ROOT/scripts/db.sh" start >&2 || return 1
            private_db url "$dir" "$port"
            ;;
        *)
            DB_FORCE_PRIVATE=1 DB_PRIVATE_DIR="$dir" DB_PRIVATE_PORT="$port" \
                "$REPO_ROOT/scripts/db.sh" "$cmd"
            ;;
    esac
}

# The pid recorded in a pid file when that process still runs one of the named
# programs (pids are reused after a crash or reboot): live_pid FILE NAME...
live_pid() {
    local file="$1" pid comm name
    shift
    [ -f "$file" ] || return 1
    pid="$(cat "$file" 2>/dev/null)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)"
    for name in "$@"; do
        [ "$comm" = "$name" ] && { printf '%s\n' "$pid"; return 0; }
    done
    return 1
}

# Waits up to SECONDS for a process to end, then kills it: await_exit PID SECONDS WHAT
await_exit() {
    local pid="$1" seconds="$2" what="$3" i
    for ((i = 0; i < seconds * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    warn "$what $pid still running after $seconds s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

# now_ms — milliseconds since the epoch.
now_ms() { date +%s%3N; }

# fmt_ms MILLISECONDS — "1m 02.3s" / "4.1s".
fmt_ms() {
    local ms="$1" s m
    s=$((ms / 1000)); m=$((s / 60))
    if [ "$m" -gt 0 ]; then
        printf '%dm %02d.%01ds' "$m" $((s % 60)) $(((ms % 1000) / 100))
    else
        printf '%d.%01ds' "$s" $(((ms % 1000) / 100))
    fi
}
