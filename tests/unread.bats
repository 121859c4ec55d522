#!/usr/bin/env bats
# Unread counts and the private-message notice (docs/contract.md §2 `unread`,
# §2.1 sys/channelMessage, §4): a private message reaches every session of
# its recipient as one notice, whichever channel the session follows,
# exactly once through /poll, /events and chat.fcgi's /poll, also across a
# sign-out of another session and a poller restart; the counts follow
# joins, polls and own messages, and survive all of it (they are in Redis).
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

teardown() { teardown_test_pids; }

# two_anas: Ana signed in on two sessions (A1 and A2: two devices, two
# keys), Tom (T); A_UUID and T_UUID.
two_anas() {
    local ana="ana-$RANDOM$RANDOM"
    sign_in A1 "$ana"
    sign_in A2 "$ana"
    sign_in T "tom-$RANDOM$RANDOM"
    A_UUID=$A1_UUID
    [ "$A2_UUID" = "$A_UUID" ]
}

# notices_of: the notices of the last poll answer as "<sender> <name>
# <recipientUUID> <message UUID>", one per line.
notices_of() {
    jqb '.messages[] | select(.type == "sys" and .sys.type == "channelMessage") |
        [.userUUID, .user.Username, .sys.channelMessage.recipientUUID,
         .sys.channelMessage.UUID] | join(" ")'
}

# unread PREFIX: the counts of that user's key as "<recipient>=<count>"
# (public for ""), sorted, space-separated, then "total=<n>".
unread() {
    local k
    k=$(eval echo "\$${1}_KEY")
    api '{"type":"unread"}' "$k"
    expect_status 200 || return 1
    echo "$(jqb '[.unread.channels[] | "\(.recipientUUID | if . == "" then "public" else . end)=\(.count)"] | sort | join(" ")') total=$(jqb .unread.total)"
}

