#!/usr/bin/env bats
# Account commands over POST /api through lighttpd: ready, signUp, signIn,
# signOut, users; access keys, sessions and password storage.
load helpers

setup_file() { stack_setup; }
teardown_file() { stack_teardown; }

@test "ready returns a fresh session and stores it" {
    api '{"type":"ready"}'
    expect_status 200
    s=$(jqb .ready.sessionUUID)
    [[ "$s" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]]
    [ "$(rcli exists "userSession.$s")" = 1 ]
    ttl=$(rcli ttl "userSession.$s")
    [ "$ttl" -gt 3500 ] && [ "$ttl" -le 3600 ]
    api '{"type":"ready"}'
    [ "$(jqb .ready.sessionUUID)" != "$s" ]
}

@test "api replies are JSON, never cached" {
    headers=$(curl -s -D - -o /dev/null -X POST --data-binary '{"type":"ready"}' "$BASE/api")
    grep -qi '^Content-Type: application/json; charset=utf-8' <<<"$headers"
    grep -qi '^Cache-Control: no-store' <<<"$headers"
}

@test "signUp creates a user in the original format, its argon2id hash in rcg:pw" {
    api '{"type":"signUp","signUp":{"username":"  dora  ","password":"pw-dora"}}'
    expect_status 200
    [ "$(jqb .type)" = authorized ]
    u=$(jqb .authorized.userUUID)
    [ "$(jqb .user.UUID)" = "$u" ]
    [ "$(jqb .user.Username)" = dora ]
    [ "$(jqb .user.OnLine)" = true ]
    [[ "$(jqb .authorized.accessKey)" =~ ^[0-9a-f-]{36}$ ]]
    ! grep -q pw-dora <<<"$BODY"
    ! grep -q argon2 <<<"$BODY"
    md5=$(printf dora | md5sum | cut -d' ' -f1)
    i=$(rcli get "usersUsernameListIndex.$md5")
    [ "$(rcli get "usersUUIDListIndex.$u")" = "$i" ]
    rec=$(rcli lindex users "$i")
    [ "$(jq -r .UUID <<<"$rec")" = "$u" ]
    [ "$(jq -r .Username <<<"$rec")" = dora ]
    [ "$(jq -r .OnLine <<<"$rec")" = false ]
    # the Go server hands whole records to its clients: no hash there
    [[ "$(jq -r .Password <<<"$rec")" =~ ^rcg-sealed:[0-9a-f]{64}$ ]]
    [[ "$(rcli get "rcg:pw.$u")" == '$argon2id$'* ]]
    # the record ends with a newline, as Go's json.Encoder writes it
    [ "$(rcli lindex users "$i" | tail -c 2 | od -An -tx1 | tr -d ' ')" = 0a0a ]
    [ "$(rcli get "userAccessKey.$u")" = "$(jqb .authorized.accessKey)" ]
    [ "$(rcli exists "userStatus.$u")" = 1 ]
}

@test "signUp of a taken name is 409 and reveals nothing" {
    api '{"type":"signUp","signUp":{"username":"erin","password":"a"}}'
    expect_status 200
    api '{"type":"signUp","signUp":{"username":"erin","password":"b"}}'
    expect_error 409 216
    ! grep -q '[0-9a-f]\{8\}-' <<<"$BODY"
}

@test "signIn creates an unknown user, then checks the password" {
    api '{"type":"signIn","signIn":{"username":"frank","password":"right"}}'
    expect_status 200
    u=$(jqb .authorized.userUUID)
    api '{"type":"signIn","signIn":{"username":"frank","password":"right"}}'
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    api '{"type":"signIn","signIn":{"username":"frank","password":"wrong"}}'
    expect_error 401 4
    [ "$(jqb .error.message)" = "wrong password" ]
    [ "$(rcli llen users)" -ge 1 ]
}

@test "each signIn issues a new key; older keys keep working" {
    sign_in A gina
    k1=$A_KEY
    sign_in A gina
    k2=$A_KEY
    [ "$k1" != "$k2" ]
    api '{"type":"users"}' "$k1"
    expect_status 200
    api '{"type":"users"}' "$k2"
    expect_status 200
    [ "$(rcli get "userAccessKey.$A_UUID")" = "$k2" ]
    ttl=$(rcli ttl "rcg:key.$k1")
    [ "$ttl" -gt 86000 ]
}

