#!/usr/bin/env bats
# Sharing one Redis with the original Go server: its data (the recorded
# go-seed dump, tests/fixtures/go-seed.redis) works here, and what is
# written here has the original's shapes.
load helpers

ALICE=a6cf76fe-2a65-46a1-8be7-270a28c0035a
BOB=d0d14b91-afe5-433a-818e-a31d5ab0fdcd
PRIV=ff2e7647-80f3-4fea-9def-2a352ec2635d

setup_file() {
    stack_setup
    redis-cli -p "$REDIS_PORT" < "$ROOT/tests/fixtures/go-seed.redis" > /dev/null
}
teardown_file() { stack_teardown; }

@test "the fixture loaded: three users, 14 public messages" {
    [ "$(rcli llen users)" = 3 ]
    [ "$(rcli llen channelMessages.public)" = 14 ]
}

@test "users of the Go server sign in with their plaintext passwords" {
    api '{"type":"signIn","signIn":{"username":"alice","password":"pw-a"}}'
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$ALICE" ]
    api '{"type":"signIn","signIn":{"username":"alice","password":"pw-b"}}'
    expect_error 401 4
    api '{"type":"signIn","signIn":{"username":"bob","password":"pw-b"}}'
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$BOB" ]
    # their records are left as the Go server can still read them
    [ "$(rcli lindex users 0 | jq -r .Password)" = pw-a ]
}

@test "Go history loads with Sender filled, oldest first, escapes decoded" {
    sign_in A alice pw-a
    join A ""
    expect_status 200
    [ "$(jqb '.channelJoin.messages | length')" = 10 ]
    [ "$(jqb '.channelJoin.messages[0].Message')" = "bulk 1" ]
    [ "$(jqb '.channelJoin.messages[9].Message')" = "bulk 10" ]
    [ "$(jqb '.channelJoin.messages[0].Sender.Username')" = bob ]
    [ "$(jqb '.channelJoin.messages[0].CreatedAt')" = "2026-11-28T09:31:23.800733502Z" ]
    [ "$(jqb '.channelJoin.users | map(.Username) | sort | join(",")')" = "alice,bob,carol" ]
}

@test "the Go private channel of alice and bob is found in both directions" {
    sign_in A alice pw-a
    join A "$BOB"
    [ "$(jqb '.channelJoin.messages | map(.Message) | join(",")')" = "psst bob,psst alice" ]
    [ "$(jqb '.channelJoin.messages[0].Recipient.Username')" = bob ]
    sign_in B bob pw-b
    join B "$ALICE"
    [ "$(jqb '.channelJoin.messages | length')" = 2 ]
    say B "$ALICE" "from C"
    [ "$(rcli llen "channelMessages.$PRIV")" = 3 ]
}

@test "a message with HTML and U+2028 round-trips byte for byte" {
    sign_in A alice pw-a
    say A "" 'hello <b>&amp; "q" é '$'\u2028'
    stored=$(rcli lindex channelMessages.public -1)
    [[ "$stored" == *'"Message":"hello \u003cb\u003e\u0026amp; \"q\" é \u2028"'* ]]
    [ "$(rcli lindex channelMessages.public 0 | jq -r .Message)" = 'hello <b>&amp; "q" é '$'\u2028' ]
}

@test "new users append to the Go list with both index keys" {
    api '{"type":"signUp","signUp":{"username":"dan","password":"pw-d"}}'
    expect_status 200
    u=$(jqb .authorized.userUUID)
    [ "$(rcli llen users)" = 4 ]
    [ "$(rcli get "usersUUIDListIndex.$u")" = 3 ]
    [ "$(rcli get "usersUsernameListIndex.$(printf dan | md5sum | cut -d' ' -f1)")" = 3 ]
    rec=$(rcli lindex users 3)
    [ "$(jq -r 'keys_unsorted | join(",")' <<<"$rec")" = "UUID,Username,Password,OnLine" ]
}

@test "messages written here decode as the Go server expects" {
    sign_in A alice pw-a
    say A "$BOB" "to bob"
    n=0
    while read -r m; do
        [ -n "$m" ] || continue
        n=$((n + 1))
        [ "$(jq -r 'keys_unsorted | join(",")' <<<"$m")" = "UUID,SenderUUID,RecipientUUID,Message,CreatedAt" ]
        date -d "$(jq -r .CreatedAt <<<"$m")" +%s > /dev/null
    done < <(rcli lrange "channelMessages.$PRIV" 0 -1)
    [ "$n" -ge 3 ]
}

@test "Go records with escaped names read back decoded" {
    u=44444444-4444-4444-8444-444444444444
    i=$(( $(rcli rpush users "{\"UUID\":\"$u\",\"Username\":\"x\\u003cy \\\"q\\\"\",\"Password\":\"pw\",\"OnLine\":false}") - 1 ))
    rcli set "usersUUIDListIndex.$u" "$i" > /dev/null
    sign_in A alice pw-a
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    [ "$(jqb ".users.users[] | select(.UUID == \"$u\") | .Username")" = 'x<y "q"' ]
}

@test "a record the Go server could not decode does not break users or history" {
    rcli rpush channelMessages.public '{"UUID":"x","CreatedAt":"yesterday"' > /dev/null
    rcli rpush channelMessages.public 'not json' > /dev/null
    sign_in A alice pw-a
    join A ""
    expect_status 200
    [ "$(jqb '.channelJoin.messages | length')" -ge 8 ]
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
}
