#!/usr/bin/env bats
# chat.fcgi as plain CGI behind lighttpd mod_cgi, from deploy/lighttpd-cgi.conf
# (tools/stack.sh: STACK_SERVER=cgi, as make run SERVER=cgi): one process per
# request, no chat-poller; /cgi-bin/chat.cgi/<route> and the short routes
# rewritten to it.
load helpers
load server_common
load server_nopoller

setup_file() { nopoller_setup cgi; }
teardown_file() { stack_teardown; }

@test "cgi (lighttpd): no chat-poller runs; every answer comes from a CGI process" {
    check_np_no_poller
    # lighttpd keeps no chat.fcgi: none is its child between requests (the
    # setup's last CGI process may still be exiting: give it 5 s)
    stack_wait_for 5 bash -c "[ -z \"\$(pgrep -P $(cat "$TEST_DIR/lighttpd.pid.bg"))\" ]"
    grep -q '"mod_cgi"' "$ROOT/deploy/lighttpd-cgi.conf"
    ! grep -q 'fastcgi' <(grep -v '^#' "$ROOT/deploy/lighttpd-cgi.conf")
}

@test "cgi (lighttpd): ready, signIn, users with Authorization: Bearer; PATH_INFO routes" {
    check_np_contract /cgi-bin/chat.cgi
}

@test "cgi (lighttpd): bad input is a JSON 400 (and 405)" {
    check_np_bad_input
}

@test "cgi (lighttpd): a body over 64 KiB is the gateway's JSON 413" {
    check_np_too_large
}

@test "cgi (lighttpd): a poll with timeout=2 is held 2 s and answered empty" {
    check_np_poll_timeout
}

@test "cgi (lighttpd): a long poll wakes on a message" {
    check_long_poll
}

@test "cgi (lighttpd): /events is a JSON 404 (SSE needs chat-poller)" {
    check_np_events_404 /cgi-bin/chat.cgi
}

@test "cgi (lighttpd): the config's hold limits reach chat.fcgi (max hold 20 s, shared slots)" {
    check_np_hold_limit 20
    # they are the config's: stack.sh leaves them out of cgi-env.conf
    ! grep -q 'CHAT_POLL_MAX_HOLD\|CHAT_POLL_HOLD_SLOTS' "$TEST_DIR/cgi-env.conf"
    grep -q '"REDIS_ADDRESS" => "'"$REDIS_ADDRESS"'"' "$TEST_DIR/cgi-env.conf"
}
