#!/usr/bin/env bats
# Redis stalled (SIGSTOP): every wait stays bounded. A parked poll answers
# within its timeout + about 1 s, the poller's /health says 503, chat.fcgi
# fails fast once Redis is known down, and everything recovers by itself.
load helpers

setup_file() {
    export CHAT_REDIS_TIMEOUT_MS=1000
    stack_setup
}
teardown_file() {
    kill -CONT "$(cat "$TEST_DIR/redis.pid")" 2>/dev/null || true
    stack_teardown
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }
poller_health() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$TEST_DIR/poller.sock" http://p/health
}

@test "stalled Redis: a parked poll answers within its timeout + 1.5 s; /health 503; then recovers" {
    sign_in S "stall-$RANDOM"
    join S ""
    http GET "/poll?sessionUUID=$S_SESSION&timeout=0" -H "Authorization: Bearer $S_KEY"
    c0=$(jqb .cursor)
    curl -s --max-time 20 -o "$TEST_DIR/stall.poll" -w '%{http_code}' -H "Authorization: Bearer $S_KEY" \
        "$BASE/poll?sessionUUID=$S_SESSION&cursor=$c0&timeout=2" >"$TEST_DIR/stall.status" &
    bg=$!
    sleep 0.3
    t0=$(ms)
    kill -STOP "$(cat "$TEST_DIR/redis.pid")"
    wait "$bg"
    took=$(( $(ms) - t0 ))
    [ "$took" -lt 3500 ]
    grep -q '^{' "$TEST_DIR/stall.poll" # JSON, whatever the status
    stack_wait_for 3 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $TEST_DIR/poller.sock http://p/health)\" = 503 ]"
    # a first poll (no cursor) fails fast with a JSON 503
    t0=$(ms)
    http GET "/poll?sessionUUID=$S_SESSION&timeout=5" -H "Authorization: Bearer $S_KEY" --max-time 10
    [ $(( $(ms) - t0 )) -lt 1500 ]
    expect_error 503 221
    kill -CONT "$(cat "$TEST_DIR/redis.pid")"
    stack_wait_for 10 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $TEST_DIR/poller.sock http://p/health)\" = 200 ]"
    say S "" "after the stall"
    expect_status 200
    http GET "/poll?sessionUUID=$S_SESSION&cursor=$c0&timeout=5" -H "Authorization: Bearer $S_KEY"
    expect_status 200
    [ "$(jqb '[.messages[] | select(.type=="channelMessage")][0].channelMessage.Message')" = "after the stall" ]
}

@test "stalled Redis: 40 concurrent requests to chat.fcgi all 503 JSON within the timeout, then fail fast; recovery" {
    sign_in F "fast-$RANDOM"
    kill -STOP "$(cat "$TEST_DIR/redis.pid")"
    seq 1 40 | xargs -P 40 -I{} curl -s -o "$TEST_DIR/f.{}" -w '%{http_code} %{time_total}\n' \
        -X POST -H "Authorization: Bearer $F_KEY" --data-binary '{"type":"users"}' "$BASE/api" \
        >"$TEST_DIR/fast.out"
    # known down now: the next requests fail at once (one per second probes)
    for _ in $(seq 1 10); do
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST \
            -H "Authorization: Bearer $F_KEY" --data-binary '{"type":"users"}' "$BASE/api"
    done >"$TEST_DIR/fast2.out"
    kill -CONT "$(cat "$TEST_DIR/redis.pid")"
    [ "$(grep -c '^503 ' "$TEST_DIR/fast.out")" = 40 ]
    for f in "$TEST_DIR"/f.*; do [ "$(jq -r .error.code "$f")" = 221 ]; done
    rm -f "$TEST_DIR"/f.*
    # the 4 worker threads wait out one timeout (1 s), the queued rest fail
    # fast after them: nothing waits much past the timeout
    [ "$(awk '$2 > 1.6' "$TEST_DIR/fast.out" | wc -l)" = 0 ]
    [ "$(grep -c '^503 ' "$TEST_DIR/fast2.out")" = 10 ]
    [ "$(awk '$2 < 0.2' "$TEST_DIR/fast2.out" | wc -l)" -ge 8 ]
    stack_wait_for 5 curl -sf "$BASE/health"
    api '{"type":"users"}' "$F_KEY"
    expect_status 200
}
