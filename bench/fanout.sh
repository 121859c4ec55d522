#!/usr/bin/env bash
# fanout.sh - long-poll fan-out and latency of chat-poller, side by side in
# the same run with nginx + Nchan long-poll subscribers (memory store).
#   fan-out: hold N polls (bench/lp_client, one epoll process), publish one
#   message, time until all N have it; poller RSS per held poll.
#     chat-poller direct (unix socket): N = 1000, 5000, 10000
#     chat-poller through lighttpd:     N = 1000, 5000, 9000
#     nginx + nchan:                    N = 1000, 5000
#   latency: 1000 held polls (500 private channels of 2 users) re-polling
#   with their cursor; 1000 msg/s round-robin over the channels, written the
#   Go server's way (RPUSH + PUBLISH); publish->deliver p50/p99.
# Targets (docs/poller.md): <= 4 KiB RSS per held poll, fan-out at 5000
# <= 0.8 x Nchan's, latency p50 <= 2 ms and p99 <= 20 ms.
# Environment: RUNS (default 3, median reported), DIRECT_N, PROXY_N,
# NCHAN_N (lists; empty skips), MAXN, LAT_N, LAT_RATE, LAT_SECONDS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"
export BUILD=${BUILD:-build/release}
LP="$ROOT/$BUILD/bench/lp_client"
RUNS=${RUNS:-3}
DIRECT_N=${DIRECT_N-"1000 5000 10000"}
PROXY_N=${PROXY_N-"1000 5000 9000"}
NCHAN_N=${NCHAN_N-"1000 5000"}
LAT_N=${LAT_N:-1000}
LAT_RATE=${LAT_RATE:-1000}
LAT_SECONDS=${LAT_SECONDS:-5}
[ -x "$LP" ] || make -C "$ROOT" -s "$BUILD/bench/lp_client"

DIR=$(mktemp -d /tmp/chat-fanout.XXXXXX)
HTTP=$(stack_free_port)
REDIS=$(stack_free_port)
NGX=$(stack_free_port)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=1000000
export CHAT_THREADS=4 CHAT_LOG_LEVEL=warn
NGINX_PID=""

cleanup() {
    [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null
    stack_stop "$DIR" "$REDIS" >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap cleanup EXIT

rcli() { redis-cli -p "$REDIS" "$@"; }
metric() {
    curl -s --unix-socket "$DIR/poller.sock" http://p/metrics |
        awk -v m="$1" '$1 == m {print $2}'
}
parked_ge() { [ "$(metric chat_poller_parked_polls)" -ge "$1" ]; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "-")}'; }

echo "starting redis, chat-poller, lighttpd + chat.fcgi in $DIR"
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
POLLER=$(cat "$DIR/poller.pid")
MAXN=${MAXN:-10000}
echo "creating $MAXN sessions (ready + channelJoin public through /api)"
"$LP" setup --http "127.0.0.1:$HTTP" --n "$MAXN" --user "bench-$RANDOM" \
    --out "$DIR/sessions"
KEY=$(awk 'NR==1 {print $2}' "$DIR/sessions")
# RSS per held poll is (RSS while N are held - RSS_BASE) / N, on runs of
# growing N, RSS_BASE taken after one warm-up fan-out to 100 polls (below):
# the one-time growth of the first polls is not a cost per poll. The heap
# keeps part of its peak (PLATFORM E5), so earlier runs still count against
# later ones; the proxy series (after 10000 direct) is not meaningful there.
RSS_BASE=$(rss_kb "$POLLER")
UID_=$(rcli get "rcg:key.$KEY" | cut -f1)

# paths N [latency]: one poll path per session, with the cursor that follows
# everything stored now ("<tag>.<last event>.<join count>.<list length>",
# the documented cursor layout; a real client gets it from its first poll).
paths() {
    local n=$1 mode=${2:-} last llen
    last=$(rcli xrevrange rcg:events + - count 1 | head -1)
    llen=$(rcli llen channelMessages.public)
    head -n "$n" "$DIR/sessions" | awk -v last="$last" -v llen="$llen" -v m="$mode" '{
        c = substr($1, 1, 8) "." last ".1." llen
        p = "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor="
        if (m == "latency") print p " " c; else print p c }' >"$DIR/paths"
}

