#!/usr/bin/env bats
# The Go server's order (PUBLISH, then RPUSH) where Redis has CONFIG
# renamed away and no keyspace notifications: the poller probes with LPOS
# and chat.fcgi re-reads on a schedule.
load helpers
load go_order

setup_file() {
    mkdir -p /tmp/chat-test-conf.$$
    export STACK_REDIS_CONF=/tmp/chat-test-conf.$$/redis.conf
    echo 'rename-command CONFIG ""' >"$STACK_REDIS_CONF"
    go_setup_file
}
teardown_file() {
    go_teardown_file
    rm -rf "$(dirname "$STACK_REDIS_CONF")"
}

@test "no CONFIG: the poller says how to enable notifications and probes instead" {
    run rcli config get notify-keyspace-events
    [[ $output == *"unknown command"* ]]
    stack_wait_for 10 grep -q 'notify-keyspace-events Kl' "$TEST_DIR/poller.log"
    [ "$(curl -s "$BASE/metrics" | awk '$1 == "chat_poller_keyspace_notifications" {print $2}')" = 0 ]
}

@test "no CONFIG: PUBLISH then RPUSH after 5/30/120/200 ms reaches /poll, /events and chat.fcgi /poll once" {
    go_each_gap nc
    [ "$(curl -s "$BASE/metrics" | awk '$1 == "chat_poller_probes_total" {print $2}')" -gt 0 ]
}

@test "no CONFIG: 20 Go-order messages among 20 sent through /api: each once, in order, within 2 s" {
    go_interleaved nci
}
