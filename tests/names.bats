#!/usr/bin/env bats
# Usernames and Unicode: the NFC form is stored and looked up, invisible
# and formatting characters are refused, and a new name that looks like a
# taken one (case, confusables, fullwidth) is 409, Go users included.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

# body TYPE NAME PASSWORD: a signIn/signUp request.
body() {
    jq -nc --arg t "$1" --arg u "$2" --arg p "$3" '{type:$t,($t):{username:$u,password:$p}}'
}

md5() { printf %s "$1" | md5sum | cut -d' ' -f1; }

# go_user NAME PASSWORD: a users record written as the Go server writes it
# (plaintext password, both index keys, no rcg: key); prints its uuid.
go_user() {
    local u n
    u=$(cat /proc/sys/kernel/random/uuid)
    n=$(( $(rcli rpush users "$(jq -c -n --arg u "$u" --arg n "$1" --arg p "$2" \
        '{UUID:$u,Username:$n,Password:$p,OnLine:false}')"$'\n') - 1 ))
    rcli set "usersUsernameListIndex.$(md5 "$1")" "$n" >/dev/null
    rcli set "usersUUIDListIndex.$u" "$n" >/dev/null
    echo "$u"
}

# skel_owners: the uuids the confusable index holds, one per line.
skel_owners() {
    rcli --scan --pattern 'rcg:skel.*' | while read -r k; do rcli get "$k"; done
}

@test "Alice, ALICE, aIice, Cyrillic а and fullwidth ａｌｉｃｅ are refused once alice exists" {
    api "$(body signUp alice pw-alice)"
    expect_status 200
    a=$(jqb .authorized.userUUID)
    n=$(rcli llen users)
    for name in Alice ALICE aIice $'\u0430lice' ＡＬＩＣＥ ａｌｉｃｅ; do
        api "$(body signUp "$name" pw-other)"
        expect_error 409 216
        [[ "$(jqb .error.message)" == *"looks like"* ]]
        # signIn creates unknown names: not one like a taken name
        api "$(body signIn "$name" pw-alice)"
        expect_error 409 216
    done
    [ "$(rcli llen users)" = "$n" ]
    api "$(body signIn alice pw-alice)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$a" ]
    # alicia is another name
    api "$(body signUp alicia pw-alicia)"
    expect_status 200
}

@test "a name with a zero-width, bidi or other invisible character is 400 code 203" {
    api "$(body signUp bob pw-bob)"
    expect_status 200
    n=$(rcli llen users)
    for name in $'bob\u200b' $'\u200bcarol' $'\u202eecila' $'a\u2066b\u2069' $'\ufeffdave' \
        $'e\u00adve' $'\u3164' $'x\u200dy' $'ann\u200e'; do
        api "$(body signUp "$name" pw-x)"
        expect_error 400 203
        [[ "$(jqb .error.message)" == *invisible* ]]
        api "$(body signIn "$name" pw-x)"
        expect_error 400 203
    done
    api "$(body signUp $'bob\u200b' pw-bob)"
    [[ "$(jqb .error.message)" == *"U+200B"* ]]
    [ "$(rcli llen users)" = "$n" ]
}

@test "an NFD name is stored as NFC, and NFD and NFC both sign in to it" {
    nfd=$'Rene\u0301e'
    nfc=$'Ren\u00e9e'
    api "$(body signUp "$nfd" pw-renee)"
    expect_status 200
    u=$(jqb .authorized.userUUID)
    [ "$(jqb .user.Username)" = "$nfc" ]
    i=$(rcli get "usersUsernameListIndex.$(md5 "$nfc")")
    [ "$(rcli get "usersUUIDListIndex.$u")" = "$i" ]
    [ -z "$(rcli get "usersUsernameListIndex.$(md5 "$nfd")")" ]
    [ "$(rcli lindex users "$i" | jq -r .Username)" = "$nfc" ]
    api "$(body signIn "$nfc" pw-renee)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    api "$(body signIn "$nfd" pw-renee)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    # a signUp retried in the other form is the same user; another password is 409
    api "$(body signUp "$nfc" pw-renee)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    api "$(body signUp "$nfd" pw-other)"
    expect_error 409 216
    api "$(body signUp RENÉE pw-other)"
    expect_error 409 216
}

