#!/usr/bin/env bash
# A private Apache serving the binaries as FastCGI (mod_fcgid) or CGI (mod_cgid).
#
#   scripts/apache.sh start   [options]   # (re)start; waits until the port answers
#   scripts/apache.sh stop    [options]   # stop the instance of that run dir
#   scripts/apache.sh restart [options]
#   scripts/apache.sh status  [options]   # exit 0 running, 3 stopped
#   scripts/apache.sh config  [options]   # only write the config; print its path
#
# Options (environment variable in brackets, then default):
#   --mode fcgid|cgi    [APACHE_MODE]     fcgid
#   --port N            [APACHE_PORT]     8080
#   --listen ADDR       [APACHE_LISTEN]   127.0.0.1  (0.0.0.0 to reach it from elsewhere)
#   --bin-dir DIR       [APACHE_BIN_DIR]  target/release
#   --run-dir DIR       [APACHE_RUN_DIR]  .run/apache
#   --env-file FILE     [DASHBOARD_ENV_FILE] .run/dashboard.env when it exists, else none
#                       (then the binaries look for .env next to themselves)
#   --docroot DIR       [APACHE_DOCROOT]  the repo root; /static/ is served from DIR/static
#   --static-dir DIR    [APACHE_STATIC_DIR] DOCROOT/static
#   --log-level LEVEL   [APACHE_LOG_LEVEL] warn
#   --no-access-log     [APACHE_ACCESS_LOG=off]  (benchmarks)
# Also: FCGID_MAX_REQUESTS (FcgidMaxRequestsPerProcess, default 0 = unlimited; when set,
#       spawn control is relaxed so that recycled processes are replaced at once),
#       FCGID_MAX_PROCESSES_PER_CLASS (default 8), FCGID_MAX_PROCESSES (default 64),
#       FCGID_EXTRA_CONF (more mod_fcgid directives, one a line; default none),
#       FCGID_PRESPAWN N (default 0 = off): right after start, bursts of N concurrent requests
#       to each binary's health route until N processes of each run (mod_fcgid has no
#       pre-spawn: it starts a process only for a request that finds none idle, and a request
#       whose spawn is refused sleeps a whole second), and FcgidMinProcessesPerClass N so that
#       the idle scan keeps them; `make demo` sets 8 (DEMO_FCGID_PRESPAWN),
#       APACHE_USER / APACHE_GROUP (default www-data, used when run as root).
#
# Layout of the run dir: httpd.conf, httpd.pid, logs/{error,access}.log, run/ (sockets,
# mutexes, fcgid process table), htdocs/ (empty DocumentRoot).
# Started as root, the workers run as www-data: the run dir is made theirs, the env file
# becomes root:www-data 0640, and the script checks www-data can execute the binaries.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# Bash 5.2 would expand & in ${var//pat/repl}; paths may contain it.
shopt -u patsub_replacement 2>/dev/null || true

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

CMD="${1:-}"
[ $# -gt 0 ] && shift
MODE="${APACHE_MODE:-fcgid}"
PORT="${APACHE_PORT:-8080}"
LISTEN_ADDR="${APACHE_LISTEN:-127.0.0.1}"
BIN_DIR="${APACHE_BIN_DIR:-$TARGET_DIR/release}"
RUN_DIR="${APACHE_RUN_DIR:-$RUN_ROOT/apache}"
ENV_FILE="${DASHBOARD_ENV_FILE:-}"
DOCROOT="${APACHE_DOCROOT:-$REPO_ROOT}"
STATIC_DIR="${APACHE_STATIC_DIR:-}"
LOG_LEVEL="${APACHE_LOG_LEVEL:-warn}"
ACCESS_LOG="${APACHE_ACCESS_LOG:-on}"

while [ $# -gt 0 ]; do
    opt="$1"; val="${2:-}"
    case "$opt" in
        --*=*) val="${opt#*=}"; opt="${opt%%=*}"; shift ;;
        --no-access-log) ACCESS_LOG=off; shift; continue ;;
        -h|--help) usage; exit 0 ;;
        *) [ $# -ge 2 ] || die "$opt needs a value"; shift 2 ;;
    esac
    case "$opt" in
        --mode) MODE="$val" ;;
        --port) PORT="$val" ;;
        --listen) LISTEN_ADDR="$val" ;;
        --bin-dir) BIN_DIR="$val" ;;
        --run-dir) RUN_DIR="$val" ;;
        --env-file) ENV_FILE="$val" ;;
        --docroot) DOCROOT="$val" ;;
        --static-dir) STATIC_DIR="$val" ;;
        --log-level) LOG_LEVEL="$val" ;;
        *) die "unknown option $opt (see --help)" ;;
    esac
