#!/usr/bin/env bats
# CORS: CHAT_CORS_ORIGINS lists the origins that may call /api, /poll and
# /events from another site; empty means same origin only. Preflights and
# answers through lighttpd (chat.fcgi and chat-poller), and a page served
# from another loopback port in Chromium.
load helpers

setup_file() {
    PAGE_PORT=$(stack_free_port)
    OTHER_PORT=$(stack_free_port)
    export PAGE_PORT OTHER_PORT
    export CHAT_CORS_ORIGINS="http://127.0.0.1:$PAGE_PORT http://example.invalid"
    stack_setup
}
teardown_file() { stack_teardown; }

# preflight PATH ORIGIN METHOD: OPTIONS with the CORS request headers; sets HEADERS
preflight() {
    HEADERS=$(curl -s -D - -o /dev/null -X OPTIONS -H "Origin: $2" \
        -H "Access-Control-Request-Method: $3" \
        -H "Access-Control-Request-Headers: authorization, content-type" "$BASE$1")
}

@test "CORS: preflights of an allowed origin on /api, /poll and /events" {
    for route in /api:POST /poll:GET /events:GET; do
        preflight "${route%%:*}" "http://127.0.0.1:$PAGE_PORT" "${route#*:}"
        grep -q '^HTTP/1.1 204' <<<"$HEADERS"
        grep -qi "^Access-Control-Allow-Origin: http://127.0.0.1:$PAGE_PORT"$'\r' <<<"$HEADERS"
        grep -qi "^Access-Control-Allow-Methods: .*${route#*:}" <<<"$HEADERS"
        grep -qi '^Access-Control-Allow-Headers: .*Authorization' <<<"$HEADERS"
        grep -qi '^Vary: Origin' <<<"$HEADERS"
        ! grep -qi '^Access-Control-Allow-Origin: \*' <<<"$HEADERS"
        ! grep -qi '^Access-Control-Allow-Credentials' <<<"$HEADERS"
    done
}

@test "CORS: another origin gets no CORS headers; answers carry them only for allowed origins" {
    preflight /api "http://127.0.0.1:$OTHER_PORT" POST
    grep -q '^HTTP/1.1 204' <<<"$HEADERS"
    ! grep -qi '^Access-Control-Allow-Origin' <<<"$HEADERS"
    h=$(curl -s -D - -o /dev/null -H "Origin: http://127.0.0.1:$PAGE_PORT" \
        --data-binary '{"type":"ready"}' "$BASE/api")
    grep -qi "^Access-Control-Allow-Origin: http://127.0.0.1:$PAGE_PORT" <<<"$h"
    grep -qi '^Access-Control-Expose-Headers: Retry-After' <<<"$h"
    h=$(curl -s -D - -o /dev/null -H "Origin: http://127.0.0.1:$OTHER_PORT" \
        --data-binary '{"type":"ready"}' "$BASE/api")
    ! grep -qi '^Access-Control-Allow-Origin' <<<"$h"
    # an error answer of the poller carries them too
    h=$(curl -s -D - -o /dev/null -H "Origin: http://127.0.0.1:$PAGE_PORT" "$BASE/poll?sessionUUID=x")
    grep -q '^HTTP/1.1 400' <<<"$h"
    grep -qi "^Access-Control-Allow-Origin: http://127.0.0.1:$PAGE_PORT" <<<"$h"
    # a wrong method is 405 with the route's methods
    h=$(curl -s -D - -o /dev/null -X DELETE "$BASE/poll")
    grep -qi '^Allow: GET, OPTIONS' <<<"$h"
    h=$(curl -s -D - -o /dev/null -X PUT "$BASE/health")
    grep -qi '^Allow: GET, HEAD, OPTIONS' <<<"$h"
}

@test "CORS: a page on another loopback port chats in Chromium; an unlisted one cannot" {
    [ "$BUILD" = build/asan ] && skip "browser run with the release build only"
    [ -x /usr/bin/chromium ] || { echo "Debian chromium missing" >&2; return 1; }
    [ -d "$ROOT/tests/web/node_modules/playwright-core" ] ||
        (cd "$ROOT/tests/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
    for p in "$PAGE_PORT" "$OTHER_PORT"; do
        stack_spawn python3 -m http.server "$p" --bind 127.0.0.1 \
            --directory "$ROOT/tests/web/cors" 2>>"$TEST_DIR/pages.log"
        echo $! >>"$TEST_DIR/pages.pid"
    done
    stack_wait_for 10 curl -sf "http://127.0.0.1:$PAGE_PORT/index.html"
    stack_wait_for 10 curl -sf "http://127.0.0.1:$OTHER_PORT/index.html"
    run env BASE="$BASE" ALLOWED="http://127.0.0.1:$PAGE_PORT" DENIED="http://127.0.0.1:$OTHER_PORT" \
        CHROMIUM=/usr/bin/chromium timeout 60 node "$ROOT/tests/web/cors.mjs"
    kill $(cat "$TEST_DIR/pages.pid") 2>/dev/null || true
    echo "$output"
    [ "$status" = 0 ]
    [[ $output == *"allowed: ok users="*" msg=across origins"* ]]
    [[ $output == *"denied: failed: TypeError"* ]]
}
