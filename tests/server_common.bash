# server_common.bash - the checks tests/server_apache.bats and
# tests/server_nginx.bats run through another front server than lighttpd
# (started from deploy/ by tools/stack.sh): the contract with the key in
# the Authorization header, bad input answered as JSON, a long poll that
# wakes, an SSE stream that delivers live, /metrics on loopback, and one
# poll held for 45 s. Load after helpers.

# server_setup SERVER: the private stack behind SERVER, three signed-in
# users (every signIn is a sys event reaching every session, so all of them
# happen here, before the slow poll parks), and the slow poll: one
# timeout=45 poll started now and checked by the suite's last test, so the
# suite waits for it once, beside the other tests.
server_setup() {
    export STACK_SERVER=$1
    stack_setup
    sign_in A "${1}-a-$RANDOM"
    printf '%s' "$BODY" > "$TEST_DIR/signin-a.json"
    sign_in B "${1}-b-$RANDOM"
    sign_in S "${1}-slow-$RANDOM"
    export A_SESSION A_KEY A_UUID B_SESSION B_KEY B_UUID
    # S follows no channel: no test's channel events reach it
    poll S "" 0
    expect_status 200
    [ -n "$CURSOR" ]
    (
        curl -s -o "$TEST_DIR/slow.body" --max-time 60 \
            -w '%{http_code} %{time_total} %{content_type}\n' \
            -H "Authorization: Bearer $S_KEY" \
            "$BASE/poll?sessionUUID=$S_SESSION&cursor=$CURSOR&timeout=45" \
            > "$TEST_DIR/slow.meta.tmp"
        mv "$TEST_DIR/slow.meta.tmp" "$TEST_DIR/slow.meta"
    ) </dev/null >/dev/null 2>&1 3>&- &
}

# expect_json: the last answer (of http_ct) was sent as JSON.
expect_json() {
    [[ "$CONTENT_TYPE" == application/json* ]] ||
        { echo "not JSON: $CONTENT_TYPE: $BODY" >&2; return 1; }
    jq -e . >/dev/null <<<"$BODY"
}

# http_ct METHOD PATH [curl args]: as http, also sets CONTENT_TYPE.
http_ct() {
    local method=$1 path=$2 f
    shift 2
    f=$(mktemp "$TEST_DIR/body.XXXXXX")
    # shellcheck disable=SC2034 # HTTP_STATUS: read by expect_status
    read -r HTTP_STATUS CONTENT_TYPE < <(curl -s -o "$f" \
        -w '%{http_code} %{content_type}\n' -X "$method" "$@" "$BASE$path")
    BODY=$(cat "$f")
    rm -f "$f"
}

check_contract() {
    # signIn (in server_setup) through the front server
    BODY=$(cat "$TEST_DIR/signin-a.json")
    [ "$(jqb .type)" = authorized ]
    [[ "$A_KEY" =~ ^[0-9a-f-]{36}$ ]]
    [ "$(jqb .authorized.userUUID)" = "$A_UUID" ]
    # ready
    http_ct POST /api --data-binary '{"type":"ready"}'
    expect_status 200
    expect_json
    [[ "$(jqb .ready.sessionUUID)" =~ ^[0-9a-f-]{36}$ ]]
    # channelJoin and channelMessage with the key only in Authorization:
    # the server hands the header on
    join A ""
    expect_status 200
    [ "$(jqb .type)" = channelJoin ]
    say A "" "hello through $STACK_SERVER"
    expect_status 200
    [ "$(jqb .type)" = channelMessage ]
    [ "$(jqb .channelMessage.Message)" = "hello through $STACK_SERVER" ]
    [ "$(jqb .channelMessage.SenderUUID)" = "$A_UUID" ]
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    # the same request without the header is 401 code 208
    api '{"type":"users"}'
    expect_error 401 208
    # /health answers through chat.fcgi
    http_ct GET /health
    expect_status 200
    expect_json
    [ "$(jqb .status)" = ok ]
}

check_bad_input() {
    local big="$TEST_DIR/big.json"
    head -c 70000 /dev/zero | tr '\0' ' ' > "$big"
    http_ct POST /api -H "Authorization: Bearer $A_KEY" --data-binary "@$big"
    expect_error 413 217
    expect_json
    http_ct POST /api --data-binary '{"type":"ready"'
    expect_error 400 1
    expect_json
    http_ct GET /api
    expect_error 405 215
    expect_json
    http_ct GET "/poll?sessionUUID=$A_SESSION&timeout=99" -H "Authorization: Bearer $A_KEY"
    expect_error 400 206
    expect_json
    http_ct GET "/events?sessionUUID=$A_SESSION&accessKey=wrong"
    expect_error 401 209
    expect_json
}