done

if [ -z "$ENV_FILE" ] && [ -f "$RUN_ROOT/dashboard.env" ]; then
    ENV_FILE="$RUN_ROOT/dashboard.env"
fi
case "$MODE" in fcgid|cgi) ;; *) die "--mode must be fcgid or cgi, not '$MODE'" ;; esac
[[ "$PORT" =~ ^[0-9]+$ ]] || die "--port must be a number"
FCGID_MAX_REQUESTS="${FCGID_MAX_REQUESTS:-0}"
FCGID_MAX_PER_CLASS="${FCGID_MAX_PROCESSES_PER_CLASS:-8}"
FCGID_MAX_PROCESSES="${FCGID_MAX_PROCESSES:-64}"
FCGID_PRESPAWN="${FCGID_PRESPAWN:-0}"
[[ "$FCGID_PRESPAWN" =~ ^[0-9]+$ ]] || die "FCGID_PRESPAWN must be a number of processes, not '$FCGID_PRESPAWN'"
[[ "$FCGID_MAX_PER_CLASS" =~ ^[0-9]+$ ]] || die "FCGID_MAX_PROCESSES_PER_CLASS must be a number"
[ "$FCGID_PRESPAWN" -le "$FCGID_MAX_PER_CLASS" ] \
    || die "FCGID_PRESPAWN ($FCGID_PRESPAWN) is above FCGID_MAX_PROCESSES_PER_CLASS ($FCGID_MAX_PER_CLASS)"
APACHE_USER="${APACHE_USER:-www-data}"
APACHE_GROUP="${APACHE_GROUP:-www-data}"

abspath() {      # the directory need not exist yet
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd -P)" "$1" ;;
    esac
}
RUN_DIR="$(abspath "$RUN_DIR")"
CONF="$RUN_DIR/httpd.conf"
PID_FILE="$RUN_DIR/httpd.pid"
LOG_DIR="$RUN_DIR/logs"
SOCK_DIR="$RUN_DIR/run"
# mod_fcgid / mod_cgid socket paths must fit in sun_path (108 bytes).
if [ "${#SOCK_DIR}" -gt 70 ]; then
    SOCK_DIR="/tmp/dashboard-apache-$(printf '%s' "$RUN_DIR" | md5sum | cut -c1-12)"
fi

APACHE_BIN="$(command -v apache2 || command -v httpd || echo /usr/sbin/apache2)"
[ -x "$APACHE_BIN" ] || die "apache2 is not installed (run scripts/deps.sh as root)"
MODULE_DIR=/usr/lib/apache2/modules
module_file="$MODULE_DIR/mod_$MODE.so"; [ "$MODE" = cgi ] && module_file="$MODULE_DIR/mod_cgid.so"
[ -f "$module_file" ] || die "$module_file is missing (apt-get install libapache2-mod-fcgid / apache2)"

running_pid() { live_pid "$PID_FILE" apache2 httpd; }

# Replace @KEY@ placeholders line by line without sed, so paths may hold any character.
render() {
    local file="$1" line key
    shift
    while IFS= read -r line || [ -n "$line" ]; do
        for key in "$@"; do
            line="${line//@${key%%=*}@/${key#*=}}"
        done
        printf '%s\n' "$line"
    done <"$file"
}

