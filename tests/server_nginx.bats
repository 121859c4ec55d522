#!/usr/bin/env bats
# The stack behind nginx from deploy/nginx.conf.in (tools/stack.sh writes
# the config into the test directory and runs nginx -p DIR -c CONF
# -g 'daemon off;'): chat.fcgi spawned by spawn-fcgi on a unix socket,
# proxy_pass to the poller.
load helpers
load server_common

setup_file() { server_setup nginx; }
teardown_file() { stack_teardown; }

@test "nginx: ready, signIn, channelJoin, channelMessage with Authorization: Bearer" {
    check_contract
}

@test "nginx: bad input is answered as JSON (413, 400, 405, 401)" {
    check_bad_input
}

@test "nginx: a long poll wakes on a message" {
    check_long_poll
}

@test "nginx: an SSE stream delivers a message live" {
    check_sse_live
}

@test "nginx: /metrics answers on loopback; the config allows 127.0.0.1 only" {
    check_metrics_loopback
    block=$(sed -n '/location = \/metrics {/,/}/p' "$TEST_DIR/nginx/nginx.conf")
    grep -qE '^[[:space:]]*allow 127\.0\.0\.1;' <<<"$block"
    grep -qE '^[[:space:]]*deny all;' <<<"$block"
    # nothing else is allowed
    [ "$(grep -cE '^[[:space:]]*allow ' <<<"$block")" -le 2 ]
    ! grep -E '^[[:space:]]*allow ' <<<"$block" | grep -vqE 'allow (127\.0\.0\.1|::1);'
}

@test "nginx: the config does not buffer polls and streams and outwaits the longest poll" {
    block=$(sed -n '/location ~ \^\/(poll|events)\$ {/,/}/p' "$TEST_DIR/nginx/nginx.conf")
    grep -qE '^[[:space:]]*proxy_buffering off;' <<<"$block"
    t=$(awk '$1 == "proxy_read_timeout" {print $2+0}' <<<"$block")
    [ "$t" -gt 55 ]
    t=$(awk '$1 == "fastcgi_read_timeout" {print $2+0}' "$TEST_DIR/nginx/nginx.conf")
    [ "$t" -gt 55 ]
}

@test "nginx: a poll with timeout=45 answers 200 JSON after 45 s (started in setup)" {
    check_slow_poll
}

@test "nginx: the poller's edge answers are JSON (431, 405, 413, 501)" {
    check_poller_edges
}

@test "nginx: its own errors are JSON (400, 400/431, 404)" {
    check_front_errors
}

@test "nginx: chat-poller killed: /poll and /events answer JSON 502/503 with Retry-After" {
    check_poller_down
}
