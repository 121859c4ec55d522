#!/usr/bin/env bash
# cluster_slots.sh - what Redis Cluster support would take (docs/scaling.md):
# runs every kind of request once against a private stack with MONITOR
# on, and prints per script run the keys it touched and how many Cluster
# hash slots they span (bench/cluster_slots.mjs). A script whose keys span
# more than one slot cannot run on a Cluster (CROSSSLOT) without hash tags,
# which would rename the keys the Go server shares.
#   flock /tmp/chat-heavy.lock bash bench/cluster_slots.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=../tools/stack.sh
source "$ROOT/tools/stack.sh"
export BUILD=${BUILD:-build/release}
make -s -C "$ROOT" all >/dev/null
DIR=$(mktemp -d /tmp/chat-slots.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192 CHAT_LOG_LEVEL=warn CHAT_USERS_CACHE_MS=0
MON=""
trap '[ -n "$MON" ] && kill "$MON" 2>/dev/null; stack_stop "$DIR" "$REDIS" >/dev/null 2>&1; rm -rf "$DIR"' EXIT
stack_start "$DIR" "$HTTP" "$REDIS" >/dev/null
B=http://127.0.0.1:$HTTP
redis-cli -p "$REDIS" monitor >"$DIR/monitor" &
MON=$!
sleep 0.3
api() { curl -s "$B/api" ${2:+-H "Authorization: Bearer $2"} -d "$1"; }
S=$(api '{"type":"ready"}' | jq -r .ready.sessionUUID)
api '{"type":"signUp","signUp":{"username":"bo","password":"pw"}}' >/dev/null
BO=$(api '{"type":"signIn","signIn":{"username":"bo","password":"pw"}}' | jq -r .authorized.userUUID)
K=$(api '{"type":"signIn","sessionUUID":"'"$S"'","signIn":{"username":"al","password":"pw"}}' | jq -r .authorized.accessKey)
api '{"type":"signIn","signIn":{"username":"al","password":"bad"}}' >/dev/null
api '{"type":"users"}' "$K" >/dev/null
api '{"type":"channelJoin","sessionUUID":"'"$S"'","channelJoin":{"recipientUUID":""}}' "$K" >/dev/null
api '{"type":"channelMessage","channelMessage":{"recipientUUID":"","message":"hi"}}' "$K" >/dev/null
api '{"type":"channelJoin","sessionUUID":"'"$S"'","channelJoin":{"recipientUUID":"'"$BO"'"}}' "$K" >/dev/null
api '{"type":"channelMessage","channelMessage":{"recipientUUID":"'"$BO"'","message":"psst","clientId":"3f2b8c1e-8d2a-4c55-9a51-1f0c2d3e4b5a"}}' "$K" >/dev/null
curl -s "$B/poll?sessionUUID=$S&timeout=0" -H "Authorization: Bearer $K" >/dev/null
api '{"type":"channelLeave","sessionUUID":"'"$S"'","channelLeave":{"recipientUUID":"'"$BO"'"}}' "$K" >/dev/null
api '{"type":"signOut","sessionUUID":"'"$S"'"}' "$K" >/dev/null
sleep 0.3
kill "$MON"
MON=""
node "$ROOT/bench/cluster_slots.mjs" <"$DIR/monitor"
