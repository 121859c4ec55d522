#!/usr/bin/env bash
# soak.sh - HOLD held polls plus CLIENTS chatting users for DURATION seconds
# against the whole stack (Redis, chat-poller, lighttpd + chat.fcgi) on
# loopback; stops by itself.
#   held polls: bench/lp_client latency, straight to the poller's socket,
#     HOLD users in pairs (one session each in its private channel), with
#     PAIR_RATE messages a second written to those channels in Redis; each
#     poll re-polls with its cursor (most of them wait out their 55 s).
#   chat: bench/soak.mjs, CLIENTS users in General through lighttpd, RATE
#     messages a second in all, each checked at every receiver.
# It prints messages/s, p50/p99 send->receive, errors, duplicates, missing,
# and the RSS and fds of every server process at the start, middle and end
# (they must stay flat).
# Env: HOLD (10000), CLIENTS (200), RATE (20), PAIR_RATE (10),
# DURATION (300), BUILD (build/release).
#   flock /tmp/chat-heavy.lock bash bench/soak.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"
export BUILD=${BUILD:-build/release}
HOLD=${HOLD:-10000} CLIENTS=${CLIENTS:-200} RATE=${RATE:-20}
PAIR_RATE=${PAIR_RATE:-10} DURATION=${DURATION:-300}
LP="$ROOT/$BUILD/bench/lp_client"
make -s -C "$ROOT" all >/dev/null
[ -x "$LP" ] || make -C "$ROOT" -s "$BUILD/bench/lp_client"
command -v node >/dev/null || { echo "node missing"; exit 1; }

DIR=$(mktemp -d /tmp/chat-soak.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=1000000
export CHAT_THREADS=4 CHAT_LOG_LEVEL=warn
# every client of the benchmark is 127.0.0.1: lift the per-address limit
export CHAT_MAX_CONNS_PER_IP=1000000
LP_PID="" SAMPLER=""
cleanup() {
    set +e
    [ -n "$LP_PID" ] && kill "$LP_PID" 2>/dev/null
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    stack_stop "$DIR" "$REDIS" >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
rcli() { redis-cli -p "$REDIS" "$@"; }

echo "soak: $HOLD held polls, $CLIENTS chatting clients at $RATE msg/s, $DURATION s"
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
ulimit -n 65536 2>/dev/null || true

# the held polls' users and their channels, then one request block per
# channel (RPUSH + PUBLISH) and the poll paths with the current cursors
"$LP" setup-pairs --http "127.0.0.1:$HTTP" --n "$HOLD" --user "soak$RANDOM" --out "$DIR/pairs"
awk '{print "HGET rcg:session." $1 " ch"}' "$DIR/pairs" | rcli >"$DIR/pair-channels"
uid=$(rcli get "rcg:key.$(awk 'NR==1 {print $2}' "$DIR/pairs")" | cut -f1)
blocks=0
: >"$DIR/request"
for ch in $(sort -u "$DIR/pair-channels"); do
    msg="{\"UUID\":\"00000000-0000-4000-8000-000000000000\",\"SenderUUID\":\"$uid\",\"RecipientUUID\":\"\",\"Message\":\"LAT-XXXXXXXXXXXXXXXXXXXX\",\"CreatedAt\":\"2024-01-01T00:00:00Z\"}"
    { resp RPUSH "channelMessages.$ch" "$msg"; resp PUBLISH "$ch" "$msg"; } >>"$DIR/request"
    blocks=$((blocks + 1))
done
last=$(rcli xrevrange rcg:events + - count 1 | head -1)
awk '{print "LLEN channelMessages." $1}' "$DIR/pair-channels" | rcli >"$DIR/pair-llen"
paste -d ' ' "$DIR/pairs" "$DIR/pair-llen" | awk -v last="$last" '{
    print "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor= " \
        substr($1, 1, 8) "." last ".1." $3 }' >"$DIR/paths" # lp_client: "cursor= <first>"

"$LP" latency --target "unix:$DIR/poller.sock" --paths "$DIR/paths" --n "$HOLD" \
    --publish "127.0.0.1:$REDIS" --request "$DIR/request" --blocks "$blocks" \
    --rate "$PAIR_RATE" --seconds "$DURATION" --settle 5 >"$DIR/held.out" 2>&1 &
LP_PID=$!
metric() {
    curl -s --unix-socket "$DIR/poller.sock" http://p/metrics | awk -v m="$1" '$1 == m {print $2}'
}
stack_wait_for 120 bash -c "[ \"\$(curl -s --unix-socket $DIR/poller.sock http://p/metrics |
    awk '\$1 == \"chat_poller_parked_polls\" {print \$2}')\" -ge $HOLD ]" ||
    { echo "the $HOLD polls were not all held"; cat "$DIR/held.out"; exit 1; }

# sample NAME: RSS (KiB) and fds of every server process, one line each
sample() {
    local name pid
    for name in redis poller lighttpd; do
        case $name in
        redis) pid=$(cat "$DIR/redis.pid") ;;
        poller) pid=$(cat "$DIR/poller.pid") ;;
        lighttpd) pid=$(cat "$DIR/lighttpd.pid.bg") ;;
        esac
        printf '%s %s rss_kb=%s fds=%s\n' "$1" "$name" \
            "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" "$(ls "/proc/$pid/fd" | wc -l)"
    done
    for pid in $(pgrep -P "$(cat "$DIR/lighttpd.pid.bg")" || true); do
        printf '%s chat.fcgi rss_kb=%s fds=%s\n' "$1" \
            "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" "$(ls "/proc/$pid/fd" | wc -l)"
    done
    printf '%s poller parked=%s\n' "$1" "$(metric chat_poller_parked_polls)"
}
{
    sleep 20
    sample start
    sleep $((DURATION / 2 - 20))
    sample middle
    sleep $((DURATION / 2 - 10))
    sample end
} >"$DIR/samples" &
SAMPLER=$!

BASE="http://127.0.0.1:$HTTP" CLIENTS=$CLIENTS RATE=$RATE DURATION=$DURATION \
    node "$ROOT/bench/soak.mjs"
wait "$SAMPLER" || true
SAMPLER=""
cat "$DIR/samples"
wait "$LP_PID" || true
LP_PID=""
echo "held polls: $(tail -1 "$DIR/held.out")"
echo "poller: errors_total=$(metric chat_poller_errors_total) hangups_total=$(metric chat_poller_hangups_total)"
