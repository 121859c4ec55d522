#!/usr/bin/env bash
# api.sh - req/s of POST /api channelMessage and users (100 users) through
# lighttpd, side by side in the same run with a FastCGI hello-world
# responder of the same thread count behind the same lighttpd.
# Targets: channelMessage >= 0.6 x hello, users >= 0.4 x hello.
# Env: THREADS (8), CONNS (64), SECONDS_EACH (5), RUNS (3: median is shown).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tools/stack.sh"
BUILD=${BUILD:-build/release}
THREADS=${THREADS:-8} CONNS=${CONNS:-64} SECONDS_EACH=${SECONDS_EACH:-5} RUNS=${RUNS:-3}
command -v wrk >/dev/null || { echo "wrk missing (CHAT_WITH_BENCH=1 tools/deps.sh)"; exit 1; }
make -s -C "$ROOT" all "$BUILD/bench/hello_fcgi" >/dev/null

DIR=$(mktemp -d /tmp/chat-bench.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
cat > "$DIR/bench.conf" <<CONF
include "$ROOT/lighttpd.conf"
\$HTTP["url"] == "/hello" {
  fastcgi.server = ( "/" => ((
    "bin-path" => "$ROOT/$BUILD/bench/hello_fcgi",
    "socket" => "$DIR/hello.sock", "check-local" => "disable",
    "max-procs" => 1, "bin-copy-environment" => ( "CHAT_THREADS" ) )) )
}
CONF
export CHAT_THREADS=$THREADS CHAT_MSG_RATE=0 CHAT_LOG_LEVEL=warn
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192
export STACK_LIGHTTPD_CONF="$DIR/bench.conf"
# Redis over its unix socket, as `make run` deploys it (REDIS_TCP=1: TCP).
[ "${REDIS_TCP:-0}" = 1 ] || export STACK_REDIS_UNIX=1
trap 'stack_stop "$DIR" "$REDIS" || true; rm -rf "$DIR"' EXIT
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
URL="http://127.0.0.1:$HTTP"

for i in $(seq 1 100); do
    curl -s -o /dev/null -X POST --data-binary \
        "{\"type\":\"signUp\",\"signUp\":{\"username\":\"bench$i\",\"password\":\"p$i\"}}" "$URL/api"
done
KEY=$(curl -s -X POST --data-binary \
    '{"type":"signIn","signIn":{"username":"bench1","password":"p1"}}' "$URL/api" | jq -r .authorized.accessKey)
MSG='{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"benchmark message of a typical length, with some words in it"}}'
USERS='{"type":"users"}'
[ "$(curl -s -X POST -H "Authorization: Bearer $KEY" --data-binary "$USERS" "$URL/api" | jq .users.received)" = 100 ]

# run NAME PATH BODY: median req/s of RUNS wrk runs; also p50 latency.
run() {
    local name=$1 path=$2 body=$3 rps=() lat=()
    for r in $(seq 1 "$RUNS"); do
        out=$(BODY="$body" KEY="$KEY" wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency \
            -s "$ROOT/bench/wrk-post.lua" "$URL$path" 2>&1)
        if ! grep -q '^non-2xx: 0$' <<<"$out"; then
            echo "$name: errors during the run:" >&2; echo "$out" >&2; exit 1
        fi
        rps+=("$(awk '/^Requests\/sec/ {print $2}' <<<"$out")")
        lat+=("$(awk '$1 == "50%" {print $2}' <<<"$out")")
    done
    printf '%s %s %s\n' "$name" \
        "$(printf '%s\n' "${rps[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")" \
        "$(printf '%s\n' "${lat[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
}

echo "bench/api.sh: lighttpd -> FastCGI, $THREADS threads, wrk -t2 -c$CONNS, ${SECONDS_EACH}s x $RUNS runs (median), Redis at $REDIS_ADDRESS"
read -r _ hello hello_p50 < <(run hello /hello "$MSG")
read -r _ msg msg_p50 < <(run channelMessage /api "$MSG")
read -r _ users users_p50 < <(run users /api "$USERS")
printf '%-26s %10s %8s %8s %8s\n' scenario req/s p50 ratio target
printf '%-26s %10.0f %8s %8s %8s\n' "hello (FastCGI baseline)" "$hello" "$hello_p50" 1.00 -
printf '%-26s %10.0f %8s %8.2f %8s\n' "channelMessage" "$msg" "$msg_p50" "$(awk -v a="$msg" -v b="$hello" 'BEGIN{print a/b}')" ">= 0.60"
printf '%-26s %10.0f %8s %8.2f %8s\n' "users (100 users)" "$users" "$users_p50" "$(awk -v a="$users" -v b="$hello" 'BEGIN{print a/b}')" ">= 0.40"
echo "stored messages: $(redis-cli -p "$REDIS" llen channelMessages.public)"