# api_request TEXT: the raw POST /api channelMessage request.
api_request() {
    local body
    body=$(printf '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"%s"}}' "$1")
    printf 'POST /api HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
        "$KEY" "${#body}" "$body" >"$DIR/request"
}

# fanout_start TARGET PUBLISH N MARK: lp_client holds N polls of $DIR/paths
# on TARGET, then sends $DIR/request to PUBLISH, in the background (LP_PID).
fanout_start() {
    "$LP" fanout --target "$1" --paths "$DIR/paths" --n "$3" \
        --publish "$2" --request "$DIR/request" --expect "$4" \
        --settle 3 >"$DIR/out" &
    LP_PID=$!
}

# fanout_report N RSS0 RSS1: waits for lp_client and prints
# "last_ms first_ms rss_per_poll_B" (the run itself goes to stderr).
fanout_report() {
    local n=$1 rss0=$2 rss1=$3 out
    wait "$LP_PID" || true
    out=$(cat "$DIR/out")
    echo "    $out (rss +$(( rss1 - rss0 )) kB)" >&2
    awk -v r0="$rss0" -v r1="$rss1" -v n="$n" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%s %s %d\n", v["last_ms"], v["first_ms"], (r1 - r0) * 1024 / n }' <<<"$out"
    sleep 1
}

# run_poller TARGET N: one fan-out run; prints "last_ms first_ms rss_per_poll_B".
run_poller() {
    local target=$1 n=$2 mark
    mark="fanout-$RANDOM$RANDOM"
    paths "$n"
    api_request "$mark"
    fanout_start "$target" "127.0.0.1:$HTTP" "$n" "$mark"
    stack_wait_for 20 parked_ge "$n" || true
    fanout_report "$n" "$RSS_BASE" "$(rss_kb "$POLLER")"
}

nginx_start() {
    mkdir -p "$DIR/nginx/tmp" "$DIR/nginx/logs"
    cat >"$DIR/nginx/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off; worker_processes 1; worker_rlimit_nofile 20000;
pid $DIR/nginx/nginx.pid; error_log $DIR/nginx/logs/error.log warn;
events { worker_connections 16384; }
http { access_log off;
  client_body_temp_path $DIR/nginx/tmp/body; proxy_temp_path $DIR/nginx/tmp/proxy;
  fastcgi_temp_path $DIR/nginx/tmp/fcgi; uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
  scgi_temp_path $DIR/nginx/tmp/scgi;
  server { listen 127.0.0.1:$NGX backlog=4096;
    location = /sub { nchan_subscriber longpoll; nchan_channel_id \$arg_ch; nchan_subscriber_timeout 55s; }
    location = /pub { nchan_publisher; nchan_channel_id \$arg_ch; } } }
CONF
    nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/logs/error.log" &
    NGINX_PID=$!
    stack_wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$NGX/pub?ch=warmup" -d x
    NCHAN_BASE=$(rss_kb "$(pgrep -P "$NGINX_PID" | head -1)")
}

run_nchan() {
    local n=$1 ch mark worker
    ch="bench$RANDOM$RANDOM"
    mark="fanout-$RANDOM$RANDOM"
    worker=$(pgrep -P "$NGINX_PID" | head -1)
    for _ in $(seq 1 "$n"); do echo "/sub?ch=$ch"; done >"$DIR/paths"
    printf 'POST /pub?ch=%s HTTP/1.1\r\nHost: bench\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s' \
        "$ch" "${#mark}" "$mark" >"$DIR/request"
    fanout_start "127.0.0.1:$NGX" "127.0.0.1:$NGX" "$n" "$mark"
    sleep 2.5
    fanout_report "$n" "$NCHAN_BASE" "$(rss_kb "$worker")"
}

