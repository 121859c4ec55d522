#!/usr/bin/env bats
# Account commands over POST /api through lighttpd: ready, signUp, signIn,
# signOut, users; access keys and sessions.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

@test "ready returns a fresh session and stores it" {
    api '{"type":"ready"}'
    expect_status 200
    s=$(jqb .ready.sessionUUID)
    [[ "$s" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ "$(rcli exists "userSession.$s")" = 1 ]
    ttl=$(rcli ttl "userSession.$s")
    [ "$ttl" -gt 3500 ] && [ "$ttl" -le 3600 ]
    api '{"type":"ready"}'
    [ "$(jqb .ready.sessionUUID)" != "$s" ]
}

@test "api replies are JSON, never cached" {
    headers=$(curl -s -D - -o /dev/null -X POST --data-binary '{"type":"ready"}' "$BASE/api")
    grep -qi '^Content-Type: application/json; charset=utf-8' <<<"$headers"
    grep -qi '^Cache-Control: no-store' <<<"$headers"
}
