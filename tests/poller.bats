#!/usr/bin/env bats
# Long-poll and Server-Sent Events through lighttpd -> chat-poller: wake,
# timeout, cursor replay without loss or duplicates, errors, hang-up,
# restarts of the poller and of Redis, SIGTERM drain.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# Processes a test started (pids in $TEST_DIR/test.pids) are stopped even
# when it fails: one left running would hold bats' output open for ever.
teardown() { teardown_test_pids; }

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

# direct METHOD PATH [curl args...]: a request straight to the poller's
# unix socket (lighttpd does not pass client hang-ups on, PLATFORM L8).
direct() {
    local method=$1 path=$2
    shift 2
    HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X "$method" \
        --unix-socket "$TEST_DIR/poller.sock" "$@" "http://poller$path")
    BODY=$(cat "$TEST_DIR/body")
}

direct_metric() {
    curl -s --unix-socket "$TEST_DIR/poller.sock" http://poller/metrics |
        awk -v m="$1" '$1 == m {print $2}'
}

# metric_is NAME OP VALUE: compares a poller metric (for stack_wait_for).
metric_is() {
    local v
    v=$(direct_metric "$1")
    [ -n "$v" ] && [ "$v" "$2" "$3" ]
}

@test "SSE: id lines, retry hint, resume with Last-Event-ID" {
    sign_in M "pm-$RANDOM"
    join M ""
    poll M "" 0
    c0=$CURSOR
    say M "" "sse-1"
    say M "" "sse-2"
    curl -sN --max-time 2 -H "Authorization: Bearer $M_KEY" \
        "$BASE/events?sessionUUID=$M_SESSION&cursor=$c0" >"$TEST_DIR/sse1" || true
    grep -q '^retry: ' "$TEST_DIR/sse1"
    grep '^data: ' "$TEST_DIR/sse1" | grep -q '"Message":"sse-1"'
    grep '^data: ' "$TEST_DIR/sse1" | grep -q '"Message":"sse-2"'
    # the id before sse-2's data line resumes right after sse-1
    id1=$(awk '/^id: /{id=$2} /"Message":"sse-1"/{print id}' "$TEST_DIR/sse1")
    [ -n "$id1" ]
    say M "" "sse-3"
    curl -sN --max-time 2 -H "Authorization: Bearer $M_KEY" -H "Last-Event-ID: $id1" \
        "$BASE/events?sessionUUID=$M_SESSION" >"$TEST_DIR/sse2" || true
    got=$(grep '^data: ' "$TEST_DIR/sse2" | grep -o '"Message":"sse-[0-9]*"' | tr '\n' ' ')
    [ "$got" = '"Message":"sse-2" "Message":"sse-3" ' ]
    [ "$(grep -c '^id: ' "$TEST_DIR/sse2")" -ge 2 ]
}

@test "SSE: live events and errors before the stream starts" {
    sign_in N "pn-$RANDOM"
    join N ""
    curl -sN --max-time 3 "$BASE/events?sessionUUID=$N_SESSION&accessKey=$N_KEY" \
        >"$TEST_DIR/sse3" &
    bg=$!
    sleep 1
    say N "" "live-1"
    wait "$bg" || true
    grep '^data: ' "$TEST_DIR/sse3" | grep -q '"Message":"live-1"'
    http GET "/events?sessionUUID=$N_SESSION&accessKey=wrong"
    expect_status 401
    http GET "/events?sessionUUID=$(cat /proc/sys/kernel/random/uuid)&accessKey=$N_KEY"
    expect_status 404
}