@test "signOut revokes only the key that made the request" {
    sign_in A hank
    k1=$A_KEY s1=$A_SESSION
    sign_in A hank
    k2=$A_KEY
    api "{\"type\":\"signOut\",\"sessionUUID\":\"$s1\"}" "$k1"
    expect_status 200
    [ "$(jqb .signOut.uuid)" = "$A_UUID" ]
    api '{"type":"users"}' "$k1"
    expect_error 401 209
    api '{"type":"users"}' "$k2"
    expect_status 200
    [ "$(rcli exists "userStatus.$A_UUID")" = 0 ]
    [ "$(rcli hget "rcg:session.$s1" user)" = "" ]
}

@test "signOut naming another user is 403 and changes nothing" {
    sign_in A ivan
    sign_in B judy
    api "{\"type\":\"signOut\",\"signOut\":{\"uuid\":\"$B_UUID\"}}" "$A_KEY"
    expect_error 403 210
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    api '{"type":"users"}' "$B_KEY"
    expect_status 200
}

@test "the access key is accepted in the body as accessKey or userAccessKey" {
    sign_in A kate
    api "{\"type\":\"users\",\"accessKey\":\"$A_KEY\"}"
    expect_status 200
    api "{\"type\":\"users\",\"userAccessKey\":\"$A_KEY\"}"
    expect_status 200
    api "{\"TYPE\":\"users\",\"ACCESSKEY\":\"$A_KEY\"}"
    expect_status 200
}

@test "users lists everyone in registration order with presence, no secrets" {
    sign_in A liam
    api '{"type":"users"}' "$A_KEY"
    expect_status 200
    total=$(jqb .users.total)
    [ "$total" = "$(rcli llen users)" ]
    [ "$(jqb .users.received)" = "$total" ]
    [ "$(jqb '.users.users[-1].Username')" = liam ]
    [ "$(jqb '.users.users[-1].OnLine')" = true ]
    [ "$(jqb '.users.users | map(.UUID) | join(",")')" = \
      "$(rcli lrange users 0 -1 | jq -rs 'map(.UUID) | join(",")')" ]
    ! grep -qi password <<<"$BODY"
    ! grep -q argon2 <<<"$BODY"
    rcli del "userStatus.$A_UUID"
    api '{"type":"users"}' "$A_KEY"
    [ "$(jqb '.users.users[-1].OnLine')" = false ]
}

@test "users pages with offset and limit" {
    sign_in A mia
    api '{"type":"users","users":{"offset":1,"limit":2}}' "$A_KEY"
    expect_status 200
    [ "$(jqb .users.received)" = 2 ]
    [ "$(jqb '.users.users[0].UUID')" = "$(rcli lindex users 1 | jq -r .UUID)" ]
    api '{"type":"users","users":{"offset":100000}}' "$A_KEY"
    expect_status 200
    [ "$(jqb .users.received)" = 0 ]
    [ "$(jqb '.users.users | length')" = 0 ]
    api '{"type":"users","users":{"limit":0}}' "$A_KEY"
    expect_status 200
    [ "$(jqb .users.received)" = 0 ]
    [ "$(jqb .users.total)" = "$(rcli llen users)" ]
    api '{"type":"users","users":{"limit":-1}}' "$A_KEY"
    expect_error 400 1
    api '{"type":"users","users":{"limit":"2"}}' "$A_KEY"
    expect_error 400 1
}

@test "signIn binds the session; a session of another user is 403" {
    api '{"type":"ready"}'
    s=$(jqb .ready.sessionUUID)
    api "{\"type\":\"signIn\",\"SUUID\":\"$s\",\"signIn\":{\"username\":\"nina\",\"password\":\"p\"}}"
    expect_status 200
    u=$(jqb .authorized.userUUID)
    [ "$(rcli hget "rcg:session.$s" user)" = "$u" ]
    api "{\"type\":\"signIn\",\"SUUID\":\"$s\",\"signIn\":{\"username\":\"oscar\",\"password\":\"p\"}}"
    expect_error 403 212
    api '{"type":"signIn","sessionUUID":"00000000-0000-4000-8000-000000000000","signIn":{"username":"nina","password":"p"}}'
    expect_error 404 213
}

