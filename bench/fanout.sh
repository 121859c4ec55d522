#!/usr/bin/env bash
# fanout.sh - long-poll fan-out and latency of chat-poller, side by side in
# the same run with nginx + Nchan long-poll subscribers (memory store).
#   fan-out: hold N polls (bench/lp_client, one epoll process), publish one
#   message, time until all N have it; poller RSS per held poll.
#     chat-poller direct (unix socket): N = 1000, 5000, 10000
#     chat-poller through lighttpd:     N = 1000, 5000, 9000
#     nginx + nchan:                    N = 1000, 5000
#   latency: 1000 held polls (500 private channels of 2 users) re-polling
#   with their cursor; 1000 msg/s round-robin over the channels, written
#   straight to Redis, RUNS rounds of each case, the cases interleaved:
#     pipelined  RPUSH + PUBLISH in one write (chat.fcgi's order)
#     go         PUBLISH, then RPUSH LAT_GAP_US later (the Go server's
#                order); the poller wakes on the list's keyspace notification
#     go-probe   the same with CONFIG renamed away in Redis, so without
#                notifications (the poller's LPOS probes); the stack is
#                restarted for it on the same data, after the other cases
#   Latency counts from the write that stores the message (the RPUSH) until
#   a poll has it; p50/p99 per round and their medians.
# Targets (docs/poller.md): <= 4 KiB RSS per held poll, fan-out at 5000
# <= 0.8 x Nchan's, latency p50 <= 2 ms and p99 <= 20 ms (also Go order).
# Environment: PHASES (default "fanout latency"; PHASES=latency runs only
# the latency phase), RUNS (default 3: runs per fan-out N and latency
# rounds, medians reported), DIRECT_N, PROXY_N, NCHAN_N (lists; empty
# skips), MAXN, LAT_N, LAT_RATE, LAT_SECONDS (per round), LAT_GAP_US (1000),
# LAT_CASES (default "pipelined go go-probe").
#   flock /tmp/chat-heavy.lock env PHASES=latency LAT_SECONDS=3 bash bench/fanout.sh
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
LAT_GAP_US=${LAT_GAP_US:-1000}
LAT_CASES=${LAT_CASES:-"pipelined go go-probe"}
PHASES=${PHASES:-"fanout latency"}
[ -x "$LP" ] || make -C "$ROOT" -s "$BUILD/bench/lp_client"

DIR=$(mktemp -d /tmp/chat-fanout.XXXXXX)
HTTP=$(stack_free_port)
REDIS=$(stack_free_port)
NGX=$(stack_free_port)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=1000000
export CHAT_THREADS=4 CHAT_LOG_LEVEL=warn
# every client of the benchmark is 127.0.0.1: lift the per-address limit
export CHAT_MAX_CONNS_PER_IP=1000000
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

# fields KEY... <<<"k=v k=v ...": the values of KEY..., in that order.
fields() {
    awk -v keys="$*" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n = split(keys, k, " ")
        for (j = 1; j <= n; j++) printf "%s%s", v[k[j]], (j < n ? " " : "\n") }'
}
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }

echo "starting redis, chat-poller, lighttpd + chat.fcgi in $DIR"
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null

# paths N: one poll path per session, with the cursor that follows
# everything stored now ("<tag>.<last event>.<join count>.<list length>",
# the documented cursor layout; a real client gets it from its first poll).
paths() {
    local n=$1 last llen
    last=$(rcli xrevrange rcg:events + - count 1 | head -1)
    llen=$(rcli llen channelMessages.public)
    head -n "$n" "$DIR/sessions" | awk -v last="$last" -v llen="$llen" '{
        print "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor=" \
            substr($1, 1, 8) "." last ".1." llen }' >"$DIR/paths"
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
    echo "$(fields last_ms first_ms <<<"$out") $(( (rss1 - rss0) * 1024 / n ))"
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

fanout_phase() {
    POLLER=$(cat "$DIR/poller.pid")
    MAXN=${MAXN:-10000}
    echo "creating $MAXN sessions (ready + channelJoin public through /api)"
    "$LP" setup --http "127.0.0.1:$HTTP" --n "$MAXN" --user "bench-$RANDOM" \
        --out "$DIR/sessions"
    KEY=$(awk 'NR==1 {print $2}' "$DIR/sessions")
    # RSS per held poll is (RSS while N are held - RSS_BASE) / N, on runs of
    # growing N, RSS_BASE taken after one warm-up fan-out to 100 polls: the
    # one-time growth of the first polls is not a cost per poll. The heap
    # keeps part of its peak (PLATFORM E5), so earlier runs still count
    # against later ones; the proxy series (after 10000 direct) is not
    # meaningful there.
    : >"$DIR/table"
    RSS_BASE=$(rss_kb "$POLLER")
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
}

# lat_setup: LAT_N users in pairs, one session each in the private channel
# with its partner ($DIR/pairs, $DIR/pair-channels), and one request file
# per write order, one block per channel ($DIR/request-ORDER).
lat_setup() {
    local ch msg uid
    "$LP" setup-pairs --http "127.0.0.1:$HTTP" --n "$LAT_N" --user "lat$RANDOM" \
        --out "$DIR/pairs"
    awk '{print "HGET rcg:session." $1 " ch"}' "$DIR/pairs" | rcli >"$DIR/pair-channels"
    uid=$(rcli get "rcg:key.$(awk 'NR==1 {print $2}' "$DIR/pairs")" | cut -f1)
    : >"$DIR/request-pipelined"
    : >"$DIR/request-go"
    LAT_BLOCKS=0
    for ch in $(sort -u "$DIR/pair-channels"); do
        msg="{\"UUID\":\"00000000-0000-4000-8000-000000000000\",\"SenderUUID\":\"$uid\",\"RecipientUUID\":\"\",\"Message\":\"LAT-XXXXXXXXXXXXXXXXXXXX\",\"CreatedAt\":\"2024-01-01T00:00:00Z\"}"
        { resp RPUSH "channelMessages.$ch" "$msg"; resp PUBLISH "$ch" "$msg"; } >>"$DIR/request-pipelined"
        { resp PUBLISH "$ch" "$msg"; resp RPUSH "channelMessages.$ch" "$msg"; } >>"$DIR/request-go"
        LAT_BLOCKS=$((LAT_BLOCKS + 1))
    done
}

