# go_order.bash - the Go server's write order (PUBLISH, then RPUSH after a
# gap) seen by a parked long poll through lighttpd (chat-poller), by an SSE
# stream and by chat.fcgi's own /poll. Loaded by go_order.bats (keyspace
# notifications available) and go_order_noconfig.bats (CONFIG renamed away:
# the poller and chat.fcgi fall back to re-reading).

go_setup_file() {
    stack_setup
    FCGI_SOCK="$TEST_DIR/fcgi-poll.sock"
    REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_THREADS=8 CHAT_FCGI_POLL=1 \
        stack_spawn spawn-fcgi -n -s "$FCGI_SOCK" -- "$ROOT/$BUILD/chat.fcgi" \
        2>>"$TEST_DIR/fcgi-poll.log"
    echo $! >"$TEST_DIR/fcgi-poll.pid"
    stack_wait_for 10 test -S "$FCGI_SOCK"
    export FCGI_SOCK
}

go_teardown_file() {
    local pid
    pid=$(cat "$TEST_DIR/fcgi-poll.pid" 2>/dev/null) && kill -TERM "$pid" 2>/dev/null
    [ -n "${pid:-}" ] && stack_wait_for 10 stack_gone "$pid"
    stack_teardown
}

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# go_msg SENDER TEXT: a message in the Go server's shape (compact, "\n").
go_msg() {
    printf '{"UUID":"%s","SenderUUID":"%s","RecipientUUID":"","Message":"%s","CreatedAt":"2024-01-01T00:00:00Z"}\n' \
        "$(cat /proc/sys/kernel/random/uuid)" "$1" "$2"
}

# go_write MSG GAP: PUBLISH, sleep GAP, RPUSH, as two commands (the Go
# order); prints the time of the RPUSH in ms.
go_write() {
    rcli publish public "$1" >/dev/null
    sleep "$2"
    rcli rpush channelMessages.public "$1" >/dev/null
    now_ms
}

# A receiver loop in the background: polls with its cursor until killed and
# appends "<ms> <Message>" per message to FILE.
#   receive_lighttpd PREFIX FILE | receive_fcgi PREFIX FILE | receive_sse PREFIX FILE
receive_polls() { # PREFIX FILE FETCH: FETCH SESSION KEY CURSOR prints one answer
    local s k cur body fetch=$3
    s=$(eval echo "\$${1}_SESSION") k=$(eval echo "\$${1}_KEY")
    cur=$(curl -s -H "Authorization: Bearer $k" \
        "$BASE/poll?sessionUUID=$s&timeout=0" | jq -r .cursor)
    : >"$2"
    while :; do
        body=$("$fetch" "$s" "$k" "$cur") || continue
        record "$2" <<<"$body"
        cur=$(jq -r '.cursor // empty' <<<"$body")
        [ -n "$cur" ] || return 1
    done
}

fetch_lighttpd() {
    curl -s --max-time 30 -H "Authorization: Bearer $2" \
        "$BASE/poll?sessionUUID=$1&cursor=$3&timeout=10"
}

fetch_fcgi() {
    env -i REQUEST_METHOD=GET REQUEST_URI=/poll \
        QUERY_STRING="sessionUUID=$1&accessKey=$2&cursor=$3&timeout=10" \
        cgi-fcgi -bind -connect "$FCGI_SOCK" </dev/null | sed -n '/^{/,$p'
}

receive_lighttpd() { receive_polls "$1" "$2" fetch_lighttpd; }
receive_fcgi() { receive_polls "$1" "$2" fetch_fcgi; }

# record FILE: the channelMessage texts of one poll answer on stdin.
record() {
    local t
    t=$(now_ms)
    jq -r '.messages[]? | select(.type=="channelMessage") | .channelMessage.Message' |
        while IFS= read -r m; do echo "$t $m"; done >>"$1"
}

receive_sse() {
    local s k cur
    s=$(eval echo "\$${1}_SESSION") k=$(eval echo "\$${1}_KEY")
    cur=$(curl -s -H "Authorization: Bearer $k" \
        "$BASE/poll?sessionUUID=$s&timeout=0" | jq -r .cursor)
    : >"$2"
    curl -sN --max-time 300 -H "Authorization: Bearer $k" \
        "$BASE/events?sessionUUID=$s&cursor=$cur" |
        while IFS= read -r line; do
            case $line in
            data:*'"type":"channelMessage"'*)
                echo "$(now_ms) $(jq -r .channelMessage.Message <<<"${line#data: }")" >>"$2" ;;
            esac
        done
}