metric() {
    curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

@test "a private message: one notice to each session of its recipient, whichever channel; never the text" {
    two_anas
    join A1 ""
    poll A1 "" 0
    c1=$CURSOR
    poll A2 "" 0 # A2 follows no channel
    c2=$CURSOR
    poll T "" 0
    ct=$CURSOR
    join T "$A_UUID"
    say T "$A_UUID" "psst, private for ana"
    mid=$(jqb .channelMessage.UUID)
    want="$T_UUID $(jqb .channelMessage.Sender.Username) $A_UUID $mid"
    poll A1 "$c1" 5
    [ "$(notices_of)" = "$want" ]
    [[ "$BODY" != *psst* ]]
    # the shape, in the style of sys/channelJoin
    [ "$(jqb '.messages[] | select(.type == "sys") | keys_unsorted | join(",")')" = type,userUUID,user,sys ]
    [ "$(jqb '.messages[] | select(.type == "sys") | .sys.channelMessage | keys_unsorted | join(",")')" = recipientUUID,UUID ]
    n1=$CURSOR
    poll A2 "$c2" 5
    [ "$(notices_of)" = "$want" ]
    n2=$CURSOR
    # once: the next cursor has it; the same cursor again gives it again
    poll A1 "$n1" 0
    [ -z "$(notices_of)" ]
    poll A2 "$n2" 0
    [ -z "$(notices_of)" ]
    poll A1 "$c1" 0
    [ "$(notices_of)" = "$want" ]
    # the sender gets none
    poll T "$ct" 0
    [ -z "$(notices_of)" ]
}

@test "unread: per channel; a join and reading to the end clear it; own messages are read" {
    two_anas
    join A1 ""
    join A1 "$T_UUID" # A1 follows the private channel now
    poll A1 "" 0
    c=$CURSOR
    [ "$(unread A1)" = " total=0" ]
    say T "" "pub-1"
    say T "" "pub-2"
    say T "$A_UUID" "priv-1"
    # the public channel counts for a user who is in a private channel
    [ "$(unread A1)" = "$T_UUID=1 public=2 total=3" ]
    # the same for every key and session of the user
    [ "$(unread A2)" = "$T_UUID=1 public=2 total=3" ]
    # a poll that delivers the private message reads it
    poll A1 "$c" 5
    [ "$(messages_of)" = priv-1 ]
    [ "$(unread A2)" = "public=2 total=2" ]
    # joining General clears it; the sender has nothing unread
    join A2 ""
    [ "$(unread A1)" = " total=0" ]
    [ "$(unread T)" = " total=0" ]
    # one's own messages are read
    say A1 "" "mine"
    say A1 "$T_UUID" "mine too"
    [ "$(unread A1)" = " total=0" ]
    [ "$(unread T)" = "$A_UUID=1 public=1 total=2" ]
    api '{"type":"unread"}'
    expect_error 401 208
    api '{"type":"unread","unread":5}' "$A1_KEY"
    expect_error 400 1
}

@test "sign-out: that session ends (401); the user's other session keeps its notices and counts" {
    two_anas
    poll A1 "" 0
    c1=$CURSOR
    poll A2 "" 0
    c2=$CURSOR
    say T "$A_UUID" "before"
    api "{\"type\":\"signOut\",\"sessionUUID\":\"$A1_SESSION\"}" "$A1_KEY"
    expect_status 200
    say T "$A_UUID" "after"
    after=$(jqb .channelMessage.UUID)
    poll A1 "$c1" 0
    expect_error 401 209
    poll A2 "$c2" 5
    [ "$(notices_of | wc -l)" = 2 ]
    [ "$(notices_of | tail -1 | cut -d' ' -f4)" = "$after" ]
    [ "$(unread A2)" = "$T_UUID=2 total=2" ]
}

@test "SSE: each notice once, with its own id; Last-Event-ID resumes after it" {
    two_anas
    join A1 ""
    poll A1 "" 0
    c0=$CURSOR
    ( curl -sN --max-time 4 -H "Authorization: Bearer $A1_KEY" \
        "$BASE/events?sessionUUID=$A1_SESSION&cursor=$c0" >"$TEST_DIR/sse1" || true ) &
    bg=$!
    sleep 0.7
    say T "$A_UUID" "s-1"
    m1=$(jqb .channelMessage.UUID)
    say T "$A_UUID" "s-2"
    m2=$(jqb .channelMessage.UUID)
    say T "" "public-too"
    wait "$bg"
    got=$(grep '^data: ' "$TEST_DIR/sse1" | sed 's/^data: //' |
        jq -r 'select(.type == "sys") | .sys.channelMessage.UUID' | paste -sd,)
    [ "$got" = "$m1,$m2" ]
    grep -q '"Message":"public-too"' "$TEST_DIR/sse1"
    ! grep -q 's-1\|s-2' "$TEST_DIR/sse1"
    # the id before the first notice's data resumes right after it
    id1=$(awk -v m="$m1" '/^id: /{id=$2} index($0, m){print id}' "$TEST_DIR/sse1")
    [ -n "$id1" ]
    curl -sN --max-time 2 -H "Authorization: Bearer $A1_KEY" -H "Last-Event-ID: $id1" \
        "$BASE/events?sessionUUID=$A1_SESSION" >"$TEST_DIR/sse2" || true
    got=$(grep '^data: ' "$TEST_DIR/sse2" | sed 's/^data: //' |
        jq -r 'if .type == "sys" then .sys.channelMessage.UUID else .channelMessage.Message end' |
        paste -sd,)
    [ "$got" = "$m2,public-too" ]
}

@test "a parked poll wakes on its user's notice within a second" {
    two_anas
    join A1 ""
    poll A1 "" 0
    poll A1 "$CURSOR" 0 # a known session: parks from the cache
    c=$CURSOR
    ( curl -s --max-time 20 -H "Authorization: Bearer $A1_KEY" \
        "$BASE/poll?sessionUUID=$A1_SESSION&cursor=$c&timeout=15" >"$TEST_DIR/p1" ) &
    bg=$!
    echo "$bg" >>"$TEST_DIR/test.pids"
    sleep 0.5
    start=$(date +%s%N)
    say T "$A_UUID" "wake up"
    wait "$bg"
    end=$(date +%s%N)
    BODY=$(cat "$TEST_DIR/p1")
    [ "$(notices_of | wc -l)" = 1 ]
    [ $(( (end - start) / 1000000 )) -lt 1000 ]
}

@test "a notice of one user ends only that user's known sessions and wakes only its polls" {
    two_anas
    sign_in B "bob-$RANDOM$RANDOM"
    join B ""
    poll B "" 0
    poll B "$CURSOR" 0
    cb=$CURSOR
    # Bob parked from the cache
    ( curl -s --max-time 20 -H "Authorization: Bearer $B_KEY" \
        "$BASE/poll?sessionUUID=$B_SESSION&cursor=$cb&timeout=3" >"$TEST_DIR/pb" ) &
    bg=$!
    echo "$bg" >>"$TEST_DIR/test.pids"
    sleep 0.5
    reads0=$(metric chat_poller_catchup_reads_total)
    for i in 1 2 3 4 5; do say T "$A_UUID" "n-$i"; done
    sleep 0.3
    # nobody of Ana polls: no read at all
    [ "$(metric chat_poller_catchup_reads_total)" = "$reads0" ]
    wait "$bg"
    [ "$(jq -r '.messages | length' "$TEST_DIR/pb")" = 0 ]
    # and Bob's next poll is still answered from the cache
    cached0=$(metric chat_poller_cached_polls_total)
    poll B "$cb" 0
    expect_status 200
    [ "$CURSOR" = "$cb" ]
    [ "$(metric chat_poller_cached_polls_total)" -eq $((cached0 + 1)) ]
}

@test "poller restart: a cursor from before it gets each notice once" {
    two_anas
    poll A1 "" 0
    say T "$A_UUID" "r-1"
    m1=$(jqb .channelMessage.UUID)
    poll A1 "$CURSOR" 5
    c=$CURSOR
    [ "$(notices_of | cut -d' ' -f4)" = "$m1" ]
    kill -9 "$(cat "$TEST_DIR/poller.pid")"
    say T "$A_UUID" "r-2"
    m2=$(jqb .channelMessage.UUID)
    stack_poller_start "$TEST_DIR"
    for _ in $(seq 1 60); do
        poll A1 "$c" 0
        [ "$HTTP_STATUS" = 200 ] && break
        sleep 0.1
    done
    expect_status 200
    [ "$(notices_of | cut -d' ' -f4)" = "$m2" ]
    poll A1 "$CURSOR" 0
    [ -z "$(notices_of)" ]
    [ "$(unread A1)" = "$T_UUID=2 total=2" ]
}

# fcgi_poll SOCK QUERY: GET /poll answered by chat.fcgi itself; prints the
# FastCGI output (Status line, headers, body).
fcgi_poll() {
    env -i REQUEST_METHOD=GET REQUEST_URI=/poll QUERY_STRING="$2" \
        cgi-fcgi -bind -connect "$1" </dev/null
}

@test "chat.fcgi /poll: woken by its user's notice only, each once, the same answer as the poller" {
    two_anas
    sign_in B "bob-$RANDOM$RANDOM"
    poll A1 "" 0
    c0=$CURSOR
    sock="$TEST_DIR/fcgi-unread.sock"
    REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_THREADS=4 CHAT_FCGI_POLL=1 \
        spawn-fcgi -n -s "$sock" -- "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/fcgi-unread.log" &
    pid=$!
    echo "$pid" >>"$TEST_DIR/test.pids"
    stack_wait_for 10 test -S "$sock"
    q="sessionUUID=$A1_SESSION&accessKey=$A1_KEY&cursor=$c0"
    ( fcgi_poll "$sock" "$q&timeout=20" >"$TEST_DIR/fp1" ) &
    bg=$!
    sleep 0.7
    # a notice of another user does not end the wait
    say T "$B_UUID" "for bob"
    sleep 0.5
    kill -0 "$bg"
    start=$(date +%s%N)
    say T "$A_UUID" "for ana"
    mid=$(jqb .channelMessage.UUID)
    wait "$bg"
    end=$(date +%s%N)
    [ $(( (end - start) / 1000000 )) -lt 1000 ]
    BODY=$(sed -n '/^{/,$p' "$TEST_DIR/fp1")
    [ "$(notices_of | cut -d' ' -f4)" = "$mid" ]
    f1=$(jqb .cursor)
    out=$(fcgi_poll "$sock" "sessionUUID=$A1_SESSION&accessKey=$A1_KEY&cursor=$f1&timeout=0")
    BODY=$(sed -n '/^{/,$p' <<<"$out")
    [ -z "$(notices_of)" ]
    # the poller gives the same answer for the same cursor
    poll A1 "$c0" 0
    [ "$CURSOR" = "$f1" ]
    [ "$(notices_of | cut -d' ' -f4)" = "$mid" ]
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
}