# lat_paths: the poll paths of the pairs, each with the cursor that
# follows everything stored now (as paths above).
lat_paths() {
    local last
    last=$(rcli xrevrange rcg:events + - count 1 | head -1)
    awk '{print "LLEN channelMessages." $1}' "$DIR/pair-channels" | rcli >"$DIR/pair-llen"
    paste -d ' ' "$DIR/pairs" "$DIR/pair-llen" | awk -v last="$last" '{
        print "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor= " \
            substr($1, 1, 8) "." last ".1." $3 }' >"$DIR/paths"
}

# reads: the poller's shared and catch-up reads so far.
reads() {
    echo "$(metric chat_poller_shared_reads_total) $(metric chat_poller_catchup_reads_total)"
}

# lat_run CASE: one latency round; appends "CASE p50 p99 undelivered".
lat_run() {
    local case=$1 order=pipelined gap=0 out r0 r1
    if [ "$case" != pipelined ]; then order=go gap=$LAT_GAP_US; fi
    lat_paths
    read -r -a r0 <<<"$(reads)"
    out=$("$LP" latency --target "unix:$DIR/poller.sock" --paths "$DIR/paths" \
        --n "$LAT_N" --publish "127.0.0.1:$REDIS" --request "$DIR/request-$order" \
        --blocks "$LAT_BLOCKS" --gap-us "$gap" --rate "$LAT_RATE" \
        --seconds "$LAT_SECONDS" --settle 2)
    read -r -a r1 <<<"$(reads)"
    echo "    $case: $out shared_reads=+$((r1[0] - r0[0])) catchup_reads=+$((r1[1] - r0[1]))"
    echo "$case $(fields p50_ms p99_ms undelivered <<<"$out")" >>"$DIR/lat"
    sleep 1
}

# lat_rounds CASE...: RUNS rounds, each one run of every CASE.
lat_rounds() {
    local c
    [ $# -gt 0 ] || return 0
    echo "  keyspace notifications: $(metric chat_poller_keyspace_notifications)"
    for _ in $(seq 1 "$RUNS"); do
        for c in "$@"; do lat_run "$c"; done
    done
    echo "  poller: keyspace_wakes=$(metric chat_poller_keyspace_wakes_total)" \
        "probes=$(metric chat_poller_probes_total)" \
        "probes_dropped=$(metric chat_poller_probes_dropped_total)"
}

lat_label() {
    case $1 in
    pipelined) echo "pipelined (RPUSH + PUBLISH, one write)" ;;
    go) echo "Go order (PUBLISH, RPUSH ${LAT_GAP_US} us later), notifications" ;;
    go-probe) echo "Go order, no CONFIG (LPOS probes)" ;;
    esac
}

latency_phase() {
    local c main=() probe=()
    for c in $LAT_CASES; do
        case $c in
        pipelined | go) main+=("$c") ;;
        go-probe) probe+=("$c") ;;
        *) echo "unknown latency case $c" >&2; return 1 ;;
        esac
    done
    echo "latency: $LAT_N held polls in private channels of 2, $LAT_RATE msg/s for $LAT_SECONDS s, $RUNS rounds"
    lat_setup
    : >"$DIR/lat"
    lat_rounds "${main[@]}"
    if [ ${#probe[@]} -gt 0 ]; then
        echo "  restarting the stack on the same data, Redis without CONFIG"
        echo 'rename-command CONFIG ""' >"$DIR/redis-noconfig.conf"
        stack_stop "$DIR" "$REDIS" >/dev/null
        STACK_REDIS_CONF="$DIR/redis-noconfig.conf" stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
        lat_rounds "${probe[@]}"
    fi
}

# lat_table: per case the medians over the rounds, then every round.
lat_table() {
    local c
    echo "| latency, $LAT_RATE msg/s, $LAT_N polls | p50 (ms) | p99 (ms) | rounds p50 | rounds p99 | undelivered |"
    echo "|---|---:|---:|---|---|---:|"
    for c in $LAT_CASES; do
        awk -v c="$c" '$1 == c' "$DIR/lat" >"$DIR/lat-case"
        [ -s "$DIR/lat-case" ] || continue
        printf '| %s | %s | %s | %s | %s | %s |\n' "$(lat_label "$c")" \
            "$(awk '{print $2}' "$DIR/lat-case" | median)" \
            "$(awk '{print $3}' "$DIR/lat-case" | median)" \
            "$(awk '{print $2}' "$DIR/lat-case" | paste -sd ' ')" \
            "$(awk '{print $3}' "$DIR/lat-case" | paste -sd ' ')" \
            "$(awk '{s += $4} END {print s}' "$DIR/lat-case")"
    done
}

if has_phase fanout; then fanout_phase; fi
if has_phase latency; then latency_phase; fi

echo
if has_phase fanout; then
    echo "| scenario | N | last (ms) | first (ms) | RSS per held poll (B) |"
    echo "|---|---:|---:|---:|---:|"
    cat "$DIR/table"
    echo
fi
if has_phase latency; then
    lat_table
    echo
fi
echo "poller metrics: shared_reads=$(metric chat_poller_shared_reads_total)" \
    "catchup_reads=$(metric chat_poller_catchup_reads_total)"
