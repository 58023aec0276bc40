#!/usr/bin/env bash
# The MySQL/MariaDB server the demo and the tests use.
#
#   scripts/db.sh start    # make sure a server answers (starts a private one if needed)
#   scripts/db.sh url      # print the DATABASE_URL to use (stdout, one line)
#   scripts/db.sh status   # say which server would be used; exit 1 if none answers
#   scripts/db.sh stop     # stop the private instance (never an outside server)
#
# Which server, in this order:
#   1. $DATABASE_URL, when set and it answers;
#   2. the private instance under .run/mariadb/, when this script started it and it runs;
#   3. mysql://root@127.0.0.1:3306 (root, empty password), when it answers;
#   4. otherwise `start` creates and starts a private MariaDB in .run/mariadb/ listening on
#      127.0.0.1:$DB_PRIVATE_PORT (default 3307; the next free port when taken), with
#      root allowed over TCP from 127.0.0.1 without a password.
#
# Environment:
#   DATABASE_URL         preferred server (mysql://user:pass@host:port)
#   DB_FORCE_PRIVATE=1   skip 1 and 3: always use the private instance
#   DB_PRIVATE_PORT      port for the private instance (default 3307)
#   DB_PRIVATE_DIR       its folder (default .run/mariadb)
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PRIV_DIR="${DB_PRIVATE_DIR:-$RUN_ROOT/mariadb}"
DATA_DIR="$PRIV_DIR/data"
PID_FILE="$PRIV_DIR/mariadbd.pid"
ERR_LOG="$PRIV_DIR/mariadbd.err"
PORT_FILE="$PRIV_DIR/port"
TMP_DIR="$PRIV_DIR/tmp"
DEFAULT_URL="mysql://root@127.0.0.1:3306"
FORCE_PRIVATE="${DB_FORCE_PRIVATE:-0}"
[ "$FORCE_PRIVATE" = true ] && FORCE_PRIVATE=1

# Unix socket paths are limited to 107 bytes: fall back to /tmp for deep checkouts.
socket_path() {
    local s="$PRIV_DIR/mariadbd.sock"
    if [ "${#s}" -gt 100 ]; then
        s="/tmp/dashboard-mariadb-$(printf '%s' "$PRIV_DIR" | md5sum | cut -c1-12).sock"
    fi
    printf '%s\n' "$s"
}
SOCK="$(socket_path)"

private_pid() { live_pid "$PID_FILE" mariadbd mysqld; }

private_url() {
    local port
    port="$(cat "$PORT_FILE" 2>/dev/null)" || return 1
    printf 'mysql://root@127.0.0.1:%s\n' "$port"
}

private_running() {
    local url
    private_pid >/dev/null && url="$(private_url)" && mysql_answers "$url"
}

# Prints the URL of the server to use, or returns 1 when none answers.
choose_url() {
    local url
    if [ "$FORCE_PRIVATE" != 1 ] && [ -n "${DATABASE_URL:-}" ]; then
        if mysql_answers "$DATABASE_URL"; then
            printf '%s\n' "$DATABASE_URL"; return 0
        fi
        warn "DATABASE_URL is set but does not answer; looking for another server"
    fi
    if private_running; then
        private_url; return 0
    fi
    if [ "$FORCE_PRIVATE" != 1 ]; then
        # Skip when DATABASE_URL already named it (and did not answer).
        if [ "${DATABASE_URL:-}" != "$DEFAULT_URL" ] && mysql_answers "$DEFAULT_URL"; then
            printf '%s\n' "$DEFAULT_URL"; return 0
        fi
    fi
    return 1
}

find_free_port() {
    local port="${DB_PRIVATE_PORT:-3307}" last
    last=$((port + 20))
    while [ "$port" -le "$last" ]; do
        if ! tcp_open 127.0.0.1 "$port"; then
            printf '%s\n' "$port"; return 0
        fi
        port=$((port + 1))
    done
    die "no free port between ${DB_PRIVATE_PORT:-3307} and $last for the private MariaDB"
}

find_bin() {
    local name
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        if [ -x "/usr/sbin/$name" ]; then echo "/usr/sbin/$name"; return 0; fi
    done
    return 1
}