@test "a client that hangs up while parked is cleaned up at once" {
    sign_in O "po-$RANDOM"
    join O ""
    poll O "" 0
    c0=$CURSOR
    base_parked=$(direct_metric chat_poller_parked_polls)
    base_streams=$(direct_metric chat_poller_sse_streams)
    pids=()
    for _ in $(seq 1 20); do
        curl -s --max-time 30 --unix-socket "$TEST_DIR/poller.sock" \
            "http://poller/poll?sessionUUID=$O_SESSION&accessKey=$O_KEY&cursor=$c0&timeout=30" >/dev/null &
        pids+=($!)
    done
    curl -sN --max-time 30 --unix-socket "$TEST_DIR/poller.sock" \
        "http://poller/events?sessionUUID=$O_SESSION&accessKey=$O_KEY&cursor=$c0" >/dev/null &
    pids+=($!)
    stack_wait_for 10 metric_is chat_poller_parked_polls -ge $((base_parked + 20))
    stack_wait_for 10 metric_is chat_poller_sse_streams -ge $((base_streams + 1))
    kill "${pids[@]}"
    wait "${pids[@]}" 2>/dev/null || true
    stack_wait_for 3 metric_is chat_poller_parked_polls -eq "$base_parked"
    stack_wait_for 3 metric_is chat_poller_sse_streams -eq "$base_streams"
    [ "$(direct_metric chat_poller_hangups_total)" -ge 21 ]
    # no fd left behind: the poller holds about what it held before
    pid=$(cat "$TEST_DIR/poller.pid")
    [ "$(ls /proc/$pid/fd | wc -l)" -lt 30 ]
}

# poller_fds: open fds of the poller process.
poller_fds() {
    ls "/proc/$(cat "$TEST_DIR/poller.pid")/fd" | wc -l
}

# fds_at_most N: for stack_wait_for.
fds_at_most() {
    [ "$(poller_fds)" -le "$1" ]
}

# header_of FILE NAME: the value of a response header (curl -i output).
header_of() {
    tr -d '\r' <"$1" | awk -v n="$2" 'BEGIN {IGNORECASE = 1}
        /^$/ {exit} index(tolower($0), tolower(n) ":") == 1 {sub(/^[^:]*: */, ""); print}'
}

@test "poll answers: written whole with their headers, then the connection closes" {
    sign_in DW "pdw-$RANDOM"
    join DW ""
    poll DW "" 0
    c0=$CURSOR
    q="sessionUUID=$DW_SESSION&accessKey=$DW_KEY"
    # a woken poll, straight to the poller
    fds0=$(poller_fds)
    curl -s -i --max-time 20 --unix-socket "$TEST_DIR/poller.sock" \
        "http://poller/poll?$q&cursor=$c0&timeout=15" >"$TEST_DIR/dw1" &
    pid=$!
    stack_wait_for 10 metric_is chat_poller_parked_polls -ge 1
    say DW "" "direct-$$"
    wait "$pid"
    head -1 "$TEST_DIR/dw1" | grep -q '^HTTP/1.1 200 OK'
    [ "$(header_of "$TEST_DIR/dw1" Content-Type)" = "application/json; charset=utf-8" ]
    [ "$(header_of "$TEST_DIR/dw1" Cache-Control)" = no-store ]
    [ "$(header_of "$TEST_DIR/dw1" Connection)" = close ]
    [ -n "$(header_of "$TEST_DIR/dw1" Date)" ]
    BODY=$(sed '1,/^\r$/d' "$TEST_DIR/dw1")
    [ "$(header_of "$TEST_DIR/dw1" Content-Length)" = "$(printf '%s' "$BODY" | wc -c)" ]
    [ "$(messages_of)" = "direct-$$" ]
    c1=$(jqb .cursor)
    # the connection is closed afterwards: no fd left once the reaper ran
    stack_wait_for 3 fds_at_most "$fds0"
    # an empty answer at its timeout takes the same path
    curl -s -i --max-time 20 --unix-socket "$TEST_DIR/poller.sock" \
        "http://poller/poll?$q&cursor=$c1&timeout=1" >"$TEST_DIR/dw2"
    [ "$(header_of "$TEST_DIR/dw2" Connection)" = close ]
    BODY=$(sed '1,/^\r$/d' "$TEST_DIR/dw2")
    [ "$(jqb '.messages | length')" = 0 ]
    [ "$(jqb .cursor)" = "$c1" ]
    # an answer too large for one write goes through evhttp, whole
    long=$(head -c 4000 /dev/zero | tr '\0' 'x')
    for i in $(seq 1 12); do say DW "" "$i-$long"; done
    curl -s -i --max-time 20 --unix-socket "$TEST_DIR/poller.sock" \
        "http://poller/poll?$q&cursor=$c1&timeout=0" >"$TEST_DIR/dw3"
    head -1 "$TEST_DIR/dw3" | grep -q '^HTTP/1.1 200'
    BODY=$(sed '1,/^\r$/d' "$TEST_DIR/dw3")
    [ "$(header_of "$TEST_DIR/dw3" Content-Length)" = "$(printf '%s' "$BODY" | wc -c)" ]
    [ "$(printf '%s' "$BODY" | wc -c)" -gt 48000 ]
    [ "$(messages_of | wc -l)" = 12 ]
    [ "$(messages_of | head -1)" = "1-$long" ]
    [ "$(messages_of | tail -1)" = "12-$long" ]
    stack_wait_for 3 fds_at_most "$fds0"
}

