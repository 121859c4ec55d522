# helpers.bash - shared by every bats file: a private stack (redis-server,
# chat-poller, lighttpd + chat.fcgi) per file on free 127.0.0.1 ports in a
# mktemp -d directory, and curl helpers. Teardown stops only what it
# started and fails the file when a sanitizer wrote a report.
ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"

stack_setup() {
    export BUILD=${BUILD:-build/release}
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    HTTP_PORT=$(stack_free_port)
    REDIS_PORT=$(stack_free_port)
    export TEST_DIR HTTP_PORT REDIS_PORT
    # https with STACK_TLS=1 (tests/server_tls.bats)
    BASE=$(stack_url "$TEST_DIR" "$HTTP_PORT" "")
    export BASE
    # Cheap argon2id in tests (the cost is configurable; defaults are the
    # libsodium interactive limits).
    export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192
    export CHAT_MSG_RATE=${CHAT_MSG_RATE:-100000} CHAT_THREADS=${CHAT_THREADS:-4}
    export CHAT_LOG_LEVEL=${CHAT_LOG_LEVEL:-info}
    # presence is asserted right after changes; api_users_cache.bats tests
    # the cache itself
    export CHAT_USERS_CACHE_MS=${CHAT_USERS_CACHE_MS:-0}
    export ASAN_OPTIONS="log_path=$TEST_DIR/asan:detect_leaks=1"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$TEST_DIR/ubsan"
    stack_start "$TEST_DIR" "$HTTP_PORT" "$REDIS_PORT"
}

stack_teardown() {
    local reports
    stack_stop "$TEST_DIR" "$REDIS_PORT"
    reports=$(ls "$TEST_DIR"/asan.* "$TEST_DIR"/ubsan.* 2>/dev/null || true)
    if [ -n "$reports" ]; then
        echo "sanitizer reports:" >&2
        cat $reports >&2
        mkdir -p "$ROOT/tests/artifacts" && cp $reports "$ROOT/tests/artifacts/" 2>/dev/null
        rm -rf "$TEST_DIR"
        return 1
    fi
    rm -rf "$TEST_DIR"
}

# api JSON [KEY]: POST /api; sets HTTP_STATUS and BODY (never fails; safe
# to run in a background subshell beside another request).
api() {
    local auth=()
    [ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
    local f
    f=$(mktemp "$TEST_DIR/body.XXXXXX")
    HTTP_STATUS=$(curl -s -o "$f" -w '%{http_code}' -X POST \
        "${auth[@]}" --data-binary "$1" "$BASE/api")
    BODY=$(cat "$f")
    rm -f "$f"
}

# http METHOD PATH [curl args...]: any request; sets HTTP_STATUS and BODY.
http() {
    local method=$1 path=$2
    shift 2
    local f
    f=$(mktemp "$TEST_DIR/body.XXXXXX")
    HTTP_STATUS=$(curl -s -o "$f" -w '%{http_code}' -X "$method" \
        "$@" "$BASE$path")
    BODY=$(cat "$f")
    rm -f "$f"
}

# expect_status N: fails with the body when the last status differs.
expect_status() {
    if [ "$HTTP_STATUS" != "$1" ]; then
        echo "expected HTTP $1, got $HTTP_STATUS: $BODY" >&2
        return 1
    fi
}

# jqb FILTER: runs jq on the last body.
jqb() {
    jq -r "$1" <<<"$BODY"
}

# expect_error STATUS CODE: an error reply with that status and code.
expect_error() {
    expect_status "$1" || return 1
    [ "$(jqb .type)" = error ] || { echo "not an error: $BODY" >&2; return 1; }
    [ "$(jqb .error.code)" = "$2" ] || { echo "want code $2: $BODY" >&2; return 1; }
    [ "$(jqb .error.message)" = "$(jqb .error.error)" ] || return 1
}

# sign_in PREFIX NAME [PASSWORD]: ready + signIn; sets PREFIX_SESSION,
# PREFIX_KEY and PREFIX_UUID.
sign_in() {
    local p=$1 name=$2 pw=${3:-secret-$2} s
    api '{"type":"ready"}'
    expect_status 200 || return 1
    s=$(jqb .ready.sessionUUID)
    api "$(jq -nc --arg s "$s" --arg u "$name" --arg p "$pw" \
        '{type:"signIn",sessionUUID:$s,signIn:{username:$u,password:$p}}')"
    expect_status 200 || return 1
    printf -v "${p}_SESSION" '%s' "$s"
    printf -v "${p}_KEY" '%s' "$(jqb .authorized.accessKey)"
    printf -v "${p}_UUID" '%s' "$(jqb .authorized.userUUID)"
}

# join PREFIX RECIPIENT: channelJoin for that user's session.
join() {
    local p=$1 r=$2 s k
    s=$(eval echo "\$${p}_SESSION")
    k=$(eval echo "\$${p}_KEY")
    api "$(jq -nc --arg s "$s" --arg r "$r" \
        '{type:"channelJoin",sessionUUID:$s,channelJoin:{recipientUUID:$r}}')" "$k"
}

# say PREFIX RECIPIENT TEXT: channelMessage.
say() {
    local p=$1 r=$2 t=$3 k
    k=$(eval echo "\$${p}_KEY")
    api "$(jq -nc --arg r "$r" --arg t "$t" \
        '{type:"channelMessage",channelMessage:{recipientUUID:$r,message:$t}}')" "$k"
}

rcli() {
    redis-cli -p "$REDIS_PORT" "$@"
}

# poll PREFIX [CURSOR] [TIMEOUT]: GET /poll for that user's session; sets
# HTTP_STATUS, BODY and CURSOR (the answer's cursor; empty when the answer
# is not JSON, e.g. a front server's own error page).
poll() {
    local p=$1 cur=${2:-} t=${3:-0} s k
    s=$(eval echo "\$${p}_SESSION")
    k=$(eval echo "\$${p}_KEY")
    http GET "/poll?sessionUUID=$s&cursor=$cur&timeout=$t" \
        -H "Authorization: Bearer $k" --max-time 70
    CURSOR=$(jqb '.cursor // empty' 2>/dev/null || true)
}

# messages_of: the Message texts of the last poll answer, one per line.
messages_of() {
    jqb '.messages[] | select(.type=="channelMessage") | .channelMessage.Message'
}

# teardown_test_pids: a suite's per-test teardown. Processes a test started
# (pids in $TEST_DIR/test.pids) are stopped even when it fails: one left
# running would hold bats' output open for ever.
teardown_test_pids() {
    local pid
    [ -f "$TEST_DIR/test.pids" ] || return 0
    while read -r pid; do
        kill -TERM "$pid" 2>/dev/null || true
    done <"$TEST_DIR/test.pids"
    rm -f "$TEST_DIR/test.pids"
}

# metric NAME: the value of one chat-poller metric, through the front server.
metric() {
    curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
