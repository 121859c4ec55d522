#!/usr/bin/env bash
# chat.sh - end-to-end chat throughput of this stack against Socket.IO 4.8
# long-polling, side by side, on loopback (docs/benchmarks.md); stops by
# itself. Each run starts its system afresh and stops it after:
#   ours: the whole stack (Redis, chat-poller, lighttpd + chat.fcgi with
#         CHAT_THREADS=4) through lighttpd: POST /api to send, GET /poll
#         with the cursor to receive.
#   sio:  bench/sio_server.mjs, one Node process: socket.io 4.8,
#         transports ['polling'], @socket.io/redis-adapter on its own
#         redis-server. It broadcasts each message to the room through the
#         adapter and stores nothing (no history, users or sessions, no
#         checks): the peer the issue measured, not an equivalent of ours.
# Clients (bench/chat_worker.mjs) are spread over CLIENT_PROCS Node
# processes; both sides keep their HTTP connections alive. Every receiver
# checks every message (duplicates; missing after DRAIN s), with the send
# time in the text for send->receive latency.
#   scenario 1: CLIENTS in one channel (General; one room), closed loop:
#     each keeps WINDOW of its own messages in flight, a slot frees when its
#     own copy comes back. RUNS runs of each, alternating (ours, sio, ...).
#   scenario 2: SC2_CLIENTS clients, each sending SC2_RATE messages a
#     second. The contract has one channel with more than two members
#     (General) and private channels of two, so no 10 channels of 20: the
#     clients are in private pairs (SC2_CLIENTS/2 channels of 2 members),
#     and Socket.IO in as many rooms of 2 (the same fan-out). SC2_RUNS runs.
# Each run measures DURATION s after WARMUP s of sending. It prints one
# table: messages/s that reached everyone, deliveries/s, p50/p99 send->
# receive, duplicates, missing, errors, the CPU of each server process
# (/proc utime+stime over the window), server CPU per delivery, each client
# process's CPU, the medians and ours/sio.
# Env: CLIENTS (20), WINDOW (8), DURATION (10), RUNS (3), CLIENT_PROCS (4),
# SCENARIO (1|2|all), SC2_CLIENTS (200), SC2_RATE (1), SC2_RUNS (1),
# WARMUP (2), DRAIN (2), BUILD (build/release), STATS (0; 1 prints our
# Redis command counts and poller counters after each of our runs),
# SIO_MESSAGE (text: Socket.IO broadcasts the bare text, as the issue
# measured it; contract: it broadcasts the message object our /poll
# delivers, the same bytes per delivery; see bench/sio_server.mjs).
#   flock /tmp/chat-heavy.lock bash bench/chat.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"
export BUILD=${BUILD:-build/release}
CLIENTS=${CLIENTS:-20} WINDOW=${WINDOW:-8} DURATION=${DURATION:-10} RUNS=${RUNS:-3}
CLIENT_PROCS=${CLIENT_PROCS:-4} SCENARIO=${SCENARIO:-all}
SC2_CLIENTS=${SC2_CLIENTS:-200} SC2_RATE=${SC2_RATE:-1} SC2_RUNS=${SC2_RUNS:-1}
WARMUP=${WARMUP:-2} DRAIN=${DRAIN:-2} SYSTEMS=${SYSTEMS:-both}
SIO_MESSAGE=${SIO_MESSAGE:-text}
case $SIO_MESSAGE in text | contract) ;; *) echo "SIO_MESSAGE=$SIO_MESSAGE: use text or contract" >&2; exit 2 ;; esac
case $SCENARIO in 1 | 2 | all) ;; *) echo "SCENARIO=$SCENARIO: use 1, 2 or all" >&2; exit 2 ;; esac
[ $((SC2_CLIENTS % 2)) -eq 0 ] || { echo "SC2_CLIENTS must be even (pairs)" >&2; exit 2; }
command -v node >/dev/null || { echo "node missing" >&2; exit 1; }
make -s -C "$ROOT" all >/dev/null
if [ ! -d "$ROOT/bench/node_modules" ]; then
    (cd "$ROOT/bench" && npm ci --no-audit --no-fund --silent) ||
        { echo "npm ci in bench/ failed" >&2; exit 1; }
fi

DIR=$(mktemp -d /tmp/chat-bench.XXXXXX)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=1000000
export CHAT_THREADS=${CHAT_THREADS:-4} CHAT_LOG_LEVEL=warn
# every client of the benchmark is 127.0.0.1: lift the per-address limit
export CHAT_MAX_CONNS_PER_IP=1000000
LOAD_PID="" OURS_DIR="" OURS_REDIS="" SIO_DIR=""

