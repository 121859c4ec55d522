#!/usr/bin/env bats
# Redis stopped and restarted under a running gateway: clear 503s with
# Retry-After while it is away, recovery by itself, no data lost (AOF).
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

@test "Redis down: 503 JSON with Retry-After; back up: recovers by itself" {
    sign_in A uma
    join A ""
    say A "" "before the outage"
    expect_status 200
    stack_redis_stop "$TEST_DIR" "$REDIS_PORT"

    for body in '{"type":"ready"}' \
                '{"type":"signIn","signIn":{"username":"uma","password":"secret-uma"}}'; do
        api "$body"
        expect_error 503 221
    done
    for t in users channelJoin channelMessage; do
        api "{\"type\":\"$t\",\"$t\":{\"recipientUUID\":\"\",\"message\":\"lost?\"}}" "$A_KEY"
        expect_error 503 221
    done
    headers=$(curl -s -D - -o /dev/null -X POST --data-binary '{"type":"ready"}' "$BASE/api")
    grep -qi '^Retry-After: [1-9]' <<<"$headers"
    http GET /health
    expect_status 503
    [ "$(jqb .type)" = error ]

    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
    stack_wait_for 10 curl -sf "$BASE/health"
    # every worker thread reconnects on its own, on its next request
    for i in $(seq 1 12); do
        api '{"type":"users"}' "$A_KEY"
        expect_status 200
    done
    say A "" "after the outage"
    expect_status 200
    join A ""
    msgs=$(jqb '.channelJoin.messages | map(.Message) | join("|")')
    [[ "$msgs" == *"before the outage|after the outage" ]]
    [[ "$msgs" != *"lost?"* ]]
}

@test "a Redis restart between requests costs no request an error" {
    sign_in A vic
    for i in $(seq 1 8); do api '{"type":"users"}' "$A_KEY"; done
    stack_redis_stop "$TEST_DIR" "$REDIS_PORT"
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
    # stale connections are noticed before use: no 503 here
    for i in $(seq 1 12); do
        say A "" "m$i"
        expect_status 200
    done
    [ "$(rcli lrange channelMessages.public 0 -1 | grep -c '"Message":"m[0-9]*"')" = 12 ]
}

@test "scripts are reloaded after Redis loses its script cache" {
    sign_in A walt
    rcli script flush > /dev/null
    say A "" "after flush"
    expect_status 200
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
}

# poller_health_is STATUS: the poller's own GET /health answers STATUS.
poller_health_is() {
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
        --unix-socket "$TEST_DIR/poller.sock" http://p/health)" = "$1" ]
}

@test "Redis down: the poller's own /health is 503 with Retry-After, like every 503" {
    stack_redis_stop "$TEST_DIR" "$REDIS_PORT"
    stack_wait_for 10 poller_health_is 503
    headers=$(curl -s -D - -o "$TEST_DIR/h.json" --unix-socket "$TEST_DIR/poller.sock" http://p/health)
    grep -qi '^Retry-After: [1-9]' <<<"$headers"
    [ "$(jq -r .status "$TEST_DIR/h.json")" = "redis unavailable" ]
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
    stack_wait_for 10 poller_health_is 200
    ! curl -s -D - -o /dev/null --unix-socket "$TEST_DIR/poller.sock" http://p/health |
        grep -qi '^Retry-After'
}