# arrived_within FILE TEXT SINCE_MS LIMIT_MS: TEXT is in FILE (waits for
# it) and arrived at most LIMIT_MS after SINCE_MS.
arrived_within() {
    local file=$1 text=$2 since=$3 limit=$4 t
    stack_wait_for $(( limit / 1000 + 2 )) grep -q " $text\$" "$file" || {
        echo "$text never arrived in $file" >&2; return 1; }
    t=$(awk -v m="$text" '$2 == m {print $1; exit}' "$file")
    if [ $(( t - since )) -gt "$limit" ]; then
        echo "$text arrived $(( t - since )) ms after its RPUSH in $file" >&2
        return 1
    fi
}

# once_in_order FILE TEXT...: each TEXT exactly once, in this order.
once_in_order() {
    local file=$1 got want
    shift
    got=$(awk '{print $2}' "$file" | grep -E "^($(IFS='|'; echo "$*"))\$" | tr '\n' ' ')
    want="$* "
    if [ "$got" != "$want" ]; then
        echo "in $file: got [$got], want [$want]" >&2
        return 1
    fi
}

start_receivers() { # PREFIX
    receive_lighttpd "$1" "$TEST_DIR/rx-lp" &
    RX_LP=$!
    receive_sse "$1" "$TEST_DIR/rx-sse" &
    RX_SSE=$!
    receive_fcgi "$1" "$TEST_DIR/rx-fcgi" &
    RX_FCGI=$!
    sleep 1 # parked and subscribed
}

stop_receivers() {
    local p
    for p in $RX_LP $RX_SSE $RX_FCGI; do
        pkill -P "$p" 2>/dev/null || true
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}

# arrived_everywhere TEXT SINCE_MS: at all three receivers within 2 s.
arrived_everywhere() {
    local f
    for f in rx-lp rx-sse rx-fcgi; do
        arrived_within "$TEST_DIR/$f" "$1" "$2" 2000 || return 1
    done
}

# finish_receivers TEXT...: waits for duplicates, stops the receivers, and
# checks that each got exactly these texts, in order.
finish_receivers() {
    local f
    sleep 0.3 # a duplicate would come now
    stop_receivers
    for f in rx-lp rx-sse rx-fcgi; do
        once_in_order "$TEST_DIR/$f" "$@" || return 1
    done
}

# Each gap of the Go server's order reaches all three receivers within the
# test's bound (2 s; the 50 ms figure is bench/fanout.sh's), exactly once.
go_each_gap() {
    local tag=$1 gap texts=() t i=0
    sign_in R "$tag-$RANDOM"
    join R ""
    start_receivers R
    for gap in 0.005 0.03 0.12 0.2; do
        i=$((i + 1))
        texts+=("$tag-gap-$i")
        t=$(go_write "$(go_msg "$R_UUID" "$tag-gap-$i")" "$gap")
        arrived_everywhere "$tag-gap-$i" "$t" || { stop_receivers; return 1; }
    done
    finish_receivers "${texts[@]}"
}

# 20 Go-order messages interleaved with 20 sent through /api: half of the
# /api messages land between a PUBLISH and its RPUSH, the other half just
# before the PUBLISH. Each round ends with the Go message, so a wake missed
# on its RPUSH is not covered by a later message.
go_interleaved() {
    local tag=$1 texts=() gaps=(0 0.005 0.03 0.12 0.2) t i f msg
    sign_in I "$tag-$RANDOM"
    join I ""
    start_receivers I
    for i in $(seq 1 20); do
        msg=$(go_msg "$I_UUID" "$tag-go-$i")
        [ $((i % 2)) = 0 ] && say I "" "$tag-api-$i"
        rcli publish public "$msg" >/dev/null
        [ $((i % 2)) = 1 ] && say I "" "$tag-api-$i"
        expect_status 200 || { stop_receivers; return 1; }
        sleep "${gaps[i % 5]}"
        rcli rpush channelMessages.public "$msg" >/dev/null
        t=$(now_ms)
        texts+=("$tag-api-$i" "$tag-go-$i")
        arrived_everywhere "$tag-go-$i" "$t" || { stop_receivers; return 1; }
    done
    finish_receivers "${texts[@]}"
}
