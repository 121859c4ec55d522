#!/usr/bin/env bats
# Several hosts on one Redis: two front servers (lighttpd, each with its
# chat.fcgi) and two chat-pollers, one host on 127.0.0.2 and one on
# 127.0.0.3, and a chat whose clients alternate between the two hosts on
# every request (tests/chat_driver.mjs, long-poll and SSE receivers).
load helpers

setup() {
    export BUILD=${BUILD:-build/release}
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    REDIS_PORT=$(stack_free_port)
    export TEST_DIR REDIS_PORT
    export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_MSG_RATE=100000
    export CHAT_THREADS=4 CHAT_LOG_LEVEL=info CHAT_USERS_CACHE_MS=0
    export ASAN_OPTIONS="log_path=$TEST_DIR/asan:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TEST_DIR/ubsan"
    DRIVER_PID=""
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
    export REDIS_ADDRESS=127.0.0.1:$REDIS_PORT STACK_REDIS_EXTERNAL=1
    RUN_PID=""
}

teardown() {
    local f
    if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
        for f in h1/poller.log h2/poller.log h1/lighttpd-stderr.log \
            h2/lighttpd-stderr.log driver.out; do
            [ -e "$TEST_DIR/$f" ] && { echo "== $f"; tail -n 15 "$TEST_DIR/$f"; }
        done >&2
    fi
    for f in "$DRIVER_PID" "$RUN_PID"; do
        [ -n "$f" ] || continue
        kill "$f" 2>/dev/null || true
        wait "$f" 2>/dev/null || true
    done
    stack_stop "$TEST_DIR/h1" 0
    stack_stop "$TEST_DIR/h2" 0
    stack_teardown
}

# host_up N ADDRESS: host N (chat-poller, lighttpd + chat.fcgi) in
# TEST_DIR/hN, serving on ADDRESS; its base URL in HOST_N.
host_up() {
    local dir=$TEST_DIR/h$1 port
    port=$(stack_free_port)
    mkdir -p "$dir"
    STACK_HTTP_HOST=$2 stack_start "$dir" "$port" 0
    printf -v "HOST_$1" 'http://%s:%s' "$2" "$port"
}

# host_kill N: every process of host N dies at once (SIGKILL): the poller,
# lighttpd and the chat.fcgi it spawned.
host_kill() {
    local dir=$TEST_DIR/h$1 lt kids
    lt=$(stack_pid_of "$dir/lighttpd.pid.bg" lighttpd)
    kids=$(stack_pids_below "$lt")
    kill -9 "$lt" $kids "$(stack_pid_of "$dir/poller.pid" chat-poller)"
    rm -f "$dir/lighttpd.pid.bg" "$dir/poller.pid"
}

acked() { cat "$TEST_DIR/driver.acked" 2>/dev/null || echo 0; }
acked_ge() { [ "$(acked)" -ge "$1" ]; }
report() { jq -r "$1" "$TEST_DIR/driver.json"; }

@test "two hosts on one Redis, clients alternating: killing one host's processes keeps every client's chat going, nothing lost" {
    host_up 1 127.0.0.2
    host_up 2 127.0.0.3
    curl -sf "$HOST_1/health"
    curl -sf "$HOST_2/health"
    DIR=$TEST_DIR BASES="$HOST_1,$HOST_2" USERS=4 MODES=poll,sse \
        stack_spawn node "$ROOT/tests/chat_driver.mjs" > "$TEST_DIR/driver.out" 2>&1
    DRIVER_PID=$!
    stack_wait_up "$DRIVER_PID" 30 test -e "$TEST_DIR/driver.ready"
    stack_wait_for 20 acked_ge 30
    host_kill 1
    before=$(acked)
    ! curl -s --max-time 2 "$HOST_1/health"
    stack_wait_for 20 acked_ge $((before + 40))
    touch "$TEST_DIR/driver.stop"
    wait "$DRIVER_PID"
    DRIVER_PID=""
    cat "$TEST_DIR/driver.json"
    [ "$(report '.acked')" -ge 70 ]
    [ "$(report '.unacked')" = 0 ]
    [ "$(report '[.receivers[] | .missing + .duplicates + .resets + .cursorErrors] | add')" = 0 ]
    [ "$(report '[.receivers[] | select(.mode == "sse")] | length')" = 2 ]
    [ "$(report '.maxAckGapMs')" -lt 5000 ]
    [ "$(report '.maxDeliveryMs')" -lt 5000 ]
    # the clients did meet the dead host, and went on on the other
    [ "$(report '[.errors | to_entries[] | select(.key | test("net")) | .value] | add')" -ge 1 ]
}

@test "make run with REDIS_ADDRESS set uses that Redis and starts none of its own" {
    local port
    port=$(stack_free_port)
    unset STACK_REDIS_EXTERNAL
    STACK_RUN_DIR=$TEST_DIR/run CHAT_HTTP_PORT=$port \
        stack_spawn bash "$ROOT/tools/stack.sh" run > "$TEST_DIR/run.out" 2>&1
    RUN_PID=$!
    stack_wait_up "$RUN_PID" 20 curl -sf "http://127.0.0.1:$port/health"
    [ "$(curl -s "http://127.0.0.1:$port/api" -d '{"type":"ready"}' | jq -r .type)" = ready ]
    [ "$(rcli dbsize)" -ge 1 ]
    [ ! -e "$TEST_DIR/run/redis.pid" ]
    grep -q "using the Redis at 127.0.0.1:$REDIS_PORT" "$TEST_DIR/run.out"
    kill -TERM "$RUN_PID"
    wait "$RUN_PID"
    RUN_PID=""
    # the Redis of the environment is left running
    rcli ping
}
