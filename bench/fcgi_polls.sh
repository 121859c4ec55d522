#!/usr/bin/env bash
# fcgi_polls.sh - hosts without chat-poller: 4 FastCGI workers answer /api
# and /poll (lighttpd spawning chat.fcgi with CHAT_THREADS=4, /poll routed
# to it), CLIENTS pollers, one sender. Target: POST /api p99 <= 200 ms, and
# each poller gets each message exactly once within 2 s.
# Env: CLIENTS (20), DURATION (20 s), INTERVAL (250 ms between POSTs),
# RUNS (3), BUILD (the build to measure, relative to the repository,
# default build/release: point it at an older build to compare).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tools/stack.sh"
BUILD=${BUILD:-build/release}
RUNS=${RUNS:-3}
make -s -C "$ROOT" all >/dev/null
command -v node >/dev/null || { echo "node missing"; exit 1; }

DIR=$(mktemp -d /tmp/chat-bench.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
# the shipped config with /poll on chat.fcgi and no chat-poller
sed -e 's#\^/(api|health)\$#^/(api|health|poll)$#' \
    -e 's#\^/(poll|events|metrics)\$#^/(events|metrics)$#' \
    "$ROOT/lighttpd.conf" >"$DIR/nopoller.conf"
grep -q '(api|health|poll)' "$DIR/nopoller.conf"
export CHAT_THREADS=4 CHAT_FCGI_POLL=1 CHAT_MSG_RATE=0 CHAT_LOG_LEVEL=warn
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192
export STACK_LIGHTTPD_CONF="$DIR/nopoller.conf"
export REDIS_ADDRESS="127.0.0.1:$REDIS"
trap 'stack_lighttpd_stop "$DIR"; stack_redis_stop "$DIR" "$REDIS"; rm -rf "$DIR"' EXIT
stack_redis_start "$DIR" "$REDIS" >/dev/null
stack_lighttpd_start "$DIR" "$HTTP" >/dev/null
echo "4 workers (CHAT_THREADS=4), no chat-poller, ${CLIENTS:-20} pollers, $RUNS runs"
for r in $(seq 1 "$RUNS"); do
    echo "-- run $r"
    BASE="http://127.0.0.1:$HTTP" timeout 120 node "$ROOT/bench/fcgi_polls.mjs"
done
