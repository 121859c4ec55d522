#!/usr/bin/env bash
# stack.sh - starts and stops the whole stack (redis-server, chat-poller,
# and a front server running chat.fcgi) on 127.0.0.1, in one runtime
# directory. Used by `make run` (`stack.sh run`, SERVER=... TLS=1) and
# sourced by tests/helpers.bash. `stack.sh run` keeps its data in
# STACK_RUN_DIR (./var by default).
#   stack_start DIR HTTP_PORT REDIS_PORT   (BUILD=build/release by default,
#                                           STACK_SERVER=lighttpd by default)
#   stack_stop DIR REDIS_PORT
# STACK_REDIS_EXTERNAL=1: no redis-server of ours; the programs use the
# REDIS_ADDRESS or REDIS_SENTINELS of the environment (`make run` with
# either set). STACK_HTTP_HOST: the loopback address the front server binds
# (127.0.0.1; lighttpd only: tests/hosts.bats runs hosts on 127.0.0.2, .3).
# Front servers (docs/deploy.md):
#   lighttpd    lighttpd.conf, spawns chat.fcgi itself (STACK_TLS=1:
#               deploy/lighttpd-tls.conf, HTTPS and HTTP/2)
#   apache      deploy/apache.conf, mod_fcgid spawns chat.fcgi
#   nginx       deploy/nginx.conf.in written into DIR/nginx, chat.fcgi
#               spawned by spawn-fcgi
#   cgi         deploy/lighttpd-cgi.conf: chat.fcgi as plain CGI (mod_cgi)
#   apache-cgi  deploy/apache-cgi.conf: chat.fcgi as plain CGI (mod_cgid)
#   shared      deploy/shared-hosting/: a host's Apache (apache-host.conf)
#               and a document root holding only .htaccess, chat.fcgi and
#               web/ (mod_fcgid)
# The last three run no chat-poller: chat.fcgi answers /poll itself.
# Each is started in the foreground and stopped by the PID it was started
# with, never through a port: a port something else already listens on is
# refused (one line on stderr) before anything starts, and a process that
# answers on our port is checked to be the one we started.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# A free loopback TCP port (nothing answers on it right now), below the
# ephemeral range: a port some outgoing connection holds as its source
# port cannot be bound (a fan-out benchmark holds thousands of them).
# resp ARG...: the RESP bytes of one Redis command (the benchmarks write
# requests to files and pipe them to Redis).
resp() {
    local LC_ALL=C a
    printf '*%d\r\n' "$#"
    for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done
}

