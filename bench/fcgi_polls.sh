#!/usr/bin/env bash
# fcgi_polls.sh - hosts without chat-poller: 4 FastCGI workers answer /api
# and /poll, CLIENTS pollers, one sender. Target: POST /api p99 <= 200 ms,
# and each poller gets each message exactly once within 2 s.
# FRONT (lighttpd): the front server and its 4 workers
#   lighttpd  lighttpd spawning one chat.fcgi with CHAT_THREADS=4, /poll
#             routed to it (the shipped lighttpd.conf, /poll moved)
#   apache    Apache mod_fcgid (the shipped deploy/apache.conf, /poll moved
#             from the poller to mod_fcgid): FcgidMaxProcessesPerClass 4,
#             one thread each (CHAT_THREADS=1), CHAT_POLL_HOLD_SLOTS=2
#             (half may hold a poll, half are kept for /api and re-polls);
#             FCGID_PROCS sets another process limit, HOLD_SLOTS other
#             slots (default half the processes)
#   nginx     nginx + one spawn-fcgi'd chat.fcgi with CHAT_THREADS=4 (the
#             shipped deploy/nginx.conf.in, /poll moved to fastcgi_pass)
# Env: FRONT, CLIENTS (20), DURATION (20 s), INTERVAL (250 ms between POSTs),
# RUNS (3), BUILD (the build to measure, relative to the repository,
# default build/release: point it at an older build to compare).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/tools/stack.sh"
BUILD=${BUILD:-build/release}
RUNS=${RUNS:-3}
make -s -C "$ROOT" all >/dev/null
command -v node >/dev/null || { echo "node missing"; exit 1; }

FRONT=${FRONT:-lighttpd}
DIR=$(mktemp -d /tmp/chat-bench.XXXXXX)
HTTP=$(stack_free_port) REDIS=$(stack_free_port)
export CHAT_FCGI_POLL=1 CHAT_MSG_RATE=0 CHAT_LOG_LEVEL=warn
export CHAT_PWHASH_OPSLIMIT=1 CHAT_PWHASH_MEMLIMIT=8192
export REDIS_ADDRESS="127.0.0.1:$REDIS"
case $FRONT in
lighttpd)
    # the shipped config with /poll on chat.fcgi and no chat-poller
    sed -e 's#\^/(api|health)\$#^/(api|health|poll)$#' \
        -e 's#\^/(poll|events|metrics)\$#^/(events|metrics)$#' \
        "$ROOT/lighttpd.conf" >"$DIR/nopoller.conf"
    grep -q '(api|health|poll)' "$DIR/nopoller.conf"
    export CHAT_THREADS=4
    export STACK_LIGHTTPD_CONF="$DIR/nopoller.conf"
    # set +e: a failed step of a stop must not leave Redis running
    trap 'set +e; stack_lighttpd_stop "$DIR"; stack_redis_stop "$DIR" "$REDIS"; rm -rf "$DIR"' EXIT
    stack_redis_start "$DIR" "$REDIS" >/dev/null
    stack_lighttpd_start "$DIR" "$HTTP" >/dev/null
    echo "lighttpd: 4 workers (one chat.fcgi, CHAT_THREADS=4), no chat-poller, ${CLIENTS:-20} pollers, $RUNS runs"
    ;;
apache)
    # the shipped config with /poll on mod_fcgid (its <Location "/poll">
    # proxy to the poller dropped) and at most 4 processes
    PROCS=${FCGID_PROCS:-4}
    sed -e 's#<LocationMatch "\^/(api|health)\$">#<LocationMatch "^/(api|health|poll)$">#' \
        -e '/<Location "\/poll">/,/<\/Location>/d' \
        -e "s#^FcgidMaxProcessesPerClass .*#FcgidMaxProcessesPerClass $PROCS#" \
        "$ROOT/deploy/apache.conf" >"$DIR/nopoller-apache.conf"
    grep -q '<LocationMatch "^/(api|health|poll)$">' "$DIR/nopoller-apache.conf"
    grep -q "^FcgidMaxProcessesPerClass $PROCS\$" "$DIR/nopoller-apache.conf"
    if grep -q 'chat-poller/poll"' "$DIR/nopoller-apache.conf"; then
        echo "/poll still goes to chat-poller" >&2
        exit 1
    fi
    # deploy/apache.conf fixes FcgidInitialEnv CHAT_THREADS 1
    export CHAT_POLL_HOLD_SLOTS=${HOLD_SLOTS:-$((PROCS / 2))}
    export STACK_APACHE_CONF="$DIR/nopoller-apache.conf"
    trap 'set +e; stack_apache_stop "$DIR"; stack_redis_stop "$DIR" "$REDIS"; rm -rf "$DIR"' EXIT
    stack_redis_start "$DIR" "$REDIS" >/dev/null
    stack_apache_start "$DIR" "$HTTP" >/dev/null
    echo "apache mod_fcgid: $PROCS workers (FcgidMaxProcessesPerClass $PROCS, CHAT_THREADS=1, CHAT_POLL_HOLD_SLOTS=$CHAT_POLL_HOLD_SLOTS), no chat-poller, ${CLIENTS:-20} pollers, $RUNS runs"
    ;;
nginx)
    # the shipped config with /poll on the spawn-fcgi'd chat.fcgi
    sed -e 's#\^/(api|health)\$#^/(api|health|poll)$#' \
        -e 's#\^/(poll|events)\$#^/(events)$#' \
        "$ROOT/deploy/nginx.conf.in" >"$DIR/nopoller-nginx.conf.in"
    grep -q '(api|health|poll)' "$DIR/nopoller-nginx.conf.in"
    grep -q '\^/(events)\$' "$DIR/nopoller-nginx.conf.in"
    export CHAT_THREADS=4
    export STACK_NGINX_CONF="$DIR/nopoller-nginx.conf.in"
    trap 'set +e; stack_nginx_stop "$DIR"; stack_redis_stop "$DIR" "$REDIS"; rm -rf "$DIR"' EXIT
    stack_redis_start "$DIR" "$REDIS" >/dev/null
    stack_nginx_start "$DIR" "$HTTP" >/dev/null
    echo "nginx + spawn-fcgi: 4 workers (one chat.fcgi, CHAT_THREADS=4), no chat-poller, ${CLIENTS:-20} pollers, $RUNS runs"
    ;;
*)
    echo "FRONT=$FRONT: use lighttpd, apache or nginx" >&2
    exit 2
    ;;
esac
for r in $(seq 1 "$RUNS"); do
    echo "-- run $r"
    BASE="http://127.0.0.1:$HTTP" timeout 120 node "$ROOT/bench/fcgi_polls.mjs"
done
