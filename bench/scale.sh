#!/usr/bin/env bash
# scale.sh - what one Redis primary carries: messages/s and deliveries/s
# with 1, 2 and 4 chat-pollers on this machine against one Redis, and the
# Redis CPU per stored and per delivered message (docs/scaling.md).
#   writes: POST /api channelMessage through lighttpd + chat.fcgi (wrk,
#     WRK_CONNS connections, SECONDS_EACH s): messages/s and Redis CPU per
#     stored message (the S_MESSAGE script).
#   pairs: POLLS held long polls (private channels of 2), spread over K
#     pollers, PAIR_RATE messages/s in all written straight to Redis
#     (RPUSH + PUBLISH, chat.fcgi's order): 2 deliveries a message.
#   room: ROOM polls in one channel (General), ROOM_RATE messages/s: ROOM
#     deliveries a message.
#   Each poll re-polls with its cursor (bench/lp_client latency, one per
#   poller). Deliveries are counted by the clients; CPU from Redis' INFO
#   (used_cpu_user + used_cpu_sys) and /proc of each poller.
#   Redis CPU is counted over each round less its idle CPU (measured first
#   with every poll parked) over the same time.
# Env: POLLERS ("1 2 4"), POLLS (1000), PAIR_RATE (2000), ROOM (1000),
#   ROOM_RATE (40), SECONDS_EACH (5), WRK_CONNS (16), BUILD.
#   flock /tmp/chat-heavy.lock bash bench/scale.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"
export BUILD=${BUILD:-build/release}
POLLERS=${POLLERS:-"1 2 4"} POLLS=${POLLS:-1000} PAIR_RATE=${PAIR_RATE:-2000}
ROOM=${ROOM:-1000} ROOM_RATE=${ROOM_RATE:-40} SECONDS_EACH=${SECONDS_EACH:-5}
WRK_CONNS=${WRK_CONNS:-16}
LP="$ROOT/$BUILD/bench/lp_client"
make -s -C "$ROOT" all >/dev/null
[ -x "$LP" ] || make -C "$ROOT" -s "$BUILD/bench/lp_client"
command -v wrk >/dev/null || { echo "wrk missing (CHAT_WITH_BENCH=1 tools/deps.sh)"; exit 1; }

DIR=$(mktemp -d /tmp/chat-scale.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=0
export CHAT_THREADS=4 CHAT_LOG_LEVEL=warn CHAT_MAX_CONNS_PER_IP=1000000
export STACK_REDIS_UNIX=1
TICK=$(getconf CLK_TCK)
cleanup() {
    set +e
    for f in "$DIR"/extra-*.pid; do
        [ -e "$f" ] && stack_stop_pid "$f" TERM chat-poller
    done
    stack_stop "$DIR" "$REDIS" >/dev/null 2>&1
    rm -rf "$DIR"
}
trap cleanup EXIT
rcli() { redis-cli -p "$REDIS" "$@"; }
# seconds of CPU Redis used so far (every thread)
redis_cpu() {
    rcli info cpu | tr -d '\r' |
        awk -F: '$1 == "used_cpu_user" || $1 == "used_cpu_sys" {s += $2} END {printf "%.3f", s}'
}
# seconds of CPU of the processes PID...
proc_cpu() {
    local p t=0
    for p in "$@"; do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
    done
    awk -v t="$t" -v hz="$TICK" 'BEGIN {printf "%.3f", t / hz}'
}
# fields KEY... <<<"k=v k=v ...": the values of KEY..., in that order.
fields() {
    awk -v keys="$*" '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n = split(keys, k, " ")
        for (j = 1; j <= n; j++) printf "%s%s", v[k[j]], (j < n ? " " : "\n") }'
}
us_per() { awk -v s="$1" -v n="$2" 'BEGIN {printf "%.1f", n ? s * 1e6 / n : 0}'; }

echo "starting redis, chat-poller, lighttpd + chat.fcgi in $DIR"
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
SOCKS=("$DIR/poller.sock")
PIDS=("$(cat "$DIR/poller.pid")")
for k in 2 3 4; do
    rm -f "$DIR/poller$k.sock"
    CHAT_POLLER_SOCKET="$DIR/poller$k.sock" stack_spawn "$ROOT/$BUILD/chat-poller" \
        2>>"$DIR/poller$k.log"
    echo $! > "$DIR/extra-$k.pid"
    stack_wait_up "$!" 10 test -S "$DIR/poller$k.sock"
    SOCKS+=("$DIR/poller$k.sock")
    PIDS+=("$(cat "$DIR/extra-$k.pid")")
