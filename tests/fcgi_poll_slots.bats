#!/usr/bin/env bats
# /poll inside chat.fcgi keeps workers free for /api: a poll that finds no
# hold slot answers at once with pollAfter, and its cursor still delivers
# everything exactly once. Per process (CHAT_THREADS minus a quarter) and
# across processes (CHAT_POLL_HOLD_SLOTS through rcg:holds).
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# spawn NAME VAR=VALUE...: a spawn-fcgi'd chat.fcgi on $TEST_DIR/NAME.sock
spawn() {
    local name=$1
    shift
    env REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_FCGI_POLL=1 "$@" \
        spawn-fcgi -n -s "$TEST_DIR/$name.sock" -- "$ROOT/$BUILD/chat.fcgi" \
        2>>"$TEST_DIR/$name.log" &
    echo $! >"$TEST_DIR/$name.spawn.pid"
    stack_wait_for 10 test -S "$TEST_DIR/$name.sock"
}

# a responder a failed test left behind (only the ones started here)
teardown() {
    local f
    for f in "$TEST_DIR"/*.spawn.pid; do
        [ -e "$f" ] || continue
        kill -TERM "$(cat "$f")" 2>/dev/null || true
        rm -f "$f"
    done
}

unspawn() {
    local pid
    pid=$(cat "$TEST_DIR/$1.spawn.pid")
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    rm -f "$TEST_DIR/$1.spawn.pid"
}

# fpoll SOCK QUERY: GET /poll through the responder; prints the JSON
fpoll() {
    env -i REQUEST_METHOD=GET REQUEST_URI=/poll QUERY_STRING="$2" \
        cgi-fcgi -bind -connect "$1" </dev/null | sed -n '/^{/,$p'
}

# fpost SOCK JSON KEY: POST /api through the responder; prints the JSON
fpost() {
    printf '%s' "$2" | env -i REQUEST_METHOD=POST REQUEST_URI=/api \
        CONTENT_LENGTH=${#2} HTTP_AUTHORIZATION="Bearer $3" \
        cgi-fcgi -bind -connect "$1" | sed -n '/^{/,$p'
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# pollAfter is spread over 750..1500 ms (clients turned away together come
# back apart)
poll_after_in_range() {
    local after
    after=$(jq -r .pollAfter <<<"$1")
    [[ "$after" =~ ^[0-9]+$ ]] && [ "$after" -ge 750 ] && [ "$after" -le 1500 ]
}

@test "per process: with one slot taken, the next poll answers at once with pollAfter; /api is free" {
    spawn two CHAT_THREADS=2 # 2 threads: one may hold a poll, one is kept for /api
    sign_in A "slota-$RANDOM"; join A ""
    sign_in B "slotb-$RANDOM"; join B ""
    sock="$TEST_DIR/two.sock"
    ca=$(fpoll "$sock" "sessionUUID=$A_SESSION&accessKey=$A_KEY&timeout=0" | jq -r .cursor)
    cb=$(fpoll "$sock" "sessionUUID=$B_SESSION&accessKey=$B_KEY&timeout=0" | jq -r .cursor)
    fpoll "$sock" "sessionUUID=$A_SESSION&accessKey=$A_KEY&cursor=$ca&timeout=15" >"$TEST_DIR/held" &
    held=$!
    sleep 0.5
    t0=$(ms)
    out=$(fpoll "$sock" "sessionUUID=$B_SESSION&accessKey=$B_KEY&cursor=$cb&timeout=15")
    [ $(( $(ms) - t0 )) -lt 1000 ]
    poll_after_in_range "$out"
    [ "$(jq -r '.messages | length' <<<"$out")" = 0 ]
    [ "$(jq -r .cursor <<<"$out")" = "$cb" ]
    # spread: ten clients turned away together do not all come back together
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        fpoll "$sock" "sessionUUID=$B_SESSION&accessKey=$B_KEY&cursor=$cb&timeout=15" | jq -r .pollAfter
    done >"$TEST_DIR/afters"
    [ "$(sort -u "$TEST_DIR/afters" | wc -l)" -ge 4 ]
    t0=$(ms)
    out=$(fpost "$sock" '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"slot-msg"}}' "$A_KEY")
    [ $(( $(ms) - t0 )) -lt 1000 ]
    [ "$(jq -r .type <<<"$out")" = channelMessage ]
    wait "$held"
    [ "$(jq -r '[.messages[] | select(.type=="channelMessage") | .channelMessage.Message] | join(",")' "$TEST_DIR/held")" = slot-msg ]
    # B's next poll with its cursor gets the message, once
    out=$(fpoll "$sock" "sessionUUID=$B_SESSION&accessKey=$B_KEY&cursor=$cb&timeout=0")
    [ "$(jq -r '[.messages[] | select(.type=="channelMessage") | .channelMessage.Message] | join(",")' <<<"$out")" = slot-msg ]
    cb=$(jq -r .cursor <<<"$out")
    out=$(fpoll "$sock" "sessionUUID=$B_SESSION&accessKey=$B_KEY&cursor=$cb&timeout=0")
    [ "$(jq -r '[.messages[] | select(.type=="channelMessage")] | length' <<<"$out")" = 0 ]
    unspawn two
}

@test "across processes: CHAT_POLL_HOLD_SLOTS=1 is one holder for every responder of this Redis" {
    spawn p1 CHAT_THREADS=4 CHAT_POLL_HOLD_SLOTS=1
    spawn p2 CHAT_THREADS=4 CHAT_POLL_HOLD_SLOTS=1
    sign_in C "slotc-$RANDOM"; join C ""
    sign_in D "slotd-$RANDOM"; join D ""
    cc=$(fpoll "$TEST_DIR/p1.sock" "sessionUUID=$C_SESSION&accessKey=$C_KEY&timeout=0" | jq -r .cursor)
    cd=$(fpoll "$TEST_DIR/p2.sock" "sessionUUID=$D_SESSION&accessKey=$D_KEY&timeout=0" | jq -r .cursor)
    fpoll "$TEST_DIR/p1.sock" "sessionUUID=$C_SESSION&accessKey=$C_KEY&cursor=$cc&timeout=3" >"$TEST_DIR/held2" &
    held=$!
    sleep 0.5
    [ "$(rcli zcard rcg:holds)" = 1 ]
    out=$(fpoll "$TEST_DIR/p2.sock" "sessionUUID=$D_SESSION&accessKey=$D_KEY&cursor=$cd&timeout=3")
    poll_after_in_range "$out"
    wait "$held"
    [ "$(rcli zcard rcg:holds)" = 0 ] # given back when the hold ended
    # now the other responder may hold one
    t0=$(ms)
    out=$(fpoll "$TEST_DIR/p2.sock" "sessionUUID=$D_SESSION&accessKey=$D_KEY&cursor=$cd&timeout=1")
    [ $(( $(ms) - t0 )) -ge 900 ]
    [ "$(jq -r '.pollAfter // "none"' <<<"$out")" = none ]
    unspawn p1
    unspawn p2
}

@test "one thread and no shared slots: a warning at start names CHAT_POLL_HOLD_SLOTS, and polls are not held" {
    spawn one CHAT_THREADS=1 CHAT_POLL_HOLD_SLOTS=0
    stack_wait_for 5 grep -q "CHAT_POLL_HOLD_SLOTS" "$TEST_DIR/one.log"
    grep "CHAT_THREADS=1 with CHAT_POLL_HOLD_SLOTS=0" "$TEST_DIR/one.log"
    sign_in O "one-$RANDOM"
    c=$(fpoll "$TEST_DIR/one.sock" "sessionUUID=$O_SESSION&accessKey=$O_KEY&timeout=0" | jq -r .cursor)
    t0=$(ms)
    out=$(fpoll "$TEST_DIR/one.sock" "sessionUUID=$O_SESSION&accessKey=$O_KEY&cursor=$c&timeout=5")
    [ $(( $(ms) - t0 )) -lt 1000 ]
    poll_after_in_range "$out"
    unspawn one
    # with shared slots there is nothing to warn about
    spawn two CHAT_THREADS=1 CHAT_POLL_HOLD_SLOTS=2
    out=$(fpoll "$TEST_DIR/two.sock" "sessionUUID=$O_SESSION&accessKey=$O_KEY&cursor=$c&timeout=0")
    [ "$(jq -r .cursor <<<"$out")" = "$c" ] # started and answering
    ! grep -q "CHAT_POLL_HOLD_SLOTS" "$TEST_DIR/two.log"
    unspawn two
}
