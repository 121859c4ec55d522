# faults.bash - the parts of tests/faults.bats: a sender that retries with
# the same clientId, long-poll and SSE receivers that retry with their
# cursors (curl loops), and the Redis consistency check. Load after
# helpers. Every answer that is not a 200 is logged to $FAULT_DIR/errors
# as "<who> <status> <json: yes|no|none>".
FAULT_DIR=${FAULT_DIR:-}

# fault_note WHO STATUS BODYFILE: logs one error reply and whether its
# body was JSON ("none": no reply at all, e.g. a connection refused).
fault_note() {
    local json=none
    if [ -s "$3" ]; then
        jq -e 'type == "object" and .type == "error"' "$3" >/dev/null 2>&1 && json=yes || json=no
    fi
    echo "$1 $2 $json" >>"$FAULT_DIR/errors"
    { echo "--- $1 $2 $json:"; head -c 300 "$3" 2>/dev/null; echo; } >>"$FAULT_DIR/bodies"
    return 0
}

# fault_send KEY RECIPIENT TEXT CHANNEL: channelMessage with a clientId of
# its own, retried with the same id on anything but a 200 (503, 504, a
# timeout, no answer) for up to 60 s; appends "<CHANNEL> <UUID> <TEXT>" to
# $FAULT_DIR/acked once acknowledged.
fault_send() {
    local key=$1 rcpt=$2 text=$3 chan=$4 cid body f code deadline
    cid=$(cat /proc/sys/kernel/random/uuid)
    body=$(jq -nc --arg r "$rcpt" --arg t "$text" --arg c "$cid" \
        '{type:"channelMessage",channelMessage:{recipientUUID:$r,message:$t,clientId:$c}}')
    f="$FAULT_DIR/send.body"
    deadline=$(( $(date +%s) + 60 ))
    while :; do
        : >"$f"
        # (curl's own failure, e.g. 7 for no answer, is the 000 status)
        code=$(curl -s -o "$f" -w '%{http_code}' --max-time 5 -X POST \
            -H "Authorization: Bearer $key" --data-binary "$body" "$BASE/api") || true
        if [ "$code" = 200 ]; then
            echo "$chan $(jq -r .channelMessage.UUID "$f") $text" >>"$FAULT_DIR/acked"
            return 0
        fi
        fault_note send "$code" "$f"
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# fault_poll_receiver NAME SESSION KEY: long-polls until killed, always
# with the last cursor; appends "<UUID> <text>" of each channelMessage to
# $FAULT_DIR/NAME.got.
fault_poll_receiver() {
    local name=$1 s=$2 k=$3 cur="" f code next
    # a receiver runs in the background: no test's errexit or ERR trap
    set +eE
    trap - ERR
    f="$FAULT_DIR/$name.body"
    while :; do
        : >"$f"
        code=$(curl -s -o "$f" -w '%{http_code}' --max-time 15 -H "Authorization: Bearer $k" \
            "$BASE/poll?sessionUUID=$s&cursor=$cur&timeout=5")
        if [ "$code" = 200 ] && next=$(jq -er .cursor "$f" 2>/dev/null); then
            jq -r '.messages[] | select(.type == "channelMessage")
                   | "\(.channelMessage.UUID) \(.channelMessage.Message)"' "$f" >>"$FAULT_DIR/$name.got"
            jq -e '.reset' "$f" >/dev/null 2>&1 && echo "$name reset" >>"$FAULT_DIR/errors"
            cur=$next
        else
            fault_note "$name" "$code" "$f"
            sleep 0.3
        fi
    done
}

# fault_sse_receiver NAME SESSION KEY: reads /events until killed,
# reconnecting with Last-Event-ID = the id of the last event it took.
fault_sse_receiver() {
    local name=$1 s=$2 k=$3 last="" id="" line f resume
    set +eE
    trap - ERR
    f="$FAULT_DIR/$name.err"
    while :; do
        : >"$f"
        resume=()
        [ -n "$last" ] && resume=(-H "Last-Event-ID: $last")
        while IFS= read -r line || [ -n "$line" ]; do
            line=${line%$'\r'}
            case $line in
            "id: "*) id=${line#id: } ;;
            "data: "*)
                jq -r 'select(.type == "channelMessage")
                       | "\(.channelMessage.UUID) \(.channelMessage.Message)"' \
                    <<<"${line#data: }" >>"$FAULT_DIR/$name.got"
                last=$id ;;
            "event: reset") echo "$name reset" >>"$FAULT_DIR/errors" ;;
            "{"*) printf '%s' "$line" >"$f" ;; # an error answer, not a stream
            esac
        done < <(curl -sN --max-time 120 -H "Authorization: Bearer $k" "${resume[@]}" \
            "$BASE/events?sessionUUID=$s" 2>/dev/null)
        # the stream ended (a restart) or never began (an error answer)
        # (the status of an answer read as a stream is unknown: its code)
        [ -s "$f" ] && fault_note "$name" "code$(jq -r '.error.code // "?"' "$f" 2>/dev/null || echo '?')" "$f"
        sleep 0.3
    done
}

