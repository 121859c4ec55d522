#!/usr/bin/env bats
# Redis Sentinel under a running chat: a primary, replicas and three
# sentinels (tests/sentinel.bash), chat.fcgi behind lighttpd and
# chat-poller finding the primary through REDIS_SENTINELS, a live chat of
# 3 users (tests/chat_driver.mjs: long-poll and SSE receivers).
load helpers
load sentinel

setup() {
    export BUILD=${BUILD:-build/release}
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    export TEST_DIR
    export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=100000
    export CHAT_THREADS=4 CHAT_LOG_LEVEL=info CHAT_USERS_CACHE_MS=0
    export CHAT_REDIS_TIMEOUT_MS=1000
    export ASAN_OPTIONS="log_path=$TEST_DIR/asan:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TEST_DIR/ubsan"
    PORTS=" "
    DRIVER_PID=""
}

teardown() {
    local f
    if [ -z "${BATS_TEST_COMPLETED:-}" ]; then # failed: what the programs said
        for f in poller.log lighttpd-stderr.log driver.out; do
            [ -e "$TEST_DIR/$f" ] && { echo "== $f"; tail -n 25 "$TEST_DIR/$f"; }
        done >&2
    fi
    if [ -n "$DRIVER_PID" ]; then
        kill "$DRIVER_PID" 2>/dev/null || true
        wait "$DRIVER_PID" 2>/dev/null || true
    fi
    stack_stop "$TEST_DIR" 0
    sent_all_stop
    stack_teardown
}

# port: a free port not handed out before in this test.
port() {
    local p
    for _ in $(seq 1 50); do
        p=$(stack_free_port)
        [[ "$PORTS" == *" $p "* ]] && continue
        PORTS="$PORTS$p "
        echo "$p"
        return 0
    done
    return 1
}

# topology N: a primary (P), N replicas (R[1..N]) and three sentinels
# (S[0..2]); the programs get the sentinels, a dead address first.
topology() {
    local i dead
    P=$(port)
    sent_redis_start redis-p "$P"
    R=()
    for i in $(seq 1 "$1"); do
        R[i]=$(port)
        sent_redis_start "redis-r$i" "${R[i]}" "$P"
    done
    S=()
    for i in 0 1 2; do
        S[i]=$(port)
        sent_sentinel_start "sentinel-$i" "${S[i]}" "$P"
    done
    stack_wait_for 30 sent_ready "${S[0]}" "$1"
    dead=$(port)
    export REDIS_SENTINELS="127.0.0.1:$dead,127.0.0.1:${S[0]},127.0.0.1:${S[1]},127.0.0.1:${S[2]}"
    export REDIS_SENTINEL_MASTER=$SENT_MASTER REDIS_SENTINEL_PASSWORD=$SENT_PW
    export REDIS_PASSWORD=$SENT_REDIS_PW STACK_REDIS_EXTERNAL=1
}

# chat_up: chat-poller and lighttpd + chat.fcgi on that Redis.
chat_up() {
    HTTP_PORT=$(port)
    BASE=$(stack_url "$TEST_DIR" "$HTTP_PORT" "")
    export HTTP_PORT BASE
    stack_start "$TEST_DIR" "$HTTP_PORT" 0
}

driver_start() {
    DIR=$TEST_DIR BASES=$BASE stack_spawn node "$ROOT/tests/chat_driver.mjs" \
        > "$TEST_DIR/driver.out" 2>&1
    DRIVER_PID=$!
    stack_wait_up "$DRIVER_PID" 30 test -e "$TEST_DIR/driver.ready"
}

acked() { cat "$TEST_DIR/driver.acked" 2>/dev/null || echo 0; }
acked_ge() { [ "$(acked)" -ge "$1" ]; }
primary_is() { [ "$(sent_primary "${S[0]}")" = "$1" ]; }
primary_moved() { ! primary_is "$P"; }
# replica_llen PORT N: the public list on that Redis has N messages.
replica_llen() { [ "$(sent_rcli "$1" llen channelMessages.public)" = "$2" ]; }

# driver_stop: stops sending, waits for the report; prints it.
driver_stop() {
    touch "$TEST_DIR/driver.stop"
    wait "$DRIVER_PID"
    DRIVER_PID=""
    cat "$TEST_DIR/driver.json"
}

report() { jq -r "$1" "$TEST_DIR/driver.json"; }

# poll_answers PREFIX CURSOR: an immediate poll answers 200.
poll_answers() {
    poll "$1" "$2" 0
    [ "$HTTP_STATUS" = 200 ]
}