@test "connections that never send a request line, and junk, do not hurt" {
    for _ in $(seq 1 50); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$HTTP_PORT" || true
    done
    printf 'GARBAGE\r\n\r\n' | curl -s --max-time 3 --unix-socket "$TEST_DIR/poller.sock" \
        -X GET "http://poller/poll" -H "X: $(head -c 20000 /dev/zero | tr '\0' a)" >/dev/null || true
    direct GET "/nope"
    expect_status 404
    direct GET "/poll?sessionUUID=%zz"
    [ "$HTTP_STATUS" = 400 ]
    direct GET "/health"
    expect_status 200
}

@test "what libevent refuses with an HTML page reaches the poller's JSON: heads over 8 KiB, bodies, every known method" {
    direct GET /poll \
        -H "X-Pad: $(head -c 8150 /dev/zero | tr '\0' a)"
    expect_status 431
    [ "$(jq -r .error.code <<<"$BODY")" = 225 ]
    # bodies up to 64 KiB are read: a POST is 405 (Allow: GET, OPTIONS),
    # a GET's body is ignored
    HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -D "$TEST_DIR/head" -w '%{http_code}' \
        --unix-socket "$TEST_DIR/poller.sock" --data-binary 'hello' "http://poller/poll")
    [ "$HTTP_STATUS" = 405 ]
    [ "$(jq -r .error.code "$TEST_DIR/body")" = 215 ]
    grep -qi '^Allow: GET, OPTIONS' "$TEST_DIR/head"
    direct GET /health --data-binary 'ignored'
    expect_status 200
    for m in PUT DELETE PATCH TRACE; do
        direct "$m" /events
        expect_status 405
        [ "$(jq -r .error.code <<<"$BODY")" = 215 ]
    done
    # past 64 KiB, and for a method it does not know, libevent answers
    # itself (an HTML page, which every front config replaces with JSON:
    # tests/server_common.bash check_poller_edges); the poller serves on
    head -c 100000 /dev/zero | tr '\0' a >"$TEST_DIR/body100k"
    direct POST /poll --data-binary "@$TEST_DIR/body100k"
    expect_status 413
    direct BREW /poll
    expect_status 501
    direct GET /health
    expect_status 200
}

@test "metrics: Prometheus text with the documented series" {
    http GET /metrics
    expect_status 200
    for m in chat_poller_parked_polls chat_poller_sse_streams \
        chat_poller_delivered_total chat_poller_redis_reconnects_total \
        chat_poller_catchup_reads_total chat_poller_connections_refused_total \
        chat_poller_head_timeouts_total; do
        grep -q "^# TYPE $m " <<<"$BODY"
        grep -Eq "^$m [0-9]+$" <<<"$BODY"
    done
    [ "$(metric chat_poller_delivered_total)" -gt 0 ]
    # only from this host's 127.0.0.1: another loopback address is refused
    run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$BASE/metrics"
    [ "$output" = 403 ]
    run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$BASE/health"
    [ "$output" = 200 ]
}