# fault_expect_delivered NAME CHANNEL: NAME got exactly the acknowledged
# messages of CHANNEL, each once, in the order sent (waits up to 20 s for
# the last ones).
fault_expect_delivered() {
    local want got
    want=$(awk -v c="$2" '$1 == c { $1 = ""; print substr($0, 2) }' "$FAULT_DIR/acked")
    for _ in $(seq 1 200); do
        got=$(grep ' f[0-9]*-' "$FAULT_DIR/$1.got" 2>/dev/null || true)
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    echo "$1 ($2): $(wc -l <<<"$want") acknowledged, $(wc -l <<<"$got") received" >&2
    diff <(echo "$want") <(echo "$got") | head -20 >&2
    return 1
}

# fault_redis_consistent: every users entry has both indexes pointing back
# at it; every channelMessages.* element is a message in the original's
# shape (fields in Go order, strings, trailing newline). Checked inside
# Redis in one script; prints what is wrong.
fault_redis_consistent() {
    local out
    out=$(redis-cli -p "$REDIS_PORT" --raw eval '
local bad = {}
local users = redis.call("LRANGE", "users", 0, -1)
for i, u in ipairs(users) do
  local ok, rec = pcall(cjson.decode, u)
  if not ok or type(rec.UUID) ~= "string" or type(rec.Username) ~= "string" then
    bad[#bad + 1] = "users[" .. (i - 1) .. "] is not a user record"
  else
    local ix1 = redis.call("GET", "usersUUIDListIndex." .. rec.UUID)
    if ix1 ~= tostring(i - 1) then
      bad[#bad + 1] = "usersUUIDListIndex." .. rec.UUID .. " = " .. tostring(ix1) .. ", not " .. (i - 1)
    end
  end
end
for _, k in ipairs(redis.call("KEYS", "channelMessages.*")) do
  for i, m in ipairs(redis.call("LRANGE", k, 0, -1)) do
    local ok, rec = pcall(cjson.decode, m)
    local n = 0
    if ok and type(rec) == "table" then for _ in pairs(rec) do n = n + 1 end end
    if not ok or n ~= 5 or not m:match("^{\"UUID\":\"[0-9a-f-]+\",\"SenderUUID\":\"[0-9a-f-]+\",\"RecipientUUID\":\"[0-9a-f-]*\",\"Message\":\".*\",\"CreatedAt\":\"[0-9T:.Z-]+\"}\n$") then
      bad[#bad + 1] = k .. "[" .. (i - 1) .. "] is not a message: " .. m
    end
  end
end
return bad' 0) || return 1
    # the name index: md5 is not in Redis scripts, so checked here
    local i=0 name want
    while IFS= read -r name; do
        want=$(printf %s "$name" | md5sum | cut -d' ' -f1)
        [ "$(redis-cli -p "$REDIS_PORT" get "usersUsernameListIndex.$want")" = "$i" ] ||
            out+=$'\n'"usersUsernameListIndex of users[$i] ($name) does not point back"
        i=$((i + 1))
    done < <(redis-cli -p "$REDIS_PORT" --raw lrange users 0 -1 | grep -v '^$' | jq -r .Username)
    [ -z "$out" ] || { echo "Redis is inconsistent: $out" >&2; return 1; }
}
