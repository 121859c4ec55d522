#!/usr/bin/env bats
# Shared hosting: a host's Apache (deploy/shared-hosting/apache-host.conf:
# mod_fcgid, mod_rewrite, AllowOverride All, nothing of the chat) and a
# document root holding only deploy/shared-hosting/.htaccess, chat.fcgi and
# the files of web/ (tools/stack.sh: STACK_SERVER=shared). No chat-poller,
# no daemon of the site's own.
#  - the main stack: the bare binary as chat.fcgi (STACK_SHARED_LAYOUT=binary);
#    its settings (REDIS_ADDRESS...) can only come from the host's server
#    config (FcgidInitialEnv, which .htaccess cannot set): the suite writes
#    them there as the host's admin would.
#  - a second Apache on another port: chat.fcgi.wrapper as chat.fcgi, the
#    program and chat.env above the document root, nothing in the host's
#    config (the way without the admin).
load helpers
load server_common
load server_nopoller

setup_file() {
    export STACK_SHARED_LAYOUT=binary
    nopoller_setup shared
    # the wrapper site, same Redis, database 2 (from its chat.env)
    W_DIR="$TEST_DIR/w"
    W_PORT=$(stack_free_port)
    mkdir -p "$W_DIR"
    export W_DIR W_PORT W_BASE="http://127.0.0.1:$W_PORT"
    STACK_SHARED_LAYOUT=wrapper REDIS_DB=2 \
    ASAN_OPTIONS="log_path=$W_DIR/asan:detect_leaks=1" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$W_DIR/ubsan" \
        stack_shared_start "$W_DIR" "$W_PORT"
}

teardown_file() {
    local f
    stack_apache_stop "$W_DIR"
    for f in "$W_DIR"/asan.* "$W_DIR"/ubsan.*; do
        [ -e "$f" ] && mv "$f" "$TEST_DIR/"
    done
    stack_teardown
}

@test "shared: the document root holds only .htaccess, chat.fcgi, errors/ and web/; no chat-poller" {
    check_np_no_poller
    want=$( (echo .htaccess; echo chat.fcgi; echo errors; ls -A "$ROOT/web") | sort)
    have=$(ls -A "$TEST_DIR/shared/public_html" | sort)
    [ "$want" = "$have" ] || { diff <(echo "$want") <(echo "$have") >&2; return 1; }
    cmp "$ROOT/$BUILD/chat.fcgi" "$TEST_DIR/shared/public_html/chat.fcgi"
    cmp "$ROOT/deploy/shared-hosting/.htaccess" "$TEST_DIR/shared/public_html/.htaccess"
    # the host's config names nothing of the chat: AllowOverride All only
    ! grep -Eiq 'chat\.fcgi|FcgidWrapper|SetHandler|Rewrite|CGIPassAuth' \
        <(grep -v '^[[:space:]]*#' "$ROOT/deploy/shared-hosting/apache-host.conf")
    grep -Eq '^[[:space:]]*AllowOverride All' "$ROOT/deploy/shared-hosting/apache-host.conf"
    # the static client and the .htaccess rules: / is the client, the
    # .htaccess itself is not served
    http_ct GET /
    expect_status 200
    [[ "$CONTENT_TYPE" == text/html* ]]
    http GET /.htaccess
    expect_status 403
}

@test "shared: the .htaccess maps /api, /health, /poll, /events to chat.fcgi with PATH_INFO" {
    h="$ROOT/deploy/shared-hosting/.htaccess"
    grep -qE '^AddHandler fcgid-script \.fcgi$' "$h"
    grep -qE '^Options .*\+ExecCGI' "$h"
    grep -qE '^CGIPassAuth On$' "$h"
    grep -qE '^RewriteRule \^\(api\|health\|poll\|events\)\$ chat\.fcgi/\$1 \[L\]$' "$h"
    ! grep -q 'FcgidInitialEnv' <(grep -v '^[[:space:]]*#' "$h")
}

@test "shared: ready, signIn, users with Authorization: Bearer; POST to the bare chat.fcgi is /api" {
    check_np_contract /chat.fcgi
}

@test "shared: bad input is a JSON 400 (and 405, 413)" {
    check_np_bad_input
    check_np_too_large
}

@test "shared: a long poll wakes on a message" {
    check_long_poll
}

@test "shared: a poll with timeout=2 is held 2 s and answered empty" {
    check_np_poll_timeout
}

@test "shared: /events is a JSON 404 (SSE needs chat-poller)" {
    check_np_events_404 /chat.fcgi
}

# A directory of the document root with its own .htaccess and a copy of
# the program; removed again.
probe_dir() {
    mkdir -p "$TEST_DIR/shared/public_html/$1"
    cp "$ROOT/$BUILD/chat.fcgi" "$TEST_DIR/shared/public_html/$1/chat.fcgi"
    printf '%s\n' "$2" > "$TEST_DIR/shared/public_html/$1/.htaccess"
    chmod -R a+rX "$TEST_DIR/shared/public_html/$1"
}

