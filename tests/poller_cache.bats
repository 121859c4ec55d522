#!/usr/bin/env bats
# chat-poller's caches (docs/poller.md "Rooms and known sessions"): a
# re-poll with the cursor it was handed is answered or parked without a
# Redis round trip, from its channel's room of rendered messages; what
# would change the answer (a sign-out, a join, a list rewritten, Redis
# restarted empty) is seen at once.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

teardown() { teardown_test_pids; }

# Script calls Redis has run (EVALSHA and EVAL).
script_calls() {
    rcli info commandstats | tr -d '\r' |
        awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ {n += $3} END {print n + 0}'
}

# A poll in the background; its answer goes to $TEST_DIR/$1.out.
poll_bg() {
    local name=$1 p=$2 cur=$3 t=$4 s k
    s=$(eval echo "\$${p}_SESSION")
    k=$(eval echo "\$${p}_KEY")
    curl -s -o "$TEST_DIR/$name.out" -w '%{http_code}' \
        -H "Authorization: Bearer $k" --max-time 70 \
        "$BASE/poll?sessionUUID=$s&cursor=$cur&timeout=$t" >"$TEST_DIR/$name.code" &
    echo $! >>"$TEST_DIR/test.pids"
    eval "${name}_PID=$!"
}

@test "re-polls with an up-to-date cursor cost no Redis call; messages come from the room" {
    sign_in A "ca-$RANDOM"
    sign_in B "cb-$RANDOM"
    join A ""
    join B ""
    poll A "" 0
    ca=$CURSOR
    say B "" "seed"
    poll A "$ca" 5
    [ "$(messages_of)" = seed ]
    ca=$CURSOR
    cached0=$(metric chat_poller_cached_polls_total)
    calls0=$(script_calls)
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        poll A "$ca" 0
        expect_status 200
        [ "$CURSOR" = "$ca" ]
        [ "$(jqb '.messages | length')" = 0 ]
    done
    [ "$(script_calls)" = "$calls0" ]
    [ "$(metric chat_poller_cached_polls_total)" -eq $((cached0 + 10)) ]
    # parked from the cache, woken by a message, answered from the room
    poll_bg p1 A "$ca" 20
    sleep 0.3
    say B "" "one"
    say B "" "two"
    wait "$p1_PID"
    [ "$(cat "$TEST_DIR/p1.code")" = 200 ]
    got=$(jq -r '.messages[] | .channelMessage.Message' "$TEST_DIR/p1.out" | tr '\n' ' ')
    [[ "$got" = "one "* ]]
    ca=$(jq -r .cursor "$TEST_DIR/p1.out")
    # what the first answer did not carry comes with the next, once
    poll A "$ca" 5
    rest=$(messages_of | tr '\n' ' ')
    [ "$got$rest" = "one two " ]
}

@test "a room answer equals the catch-up read's answer" {
    sign_in C "cc-$RANDOM"
    sign_in D "cd-$RANDOM"
    join C ""
    join D ""
    poll C "" 0
    c0=$CURSOR
    poll_bg p2 C "$c0" 20
    sleep 0.3
    for i in 1 2 3; do say D "" "m$i $RANDOM <b>&amp;</b> \"q\""; done
    wait "$p2_PID"
    [ "$(cat "$TEST_DIR/p2.code")" = 200 ]
    c1=$(jq -r .cursor "$TEST_DIR/p2.out")
    # a cached re-poll from c0 (the room) and a cold one (Redis): the same
    poll C "$c0" 0
    cached=$BODY
    calls0=$(script_calls)
    rcli publish rcg:wake '*' >/dev/null # a sys event: every session reads
    sleep 0.2
    poll C "$c0" 0
    cold=$BODY
    [ -n "$cached" ]
    [ "$(jq -c .messages <<<"$cached")" = "$(jq -c .messages <<<"$cold")" ]
    [ "$(jq -r .cursor <<<"$cached")" = "$(jq -r .cursor <<<"$cold")" ]
    [ "$(jq '.messages | length' <<<"$cold")" = 3 ]
    [ "$(script_calls)" -gt "$calls0" ]
    [ -n "$c1" ]
}

