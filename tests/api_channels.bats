#!/usr/bin/env bats
# channelJoin, channelLeave and channelMessage over POST /api: history,
# members, the original's keys and bytes, private channels and their rules.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

@test "channelMessage stores the original's bytes and PUBLISHes the same" {
    sign_in A alice
    rcli subscribe public > "$TEST_DIR/sub.out" &
    sub=$!
    stack_wait_for 5 bash -c "[ \$(redis-cli -p $REDIS_PORT pubsub numsub public | tail -1) = 1 ]"
    say A "" 'hi <b>&amp; "q" é'$'\u2028'
    expect_status 200
    [ "$(jqb .type)" = channelMessage ]
    m=$(jqb .channelMessage.UUID)
    [ "$(jqb .channelMessage.SenderUUID)" = "$A_UUID" ]
    [ "$(jqb .channelMessage.Sender.Username)" = alice ]
    [ "$(jqb .channelMessage.RecipientUUID)" = "" ]
    [ "$(jqb '.channelMessage | has("Recipient")')" = false ]
    [ "$(jqb .channelMessage.Message)" = 'hi <b>&amp; "q" é'$'\u2028' ]
    [[ "$(jqb .channelMessage.CreatedAt)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]*[1-9])?Z$ ]]
    stored=$(rcli lindex channelMessages.public -1)
    want="{\"UUID\":\"$m\",\"SenderUUID\":\"$A_UUID\",\"RecipientUUID\":\"\",\"Message\":\"hi \\u003cb\\u003e\\u0026amp; \\\"q\\\" é\\u2028\",\"CreatedAt\":\"$(jqb .channelMessage.CreatedAt)\"}"
    [ "$stored" = "$want" ]
    stack_wait_for 5 grep -qF "$m" "$TEST_DIR/sub.out"
    kill $sub
    grep -qF "$want" "$TEST_DIR/sub.out"
}

@test "channelJoin public: 10 newest oldest first, Sender filled, members" {
    sign_in A bob
    sign_in B carl
    join A ""
    expect_status 200
    for i in $(seq 1 12); do say B "" "bulk $i"; done
    join A ""
    expect_status 200
    [ "$(jqb '.channelJoin.messages | length')" = 10 ]
    [ "$(jqb '.channelJoin.messages[0].Message')" = "bulk 3" ]
    [ "$(jqb '.channelJoin.messages[9].Message')" = "bulk 12" ]
    [ "$(jqb '.channelJoin.messages[9].Sender.Username')" = carl ]
    [ "$(jqb '.channelJoin | has("recipientUUID")')" = false ]
    [ "$(jqb "[.channelJoin.users[] | select(.UUID == \"$A_UUID\")] | length")" = 1 ]
    ! grep -qi password <<<"$BODY"
    [ -n "$(rcli hget channelUsers.public "$A_UUID")" ]
    [ "$(rcli hget "rcg:session.$A_SESSION" ch)" = public ]
    [ "$(rcli hget "rcg:session.$A_SESSION" pos)" = "$(rcli llen channelMessages.public)" ]
}

@test "private channel: one id both ways, members only, Recipient filled" {
    sign_in A dave
    sign_in B eve
    join A "$B_UUID"
    expect_status 200
    [ "$(jqb .channelJoin.recipientUUID)" = "$B_UUID" ]
    ch=$(rcli get "channelSenderRecipient.$A_UUID.$B_UUID")
    [[ "$ch" =~ ^[0-9a-f-]{36}$ ]]
    [ "$(rcli get "channelSenderRecipient.$B_UUID.$A_UUID")" = "$ch" ]
    [ "$(rcli hlen "channelUsers.$ch")" = 2 ]
    say B "$A_UUID" "psst dave"
    expect_status 200
    [ "$(jqb .channelMessage.Recipient.Username)" = dave ]
    [ "$(jqb .channelMessage.RecipientUUID)" = "$A_UUID" ]
    [ "$(rcli llen "channelMessages.$ch")" = 1 ]
    join B "$A_UUID"
    [ "$(jqb '.channelJoin.messages[0].Message')" = "psst dave" ]
    [ "$(jqb '.channelJoin.users | length')" = 2 ]
    [ "$(rcli get "channelSenderRecipient.$B_UUID.$A_UUID")" = "$ch" ]
}

@test "a third user can never read or write a private channel of others" {
    sign_in A fay
    sign_in B gus
    sign_in C hal
    say A "$B_UUID" "secret between fay and gus"
    ch=$(rcli get "channelSenderRecipient.$A_UUID.$B_UUID")
    # C joining either member opens C's own pair, never theirs
    join C "$B_UUID"
    expect_status 200
    ! grep -q "secret between" <<<"$BODY"
    [ "$(rcli get "channelSenderRecipient.$C_UUID.$B_UUID")" != "$ch" ]
    # acting as A with C's key is refused
    api "{\"type\":\"channelJoin\",\"userUUID\":\"$A_UUID\",\"channelJoin\":{\"recipientUUID\":\"$B_UUID\"}}" "$C_KEY"
    expect_error 403 210
    api "{\"type\":\"channelMessage\",\"userUUID\":\"$A_UUID\",\"channelMessage\":{\"recipientUUID\":\"$B_UUID\",\"message\":\"forged\"}}" "$C_KEY"
    expect_error 403 210
    [ "$(rcli llen "channelMessages.$ch")" = 1 ]
    # using A's session with C's key is refused
    api "{\"type\":\"channelJoin\",\"sessionUUID\":\"$A_SESSION\",\"channelJoin\":{\"recipientUUID\":\"$B_UUID\"}}" "$C_KEY"
    expect_error 403 212
}

@test "the sender is the key's owner, whatever userUUID says" {
    sign_in A ida
    api "{\"type\":\"channelMessage\",\"userUUID\":\"$A_UUID\",\"channelMessage\":{\"recipientUUID\":\"\",\"message\":\"mine\"}}" "$A_KEY"
    expect_status 200
    [ "$(jqb .channelMessage.SenderUUID)" = "$A_UUID" ]
    [ "$(rcli lindex channelMessages.public -1 | jq -r .SenderUUID)" = "$A_UUID" ]
}

@test "commands after sign-in need a valid access key" {
    sign_in A jon
    before=$(rcli llen channelMessages.public)
    for t in users channelJoin channelLeave channelMessage signOut; do
        api "{\"type\":\"$t\",\"$t\":{\"recipientUUID\":\"\",\"message\":\"x\"}}"
        expect_error 401 208
        api "{\"type\":\"$t\",\"$t\":{\"recipientUUID\":\"\",\"message\":\"x\"}}" \
            "00000000-0000-4000-8000-000000000000"
        expect_error 401 209
    done
    [ "$(rcli llen channelMessages.public)" = "$before" ]
}

@test "unknown recipient is 404 and creates nothing" {
    sign_in A kim
    before=$(rcli dbsize)
    ghost=11111111-1111-4111-8111-111111111111
    join A "$ghost"
    expect_error 404 100
    say A "$ghost" "hello?"
    expect_error 404 100
    api "{\"type\":\"channelLeave\",\"channelLeave\":{\"recipientUUID\":\"$ghost\"}}" "$A_KEY"
    expect_error 404 100
    [ -z "$(rcli keys "channelSenderRecipient.$A_UUID.*")" ]
}

@test "joining another channel leaves the previous one; leave clears it" {
    sign_in A lea
    sign_in B max
    join A ""
    join A "$B_UUID"
    [ "$(rcli hget "rcg:session.$A_SESSION" r)" = "$B_UUID" ]
    [ "$(rcli hget "rcg:session.$A_SESSION" jn)" = 2 ]
    n=$(rcli xlen rcg:events)
    api "{\"type\":\"channelLeave\",\"sessionUUID\":\"$A_SESSION\",\"channelLeave\":{\"recipientUUID\":\"$B_UUID\"}}" "$A_KEY"
    expect_status 200
    [ "$(jqb .channelLeave.recipientUUID)" = "$B_UUID" ]
    [ "$(rcli hget "rcg:session.$A_SESSION" ch)" = "" ]
    [ "$(rcli xlen rcg:events)" -gt "$n" ]
    last=$(rcli xrevrange rcg:events + - COUNT 1 | tr '\n' ' ')
    [[ "$last" == *"channelLeave"*"$A_UUID"*"$B_UUID"* ]]
}

@test "message rules: 1..4096 bytes, not only white space, stored as sent" {
    sign_in A ned
    say A "" "   "
    expect_error 400 205
    say A "" $'\t\n '
    expect_error 400 205
    say A "" ""
    expect_error 400 205
    big=$(printf 'm%.0s' $(seq 1 4097))
    say A "" "$big"
    expect_error 400 205
    ok=$(printf 'é%.0s' $(seq 1 2048))
    say A "" "$ok"
    expect_status 200
    [ "$(jqb .channelMessage.Message)" = "$ok" ]
    say A "" "  spaced  "
    [ "$(jqb .channelMessage.Message)" = "  spaced  " ]
}

@test "rate limit: too many messages from one user is 429 with Retry-After" {
    [ "$CHAT_MSG_RATE" -gt 1000 ] || skip "rate limit is set low elsewhere"
    sign_in A olga
    # put this user's 10 s window over the limit
    rcli set "rcg:rate.$A_UUID" 100000 EX 10 >/dev/null
    say A "" "over"
    expect_error 429 218
    headers=$(curl -s -D - -o /dev/null -X POST -H "Authorization: Bearer $A_KEY" \
        --data-binary '{"type":"channelMessage","channelMessage":{"message":"x"}}' "$BASE/api")
    grep -qi '^Retry-After: [1-9]' <<<"$headers"
}

@test "channelJoin pushes sys/channelJoin into the events stream, no password" {
    sign_in A pia
    join A ""
    ev=$(rcli xrevrange rcg:events + - COUNT 1 | tr '\n' ' ')
    [[ "$ev" == *"channelJoin"*"$A_UUID"*"pia"* ]]
    ! rcli xrange rcg:events - + | grep -qi 'argon2\|secret-pia'
}

# batch JSON...: channelMessageBatch with these message objects.
batch() {
    local k=$1
    shift
    api "$(jq -nc --argjson m "[$(IFS=,; echo "$*")]" \
        '{type:"channelMessageBatch",channelMessageBatch:{messages:$m}}')" "$k"
}

@test "channelMessageBatch: up to 32 messages in one request, stored in order, each once" {
    sign_in A "ba-$RANDOM"
    sign_in B "bb-$RANDOM"
    n0=$(rcli llen channelMessages.public)
    batch "$A_KEY" '{"recipientUUID":"","message":"one"}' \
        '{"message":"two","clientId":"6f1c5e2a-0000-4000-8000-000000000001"}' \
        "{\"recipientUUID\":\"$B_UUID\",\"message\":\"to b\"}"
    expect_status 200
    [ "$(jqb .type)" = channelMessageBatch ]
    [ "$(jqb '[.channelMessageBatch.messages[].Message] | join(",")')" = "one,two,to b" ]
    [ "$(jqb '.channelMessageBatch.messages[2].Recipient.UUID')" = "$B_UUID" ]
    [ "$(jqb '[.channelMessageBatch.messages[].Sender.UUID] | unique | .[0]')" = "$A_UUID" ]
    [ "$(rcli llen channelMessages.public)" = $((n0 + 2)) ]
    [ "$(rcli lindex channelMessages.public -2 | jq -r .Message)" = one ]
    # the bytes the reply names are the ones stored
    [ "$(rcli lindex channelMessages.public -1 | jq -r .UUID)" = "$(jqb '.channelMessageBatch.messages[1].UUID')" ]
    # a retry of the same batch: the retried message is not stored again
    batch "$A_KEY" '{"message":"two","clientId":"6f1c5e2a-0000-4000-8000-000000000001"}'
    expect_status 200
    [ "$(jqb '.channelMessageBatch.messages[0].UUID')" = "$(rcli lindex channelMessages.public -1 | jq -r .UUID)" ]
    [ "$(rcli llen channelMessages.public)" = $((n0 + 2)) ]
}

@test "channelMessageBatch: all or none; bad batches are 400, an unknown recipient 404" {
    sign_in A "bc-$RANDOM"
    n0=$(rcli llen channelMessages.public)
    batch "$A_KEY" '{"message":"ok"}' \
        '{"recipientUUID":"00000000-0000-4000-8000-00000000dead","message":"x"}'
    expect_error 404 100
    batch "$A_KEY" '{"message":"ok"}' '{"message":""}'
    expect_status 400
    batch "$A_KEY" '{"message":"ok"}' '"not an object"'
    expect_error 400 1
    batch "$A_KEY"
    expect_error 400 1
    many=$(for i in $(seq 33); do printf '{"message":"m%d"}\n' "$i"; done | paste -sd, -)
    batch "$A_KEY" "$many"
    expect_error 400 1
    api '{"type":"channelMessageBatch","channelMessageBatch":{"messages":{}}}' "$A_KEY"
    expect_error 400 1
    batch "" '{"message":"no key"}'
    expect_status 401
    [ "$(rcli llen channelMessages.public)" = "$n0" ]
}