@test "shared: .htaccess cannot set chat.fcgi's settings (FcgidInitialEnv is refused, SetEnv does not reach them)" {
    probe_dir probe-initenv 'FcgidInitialEnv REDIS_DB 5'
    probe_dir probe-setenv 'SetEnv REDIS_DB 5'
    http POST /probe-initenv/chat.fcgi --data-binary '{"type":"ready"}'
    st_initenv=$HTTP_STATUS
    grep -q 'FcgidInitialEnv not allowed here' "$TEST_DIR/apache/error.log"
    # SetEnv reaches the request (a FastCGI parameter), not the settings the
    # program read at start: the session lands in database 0, not 5
    http POST /probe-setenv/chat.fcgi --data-binary '{"type":"ready"}'
    st_setenv=$HTTP_STATUS
    s=$(jqb .ready.sessionUUID)
    rm -rf "$TEST_DIR/shared/public_html/probe-initenv" "$TEST_DIR/shared/public_html/probe-setenv"
    [ "$st_initenv" = 500 ]
    [ "$st_setenv" = 200 ]
    [ "$(rcli -n 0 exists "userSession.$s")" = 1 ]
    [ "$(rcli -n 5 exists "userSession.$s")" = 0 ]
}

@test "shared, wrapper: chat.fcgi.wrapper reads chat.env above the document root; the host sets nothing" {
    # nothing in the host's config, nothing but the wrapper in the document root
    [ ! -s "$W_DIR/apache/fcgid-env.conf" ]
    want=$( (echo .htaccess; echo chat.fcgi; echo errors; ls -A "$ROOT/web") | sort)
    have=$(ls -A "$W_DIR/shared/public_html" | sort)
    [ "$want" = "$have" ]
    cmp "$ROOT/deploy/shared-hosting/chat.fcgi.wrapper" "$W_DIR/shared/public_html/chat.fcgi"
    grep -q "^REDIS_ADDRESS=$REDIS_ADDRESS\$" "$W_DIR/shared/chat.env"
    grep -q '^REDIS_DB=2$' "$W_DIR/shared/chat.env"
    [ "$(stat -c %a "$W_DIR/shared/chat.env")" = 600 ]
    # the settings took effect: Redis found, sessions in database 2
    out=$(curl -s "$W_BASE/health")
    [ "$(jq -r .redis <<<"$out")" = up ]
    s=$(curl -s "$W_BASE/api" --data-binary '{"type":"ready"}' | jq -r .ready.sessionUUID)
    [ "$(rcli -n 2 exists "userSession.$s")" = 1 ]
    [ "$(rcli -n 0 exists "userSession.$s")" = 0 ]
    # one thread per process (chat.env's CHAT_THREADS=1)
    grep -q 'chat.fcgi ready: 1 threads' "$W_DIR/apache/error.log"
}

@test "shared, wrapper: signIn, users with Authorization, a long poll that wakes" {
    local base=$BASE
    BASE=$W_BASE
    sign_in WA "wrap-a-$RANDOM"
    sign_in WB "wrap-b-$RANDOM"
    api '{"type":"users"}' "$WA_KEY"
    expect_status 200
    jqb '.users.users[].UUID' | grep -qx "$WB_UUID"
    api '{"type":"users"}'
    expect_error 401 208
    join WA ""
    join WB ""
    poll WB "" 0
    c0=$CURSOR
    ( sleep 0.5; say WA "" "wrapped-$$" ) 3>&- &
    start=$(date +%s%N)
    poll WB "$c0" 20
    end=$(date +%s%N)
    wait
    BASE=$base
    expect_status 200
    messages_of | grep -qx "wrapped-$$"
    [ $(( (end - start) / 1000000 )) -lt 5000 ]
}

@test "shared, wrapper: chat.env is read as VAR=value lines; nothing in it is run" {
    t="$TEST_DIR/wrap-unit"
    mkdir -p "$t/public_html"
    cp "$ROOT/deploy/shared-hosting/chat.fcgi.wrapper" "$t/public_html/chat.fcgi"
    # a stand-in program: prints its environment
    printf '#!/bin/sh\nenv\n' > "$t/chat.fcgi"
    chmod 755 "$t/chat.fcgi"
    printf '%s\n' '# comment' '' 'REDIS_DB=3' 'export CHAT_CORS_ORIGINS=https://a.example https://b.example' \
        'BAD NAME=1' '1X=2' "CHAT_LOG_LEVEL=\$(touch $t/ran)" > "$t/chat.env"
    printf 'CHAT_KEY_TTL=60\r\n' >> "$t/chat.env"
    out=$(env -i /bin/sh "$t/public_html/chat.fcgi")
    grep -qx 'REDIS_DB=3' <<<"$out"
    grep -qx 'CHAT_CORS_ORIGINS=https://a.example https://b.example' <<<"$out"
    grep -qx 'CHAT_KEY_TTL=60' <<<"$out"
    grep -qxF "CHAT_LOG_LEVEL=\$(touch $t/ran)" <<<"$out"
    ! grep -q 'BAD\|^1X' <<<"$out"
    [ ! -e "$t/ran" ]
}