done

# --- writes through chat.fcgi ---
curl -s -o /dev/null -X POST --data-binary \
    '{"type":"signUp","signUp":{"username":"scale-w","password":"pw"}}' "http://127.0.0.1:$HTTP/api"
KEY=$(curl -s -X POST --data-binary \
    '{"type":"signIn","signIn":{"username":"scale-w","password":"pw"}}' "http://127.0.0.1:$HTTP/api" |
    jq -r .authorized.accessKey)
MSG='{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"a chat message of a typical length, a few words"}}'
n0=$(rcli llen channelMessages.public) c0=$(redis_cpu)
out=$(BODY="$MSG" KEY="$KEY" wrk -t2 -c"$WRK_CONNS" -d"${SECONDS_EACH}s" \
    -s "$ROOT/bench/wrk-post.lua" "http://127.0.0.1:$HTTP/api" 2>&1)
n1=$(rcli llen channelMessages.public) c1=$(redis_cpu)
grep -q '^non-2xx: 0$' <<<"$out" || { echo "writes: errors"; echo "$out"; exit 1; }
W_MSGS=$((n1 - n0))
W_RATE=$(awk -v n="$W_MSGS" -v s="$SECONDS_EACH" 'BEGIN {printf "%.0f", n / s}')
W_US=$(us_per "$(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}')" "$W_MSGS")
echo "writes: $W_MSGS messages in ${SECONDS_EACH}s = $W_RATE msg/s, Redis $W_US us CPU per stored message"

# --- sessions: pairs (private channels of 2) and one room ---
echo "creating $POLLS paired sessions and $ROOM sessions in General"
"$LP" setup-pairs --http "127.0.0.1:$HTTP" --n "$POLLS" --user "scp$RANDOM" --out "$DIR/pairs"
awk '{print "HGET rcg:session." $1 " ch"}' "$DIR/pairs" | rcli >"$DIR/pair-channels"
"$LP" setup --http "127.0.0.1:$HTTP" --n "$ROOM" --user "scr$RANDOM" --out "$DIR/room"
UID_=$(rcli get "rcg:key.$(awk 'NR==1 {print $2}' "$DIR/pairs")" | cut -f1)
MSGJSON='{"UUID":"00000000-0000-4000-8000-000000000000","SenderUUID":"'$UID_'","RecipientUUID":"","Message":"LAT-XXXXXXXXXXXXXXXXXXXX","CreatedAt":"2024-01-01T00:00:00Z"}'

# parts K SCENARIO: writes $DIR/paths-i and $DIR/request-i (blocks) for
# i = 1..K: pairs go by channel (both sessions of a pair in one part),
# room sessions in turn; prints the block count of each part.
parts() {
    local k=$1 what=$2 last i ch
    last=$(rcli xrevrange rcg:events + - count 1 | head -1)
    for i in $(seq 1 "$k"); do : >"$DIR/paths-$i"; : >"$DIR/request-$i"; done
    if [ "$what" = pairs ]; then
        paste -d ' ' "$DIR/pairs" "$DIR/pair-channels" >"$DIR/pp"
        sort -k3 "$DIR/pp" | awk '{print $3}' | uniq >"$DIR/chs"
        i=0
        while read -r ch; do
            i=$((i % k + 1))
            resp RPUSH "channelMessages.$ch" "$MSGJSON" >>"$DIR/request-$i"
            resp PUBLISH "$ch" "$MSGJSON" >>"$DIR/request-$i"
            echo "$ch $i"
        done <"$DIR/chs" >"$DIR/ch-part"
        awk '{print "LLEN channelMessages." $3}' "$DIR/pp" | rcli >"$DIR/pp-llen"
        paste -d ' ' "$DIR/pp" "$DIR/pp-llen" | awk -v last="$last" -v dir="$DIR" '
            NR == FNR {part[$1] = $2; next}
            {print "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor= " \
                substr($1, 1, 8) "." last ".1." $4 > (dir "/paths-" part[$3])}' \
            "$DIR/ch-part" -
        for i in $(seq 1 "$k"); do awk -v i="$i" '$2 == i' "$DIR/ch-part" | wc -l; done
    else
        llen=$(rcli llen channelMessages.public)
        awk -v last="$last" -v llen="$llen" -v k="$k" -v dir="$DIR" '{
            print "/poll?sessionUUID=" $1 "&accessKey=" $2 "&timeout=55&cursor= " \
                substr($1, 1, 8) "." last ".1." llen > (dir "/paths-" ((NR - 1) % k + 1)) }' "$DIR/room"
        for i in $(seq 1 "$k"); do
            { resp RPUSH channelMessages.public "$MSGJSON"; resp PUBLISH public "$MSGJSON"; } >"$DIR/request-$i"
            echo 1
        done
    fi
}

