#!/usr/bin/env bash
# deps.sh - installs the Debian packages the project needs, only those that
# are missing (idempotent; `apt-get update` once, when something is missing).
set -euo pipefail
PKGS=(build-essential pkg-config libfcgi-dev libfcgi-bin spawn-fcgi
      libhiredis-dev libevent-dev libjson-c-dev uuid-dev libsodium-dev
      nettle-dev lighttpd redis-server redis-tools bats curl jq ca-certificates)
if [ "${CHAT_WITH_BROWSER:-0}" = 1 ]; then
    PKGS+=(chromium)
    # The machine may ship Node.js with npm from another repository.
    command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
fi
[ "${CHAT_WITH_LINT:-0}" = 1 ] && PKGS+=(clang-format clang-tidy cppcheck)
[ "${CHAT_WITH_BENCH:-0}" = 1 ] && PKGS+=(wrk nginx-light libnginx-mod-nchan)
[ "${CHAT_WITH_VALGRIND:-0}" = 1 ] && PKGS+=(valgrind)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged daemons; the project runs its own on other ports.
if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now redis-server lighttpd >/dev/null 2>&1 || true
fi
