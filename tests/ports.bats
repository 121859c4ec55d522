#!/usr/bin/env bats
# Ports: `make run` (stack.sh run) and the tests' stack refuse a port that
# another process already listens on, with one line naming it, and stop
# only the processes they started, by pid: a squatter on the HTTP port or
# another Redis on the Redis port keeps running, with its data.
load helpers

setup() {
    export BUILD=${BUILD:-build/release}
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    HTTP_PORT=$(stack_free_port)
    REDIS_PORT=$(stack_free_port)
    export TEST_DIR HTTP_PORT REDIS_PORT
    SQUAT=$TEST_DIR/squat
    mkdir -p "$SQUAT"
}

teardown() {
    stack_stop "$TEST_DIR/stack" "$REDIS_PORT"
    stack_stop_pid "$SQUAT/redis.pid" TERM redis-server
    stack_stop_pid "$SQUAT/lighttpd.pid" TERM lighttpd
    rm -rf "$TEST_DIR"
}

# squat_http PORT: a lighttpd of ours on PORT that answers /health 200, as
# the stack's own would (the old stack took it for its own).
squat_http() {
    echo ok > "$SQUAT/health"
    printf '%s\n' "server.document-root = \"$SQUAT\"" 'server.bind = "127.0.0.1"' \
        "server.port = $1" > "$SQUAT/lighttpd.conf"
    stack_spawn lighttpd -D -f "$SQUAT/lighttpd.conf" 2>>"$SQUAT/lighttpd.log"
    echo $! > "$SQUAT/lighttpd.pid"
    stack_wait_for 10 curl -sf "http://127.0.0.1:$1/health"
}

# squat_redis PORT: another redis-server on PORT holding a key.
squat_redis() {
    stack_spawn redis-server --port "$1" --bind 127.0.0.1 --save '' \
        --dir "$SQUAT" --daemonize no --logfile "$SQUAT/redis.log"
    echo $! > "$SQUAT/redis.pid"
    stack_wait_for 10 redis-cli -p "$1" ping
    redis-cli -p "$1" set squatter mine >/dev/null
}

squatter_alive() { # NAME
    kill -0 "$(cat "$SQUAT/$1.pid")"
}

@test "a taken HTTP port is refused in one line; nothing starts, the squatter lives" {
    squat_http "$HTTP_PORT"
    run stack_start "$TEST_DIR/stack" "$HTTP_PORT" "$REDIS_PORT"
    [ "$status" -ne 0 ]
    echo "$output"
    [ "$(grep -c "127.0.0.1:$HTTP_PORT is already in use" <<<"$output")" = 1 ]
    # nothing of ours started: no Redis on its port, no pid files
    ! stack_port_busy "$REDIS_PORT"
    [ -z "$(ls "$TEST_DIR/stack"/*.pid* 2>/dev/null)" ]
    stack_stop "$TEST_DIR/stack" "$REDIS_PORT"
    squatter_alive lighttpd
    curl -sf "http://127.0.0.1:$HTTP_PORT/health"
}

@test "another Redis on the Redis port is refused and never shut down" {
    squat_redis "$REDIS_PORT"
    run stack_start "$TEST_DIR/stack" "$HTTP_PORT" "$REDIS_PORT"
    [ "$status" -ne 0 ]
    [ "$(grep -c "127.0.0.1:$REDIS_PORT is already in use" <<<"$output")" = 1 ]
    ! stack_port_busy "$HTTP_PORT"
    stack_stop "$TEST_DIR/stack" "$REDIS_PORT"
    squatter_alive redis
    [ "$(redis-cli -p "$REDIS_PORT" get squatter)" = mine ]
}

@test "make run (stack.sh run) refuses a taken port with one line and exits" {
    squat_redis "$REDIS_PORT"
    run env STACK_RUN_DIR="$TEST_DIR/stack" CHAT_HTTP_PORT="$HTTP_PORT" \
        CHAT_REDIS_PORT="$REDIS_PORT" timeout 30 bash "$ROOT/tools/stack.sh" run
    [ "$status" = 1 ]
    echo "$output"
    [ "$(grep -c "127.0.0.1:$REDIS_PORT is already in use" <<<"$output")" = 1 ]
    [ "$(grep -c 'chat is up' <<<"$output")" = 0 ]
    squatter_alive redis
    [ "$(redis-cli -p "$REDIS_PORT" get squatter)" = mine ]
    squat_http "$HTTP_PORT"
    stack_stop_pid "$SQUAT/redis.pid" TERM redis-server
    run env STACK_RUN_DIR="$TEST_DIR/stack" CHAT_HTTP_PORT="$HTTP_PORT" \
        CHAT_REDIS_PORT="$REDIS_PORT" timeout 30 bash "$ROOT/tools/stack.sh" run
    [ "$status" = 1 ]
    [ "$(grep -c "127.0.0.1:$HTTP_PORT is already in use" <<<"$output")" = 1 ]
    squatter_alive lighttpd
    ! stack_port_busy "$REDIS_PORT"
}

@test "a running stack stops only its own processes, by pid" {
    stack_start "$TEST_DIR/stack" "$HTTP_PORT" "$REDIS_PORT"
    # a second stack in the same directory is refused, the first untouched
    run stack_claim "$TEST_DIR/stack"
    [ "$status" -ne 0 ]
    grep -q "already runs in $TEST_DIR/stack" <<<"$output"
    curl -sf "http://127.0.0.1:$HTTP_PORT/health"
    ours=$(cat "$TEST_DIR/stack/redis.pid")
    stack_stop "$TEST_DIR/stack" "$REDIS_PORT"
    ! kill -0 "$ours" 2>/dev/null
    ! stack_port_busy "$HTTP_PORT"
    ! stack_port_busy "$REDIS_PORT"
    # a pid file left behind that names someone else's process: not signalled
    squat_redis "$REDIS_PORT"
    sleep 600 3>&- &
    other=$!
    echo "$other" > "$TEST_DIR/stack/redis.pid"
    cp "$SQUAT/redis.pid" "$TEST_DIR/stack/lighttpd.pid.bg"
    stack_stop "$TEST_DIR/stack" "$REDIS_PORT"
    kill -0 "$other"
    squatter_alive redis
    kill "$other"
    [ ! -e "$TEST_DIR/stack/redis.pid" ]
}