check_long_poll() {
    local start end
    join B ""
    poll B "" 0
    expect_status 200
    c0=$CURSOR
    ( sleep 0.5; say A "" "wake-$STACK_SERVER-$$" ) 3>&- &
    start=$(date +%s%N)
    poll B "$c0" 20
    end=$(date +%s%N)
    wait
    expect_status 200
    messages_of | grep -qx "wake-$STACK_SERVER-$$"
    [ $(( (end - start) / 1000000 )) -lt 5000 ]
    [ "$CURSOR" != "$c0" ]
}

check_sse_live() {
    local out="$TEST_DIR/sse" bg ok=0
    join B ""
    curl -sN --max-time 10 -H "Authorization: Bearer $B_KEY" \
        "$BASE/events?sessionUUID=$B_SESSION" > "$out" 3>&- &
    bg=$!
    # the stream's start (retry hint, catch-up) arrives before any message
    stack_wait_for 5 grep -q '^retry: ' "$out"
    say A "" "live-$STACK_SERVER-$$"
    expect_status 200
    # ...and the message while the stream is still open: not buffered
    for _ in $(seq 1 60); do
        grep '^data: ' "$out" | grep -q "\"Message\":\"live-$STACK_SERVER-$$\"" && { ok=1; break; }
        sleep 0.05
    done
    kill -0 "$bg"
    kill "$bg" 2>/dev/null
    wait "$bg" 2>/dev/null || true
    [ "$ok" = 1 ]
}

check_metrics_loopback() {
    http_ct GET /metrics
    expect_status 200
    [[ "$CONTENT_TYPE" == text/plain* ]]
    grep -q '^chat_poller_redis_up 1' <<<"$BODY"
}

# check_slow_poll: the poll server_setup started answered after its 45 s
# (the front server's read timeout is longer) with 200 JSON, no page.
check_slow_poll() {
    local code t ct
    stack_wait_for 60 test -e "$TEST_DIR/slow.meta"
    read -r code t ct < "$TEST_DIR/slow.meta"
    BODY=$(cat "$TEST_DIR/slow.body")
    echo "slow poll: $code after $t s, $ct: $BODY" >&2
    [ "$code" = 200 ]
    [[ "$ct" == application/json* ]]
    [ "$(jqb '.messages | length')" = 0 ]
    [ -n "$(jqb .cursor)" ]
    [ "${t%%.*}" -ge 44 ] && [ "${t%%.*}" -lt 55 ]
}

# raw REQUEST: sends REQUEST (printf %b escapes) as it stands on a new
# connection to the front server and reads the answer until it closes (at
# most RAW_TIMEOUT, 10 s); sets HTTP_STATUS, HEADERS and BODY. For what curl will not
# send: a malformed request line, an unknown method.
raw() {
    local out="$TEST_DIR/raw.out" fd
    # a new fd, never bats' own 3
    exec {fd}<>"/dev/tcp/127.0.0.1/$HTTP_PORT"
    printf '%b' "$1" >&"$fd"
    timeout "${RAW_TIMEOUT:-10}" cat <&"$fd" >"$out" || true
    exec {fd}<&-
    HTTP_STATUS=$(head -1 "$out" | cut -d' ' -f2)
    HEADERS=$(sed '/^\r$/q' "$out")
    BODY=$(sed '1,/^\r$/d' "$out")
}

# expect_json_error STATUS CODE: the last answer (raw or http_ct) is the
# contract's JSON error, sent as JSON, no HTML page.
expect_json_error() {
    local ct=${CONTENT_TYPE:-}
    [ -n "${HEADERS:-}" ] && ct=$(grep -i '^Content-Type:' <<<"$HEADERS" | tr -d '\r' | cut -d' ' -f2-)
    expect_status "$1" || return 1
    [[ "$ct" == application/json* ]] ||
        { echo "status $1 sent as '$ct': $BODY" >&2; return 1; }
    ! grep -qi '<html' <<<"$BODY" || { echo "an HTML page: $BODY" >&2; return 1; }
    [ "$(jqb .type)" = error ] && [ "$(jqb .error.code)" = "$2" ] ||
        { echo "want code $2: $BODY" >&2; return 1; }
}