@test "SENTINEL FAILOVER mid-chat, old primary killed: chat on within 5 s, with CHAT_REDIS_WAIT=1 every acknowledged message reaches every receiver exactly once" {
    # only the requested failover: the old primary's death must not start
    # a second, automatic one while the first is still switching (it
    # would demote the first new primary, and its writes with it)
    SENT_DOWN_AFTER=10000 topology 2
    export CHAT_REDIS_WAIT=1 CHAT_REDIS_WAIT_MS=500
    chat_up
    driver_start
    stack_wait_for 20 acked_ge 20
    # a switchover that leaves no write window on the old primary: its
    # writes are paused first (docs/scaling.md), then it is killed
    sent_rcli "$P" client pause 20000 WRITE
    sent_scli "${S[0]}" sentinel failover "$SENT_MASTER"
    sent_stop redis-p KILL
    before=$(acked)
    stack_wait_for 15 primary_moved
    # the chat goes on: 30 more acknowledged messages
    stack_wait_for 20 acked_ge $((before + 30))
    driver_stop
    [ "$(report '.acked')" -ge 50 ]
    [ "$(report '[.receivers[] | .missing + .duplicates + .resets + .cursorErrors] | add')" = 0 ]
    [ "$(report '[.receivers[] | select(.mode == "sse")] | length')" -ge 1 ]
    [ "$(report '.maxAckGapMs')" -lt 5000 ]
    [ "$(report '.maxDeliveryMs')" -lt 5000 ]
    # both programs followed the switch
    grep -q "primary $SENT_MASTER is at 127.0.0.1:" "$TEST_DIR/poller.log"
    grep -q "switched to 127.0.0.1:.*; reconnecting" "$TEST_DIR/lighttpd-stderr.log"
}

# lose_one: a primary and a replica; B's cursor C1 has passed a message
# ("lost", acknowledged) that the replica never got; the primary is then
# killed and the replica promoted. Sets C0 (before it) and C1.
lose_one() {
    topology 1
    export CHAT_REDIS_WAIT=0
    chat_up
    sign_in A ann
    join A ""
    sign_in B bob
    join B ""
    say A "" "before"
    expect_status 200
    poll B "" 0
    C0=$CURSOR
    stack_wait_for 10 replica_llen "${R[1]}" 1
    # the replica misses the next write: frozen, cut off (what its socket
    # already holds it would still read), then its primary dies
    kill -STOP "$(sent_pid redis-r1)"
    sent_rcli "$P" client kill type replica
    say A "" "lost"
    expect_status 200
    poll B "$C0" 0
    [ "$(messages_of)" = lost ]
    C1=$CURSOR
    sent_stop redis-p KILL
    kill -CONT "$(sent_pid redis-r1)"
    stack_wait_for 30 primary_is "${R[1]}"
    stack_wait_for 10 curl -sf "$BASE/health"
}

@test "without WAIT an acknowledged message can be lost in a failover; a cursor past it answers reset (long-poll and SSE)" {
    lose_one
    # the new primary has no "lost": the cursor that passed it is reset
    # (503 with Retry-After until the poller is on the new primary)
    stack_wait_for 10 poll_answers B "$C1"
    [ "$(jqb .reset)" = true ]
    [ -z "$(messages_of)" ]
    c2=$CURSOR
    sse=$(curl -sN --max-time 3 -H "Last-Event-ID: $C1" \
        "$BASE/events?sessionUUID=$B_SESSION&accessKey=$B_KEY" || true)
    grep -q '^event: reset$' <<<"$sse"
    say A "" "after"
    expect_status 200
    poll B "$c2" 0
    [ "$(messages_of)" = after ]
    join B ""
    [ "$(jqb '.channelJoin.messages | map(.Message) | join("|")')" = "before|after" ]
}

@test "CHAT_REDIS_WAIT: a write no replica confirms in time is 503 code 230 with Retry-After; the retry with its clientId stores it once" {
    topology 1
    export CHAT_REDIS_WAIT=1 CHAT_REDIS_WAIT_MS=300
    chat_up
    sign_in A cid
    join A ""
    say A "" "confirmed"
    expect_status 200
    body='{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"unconfirmed","clientId":"3f2b8c1e-8d2a-4c55-9a51-1f0c2d3e4b5a"}}'
    kill -STOP "$(sent_pid redis-r1)"
    headers=$(curl -s -D - -o "$TEST_DIR/body" -X POST -H "Authorization: Bearer $A_KEY" \
        --data-binary "$body" "$BASE/api")
    kill -CONT "$(sent_pid redis-r1)"
    grep -q '^HTTP/1.1 503' <<<"$headers"
    grep -qi '^Retry-After: [1-9]' <<<"$headers"
    [ "$(jq .error.code "$TEST_DIR/body")" = 230 ]
    api "$body" "$A_KEY"
    expect_status 200
    [ "$(jqb .channelMessage.Message)" = unconfirmed ]
    join A ""
    [ "$(jqb '.channelJoin.messages | map(.Message) | join("|")')" = "confirmed|unconfirmed" ]
    [ "$(sent_rcli "${R[1]}" lrange channelMessages.public 0 -1 | grep -c unconfirmed)" = 1 ]
}

@test "a cursor past a lost message still answers reset after the new primary's list has grown past it (no silent gap)" {
    # the cursor carries a check of the element before its position: the
    # new primary's element there is another one
    lose_one
    say A "" "after"
    expect_status 200
    stack_wait_for 10 poll_answers B "$C1"
    [ "$(jqb .reset)" = true ]
    [ -z "$(messages_of)" ]
    poll B "$CURSOR" 0
    [ "$(jqb '.reset // false')" = false ]
}
