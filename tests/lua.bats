#!/usr/bin/env bats
# The Lua scripts of common/lua/ on their own, against a real redis-server:
# each script as Redis gets it (the prelude's frame, built by
# tools/lua2c.sh into TEST_DIR, as the Makefile builds it) through
# `redis-cli --eval`, and its edge cases from its header (KEYS, ARGV,
# reply). No chat.fcgi, no poller.
load helpers

KEY_TTL=3600 SESS_TTL=7200 MAXLEN=100

setup_file() {
    TEST_DIR=$(mktemp -d /tmp/chat-test.XXXXXX)
    REDIS_PORT=$(stack_free_port)
    export TEST_DIR REDIS_PORT
    bash "$ROOT/tools/lua2c.sh" "$TEST_DIR/gen" "$ROOT/common/lua/prelude.lua" \
        $(ls "$ROOT"/common/lua/*.lua | grep -v '/prelude\.lua$')
    stack_redis_start "$TEST_DIR" "$REDIS_PORT"
}

teardown_file() {
    stack_redis_stop "$TEST_DIR" "$REDIS_PORT"
    rm -rf "$TEST_DIR"
}

setup() { rcli flushall >/dev/null; }

# lua OPERATION ARG...: the script with ARGV[1..3] (key TTL, session TTL,
# events MAXLEN) and then ARG...; prints the reply as JSON (nil and false
# are null), an error as error:"...".
lua() {
    local op=$1
    shift
    redis-cli -p "$REDIS_PORT" --json --eval "$TEST_DIR/gen/lua/$op.lua" , \
        "$KEY_TTL" "$SESS_TTL" "$MAXLEN" "$@"
}

# user UUID NAME: a users record with both index keys (md5 = "md5.NAME").
user() {
    local n
    n=$(rcli rpush users "{\"UUID\":\"$1\",\"Username\":\"$2\",\"Password\":\"\",\"OnLine\":false}")
    rcli set "usersUsernameListIndex.md5.$2" $((n - 1)) >/dev/null
    rcli set "usersUUIDListIndex.$1" $((n - 1)) >/dev/null
}

# key KEY UUID NAME [TTL]: an access key of that user.
key() {
    rcli set "rcg:key.$1" "$2"$'\t'"$3" EX "${4:-$KEY_TTL}" >/dev/null
}

# session S [UUID] [CHANNEL] [RECIPIENT]: a session as ready and sign-in
# (and a join of CHANNEL, named RECIPIENT by UUID) leave it.
session() {
    rcli hset "rcg:session.$1" user "${2:-}" ch "${3:-}" r "${4:-}" jn 1 pos 0 \
        sys 0-0 nid 0-0 >/dev/null
}

# is EXPECTED: the last output is EXPECTED (a JSON reply as compact jq
# prints it, or error:"...").
is() {
    local got=$output
    [[ "$got" == error:* ]] || got=$(jq -c . <<<"$got")
    [ "$got" = "$1" ] || { echo "want $1, got $output" >&2; return 1; }
}

# ttl_in KEY LO HI: the key's TTL is within LO..HI.
ttl_in() {
    local t
    t=$(rcli ttl "$1")
    [ "$t" -ge "$2" ] && [ "$t" -le "$3" ] || { echo "TTL of $1: $t" >&2; return 1; }
}

# events: the types of rcg:events, one per line, oldest first.
events() {
    rcli --json xrange rcg:events - + | jq -r '.[][1][3]'
}

@test "an error names the line of the operation's own file" {
    run lua channel_read public not-a-number 5
    line=$(grep -n '^if from < n' "$ROOT/common/lua/channel_read.lua" | cut -d: -f1)
    [[ "$output" == *"user_script:$line: attempt to compare"* ]]
}

@test "an error in the prelude is at its line + the operation's length + 1" {
    rcli hset rcg:key.k a b >/dev/null # a hash: auth's GET fails
    run lua auth k ''
    n=$(wc -l <"$ROOT/common/lua/auth.lua")
    l=$(grep -n "local v = redis.call('GET', k)" "$ROOT/common/lua/prelude.lua" | cut -d: -f1)
    [[ "$output" == *WRONGTYPE*"user_script:$((n + 1 + l))"* ]]
}

@test "ready: 0-0 on an empty stream, else the newest id; a fresh session" {
    run lua ready s1
    is '"0-0"'
    id=$(rcli xadd rcg:events '*' s '*' t x u u n n r '')
    run lua ready s2
    is "\"$id\""
    [ "$(rcli --json hgetall rcg:session.s2 | jq -c 'del(.nid)')" = \
        "{\"user\":\"\",\"ch\":\"\",\"r\":\"\",\"jn\":\"0\",\"pos\":\"0\",\"sys\":\"$id\"}" ]
    # nid: the notices from now on, '<ms>-0' of Redis TIME
    nid=$(rcli hget rcg:session.s2 nid)
    now=$(rcli time | head -1)
    [[ "$nid" =~ ^[0-9]{13}-0$ ]] && [ $(( now - ${nid%-0} / 1000 )) -le 1 ]
    ttl_in rcg:session.s2 7100 7200
    ttl_in userSession.s2 7100 7200
}

@test "user_by_name: a free name, the NFC record, the typed one, similar and behind" {
    run lua user_by_name md5.alice 0 addr '' '' ''
    is '[null,null,0,0]'
    user u1 alice
    rcli set rcg:pw.u1 HASH >/dev/null
    run lua user_by_name md5.alice 0 addr '' '' ''
    [ "$(jq -c '.[1:]' <<<"$output")" = '["HASH",0,0]' ]
    [ "$(jq -r '.[0]' <<<"$output" | jq -r .UUID)" = u1 ]
    run lua user_by_name md5.nfc 0 addr md5.alice '' ''
    [ "$(jq -r '.[0]' <<<"$output" | jq -r .Username)" = alice ]
    # free, the index is behind the list (skelpos 0 < 1 user)
    run lua user_by_name md5.bob 0 addr '' '' ''
    is '[null,null,0,1]'
    rcli set rcg:skelpos 1 >/dev/null
    rcli set rcg:skel.k2 u1 >/dev/null
    run lua user_by_name md5.bob 0 addr '' k1 k2
    is '[null,null,1,0]'
    # limit 0 counts nothing
    [ "$(rcli exists rcg:tries.md5.bob.addr)" = 0 ]
}

@test "user_by_name: over the limit per name and address is 429 with the TTL" {
    run lua user_by_name md5.bob 2 addr '' '' ''
    run lua user_by_name md5.bob 2 addr '' '' ''
    is '[null,null,0,0]'
    run lua user_by_name md5.bob 2 addr '' '' ''
    [[ "$output" =~ ^error:\"CHAT429:signin\ (29[0-9]|300)\"$ ]]
    ttl_in rcg:tries.md5.bob.addr 290 300
    # another address is counted apart
    run lua user_by_name md5.bob 2 other '' '' ''
    is '[null,null,0,0]'
}

@test "user_by_name: past NAME_FACTOR x limit failures, one attempt per SLOW_GAP" {
    rcli set rcg:fails.md5.bob 20 >/dev/null
    run lua user_by_name md5.bob 2 a1 '' '' ''
    is '[null,null,0,0]'
    run lua user_by_name md5.bob 2 a2 '' '' ''
    [[ "$output" =~ ^error:\"CHAT429:signin\ ([1-9]|10)\"$ ]]
    rcli set rcg:fails.md5.bob 19 >/dev/null
    rcli del rcg:slow.md5.bob >/dev/null
    run lua user_by_name md5.bob 2 a3 '' '' ''
    run lua user_by_name md5.bob 2 a4 '' '' ''
    is '[null,null,0,0]'
}

@test "signin_fail counts in a FAIL_WINDOW; signin_refund gives back, deleting at 0" {
    run lua signin_fail md5.bob
    is 1
    run lua signin_fail md5.bob
    is 2
    ttl_in rcg:fails.md5.bob 290 300
    rcli set rcg:tries.md5.bob.addr 2 >/dev/null
    run lua signin_refund md5.bob addr
    is 1
    [ "$(rcli get rcg:tries.md5.bob.addr)" = 1 ]
    run lua signin_refund md5.bob addr
    [ "$(rcli exists rcg:tries.md5.bob.addr)" = 0 ]
    run lua signin_refund md5.bob addr # nothing to give back: still no key
    is 1
    [ "$(rcli exists rcg:tries.md5.bob.addr)" = 0 ]
}

# signin_create UID NAME SESSION SKEL1 SKEL2
signin_create() {
    lua signin "$1" "$2" "md5.$2" "{\"UUID\":\"$1\",\"Username\":\"$2\"}" \
        "key.$1" "$3" HASH '' addr "$4" "$5"
}

@test "signin: a create writes the record, indexes, hash, skel keys, key and presence" {
    rcli set rcg:tries.md5.alice.addr 3 >/dev/null
    rcli set rcg:fails.md5.alice 3 >/dev/null
    run signin_create u1 alice '' ka kb
    is 1
    [ "$(rcli lindex users 0)" = '{"UUID":"u1","Username":"alice"}' ]
    [ "$(rcli get usersUsernameListIndex.md5.alice)" = 0 ]
    [ "$(rcli get usersUUIDListIndex.u1)" = 0 ]
    [ "$(rcli get rcg:pw.u1)" = HASH ]
    [ "$(rcli get rcg:skel.ka)$(rcli get rcg:skel.kb)" = u1u1 ]
    [ "$(rcli get rcg:skelpos)" = 1 ] # it had reached the new record
    [ "$(rcli get rcg:key.key.u1)" = u1$'\t'alice ]
    ttl_in rcg:key.key.u1 3590 3600
    [ "$(rcli get userAccessKey.u1)" = key.u1 ]
    ttl_in userStatus.u1 50 60
    [ "$(rcli exists rcg:tries.md5.alice.addr rcg:fails.md5.alice)" = 0 ]
    [ "$(events)" = signIn ]
}

@test "signin: taken and similar names are 409 and write nothing" {
    signin_create u1 alice '' ka ''
    run signin_create u2 alice '' '' ''
    is 'error:"ERR CHAT409:taken"'
    run signin_create u2 alicia '' '' ka
    is 'error:"ERR CHAT409:similar"'
    [ "$(rcli llen users)" = 1 ]
    [ "$(rcli exists usersUUIDListIndex.u2 rcg:key.key.u2)" = 0 ]
}

@test "signin: rcg:skelpos stays behind when the index had not reached the record" {
    user u0 go-user # a record the index has not seen (skelpos 0)
    signin_create u1 alice '' ka ''
    [ "$(rcli exists rcg:skelpos)" = 0 ]
    [ "$(rcli get rcg:skel.ka)" = u1 ]
}

@test "signin: the session must be known and free or the user's" {
    run signin_create u1 alice nosuch '' ''
    is 'error:"ERR CHAT404:session"'
    session s u9
    run signin_create u1 alice s '' ''
    is 'error:"ERR CHAT403:session"'
    [ "$(rcli llen users)" = 0 ]
    session s2
    run signin_create u1 alice s2 '' ''
    is 1
    [ "$(rcli hget rcg:session.s2 user)" = u1 ]
}

@test "signin: a hash move replaces the record only when it is still the one read" {
    user u1 alice
    old=$(rcli lindex users 0)
    run lua signin u1 alice md5.alice '{"new":1}' key.u1 '' HASH2 changed addr '' ''
    is 1
    [ "$(rcli lindex users 0)" = "$old" ] # the record changed meanwhile
    [ "$(rcli exists rcg:pw.u1)" = 0 ]
    run lua signin u1 alice md5.alice '{"new":1}' key.u1 '' HASH2 "$old" addr '' ''
    [ "$(rcli lindex users 0)" = '{"new":1}' ]
    [ "$(rcli get rcg:pw.u1)" = HASH2 ]
    run lua pw_move u1 "$old" '{"newer":1}' HASH3
    is 0
    run lua pw_move u1 '{"new":1}' '{"newer":1}' HASH3
    is 1
    [ "$(rcli get rcg:pw.u1)" = HASH3 ]
}

@test "auth: no key, unknown key, another user; a bare uid value; the slide" {
    run lua auth '' ''
    is 'error:"ERR CHAT401:key"'
    run lua auth nosuch ''
    is 'error:"ERR CHAT401:key"'
    key k u1 alice
    run lua auth k u2
    is 'error:"ERR CHAT403:user"'
    run lua auth k u1
    is '"u1"'
    rcli set rcg:key.old u3 EX 100 >/dev/null # as written before the name
    run lua auth old ''
    is '"u3"'
    ttl_in rcg:key.old 3590 3600 # below KEY_TTL - KEY_SLIDE: refreshed
    key k2 u1 alice $((KEY_TTL - 30))
    run lua auth k2 ''
    ttl_in rcg:key.k2 $((KEY_TTL - 40)) $((KEY_TTL - 30)) # within: no write
}

@test "signout: deletes the key, the newest key only when it is this one, presence" {
    user u1 alice
    key k u1 alice
    rcli set userAccessKey.u1 newer >/dev/null
    rcli set userStatus.u1 t >/dev/null
    run lua signout k u2 '' ''
    is 'error:"ERR CHAT403:user"'
    run lua signout k '' u2 ''
    is 'error:"ERR CHAT403:user"'
    run lua signout k '' '' ''
    is '"u1"'
    [ "$(rcli exists rcg:key.k userStatus.u1)" = 0 ]
    [ "$(rcli get userAccessKey.u1)" = newer ]
    [ "$(events)" = signOut ]
    key k u1 alice
    rcli set userAccessKey.u1 k >/dev/null
    run lua signout k '' '' ''
    [ "$(rcli exists userAccessKey.u1)" = 0 ]
}

@test "signout: the session's channel is left and the session cleared" {
    user u1 alice
    key k u1 alice
    session s u1 public
    run lua signout k '' '' s
    is '"u1"'
    [ "$(events | paste -sd,)" = channelLeave,signOut ]
    [ "$(rcli --json hmget rcg:session.s user ch r | jq -c .)" = '["","",""]' ]
}

@test "join: public with the last histn messages, members and userinfo" {
    user u1 alice
    key k u1 alice
    session s u1
    for i in 1 2 3; do
        rcli rpush channelMessages.public "{\"SenderUUID\":\"u1\",\"RecipientUUID\":\"\",\"n\":$i}" >/dev/null
    done
    run lua join k '' '' s newid 2
    [ "$(jq -c '[.[0], (.[1] | map(fromjson.n)), .[2], .[3]]' <<<"$output")" = \
        '["public",[2,3],["u1"],["u1","alice",0]]' ]
    [ "$(rcli --json hmget rcg:session.s ch r jn pos | jq -c .)" = '["public","","2","3"]' ]
    [ "$(events)" = channelJoin ]
}

@test "join: no history on an empty channel; an unknown recipient is 404" {
    user u1 alice
    key k u1 alice
    run lua join k '' '' '' newid 10
    [ "$(jq -c '.[1]' <<<"$output")" = '[]' ]
    run lua join k '' u9 '' newid 10
    is 'error:"ERR CHAT404:recipient"'
    run lua join nokey '' '' '' newid 10
    is 'error:"ERR CHAT401:key"'
    run lua join k '' '' nosuch newid 10
    is 'error:"ERR CHAT404:session"'
}

@test "join: a private channel is made once, both ways, and leaves the old channel" {
    user u1 alice
    user u2 bob
    key k1 u1 alice
    key k2 u2 bob
    session s u1 public
    run lua join k1 '' u2 s c12 10
    [ "$(jq -r '.[0]' <<<"$output")" = c12 ]
    [ "$(rcli get channelSenderRecipient.u1.u2)$(rcli get channelSenderRecipient.u2.u1)" = c12c12 ]
    [ "$(rcli --json hkeys channelUsers.c12 | jq -c 'sort')" = '["u1","u2"]' ]
    [ "$(events | paste -sd,)" = channelLeave,channelJoin ]
    run lua join k2 '' u1 '' other 10
    [ "$(jq -r '.[0]' <<<"$output")" = c12 ]
}

@test "leave: a private channel never made writes nothing; the session's channel is cleared" {
    user u1 alice
    user u2 bob
    key k u1 alice
    session s u1 public
    run lua leave k '' u2 s
    is '["u1"]'
    [ -z "$(events)" ]
    run lua leave k '' u9 s
    is 'error:"ERR CHAT404:recipient"'
    run lua leave k '' '' s
    is '["u1"]'
    [ "$(events)" = channelLeave ]
    [ "$(rcli hget rcg:session.s ch)" = "" ]
    session s2 u1 other
    run lua leave k '' '' s2 # not its channel: kept
    [ "$(rcli hget rcg:session.s2 ch)" = other ]
}

@test "message: the original's bytes, RPUSHed; sender and recipient userinfo" {
    user u1 alice
    user u2 bob
    key k u1 alice
    rcli set userStatus.u2 t >/dev/null
    run lua message k '' '' c12 m1 '"hi \u003c"' 2024-01-01T00:00:00Z 0 ''
    want='{"UUID":"m1","SenderUUID":"u1","RecipientUUID":"","Message":"hi \u003c","CreatedAt":"2024-01-01T00:00:00Z"}'
    [ "$(jq -r '.[1]' <<<"$output")" = "$want" ]
    [ "$(jq -c '[.[0], .[2], .[3], .[4]]' <<<"$output")" = '["u1","public",["u1","alice",0],0]' ]
    [ "$(rcli lindex channelMessages.public 0)" = "$want" ]
    run lua message k '' u2 c12 m2 '"x"' t 0 ''
    [ "$(jq -c '[.[2], .[3]]' <<<"$output")" = '["c12",["u1","alice",0,"u2","bob",1]]' ]
    run lua message k '' u9 c12 m2 '"x"' t 0 ''
    is 'error:"ERR CHAT404:recipient"'
}

@test "message: over the rate limit is 429 with the window's TTL" {
    user u1 alice
    key k u1 alice
    run lua message k '' '' c m1 '"a"' t 2 ''
    run lua message k '' '' c m2 '"b"' t 2 ''
    run lua message k '' '' c m3 '"c"' t 2 ''
    [[ "$output" =~ ^error:\"CHAT429:rate\ ([1-9]|10)\"$ ]]
    [ "$(rcli llen channelMessages.public)" = 2 ]
}

@test "message: a retried client id answers the stored bytes, storing and counting nothing" {
    user u1 alice
    key k u1 alice
    run lua message k '' '' c m1 '"a"' t 5 cid1
    first=$(jq -r '.[1]' <<<"$output")
    [ "$(jq '.[4]' <<<"$output")" = 0 ]
    ttl_in rcg:cid.u1.cid1 590 600
    run lua message k '' '' c m2 '"other"' t 5 cid1
    [ "$(jq -r '.[1]' <<<"$output")" = "$first" ]
    [ "$(jq -c '[.[2], .[4]]' <<<"$output")" = '["public",1]' ]
    [ "$(rcli llen channelMessages.public)" = 1 ]
    [ "$(rcli get rcg:rate.u1)" = 1 ]
    # the key names the element (channel, length after it, uuid), not a copy
    [ "$(rcli get rcg:cid.u1.cid1)" = "public"$'\t'"1"$'\t'"m1" ]
    # a key written before, with the bytes: still answered
    rcli set rcg:cid.u1.cid2 "public"$'\t'"$first" EX 600 >/dev/null
    run lua message k '' '' c m3 '"b"' t 5 cid2
    [ "$(jq -c '[.[1] == $f, .[4]]' --arg f "$first" <<<"$output")" = '[true,1]' ]
    # the element gone (the list rewritten): the retry is stored anew
    rcli del channelMessages.public >/dev/null
    run lua message k '' '' c m4 '"c"' t 5 cid1
    [ "$(jq -c '[(.[1] | fromjson.UUID), .[4]]' <<<"$output")" = '["m4",0]' ]
    [ "$(rcli llen channelMessages.public)" = 1 ]
}

@test "message: a batch stores in order, all or none, userinfo of every recipient" {
    user u1 alice
    user u2 bob
    user u3 carol
    key k u1 alice
    run lua message k '' '' c12 m1 '"a"' t 0 '' u2 c12 m2 '"b"' t '' u3 c13 m3 '"c"' t ''
    [ "$(jq -c '[.[0], .[2], .[4]]' <<<"$output")" = '["u1","public",0]' ]
    [ "$(jq -c '[.[5][1], .[5][2], .[5][4], .[5][5]]' <<<"$output")" = '["c12",0,"c13",0]' ]
    [ "$(jq -c '.[3]' <<<"$output")" = '["u1","alice",0,"u2","bob",0,"u3","carol",0]' ]
    [ "$(rcli lindex channelMessages.c12 0 | jq -r .UUID)" = m2 ]
    [ "$(rcli lindex channelMessages.c13 0 | jq -r .UUID)" = m3 ]
    # an unknown recipient anywhere in the batch: nothing stored
    run lua message k '' '' c m4 '"d"' t 0 '' u9 c14 m5 '"e"' t ''
    is 'error:"ERR CHAT404:recipient"'
    [ "$(rcli llen channelMessages.public)" = 1 ]
    # the rate limit counts every new message of the batch
    run lua message k '' '' c m6 '"f"' t 2 '' '' c m7 '"g"' t '' '' c m8 '"h"' t ''
    [[ "$output" =~ ^error:\"CHAT429:rate\ ([1-9]|10)\"$ ]]
    [ "$(rcli llen channelMessages.public)" = 1 ]
}

@test "poll: key and session checks; presence and the session refreshed" {
    user u1 alice
    key k u1 alice
    run lua poll k nosuch '' '' 0 10
    is 'error:"ERR CHAT404:session"'
    session s u9
    run lua poll k s '' '' 0 10
    is 'error:"ERR CHAT403:session"'
    session s2 u1
    run lua poll k s2 '' '' 0 10
    is '["0-0","1",0,"",0,[],[],[],"u1","0-0","0-0",[],""]'
    ttl_in userStatus.u1 50 60
    ttl_in rcg:session.s2 7100 7200
    ttl_in userSession.s2 7100 7200
    # at most once per REFRESH (10) s: a TTL within 10 s of full is left
    rcli expire userStatus.u1 52 >/dev/null
    rcli expire rcg:session.s2 7191 >/dev/null
    rcli expire userSession.s2 7191 >/dev/null
    run lua poll k s2 '' '' 0 10
    ttl_in userStatus.u1 45 52
    ttl_in rcg:session.s2 7180 7191
    ttl_in userSession.s2 7180 7191
    # further from full: refreshed
    rcli expire userStatus.u1 49 >/dev/null
    rcli expire rcg:session.s2 7189 >/dev/null
    rcli set userSession.s2 old EX 7189 >/dev/null
    run lua poll k s2 '' '' 0 10
    ttl_in userStatus.u1 59 60
    ttl_in rcg:session.s2 7199 7200
    ttl_in userSession.s2 7199 7200
    [ "$(rcli get userSession.s2)" != old ]
}

@test "poll: events of its scope after the cursor, messages from the position, the limit" {
    user u1 alice
    key k u1 alice
    session s u1 public
    a=$(rcli xadd rcg:events '*' s '*' t signIn u u1 n alice r '')
    rcli xadd rcg:events '*' s other t channelJoin u u2 n bob r '' >/dev/null
    b=$(rcli xadd rcg:events '*' s public t channelJoin u u1 n alice r '')
    for i in 1 2 3; do
        rcli rpush channelMessages.public "{\"SenderUUID\":\"u1\",\"n\":$i}" >/dev/null
    done
    run lua poll k s '' '' 0 10
    [ "$(jq -c '[.[0], .[1], .[2], .[3], .[4], (.[5] | map(.[1][3])), (.[6] | map(fromjson.n)), .[7]]' <<<"$output")" = \
        "[\"$b\",\"1\",3,\"public\",0,[\"signIn\",\"channelJoin\"],[1,2,3],[\"u1\",\"alice\",1]]" ]
    # the cursor's join counter matches: its position counts; limit 2
    run lua poll k s 1 "$a" 1 2
    [ "$(jq -c '[.[0], .[2], (.[5] | length), (.[6] | map(fromjson.n))]' <<<"$output")" = \
        "[\"$b\",2,1,[2]]" ]
    # another join counter: the session's position (0) counts
    run lua poll k s 7 "$b" 2 10
    [ "$(jq -c '[.[2], (.[6] | length)]' <<<"$output")" = '[3,3]' ]
}

@test "poll: the check of the element before the cursor; another element there is a reset" {
    user u1 alice
    key k u1 alice
    session s u1 public
    rcli rpush channelMessages.public a b >/dev/null
    chk_b=$(printf %s b | sha1sum | cut -c1-8)
    chk_x=$(printf %s x | sha1sum | cut -c1-8)
    # no check in the cursor: none verified; the reply's is of position 1
    run lua poll k s 1 '' 1 10 '' ''
    [ "$(jq -c '[.[2], .[4], (.[6] | length), .[12]]' <<<"$output")" = \
        "[2,0,1,\"$(printf %s a | sha1sum | cut -c1-8)\"]" ]
    # the right check: the reply's is that of the element it passed
    run lua poll k s 1 '' 2 10 '' "$chk_b"
    [ "$(jq -c '[.[2], .[4], .[12]]' <<<"$output")" = "[2,0,\"$chk_b\"]" ]
    # b lost, x written in its place: same length, another element
    rcli rpop channelMessages.public >/dev/null
    rcli rpush channelMessages.public x >/dev/null
    run lua poll k s 1 '' 2 10 '' "$chk_b"
    [ "$(jq -c '[.[2], .[4], (.[6] | length), .[12]]' <<<"$output")" = \
        "[2,1,0,\"$chk_x\"]" ]
    # a cursor of another join: its check is not this list's, not verified
    run lua poll k s 9 '' 2 10 '' 00000000
    [ "$(jq -c '.[4]' <<<"$output")" = 0 ]
    # position 0 has no check
    rcli hset rcg:session.s jn 3 >/dev/null
    run lua poll k s 3 '' 0 1 '' ''
    [ "$(jq -c '[.[2], .[12]]' <<<"$output")" = '[1,""]' ]
}

@test "channel_read: the check at its first position" {
    rcli rpush channelMessages.public a b c >/dev/null
    run lua channel_read public 2 5
    [ "$(jq -c '[.[0], .[1], .[3]]' <<<"$output")" = \
        "[3,[\"c\"],\"$(printf %s b | sha1sum | cut -c1-8)\"]" ]
    run lua channel_read public 0 1
    [ "$(jq -c '.[3]' <<<"$output")" = '""' ]
}

@test "poll: a position beyond the list and a trimmed-away cursor are resets" {
    user u1 alice
    key k u1 alice
    session s u1 public
    rcli rpush channelMessages.public m >/dev/null
    run lua poll k s 1 '' 5 10
    [ "$(jq -c '[.[2], .[4]]' <<<"$output")" = '[1,1]' ]
    for i in $(seq 1 5); do rcli xadd rcg:events MAXLEN 2 '*' s '*' t x u u n n r '' >/dev/null; done
    last=$(rcli --json xrevrange rcg:events + - COUNT 1 | jq -r '.[0][0]')
    run lua poll k s 1 1-0 1 10
    [ "$(jq -c '[.[0], .[4], (.[5] | length)]' <<<"$output")" = "[\"$last\",1,0]" ]
    # the id just before the first one kept: nothing lost
    first=$(rcli --json xrange rcg:events - + COUNT 1 | jq -r '.[0][0]')
    before="${first%-*}-$(( ${first#*-} - 1 ))"
    if [ "${first#*-}" -gt 0 ]; then
        run lua poll k s 1 "$before" 1 10
        [ "$(jq -c '[.[4], (.[5] | length)]' <<<"$output")" = '[0,2]' ]
    fi
}

# wakes N COMMAND...: runs COMMAND while subscribed to rcg:wake; prints
# the payloads published there, one per line.
wakes() {
    local out=$TEST_DIR/wakes
    timeout 3 redis-cli -p "$REDIS_PORT" --csv subscribe rcg:wake >"$out" &
    local pid=$!
    for _ in $(seq 50); do grep -q subscribe "$out" 2>/dev/null && break; sleep 0.05; done
    "$@" >/dev/null
    sleep 0.2
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    grep '^"message"' "$out" | cut -d, -f3 | tr -d '"'
}

# notices UUID: the notices of a user as "<m> <u> <n> <r>", oldest first.
notices() {
    rcli --json xrange "rcg:notice.$1" - + |
        jq -r '.[] | .[1] | [.[1], .[3], .[5], .[7], .[9]] | join(" ")'
}

@test "message: read positions; a private message is a notice for its recipient, never the text" {
    user u1 alice
    user u2 bob
    key k u1 alice
    run lua message k '' '' c12 m1 '"pub"' t 0 ''
    [ "$(rcli hget rcg:read.u1 public)" = 1 ]
    [ "$(rcli exists rcg:read.u2 rcg:notice.u1 rcg:notice.u2)" = 0 ]
    [ "$(wakes lua message k '' u2 c12 m2 '"secret"' t 0 '')" = u.u2 ]
    # the sender has read its channel; the recipient's is counted from 0
    [ "$(rcli hget rcg:read.u1 u2)$(rcli hget rcg:read.u2 u1)" = 10 ]
    [ "$(notices u2)" = "channelMessage u1 alice u2 m2" ]
    ! rcli --json xrange rcg:notice.u2 - + | grep -q secret
    ttl_in rcg:notice.u2 7100 7200
    # HSETNX: a position the recipient reached stays
    rcli hset rcg:read.u2 u1 1 >/dev/null
    run lua message k '' u2 c12 m3 '"again"' t 0 ''
    [ "$(rcli hget rcg:read.u2 u1)$(rcli hget rcg:read.u1 u2)" = 12 ]
    # a batch: a notice per message, one wake per recipient
    [ "$(wakes lua message k '' u2 c m4 '"a"' t 0 '' '' c m5 '"b"' t '' u2 c m6 '"c"' t '')" = u.u2 ]
    [ "$(notices u2 | cut -d' ' -f5 | paste -sd,)" = m2,m3,m4,m6 ]
    [ "$(rcli hget rcg:read.u1 public)$(rcli hget rcg:read.u1 u2)" = 24 ]
    # to oneself: no notice; a retried client id: none either
    [ -z "$(wakes lua message k '' u1 c11 m7 '"me"' t 0 '')" ]
    [ "$(rcli exists rcg:notice.u1)" = 0 ]
    run lua message k '' u2 c m8 '"x"' t 0 cid1
    [ -z "$(wakes lua message k '' u2 c m9 '"x"' t 0 cid1)" ]
    [ "$(notices u2 | wc -l)" = 5 ]
}

@test "join, leave, sign-out: the caller has read the channel to its end" {
    user u1 alice
    user u2 bob
    key k u1 alice
    for i in 1 2 3; do rcli rpush channelMessages.public x >/dev/null; done
    run lua join k '' '' '' newid 2
    [ "$(rcli hget rcg:read.u1 public)" = 3 ]
    run lua join k '' u2 '' c12 10
    [ "$(rcli hget rcg:read.u1 u2)" = 0 ]
    [ "$(rcli exists rcg:read.u2)" = 0 ]
    # never backwards
    rcli hset rcg:read.u1 public 9 >/dev/null
    run lua join k '' '' '' newid 2
    [ "$(rcli hget rcg:read.u1 public)" = 9 ]
    # a session leaving a channel (another join, a leave, a sign-out) has
    # read it to its end
    rcli hset rcg:read.u1 public 1 >/dev/null
    session s u1 public
    run lua join k '' u2 s c12 10
    [ "$(rcli hget rcg:read.u1 public)" = 3 ]
    rcli rpush channelMessages.c12 x >/dev/null
    run lua leave k '' u2 s
    [ "$(rcli hget rcg:read.u1 u2)" = 1 ]
    session s u1 public
    rcli hset rcg:read.u1 public 0 >/dev/null
    run lua signout k '' '' s
    [ "$(rcli hget rcg:read.u1 public)" = 3 ]
}

@test "poll: the user's notices after the cursor's, before the messages, within the limit" {
    user u1 alice
    key k u1 alice
    session s u1 c12 u2
    rcli rpush channelMessages.c12 '{"SenderUUID":"u2","n":1}' >/dev/null
    a=$(rcli xadd rcg:notice.u1 '*' t channelMessage u u2 n bob r u1 m m1)
    b=$(rcli xadd rcg:notice.u1 '*' t channelMessage u u2 n bob r u1 m m2)
    rcli xadd rcg:notice.u9 '*' t channelMessage u u2 n bob r u9 m m3 >/dev/null
    run lua poll k s 1 0-0 0 10 0-0
    [ "$(jq -c '[.[8], .[9], .[10], (.[11] | map(.[1][9])), (.[6] | length), .[2]]' <<<"$output")" = \
        "[\"u1\",\"0-0\",\"$b\",[\"m1\",\"m2\"],1,1]" ]
    # the position this answer reaches is read
    [ "$(rcli hget rcg:read.u1 u2)" = 1 ]
    # after the cursor's notice id; the limit counts notices first
    rcli rpush channelMessages.c12 '{"SenderUUID":"u2","n":2}' >/dev/null
    run lua poll k s 1 0-0 1 1 "$a"
    [ "$(jq -c '[.[9], .[10], (.[11] | map(.[1][9])), (.[6] | length), .[2]]' <<<"$output")" = \
        "[\"$a\",\"$b\",[\"m2\"],0,1]" ]
    [ "$(rcli hget rcg:read.u1 u2)" = 1 ]
    # no notice id: the session's (its ready); none there: from now on
    run lua poll k s 1 0-0 1 10
    [ "$(jq -c '[.[9], (.[11] | length)]' <<<"$output")" = '["0-0",2]' ]
    rcli hdel rcg:session.s nid >/dev/null
    run lua poll k s 1 0-0 1 10 ''
    [[ "$(jq -r '.[9]' <<<"$output")" =~ ^[0-9]{13}-0$ ]]
    [ "$(jq -c '.[11] | length' <<<"$output")" = 0 ]
}

@test "unread: each channel's length past the read position, public as ''" {
    user u1 alice
    user u2 bob
    user u3 carol
    key k u1 alice
    rcli set channelSenderRecipient.u1.u2 c12 >/dev/null
    for i in 1 2 3; do rcli rpush channelMessages.public x >/dev/null; done
    for i in 1 2; do rcli rpush channelMessages.c12 x >/dev/null; done
    run lua unread k ''
    is '["u1",[]]'
    rcli hset rcg:read.u1 public 1 u2 0 u3 0 >/dev/null
    run lua unread k ''
    [ "$(jq -c '[.[0], (.[1] | [_nwise(2)] | sort)]' <<<"$output")" = '["u1",[["",2],["u2",2]]]' ]
    rcli hset rcg:read.u1 public 3 u2 5 >/dev/null
    run lua unread k ''
    is '["u1",[]]'
    run lua unread nokey ''
    is 'error:"ERR CHAT401:key"'
    run lua unread k u2
    is 'error:"ERR CHAT403:user"'
}

@test "channel_read: from the position, none past the end or for count 0" {
    user u1 alice
    for i in 1 2 3; do
        rcli rpush channelMessages.c "{\"SenderUUID\":\"u1\",\"RecipientUUID\":\"u2\",\"n\":$i}" >/dev/null
    done
    run lua channel_read c 1 5
    [ "$(jq -c '[.[0], (.[1] | map(fromjson.n)), .[2]]' <<<"$output")" = \
        '[3,[2,3],["u1","alice",0,"u2",null,0]]' ]
    run lua channel_read c 3 5
    [ "$(jq -c '.[0:3]' <<<"$output")" = '[3,[],[]]' ]
    run lua channel_read c 0 0
    is '[3,[],[],""]'
    run lua channel_read none 0 5
    is '[0,[],[],""]'
}

@test "hold_take: max slots, expired holders dropped, the key's TTL" {
    run lua hold_take t1 30 2
    is 1
    run lua hold_take t2 30 2
    is 1
    run lua hold_take t3 30 2
    is 0
    ttl_in rcg:holds 25 30
    rcli zadd rcg:holds 1 t1 >/dev/null # expired long ago
    run lua hold_take t3 30 2
    is 1
    [ "$(rcli --json zrange rcg:holds 0 -1 | jq -c 'sort')" = '["t2","t3"]' ]
}

@test "skel_tail and skel_add: the records not seen, SET NX, the position only in order" {
    user u1 alice
    user u2 bob
    run lua skel_tail 10
    [ "$(jq -c '[.[0], (.[1] | map(fromjson.UUID))]' <<<"$output")" = '[0,["u1","u2"]]' ]
    run lua skel_add 1 u2 kb '' # out of order: keys set, position kept
    is 1
    [ "$(rcli exists rcg:skelpos)" = 0 ]
    run lua skel_add 0 u1 ka kb
    [ "$(rcli get rcg:skelpos)" = 1 ]
    [ "$(rcli get rcg:skel.ka)$(rcli get rcg:skel.kb)" = u1u2 ]
    run lua skel_tail 1
    [ "$(jq -c '[.[0], (.[1] | map(fromjson.UUID))]' <<<"$output")" = '[1,["u2"]]' ]
}