start_private() {
    local mariadbd install_db client port user_args=() admin_user
    mariadbd="$(find_bin mariadbd mysqld)" || die "mariadbd not found (run scripts/deps.sh as root)"
    install_db="$(find_bin mariadb-install-db mysql_install_db)" || die "mariadb-install-db not found"
    client="$(mysql_client)" || die "the mariadb client is not installed"
    if is_root; then
        user_args=(--user=root)
        admin_user=root
    else
        admin_user="$(id -un)"     # mariadb-install-db makes a socket-auth account for us
    fi
    mkdir_public "$RUN_ROOT"
    mkdir -p "$PRIV_DIR" "$TMP_DIR"
    chmod 0700 "$PRIV_DIR"

    local fresh=0
    if [ ! -d "$DATA_DIR/mysql" ]; then
        fresh=1
        rm -rf "$DATA_DIR"
        log "creating a private MariaDB in $DATA_DIR"
        if ! "$install_db" --no-defaults "${user_args[@]}" --datadir="$DATA_DIR" \
                --auth-root-authentication-method=socket --skip-test-db \
                >"$PRIV_DIR/install.log" 2>&1 </dev/null; then
            tail -n 20 "$PRIV_DIR/install.log" >&2
            die "mariadb-install-db failed (log: $PRIV_DIR/install.log)"
        fi
    fi

    port="$(find_free_port)"
    rm -f "$SOCK"
    # setsid + nohup: the server outlives this script and the terminal/CI step.
    setsid nohup "$mariadbd" --no-defaults "${user_args[@]}" \
        --datadir="$DATA_DIR" --socket="$SOCK" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$PID_FILE" --log-error="$ERR_LOG" --tmpdir="$TMP_DIR" \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        --max-allowed-packet=64M --local-infile=1 \
        --innodb-buffer-pool-size="${DB_PRIVATE_BUFFER_POOL:-256M}" \
        --innodb-flush-log-at-trx-commit=2 \
        </dev/null >/dev/null 2>&1 &
    local i
    for i in $(seq 1 300); do           # up to 30 s
        if "$client" --no-defaults -S "$SOCK" -u "$admin_user" -N -B -e 'SELECT 1' >/dev/null 2>&1; then
            break
        fi
        if [ "$i" -gt 5 ] && ! kill -0 $! 2>/dev/null && [ ! -f "$PID_FILE" ]; then
            tail -n 20 "$ERR_LOG" >&2 || true
            die "the private MariaDB exited at start (log: $ERR_LOG)"
        fi
        sleep 0.1
    done
    "$client" --no-defaults -S "$SOCK" -u "$admin_user" -N -B -e 'SELECT 1' >/dev/null 2>&1 || {
        tail -n 20 "$ERR_LOG" >&2 || true
        die "the private MariaDB did not answer within 30 s (log: $ERR_LOG)"
    }
    # Root over TCP from 127.0.0.1 without a password (also repairs an older data dir).
    "$client" --no-defaults -S "$SOCK" -u "$admin_user" -e "
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        FLUSH PRIVILEGES;" || die "could not create root@127.0.0.1 in the private MariaDB"
    printf '%s\n' "$port" >"$PORT_FILE"
    mysql_answers "$(private_url)" || die "the private MariaDB does not accept root over TCP on port $port"
    if [ "$fresh" = 1 ]; then
        log "private MariaDB ready on 127.0.0.1:$port"
    else
        log "private MariaDB started on 127.0.0.1:$port"
    fi
}

stop_private() {
    local pid client i
    if ! pid="$(private_pid)"; then
        rm -f "$PID_FILE"
        return 0
    fi
    client="$(find_bin mariadb-admin mysqladmin || true)"
    if [ -n "$client" ]; then
        "$client" --no-defaults --protocol=TCP -h 127.0.0.1 -P "$(cat "$PORT_FILE" 2>/dev/null || echo 0)" \
            -u root shutdown >/dev/null 2>&1 \
        || "$client" --no-defaults -S "$SOCK" -u "$( is_root && echo root || id -un)" shutdown >/dev/null 2>&1 \
        || kill -TERM "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    await_exit "$pid" 30 mariadbd
    rm -f "$PID_FILE"
    log "private MariaDB stopped"
}

cmd="${1:-}"
case "$cmd" in
    start)
        if choose_url >/dev/null; then
            exit 0
        fi
        start_private
        ;;
    url)
        choose_url || die "no MySQL/MariaDB server answers; run scripts/db.sh start"
        ;;
    status)
        if url="$(choose_url)"; then
            if private_running && [ "$url" = "$(private_url)" ]; then
                echo "private MariaDB (pid $(private_pid)) at $url"
            else
                echo "using $url"
            fi
        else
            echo "no server answers"
            exit 1
        fi
        ;;
    stop)
        stop_private
        ;;
    -h|--help|help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        ;;
    *)
        echo "usage: $0 start|stop|url|status" >&2
        exit 2
        ;;
esac
