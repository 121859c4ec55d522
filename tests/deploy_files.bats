#!/usr/bin/env bats
# The shipped operations files: the sample env file configures both
# programs as it says, and the systemd units are valid and start what they
# name (paths pointed at this build, run here without systemd).
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# env_of FILE: the VAR=value lines of an env file, for env(1)
env_of() { grep -E '^[A-Z_]+=' "$1"; }

@test "deploy/chat.env.example: every variable is one the programs read, and it loads" {
    while IFS='=' read -r var _; do
        grep -q "\"$var\"" "$ROOT/common/config.c" || { echo "unknown $var" >&2; return 1; }
    done < <(env_of "$ROOT/deploy/chat.env.example"; grep -E '^#[A-Z_]+=' "$ROOT/deploy/chat.env.example" | tr -d '#')
    # the poller starts with it (socket and Redis pointed at this test)
    mapfile -t vars < <(env_of "$ROOT/deploy/chat.env.example" |
        grep -v -E '^(REDIS_ADDRESS|CHAT_POLLER_SOCKET)=')
    env "${vars[@]}" REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_POLLER_SOCKET="$TEST_DIR/env-poller.sock" \
        "$ROOT/$BUILD/chat-poller" 2>>"$TEST_DIR/env-poller.log" &
    pid=$!
    stack_wait_for 10 curl -sf --unix-socket "$TEST_DIR/env-poller.sock" http://p/health
    kill -TERM "$pid"
    wait "$pid"
}

@test "deploy/systemd units are valid and their ExecStart lines run" {
    command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
    mkdir -p "$TEST_DIR/units"
    for u in chat-poller chat-fcgi; do
        sed -e "s|/usr/local/bin/|$ROOT/$BUILD/|" "$ROOT/deploy/systemd/$u.service" \
            >"$TEST_DIR/units/$u.service"
        run systemd-analyze verify "$TEST_DIR/units/$u.service"
        echo "$output"
        ! grep -Eiq 'error|invalid|unknown' <<<"$output"
    done
    # the spawn-fcgi line, with the socket in this test's directory
    cmd=$(sed -n 's/^ExecStart=//p' "$TEST_DIR/units/chat-fcgi.service" |
        sed "s|/run/redis-chat-gateway/|$TEST_DIR/|")
    REDIS_ADDRESS="$REDIS_ADDRESS" $cmd 2>>"$TEST_DIR/unit-fcgi.log" &
    pid=$!
    stack_wait_for 10 test -S "$TEST_DIR/chat-fcgi.sock"
    out=$(printf '{"type":"ready"}' | env -i REQUEST_METHOD=POST REQUEST_URI=/api CONTENT_LENGTH=16 \
        cgi-fcgi -bind -connect "$TEST_DIR/chat-fcgi.sock")
    kill -TERM "$pid"
    wait "$pid" || true
    grep -q '"sessionUUID"' <<<"$out"
}
