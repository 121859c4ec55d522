#!/usr/bin/env bats
# Redis connection options, each through chat.fcgi (as CGI) and chat-poller:
# REDIS_DB (SELECT), REDIS_USERNAME (an ACL user), an IPv6 literal
# ([::1]:port) and a unix socket. A Redis of its own: ACL user, ::1 bound.
load helpers

setup_file() {
    export BUILD=${BUILD:-build/release}
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    REDIS_PORT=$(stack_free_port)
    POLLER_PORT=$(stack_free_port)
    export TEST_DIR REDIS_PORT POLLER_PORT
    export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192
    export ASAN_OPTIONS="log_path=$TEST_DIR/asan:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TEST_DIR/ubsan"
    # the default user needs the password too, so an unauthenticated
    # connection cannot work by accident
    cat >"$TEST_DIR/redis.conf" <<CONF
user default on >default-pw ~* &* +@all
user chatgw on >gw-pw ~* &* +@all
CONF
    stack_spawn redis-server "$TEST_DIR/redis.conf" --port "$REDIS_PORT" \
        --bind 127.0.0.1 ::1 --unixsocket "$TEST_DIR/redis.sock" \
        --unixsocketperm 700 --save '' --appendonly no --dir "$TEST_DIR" \
        --logfile "$TEST_DIR/redis.log"
    echo $! >"$TEST_DIR/redis.pid"
    stack_wait_for 10 rcli ping
}

teardown_file() {
    local pid
    pid=$(cat "$TEST_DIR/redis.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
    [ -n "${pid:-}" ] && stack_wait_for 10 stack_gone "$pid"
    local reports
    reports=$(ls "$TEST_DIR"/asan.* "$TEST_DIR"/ubsan.* 2>/dev/null || true)
    [ -n "$reports" ] && { cat $reports >&2; rm -rf "$TEST_DIR"; return 1; }
    [ -n "${KEEP:-}" ] || rm -rf "$TEST_DIR"
}

rcli() { redis-cli -p "$REDIS_PORT" --user chatgw --pass gw-pw --no-auth-warning "$@"; }

# cgi_api JSON VAR=VALUE...: POST /api as CGI with these settings; sets BODY.
cgi_api() {
    local json=$1
    shift
    BODY=$(printf '%s' "$json" | env -i PATH="$PATH" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 "$@" \
        GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=/api \
        CONTENT_LENGTH=${#json} "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/cgi.log" |
        sed '1,/^\r$/d')
}

# signs a user in through CGI with the given settings; prints the uuid
cgi_sign_in() {
    local name=$1
    shift
    cgi_api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"$name\",\"password\":\"p\"}}" "$@"
    jq -r .authorized.userUUID <<<"$BODY"
}

@test "REDIS_USERNAME + REDIS_PASSWORD authenticate as an ACL user; a wrong user is 503" {
    u=$(cgi_sign_in acl-user REDIS_ADDRESS=127.0.0.1:$REDIS_PORT \
        REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw)
    [[ $u =~ ^[0-9a-f-]{36}$ ]]
    [ "$(rcli get "usersUUIDListIndex.$u")" != "" ]
    cgi_api '{"type":"ready"}' REDIS_ADDRESS=127.0.0.1:$REDIS_PORT \
        REDIS_USERNAME=chatgw REDIS_PASSWORD=wrong
    [ "$(jq -r .error.code <<<"$BODY")" = 221 ]
}

@test "REDIS_DB selects the database, for chat.fcgi and the poller" {
    u=$(cgi_sign_in db-user REDIS_ADDRESS=127.0.0.1:$REDIS_PORT \
        REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw REDIS_DB=5)
    [[ $u =~ ^[0-9a-f-]{36}$ ]]
    [ "$(rcli -n 5 get "usersUUIDListIndex.$u")" != "" ]
    [ -z "$(rcli -n 0 get "usersUUIDListIndex.$u")" ]
    REDIS_ADDRESS=127.0.0.1:$REDIS_PORT REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw \
        REDIS_DB=5 CHAT_POLLER_ADDRESS=127.0.0.1:$POLLER_PORT \
        stack_spawn "$ROOT/$BUILD/chat-poller" 2>>"$TEST_DIR/poller.log"
    pid=$!
    stack_wait_for 10 curl -sf "http://127.0.0.1:$POLLER_PORT/health"
    # a session and a key that exist in db 5 only; a parked poll wakes on a
    # message written to db 5 (its keyspace channel is __keyspace@5__)
    db5=(REDIS_ADDRESS=127.0.0.1:$REDIS_PORT REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw REDIS_DB=5)
    cgi_api '{"type":"ready"}' "${db5[@]}"
    s=$(jq -r .ready.sessionUUID <<<"$BODY")
    cgi_api "{\"type\":\"signIn\",\"sessionUUID\":\"$s\",\"signIn\":{\"username\":\"db-user\",\"password\":\"p\"}}" "${db5[@]}"
    k=$(jq -r .authorized.accessKey <<<"$BODY")
    cgi_api "{\"type\":\"channelJoin\",\"sessionUUID\":\"$s\",\"channelJoin\":{\"recipientUUID\":\"\"}}" \
        "${db5[@]}" HTTP_AUTHORIZATION="Bearer $k"
    [ "$(jq -r .type <<<"$BODY")" = channelJoin ]
    cur=$(curl -s "http://127.0.0.1:$POLLER_PORT/poll?sessionUUID=$s&accessKey=$k&timeout=0" | jq -r .cursor)
    [ -n "$cur" ] && [ "$cur" != null ]
    curl -s --max-time 10 "http://127.0.0.1:$POLLER_PORT/poll?sessionUUID=$s&accessKey=$k&cursor=$cur&timeout=8" \
        >"$TEST_DIR/db5.poll" &
    bg=$!
    sleep 0.5
    start=$(date +%s%N)
    cgi_api '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"in db five"}}' \
        "${db5[@]}" HTTP_AUTHORIZATION="Bearer $k"
    wait "$bg"
    [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]
    kill "$pid"; wait "$pid" || true
    [ "$(jq -r '.messages[0].channelMessage.Message' "$TEST_DIR/db5.poll")" = "in db five" ]
    [ "$(rcli -n 5 llen channelMessages.public)" = 1 ]
    [ "$(rcli -n 0 llen channelMessages.public)" = 0 ]
}

@test "an IPv6 literal [::1]:port, and a unix socket path" {
    u=$(cgi_sign_in v6-user "REDIS_ADDRESS=[::1]:$REDIS_PORT" \
        REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw)
    [[ $u =~ ^[0-9a-f-]{36}$ ]]
    u=$(cgi_sign_in sock-user "REDIS_ADDRESS=$TEST_DIR/redis.sock" \
        REDIS_USERNAME=chatgw REDIS_PASSWORD=gw-pw)
    [[ $u =~ ^[0-9a-f-]{36}$ ]]
    # a bare v6 literal is refused with the variable named
    cgi_api '{"type":"ready"}' REDIS_ADDRESS=::1:$REDIS_PORT
    [ "$(jq -r .error.code <<<"$BODY")" = 222 ]
    grep -q 'REDIS_ADDRESS' "$TEST_DIR/cgi.log"
}
