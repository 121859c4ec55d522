#!/usr/bin/env bats
# Every bad input of CONTRACT.md §3: a clear JSON error with the right
# status, the request never echoed, nothing half written, never a crash.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

raw() { # raw BODY-FILE [curl args]: POST a file as the body
    local f=$1
    shift
    HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X POST \
        "$@" --data-binary "@$f" "$BASE/api")
    BODY=$(cat "$TEST_DIR/body")
}

@test "malformed JSON is 400 code 1 and the request is not echoed" {
    for b in '{not json' '{"type":"signIn","signIn":{"password":"sekrit-9"' \
             "{'type':'ready'}" '{"type":"ready"} x' '{"type":"ready"}{}' \
             '{"type":"ready",}' '/* c */{"type":"ready"}' '{"type":NaN}' ''; do
        api "$b"
        expect_error 400 1
        ! grep -q sekrit <<<"$BODY"
    done
}

@test "JSON that is not an object is 400 code 1" {
    for b in '[]' '[{"type":"ready"}]' '"ready"' '42' 'null' 'true'; do
        api "$b"
        expect_error 400 1
    done
}

@test "missing, empty or unknown type is 400 code 0; type is case-sensitive" {
    api '{}'
    expect_error 400 0
    api '{"type":""}'
    expect_error 400 0
    api '{"type":"nope"}'
    expect_error 400 0
    api '{"type":"SignIn","signIn":{"username":"a","password":"b"}}'
    expect_error 400 0
    api '{"type":"channelMessages"}'
    expect_error 400 0
}

@test "wrong field types are 400 code 1" {
    sign_in A ann
    api '{"type":7}'
    expect_error 400 1
    api '{"type":"signIn","signIn":{"username":7,"password":"p"}}'
    expect_error 400 1
    api '{"type":"signIn","signIn":{"username":"u","password":["p"]}}'
    expect_error 400 1
    api '{"type":"signIn","signIn":"alice"}'
    expect_error 400 1
    api "{\"type\":\"users\",\"accessKey\":5}"
    expect_error 400 1
    api '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":5}}' "$A_KEY"
    expect_error 400 1
    api '{"type":"channelJoin","channelJoin":{"recipientUUID":null}}' "$A_KEY"
    expect_status 200
}

@test "missing body objects are 400, for every type that needs one" {
    sign_in A ben
    for t in signIn signUp; do
        api "{\"type\":\"$t\"}"
        expect_error 400 200
        api "{\"type\":\"$t\",\"$t\":null}"
        expect_error 400 200
    done
    for t in channelJoin channelMessage channelLeave; do
        api "{\"type\":\"$t\"}" "$A_KEY"
        expect_error 400 200
    done
    api '{"type":"signIn","signIn":{"password":"p"}}'
    expect_error 400 203
    api '{"type":"signIn","signIn":{"username":"x"}}'
    expect_error 400 204
    api '{"type":"channelMessage","channelMessage":{"recipientUUID":""}}' "$A_KEY"
    expect_error 400 205
    # signOut's body object is optional
    api '{"type":"signOut"}' "$A_KEY"
    expect_status 200
}

@test "bad UUIDs are 400" {
    sign_in A cy
    for u in nope 1234 "$A_UUID-x" "g0000000-0000-4000-8000-000000000000" \
             "00000000000040008000000000000000"; do
        join A "$u"
        expect_error 400 201
        say A "$u" hi
        expect_error 400 201
        api "{\"type\":\"users\",\"userUUID\":\"$u\"}" "$A_KEY"
        expect_error 400 201
        api "{\"type\":\"users\",\"sessionUUID\":\"$u\"}" "$A_KEY"
        expect_error 400 201
    done
}

@test "invalid UTF-8 is 400 code 202" {
    sign_in A dee
    printf '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"a\xff\xfeb"}}' > "$TEST_DIR/bad.json"
    before=$(rcli llen channelMessages.public)
    raw "$TEST_DIR/bad.json" -H "Authorization: Bearer $A_KEY"
    expect_error 400 202
    printf '{"type":"signIn","signIn":{"username":"\xc0\xaf","password":"p"}}' > "$TEST_DIR/bad2.json"
    raw "$TEST_DIR/bad2.json"
    expect_error 400 202
    printf '{"type":"ready","x":"\xed\xa0\x80"}' > "$TEST_DIR/bad3.json"
    raw "$TEST_DIR/bad3.json"
    expect_error 400 202
    [ "$(rcli llen channelMessages.public)" = "$before" ]
}

@test "a body over 64 KiB is 413; exactly 64 KiB is parsed" {
    head -c 65537 /dev/zero | tr '\0' ' ' > "$TEST_DIR/big.json"
    raw "$TEST_DIR/big.json"
    expect_error 413 217
    { printf '{"type":"ready","pad":"'; head -c $((65536 - 25)) /dev/zero | tr '\0' 'a'; printf '"}'; } > "$TEST_DIR/max.json"
    [ "$(stat -c %s "$TEST_DIR/max.json")" = 65536 ]
    raw "$TEST_DIR/max.json"
    expect_status 200
    # chunked, no Content-Length
    raw "$TEST_DIR/big.json" -H "Transfer-Encoding: chunked"
    expect_error 413 217
}