stack_free_port() {
    local p lo=32768 hi
    read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    [ "$lo" -gt 12000 ] || lo=32768
    for _ in $(seq 1 200); do
        p=$(( 10000 + RANDOM % (lo - 10000) ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# stack_port_busy PORT [HOST]: 0 (true) when something accepts on
# HOST:PORT, 127.0.0.1 by default (a listener on 0.0.0.0 or [::] too: it
# would take our connections).
stack_port_busy() {
    (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# stack_port_check PORT WHAT [HOST]: refuses a port already in use with one
# line naming it; WHAT is what we wanted it for.
stack_port_check() {
    stack_port_busy "$1" "${3:-}" || return 0
    echo "stack: ${3:-127.0.0.1}:$1 is already in use by another process (wanted for $2); not starting it" >&2
    return 1
}

# stack_pid_of PIDFILE NAME: prints the pid in PIDFILE when that process is
# alive and is NAME (its command line names it); fails otherwise, e.g. for
# a pid file left by a killed run whose pid now belongs to someone else.
stack_pid_of() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
    echo "$pid"
}

# stack_running PID: the process runs. One that has exited but is not yet
# reaped is not running: a child whose parent exited first (chat.fcgi when
# lighttpd stops) is reaped by PID 1, which in some containers takes seconds.
stack_running() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $stat != Z* ]]
}

stack_gone() { ! stack_running "$1"; }

# stack_wait_up PID SECONDS CMD...: as stack_wait_for, but fails at once
# when PID (what we just started) has exited, e.g. because its port or
# socket was taken.
stack_wait_up() {
    local pid=$1 deadline=$(( $(date +%s) + $2 ))
    shift 2
    until "$@" >/dev/null 2>&1; do
        stack_running "$pid" || return 1
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# stack_spawn CMD...: runs CMD in the background with every inherited fd
# above 2 closed, so a daemon never keeps a caller's lock or pipe open
# (e.g. `flock file make test` would otherwise stay locked by redis-server).
stack_spawn() {
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
        done
        exec "$@"
    ) &
}

# wait_for SECONDS CMD...: retries CMD every 0.05 s until it succeeds.
stack_wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

stack_redis_start() { # DIR PORT  (STACK_REDIS_CONF: a config file read first)
    local dir=$1 port=$2 pid
    stack_port_check "$port" redis-server || return 1
    mkdir -p "$dir/redis"
    stack_spawn redis-server ${STACK_REDIS_CONF:+"$STACK_REDIS_CONF"} \
        --port "$port" --bind 127.0.0.1 \
        --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
        --dir "$dir/redis" --appendonly yes --appendfsync everysec --save '' \
        --maxclients 10000 --daemonize no --logfile "$dir/redis.log"
    pid=$!
    echo "$pid" > "$dir/redis.pid"
    # up when the Redis on the port is this one (another may have taken the
    # port since the check: ours then exits)
    stack_wait_up "$pid" 10 stack_redis_is "$port" "$pid"
}

# stack_redis_is PORT PID: the Redis answering on PORT is process PID.
stack_redis_is() {
    redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$2"
}

# SIGTERM to our own redis-server: it writes the AOF and exits (never a
# SHUTDOWN sent to whatever answers on the port).
stack_redis_stop() { # DIR PORT
    stack_stop_pid "$1/redis.pid" TERM redis-server
}

stack_poller_start() { # DIR
    local dir=$1 bin="$ROOT/${BUILD:-build/release}/chat-poller"
    [ -x "$bin" ] || return 0
    # a socket left by a killed poller would end the wait below at once
    rm -f "$dir/poller.sock"
    # shellcheck disable=SC2086
    CHAT_POLLER_SOCKET="$dir/poller.sock" stack_spawn ${STACK_WRAP:-} "$bin" \
        2>>"$dir/poller.log"
    echo $! > "$dir/poller.pid"
    stack_wait_up "$!" 10 test -S "$dir/poller.sock"
}

stack_poller_stop() { # DIR
    stack_stop_pid "$1/poller.pid" TERM chat-poller
}

# --- TLS (STACK_TLS=1, make run TLS=1): lighttpd only ----------------------
# stack_tls_cert DIR: a self-signed certificate for 127.0.0.1 in DIR
# (cert.pem, key.pem), made once: an existing pair is kept.
stack_tls_cert() {
    local d=$1
    [ -s "$d/cert.pem" ] && [ -s "$d/key.pem" ] && return 0
    mkdir -p "$d"
    ( umask 077
      openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
          -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
          -keyout "$d/key.pem.tmp" -out "$d/cert.pem.tmp" 2>/dev/null ) || return 1
    mv "$d/key.pem.tmp" "$d/key.pem"
    mv "$d/cert.pem.tmp" "$d/cert.pem"
    chmod 644 "$d/cert.pem"
}

# stack_url DIR PORT PATH: the URL of PATH on the front server; with
# STACK_TLS=1 https (trusted through the stack's own certificate,
# STACK_TLS_DIR/cert.pem, DIR/tls by default).
stack_url() {
    if [ "${STACK_TLS:-0}" = 1 ]; then
        echo "https://${STACK_HTTP_HOST:-127.0.0.1}:$2$3"
    else
        echo "http://${STACK_HTTP_HOST:-127.0.0.1}:$2$3"
    fi
}

# stack_health DIR PORT: /health answers 200 (over TLS with --cacert).
stack_health() {
    local tls=()
    [ "${STACK_TLS:-0}" = 1 ] && tls=(--cacert "${STACK_TLS_DIR:-$1/tls}/cert.pem")
    curl -sf "${tls[@]}" "$(stack_url "$1" "$2" /health)"
}

stack_lighttpd_start() { # DIR HTTP_PORT
    local dir=$1 port=$2 conf=${STACK_LIGHTTPD_CONF:-$ROOT/lighttpd.conf}
    local tlsdir=${STACK_TLS_DIR:-$dir/tls} host=${STACK_HTTP_HOST:-127.0.0.1}
    stack_port_check "$port" lighttpd "$host" || return 1
    if [ "${STACK_TLS:-0}" = 1 ]; then
        stack_tls_cert "$tlsdir" || { echo "stack: openssl made no certificate" >&2; return 1; }
        conf=${STACK_LIGHTTPD_CONF:-$ROOT/deploy/lighttpd-tls.conf}
    fi
    # another loopback address: the same config, bound there
    if [ "$host" != 127.0.0.1 ]; then
        printf 'include "%s"\nserver.bind := "%s"\n' "$conf" "$host" > "$dir/lighttpd-host.conf"
        conf=$dir/lighttpd-host.conf
    fi
    # STACK_FCGI_BIN: another program for lighttpd to spawn as chat.fcgi
    # (tests/edge_errors.bats: one that can be kept from restarting)
    CHAT_ROOT="$ROOT" CHAT_RUN="$dir" CHAT_HTTP_PORT="$port" \
    CHAT_FCGI_BIN="${STACK_FCGI_BIN:-$ROOT/${BUILD:-build/release}/chat.fcgi}" \
    CHAT_TLS_CERT="$tlsdir/cert.pem" CHAT_TLS_KEY="$tlsdir/key.pem" \
        stack_spawn lighttpd -D -f "$conf" 2>>"$dir/lighttpd-stderr.log"
    echo $! > "$dir/lighttpd.pid.bg"
    stack_wait_up "$!" 15 stack_health "$dir" "$port"
}

# lighttpd sends SIGTERM to chat.fcgi; stack_stop_pid lets it exit (and
# LSan report).
stack_lighttpd_stop() { # DIR
    stack_stop_pid "$1/lighttpd.pid.bg" TERM lighttpd
}

# The settings chat.fcgi reads (README, Configuration) that a front server
# hands on to it: lighttpd.conf lists the same in bin-copy-environment,
# mod_fcgid gets them as FcgidInitialEnv lines, spawn-fcgi passes its own
# environment.
# (tests/server_apache.bats checks the two lists agree.)
STACK_FCGI_ENV=(PATH REDIS_ADDRESS REDIS_PASSWORD REDIS_DB CHAT_KEYSPACE_SETUP
    CHAT_THREADS CHAT_REDIS_TIMEOUT_MS CHAT_PWHASH_OPSLIMIT CHAT_PWHASH_MEMLIMIT
    CHAT_PWHASH_CONCURRENCY CHAT_MSG_RATE CHAT_SIGNIN_FAILS CHAT_KEY_TTL
    CHAT_SESSION_TTL CHAT_EVENTS_MAXLEN CHAT_LOG_LEVEL CHAT_FCGI_POLL
    CHAT_USERS_CACHE_MS CHAT_POLL_MAX_HOLD CHAT_CORS_ORIGINS REDIS_USERNAME
    CHAT_POLL_HOLD_SLOTS REDIS_SENTINELS REDIS_SENTINEL_MASTER
    REDIS_SENTINEL_PASSWORD CHAT_REDIS_WAIT CHAT_REDIS_WAIT_MS
    ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS)

# Who the front server's workers run as: the current user, or when started
# by root (Apache refuses to serve as root) STACK_WWW_USER, www-data.
stack_www_user() {
    if [ "$(id -u)" -eq 0 ]; then echo "${STACK_WWW_USER:-www-data}"; else id -un; fi
}

# stack_www_access DIR USER: a worker running as USER (not us) must reach
# the sockets in DIR: let others pass through DIR (not list or write it).
stack_www_access() {
    [ "$2" = "$(id -un)" ] || chmod o+x "$1"
}

# stack_pids_below PID: every descendant of PID (children first).
stack_pids_below() {
    local k
    for k in $(pgrep -P "$1" || true); do
        echo "$k"
        stack_pids_below "$k"
    done
}

# stack_stop_pid PIDFILE [SIGNAL [NAME]]: stops the process started with
# that pid file and waits for it and for what it had started (so a
# sanitizer build writes its reports); the file goes away. With NAME, a pid
# that is no longer a NAME process (it exited and the pid was reused) is
# left alone.
stack_stop_pid() {
    local pidf=$1 sig=${2:-TERM} pid kids k
    pid=$(cat "$pidf" 2>/dev/null) || return 0
    if [ -n "${3:-}" ] && ! pid=$(stack_pid_of "$pidf" "$3"); then
        rm -f "$pidf"
        return 0
    fi
    kids=$(stack_pids_below "$pid")
    # (each may fail harmlessly, under set -e too: gone already, or not
    # our child when a test restarts it)
    kill -"$sig" "$pid" 2>/dev/null || true
    stack_wait_for 10 stack_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for k in $kids; do
        stack_wait_for 10 stack_gone "$k" || kill -9 "$k" 2>/dev/null || true
    done
    rm -f "$pidf"
    return 0
}

# stack_sbin NAME: NAME from PATH, else /usr/sbin/NAME (not in a Debian
# user's PATH).
stack_sbin() {
    command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

# stack_env_write FILE FORMAT DIR SKIP...: one line per setting of
# STACK_FCGI_ENV this shell has (but those named in SKIP) into FILE, in
# FORMAT:
#   fcgid     FcgidInitialEnv NAME "value"      (mod_fcgid, server level)
#   setenv    SetEnv NAME "value"               (Apache, CGI)
#   lighttpd  setenv.add-environment += ( "NAME" => "value" )   (mod_cgi)
#   env       NAME=value                        (chat.fcgi.wrapper's chat.env)
# A sanitizer log_path under DIR is moved to DIR/apache/san (children of
# another user cannot write into DIR; stack_apache_stop moves them up).
stack_env_write() {
    local file=$1 fmt=$2 dir=$3 v val s
    shift 3
    : > "$file"
    for v in "${STACK_FCGI_ENV[@]}"; do
        for s in "$@"; do [ "$v" = "$s" ] && continue 2; done
        [ -n "${!v+set}" ] || continue
        val=${!v}
        case $v in *SAN_OPTIONS) val=${val//"log_path=$dir/"/"log_path=$dir/apache/san/"} ;; esac
        # mod_fcgid keeps 127 bytes of a value (INITENV_VAL_LEN)
        if [ "$fmt" = fcgid ] && [ ${#val} -gt 127 ]; then
            [ "$v" = PATH ] && val=/usr/local/bin:/usr/bin:/bin ||
                echo "stack: $v is over 127 bytes, mod_fcgid cuts it" >&2
        fi
        if [ "$fmt" = env ]; then
            printf '%s=%s\n' "$v" "$val" >> "$file"
            continue
        fi
        val=${val//\\/\\\\}
        val=${val//\"/\\\"}
        case $fmt in
        fcgid) printf 'FcgidInitialEnv %s "%s"\n' "$v" "$val" ;;
        setenv) printf 'SetEnv %s "%s"\n' "$v" "$val" ;;
        lighttpd) printf 'setenv.add-environment += ( "%s" => "%s" )\n' "$v" "$val" ;;
        esac >> "$file"
    done
}

# --- Apache 2.4 (deploy/apache.conf): mod_fcgid + mod_proxy_http ----------
# stack_apache_prep DIR: Apache's directory DIR/apache (with san/ for
# sanitizer reports of children of another user); sets APACHE_USER and
# APACHE_GROUP, who the children run as.
stack_apache_prep() {
    APACHE_USER=$(stack_www_user)
    APACHE_GROUP=$(id -gn "$APACHE_USER")
    mkdir -p "$1/apache/san"
    stack_www_access "$1" "$APACHE_USER"
    [ "$APACHE_USER" = "$(id -un)" ] || chown "$APACHE_USER:$APACHE_GROUP" "$1/apache/san"
}

# stack_apache_run DIR HTTP_PORT CONF: starts apache2 -f CONF in the
# foreground (pid in DIR/apache.pid.bg) and waits for /health.
stack_apache_run() {
    local dir=$1 port=$2 conf=$3
    stack_port_check "$port" apache2 || return 1
    CHAT_ROOT="$ROOT" CHAT_RUN="$dir" CHAT_HTTP_PORT="$port" \
    CHAT_FCGI_BIN="$ROOT/${BUILD:-build/release}/chat.fcgi" \
    CHAT_APACHE_MODULES="${STACK_APACHE_MODULES:-/usr/lib/apache2/modules}" \
    CHAT_APACHE_USER="$APACHE_USER" CHAT_APACHE_GROUP="$APACHE_GROUP" \
        stack_spawn "${STACK_APACHE_BIN:-$(stack_sbin apache2)}" \
        -f "$conf" -DFOREGROUND 2>>"$dir/apache-stderr.log"
    echo $! > "$dir/apache.pid.bg"
    stack_wait_up "$!" 15 stack_health "$dir" "$port"
}

stack_apache_start() { # DIR HTTP_PORT
    stack_apache_prep "$1"
    # mod_fcgid starts chat.fcgi with only FcgidInitialEnv: one line per
    # setting we have. The config runs one thread per process (CHAT_THREADS).
    stack_env_write "$1/apache/fcgid-env.conf" fcgid "$1" CHAT_THREADS
    stack_apache_run "$1" "$2" "${STACK_APACHE_CONF:-$ROOT/deploy/apache.conf}"
}

# --- plain CGI, no chat-poller ---------------------------------------------
# Apache mod_cgid (deploy/apache-cgi.conf): settings as SetEnv lines; the
# config keeps its own hold limits.
stack_apache_cgi_start() { # DIR HTTP_PORT
    stack_apache_prep "$1"
    stack_env_write "$1/apache/cgi-env.conf" setenv "$1" \
        CHAT_POLL_MAX_HOLD CHAT_POLL_HOLD_SLOTS
    stack_apache_run "$1" "$2" "${STACK_APACHE_CONF:-$ROOT/deploy/apache-cgi.conf}"
}

# lighttpd mod_cgi (deploy/lighttpd-cgi.conf): settings as
# setenv.add-environment lines; the config keeps its own hold limits.
stack_cgi_start() { # DIR HTTP_PORT
    stack_env_write "$1/cgi-env.conf" lighttpd "$1" \
        CHAT_POLL_MAX_HOLD CHAT_POLL_HOLD_SLOTS
    STACK_LIGHTTPD_CONF=${STACK_LIGHTTPD_CONF:-$ROOT/deploy/lighttpd-cgi.conf} \
        stack_lighttpd_start "$1" "$2"
}

# --- shared hosting (deploy/shared-hosting/): a host's Apache, mod_fcgid ---
# stack_shared_start DIR HTTP_PORT: DIR/shared is a site owner's home on a
# host whose Apache config (apache-host.conf, AllowOverride All) is not
# theirs; its document root DIR/shared/public_html holds .htaccess,
# chat.fcgi and the files of web/, nothing else. STACK_SHARED_LAYOUT:
#   wrapper (default)  public_html/chat.fcgi is chat.fcgi.wrapper; the
#                      program and its settings (chat.env) are in DIR/shared,
#                      outside the document root; the host sets nothing
#   binary             public_html/chat.fcgi is the program itself; its
#                      settings can then only come from the host's server
#                      config (FcgidInitialEnv, written here as the admin
#                      would): .htaccess cannot pass any
# Both keep the longest poll hold (CHAT_POLL_MAX_HOLD, 30 unless set) below
# mod_fcgid's default FcgidIOTimeout of 40 s.
stack_shared_start() { # DIR HTTP_PORT
    local dir=$1 home=$1/shared docroot=$1/shared/public_html
    local bin="$ROOT/${BUILD:-build/release}/chat.fcgi" sh="$ROOT/deploy/shared-hosting"
    stack_apache_prep "$dir"
    rm -rf "$docroot"
    mkdir -p "$docroot"
    chmod 755 "$home" "$docroot"
    cp "$sh/.htaccess" "$docroot/.htaccess"
    cp -R "$ROOT/web/." "$docroot/"
    mkdir -p "$docroot/errors"
    cp "$ROOT"/deploy/errors/*.json "$docroot/errors/"
    chmod -R a+rX "$docroot"
    : > "$dir/apache/fcgid-env.conf"
    if [ "${STACK_SHARED_LAYOUT:-wrapper}" = binary ]; then
        cp "$bin" "$docroot/chat.fcgi"
        CHAT_POLL_MAX_HOLD=${CHAT_POLL_MAX_HOLD:-30} \
            stack_env_write "$dir/apache/fcgid-env.conf" fcgid "$dir"
    else
        cp "$sh/chat.fcgi.wrapper" "$docroot/chat.fcgi"
        cp "$bin" "$home/chat.fcgi"
        # one request per process (mod_fcgid): one thread, and holds
        # counted across processes, some processes kept for /api
        CHAT_THREADS=1 CHAT_POLL_HOLD_SLOTS=${CHAT_POLL_HOLD_SLOTS:-8} \
        CHAT_POLL_MAX_HOLD=${CHAT_POLL_MAX_HOLD:-30} \
            stack_env_write "$home/chat.env" env "$dir"
        # the settings (a Redis password) are the owner's only
        chmod 600 "$home/chat.env"
        [ "$APACHE_USER" = "$(id -un)" ] || chown "$APACHE_USER:$APACHE_GROUP" "$home/chat.env"
    fi
    chmod 755 "$docroot/chat.fcgi"
    CHAT_DOCROOT="$docroot" \
        stack_apache_run "$dir" "$2" "${STACK_APACHE_CONF:-$sh/apache-host.conf}"
}

stack_apache_stop() { # DIR
    local f
    # SIGTERM: Apache stops its children, mod_fcgid's SIGTERM ends chat.fcgi
    stack_stop_pid "$1/apache.pid.bg" TERM "$(basename "${STACK_APACHE_BIN:-apache2}")"
    for f in "$1"/apache/san/*; do
        [ -e "$f" ] && mv "$f" "$1/"
    done
    return 0
}

# --- nginx (deploy/nginx.conf.in) + spawn-fcgi'd chat.fcgi -----------------
# stack_subst IN OUT NAME=VALUE...: IN with every @NAME@ replaced by VALUE;
# a line naming @CHAT_WWW_USER@ is dropped when VALUE is empty.
stack_subst() {
    local in=$1 out=$2 line kv
    shift 2
    : > "$out"
    while IFS= read -r line || [ -n "$line" ]; do
        for kv in "$@"; do
            if [ -z "${kv#*=}" ] && [[ "$line" == *"@${kv%%=*}@"* ]]; then
                continue 2
            fi
            line=${line//"@${kv%%=*}@"/"${kv#*=}"}
        done
        printf '%s\n' "$line" >> "$out"
    done < "$in"
}

stack_nginx_start() { # DIR HTTP_PORT
    local dir=$1 port=$2 user group own=() wuser="" wgroup=""
    local bin="$ROOT/${BUILD:-build/release}/chat.fcgi"
    stack_port_check "$port" nginx || return 1
    user=$(stack_www_user)
    group=$(id -gn "$user")
    mkdir -p "$dir/nginx"
    stack_www_access "$dir" "$user"
    if [ "$user" != "$(id -un)" ]; then
        own=(-U "$user" -G "$group")
        wuser=$user wgroup=$group
    fi
    # chat.fcgi on its unix socket; -n: spawn-fcgi binds and execs it (same
    # pid), the workers' user owns the socket (mode 0600)
    rm -f "$dir/chat-fcgi.sock"
    # shellcheck disable=SC2086
    stack_spawn spawn-fcgi -n -s "$dir/chat-fcgi.sock" -M 0600 "${own[@]}" \
        -- ${STACK_WRAP:-} "$bin" 2>>"$dir/chat-fcgi.log"
    echo $! > "$dir/chat-fcgi.pid"
    stack_wait_up "$!" 10 test -S "$dir/chat-fcgi.sock" || return 1
    stack_subst "${STACK_NGINX_CONF:-$ROOT/deploy/nginx.conf.in}" \
        "$dir/nginx/nginx.conf" "CHAT_ROOT=$ROOT" "CHAT_RUN=$dir" \
        "CHAT_HTTP_PORT=$port" "CHAT_WWW_USER=$wuser" "CHAT_WWW_GROUP=$wgroup"
    stack_spawn "${STACK_NGINX_BIN:-$(stack_sbin nginx)}" -p "$dir/nginx" \
        -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" -g 'daemon off;' \
        2>>"$dir/nginx-stderr.log"
    echo $! > "$dir/nginx.pid.bg"
    stack_wait_up "$!" 15 curl -sf "http://127.0.0.1:$port/health"
}

stack_nginx_stop() { # DIR
    # SIGTERM: fast shutdown (SIGQUIT would wait for every held poll)
    stack_stop_pid "$1/nginx.pid.bg" TERM "$(basename "${STACK_NGINX_BIN:-nginx}")"
    stack_stop_pid "$1/chat-fcgi.pid" TERM chat.fcgi
    rm -f "$1/chat-fcgi.sock"
    return 0
}

# The pid file of the running front server (make run waits on it).
stack_server_pidfile() { # DIR SERVER
    case $2 in
    lighttpd | cgi) echo "$1/lighttpd.pid.bg" ;;
    apache | apache-cgi | shared) echo "$1/apache.pid.bg" ;;
    nginx) echo "$1/nginx.pid.bg" ;;
    esac
}

STACK_SERVERS="lighttpd, apache, nginx, cgi, apache-cgi or shared"

# stack_server_polls SERVER: 0 (true) when SERVER sends /poll and /events
# to chat-poller; the CGI and shared-hosting ones have none.
stack_server_polls() {
    case $1 in cgi | apache-cgi | shared) return 1 ;; esac
    return 0
}

stack_server_start() { # DIR HTTP_PORT SERVER
    if [ "${STACK_TLS:-0}" = 1 ] && [ "$3" != lighttpd ]; then
        echo "TLS=1 is for lighttpd (deploy/lighttpd-tls.conf), not $3" >&2
        return 2
    fi
    case $3 in
    lighttpd) stack_lighttpd_start "$1" "$2" ;;
    apache) stack_apache_start "$1" "$2" ;;
    nginx) stack_nginx_start "$1" "$2" ;;
    cgi) stack_cgi_start "$1" "$2" ;;
    apache-cgi) stack_apache_cgi_start "$1" "$2" ;;
    shared) stack_shared_start "$1" "$2" ;;
    *) echo "unknown server '$3' ($STACK_SERVERS)" >&2; return 2 ;;
    esac
}

# The pid files the stack writes into DIR, each with the program it names.
STACK_PIDFILES=(redis.pid:redis-server poller.pid:chat-poller
    lighttpd.pid.bg:lighttpd apache.pid.bg:apache2 nginx.pid.bg:nginx
    chat-fcgi.pid:chat.fcgi)

# stack_claim DIR: refuses a DIR in which a stack still runs (a second
# `make run`); pid files left by a killed one are removed, so that no stop
# ever signals a pid that is now someone else's.
stack_claim() {
    local f pid
    for f in "${STACK_PIDFILES[@]}"; do
        if pid=$(stack_pid_of "$1/${f%%:*}" "${f#*:}"); then
            echo "stack: ${f#*:} (pid $pid) already runs in $1; stop it first" >&2
            return 1
        fi
        rm -f "$1/${f%%:*}"
    done
}

stack_start() { # DIR HTTP_PORT REDIS_PORT
    local dir=$1 http=$2 redis=$3 server=${STACK_SERVER:-lighttpd}
    mkdir -p "$dir"
    stack_claim "$dir" || return 1
    # both ports first: nothing starts when either is taken
    if [ "${STACK_REDIS_EXTERNAL:-0}" != 1 ]; then
        stack_port_check "$redis" redis-server || return 1
    fi
    stack_port_check "$http" "$server" "${STACK_HTTP_HOST:-}" || return 1
    # STACK_REDIS_UNIX=1: the programs reach Redis over its unix socket.
    if [ "${STACK_REDIS_EXTERNAL:-0}" = 1 ]; then
        : # REDIS_ADDRESS or REDIS_SENTINELS as given
    elif [ "${STACK_REDIS_UNIX:-0}" = 1 ]; then
        export REDIS_ADDRESS="$dir/redis.sock"
    else
        export REDIS_ADDRESS="127.0.0.1:$redis"
    fi
    if [ "${STACK_REDIS_EXTERNAL:-0}" != 1 ]; then
        stack_redis_start "$dir" "$redis" || { echo "redis did not start" >&2; return 1; }
    fi
    if stack_server_polls "$server"; then
        stack_poller_start "$dir" || { echo "chat-poller did not start" >&2; return 1; }
    fi
    stack_server_start "$dir" "$http" "$server" ||
        { echo "$server did not start" >&2; return 1; }
}

stack_stop() { # DIR REDIS_PORT
    # Apache and nginx wait at stop for the polls and streams they proxy:
    # the poller goes first, its drain answers them.
    if [ -e "$1/apache.pid.bg" ] || [ -e "$1/nginx.pid.bg" ]; then
        stack_poller_stop "$1"
    fi
    # whichever front server was started (each stop is a no-op without its
    # pid file)
    stack_lighttpd_stop "$1"
    stack_apache_stop "$1"
    stack_nginx_stop "$1"
    stack_poller_stop "$1"
    stack_redis_stop "$1" "$2"
    return 0
}

stack_run() {
    local dir=${STACK_RUN_DIR:-$ROOT/var} http=${CHAT_HTTP_PORT:-8080} redis=${CHAT_REDIS_PORT:-6390}
    local server=${SERVER:-${STACK_SERVER:-lighttpd}} url
    case $server in
    lighttpd | apache | nginx | cgi | apache-cgi | shared) ;;
    *) echo "SERVER=$server: use $STACK_SERVERS" >&2; exit 2 ;;
    esac
    export STACK_SERVER=$server
    # TLS=1: lighttpd over HTTPS with HTTP/2, a self-signed certificate for
    # 127.0.0.1 made once in ./var/tls
    if [ "${TLS:-0}" = 1 ]; then
        [ "$server" = lighttpd ] ||
            { echo "TLS=1 is for SERVER=lighttpd (deploy/lighttpd-tls.conf)" >&2; exit 2; }
        export STACK_TLS=1 STACK_TLS_DIR="$dir/tls"
    fi
    # the gateway and the poller reach the private Redis over its socket
    # (mode 700): not when Apache runs chat.fcgi as another user (root
    # starting Apache), which then uses Redis's loopback port
    case $server in
    apache | apache-cgi | shared)
        if [ "$(stack_www_user)" != "$(id -un)" ]; then
            export STACK_REDIS_UNIX=${STACK_REDIS_UNIX:-0}
        fi ;;
    esac
    export STACK_REDIS_UNIX=${STACK_REDIS_UNIX:-1}
    # REDIS_ADDRESS or REDIS_SENTINELS given: that Redis, none of ours
    if [ -n "${REDIS_ADDRESS:-}${REDIS_SENTINELS:-}" ]; then
        export STACK_REDIS_EXTERNAL=1
        if [ -n "${REDIS_SENTINELS:-}" ]; then
            echo "using master ${REDIS_SENTINEL_MASTER:-mymaster} of sentinels $REDIS_SENTINELS (no redis-server of ours)"
        else
            echo "using the Redis at $REDIS_ADDRESS (no redis-server of ours)"
        fi
    fi
    # a stack already running in the directory is another run's: refused
    # here, before anything of ours could stop it
    mkdir -p "$dir"
    stack_claim "$dir" || exit 1
    trap 'echo; echo "stopping..."; stack_stop "$dir" "$redis"; exit 0' INT TERM
    # a refused port starts nothing; a later failure stops what did start
    stack_start "$dir" "$http" "$redis" || {
        [ "${STACK_REDIS_EXTERNAL:-0}" = 1 ] &&
            echo "(is the Redis of REDIS_ADDRESS / REDIS_SENTINELS reachable? see $dir/*.log)" >&2
        stack_stop "$dir" "$redis"; exit 1; }
    url=$(stack_url "$dir" "$http" /)
    echo "chat is up behind $server: $url  (logs in $dir; Ctrl-C stops)"
    if [ "${STACK_TLS:-0}" = 1 ]; then
        echo "self-signed: curl --cacert $STACK_TLS_DIR/cert.pem ${url}health; a browser asks to accept it once"
    fi
    # until the server ends (or, behind nginx, chat.fcgi: nothing respawns it)
    while stack_running "$(cat "$(stack_server_pidfile "$dir" "$server")")"; do
        if [ "$server" = nginx ] && ! stack_running "$(cat "$dir/chat-fcgi.pid")"; then
            echo "chat.fcgi exited (see $dir/chat-fcgi.log)" >&2
            break
        fi
        sleep 1
    done
    stack_stop "$dir" "$redis"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
    run) stack_run ;;
    *) echo "usage: $0 run" >&2; exit 2 ;;
    esac
fi