stop_ours() {
    [ -n "$OURS_DIR" ] || return 0
    stack_stop "$OURS_DIR" "$OURS_REDIS" >/dev/null 2>&1
    rm -rf "$OURS_DIR"
    OURS_DIR=""
}
stop_sio() {
    [ -n "$SIO_DIR" ] || return 0
    stack_stop_pid "$SIO_DIR/sio.pid" TERM sio_server.mjs
    stack_redis_stop "$SIO_DIR"
    rm -rf "$SIO_DIR"
    SIO_DIR=""
}
cleanup() {
    set +e
    if [ -n "$LOAD_PID" ]; then
        # chat_load.mjs stops its client processes on SIGTERM
        kill "$LOAD_PID" 2>/dev/null
        wait "$LOAD_PID" 2>/dev/null
    fi
    stop_ours
    stop_sio
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ulimit -n 65536 2>/dev/null || true

two_ports() { # two different free ports
    local a b
    a=$(stack_free_port) && b=$(stack_free_port) || return 1
    while [ "$a" = "$b" ]; do b=$(stack_free_port) || return 1; done
    echo "$a $b"
}

# load SYSTEM BASE SERVERS SCENARIO RUN MODE CLIENTS ROOM_SIZE: one run of
# bench/chat_load.mjs, in the background so that a signal reaches our trap
load() {
    local rc=0
    printf 'scenario %s run %s %-4s  ' "$4" "$5" "$1"
    SYSTEM=$1 BASE=$2 SERVERS=$3 SCENARIO=$4 RUN=$5 MODE=$6 CLIENTS=$7 ROOM_SIZE=$8 \
        WINDOW=$WINDOW RATE=$SC2_RATE DURATION=$DURATION WARMUP=$WARMUP DRAIN=$DRAIN \
        CLIENT_PROCS=$CLIENT_PROCS CLK_TCK=$(getconf CLK_TCK) OUT="$DIR/results.jsonl" \
        node "$ROOT/bench/chat_load.mjs" &
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=""
    return $rc
}

run_ours() { # SCENARIO RUN MODE CLIENTS ROOM_SIZE
    local http fcgi lpid
    read -r http OURS_REDIS < <(two_ports)
    OURS_DIR="$DIR/ours"
    stack_start "$OURS_DIR" "$http" "$OURS_REDIS" >/dev/null ||
        { echo "the stack did not start (logs: $OURS_DIR)" >&2; cat "$OURS_DIR"/*.log >&2; return 1; }
    lpid=$(cat "$OURS_DIR/lighttpd.pid.bg")
    fcgi=$(pgrep -P "$lpid" -x chat.fcgi | head -1)
    [ -n "$fcgi" ] || { echo "no chat.fcgi below lighttpd $lpid" >&2; return 1; }
    load ours "http://127.0.0.1:$http" \
        "redis:$(cat "$OURS_DIR/redis.pid") chat-poller:$(cat "$OURS_DIR/poller.pid") lighttpd:$lpid chat.fcgi:$fcgi" \
        "$@"
    [ "${STATS:-0}" = 1 ] && ours_stats "$http"
    stop_ours
}

# STATS=1: where our run's time went: Redis commands (calls, us per call)
# and the poller's counters.
ours_stats() { # HTTP_PORT
    redis-cli -p "$OURS_REDIS" info commandstats | tr -d '\r' |
        awk -F'[:=,]' '/^cmdstat_/ {printf "  redis %-14s calls %9d  usec/call %6.2f\n", substr($1, 9), $3, $7}' |
        sort -k4 -nr | head -12
    curl -s "http://127.0.0.1:$1/metrics" |
        grep -E '^chat_poller_(catchup_reads|shared_reads|cached_polls|poll_answers|delivered|wakes|keyspace_wakes)_total' |
        sed 's/^/  /'
}

run_sio() { # SCENARIO RUN MODE CLIENTS ROOM_SIZE
    local port redis
    read -r port redis < <(two_ports)
    SIO_DIR="$DIR/sio"
    mkdir -p "$SIO_DIR"
    stack_port_check "$port" sio_server.mjs || return 1
    stack_redis_start "$SIO_DIR" "$redis" || { echo "Socket.IO's redis did not start" >&2; return 1; }
    PORT=$port REDIS_URL="redis://127.0.0.1:$redis" SIO_MESSAGE=$SIO_MESSAGE \
        stack_spawn node "$ROOT/bench/sio_server.mjs" >"$SIO_DIR/sio.log" 2>&1
    echo $! >"$SIO_DIR/sio.pid"
    stack_wait_up "$!" 15 grep -qx listening "$SIO_DIR/sio.log" ||
        { echo "sio_server.mjs did not start:" >&2; cat "$SIO_DIR/sio.log" >&2; return 1; }
    load sio "http://127.0.0.1:$port" "node:$(cat "$SIO_DIR/sio.pid") redis:$(cat "$SIO_DIR/redis.pid")" "$@"
    stop_sio
}

echo "chat: ours (lighttpd + chat-poller + chat.fcgi + Redis) vs Socket.IO 4.8 polling + Redis adapter"
echo "      $CLIENT_PROCS client processes, warm-up $WARMUP s, drain $DRAIN s, $DURATION s measured per run"
echo "      Socket.IO broadcasts: $([ "$SIO_MESSAGE" = text ] && echo "the bare text" || echo "the contract's message object (as our /poll)")"
if [ "$SCENARIO" != 2 ]; then
    for run in $(seq 1 "$RUNS"); do
        [ "$SYSTEMS" = sio ] || run_ours 1 "$run" closed "$CLIENTS" "$CLIENTS"
        [ "$SYSTEMS" = ours ] || run_sio 1 "$run" closed "$CLIENTS" "$CLIENTS"
    done
fi
if [ "$SCENARIO" != 1 ]; then
    for run in $(seq 1 "$SC2_RUNS"); do
        [ "$SYSTEMS" = sio ] || run_ours 2 "$run" rate "$SC2_CLIENTS" 2
        [ "$SYSTEMS" = ours ] || run_sio 2 "$run" rate "$SC2_CLIENTS" 2
    done
fi
node "$ROOT/bench/chat_report.mjs" "$DIR/results.jsonl"
