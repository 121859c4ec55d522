#!/usr/bin/env bats
# chat.fcgi without lighttpd: as plain CGI (one process per request) and as
# a FastCGI responder driven by cgi-fcgi; clean exit on SIGTERM.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# a responder a failed test left behind ($TEST_DIR/test.pids)
teardown() { teardown_test_pids; }

# cgi METHOD URI BODY: runs the binary as CGI; sets OUT (headers + body).
cgi() {
    printf '%s' "$3" > "$TEST_DIR/cgi.in"
    OUT=$(env -i PATH="$PATH" REDIS_ADDRESS="$REDIS_ADDRESS" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 \
        GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD="$1" REQUEST_URI="$2" \
        SCRIPT_NAME=/api CONTENT_LENGTH="$(stat -c %s "$TEST_DIR/cgi.in")" \
        "$ROOT/$BUILD/chat.fcgi" < "$TEST_DIR/cgi.in" 2>>"$TEST_DIR/cgi.log")
}

@test "CGI: ready and signIn answer with Status and JSON" {
    cgi POST /api '{"type":"ready"}'
    grep -q '^Status: 200' <<<"$OUT"
    grep -qi '^Content-Type: application/json; charset=utf-8' <<<"$OUT"
    body=$(sed '1,/^\r$/d' <<<"$OUT")
    [[ "$(jq -r .ready.sessionUUID <<<"$body")" =~ ^[0-9a-f-]{36}$ ]]
    cgi POST /api '{"type":"signIn","signIn":{"username":"cgi-user","password":"p"}}'
    grep -q '^Status: 200' <<<"$OUT"
    body=$(sed '1,/^\r$/d' <<<"$OUT")
    key=$(jq -r .authorized.accessKey <<<"$body")
    api '{"type":"users"}' "$key"
    expect_status 200
}

@test "CGI: errors keep the contract (405, 400, 413)" {
    cgi GET /api ''
    grep -q '^Status: 405' <<<"$OUT"
    cgi POST /api '{bad'
    grep -q '^Status: 400' <<<"$OUT"
    big=$(head -c 70000 /dev/zero | tr '\0' ' ')
    cgi POST /api "$big"
    grep -q '^Status: 413' <<<"$OUT"
}

@test "CGI: REDIS_ADDRESS may be Redis's unix socket" {
    printf '{"type":"ready"}' > "$TEST_DIR/cgi.in"
    OUT=$(env -i PATH="$PATH" REDIS_ADDRESS="$TEST_DIR/redis.sock" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=/api \
        CONTENT_LENGTH=16 "$ROOT/$BUILD/chat.fcgi" < "$TEST_DIR/cgi.in" 2>/dev/null)
    grep -q '^Status: 200' <<<"$OUT"
    s=$(sed '1,/^\r$/d' <<<"$OUT" | jq -r .ready.sessionUUID)
    [ "$(rcli exists "userSession.$s")" = 1 ]
}

@test "CGI: Redis unreachable is 503 with Retry-After" {
    OUT=$(env -i PATH="$PATH" REDIS_ADDRESS=127.0.0.1:1 ASAN_OPTIONS="$ASAN_OPTIONS" \
        GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST REQUEST_URI=/api \
        CONTENT_LENGTH=16 "$ROOT/$BUILD/chat.fcgi" <<<'{"type":"ready"}' 2>/dev/null)
    grep -q '^Status: 503' <<<"$OUT"
    grep -qi '^Retry-After: 1' <<<"$OUT"
}

@test "FastCGI without lighttpd: cgi-fcgi talks to the responder" {
    sock="$TEST_DIR/direct.sock"
    REDIS_ADDRESS="$REDIS_ADDRESS" CHAT_THREADS=2 \
        spawn-fcgi -n -s "$sock" -- "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/direct.log" &
    pid=$!
    echo "$pid" >>"$TEST_DIR/test.pids"
    stack_wait_for 10 test -S "$sock"
    printf '{"type":"ready"}' > "$TEST_DIR/req"
    out=$(env -i REQUEST_METHOD=POST REQUEST_URI=/api CONTENT_LENGTH=16 \
        cgi-fcgi -bind -connect "$sock" < "$TEST_DIR/req")
    grep -q '^Status: 200' <<<"$out"
    grep -q '"sessionUUID"' <<<"$out"
    out=$(env -i REQUEST_METHOD=GET REQUEST_URI=/health cgi-fcgi -bind -connect "$sock" </dev/null)
    grep -q '"status":"ok"' <<<"$out"
    # SIGTERM: all threads stop, exit code 0 (and LeakSanitizer stays quiet)
    kill -TERM "$pid"
    wait "$pid"
}