@test "the create writes the skeleton keys with the user, and the index position" {
    api "$(body signUp "zoë-$$" pw-z)"
    expect_status 200
    u=$(jqb .authorized.userUUID)
    skel_owners | grep -qx "$u"
    [ "$(rcli get rcg:skelpos)" = "$(rcli llen users)" ]
    # the Go server's indexes are left as they were: two keys per user
    [ "$(rcli --scan --pattern "usersUsernameListIndex.*" | wc -l)" = "$(rcli llen users)" ]
}

@test "a Go user without an index entry signs in with its exact name and blocks look-alikes" {
    g=$(go_user "Mallory-$$" pw-go)
    [ "$(rcli get rcg:skelpos)" -lt "$(rcli llen users)" ]
    ! skel_owners | grep -qx "$g"
    rec=$(rcli lindex users -1)
    api "$(body signIn "Mallory-$$" pw-go)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$g" ]
    # the new name is checked against it: the index catches up first
    api "$(body signUp "mallory-$$" pw-new)"
    expect_error 409 216
    skel_owners | grep -qx "$g"
    [ "$(rcli get rcg:skelpos)" = "$(rcli llen users)" ]
    # its record is the Go server's still
    [ "$(rcli lindex users "$(rcli get "usersUUIDListIndex.$g")")" = "$rec" ]
    api "$(body signIn "Mallory-$$" pw-go)"
    expect_status 200
}

@test "Go users with names this server would not create still sign in by their exact name" {
    nfd=$'Jose\u0301-'$$
    g1=$(go_user "$nfd" pw-j)
    g2=$(go_user $'trent\u200b-'$$ pw-t)
    api "$(body signIn "$nfd" pw-j)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$g1" ]
    [ "$(jqb .user.Username)" = "$nfd" ]
    api "$(body signIn "$nfd" wrong)"
    expect_error 401 4
    api "$(body signIn $'trent\u200b-'$$ pw-t)"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$g2" ]
    # the NFC form is another, look-alike name: refused, not created
    n=$(rcli llen users)
    api "$(body signUp $'Jos\u00e9-'$$ pw-x)"
    expect_error 409 216
    api "$(body signUp "trent-$$" pw-x)"
    expect_error 409 216
    [ "$(rcli llen users)" = "$n" ]
}

@test "chat.fcgi --migrate indexes every Go user" {
    g=$(go_user "Oscar-$$" pw-o)
    run env REDIS_ADDRESS="$REDIS_ADDRESS" "$ROOT/$BUILD/chat.fcgi" --migrate
    [ "$status" = 0 ]
    [[ $output == *"indexed 1 names for confusables"* ]]
    skel_owners | grep -qx "$g"
    [ "$(rcli get rcg:skelpos)" = "$(rcli llen users)" ]
    run env REDIS_ADDRESS="$REDIS_ADDRESS" "$ROOT/$BUILD/chat.fcgi" --migrate
    [[ $output == *"indexed 0 names for confusables"* ]]
    api "$(body signUp "0SCAR-$$" pw-x)"
    expect_error 409 216
}

# slow_signup JSON OUT: POST /api as CGI with a hash that takes a while,
# so that concurrent signUps all pass the lookup before any creates.
slow_signup() {
    printf '%s' "$1" | env -i PATH="$PATH" REDIS_ADDRESS="$REDIS_ADDRESS" \
        ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
        CHAT_PWHASH_OPSLIMIT=4 CHAT_PWHASH_MEMLIMIT=33554432 \
        REQUEST_METHOD=POST REQUEST_URI=/api CONTENT_LENGTH=${#1} \
        "$ROOT/$BUILD/chat.fcgi" 2>>"$TEST_DIR/cgi.log" | sed '1,/^\r$/d' >"$2"
}

@test "look-alike signUps at once create one user; the others are 409" {
    base="race-$$-$RANDOM"
    n=$(rcli llen users)
    i=0
    for name in "$base" "${base^^}" "${base^}"; do
        slow_signup "$(body signUp "$name" "pw-$name")" "$TEST_DIR/race.$i" &
        i=$((i + 1))
    done
    wait
    [ "$(rcli llen users)" = $((n + 1)) ]
    [ "$(cat "$TEST_DIR"/race.* | jq -r .type | grep -c authorized)" = 1 ]
    [ "$(cat "$TEST_DIR"/race.* | jq -r '.error.code // empty' | tr '\n' ' ')" = "216 216 " ]
}