@test "out of fds the poller pauses accepting: no spin, a log line a second, then it serves again" {
    port=$(stack_free_port)
    log="$TEST_DIR/fdpoller.log"
    (ulimit -n 64; exec env REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_POLLER_ADDRESS=127.0.0.1:$port \
        "$ROOT/$BUILD/chat-poller" 2>"$log") &
    pid=$!
    stack_wait_for 10 curl -sf "http://127.0.0.1:$port/health"
    # 100 idle connections: more than the poller has fds for
    python3 -c '
import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(100)]
time.sleep(float(sys.argv[2]))
' "$port" 4 &
    holder=$!
    sleep 1
    t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 2
    t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    # under 20 % of a core over 2 s (clock ticks: 100 a second)
    [ $(( t1 - t0 )) -lt 40 ]
    [ "$(grep -c 'accept()' "$log")" -le 5 ]
    kill "$holder"; wait "$holder" 2>/dev/null || true
    stack_wait_for 10 curl -sf "http://127.0.0.1:$port/health"
    kill -TERM "$pid"
    wait "$pid"
}

@test "chat-poller --help and --version" {
    run "$ROOT/$BUILD/chat-poller" --version
    [ "$status" = 0 ]
    [[ $output == "chat-poller "[0-9]* ]]
    run "$ROOT/$BUILD/chat-poller" --help
    [ "$status" = 0 ]
    [[ $output == *CHAT_POLLER_SOCKET* ]]
    run "$ROOT/$BUILD/chat-poller" --nope
    [ "$status" = 2 ]
}

# terminated_within_3s PID CLIENT: SIGTERM to PID; it exits 0, and it and
# CLIENT (a request it was holding) are done within 3 s.
terminated_within_3s() {
    local pid=$1 client=$2 start end rc=0
    start=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    wait "$client" || true
    end=$(date +%s%N)
    [ "$rc" = 0 ] && [ $(( (end - start) / 1000000 )) -lt 3000 ]
}

@test "SIGTERM: parked polls answer at once with their cursor, exit 0" {
    sign_in P "pp-$RANDOM"
    join P ""
    poll P "" 0
    c0=$CURSOR
    # our own poller, so that its exit status can be read
    stack_poller_stop "$TEST_DIR" || true
    CHAT_POLLER_SOCKET="$TEST_DIR/poller.sock" "$ROOT/$BUILD/chat-poller" \
        2>>"$TEST_DIR/poller.log" &
    pid=$!
    stack_wait_for 10 metric_is chat_poller_redis_up -eq 1
    for i in 1 2 3; do
        curl -s --max-time 30 --unix-socket "$TEST_DIR/poller.sock" \
            "http://poller/poll?sessionUUID=$P_SESSION&accessKey=$P_KEY&cursor=$c0&timeout=30" \
            >"$TEST_DIR/drain$i" &
    done
    curl -sN --max-time 30 --unix-socket "$TEST_DIR/poller.sock" \
        "http://poller/events?sessionUUID=$P_SESSION&accessKey=$P_KEY&cursor=$c0" \
        >"$TEST_DIR/drain-sse" &
    sse=$!
    stack_wait_for 10 metric_is chat_poller_parked_polls -ge 3
    stack_wait_for 10 metric_is chat_poller_sse_streams -ge 1
    terminated_within_3s "$pid" "$sse"
    for i in 1 2 3; do
        [ "$(jq -r .cursor "$TEST_DIR/drain$i")" = "$c0" ]
        [ "$(jq -r '.messages | length' "$TEST_DIR/drain$i")" = 0 ]
    done
    grep -q '^retry: ' "$TEST_DIR/drain-sse"
    stack_poller_start "$TEST_DIR"
    for _ in $(seq 1 40); do
        poll P "$c0" 0
        [ "$HTTP_STATUS" = 200 ] && break
        sleep 0.1
    done
    expect_status 200
}