# check_front_errors: the front server's own refusals are JSON: a
# malformed request line (400), a header over its limit (400 or 431) and a
# path it does not serve (404).
check_front_errors() {
    local big
    HEADERS=""
    raw 'GET / HTTP/1.1 junk\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
    expect_json_error 400 225
    big=$(head -c 20000 /dev/zero | tr '\0' a)
    raw "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: $big\r\nConnection: close\r\n\r\n"
    case $HTTP_STATUS in
    400 | 431) expect_json_error "$HTTP_STATUS" 225 ;;
    *) echo "oversized header: $HTTP_STATUS $BODY" >&2; return 1 ;;
    esac
    raw 'GET /no-such-file HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
    expect_json_error 404 214
}

# check_poller_edges: what the poller's HTTP library (libevent 2.1) would
# answer with an HTML page of its own reaches the client as JSON through
# the front server: a head the front passes but over the poller's 8 KiB
# (431, the poller's), a body on /poll (405, the poller's), a body over the
# 64 KiB the poller reads (413, the front's) and a method libevent does not
# know (501, the front's).
check_poller_edges() {
    local pad
    HEADERS=""
    pad=$(head -c 8150 /dev/zero | tr '\0' a)
    http_ct GET "/poll?sessionUUID=$A_SESSION" -H "Authorization: Bearer $A_KEY" -H "X-Pad: $pad"
    expect_json_error 431 225
    http_ct POST "/poll?sessionUUID=$A_SESSION" -H "Authorization: Bearer $A_KEY" --data-binary 'hello'
    expect_json_error 405 215
    http_ct PATCH "/events?sessionUUID=$A_SESSION" -H "Authorization: Bearer $A_KEY"
    expect_json_error 405 215
    head -c 100000 /dev/zero | tr '\0' a >"$TEST_DIR/body100k"
    http_ct POST /events --data-binary "@$TEST_DIR/body100k"
    expect_json_error 413 217
    raw 'BREW /poll HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'
    expect_json_error 501 225
    # and the poller serves on
    HEADERS=""
    http_ct GET "/poll?sessionUUID=$A_SESSION&timeout=0" -H "Authorization: Bearer $A_KEY"
    expect_status 200
}

# check_poller_down: a poll held when chat-poller is killed (by its pid),
# and /poll and /events while it is down, answer a JSON 502 or 503 with
# Retry-After; they work again once it is restarted. (The suite's last
# test: it stops the poller.)
check_poller_down() {
    local path held
    HEADERS=""
    # a poll held when the poller dies is answered too, as JSON
    poll A "" 0
    curl -s -D "$TEST_DIR/held.head" -o "$TEST_DIR/held.body" --max-time 20 \
        -H "Authorization: Bearer $A_KEY" \
        "$BASE/poll?sessionUUID=$A_SESSION&cursor=$CURSOR&timeout=15" 3>&- &
    held=$!
    sleep 0.5
    kill -9 "$(cat "$TEST_DIR/poller.pid")"
    wait "$held" || true
    HTTP_STATUS=$(head -1 "$TEST_DIR/held.head" | cut -d' ' -f2)
    HEADERS=$(cat "$TEST_DIR/held.head")
    BODY=$(cat "$TEST_DIR/held.body")
    case $HTTP_STATUS in
    502 | 503) expect_json_error "$HTTP_STATUS" 224 ;;
    *) echo "a held poll when the poller died: $HTTP_STATUS $BODY" >&2; return 1 ;;
    esac
    grep -qi '^Retry-After: [1-9]' <<<"$HEADERS"
    for path in "/poll?sessionUUID=$A_SESSION&timeout=1" "/events?sessionUUID=$A_SESSION"; do
        raw "GET $path HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer $A_KEY\r\nConnection: close\r\n\r\n"
        case $HTTP_STATUS in
        502 | 503) expect_json_error "$HTTP_STATUS" 224 ;;
        *) echo "$path with the poller down: $HTTP_STATUS $BODY" >&2; return 1 ;;
        esac
        grep -qi '^Retry-After: [1-9]' <<<"$HEADERS"
    done
    stack_poller_start "$TEST_DIR"
    HEADERS=""
    stack_wait_for 10 bash -c "curl -sf -H 'Authorization: Bearer $A_KEY' '$BASE/poll?sessionUUID=$A_SESSION&timeout=0'"
}