@test "too many wrong passwords for one name is 429 with Retry-After" {
    api '{"type":"signIn","signIn":{"username":"pete","password":"right"}}'
    expect_status 200
    for i in $(seq 1 10); do
        api '{"type":"signIn","signIn":{"username":"pete","password":"wrong"}}'
        expect_error 401 4
    done
    headers=$(curl -s -D - -o "$TEST_DIR/body" -X POST --data-binary \
        '{"type":"signIn","signIn":{"username":"pete","password":"right"}}' "$BASE/api")
    grep -q '^HTTP/1.1 429' <<<"$headers"
    grep -qi '^Retry-After: [1-9]' <<<"$headers"
    BODY=$(cat "$TEST_DIR/body") HTTP_STATUS=429
    expect_error 429 219
}

@test "usernames: trimmed, 1..64 bytes, no control characters" {
    long=$(printf 'x%.0s' $(seq 1 65))
    for name in '' '   ' "$long" 'a\u0007b' 'a\nb' 'a\u0085b'; do
        api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"$name\",\"password\":\"p\"}}"
        expect_error 400 203
    done
    ok=$(printf 'y%.0s' $(seq 1 64))
    api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"$ok\",\"password\":\"p\"}}"
    expect_status 200
    api '{"type":"signIn","signIn":{"username":"zoë 😀","password":"p"}}'
    expect_status 200
    [ "$(jqb .user.Username)" = "zoë 😀" ]
}

@test "passwords: 1..256 bytes" {
    api '{"type":"signIn","signIn":{"username":"quinn","password":""}}'
    expect_error 400 204
    long=$(printf 'p%.0s' $(seq 1 257))
    api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"quinn\",\"password\":\"$long\"}}"
    expect_error 400 204
    ok=$(printf 'p%.0s' $(seq 1 256))
    api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"quinn\",\"password\":\"$ok\"}}"
    expect_status 200
}

