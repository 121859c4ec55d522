#!/usr/bin/env bash
# stack.sh - starts and stops the whole stack (redis-server, chat-poller,
# lighttpd spawning chat.fcgi) on 127.0.0.1, in one runtime directory.
# Used by `make run` (`stack.sh run`) and sourced by tests/helpers.bash.
#   stack_start DIR HTTP_PORT REDIS_PORT   (BUILD=build/release by default)
#   stack_stop DIR
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
    stack_lighttpd_start "$dir" "$http" || { echo "lighttpd did not start" >&2; return 1; }
}

stack_stop() { # DIR REDIS_PORT
    stack_lighttpd_stop "$1"
    stack_poller_stop "$1"
    stack_redis_stop "$1" "$2"
    return 0
}

stack_run() {
    local dir="$ROOT/var" http=${CHAT_HTTP_PORT:-8080} redis=${CHAT_REDIS_PORT:-6390}
    # the gateway and the poller reach the private Redis over its socket
    export STACK_REDIS_UNIX=${STACK_REDIS_UNIX:-1}
    trap 'echo; echo "stopping..."; stack_stop "$dir" "$redis"; exit 0' INT TERM
    stack_start "$dir" "$http" "$redis" || { stack_stop "$dir" "$redis"; exit 1; }
    echo "chat is up: http://127.0.0.1:$http/  (logs in $dir; Ctrl-C stops)"
    while kill -0 "$(cat "$dir/lighttpd.pid.bg")" 2>/dev/null; do sleep 1; done
    stack_stop "$dir" "$redis"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    run) stack_run ;;
    *) echo "usage: $0 run" >&2; exit 2 ;;
    esac
fi
