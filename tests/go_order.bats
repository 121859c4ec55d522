#!/usr/bin/env bats
# The Go server's order (PUBLISH, then RPUSH) with keyspace notifications
# available: chat-poller and chat.fcgi switch them on (CONFIG SET) and wake
# on the list write itself.
load helpers
load go_order

setup_file() { go_setup_file; }
teardown_file() { go_teardown_file; }

@test "keyspace: the poller switches list-write notifications on" {
    stack_wait_for 10 bash -c "curl -s $BASE/metrics | grep -q '^chat_poller_keyspace_notifications 1'"
    flags=$(rcli config get notify-keyspace-events | tail -1)
    [[ $flags == *K* ]] && [[ $flags == *l* || $flags == *A* ]]
}

@test "keyspace: PUBLISH then RPUSH after 5/30/120/200 ms reaches /poll, /events and chat.fcgi /poll once" {
    go_each_gap ks
}

@test "keyspace: 20 Go-order messages among 20 sent through /api: each once, in order, within 2 s" {
    go_interleaved ksi
}
