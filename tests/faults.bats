#!/usr/bin/env bats
# Faults, one at a time, under a scripted chat (real processes): 3 users,
# the public channel and a private one, 300 messages sent through /api
# behind lighttpd by a sender that retries with the same clientId, two
# long-poll and two SSE receivers that retry with their cursors
# (tests/faults.bash). After each fault every acknowledged message reached
# every receiver of its channel exactly once and in order, every error
# answer was JSON, and Redis is consistent.
load helpers
load faults

setup_file() {
    export CHAT_REDIS_TIMEOUT_MS=1000
    FAULT_CONF=$(mktemp /tmp/chat-test-faults.XXXXXX)
    printf 'appendonly yes\n' >"$FAULT_CONF"
    export STACK_REDIS_CONF=$FAULT_CONF FAULT_CONF
    stack_setup
    export FAULT_DIR=$TEST_DIR/faults
    mkdir -p "$FAULT_DIR"
    : >"$FAULT_DIR/acked"
    : >"$FAULT_DIR/errors"
    # the senders (their first sessions) and the receivers' own sessions:
    # C and a second session of A follow the public channel, two sessions
    # of B follow B's private channel with A
    sign_in A "fa-$RANDOM"
    A_NAME=$(rcli lindex users -1 | jq -r .Username)
    sign_in B "fb-$RANDOM"
    B_NAME=$(rcli lindex users -1 | jq -r .Username)
    sign_in C "fc-$RANDOM"
    sign_in PC "$(rcli lindex users -1 | jq -r .Username)"
    sign_in SA "$A_NAME"
    sign_in PB "$B_NAME"
    sign_in SB "$B_NAME"
    join PC ""
    join SA ""
    join PB "$A_UUID"
    join SB "$A_UUID"
    export A_KEY B_KEY C_KEY A_UUID B_UUID
    : >"$FAULT_DIR/receivers.pid"
    for r in "poll PC public" "sse SA public" "poll PB private" "sse SB private"; do
        set -- $r
        s=$(eval echo "\$${2}_SESSION") k=$(eval echo "\$${2}_KEY")
        "fault_${1}_receiver" "$2-$3" "$s" "$k" </dev/null >>"$FAULT_DIR/receivers.log" 2>&1 3>&- &
        echo $! >>"$FAULT_DIR/receivers.pid"
    done
}

teardown_file() {
    local p k
    # a fault still running (its phase failed early) would start lighttpd,
    # Redis or the poller again after the stop below: let it end first
    p=$(cat "$FAULT_DIR/fault.pid" 2>/dev/null) &&
        stack_wait_for 20 stack_gone "$p" || true
    kill -CONT "$(cat "$TEST_DIR/redis.pid")" 2>/dev/null || true
    while read -r p; do
        k=$(stack_pids_below "$p")
        kill "$p" $k 2>/dev/null || true
    done <"$FAULT_DIR/receivers.pid"
    stack_teardown
    rm -f "$FAULT_CONF"
}

# the faults, each run in the background while messages go on
fault_none() { :; }
fault_redis_stop() {
    kill -STOP "$(cat "$TEST_DIR/redis.pid")"
    sleep 5
    kill -CONT "$(cat "$TEST_DIR/redis.pid")"
}
fault_redis_kill() {
    kill -9 "$(cat "$TEST_DIR/redis.pid")"
    sleep 0.5
    # the same directory: Redis loads its AOF
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
}
fault_poller_kill() {
    kill -9 "$(cat "$TEST_DIR/poller.pid")"
    sleep 0.5
    stack_poller_start "$TEST_DIR"
}
fault_fcgi_kill() {
    # lighttpd spawned chat.fcgi and respawns it
    kill -9 "$(pgrep -P "$(cat "$TEST_DIR/lighttpd.pid.bg")" | head -1)"
}
fault_lighttpd_restart() {
    stack_lighttpd_stop "$TEST_DIR"
    stack_lighttpd_start "$TEST_DIR" "$HTTP_PORT"
}

