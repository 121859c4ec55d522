#!/usr/bin/env bats
# The short-lived users page cache (CHAT_USERS_CACHE_MS): a new user shows
# at once, presence lags by at most the cache time, keys are still checked
# on every request, other pages are not served from it.
load helpers

setup_file() {
    export CHAT_USERS_CACHE_MS=800
    stack_setup
}
teardown_file() { stack_teardown; }

online_of() { # online_of UUID: OnLine of that user in the last body
    jqb ".users.users[] | select(.UUID == \"$1\") | .OnLine"
}

@test "a new user appears at once, though the page is cached" {
    sign_in A cache-a
    api '{"type":"users"}' "$A_KEY"
    n=$(jqb .users.total)
    sign_in B cache-b
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    [ "$(jqb .users.total)" = $((n + 1)) ]
    [ "$(online_of "$B_UUID")" = true ]
}

@test "presence changes show within the cache time" {
    sign_in A cache-c
    api '{"type":"users"}' "$A_KEY"
    [ "$(online_of "$A_UUID")" = true ]
    rcli del "userStatus.$A_UUID" > /dev/null
    api '{"type":"users"}' "$A_KEY"
    cached=$(online_of "$A_UUID")
    sleep 0.9
    api '{"type":"users"}' "$A_KEY"
    [ "$(online_of "$A_UUID")" = false ]
    # served from the page built before the change (proves the cache works)
    [ "$cached" = true ]
}

@test "the access key is checked on every request, cached or not" {
    sign_in A cache-d
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    api '{"type":"users"}' "00000000-0000-4000-8000-000000000000"
    expect_error 401 209
    api '{"type":"users"}'
    expect_error 401 208
    api "{\"type\":\"signOut\"}" "$A_KEY"
    api '{"type":"users"}' "$A_KEY"
    expect_error 401 209
}

@test "another page is not answered from the cached one" {
    sign_in A cache-e
    api '{"type":"users"}' "$A_KEY"
    all=$(jqb '.users.received')
    api '{"type":"users","users":{"offset":1,"limit":1}}' "$A_KEY"
    [ "$(jqb .users.received)" = 1 ]
    [ "$(jqb '.users.users[0].UUID')" = "$(rcli lindex users 1 | jq -r .UUID)" ]
    api '{"type":"users"}' "$A_KEY"
    [ "$(jqb .users.received)" = "$all" ]
}
