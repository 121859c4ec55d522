#!/usr/bin/env bats
# lighttpd over TLS with HTTP/2, from deploy/lighttpd-tls.conf (it includes
# lighttpd.conf): tools/stack.sh with STACK_TLS=1, as make run TLS=1, makes
# a self-signed certificate for 127.0.0.1 in DIR/tls and waits for
# https://.../health with --cacert. chat-poller behind it as usual.
# Every curl of the suite (the helpers' too) trusts that certificate and
# asks for HTTP/2: CURL_HOME/.curlrc.
load helpers
load server_common

setup_file() {
    export STACK_TLS=1
    stack_setup
    CERT="$TEST_DIR/tls/cert.pem"
    mkdir -p "$TEST_DIR/curl"
    printf 'cacert = "%s"\nhttp2\n' "$CERT" > "$TEST_DIR/curl/.curlrc"
    export CERT CURL_HOME="$TEST_DIR/curl"
    sign_in A "tls-a-$RANDOM"
    sign_in B "tls-b-$RANDOM"
    export A_SESSION A_KEY A_UUID B_SESSION B_KEY B_UUID
}
teardown_file() { stack_teardown; }

# h2 METHOD PATH [curl args]: as http, with -q (no .curlrc) and the TLS
# options spelled out; sets HTTP_STATUS, HTTP_VERSION and BODY.
h2() {
    local method=$1 path=$2 f
    shift 2
    f=$(mktemp "$TEST_DIR/body.XXXXXX")
    read -r HTTP_STATUS HTTP_VERSION < <(curl -q -s --http2 --cacert "$CERT" \
        -o "$f" -w '%{http_code} %{http_version}\n' -X "$method" "$@" "$BASE$path")
    BODY=$(cat "$f")
    rm -f "$f"
}

@test "tls: /health over HTTP/2 with the self-signed certificate for 127.0.0.1" {
    [[ $BASE == https://127.0.0.1:* ]]
    h2 GET /health
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
    [ "$(jqb .redis)" = up ]
    # the certificate names the address (subjectAltName IP:127.0.0.1)
    openssl x509 -in "$CERT" -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1'
    # not trusted without it; no plain HTTP on the port
    run curl -q -s -o /dev/null "$BASE/health"
    [ "$status" = 60 ]
    run curl -q -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/health"
    [ "$output" != 200 ]
    # the static client over h2 as well
    h2 GET /
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
}

@test "tls: ready, signIn and users over HTTP/2 (Authorization: Bearer)" {
    h2 POST /api --data-binary '{"type":"ready"}'
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
    s=$(jqb .ready.sessionUUID)
    name="tls-c-$RANDOM"
    h2 POST /api --data-binary "$(jq -nc --arg s "$s" --arg u "$name" \
        '{type:"signIn",sessionUUID:$s,signIn:{username:$u,password:"pw"}}')"
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
    [ "$(jqb .type)" = authorized ]
    key=$(jqb .authorized.accessKey)
    h2 POST /api -H "Authorization: Bearer $key" --data-binary '{"type":"users"}'
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
    jqb '.users.users[].Username' | grep -qx "$name"
    jqb '.users.users[].UUID' | grep -qx "$A_UUID"
    h2 POST /api --data-binary '{"type":"users"}'
    expect_error 401 208
}

@test "tls: a long poll wakes on a message over HTTP/2" {
    check_long_poll
    # the same poll, its protocol checked
    h2 GET "/poll?sessionUUID=$B_SESSION&cursor=$CURSOR&timeout=0" -H "Authorization: Bearer $B_KEY"
    expect_status 200
    [ "$HTTP_VERSION" = 2 ]
}

@test "tls: an SSE stream delivers a message live over HTTP/2" {
    local out="$TEST_DIR/sse" hdr="$TEST_DIR/sse.head" bg ok=0
    join B ""
    curl -q -sN --http2 --cacert "$CERT" --max-time 10 -D "$hdr" \
        -H "Authorization: Bearer $B_KEY" \
        "$BASE/events?sessionUUID=$B_SESSION" > "$out" 3>&- &
    bg=$!
    stack_wait_for 5 grep -q '^retry: ' "$out"
    head -1 "$hdr" | grep -q '^HTTP/2 200'
    grep -qi '^content-type: text/event-stream' "$hdr"
    say A "" "h2-live-$$"
    expect_status 200
    for _ in $(seq 1 60); do
        grep '^data: ' "$out" | grep -q "\"Message\":\"h2-live-$$\"" && { ok=1; break; }
        sleep 0.05
    done
    kill -0 "$bg"
    kill "$bg" 2>/dev/null
    wait "$bg" 2>/dev/null || true
    [ "$ok" = 1 ]
}

@test "tls: the certificate is made once (an existing one is kept)" {
    before=$(sha256sum "$CERT" "$TEST_DIR/tls/key.pem")
    stack_tls_cert "$TEST_DIR/tls"
    [ "$(sha256sum "$CERT" "$TEST_DIR/tls/key.pem")" = "$before" ]
    [ "$(stat -c %a "$TEST_DIR/tls/key.pem")" = 600 ]
    # a new directory gets a fresh pair that openssl accepts
    stack_tls_cert "$TEST_DIR/tls2"
    openssl x509 -in "$TEST_DIR/tls2/cert.pem" -noout -checkip 127.0.0.1 | grep -q 'does match'
    # the TLS config is the shipped one over lighttpd.conf
    grep -q 'include env.CHAT_ROOT + "/lighttpd.conf"' "$ROOT/deploy/lighttpd-tls.conf"
    grep -q '"server.h2proto" => "enable"' "$ROOT/deploy/lighttpd-tls.conf"
}