@test "100 messages sent during a channelJoin: history + polls, no gap, no duplicate" {
    sign_in Q "pq-$RANDOM"
    sign_in R "pr-$RANDOM"
    join Q "$R_UUID"
    ( for i in $(seq 1 100); do say Q "$R_UUID" "cj-$i"; done ) &
    bg=$!
    sleep 0.3
    join R "$Q_UUID"
    expect_status 200
    seen=$(jqb '.channelJoin.messages[].Message' | sed -n 's/^cj-//p' | tr '\n' ' ')
    wait "$bg"
    cur=""
    for _ in $(seq 1 20); do
        poll R "$cur" 0
        expect_status 200
        cur=$CURSOR
        seen="$seen$(messages_of | sed -n 's/^cj-//p' | tr '\n' ' ')"
        [ "$(wc -w <<<"$seen")" -gt 0 ] && [ "$(awk '{print $NF}' <<<"$seen")" = 100 ] && break
    done
    read -ra nums <<<"$seen"
    [ "${#nums[@]}" -ge 90 ]
    [ "${nums[-1]}" = 100 ]
    for ((i = 1; i < ${#nums[@]}; i++)); do
        [ "${nums[$i]}" = $(( nums[i - 1] + 1 )) ] || { echo "gap/dup at $i: $seen"; false; }
    done
}

@test "one message wakes many parked polls, each gets it exactly once" {
    sign_in S "ps-$RANDOM"
    join S ""
    for i in $(seq 1 8); do
        sign_in "W$i" "pw$i-$RANDOM"
        join "W$i" ""
    done
    for i in $(seq 1 8); do
        poll "W$i" "" 0
        printf -v "W${i}_CUR" '%s' "$CURSOR"
    done
    before=$(direct_metric chat_poller_shared_reads_total)
    for i in $(seq 1 8); do
        s=$(eval echo "\$W${i}_SESSION") k=$(eval echo "\$W${i}_KEY") c=$(eval echo "\$W${i}_CUR")
        curl -s --max-time 20 -H "Authorization: Bearer $k" \
            "$BASE/poll?sessionUUID=$s&cursor=$c&timeout=15" >"$TEST_DIR/fan$i" &
    done
    stack_wait_for 10 metric_is chat_poller_parked_polls -ge 8
    say S "" "fan-out-$$"
    wait
    for i in $(seq 1 8); do
        BODY=$(cat "$TEST_DIR/fan$i")
        [ "$(messages_of | grep -c "^fan-out-$$\$")" = 1 ]
        [ "$(jqb '.messages[0].channelMessage.Sender.UUID')" = "$S_UUID" ]
    done
    [ "$(direct_metric chat_poller_shared_reads_total)" -gt "$before" ]
}

@test "two pollers behind lighttpd, alternating polls: exactly once, in order" {
    sign_in T "pt-$RANDOM"
    join T ""
    CHAT_POLLER_SOCKET="$TEST_DIR/poller2.sock" "$ROOT/$BUILD/chat-poller" \
        2>>"$TEST_DIR/poller2.log" &
    p2=$!
    port2=$(stack_free_port)
    cat >"$TEST_DIR/lt2.conf" <<CONF
server.document-root = "$TEST_DIR"
server.bind = "127.0.0.1"
server.port = $port2
server.errorlog = "$TEST_DIR/lt2-error.log"
server.modules = ( "mod_proxy" )
proxy.balance = "round-robin"
proxy.server = ( "/poll" => (
    ( "socket" => "$TEST_DIR/poller.sock" ),
    ( "socket" => "$TEST_DIR/poller2.sock" ) ) )
CONF
    stack_wait_for 10 test -S "$TEST_DIR/poller2.sock"
    lighttpd -D -f "$TEST_DIR/lt2.conf" 2>>"$TEST_DIR/lt2-stderr.log" &
    lt=$!
    stack_wait_for 10 curl -s "http://127.0.0.1:$port2/poll"
    before1=$(direct_metric chat_poller_poll_answers_total)
    cur=""
    got=""
    for i in $(seq 1 12); do
        say T "" "two-$i"
        HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -H "Authorization: Bearer $T_KEY" \
            "http://127.0.0.1:$port2/poll?sessionUUID=$T_SESSION&cursor=$cur&timeout=5")
        BODY=$(cat "$TEST_DIR/body")
        expect_status 200
        cur=$(jqb .cursor)
        got="$got$(messages_of | grep '^two-' | tr '\n' ' ')"
    done
    kill "$lt" "$p2"
    wait "$lt" "$p2" 2>/dev/null || true
    [ "$got" = "two-1 two-2 two-3 two-4 two-5 two-6 two-7 two-8 two-9 two-10 two-11 two-12 " ]
    after1=$(direct_metric chat_poller_poll_answers_total)
    # both pollers answered some of them
    [ $((after1 - before1)) -ge 1 ] && [ $((after1 - before1)) -le 11 ]
}

# fcgi_poll SOCK QUERY: GET /poll answered by chat.fcgi itself; prints the
# FastCGI output (Status line, headers, body).
fcgi_poll() {
    env -i REQUEST_METHOD=GET REQUEST_URI=/poll QUERY_STRING="$2" \
        cgi-fcgi -bind -connect "$1" </dev/null
}

@test "chat.fcgi answers /poll itself: waits, wakes, times out, stops on SIGTERM" {
    sign_in U "pu-$RANDOM"
    join U ""
    poll U "" 0
    c0=$CURSOR
    sock="$TEST_DIR/fcgi-poll.sock"
    REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_THREADS=4 CHAT_FCGI_POLL=1 \
        spawn-fcgi -n -s "$sock" -- "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/fcgi-poll.log" &
    pid=$!
    echo "$pid" >>"$TEST_DIR/test.pids"
    stack_wait_for 10 test -S "$sock"
    q="sessionUUID=$U_SESSION&accessKey=$U_KEY&cursor=$c0"
    # timeout with nothing due: empty, same cursor
    out=$(fcgi_poll "$sock" "$q&timeout=1")
    grep -q '^Status: 200' <<<"$out"
    BODY=$(sed -n '/^{/,$p' <<<"$out")
    [ "$(jqb .cursor)" = "$c0" ]
    [ "$(jqb '.messages | length')" = 0 ]
    # a waiting poll wakes on a message
    ( fcgi_poll "$sock" "$q&timeout=20" >"$TEST_DIR/fp1" ) &
    bg=$!
    sleep 0.7
    start=$(date +%s%N)
    say U "" "fcgi-wake-$$"
    wait "$bg"
    end=$(date +%s%N)
    BODY=$(sed -n '/^{/,$p' "$TEST_DIR/fp1")
    [ "$(messages_of | grep -c "^fcgi-wake-$$\$")" = 1 ]
    [ $(( (end - start) / 1000000 )) -lt 3000 ]
    c1=$(jqb .cursor)
    # the poller and chat.fcgi give the same answer for the same cursor
    poll U "$c0" 0
    [ "$CURSOR" = "$c1" ]
    # errors as in the poller
    out=$(fcgi_poll "$sock" "sessionUUID=$U_SESSION&accessKey=nope&timeout=0")
    grep -q '^Status: 401' <<<"$out"
    out=$(fcgi_poll "$sock" "sessionUUID=$U_SESSION&accessKey=$U_KEY&timeout=99")
    grep -q '^Status: 400' <<<"$out"
    # SIGTERM: a waiting poll answers at once, the responder exits 0
    ( fcgi_poll "$sock" "sessionUUID=$U_SESSION&accessKey=$U_KEY&cursor=$c1&timeout=30" >"$TEST_DIR/fp2" ) &
    bg=$!
    sleep 0.7
    terminated_within_3s "$pid" "$bg"
    grep -q '^Status: 200' "$TEST_DIR/fp2"
    BODY=$(sed -n '/^{/,$p' "$TEST_DIR/fp2")
    [ "$(jqb .cursor)" = "$c1" ]
}

@test "a cursor past what is stored answers reset:true" {
    sign_in X "px-$RANDOM"
    join X ""
    poll X "" 0
    IFS=. read -r tag sys jn _ <<<"$CURSOR"
    poll X "$tag.$sys.$jn.999999" 0
    expect_status 200
    [ "$(jqb .reset)" = true ]
    [ "$CURSOR" != "$tag.$sys.$jn.999999" ]
    poll X "$CURSOR" 0
    [ "$(jqb '.reset // false')" = false ]
}

@test "a cursor or Last-Event-ID Redis would refuse is 400 code 207, and holds nothing" {
    sign_in XC "pxc-$RANDOM"
    join XC ""
    poll XC "" 0
    tag=${CURSOR%%.*}
    for bad in "$tag.99999999999999999999-0.1.0" "$tag.1-99999999999999999999.1.0" \
        "$tag.18446744073709551615-18446744073709551615.1.0"; do
        poll XC "$bad" 5
        expect_error 400 207
        http GET "/events?sessionUUID=$XC_SESSION" -H "Authorization: Bearer $XC_KEY" \
            -H "Last-Event-ID: $bad" --max-time 5
        expect_error 400 207
    done
    [ "$(metric chat_poller_sse_streams)" = 0 ]
    [ "$(metric chat_poller_parked_polls)" = 0 ]
}

@test "SSE: a reset batch sends its objects as ordinary events, then the reset" {
    sign_in XS "pxs-$RANDOM"
    join XS ""
    poll XS "" 0
    IFS=. read -r tag sys jn _ <<<"$CURSOR"
    sign_in XT "pxt-$RANDOM" # a sys signIn event after XS's cursor
    curl -sN --max-time 2 -H "Authorization: Bearer $XS_KEY" \
        -H "Last-Event-ID: $tag.$sys.$jn.999999" \
        "$BASE/events?sessionUUID=$XS_SESSION" >"$TEST_DIR/sse-reset" || true
    # the signIn object is not typed reset; the reset event is last
    awk '/^event: /{ev=$2} /^data: /{print (ev ? ev : "message"), substr($0, 7); ev=""}' \
        "$TEST_DIR/sse-reset" >"$TEST_DIR/sse-reset.events"
    grep -q '^message .*"signIn"' "$TEST_DIR/sse-reset.events"
    [ "$(grep -c '^reset ' "$TEST_DIR/sse-reset.events")" = 1 ]
    [ "$(grep '^reset ' "$TEST_DIR/sse-reset.events")" = 'reset {"reset":true}' ]
    [ "$(tail -1 "$TEST_DIR/sse-reset.events" | cut -d' ' -f1)" = reset ]
}

@test "each poll refreshes presence (60 s) and the session (1 h)" {
    sign_in Y "py-$RANDOM"
    join Y ""
    rcli del "userStatus.$Y_UUID" >/dev/null
    rcli expire "rcg:session.$Y_SESSION" 100 >/dev/null
    poll Y "" 0
    expect_status 200
    t=$(rcli ttl "userStatus.$Y_UUID")
    [ "$t" -gt 50 ] && [ "$t" -le 60 ]
    t=$(rcli ttl "rcg:session.$Y_SESSION")
    [ "$t" -gt 3500 ]
    # users shows the polling user online
    api '{"type":"users"}' "$Y_KEY"
    [ "$(jqb ".users.users[] | select(.UUID==\"$Y_UUID\") | .OnLine")" = true ]
}

@test "SSE heartbeat comments, and idle connections are closed" {
    sign_in Z "pz-$RANDOM"
    join Z ""
    CHAT_SSE_HEARTBEAT=1 CHAT_POLLER_IDLE=2 CHAT_POLLER_SOCKET="$TEST_DIR/poller-hb.sock" \
        "$ROOT/$BUILD/chat-poller" 2>>"$TEST_DIR/poller-hb.log" &
    hb=$!
    stack_wait_for 10 curl -sf --unix-socket "$TEST_DIR/poller-hb.sock" http://p/health
    # a quiet stream outlives the idle timeout (2 s here): curl's own
    # --max-time ends it (28), not the poller (18 = cut short)
    rc=0
    curl -sN --max-time 4.5 --unix-socket "$TEST_DIR/poller-hb.sock" \
        "http://p/events?sessionUUID=$Z_SESSION&accessKey=$Z_KEY" >"$TEST_DIR/hb" || rc=$?
    [ "$rc" = 28 ]
    [ "$(grep -c '^:' "$TEST_DIR/hb")" -ge 3 ]
    # 1000 connections that never send a request line do not block others
    # and the poller closes them after the idle timeout: every one sees EOF
    python3 -c 'import socket, sys, time
s = [socket.socket(socket.AF_UNIX) for _ in range(1000)]
for x in s: x.connect(sys.argv[1])
time.sleep(1)
print(sum(1 for x in s if x.recv(1) == b""))' "$TEST_DIR/poller-hb.sock" >"$TEST_DIR/idle" &
    idle=$!
    sleep 0.5
    curl -sf --max-time 2 --unix-socket "$TEST_DIR/poller-hb.sock" http://p/health
    wait "$idle"
    [ "$(cat "$TEST_DIR/idle")" = 1000 ]
    kill -TERM "$hb"
    wait "$hb"
}

@test "slow heads end at the head deadline (JSON 408); over the connection cap a JSON 503; fds back to the start" {
    sign_in Q "pq-$RANDOM"
    join Q ""
    sock="$TEST_DIR/poller-slow.sock"
    CHAT_POLLER_HEAD_TIMEOUT=2 CHAT_POLLER_IDLE=60 CHAT_POLLER_MAX_CONNS=300 \
        CHAT_POLLER_SOCKET="$sock" \
        "$ROOT/$BUILD/chat-poller" 2>>"$TEST_DIR/poller-slow.log" &
    slow=$!
    echo "$slow" >>"$TEST_DIR/test.pids"
    stack_wait_for 10 curl -sf --unix-socket "$sock" http://p/health
    fds0=$(ls /proc/$slow/fd | wc -l)
    # 200 clients trickle a request head one byte every 0.5 s: the idle
    # timeout (60 s here) never fires, the head deadline (2 s) does
    python3 - "$sock" >"$TEST_DIR/slow.out" <<'PY' &
import socket, sys, time
head = b"GET /health HTTP/1.1\r\nHost: p\r\nX-Slow: " + b"a" * 100
socks = []
for _ in range(200):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.setblocking(False)
    socks.append(s)
got = {}
t0 = time.time()
i = 0
while time.time() - t0 < 6 and len(got) < len(socks):
    for n, s in enumerate(socks):
        if n in got:
            continue
        try:
            s.send(head[i:i + 1])
        except OSError:
            pass
        try:
            d = s.recv(4096)
            got[n] = (time.time() - t0, d)
        except BlockingIOError:
            pass
        except OSError as e:
            got[n] = (time.time() - t0, b"")
    i += 1
    time.sleep(0.5)
ok = sum(1 for t, d in got.values() if d.startswith(b"HTTP/1.1 408") and b'"code":227' in d)
late = max((t for t, d in got.values()), default=99)
print(len(got), ok, "%.1f" % late)
PY
    trickle=$!
    sleep 1
    # meanwhile a normal client is served
    curl -sf --max-time 2 --unix-socket "$sock" http://p/health
    wait "$trickle"
    read -r ended ok late <"$TEST_DIR/slow.out"
    [ "$ended" = 200 ]
    [ "$ok" = 200 ]
    # ended by the 2 s deadline (+ the 1 s sweep), not by the idle limit
    awk -v l="$late" 'BEGIN { exit !(l < 4.5) }'
    # 400 idle connections against a cap of 300: the ones over it get a
    # JSON 503 at once, the others stay until the head deadline
    python3 - "$sock" >"$TEST_DIR/cap.out" <<'PY'
import socket, sys, time
socks = []
for _ in range(400):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(0.5)
refused = 0
for s in socks:
    s.setblocking(False)
    try:
        d = s.recv(4096)
        if d.startswith(b"HTTP/1.1 503") and b'"code":220' in d and b"Retry-After: 1" in d:
            refused += 1
    except BlockingIOError:
        pass
print(refused)
for s in socks:
    s.close()
PY
    refused=$(cat "$TEST_DIR/cap.out")
    echo "refused $refused of 400 (cap 300)"
    [ "$refused" -ge 100 ] && [ "$refused" -le 140 ]
    curl -sf --max-time 2 --unix-socket "$sock" http://p/metrics >"$TEST_DIR/slow.metrics"
    grep -E '^chat_poller_head_timeouts_total 200$' "$TEST_DIR/slow.metrics"
    grep -E "^chat_poller_connections_refused_total $refused\$" "$TEST_DIR/slow.metrics"
    # and a poll still works, with the fd count back where it started
    curl -sf --max-time 3 --unix-socket "$sock" \
        "http://p/poll?sessionUUID=$Q_SESSION&accessKey=$Q_KEY&timeout=0" | jq -e .cursor
    stack_wait_for 5 bash -c "[ \$(ls /proc/$slow/fd | wc -l) -le $fds0 ]"
    kill -TERM "$slow"
    wait "$slow"
}
