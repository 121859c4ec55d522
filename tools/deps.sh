#!/usr/bin/env bash
# deps.sh - installs the Debian packages the project needs, only those that
# are missing (idempotent; `apt-get update` once, when something is missing).
set -euo pipefail
PKGS=(build-essential pkg-config libfcgi-dev libfcgi-bin spawn-fcgi
      libhiredis-dev libevent-dev libjson-c-dev uuid-dev libsodium-dev
      nettle-dev libicu-dev lighttpd lighttpd-modules-lua redis-server redis-tools bats curl jq ca-certificates)
if [ "${CHAT_WITH_BROWSER:-0}" = 1 ]; then
    PKGS+=(chromium)
    # The machine may ship Node.js with npm from another repository.
    command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
fi
[ "${CHAT_WITH_LINT:-0}" = 1 ] && PKGS+=(clang-format clang-tidy cppcheck lua-check)
[ "${CHAT_WITH_BENCH:-0}" = 1 ] && PKGS+=(wrk nginx-light libnginx-mod-nchan)
[ "${CHAT_WITH_VALGRIND:-0}" = 1 ] && PKGS+=(valgrind)
# make fuzz, tests/fuzz.bats: clang with libFuzzer (in compiler-rt)
[ "${CHAT_WITH_FUZZ:-0}" = 1 ] && PKGS+=(clang libclang-rt-dev)
# Front servers besides lighttpd (make run SERVER=..., tests/server_*.bats).
# (mod_cgid, mod_rewrite come with apache2; lighttpd's mod_cgi with lighttpd)
[ "${CHAT_WITH_APACHE:-0}" = 1 ] && PKGS+=(apache2 libapache2-mod-fcgid)
# HTTPS and HTTP/2 for lighttpd (make run TLS=1, tests/server_tls.bats)
[ "${CHAT_WITH_TLS:-0}" = 1 ] && PKGS+=(lighttpd-mod-openssl openssl)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
if [ "${CHAT_WITH_NGINX:-0}" = 1 ]; then
    # any flavour will do; bookworm has nginx-light, later releases only nginx
    have=0
    for f in nginx-light nginx-core nginx-full nginx-extras nginx; do
        installed "$f" && have=1
    done
    if [ "$have" = 0 ]; then
        if apt-cache show nginx-light >/dev/null 2>&1; then PKGS+=(nginx-light)
        else PKGS+=(nginx); fi
    fi
fi

missing=()
for p in "${PKGS[@]}"; do
    installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
# Debian starts packaged daemons on install (redis on 6379, lighttpd, apache2
# and nginx all on port 80, where one fails when another holds it and fails
# the install). The project runs its own on other ports: a policy-rc.d that
# denies every start is put in place for the install when there is none
# (the usual container one), and removed afterwards.
POLICY=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# tools/deps.sh: no daemon starts during the install\nexit 101\n' |
        $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY" && own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && $SUDO rm -f "$POLICY"; return 0; }
trap cleanup EXIT
# the services of the packages installed now (a server the machine already
# ran is left alone)
DAEMONS=()
for p in "${missing[@]}"; do
    case $p in
    redis-server | lighttpd | apache2) DAEMONS+=("$p") ;;
    nginx | nginx-light | nginx-core | nginx-full) DAEMONS+=(nginx) ;;
    esac
done
stop_daemons() {
    [ ${#DAEMONS[@]} -eq 0 ] && return 0
    if command -v systemctl >/dev/null 2>&1; then
        $SUDO systemctl disable --now "${DAEMONS[@]}" >/dev/null 2>&1 || true
    fi
    for d in "${DAEMONS[@]}"; do
        [ -x "/etc/init.d/$d" ] && $SUDO "/etc/init.d/$d" stop >/dev/null 2>&1
        command -v update-rc.d >/dev/null 2>&1 &&
            $SUDO update-rc.d "$d" disable >/dev/null 2>&1
    done
    return 0
}
$SUDO apt-get update -qq
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    # a daemon that started anyway and failed (port taken) leaves its package
    # half-configured: stop them all and finish the configuration once
    echo "install failed; stopping packaged daemons and retrying" >&2
    stop_daemons
    $SUDO dpkg --configure -a >/dev/null || true
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
stop_daemons
