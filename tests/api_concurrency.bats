#!/usr/bin/env bats
# Atomicity under concurrency: one user per name, one channel per pair.
load helpers

setup_file() {
    export CHAT_THREADS=16
    stack_setup
}
teardown_file() { stack_teardown; }

# post_many N BODY: N concurrent POSTs of BODY; prints "status body" lines.
post_many() {
    local n=$1 body=$2
    seq 1 "$n" | xargs -P "$n" -I{} curl -s -o "$TEST_DIR/out.{}" \
        -w '%{http_code}\n' -X POST --data-binary "$body" "$BASE/api"
}

@test "40 concurrent signUps of one new name: exactly one user" {
    # the same name and password: one creates it, the others are retries of
    # it (docs/contract.md: signUp) and answer the same user
    statuses=$(post_many 40 '{"type":"signUp","signUp":{"username":"racer","password":"p"}}')
    [ "$(grep -c '^200$' <<<"$statuses")" = 40 ]
    [ "$(cat "$TEST_DIR"/out.* | jq -r .authorized.userUUID | sort -u | wc -l)" = 1 ]
    rm -f "$TEST_DIR"/out.*
    # another password: every one is a taken name
    statuses=$(post_many 5 '{"type":"signUp","signUp":{"username":"racer","password":"other"}}')
    [ "$(grep -c '^409$' <<<"$statuses")" = 5 ]
    rm -f "$TEST_DIR"/out.*
    [ "$(rcli lrange users 0 -1 | grep -c '"Username":"racer"')" = 1 ]
    md5=$(printf racer | md5sum | cut -d' ' -f1)
    i=$(rcli get "usersUsernameListIndex.$md5")
    u=$(rcli lindex users "$i" | jq -r .UUID)
    [ "$(rcli get "usersUUIDListIndex.$u")" = "$i" ]
}

@test "40 concurrent signIns of one new name: one user, all signed in to it" {
    statuses=$(post_many 40 '{"type":"signIn","signIn":{"username":"crowd","password":"p"}}')
    [ "$(grep -c '^200$' <<<"$statuses")" = 40 ]
    [ "$(cat "$TEST_DIR"/out.* | jq -r .authorized.userUUID | sort -u | wc -l)" = 1 ]
    [ "$(rcli lrange users 0 -1 | grep -c '"Username":"crowd"')" = 1 ]
    rm -f "$TEST_DIR"/out.*
}

@test "concurrent first joins of a private pair give one channel both ways" {
    for pair in 1 2 3 4 5; do
        sign_in A "pa$pair"
        sign_in B "pb$pair"
        ja=$(jq -nc --arg r "$B_UUID" '{type:"channelJoin",channelJoin:{recipientUUID:$r}}')
        jb=$(jq -nc --arg r "$A_UUID" '{type:"channelJoin",channelJoin:{recipientUUID:$r}}')
        ma=$(jq -nc --arg r "$B_UUID" '{type:"channelMessage",channelMessage:{recipientUUID:$r,message:"x"}}')
        for i in $(seq 1 8); do
            curl -s -o /dev/null -X POST -H "Authorization: Bearer $A_KEY" --data-binary "$ja" "$BASE/api" &
            curl -s -o /dev/null -X POST -H "Authorization: Bearer $B_KEY" --data-binary "$jb" "$BASE/api" &
            curl -s -o /dev/null -X POST -H "Authorization: Bearer $A_KEY" --data-binary "$ma" "$BASE/api" &
        done
        wait
        ab=$(rcli get "channelSenderRecipient.$A_UUID.$B_UUID")
        ba=$(rcli get "channelSenderRecipient.$B_UUID.$A_UUID")
        [ -n "$ab" ] && [ "$ab" = "$ba" ]
        # A is a member of exactly one channel: theirs
        n=0
        for k in $(rcli keys 'channelUsers.*'); do
            [ "$(rcli hexists "$k" "$A_UUID")" = 1 ] && n=$((n + 1))
        done
        [ "$n" = 1 ]
        [ "$(rcli llen "channelMessages.$ab")" = 8 ]
    done
}

@test "concurrent messages are all stored, each once, none torn" {
    sign_in A many
    for i in $(seq 1 60); do
        curl -s -o /dev/null -X POST -H "Authorization: Bearer $A_KEY" --data-binary \
            "{\"type\":\"channelMessage\",\"channelMessage\":{\"message\":\"n$i\"}}" "$BASE/api" &
    done
    wait
    got=$(rcli lrange channelMessages.public 0 -1 | jq -r 'select(.SenderUUID == "'"$A_UUID"'") | .Message' | sort -V | tr '\n' ' ')
    [ "$got" = "$(seq -f 'n%g' 1 60 | tr '\n' ' ')" ]
}
