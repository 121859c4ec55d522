#!/usr/bin/env bats
# chat.fcgi as plain CGI behind Apache mod_cgid, from deploy/apache-cgi.conf
# (tools/stack.sh: STACK_SERVER=apache-cgi, as make run SERVER=apache-cgi):
# one process per request, no chat-poller; /cgi-bin/chat.cgi/<route>
# (ScriptAlias) and the short routes rewritten to it.
load helpers
load server_common
load server_nopoller

setup_file() { nopoller_setup apache-cgi; }
teardown_file() { stack_teardown; }

@test "cgi (apache): no chat-poller runs; the config is mod_cgid with CGIPassAuth" {
    check_np_no_poller
    grep -qE '^LoadModule cgid_module' "$ROOT/deploy/apache-cgi.conf"
    ! grep -qE '^LoadModule (fcgid|proxy)' "$ROOT/deploy/apache-cgi.conf"
    block=$(sed -n '/<Location "\/cgi-bin\/chat.cgi">/,/<\/Location>/p' "$ROOT/deploy/apache-cgi.conf")
    grep -qE '^[[:space:]]*CGIPassAuth On' <<<"$block"
}

@test "cgi (apache): ready, signIn, users with Authorization: Bearer; PATH_INFO routes" {
    check_np_contract /cgi-bin/chat.cgi
}

@test "cgi (apache): bad input is a JSON 400 (and 405)" {
    check_np_bad_input
}

@test "cgi (apache): a body over 64 KiB is the gateway's JSON 413, whole" {
    # chat.fcgi reads the refused body before it exits: mod_cgid would
    # otherwise read a reset and cut the reply (curl exit 18)
    check_np_too_large
}

@test "cgi (apache): a poll with timeout=2 is held 2 s and answered empty" {
    check_np_poll_timeout
}

@test "cgi (apache): a long poll wakes on a message" {
    check_long_poll
}

@test "cgi (apache): /events is a JSON 404 (SSE needs chat-poller)" {
    check_np_events_404 /cgi-bin/chat.cgi
}

@test "cgi (apache): the config's hold limits reach chat.fcgi (max hold 20 s, shared slots)" {
    check_np_hold_limit 20
    ! grep -q 'CHAT_POLL_MAX_HOLD\|CHAT_POLL_HOLD_SLOTS' "$TEST_DIR/apache/cgi-env.conf"
    grep -q '^SetEnv REDIS_ADDRESS "'"$REDIS_ADDRESS"'"$' "$TEST_DIR/apache/cgi-env.conf"
    t=$(awk '$1 == "Timeout" {print $2}' "$ROOT/deploy/apache-cgi.conf")
    [ "$t" -gt 20 ]
}