# phase N FAULT COUNT: COUNT messages tagged fN-, the fault started after
# the first third; then the delivery, JSON and Redis checks, and one
# summary line (retries and error answers of this phase).
phase() {
    local n=$1 fault=$2 count=$3 i fpid e0 t0
    e0=$(wc -l <"$FAULT_DIR/errors")
    t0=$(date +%s%N)
    for i in $(seq 1 "$count"); do
        [ "$i" = $(( count / 3 )) ] && {
            "fault_$fault" </dev/null >>"$FAULT_DIR/fault.log" 2>&1 3>&- &
            fpid=$!
            echo "$fpid" >"$FAULT_DIR/fault.pid"
        }
        case $(( i % 10 )) in
        7 | 9) fault_send "$A_KEY" "$B_UUID" "f$n-$i a to b" private ;;
        8) fault_send "$B_KEY" "$A_UUID" "f$n-$i b to a" private ;;
        *) case $(( i % 3 )) in
           0) fault_send "$A_KEY" "" "f$n-$i from a" public ;;
           1) fault_send "$B_KEY" "" "f$n-$i from b" public ;;
           2) fault_send "$C_KEY" "" "f$n-$i from c" public ;;
           esac ;;
        esac
    done
    wait "$fpid"
    for r in PC-public:public SA-public:public PB-private:private SB-private:private; do
        fault_expect_delivered "${r%%:*}" "${r#*:}"
    done
    fault_redis_consistent
    local errs sends recv nojson
    errs=$(tail -n +$((e0 + 1)) "$FAULT_DIR/errors")
    sends=$(grep -c '^send ' <<<"$errs" || true)
    recv=$(grep -vc '^send \|^$' <<<"$errs" || true)
    nojson=$(grep -c ' no$' <<<"$errs" || true)
    echo "fault $fault: $count messages in $(( ($(date +%s%N) - t0) / 1000000 )) ms;" \
        "sender retries $sends ($(grep '^send ' <<<"$errs" | cut -d' ' -f2 | sort | uniq -c | tr -s ' ' | tr '\n' ',')) ;" \
        "receiver errors $recv ($(grep -v '^send \|^$' <<<"$errs" | cut -d' ' -f2 | sort | uniq -c | tr -s ' ' | tr '\n' ',')); not JSON $nojson" \
        | tee -a "$FAULT_DIR/summary" >&2
    mkdir -p "$ROOT/tests/artifacts" && cp "$FAULT_DIR/summary" "$ROOT/tests/artifacts/faults-summary.$(basename "$BUILD")"
    cp "$FAULT_DIR/bodies" "$ROOT/tests/artifacts/faults-bodies.$(basename "$BUILD")" 2>/dev/null || true
    [ "$nojson" = 0 ] || { grep -A1 ' no:$' "$FAULT_DIR/bodies" >&2; return 1; }
    ! grep -q ' reset$' <<<"$errs"
}

@test "no fault: 50 messages reach every receiver once, in order" {
    phase 0 none 50
}

@test "Redis SIGSTOP for 5 s: nothing lost or doubled, errors JSON, Redis consistent" {
    phase 1 redis_stop 50
}

@test "Redis SIGKILL, restart from its AOF: nothing lost or doubled, errors JSON, Redis consistent" {
    phase 2 redis_kill 50
}

@test "chat-poller SIGKILL and restart: nothing lost or doubled, errors JSON, Redis consistent" {
    phase 3 poller_kill 50
}

@test "chat.fcgi SIGKILL (lighttpd respawns it): nothing lost or doubled, errors JSON, Redis consistent" {
    phase 4 fcgi_kill 50
}

@test "lighttpd restart: nothing lost or doubled, errors JSON, Redis consistent" {
    phase 5 lighttpd_restart 50
}
