#!/usr/bin/env bats
# Long-poll and Server-Sent Events through lighttpd -> chat-poller: wake,
# timeout, cursor replay without loss or duplicates, errors, hang-up,
# restarts of the poller and of Redis, SIGTERM drain.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# poll PREFIX [CURSOR] [TIMEOUT]: GET /poll for that user's session; sets
# HTTP_STATUS, BODY and CURSOR (the answer's cursor).
poll() {
    local p=$1 cur=${2:-} t=${3:-0} s k
    s=$(eval echo "\$${p}_SESSION")
    k=$(eval echo "\$${p}_KEY")
    http GET "/poll?sessionUUID=$s&cursor=$cur&timeout=$t" \
        -H "Authorization: Bearer $k" --max-time 70
    CURSOR=$(jqb '.cursor // empty')
}

# messages_of: the Message texts of the last poll answer, one per line.
messages_of() {
    jqb '.messages[] | select(.type=="channelMessage") | .channelMessage.Message'
}

metric() {
    curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

@test "poll without objects due answers empty after the timeout" {
    sign_in A "pa-$RANDOM"
    join A ""
    poll A "" 0
    expect_status 200
    c0=$CURSOR
    start=$(date +%s%N)
    poll A "$c0" 1
    end=$(date +%s%N)
    expect_status 200
    [ "$(jqb '.messages | length')" = 0 ]
    [ "$CURSOR" = "$c0" ]
    ms=$(( (end - start) / 1000000 ))
    [ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]
}

@test "a parked poll wakes on a new message" {
    sign_in B "pb-$RANDOM"
    join B ""
    poll B "" 0
    c0=$CURSOR
    ( sleep 0.5; say B "" "wake-up-$$" ) &
    start=$(date +%s%N)
    poll B "$c0" 20
    end=$(date +%s%N)
    wait
    expect_status 200
    messages_of | grep -qx "wake-up-$$"
    [ $(( (end - start) / 1000000 )) -lt 5000 ]
    [ "$CURSOR" != "$c0" ]
}

@test "50 messages sent with no poll held arrive exactly once, in order" {
    sign_in C "pc-$RANDOM"
    join C ""
    poll C "" 0
    cur=$CURSOR
    for i in $(seq 1 50); do say C "" "m50-$i"; done
    got=()
    for _ in $(seq 1 10); do
        poll C "$cur" 0
        expect_status 200
        cur=$CURSOR
        mapfile -t batch < <(messages_of | grep '^m50-' || true)
        got+=("${batch[@]}")
        [ "${#got[@]}" -ge 50 ] && break
    done
    [ "${#got[@]}" = 50 ]
    for i in $(seq 1 50); do [ "${got[$((i - 1))]}" = "m50-$i" ]; done
    poll C "$cur" 0
    [ "$(messages_of | grep -c '^m50-' || true)" = 0 ]
}

@test "the same cursor polled twice gives the same objects" {
    sign_in D "pd-$RANDOM"
    join D ""
    poll D "" 0
    c0=$CURSOR
    say D "" "twice-1"
    say D "" "twice-2"
    poll D "$c0" 0
    first=$(messages_of | grep '^twice-' | tr '\n' ' '); c1=$CURSOR
    poll D "$c0" 0
    second=$(messages_of | grep '^twice-' | tr '\n' ' ')
    [ "$first" = "twice-1 twice-2 " ]
    [ "$first" = "$second" ]
    [ "$CURSOR" = "$c1" ]
}

@test "poll errors: 400 bad input, 401 key, 403 other user, 404 session" {
    sign_in E "pe-$RANDOM"
    sign_in F "pf-$RANDOM"
    http GET "/poll?sessionUUID=nope" -H "Authorization: Bearer $E_KEY"
    expect_status 400
    http GET "/poll?sessionUUID=$E_SESSION&timeout=56" -H "Authorization: Bearer $E_KEY"
    expect_status 400
    http GET "/poll?sessionUUID=$E_SESSION&timeout=-1" -H "Authorization: Bearer $E_KEY"
    expect_status 400
    http GET "/poll?sessionUUID=$E_SESSION&cursor=garbage" -H "Authorization: Bearer $E_KEY"
    expect_status 400
    http GET "/poll?sessionUUID=$E_SESSION&cursor=${F_SESSION:0:8}.0-0.0.0" -H "Authorization: Bearer $E_KEY"
    expect_status 400
    http GET "/poll?sessionUUID=$E_SESSION"
    expect_status 401
    http GET "/poll?sessionUUID=$E_SESSION&timeout=0" -H "Authorization: Bearer bogus"
    expect_status 401
    http GET "/poll?sessionUUID=$F_SESSION&timeout=0" -H "Authorization: Bearer $E_KEY"
    expect_status 403
    http GET "/poll?sessionUUID=$(cat /proc/sys/kernel/random/uuid)&timeout=0" -H "Authorization: Bearer $E_KEY"
    expect_status 404
    [ "$(jqb .type)" = error ]
    http GET "/poll?sessionUUID=$E_SESSION&timeout=0&accessKey=$E_KEY"
    expect_status 200
    http POST "/poll?sessionUUID=$E_SESSION" -d ""
    expect_status 405
}

@test "a Go-format message published from redis-cli arrives once" {
    sign_in G "pg-$RANDOM"
    join G ""
    poll G "" 0
    c0=$CURSOR
    msg="{\"UUID\":\"$(cat /proc/sys/kernel/random/uuid)\",\"SenderUUID\":\"$G_UUID\",\"RecipientUUID\":\"\",\"Message\":\"from-go-$$\",\"CreatedAt\":\"2024-01-01T00:00:00Z\"}"
    ( sleep 0.5; rcli rpush channelMessages.public "$msg" >/dev/null
      rcli publish public "$msg" >/dev/null ) &
    poll G "$c0" 20
    wait
    expect_status 200
    [ "$(messages_of | grep -c "^from-go-$$\$")" = 1 ]
    [ "$(jqb '.messages[0].channelMessage.Sender.UUID')" = "$G_UUID" ]
    poll G "$CURSOR" 0
    [ "$(messages_of | grep -c "^from-go-$$\$" || true)" = 0 ]
}

@test "sys signIn reaches every session; channel events only that channel" {
    sign_in H "ph-$RANDOM"
    join H ""
    poll H "" 0
    c0=$CURSOR
    sign_in I "pi-$RANDOM"
    poll H "$c0" 0
    [ "$(jqb "[.messages[] | select(.type==\"sys\" and .sys.type==\"signIn\" and .sys.signIn.uuid==\"$I_UUID\")] | length")" = 1 ]
    c1=$CURSOR
    # I joins a private channel with someone else: H must not see it.
    sign_in J "pj-$RANDOM"
    join I "$J_UUID"
    poll H "$c1" 0
    [ "$(jqb "[.messages[] | select(.type==\"sys\" and .sys.type==\"channelJoin\" and .userUUID==\"$I_UUID\")] | length")" = 0 ]
}

# wait_poller_redis: the poller's Redis connections are up again.
wait_poller_redis() {
    stack_wait_for 15 bash -c "curl -s '$BASE/metrics' | grep -qx 'chat_poller_redis_up 1'"
}

# say_retry PREFIX RECIPIENT TEXT: say, retrying while the gateway
# reconnects (503).
say_retry() {
    for _ in $(seq 1 50); do
        say "$@"
        [ "$HTTP_STATUS" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

@test "Redis restarted with its data: a parked poll and the cursor survive" {
    sign_in K "pk-$RANDOM"
    join K ""
    poll K "" 0
    c0=$CURSOR
    say K "" "rr-1"
    poll K "$c0" 0
    c1=$CURSOR
    s=$K_SESSION k=$K_KEY
    curl -s --max-time 30 -H "Authorization: Bearer $k" \
        "$BASE/poll?sessionUUID=$s&cursor=$c1&timeout=25" >"$TEST_DIR/parked" &
    bg=$!
    sleep 0.5
    stack_redis_stop "$TEST_DIR" "$REDIS_PORT"
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
    wait_poller_redis
    say_retry K "" "rr-2"
    wait "$bg"
    BODY=$(cat "$TEST_DIR/parked")
    [ "$(messages_of | grep -c '^rr-')" = 1 ]
    messages_of | grep -qx rr-2
    poll K "$c0" 0
    [ "$(messages_of | grep '^rr-' | tr '\n' ' ')" = "rr-1 rr-2 " ]
}

@test "poller killed and restarted mid-stream: nothing lost or repeated" {
    sign_in L "pl-$RANDOM"
    join L ""
    poll L "" 0
    cur=$CURSOR
    for i in $(seq 1 5); do say L "" "pr-$i"; done
    poll L "$cur" 0
    cur=$CURSOR
    got=$(messages_of | grep '^pr-' | tr '\n' ' ')
    kill -9 "$(cat "$TEST_DIR/poller.pid")"
    for i in $(seq 6 10); do say L "" "pr-$i"; done
    stack_poller_start "$TEST_DIR"
    for _ in $(seq 1 60); do
        poll L "$cur" 0
        [ "$HTTP_STATUS" = 200 ] && break
        sleep 0.1
    done
    expect_status 200
    got="$got$(messages_of | grep '^pr-' | tr '\n' ' ')"
    [ "$got" = "pr-1 pr-2 pr-3 pr-4 pr-5 pr-6 pr-7 pr-8 pr-9 pr-10 " ]
}