write_config() {
    local out="$1" tmpl_dir="$REPO_ROOT/infra/apache" user_block="" access_log mode_block env_line
    local fcgid_env="" cgi_env=""
    BIN_DIR="$(cd "$BIN_DIR" 2>/dev/null && pwd -P)" || die "--bin-dir $BIN_DIR does not exist (run make build)"
    DOCROOT="$(cd "$DOCROOT" 2>/dev/null && pwd -P)" || die "--docroot $DOCROOT does not exist"
    if [ -z "$STATIC_DIR" ]; then STATIC_DIR="$DOCROOT/static"; fi
    mkdir -p "$STATIC_DIR" 2>/dev/null || true
    STATIC_DIR="$(cd "$STATIC_DIR" 2>/dev/null && pwd -P)" || die "static dir $STATIC_DIR does not exist"
    if [ -n "$ENV_FILE" ]; then
        [ -f "$ENV_FILE" ] || die "--env-file $ENV_FILE does not exist"
        ENV_FILE="$(cd "$(dirname "$ENV_FILE")" && pwd -P)/$(basename "$ENV_FILE")"
        fcgid_env="FcgidInitialEnv DASHBOARD_ENV_FILE \"$ENV_FILE\""
        cgi_env="SetEnv DASHBOARD_ENV_FILE \"$ENV_FILE\""
    fi
    if [ "$MODE" = fcgid ] && [ "$FCGID_MAX_REQUESTS" != 0 ]; then
        # Recycling: mod_fcgid's spawn control counts each recycled process (score +2,
        # -1 a second; no spawn above 10) and kills exiting ones only every 3 s, so under
        # load requests waited up to 20 s for a process (scripts/faults.sh, check c).
        fcgid_env="${fcgid_env}"$'\n'"FcgidTerminationScore -1"$'\n'"FcgidSpawnScoreUpLimit 1000"
        fcgid_env="${fcgid_env}"$'\n'"FcgidErrorScanInterval 1"$'\n'"FcgidZombieScanInterval 1"
    fi
    if [ "$MODE" = fcgid ] && [ -n "${FCGID_EXTRA_CONF:-}" ]; then
        # Extra mod_fcgid directives (one a line), after the template's: they win.
        fcgid_env="${fcgid_env}"$'\n'"# FCGID_EXTRA_CONF"$'\n'"$FCGID_EXTRA_CONF"
    fi
    if is_root; then
        user_block="User $APACHE_USER"$'\n'"Group $APACHE_GROUP"
    fi
    if [ "$ACCESS_LOG" = off ]; then
        access_log="# access log off"
    else
        access_log="CustomLog \"$LOG_DIR/access.log\" dashboard"
    fi
    local keys=(
        "RUN_DIR=$RUN_DIR" "SOCK_DIR=$SOCK_DIR" "LOG_DIR=$LOG_DIR" "LISTEN=$LISTEN_ADDR:$PORT"
        "LOG_LEVEL=$LOG_LEVEL" "BIN_DIR=$BIN_DIR" "STATIC_DIR=$STATIC_DIR" "ACCESS_LOG=$access_log"
        "FCGID_MAX_REQUESTS=$FCGID_MAX_REQUESTS" "FCGID_MAX_PER_CLASS=$FCGID_MAX_PER_CLASS"
        "FCGID_MAX_PROCESSES=$FCGID_MAX_PROCESSES" "FCGID_MIN_PER_CLASS=$FCGID_PRESPAWN" "FCGID_ENV=$fcgid_env" "CGI_ENV=$cgi_env"
    )
    mode_block="$(render "$tmpl_dir/$MODE.conf.tmpl" "${keys[@]}")"
    env_line="$(render "$tmpl_dir/httpd.conf.tmpl" "${keys[@]}" "USER_BLOCK=$user_block")"
    # MODE_BLOCK spans lines: substitute it last, on the whole text.
    printf '%s\n' "${env_line//@MODE_BLOCK@/$mode_block}" >"$out"
}

