#!/usr/bin/env bats
# Retries after a 503 store nothing twice. With Redis stalled (SIGSTOP) past
# CHAT_REDIS_TIMEOUT_MS the gateway answers 503, yet Redis runs the command
# when it resumes; the client's retry must then answer what was stored.
load helpers

setup_file() {
    export CHAT_REDIS_TIMEOUT_MS=500
    stack_setup
}
teardown_file() { stack_teardown; }

redis_pid() { cat "$TEST_DIR/redis.pid"; }

# stalled CMD...: runs CMD while Redis is stopped, then lets Redis go on
# and waits until the gateway, which fails fast once it saw Redis down,
# has probed it back (a client retries after Retry-After the same way).
stalled() {
    kill -STOP "$(redis_pid)"
    "$@"
    local rc=$?
    kill -CONT "$(redis_pid)"
    stack_wait_for 10 curl -sf "$BASE/health"
    return $rc
}

msg_json() { # TEXT CLIENT_ID
    jq -nc --arg t "$1" --arg c "$2" \
        '{type:"channelMessage",channelMessage:{recipientUUID:"",message:$t,clientId:$c}}'
}

@test "channelMessage.clientId: a retry after a 503 stores nothing new and answers the stored message" {
    sign_in A "retry-$RANDOM"
    join A ""
    http GET "/poll?sessionUUID=$A_SESSION&timeout=0" -H "Authorization: Bearer $A_KEY"
    c0=$(jqb .cursor)
    say A "" "warm-up" # the script is cached: the stalled EVALSHA is no NOSCRIPT
    expect_status 200
    n0=$(rcli llen channelMessages.public)
    cid=$(cat /proc/sys/kernel/random/uuid)
    stalled api "$(msg_json "once only $$" "$cid")" "$A_KEY"
    expect_error 503 221
    # Redis ran the stalled command when it resumed
    stack_wait_for 5 bash -c "[ \"\$(redis-cli -p $REDIS_PORT llen channelMessages.public)\" = $((n0 + 1)) ]"
    stored=$(rcli lindex channelMessages.public -1 | jq -r .UUID)
    api "$(msg_json "once only $$" "$cid")" "$A_KEY"
    expect_status 200
    [ "$(jqb .channelMessage.UUID)" = "$stored" ]
    [ "$(jqb .channelMessage.Sender.UUID)" = "$A_UUID" ]
    api "$(msg_json "once only $$" "$cid")" "$A_KEY"
    expect_status 200
    [ "$(jqb .channelMessage.UUID)" = "$stored" ]
    [ "$(rcli llen channelMessages.public)" = $((n0 + 1)) ]
    # the receiver gets it exactly once
    http GET "/poll?sessionUUID=$A_SESSION&cursor=$c0&timeout=0" -H "Authorization: Bearer $A_KEY"
    [ "$(jqb "[.messages[] | select(.type==\"channelMessage\" and .channelMessage.Message==\"once only $$\")] | length")" = 1 ]
    # another id is another message; a bad id is 400
    api "$(msg_json "once only $$" "$(cat /proc/sys/kernel/random/uuid)")" "$A_KEY"
    expect_status 200
    [ "$(rcli llen channelMessages.public)" = $((n0 + 2)) ]
    api "$(msg_json "x" "not-a-uuid")" "$A_KEY"
    expect_error 400 201
}

@test "a clientId is the sender's own: another user with the same id stores a new message" {
    sign_in B "retryb-$RANDOM"
    sign_in C "retryc-$RANDOM"
    cid=$(cat /proc/sys/kernel/random/uuid)
    api "$(msg_json "from b" "$cid")" "$B_KEY"
    expect_status 200
    u1=$(jqb .channelMessage.UUID)
    api "$(msg_json "from c" "$cid")" "$C_KEY"
    expect_status 200
    [ "$(jqb .channelMessage.UUID)" != "$u1" ]
    [ "$(jqb .channelMessage.Message)" = "from c" ]
}

# slow_signup JSON: POST /api as CGI with a hash that takes about a second,
# so Redis can be stopped between the name lookup and the create; sets OUT.
slow_signup() {
    printf '%s' "$1" | env -i PATH="$PATH" REDIS_ADDRESS="$REDIS_ADDRESS" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        CHAT_REDIS_TIMEOUT_MS=500 CHAT_PWHASH_OPSLIMIT=12 CHAT_PWHASH_MEMLIMIT=134217728 \
        REQUEST_METHOD=POST REQUEST_URI=/api CONTENT_LENGTH=${#1} \
        "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/cgi.log" | sed '1,/^\r$/d' >"$TEST_DIR/slow.out"
}

@test "signUp retried after a 503 answers the same user, once" {
    sign_in W "warm-$RANDOM" # the sign-in script is cached: no NOSCRIPT in the stall
    name="retry-su-$RANDOM"
    body=$(jq -nc --arg u "$name" '{type:"signUp",signUp:{username:$u,password:"pw-r"}}')
    slow_signup "$body" &
    bg=$!
    sleep 0.25 # looked up, now hashing: the create comes while Redis is stopped
    kill -STOP "$(redis_pid)"
    wait "$bg"
    kill -CONT "$(redis_pid)"
    [ "$(jq -r .error.code "$TEST_DIR/slow.out")" = 221 ]
    md5=$(printf %s "$name" | md5sum | cut -d' ' -f1)
    stack_wait_for 5 bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT get usersUsernameListIndex.$md5)\" ]"
    u=$(rcli lindex users "$(rcli get "usersUsernameListIndex.$md5")" | jq -r .UUID)
    api "$body"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    [ "$(rcli lrange users 0 -1 | grep -c "\"Username\":\"$name\"")" = 1 ]
    # a different password is still a taken name
    api "$(jq -nc --arg u "$name" '{type:"signUp",signUp:{username:$u,password:"other"}}')"
    expect_error 409 216
}