# series NAME FN TARGET Ns...: RUNS runs each; median of last/first/rss.
series() {
    local name=$1 fn=$2 target=$3
    shift 3
    for n in "$@"; do
        echo "  $name N=$n" >&2
        : >"$DIR/series"
        for _ in $(seq 1 "$RUNS"); do
            if [ "$fn" = run_nchan ]; then run_nchan "$n"; else run_poller "$target" "$n"; fi >>"$DIR/series"
        done
        printf '| %s | %s | %s | %s | %s |\n' "$name" "$n" \
            "$(awk '{print $1}' "$DIR/series" | median)" \
            "$(awk '{print $2}' "$DIR/series" | median)" \
            "$(awk '{print $3}' "$DIR/series" | median)" >>"$DIR/table"
    done
}

: >"$DIR/table"
run_poller "unix:$DIR/poller.sock" 100 >/dev/null 2>&1 # warm-up
RSS_BASE=$(rss_kb "$POLLER")
echo "fan-out (median of $RUNS runs):"
# shellcheck disable=SC2086
series "chat-poller direct (unix)" run_poller "unix:$DIR/poller.sock" $DIRECT_N
# shellcheck disable=SC2086
series "lighttpd -> chat-poller" run_poller "127.0.0.1:$HTTP" $PROXY_N
nginx_start
# shellcheck disable=SC2086
series "nginx + nchan (memory)" run_nchan "" $NCHAN_N

echo "latency: $LAT_N held polls in private channels of 2, $LAT_RATE msg/s for $LAT_SECONDS s (RPUSH + PUBLISH)"
"$LP" setup-pairs --http "127.0.0.1:$HTTP" --n "$LAT_N" --user "lat$RANDOM" \
    --out "$DIR/pairs"
awk '{print "HGET rcg:session." $1 " ch"}' "$DIR/pairs" | rcli >"$DIR/pair-channels"
last=$(rcli xrevrange rcg:events + - count 1 | head -1)
paste -d ' ' "$DIR/pairs" "$DIR/pair-channels" | while read -r s k ch; do
    printf '/poll?sessionUUID=%s&accessKey=%s&timeout=55&cursor= %s.%s.1.%s\n' \
        "$s" "$k" "${s:0:8}" "$last" "$(rcli llen "channelMessages.$ch")"
done >"$DIR/paths"
resp() { # RESP of a command with the given arguments
    printf '*%d\r\n' "$#"
    for a in "$@"; do printf '$%d\r\n%s\r\n' "$(printf '%s' "$a" | wc -c)" "$a"; done
}
: >"$DIR/request"
blocks=0
for ch in $(sort -u "$DIR/pair-channels"); do
    msg="{\"UUID\":\"00000000-0000-4000-8000-000000000000\",\"SenderUUID\":\"$UID_\",\"RecipientUUID\":\"\",\"Message\":\"LAT-XXXXXXXXXXXXXXXXXXXX\",\"CreatedAt\":\"2024-01-01T00:00:00Z\"}"
    { resp RPUSH "channelMessages.$ch" "$msg"; resp PUBLISH "$ch" "$msg"; } >>"$DIR/request"
    blocks=$((blocks + 1))
done
LAT=$("$LP" latency --target "unix:$DIR/poller.sock" --paths "$DIR/paths" --n "$LAT_N" \
    --publish "127.0.0.1:$REDIS" --request "$DIR/request" --blocks "$blocks" \
    --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --settle 2)
echo "  $LAT"

echo
echo "| scenario | N | last (ms) | first (ms) | RSS per held poll (B) |"
echo "|---|---:|---:|---:|---:|"
cat "$DIR/table"
echo
echo "latency: $LAT"
echo "poller metrics: shared_reads=$(metric chat_poller_shared_reads_total)" \
    "catchup_reads=$(metric chat_poller_catchup_reads_total)"