@test "GET and other methods on /api are 405 JSON" {
    for m in GET PUT DELETE PATCH; do
        http "$m" /api
        expect_error 405 215
    done
    headers=$(curl -s -D - -o /dev/null "$BASE/api")
    grep -qi '^Allow: POST' <<<"$headers"
    grep -qi '^Content-Type: application/json' <<<"$headers"
}

@test "Content-Type may be missing or application/json" {
    HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X POST \
        -H 'Content-Type:' --data-binary '{"type":"ready"}' "$BASE/api")
    [ "$HTTP_STATUS" = 200 ]
    HTTP_STATUS=$(curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/json' --data-binary '{"type":"ready"}' "$BASE/api")
    [ "$HTTP_STATUS" = 200 ]
}

@test "deeply nested JSON is refused, the server stays up" {
    deep=$(printf '[%.0s' $(seq 1 5000))
    api "{\"type\":\"ready\",\"x\":$deep"
    expect_error 400 1
    api '{"type":"ready"}'
    expect_status 200
    # the limit (docs/contract.md §5): every value at most 16 levels deep,
    # the object at 1: 15 arrays inside it may nest, empty at the last
    open=$(printf '[%.0s' $(seq 1 15)) close=$(printf ']%.0s' $(seq 1 15))
    api "{\"type\":\"ready\",\"x\":$open$close}"
    expect_status 200
    api "{\"type\":\"ready\",\"x\":${open}null$close}"
    expect_error 400 1
}

@test "unknown keys are ignored, keys match case-insensitively" {
    api '{"type":"ready","extra":{"a":[1,2,3]},"SSUID":"x"}'
    expect_status 200
    api '{"Type":"signIn","SIGNIN":{"UserName":"eli","PASSWORD":"p"}}'
    expect_status 200
    [ "$(jqb .user.Username)" = eli ]
}

@test "/health answers 200 with Redis up; unknown paths are 404 JSON" {
    http GET /health
    expect_status 200
    [ "$(jqb .status)" = ok ]
    http GET /api/nothing
    [ "$HTTP_STATUS" = 404 ]
}

@test "an access key may have 64 bytes, on /api and /poll alike; 65 is 401 code 209" {
    sign_in A kate
    v=$(rcli get "rcg:key.$A_KEY")
    k64=$(printf 'k%.0s' $(seq 1 64))
    rcli set "rcg:key.$k64" "$v" >/dev/null
    rcli set "rcg:key.${k64}x" "$v" >/dev/null # stored, but too long to ask
    api '{"type":"users"}' "$k64"
    expect_status 200
    api '{"type":"users"}' "${k64}x"
    expect_error 401 209
    A_KEY=$k64 poll A
    expect_status 200
    A_KEY=${k64}x poll A
    expect_error 401 209
}

@test "the gateway survived every bad input above" {
    api '{"type":"ready"}'
    expect_status 200
    ! grep -qi 'segfault\|assert\|abort' "$TEST_DIR/lighttpd-error.log"
}

@test "client text cannot forge log lines or escape codes, and errors never echo it" {
    forged=$(printf 'x\nZZFORGED ERR 1 fcgi/main.c:1 owned\033[31m')
    api "$(jq -nc --arg t "$forged" '{type:$t}')"
    expect_error 400 0
    ! grep -q ZZFORGED <<<"$BODY"
    # the line is escaped: no line starts with the forged text, no ESC byte
    grep -rq 'ZZFORGED' "$TEST_DIR"/*.log
    ! grep -rhq '^ZZFORGED' "$TEST_DIR"/*.log
    ! grep -rqP '\x1b' "$TEST_DIR"/*.log
    grep -rhq 'x\\x0aZZFORGED.*\\x1b\[31m' "$TEST_DIR"/*.log
}

@test "strict RFC 8259: NaN, Infinity and numbers with a bare dot are 400 code 1" {
    for v in NaN Infinity -Infinity 1. .5 01; do
        api "{\"type\":\"users\",\"users\":{\"offset\":$v}}"
        expect_error 400 1
    done
    api '{"type":"ready","x":[1.5e3,-0,null,true]}'
    expect_status 200
}

@test "strict RFC 8259: a raw control character inside a string is 400 code 1" {
    for c in $'\n' $'\t' $'\x01' $'\x1f'; do
        api "{\"type\":\"ready\",\"x\":\"a${c}b\"}"
        expect_error 400 1
    done
    api '{"type":"ready","x":"a\nb\t\u0001"}' # escaped, they are fine
    expect_status 200
}
