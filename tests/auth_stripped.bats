#!/usr/bin/env bats
# A front server that strips Authorization (as Apache does for FastCGI and
# CGI without CGIPassAuth): the repository's lighttpd.conf plus one line that
# removes the header. The web client falls back to the key in the body and
# the query; the documented curl forms work too.
load helpers

setup_file() {
    export STACK_LIGHTTPD_CONF
    STACK_LIGHTTPD_CONF=$(mktemp /tmp/chat-strip.XXXXXX.conf)
    { cat "$ROOT/lighttpd.conf"
      echo 'setenv.set-request-header = ( "Authorization" => "" )'
    } >"$STACK_LIGHTTPD_CONF"
    stack_setup
}
teardown_file() {
    stack_teardown
    rm -f "$STACK_LIGHTTPD_CONF"
}

@test "stripping host: the header never arrives (401 code 208)" {
    sign_in S "strip-$RANDOM"
    api '{"type":"users"}' "$S_KEY"
    expect_error 401 208
    http GET "/poll?sessionUUID=$S_SESSION&timeout=0" -H "Authorization: Bearer $S_KEY"
    expect_error 401 208
}

@test "stripping host: the key in the body and the query works (curl)" {
    sign_in C "stripc-$RANDOM"
    api "{\"type\":\"users\",\"accessKey\":\"$C_KEY\"}"
    expect_status 200
    http GET "/poll?sessionUUID=$C_SESSION&accessKey=$C_KEY&timeout=0"
    expect_status 200
}

@test "stripping host: the web client falls back by itself" {
    command -v node >/dev/null || skip "node is not installed"
    run env BASE="$BASE" node "$ROOT/tests/web/auth_fallback.mjs"
    echo "$output"
    [ "$status" = 0 ]
    [[ $output == *"fallback ok"* ]]
}
