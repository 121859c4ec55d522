#!/usr/bin/env bash
# stack.sh - starts and stops the whole stack (redis-server, chat-poller,
# and a front server running chat.fcgi) on 127.0.0.1, in one runtime
# directory. Used by `make run` (`stack.sh run`, SERVER=lighttpd|apache|nginx)
# and sourced by tests/helpers.bash.
#   stack_start DIR HTTP_PORT REDIS_PORT   (BUILD=build/release by default,
#                                           STACK_SERVER=lighttpd by default)
#   stack_stop DIR REDIS_PORT
# Front servers: lighttpd (lighttpd.conf, spawns chat.fcgi itself), apache
# (deploy/apache.conf, mod_fcgid spawns chat.fcgi), nginx (deploy/nginx.conf.in
# written into DIR/nginx, chat.fcgi spawned by spawn-fcgi). Each is started
# in the foreground and stopped by the PID it was started with.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# A free loopback TCP port (nothing answers on it right now), below the
# ephemeral range: a port some outgoing connection holds as its source
# port cannot be bound (a fan-out benchmark holds thousands of them).
stack_free_port() {
    local p lo=32768 hi
    read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$lo" -gt 12000 ] || lo=32768
    for _ in $(seq 1 200); do
        p=$(( 10000 + RANDOM % (lo - 10000) ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# stack_spawn CMD...: runs CMD in the background with every inherited fd
# above 2 closed, so a daemon never keeps a caller's lock or pipe open
# (e.g. `flock file make test` would otherwise stay locked by redis-server).
stack_spawn() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
        done
        exec "$@"
    ) &
}

# wait_for SECONDS CMD...: retries CMD every 0.05 s until it succeeds.
stack_wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

stack_redis_start() { # DIR PORT  (STACK_REDIS_CONF: a config file read first)
    local dir=$1 port=$2
    mkdir -p "$dir/redis"
    stack_spawn redis-server ${STACK_REDIS_CONF:+"$STACK_REDIS_CONF"} \
        --port "$port" --bind 127.0.0.1 \
        --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
        --dir "$dir/redis" --appendonly yes --appendfsync everysec --save '' \
        --maxclients 10000 --daemonize no --logfile "$dir/redis.log"
    echo $! > "$dir/redis.pid"
    stack_wait_for 10 redis-cli -p "$port" ping
}

stack_redis_stop() { # DIR PORT
    local dir=$1 port=$2 pid
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    pid=$(cat "$dir/redis.pid" 2>/dev/null) || return 0
    stack_wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    rm -f "$dir/redis.pid"
}

stack_poller_start() { # DIR
    local dir=$1 bin="$ROOT/${BUILD:-build/release}/chat-poller"
    [ -x "$bin" ] || return 0
    # a socket left by a killed poller would end the wait below at once
    rm -f "$dir/poller.sock"
    # shellcheck disable=SC2086
    CHAT_POLLER_SOCKET="$dir/poller.sock" stack_spawn ${STACK_WRAP:-} "$bin" \
        2>>"$dir/poller.log"
    echo $! > "$dir/poller.pid"
    stack_wait_for 10 test -S "$dir/poller.sock"
}

stack_poller_stop() { # DIR
    local pid
    pid=$(cat "$1/poller.pid" 2>/dev/null) || return 0
    kill -TERM "$pid" 2>/dev/null
    stack_wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rm -f "$1/poller.pid"
}

stack_lighttpd_start() { # DIR HTTP_PORT
    local dir=$1 port=$2
    CHAT_ROOT="$ROOT" CHAT_RUN="$dir" CHAT_HTTP_PORT="$port" \
    CHAT_FCGI_BIN="$ROOT/${BUILD:-build/release}/chat.fcgi" \
        stack_spawn lighttpd -D -f "${STACK_LIGHTTPD_CONF:-$ROOT/lighttpd.conf}" \
        2>>"$dir/lighttpd-stderr.log"
    echo $! > "$dir/lighttpd.pid.bg"
    stack_wait_for 15 curl -sf "http://127.0.0.1:$port/health"
}

stack_lighttpd_stop() { # DIR
    local pid kids k
    pid=$(cat "$1/lighttpd.pid.bg" 2>/dev/null) || return 0
    kids=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null
    stack_wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # lighttpd sends SIGTERM to chat.fcgi; let it exit (and LSan report).
    for k in $kids; do
        stack_wait_for 10 bash -c "! kill -0 $k" || kill -9 "$k" 2>/dev/null
    done
    rm -f "$1/lighttpd.pid.bg"
    return 0
}

# The settings chat.fcgi reads (README, Configuration) that a front server
# hands on to it: lighttpd.conf lists the same in bin-copy-environment,
# mod_fcgid gets them as FcgidInitialEnv lines, spawn-fcgi passes its own
# environment.
# (tests/server_apache.bats checks the two lists agree.)
STACK_FCGI_ENV=(PATH REDIS_ADDRESS REDIS_PASSWORD REDIS_DB CHAT_KEYSPACE_SETUP
    CHAT_THREADS CHAT_REDIS_TIMEOUT_MS CHAT_PWHASH_OPSLIMIT CHAT_PWHASH_MEMLIMIT
    CHAT_PWHASH_CONCURRENCY CHAT_MSG_RATE CHAT_SIGNIN_FAILS CHAT_KEY_TTL
    CHAT_SESSION_TTL CHAT_EVENTS_MAXLEN CHAT_LOG_LEVEL CHAT_FCGI_POLL
    CHAT_USERS_CACHE_MS CHAT_POLL_MAX_HOLD CHAT_CORS_ORIGINS REDIS_USERNAME
    CHAT_POLL_HOLD_SLOTS ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS)

# Who the front server's workers run as: the current user, or when started
# by root (Apache refuses to serve as root) STACK_WWW_USER, www-data.
stack_www_user() {
    if [ "$(id -u)" -eq 0 ]; then echo "${STACK_WWW_USER:-www-data}"; else id -un; fi
}

# stack_www_access DIR USER: a worker running as USER (not us) must reach
# the sockets in DIR: let others pass through DIR (not list or write it).
stack_www_access() {
    [ "$2" = "$(id -un)" ] || chmod o+x "$1"
}

# stack_pids_below PID: every descendant of PID (children first).
stack_pids_below() {
    local k
    for k in $(pgrep -P "$1" || true); do
        echo "$k"
        stack_pids_below "$k"
    done
}

# stack_stop_pid PIDFILE [SIGNAL]: stops the process started with that pid
# file and waits for it and for what it had started (so a sanitizer build
# writes its reports); the file goes away.
stack_stop_pid() {
    local pidf=$1 sig=${2:-TERM} pid kids k
    pid=$(cat "$pidf" 2>/dev/null) || return 0
    kids=$(stack_pids_below "$pid")
    kill -"$sig" "$pid" 2>/dev/null
    stack_wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for k in $kids; do
        stack_wait_for 10 bash -c "! kill -0 $k" || kill -9 "$k" 2>/dev/null
    done
    rm -f "$pidf"
    return 0
}

# stack_sbin NAME: NAME from PATH, else /usr/sbin/NAME (not in a Debian
# user's PATH).
stack_sbin() {
    command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

# --- Apache 2.4 (deploy/apache.conf): mod_fcgid + mod_proxy_http ----------
stack_apache_start() { # DIR HTTP_PORT
    local dir=$1 port=$2 user group v val env
    user=$(stack_www_user)
    group=$(id -gn "$user")
    mkdir -p "$dir/apache/san"
    stack_www_access "$dir" "$user"
    # mod_fcgid starts chat.fcgi with only FcgidInitialEnv: one line per
    # setting we have. The config runs one thread per process (CHAT_THREADS).
    # Children of another user cannot write sanitizer reports into DIR:
    # they go to DIR/apache/san, moved up by stack_apache_stop.
    [ "$user" = "$(id -un)" ] || chown "$user:$group" "$dir/apache/san"
    env="$dir/apache/fcgid-env.conf"
    : > "$env"
    for v in "${STACK_FCGI_ENV[@]}"; do
        [ "$v" = CHAT_THREADS ] && continue
        [ -n "${!v+set}" ] || continue
        val=${!v}
        case $v in *SAN_OPTIONS) val=${val//"log_path=$dir/"/"log_path=$dir/apache/san/"} ;; esac
        # mod_fcgid keeps 127 bytes of a value (INITENV_VAL_LEN)
        if [ ${#val} -gt 127 ]; then
            [ "$v" = PATH ] && val=/usr/local/bin:/usr/bin:/bin ||
                echo "stack: $v is over 127 bytes, mod_fcgid cuts it" >&2
        fi
        val=${val//\\/\\\\}
        val=${val//\"/\\\"}
        printf 'FcgidInitialEnv %s "%s"\n' "$v" "$val" >> "$env"
    done
    CHAT_ROOT="$ROOT" CHAT_RUN="$dir" CHAT_HTTP_PORT="$port" \
    CHAT_FCGI_BIN="$ROOT/${BUILD:-build/release}/chat.fcgi" \
    CHAT_APACHE_MODULES="${STACK_APACHE_MODULES:-/usr/lib/apache2/modules}" \
    CHAT_APACHE_USER="$user" CHAT_APACHE_GROUP="$group" \
        stack_spawn "${STACK_APACHE_BIN:-$(stack_sbin apache2)}" \
        -f "${STACK_APACHE_CONF:-$ROOT/deploy/apache.conf}" -DFOREGROUND \
        2>>"$dir/apache-stderr.log"
    echo $! > "$dir/apache.pid.bg"
    stack_wait_for 15 curl -sf "http://127.0.0.1:$port/health"
}

stack_apache_stop() { # DIR
    local f
    # SIGTERM: Apache stops its children, mod_fcgid's SIGTERM ends chat.fcgi
    stack_stop_pid "$1/apache.pid.bg" TERM
    for f in "$1"/apache/san/*; do
        [ -e "$f" ] && mv "$f" "$1/"
    done
    return 0
}

# --- nginx (deploy/nginx.conf.in) + spawn-fcgi'd chat.fcgi -----------------
# stack_subst IN OUT NAME=VALUE...: IN with every @NAME@ replaced by VALUE;
# a line naming @CHAT_WWW_USER@ is dropped when VALUE is empty.
stack_subst() {
    local in=$1 out=$2 line kv
    shift 2
    : > "$out"
    while IFS= read -r line || [ -n "$line" ]; do
        for kv in "$@"; do
            if [ -z "${kv#*=}" ] && [[ "$line" == *"@${kv%%=*}@"* ]]; then
                continue 2
            fi
            line=${line//"@${kv%%=*}@"/"${kv#*=}"}
        done
        printf '%s\n' "$line" >> "$out"
    done < "$in"
}

stack_nginx_start() { # DIR HTTP_PORT
    local dir=$1 port=$2 user group own=() wuser="" wgroup=""
    local bin="$ROOT/${BUILD:-build/release}/chat.fcgi"
    user=$(stack_www_user)
    group=$(id -gn "$user")
    mkdir -p "$dir/nginx"
    stack_www_access "$dir" "$user"
    if [ "$user" != "$(id -un)" ]; then
        own=(-U "$user" -G "$group")
        wuser=$user wgroup=$group
    fi
    # chat.fcgi on its unix socket; -n: spawn-fcgi binds and execs it (same
    # pid), the workers' user owns the socket (mode 0600)
    rm -f "$dir/chat-fcgi.sock"
    # shellcheck disable=SC2086
    stack_spawn spawn-fcgi -n -s "$dir/chat-fcgi.sock" -M 0600 "${own[@]}" \
        -- ${STACK_WRAP:-} "$bin" 2>>"$dir/chat-fcgi.log"
    echo $! > "$dir/chat-fcgi.pid"
    stack_wait_for 10 test -S "$dir/chat-fcgi.sock" || return 1
    stack_subst "${STACK_NGINX_CONF:-$ROOT/deploy/nginx.conf.in}" \
        "$dir/nginx/nginx.conf" "CHAT_ROOT=$ROOT" "CHAT_RUN=$dir" \
        "CHAT_HTTP_PORT=$port" "CHAT_WWW_USER=$wuser" "CHAT_WWW_GROUP=$wgroup"
    stack_spawn "${STACK_NGINX_BIN:-$(stack_sbin nginx)}" -p "$dir/nginx" \
        -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" -g 'daemon off;' \
        2>>"$dir/nginx-stderr.log"
    echo $! > "$dir/nginx.pid.bg"
    stack_wait_for 15 curl -sf "http://127.0.0.1:$port/health"
}

stack_nginx_stop() { # DIR
    # SIGTERM: fast shutdown (SIGQUIT would wait for every held poll)
    stack_stop_pid "$1/nginx.pid.bg" TERM
    stack_stop_pid "$1/chat-fcgi.pid" TERM
    rm -f "$1/chat-fcgi.sock"
    return 0
}

# The pid file of the running front server (make run waits on it).
stack_server_pidfile() { # DIR SERVER
    case $2 in
    lighttpd) echo "$1/lighttpd.pid.bg" ;;
    apache) echo "$1/apache.pid.bg" ;;
    nginx) echo "$1/nginx.pid.bg" ;;
    esac
}

stack_server_start() { # DIR HTTP_PORT SERVER
    case $3 in
    lighttpd) stack_lighttpd_start "$1" "$2" ;;
    apache) stack_apache_start "$1" "$2" ;;
    nginx) stack_nginx_start "$1" "$2" ;;
    *) echo "unknown server '$3' (lighttpd, apache or nginx)" >&2; return 2 ;;
    esac
}

stack_start() { # DIR HTTP_PORT REDIS_PORT
    local dir=$1 http=$2 redis=$3
    mkdir -p "$dir"
    # STACK_REDIS_UNIX=1: the programs reach Redis over its unix socket.
    if [ "${STACK_REDIS_UNIX:-0}" = 1 ]; then
        export REDIS_ADDRESS="$dir/redis.sock"
    else
        export REDIS_ADDRESS="127.0.0.1:$redis"
    fi
    stack_redis_start "$dir" "$redis" || { echo "redis did not start" >&2; return 1; }
    stack_poller_start "$dir" || { echo "chat-poller did not start" >&2; return 1; }
    stack_server_start "$dir" "$http" "${STACK_SERVER:-lighttpd}" ||
        { echo "${STACK_SERVER:-lighttpd} did not start" >&2; return 1; }
}

stack_stop() { # DIR REDIS_PORT
    # Apache and nginx wait at stop for the polls and streams they proxy:
    # the poller goes first, its drain answers them.
    if [ -e "$1/apache.pid.bg" ] || [ -e "$1/nginx.pid.bg" ]; then
        stack_poller_stop "$1"
    fi
    # whichever front server was started (each stop is a no-op without its
    # pid file)
    stack_lighttpd_stop "$1"
    stack_apache_stop "$1"
    stack_nginx_stop "$1"
    stack_poller_stop "$1"
    stack_redis_stop "$1" "$2"
    return 0
}

stack_run() {
    local dir="$ROOT/var" http=${CHAT_HTTP_PORT:-8080} redis=${CHAT_REDIS_PORT:-6390}
    local server=${SERVER:-${STACK_SERVER:-lighttpd}}
    case $server in
    lighttpd | apache | nginx) ;;
    *) echo "SERVER=$server: use lighttpd, apache or nginx" >&2; exit 2 ;;
    esac
    export STACK_SERVER=$server
    # the gateway and the poller reach the private Redis over its socket
    # (mode 700): not when mod_fcgid runs chat.fcgi as another user (root
    # starting Apache), which then uses Redis's loopback port
    if [ "$server" = apache ] && [ "$(stack_www_user)" != "$(id -un)" ]; then
        export STACK_REDIS_UNIX=${STACK_REDIS_UNIX:-0}
    else
        export STACK_REDIS_UNIX=${STACK_REDIS_UNIX:-1}
    fi
    trap 'echo; echo "stopping..."; stack_stop "$dir" "$redis"; exit 0' INT TERM
    stack_start "$dir" "$http" "$redis" || { stack_stop "$dir" "$redis"; exit 1; }
    echo "chat is up behind $server: http://127.0.0.1:$http/  (logs in $dir; Ctrl-C stops)"
    # until the server ends (or, behind nginx, chat.fcgi: nothing respawns it)
    while kill -0 "$(cat "$(stack_server_pidfile "$dir" "$server")")" 2>/dev/null; do
        if [ "$server" = nginx ] && ! kill -0 "$(cat "$dir/chat-fcgi.pid")" 2>/dev/null; then
            echo "chat.fcgi exited (see $dir/chat-fcgi.log)" >&2
            break
        fi
        sleep 1
    done
    stack_stop "$dir" "$redis"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    run) stack_run ;;
    *) echo "usage: $0 run" >&2; exit 2 ;;
    esac
fi
