#!/usr/bin/env bats
# web.bats - the browser client in web/: how lighttpd serves it, its pure
# helpers under node, and an end-to-end run in Debian's chromium driven by
# playwright-core (tests/web/e2e.mjs) against the real stack.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# browser_run NAME: tests/web/NAME.mjs in Chromium against the stack (release
# build only); it passes when the script says ok to every step.
browser_run() {
    if [ "$BUILD" = build/asan ]; then
        skip "browser suite runs with the release build only: the same JS against the same /api contract"
    fi
    [ -x "$ROOT/$BUILD/chat-poller" ] || skip "chat-poller is not built: no live delivery to test"
    [ -x /usr/bin/chromium ] || { echo "Debian chromium missing (CHAT_WITH_BROWSER=1 tools/deps.sh)" >&2; return 1; }
    mkdir -p "$ROOT/tests/artifacts/web"
    run env BASE="$BASE" ARTIFACTS="$ROOT/tests/artifacts/web" CHROMIUM=/usr/bin/chromium \
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 120 node "$ROOT/tests/web/$1.mjs"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"- no page errors"* ]]
    [[ "$output" != *"not ok"* ]]
}

@test "web: index, modules and styles are served with CSP, nosniff and revalidation" {
    http GET /
    expect_status 200
    run curl -sI "$BASE/"
    [[ "$output" == *"Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'"* ]]
    [[ "$output" != *"unsafe-inline"* ]]
    [[ "$output" == *"X-Content-Type-Options: nosniff"* ]]
    [[ "$output" == *"Cache-Control: no-cache"* ]]
    etag=$(grep -i '^ETag:' <<<"$output" | cut -d' ' -f2 | tr -d '\r')
    [ -n "$etag" ]
    http GET / -H "If-None-Match: $etag"
    expect_status 304
    for f in js/app.js js/api.js js/delivery.js js/store.js js/tabs.js js/unread.js; do
        run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$BASE/$f"
        [ "$output" = "200 text/javascript; charset=utf-8" ]
    done
    run curl -s -o /dev/null -w '%{http_code} %{content_type}' "$BASE/style.css"
    [ "$output" = "200 text/css; charset=utf-8" ]
}

@test "web: no inline script, style or handler; no innerHTML in the client" {
    ! grep -Eiq '<script[^>]*>[^<]' "$ROOT/web/index.html"
    ! grep -Eiq '<style|[[:space:]]style=|[[:space:]]on[a-z]+=' "$ROOT/web/index.html"
    ! grep -En 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function' "$ROOT"/web/js/*.js
}

@test "web: client modules under node (dedupe, ordering, backoff, error words, the poll loop)" {
    command -v node >/dev/null || skip "node is not installed"
    run node --test "$ROOT/tests/web/unit.mjs" "$ROOT/tests/web/delivery.mjs"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "web: end to end in chromium: three users, online dots, General and private chat, XSS as text, reload, session expiry, reset, outages, sign-out, revoked key" {
    if [ "$BUILD" = build/asan ]; then
        skip "browser suite runs with the release build only: the same JS against the same /api contract"
    fi
    [ -x "$ROOT/$BUILD/chat-poller" ] || skip "chat-poller is not built: no live delivery to test"
    [ -x /usr/bin/chromium ] || { echo "Debian chromium missing (CHAT_WITH_BROWSER=1 tools/deps.sh)" >&2; return 1; }
    if [ ! -d "$ROOT/tests/web/node_modules/playwright-core" ]; then
        (cd "$ROOT/tests/web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
    fi
    mkdir -p "$ROOT/tests/artifacts/web"
    run env BASE="$BASE" REDIS_PORT="$REDIS_PORT" ARTIFACTS="$ROOT/tests/artifacts/web" CHROMIUM=/usr/bin/chromium \
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 150 node "$ROOT/tests/web/e2e.mjs"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"no page errors, no CSP violations"* ]]
}

@test "web: ten tabs of one profile over HTTP/1.1 share one poll: each signs in within 2 s and shows each message within 1 s; a slow join in the polling tab loses nothing" {
    browser_run tabs
}

@test "web: unread badges: Tom writes privately to Ana reading General in two tabs; a badge within 1 s, the title counts, opening clears both tabs" {
    browser_run unread
}