# run K SCENARIO RATE: one round; prints "msgs deliveries redis_s pollers_s p50 p99 undelivered".
run() {
    local k=$1 what=$2 rate=$3 i blocks=() lps=() c0 c1 p0 p1 t0 t1 m=0 d=0 u=0 p50=0 p99=0 n
    mapfile -t blocks < <(parts "$k" "$what")
    c0=$(redis_cpu) p0=$(proc_cpu "${PIDS[@]:0:$k}") t0=$(date +%s.%N)
    for i in $(seq 1 "$k"); do
        n=$(wc -l <"$DIR/paths-$i")
        "$LP" latency --target "unix:${SOCKS[i - 1]}" --paths "$DIR/paths-$i" --n "$n" \
            --publish "127.0.0.1:$REDIS" --request "$DIR/request-$i" --blocks "${blocks[i - 1]}" \
            --rate $((rate / k)) --seconds "$SECONDS_EACH" --settle 2 >"$DIR/lat-$i" &
        lps+=($!)
    done
    for i in "${lps[@]}"; do wait "$i"; done
    c1=$(redis_cpu) p1=$(proc_cpu "${PIDS[@]:0:$k}") t1=$(date +%s.%N)
    # less what Redis spends idle over the same time (cron, pings)
    c1=$(awk -v c="$c1" -v i="$IDLE" -v a="$t0" -v b="$t1" 'BEGIN {print c - i * (b - a)}')
    for i in $(seq 1 "$k"); do
        read -r pub cnt unm und q50 q99 < <(fields published deliveries unmatched undelivered p50_ms p99_ms <"$DIR/lat-$i")
        m=$((m + pub)) d=$((d + cnt + unm)) u=$((u + und))
        p50=$(awk -v a="$p50" -v b="$q50" 'BEGIN {print (b > a ? b : a)}')
        p99=$(awk -v a="$p99" -v b="$q99" 'BEGIN {print (b > a ? b : a)}')
    done
    echo "$m $d $(awk -v a="$c0" -v b="$c1" 'BEGIN {print b - a}') $(awk -v a="$p0" -v b="$p1" 'BEGIN {print b - a}') $p50 $p99 $u"
    sleep 1
}

# Redis' idle CPU per second (nothing sent, every poller connected)
c0=$(redis_cpu)
sleep 3
IDLE=$(awk -v a="$c0" -v b="$(redis_cpu)" 'BEGIN {print (b - a) / 3}')
: >"$DIR/table"
for k in $POLLERS; do
    for what in pairs room; do
        if [ "$what" = pairs ]; then rate=$PAIR_RATE; else rate=$ROOM_RATE; fi
        echo "  $k poller(s), $what, $rate msg/s for ${SECONDS_EACH}s" >&2
        read -r m d rs ps p50 p99 und < <(run "$k" "$what" "$rate")
        # the measured window: settle (2 s) + sending + 2 s for the last
        printf '| %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s |\n' "$k" "$what" "$m" \
            "$(awk -v m="$m" -v s="$SECONDS_EACH" 'BEGIN {print m / s}')" \
            "$(awk -v d="$d" -v s="$SECONDS_EACH" 'BEGIN {print d / s}')" \
            "$(us_per "$rs" "$d")" "$(us_per "$ps" "$d")" "$p50" "$p99" "$und" >>"$DIR/table"
    done
done
echo
echo "bench/scale.sh: one Redis (unix socket), $(nproc) cores; writes through lighttpd + chat.fcgi (wrk -c$WRK_CONNS); Redis idle $(us_per "$IDLE" 1) us CPU/s"
echo "| writes | messages/s | Redis CPU per stored message (us) |"
echo "|---|---:|---:|"
echo "| POST /api channelMessage | $W_RATE | $W_US |"
echo
echo "| pollers | scenario | messages | messages/s | deliveries/s | Redis CPU per delivery (us) | pollers' CPU per delivery (us) | p50 (ms) | p99 (ms) | undelivered |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$DIR/table"