# cgi_as BODY VAR=VALUE...: runs the binary as CGI with exactly these
# request variables (besides the settings); sets OUT and BODY.
cgi_as() {
    local body=$1
    shift
    printf '%s' "$body" > "$TEST_DIR/cgi.in"
    OUT=$(env -i PATH="$PATH" REDIS_ADDRESS="$REDIS_ADDRESS" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 \
        GATEWAY_INTERFACE=CGI/1.1 CONTENT_LENGTH="$(stat -c %s "$TEST_DIR/cgi.in")" \
        "$@" "$ROOT/$BUILD/chat.fcgi" < "$TEST_DIR/cgi.in" 2>>"$TEST_DIR/cgi.log") || true
    BODY=$(sed '1,/^\r$/d' <<<"$OUT")
}

@test "CGI: routes come from PATH_INFO; a POST to the bare script is /api" {
    cgi_as '{"type":"ready"}' REQUEST_METHOD=POST SCRIPT_NAME=/cgi-bin/chat.cgi \
        PATH_INFO=/api REQUEST_URI=/cgi-bin/chat.cgi/api
    grep -q '^Status: 200' <<<"$OUT"
    [ "$(jqb .type)" = ready ]
    cgi_as '' REQUEST_METHOD=GET SCRIPT_NAME=/cgi-bin/chat.cgi \
        PATH_INFO=/health REQUEST_URI=/cgi-bin/chat.cgi/health
    grep -q '^Status: 200' <<<"$OUT"
    [ "$(jqb .redis)" = up ]
    cgi_as '{"type":"ready"}' REQUEST_METHOD=POST SCRIPT_NAME=/cgi-bin/chat.cgi \
        REQUEST_URI=/cgi-bin/chat.cgi
    grep -q '^Status: 200' <<<"$OUT"
    [ "$(jqb .type)" = ready ]
    cgi_as '' REQUEST_METHOD=GET SCRIPT_NAME=/cgi-bin/chat.cgi \
        PATH_INFO=/nope REQUEST_URI=/cgi-bin/chat.cgi/nope
    grep -q '^Status: 404' <<<"$OUT"
    [ "$(jqb .error.code)" = 214 ]
}

@test "CGI: a bad configuration is one log line and a JSON 500, not an empty reply" {
    : >"$TEST_DIR/cgi.log"
    cgi_as '{"type":"ready"}' REQUEST_METHOD=POST REQUEST_URI=/api CHAT_THREADS=zero
    grep -q '^Status: 500' <<<"$OUT"
    [ "$(jqb .error.code)" = 222 ]
    [ "$(grep -c 'CHAT_THREADS' "$TEST_DIR/cgi.log")" = 1 ]
}

@test "chat.fcgi started by hand (no FastCGI socket, no CGI request) prints its help" {
    run env -i PATH="$PATH" "$ROOT/$BUILD/chat.fcgi" </dev/null
    [ "$status" = 2 ]
    [[ $output == *"usage: chat.fcgi"* ]]
}

@test "password hashing without its memory (ulimit -v) is 503 code 223, never a wrong password" {
    [[ $BUILD == *asan* ]] && skip "ASan reserves more address space than the cap"
    name="capped-$RANDOM"
    su='{"type":"signUp","signUp":{"username":"'$name'","password":"pw-cap"}}'
    si='{"type":"signIn","signIn":{"username":"'$name'","password":"pw-cap"}}'
    capped() { (ulimit -v 50000; cgi_as "$1" REQUEST_METHOD=POST REQUEST_URI=/api \
        CHAT_PWHASH_MEMLIMIT=67108864; echo "$OUT" >"$TEST_DIR/capped.out"); OUT=$(cat "$TEST_DIR/capped.out"); BODY=$(sed '1,/^\r$/d' <<<"$OUT"); }
    : >"$TEST_DIR/cgi.log"
    capped "$su"
    grep -q '^Status: 503' <<<"$OUT"
    grep -q '^Retry-After: ' <<<"$OUT"
    [ "$(jqb .error.code)" = 223 ]
    grep -q 'CHAT_PWHASH_MEMLIMIT' "$TEST_DIR/cgi.log"
    [ "$(rcli exists "usersUsernameListIndex.$(printf %s "$name" | md5sum | cut -d' ' -f1)")" = 0 ]
    # created without the cap (64 MiB hash), then 12 capped sign-ins: all
    # 503, none counted as a failure, so no lockout once the cap is gone
    cgi_as "$su" REQUEST_METHOD=POST REQUEST_URI=/api CHAT_PWHASH_MEMLIMIT=67108864
    grep -q '^Status: 200' <<<"$OUT"
    for _ in $(seq 1 12); do
        capped "$si"
        grep -q '^Status: 503' <<<"$OUT"
        [ "$(jqb .error.code)" = 223 ]
    done
    [ "$(rcli exists "rcg:fails.$(printf %s "$name" | md5sum | cut -d' ' -f1)")" = 0 ]
    cgi_as "$si" REQUEST_METHOD=POST REQUEST_URI=/api
    grep -q '^Status: 200' <<<"$OUT"
}
