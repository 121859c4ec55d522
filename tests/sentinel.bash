# sentinel.bash - Redis primaries, replicas and sentinels on free loopback
# ports for tests/failover.bats (and anything else that needs them). Every
# process is started by stack_spawn with a pid file in $TEST_DIR and
# stopped by that pid (sentinel_all_stop). Data instances require the
# password $SENT_REDIS_PW, sentinels $SENT_PW.
SENT_REDIS_PW=${SENT_REDIS_PW:-data-secret}
SENT_PW=${SENT_PW:-sentinel-secret}
SENT_MASTER=${SENT_MASTER:-chat}

# sent_redis_start NAME PORT [PRIMARY_PORT]: a data Redis (a replica of
# PRIMARY_PORT when given); waits until it answers.
sent_redis_start() {
    local name=$1 port=$2 primary=${3:-} pid
    stack_port_check "$port" "redis $name" || return 1
    mkdir -p "$TEST_DIR/$name"
    stack_spawn redis-server --port "$port" --bind 127.0.0.1 \
        --dir "$TEST_DIR/$name" --save '' --appendonly no \
        --requirepass "$SENT_REDIS_PW" --masterauth "$SENT_REDIS_PW" \
        --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
        ${primary:+--replicaof 127.0.0.1 "$primary"} \
        --daemonize no --logfile "$TEST_DIR/$name.log"
    pid=$!
    echo "$pid" > "$TEST_DIR/$name.pid"
    stack_wait_up "$pid" 10 sent_rcli "$port" ping
}

# sent_rcli PORT ARGS...: redis-cli to a data Redis.
sent_rcli() {
    local port=$1
    shift
    REDISCLI_AUTH=$SENT_REDIS_PW redis-cli -p "$port" "$@"
}

# sent_scli PORT ARGS...: redis-cli to a sentinel.
sent_scli() {
    local port=$1
    shift
    REDISCLI_AUTH=$SENT_PW redis-cli -p "$port" "$@"
}

# sent_sentinel_start NAME PORT PRIMARY_PORT: a sentinel watching
# $SENT_MASTER at PRIMARY_PORT (quorum 2, down after SENT_DOWN_AFTER ms,
# 1000 by default).
sent_sentinel_start() {
    local name=$1 port=$2 primary=$3 conf pid
    stack_port_check "$port" "sentinel $name" || return 1
    mkdir -p "$TEST_DIR/$name"
    conf="$TEST_DIR/$name/sentinel.conf"
    cat > "$conf" <<CONF
port $port
bind 127.0.0.1
daemonize no
logfile "$TEST_DIR/$name.log"
dir "$TEST_DIR/$name"
requirepass "$SENT_PW"
sentinel sentinel-pass "$SENT_PW"
sentinel monitor $SENT_MASTER 127.0.0.1 $primary 2
sentinel auth-pass $SENT_MASTER "$SENT_REDIS_PW"
sentinel down-after-milliseconds $SENT_MASTER ${SENT_DOWN_AFTER:-1000}
sentinel failover-timeout $SENT_MASTER 4000
sentinel parallel-syncs $SENT_MASTER 2
CONF
    stack_spawn redis-sentinel "$conf"
    pid=$!
    echo "$pid" > "$TEST_DIR/$name.pid"
    stack_wait_up "$pid" 10 sent_scli "$port" ping
}

# sent_primary SENTINEL_PORT: the port the sentinel names as primary.
sent_primary() {
    sent_scli "$1" sentinel get-master-addr-by-name "$SENT_MASTER" 2>/dev/null | sed -n 2p
}

# sent_ready SENTINEL_PORT REPLICAS: the sentinel sees REPLICAS replicas
# in sync and enough sentinels for a failover (ckquorum).
sent_ready() {
    local n
    n=$(sent_scli "$1" sentinel replicas "$SENT_MASTER" 2>/dev/null |
        awk 'p { if ($0 == "slave") c++; p = 0 } $0 == "flags" { p = 1 } END { print c + 0 }')
    [ "$n" -ge "$2" ] && sent_scli "$1" sentinel ckquorum "$SENT_MASTER" | grep -q '^OK'
}

# sent_stop NAME [SIGNAL]: stops that instance by its pid (also one a
# test froze with SIGSTOP).
sent_stop() {
    local pid
    pid=$(stack_pid_of "$TEST_DIR/$1.pid" redis) && kill -CONT "$pid" 2>/dev/null
    stack_stop_pid "$TEST_DIR/$1.pid" "${2:-TERM}" redis
}

# sent_pid NAME: its pid.
sent_pid() {
    cat "$TEST_DIR/$1.pid"
}

# sent_all_stop: every instance this file started.
sent_all_stop() {
    local f
    for f in "$TEST_DIR"/*.pid; do
        [ -e "$f" ] || continue
        case ${f##*/} in
        redis-*.pid | sentinel-*.pid) f=${f##*/}; sent_stop "${f%.pid}" ;;
        esac
    done
}
