#!/usr/bin/env bats
# lighttpd contains a hostile client (lighttpd.conf, deploy/per-ip-limit.lua):
# one client holding 2,000 slow connections (tests/slow_clients.js, from
# 127.0.0.2) does not stop another client's chat (from 127.0.0.1), its
# own further requests are refused with a JSON 429 (code 226) past the
# per-address limit, and connections that send nothing are closed by the
# idle limit (server.max-read-idle, 15 s).
load helpers
load server_common

setup_file() { stack_setup; }
teardown_file() {
    local pid
    pid=$(cat "$TEST_DIR/slow.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
    stack_teardown
}

ms() { echo $(( $(date +%s%N) / 1000000 )); }

# slow_wait LINE: waits (30 s at most) for the hostile client to print a
# line starting with LINE; prints that line.
slow_wait() {
    stack_wait_for 30 grep -q "^$1" "$TEST_DIR/slow.out" || return 1
    grep "^$1" "$TEST_DIR/slow.out"
}

@test "2,000 slow connections from one address: another client signs in, sends and receives within 2 s" {
    sign_in V "victim-$RANDOM"
    join V ""
    poll V "" 0
    c0=$CURSOR
    # the hostile client: 2,000 trickling connections and 20 silent ones,
    # for 22 s (enough for the silent ones to meet the 15 s idle limit)
    ( ulimit -n 8192; exec node "$ROOT/tests/slow_clients.js" 127.0.0.1 "$HTTP_PORT" 127.0.0.2 2000 20 22 ) \
        >"$TEST_DIR/slow.out" 2>&1 3>&- &
    echo $! >"$TEST_DIR/slow.pid"
    slow_wait "open 2000"
    held=$(ss -Htn state established "( sport = :$HTTP_PORT and dst 127.0.0.2 )" | wc -l)
    echo "lighttpd holds $held connections from 127.0.0.2" >&2
    [ "$held" -ge 2000 ]

    # the hostile address is past its limit: a whole request from it is
    # refused at once, as JSON
    http_ct POST /api --interface 127.0.0.2 --data-binary '{"type":"ready"}'
    expect_json_error 429 226
    curl -s -D - -o /dev/null --interface 127.0.0.2 "$BASE/health" | grep -qi '^Retry-After: [1-9]'

    # everyone else chats as usual: a new user signs in and sends, the
    # victim's long poll has it within 2 s
    sign_in W "other-$RANDOM"
    expect_status 200
    # (past W's sign-in, which every session hears of)
    poll V "$c0" 0
    expect_status 200
    c1=$CURSOR
    t0=$(ms)
    ( sleep 0.3; say W "" "through the storm $$" ) 3>&- &
    poll V "$c1" 10
    took=$(( $(ms) - t0 ))
    wait
    expect_status 200
    messages_of | grep -qx "through the storm $$"
    echo "the victim's poll answered after $took ms (message sent at 300 ms)" >&2
    [ "$took" -lt 2300 ]

    # the silent connections were closed by the idle limit (15 s), not by
    # the hostile client
    t=$(slow_wait "silent-closed" | cut -d' ' -f2)
    echo "silent connections closed after $t s" >&2
    [ "${t%.*}" -ge 14 ] && [ "${t%.*}" -le 20 ]
    slow_wait "end"
    # once the hostile client is gone, its address is served again
    stack_wait_for 10 curl -sf --interface 127.0.0.2 "$BASE/health"
}