prepare_dirs() {
    mkdir_public "$RUN_ROOT" 2>/dev/null || true
    mkdir_public "$RUN_DIR" "$LOG_DIR" "$RUN_DIR/htdocs"
    mkdir -p "$SOCK_DIR"
    chmod 0755 "$SOCK_DIR"
    if is_root; then
        # Workers (www-data) write sockets and the fcgid process table here.
        chown -R "$APACHE_USER:$APACHE_GROUP" "$SOCK_DIR"
        chown "$APACHE_USER:$APACHE_GROUP" "$LOG_DIR"
    fi
}

# As root, make sure www-data can reach what it needs; warn (do not fail) otherwise.
check_access() {
    is_root || return 0
    id "$APACHE_USER" >/dev/null 2>&1 || die "user $APACHE_USER does not exist (set APACHE_USER)"
    if [ -n "$ENV_FILE" ]; then
        # Secrets: readable by the Apache group only.
        chgrp "$APACHE_GROUP" "$ENV_FILE" && chmod 0640 "$ENV_FILE"
    fi
    local as=()
    if command -v runuser >/dev/null 2>&1; then as=(runuser -u "$APACHE_USER" --)
    elif command -v setpriv >/dev/null 2>&1; then
        as=(setpriv --reuid="$(id -u "$APACHE_USER")" --regid="$(id -g "$APACHE_USER")" --init-groups --)
    else return 0
    fi
    local b found=0
    for b in auth production data downtime metrics dashboard; do
        [ -e "$BIN_DIR/$b" ] || continue
        found=1
        "${as[@]}" test -x "$BIN_DIR/$b" \
            || warn "$APACHE_USER cannot execute $BIN_DIR/$b (check the permissions of every folder above it)"
    done
    [ "$found" = 1 ] || warn "no binaries in $BIN_DIR yet (run make build)"
    if [ -n "$ENV_FILE" ]; then
        "${as[@]}" test -r "$ENV_FILE" || warn "$APACHE_USER cannot read $ENV_FILE (check the folders above it)"
    fi
    "${as[@]}" test -r "$STATIC_DIR" || warn "$APACHE_USER cannot read $STATIC_DIR"
}

stop_apache() {
    local pid
    pid="$(running_pid)" || { rm -f "$PID_FILE"; return 0; }
    if [ -f "$CONF" ]; then
        "$APACHE_BIN" -f "$CONF" -k stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
    await_exit "$pid" 15 apache
    rm -f "$PID_FILE"
}

# The function binaries, one mod_fcgid class each (the dashboard one serves the pages).
FUNCTION_BINARIES=(auth production data downtime metrics dashboard)

# How many processes of BINARY this Apache runs: mod_fcgid's process manager is a child of
# the main Apache process and the application processes are its children.
fcgid_process_count() {
    local binary="$1" main managers
    main="$(running_pid)" || { echo 0; return; }
    managers="$(ps -o pid= --ppid "$main" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')"
    [ -n "$managers" ] || { echo 0; return; }
    ps -o args= --ppid "$managers" | awk -v exe="$BIN_DIR/$binary" '$1 == exe { n++ } END { print n + 0 }'
}

# FCGID_PRESPAWN: starts the processes before the load does. mod_fcgid spawns one process
# per request that finds none idle; bursts of parallel health checks repeat (the first ones
# wait out refused spawns) until every binary has N processes or 30 s passed.
prespawn_fcgid() {
    local n="$FCGID_PRESPAWN" host="$LISTEN_ADDR" deadline binary pending urls i
    [ "$MODE" = fcgid ] && [ "$n" -gt 0 ] || return 0
    command -v curl >/dev/null 2>&1 || { warn "FCGID_PRESPAWN needs curl: processes start on demand"; return 0; }
    case "$host" in 0.0.0.0|\*|'') host=127.0.0.1 ;; esac
    deadline=$((SECONDS + 30))
    while :; do
        pending=()
        for binary in "${FUNCTION_BINARIES[@]}"; do
            [ -x "$BIN_DIR/$binary" ] || continue
            [ "$(fcgid_process_count "$binary")" -ge "$n" ] || pending+=("$binary")
        done
        [ "${#pending[@]}" -gt 0 ] || break
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "prespawn: after 30 s still fewer than $n processes of: ${pending[*]}"
            return 0
        fi
        for binary in "${pending[@]}"; do
            # Twice N in flight: a request that finds a process idle spawns nothing, so only
            # an overlap of more than the running processes starts one more.
            urls=()
            for ((i = 0; i < 8 * n; i++)); do
                urls+=(-o /dev/null "http://$host:$PORT/api/v1/$binary/health")
            done
            curl -s --no-progress-meter --max-time 10 --parallel --parallel-immediate --parallel-max "$((2 * n))" \
                "${urls[@]}" >/dev/null 2>&1 &
        done
        wait
    done
    log "prespawn: $n processes of each binary running"
}