@test "an SSE stream takes new messages from the room: no S_POLL per message, the same events as its catch-up read" {
    sign_in A "sa-$RANDOM"
    sign_in B "sb-$RANDOM"
    join A ""
    join B ""
    poll A "" 0
    c0=$CURSOR
    curl -sN --max-time 30 -H "Authorization: Bearer $A_KEY" \
        "$BASE/events?sessionUUID=$A_SESSION&cursor=$c0" >"$TEST_DIR/live.sse" &
    live=$!
    echo "$live" >>"$TEST_DIR/test.pids"
    stack_wait_for 5 grep -q '^retry: ' "$TEST_DIR/live.sse"
    reads0=$(metric chat_poller_catchup_reads_total)
    for i in $(seq 1 20); do say B "" "live-$i"; done
    stack_wait_for 5 grep -q '"Message":"live-20"' "$TEST_DIR/live.sse"
    # one read per message before rooms served streams; now the shared
    # room reads carry them (a read may still start while one is in flight)
    reads=$(($(metric chat_poller_catchup_reads_total) - reads0))
    [ "$reads" -le 2 ] || { echo "$reads catch-up reads for 20 messages" >&2; return 1; }
    kill "$live"
    # a new stream from the same cursor reads them in one S_POLL: the same
    # ids and data lines, in the same order
    curl -sN --max-time 2 -H "Authorization: Bearer $A_KEY" \
        "$BASE/events?sessionUUID=$A_SESSION&cursor=$c0" >"$TEST_DIR/read.sse" || true
    [ "$(grep -c '"Message":"live-' "$TEST_DIR/read.sse")" = 20 ]
    diff <(grep -E '^(id|data): ' "$TEST_DIR/live.sse") <(grep -E '^(id|data): ' "$TEST_DIR/read.sse")
}

@test "sign-out cuts a known session's key within 1 s, parked or not" {
    sign_in E "ce-$RANDOM"
    join E ""
    poll E "" 0
    ce=$CURSOR
    poll E "$ce" 0 # known now
    poll_bg p3 E "$ce" 30
    sleep 0.3
    start=$(date +%s%N)
    api "$(jq -nc --arg s "$E_SESSION" '{type:"signOut",sessionUUID:$s,signOut:{}}')" "$E_KEY"
    expect_status 200
    wait "$p3_PID"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$(cat "$TEST_DIR/p3.code")" = 401 ]
    [ "$ms" -lt 1000 ]
    poll E "$ce" 0
    expect_status 401
}

@test "a join seen at once: a re-poll with the old cursor reads the new channel" {
    sign_in F "cf-$RANDOM"
    sign_in G "cg-$RANDOM"
    join F ""
    poll F "" 0
    cf=$CURSOR
    poll F "$cf" 0 # known, in public
    join F "$G_UUID"
    expect_status 200
    join G "$F_UUID"
    say G "$F_UUID" "private for f"
    poll F "$cf" 5
    expect_status 200
    [ "$(messages_of)" = "private for f" ]
}

@test "a chat list rewritten empties its room: reset, then only new messages" {
    sign_in H "ch-$RANDOM"
    sign_in I "ci-$RANDOM"
    join H "$I_UUID"
    join I "$H_UUID"
    poll H "" 0
    ch=$CURSOR
    poll_bg p4 H "$ch" 20
    sleep 0.3
    say I "$H_UUID" "before"
    wait "$p4_PID"
    ch=$(jq -r .cursor "$TEST_DIR/p4.out")
    chan=$(rcli hget "rcg:session.$H_SESSION" ch)
    poll H "$ch" 0 # known, at the room's end
    # LTRIM is a list command: its notification (flags Kl) empties the room
    rcli ltrim "channelMessages.$chan" 1 0 >/dev/null
    sleep 0.3
    poll H "$ch" 0
    expect_status 200
    [ "$(jqb .reset)" = true ]
    [ -z "$(messages_of)" ]
    say I "$H_UUID" "after"
    poll H "$CURSOR" 5
    [ "$(messages_of)" = after ]
}

@test "a message lost and the list grown again past it: the old cursor is reset, never a silent gap" {
    sign_in J "cj-$RANDOM"
    sign_in K "ck-$RANDOM"
    join J "$K_UUID"
    join K "$J_UUID"
    poll J "" 0
    say K "$J_UUID" "kept"
    poll J "$CURSOR" 5
    say K "$J_UUID" "lost"
    poll J "$CURSOR" 5
    [ "$(messages_of)" = lost ]
    past=$CURSOR
    chan=$(rcli hget "rcg:session.$J_SESSION" ch)
    # what a failover without WAIT leaves: "lost" gone, then a new message
    # written where it was (as the Go server writes one)
    rcli rpop "channelMessages.$chan" >/dev/null
    msg="{\"UUID\":\"$(cat /proc/sys/kernel/random/uuid)\",\"SenderUUID\":\"$K_UUID\",\"RecipientUUID\":\"$J_UUID\",\"Message\":\"new\",\"CreatedAt\":\"2024-01-01T00:00:00Z\"}"
    rcli rpush "channelMessages.$chan" "$msg" >/dev/null
    sleep 0.3
    poll J "$past" 0
    expect_status 200
    [ "$(jqb .reset)" = true ]
    [ -z "$(messages_of)" ]
    [ "$CURSOR" != "$past" ]
    say K "$J_UUID" "after"
    poll J "$CURSOR" 5
    [ "$(messages_of)" = after ]
}