@test "no log line ever contains a password" {
    api '{"type":"signIn","signIn":{"username":"rita","password":"hunter2-secret"}}'
    api '{"type":"signIn","signIn":{"username":"rita","password":"wrong-secret-77"}}'
    ! grep -rq 'hunter2-secret\|wrong-secret-77' "$TEST_DIR"/*.log
}

# legacy_record NAME PASSWORD: a user whose record holds its argon2id hash
# (as written before rcg:pw existed); prints the uuid.
legacy_record() {
    local u i hash rec
    api "$(jq -nc --arg u "$1" --arg p "$2" '{type:"signUp",signUp:{username:$u,password:$p}}')"
    expect_status 200 || return 1
    u=$(jqb .authorized.userUUID)
    i=$(rcli get "usersUUIDListIndex.$u")
    hash=$(rcli get "rcg:pw.$u")
    rec=$(jq -c --arg h "$hash" '.Password = $h' <<<"$(rcli lindex users "$i")")
    rcli lset users "$i" "$rec"$'\n' >/dev/null
    rcli del "rcg:pw.$u" >/dev/null
    [[ "$(rcli lindex users "$i")" == *'$argon2id$'* ]] || return 1
    echo "$u"
}

@test "no users element holds a password hash; the sealed token signs nothing in" {
    sign_in Z "zed-$RANDOM" pw-zed
    api "$(jq -nc --arg u "$(rcli lindex users "$(rcli get "usersUUIDListIndex.$Z_UUID")" | jq -r .Username)" \
        '{type:"signIn",signIn:{username:$u,password:"pw-zed"}}')"
    expect_status 200
    ! rcli lrange users 0 -1 | grep -q 'argon2'
    token=$(rcli lindex users "$(rcli get "usersUUIDListIndex.$Z_UUID")" | jq -r .Password)
    [[ $token == rcg-sealed:* ]]
    name=$(rcli lindex users "$(rcli get "usersUUIDListIndex.$Z_UUID")" | jq -r .Username)
    api "$(jq -nc --arg u "$name" --arg p "$token" '{type:"signIn",signIn:{username:$u,password:$p}}')"
    expect_error 401 4
}

@test "a record that still holds its hash signs in, and the hash moves out" {
    u=$(legacy_record "leg-$RANDOM" pw-leg)
    name=$(rcli lindex users "$(rcli get "usersUUIDListIndex.$u")" | jq -r .Username)
    api "$(jq -nc --arg u "$name" '{type:"signIn",signIn:{username:$u,password:"wrong"}}')"
    expect_error 401 4
    [[ "$(rcli lindex users "$(rcli get "usersUUIDListIndex.$u")")" == *'$argon2id$'* ]]
    api "$(jq -nc --arg u "$name" '{type:"signIn",signIn:{username:$u,password:"pw-leg"}}')"
    expect_status 200
    [ "$(jqb .authorized.userUUID)" = "$u" ]
    rec=$(rcli lindex users "$(rcli get "usersUUIDListIndex.$u")")
    [[ $(jq -r .Password <<<"$rec") == rcg-sealed:* ]]
    [ "$(jq -r .Username <<<"$rec")" = "$name" ]
    [[ "$(rcli get "rcg:pw.$u")" == '$argon2id$'* ]]
    api "$(jq -nc --arg u "$name" '{type:"signIn",signIn:{username:$u,password:"pw-leg"}}')"
    expect_status 200
}

@test "chat.fcgi --migrate moves every hash out; everyone still signs in" {
    u1=$(legacy_record "mig1-$RANDOM" pw-m1)
    u2=$(legacy_record "mig2-$RANDOM" pw-m2)
    plain=$(cat /proc/sys/kernel/random/uuid)
    n=$(( $(rcli rpush users "{\"UUID\":\"$plain\",\"Username\":\"goplain-$$\",\"Password\":\"pw-go\",\"OnLine\":false}") - 1 ))
    rcli set "usersUUIDListIndex.$plain" "$n" >/dev/null
    rcli set "usersUsernameListIndex.$(printf "goplain-$$" | md5sum | cut -d' ' -f1)" "$n" >/dev/null
    run env REDIS_ADDRESS="$REDIS_ADDRESS" "$ROOT/$BUILD/chat.fcgi" --migrate
    [ "$status" = 0 ]
    [[ $output == "moved 2 password hashes"* ]]
    ! rcli lrange users 0 -1 | grep -q 'argon2'
    # the Go server's plaintext record is left as it is
    [ "$(rcli lindex users "$n" | jq -r .Password)" = pw-go ]
    for pair in "$u1:pw-m1" "$u2:pw-m2"; do
        u=${pair%%:*}
        name=$(rcli lindex users "$(rcli get "usersUUIDListIndex.$u")" | jq -r .Username)
        api "$(jq -nc --arg u "$name" --arg p "${pair#*:}" '{type:"signIn",signIn:{username:$u,password:$p}}')"
        expect_status 200
    done
    api "{\"type\":\"signIn\",\"signIn\":{\"username\":\"goplain-$$\",\"password\":\"pw-go\"}}"
    expect_status 200
    run env REDIS_ADDRESS="$REDIS_ADDRESS" "$ROOT/$BUILD/chat.fcgi" --migrate
    [[ $output == "moved 0 password hashes"* ]]
}

@test "chat.fcgi --help and --version" {
    run "$ROOT/$BUILD/chat.fcgi" --help
    [ "$status" = 0 ]
    [[ $output == *"--migrate"* ]]
    run "$ROOT/$BUILD/chat.fcgi" --version
    [ "$status" = 0 ]
    [[ $output == "chat.fcgi "* ]]
    run "$ROOT/$BUILD/chat.fcgi" --bogus
    [ "$status" = 2 ]
}

@test "40 concurrent wrong sign-ins get exactly the limit of guesses (10), the rest 429" {
    api '{"type":"signIn","signIn":{"username":"guessme","password":"right"}}'
    expect_status 200
    statuses=$(seq 1 40 | xargs -P 40 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST \
        --data-binary '{"type":"signIn","signIn":{"username":"guessme","password":"wrong"}}' "$BASE/api")
    [ "$(grep -c '^401$' <<<"$statuses")" = 10 ]
    [ "$(grep -c '^429$' <<<"$statuses")" = 30 ]
}

@test "a guesser from another address cannot lock the owner out" {
    api '{"type":"signIn","signIn":{"username":"owner-x","password":"right"}}'
    expect_status 200
    for _ in $(seq 1 12); do
        curl -s -o /dev/null --interface 127.0.0.2 -X POST \
            --data-binary '{"type":"signIn","signIn":{"username":"owner-x","password":"wrong"}}' "$BASE/api"
    done
    run curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.2 -X POST \
        --data-binary '{"type":"signIn","signIn":{"username":"owner-x","password":"right"}}' "$BASE/api"
    [ "$output" = 429 ]
    api '{"type":"signIn","signIn":{"username":"owner-x","password":"right"}}'
    expect_status 200
}
