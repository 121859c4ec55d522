# server_nopoller.bash - the checks of the front servers that run no
# chat-poller (tests/server_cgi.bats, tests/server_apache_cgi.bats,
# tests/server_shared.bats): chat.fcgi answers /api, /health and /poll
# itself, /events is its JSON 404 (SSE needs chat-poller). Load after
# helpers and server_common (poll, http_ct, expect_json, check_long_poll).

# nopoller_setup SERVER: the private stack behind SERVER (no chat-poller)
# and two signed-in users; the first signIn's answer is kept.
nopoller_setup() {
    export STACK_SERVER=$1
    stack_setup
    sign_in A "${1}-a-$RANDOM"
    printf '%s' "$BODY" > "$TEST_DIR/signin-a.json"
    sign_in B "${1}-b-$RANDOM"
    join A ""
    expect_status 200
    export A_SESSION A_KEY A_UUID B_SESSION B_KEY B_UUID
}

# check_np_no_poller: nothing of chat-poller was started.
check_np_no_poller() {
    [ ! -e "$TEST_DIR/poller.pid" ]
    [ ! -e "$TEST_DIR/poller.sock" ]
}

# check_np_contract SCRIPT: signIn (in setup), ready, users with the key in
# Authorization only (the server hands the header on: 401 without it),
# /health; SCRIPT (the program's own URL path) takes the route as PATH_INFO
# and a POST to the bare SCRIPT is /api.
check_np_contract() {
    local script=$1
    BODY=$(cat "$TEST_DIR/signin-a.json")
    [ "$(jqb .type)" = authorized ]
    [[ "$A_KEY" =~ ^[0-9a-f-]{36}$ ]]
    [ "$(jqb .authorized.userUUID)" = "$A_UUID" ]
    http_ct POST /api --data-binary '{"type":"ready"}'
    expect_status 200
    expect_json
    [[ "$(jqb .ready.sessionUUID)" =~ ^[0-9a-f-]{36}$ ]]
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    [ "$(jqb .type)" = users ]
    jqb '.users.users[].UUID' | grep -qx "$A_UUID"
    jqb '.users.users[].UUID' | grep -qx "$B_UUID"
    api '{"type":"users"}'
    expect_error 401 208
    http_ct GET /health
    expect_status 200
    expect_json
    [ "$(jqb .redis)" = up ]
    # the program's own path: the route in PATH_INFO, the bare script is /api
    http_ct POST "$script/api" -H "Authorization: Bearer $A_KEY" --data-binary '{"type":"users"}'
    expect_status 200
    [ "$(jqb .type)" = users ]
    http_ct POST "$script" --data-binary '{"type":"ready"}'
    expect_status 200
    [ "$(jqb .type)" = ready ]
    http_ct GET "$script/health"
    expect_status 200
    [ "$(jqb .status)" = ok ]
}

check_np_bad_input() {
    http_ct POST /api --data-binary '{"type":"ready"'
    expect_error 400 1
    expect_json
    http_ct POST /api -H "Authorization: Bearer $A_KEY" --data-binary '{"type":"users","users":{"limit":"x"}}'
    expect_error 400 1
    expect_json
    http_ct GET /api
    expect_error 405 215
    expect_json
    http_ct GET "/poll?sessionUUID=$A_SESSION&timeout=99" -H "Authorization: Bearer $A_KEY"
    expect_error 400 206
    expect_json
}

# check_np_too_large: a body over 64 KiB is the gateway's JSON 413, sent
# whole (curl's exit status 0: the transfer was not cut).
check_np_too_large() {
    local big="$TEST_DIR/big.json" out rc=0
    head -c 70000 /dev/zero | tr '\0' ' ' > "$big"
    out=$(curl -s -o "$TEST_DIR/big.out" -w '%{http_code} %{content_type}' \
        -H "Authorization: Bearer $A_KEY" --data-binary "@$big" "$BASE/api") || rc=$?
    read -r HTTP_STATUS CONTENT_TYPE <<<"$out"
    BODY=$(cat "$TEST_DIR/big.out")
    echo "413 check: HTTP $HTTP_STATUS, curl exit $rc: $BODY" >&2
    NP_CURL_RC=$rc
    expect_error 413 217
    expect_json
    [ "$rc" = 0 ]
}

# check_np_poll_timeout: a poll with timeout=2 and nothing new is held for
# its 2 s and answered 200 JSON, empty, with a cursor.
check_np_poll_timeout() {
    local start end ms c0
    join B ""
    expect_status 200
    poll B "" 0
    expect_status 200
    c0=$CURSOR
    [ -n "$c0" ]
    start=$(date +%s%N)
    http_ct GET "/poll?sessionUUID=$B_SESSION&cursor=$c0&timeout=2" \
        -H "Authorization: Bearer $B_KEY" --max-time 20
    end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 ))
    echo "poll timeout=2: $HTTP_STATUS after $ms ms: $BODY" >&2
    expect_status 200
    expect_json
    [ "$(jqb '.messages | length')" = 0 ]
    [ -n "$(jqb .cursor)" ]
    [ "$(jqb '.pollAfter // 0')" = 0 ]
    [ "$ms" -ge 1900 ] && [ "$ms" -lt 6000 ]
}

# check_np_events_404 SCRIPT: /events (and SCRIPT/events) is chat.fcgi's
# JSON 404, code 214, never a page or a hanging stream.
check_np_events_404() {
    local path
    for path in "/events?sessionUUID=$A_SESSION&accessKey=$A_KEY" \
        "$1/events?sessionUUID=$A_SESSION&accessKey=$A_KEY"; do
        http_ct GET "$path" --max-time 10
        expect_error 404 214
        expect_json
        [[ "$(jqb .error.error)" == *chat-poller* ]]
    done
}

# holds_are N: rcg:holds (the shared hold slots) has N entries.
holds_are() {
    [ "$(rcli zcard rcg:holds)" = "$1" ]
}

# check_np_hold_limit MAX: a poll asking timeout=55 is held at most
# CHAT_POLL_MAX_HOLD=MAX s, in one of the slots counted in Redis
# (CHAT_POLL_HOLD_SLOTS > 0: rcg:holds has it until now + hold + 5 s); a
# message then ends the hold.
check_np_hold_limit() {
    local max=$1 c0 bg left now score
    join B ""
    poll B "" 0
    c0=$CURSOR
    rcli del rcg:holds >/dev/null
    curl -s -o "$TEST_DIR/held.body" --max-time 70 -H "Authorization: Bearer $B_KEY" \
        "$BASE/poll?sessionUUID=$B_SESSION&cursor=$c0&timeout=55" 3>&- &
    bg=$!
    stack_wait_for 10 holds_are 1
    score=$(rcli zrange rcg:holds 0 0 withscores | sed -n 2p)
    now=$(rcli time | head -1)
    left=$(( ${score%.*} - now ))
    echo "hold slot until now + $left s" >&2
    say A "" "end-hold-$STACK_SERVER-$$"
    wait "$bg"
    grep -q "end-hold-$STACK_SERVER-$$" "$TEST_DIR/held.body"
    [ "$left" -gt $(( max + 5 - 3 )) ] && [ "$left" -le $(( max + 5 )) ]
    # the slot went back with the answer
    stack_wait_for 5 holds_are 0
}