wait_port() {
    local host="$LISTEN_ADDR"
    case "$host" in 0.0.0.0|\*|'') host=127.0.0.1 ;; esac
    for _ in $(seq 1 150); do
        tcp_open "$host" "$PORT" && return 0
        sleep 0.1
    done
    return 1
}

start_apache() {
    local new pid host
    prepare_dirs
    new="$(mktemp "$RUN_DIR/.httpd.conf.XXXXXX")"
    write_config "$new"
    # Check the new config before touching a running instance.
    if ! "$APACHE_BIN" -t -f "$new" >"$LOG_DIR/configtest.log" 2>&1; then
        cat "$LOG_DIR/configtest.log" >&2
        rm -f "$new"
        die "apache rejects the generated config (template: $REPO_ROOT/infra/apache/)"
    fi
    if pid="$(running_pid)"; then
        if cmp -s "$new" "$CONF" && wait_port; then
            rm -f "$new"
            prespawn_fcgid
            log "already running ($MODE, pid $pid) on http://$LISTEN_ADDR:$PORT/"
            return 0
        fi
        stop_apache
    fi
    host="$LISTEN_ADDR"; case "$host" in 0.0.0.0|\*) host=127.0.0.1 ;; esac
    if tcp_open "$host" "$PORT"; then
        rm -f "$new"
        die "port $PORT is already in use by another program"
    fi
    mv -f "$new" "$CONF"
    chmod 0644 "$CONF"
    check_access
    if ! "$APACHE_BIN" -f "$CONF" -k start >"$LOG_DIR/start.log" 2>&1 </dev/null; then
        cat "$LOG_DIR/start.log" >&2
        tail -n 20 "$LOG_DIR/error.log" >&2 2>/dev/null || true
        die "apache did not start"
    fi
    if ! wait_port; then
        tail -n 20 "$LOG_DIR/error.log" >&2 2>/dev/null || true
        die "apache did not answer on port $PORT within 15 s (log: $LOG_DIR/error.log)"
    fi
    prespawn_fcgid
    log "apache ($MODE) on http://$LISTEN_ADDR:$PORT/ (logs: $LOG_DIR)"
}

case "$CMD" in
    start) start_apache ;;
    restart) stop_apache; start_apache ;;
    stop) stop_apache ;;
    status)
        if pid="$(running_pid)"; then
            mode="$(grep -q '^LoadModule fcgid_module' "$CONF" 2>/dev/null && echo fcgid || echo cgi)"
            listen="$(sed -n 's/^Listen //p' "$CONF" 2>/dev/null | head -n1)"
            echo "running: pid $pid, mode $mode, listen $listen, run dir $RUN_DIR"
        else
            echo "stopped (run dir $RUN_DIR)"
            exit 3
        fi
        ;;
    config)
        prepare_dirs
        write_config "$CONF"
        "$APACHE_BIN" -t -f "$CONF" >/dev/null 2>&1 || warn "apache -t rejects $CONF"
        printf '%s\n' "$CONF"
        ;;
    -h|--help|help|'') usage; [ -n "$CMD" ] || exit 2 ;;
    *) die "unknown command $CMD (start|stop|restart|status|config)" ;;
esac
