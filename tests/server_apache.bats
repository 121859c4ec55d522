#!/usr/bin/env bats
# The stack behind Apache 2.4 from deploy/apache.conf (tools/stack.sh:
# apache2 -f ... -DFOREGROUND, own ServerRoot, pid, log and port under the
# test directory): mod_fcgid runs chat.fcgi, mod_proxy_http the poller.
load helpers
load server_common

setup_file() { server_setup apache; }
teardown_file() { stack_teardown; }

@test "apache: ready, signIn, channelJoin, channelMessage with Authorization: Bearer" {
    check_contract
}

@test "apache: bad input is answered as JSON (413, 400, 405, 401)" {
    check_bad_input
}

@test "apache: a long poll wakes on a message" {
    check_long_poll
}

@test "apache: an SSE stream delivers a message live" {
    check_sse_live
}

@test "apache: /metrics answers on loopback; the config allows loopback only" {
    check_metrics_loopback
    # the only access rule of the /metrics location is Require local
    block=$(sed -n '/<Location "\/metrics">/,/<\/Location>/p' "$ROOT/deploy/apache.conf")
    [ "$(grep -c '^[[:space:]]*Require' <<<"$block")" = 1 ]
    grep -qE '^[[:space:]]*Require local[[:space:]]*$' <<<"$block"
}

@test "apache: the config passes Authorization and outwaits the longest poll" {
    grep -qE '^[[:space:]]*CGIPassAuth On' "$ROOT/deploy/apache.conf"
    t=$(awk '$1 == "FcgidIOTimeout" {print $2}' "$ROOT/deploy/apache.conf")
    [ "$t" -gt 55 ]
    for loc in poll events; do
        grep -E "ProxyPass .*/$loc\" .*timeout=([6-9][0-9]|[1-9][0-9]{2,})" \
            "$ROOT/deploy/apache.conf" | grep -q connectiontimeout=
    done
    grep -E 'ProxyPass .*/events" .*flushpackets=on' "$ROOT/deploy/apache.conf"
}

@test "apache: chat.fcgi gets the settings lighttpd.conf hands on (FcgidInitialEnv)" {
    want=$(sed -n '/bin-copy-environment/,/)/p' "$ROOT/lighttpd.conf" |
        grep -o '"[A-Z_]*"' | tr -d '"' | sort)
    have=$(printf '%s\n' "${STACK_FCGI_ENV[@]}" | sort)
    [ "$want" = "$have" ] || { diff <(echo "$want") <(echo "$have") >&2; return 1; }
    # what this stack set is in the include, CHAT_THREADS fixed at 1
    grep -q '^FcgidInitialEnv REDIS_ADDRESS "'"$REDIS_ADDRESS"'"$' "$TEST_DIR/apache/fcgid-env.conf"
    grep -q '^FcgidInitialEnv CHAT_PWHASH_OPSLIMIT "1"$' "$TEST_DIR/apache/fcgid-env.conf"
    ! grep -q 'CHAT_THREADS' "$TEST_DIR/apache/fcgid-env.conf"
    grep -qE '^FcgidInitialEnv CHAT_THREADS 1$' "$ROOT/deploy/apache.conf"
}

@test "apache: a poll with timeout=45 answers 200 JSON after 45 s (started in setup)" {
    check_slow_poll
}

@test "apache: the poller's edge answers are JSON (431, 405, 413, 501)" {
    check_poller_edges
}

@test "apache: its own errors are JSON (400, 400/431, 404)" {
    check_front_errors
}

@test "apache: chat-poller killed: /poll and /events answer JSON 502/503 with Retry-After" {
    check_poller_down
}
