#!/usr/bin/env bash
# test.sh - `make test`: installs what is missing, builds the release and the
# ASan/UBSan builds, runs every bats suite against real servers with each,
# and ends with the line "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# every front server has its suite (tests/server_*.bats), TLS too; clang
# for the fuzz targets (tests/fuzz.bats, in the release pass only)
CHAT_WITH_BROWSER=1 CHAT_WITH_APACHE=1 CHAT_WITH_NGINX=1 CHAT_WITH_TLS=1 \
    CHAT_WITH_FUZZ=1 bash tools/deps.sh || exit 1
make -j2 all >/dev/null || { echo "release build failed"; exit 1; }
make -j2 SANITIZE=1 all >/dev/null || { echo "sanitizer build failed"; exit 1; }
[ -f tests/web/package.json ] && [ ! -d tests/web/node_modules ] &&
    (cd tests/web && npm ci --silent --no-audit --no-fund >/dev/null 2>&1)

pass=0 fail=0 skip=0
SUITES=${SUITES:-$(ls tests/*.bats)}
for build in release asan; do
    echo "== $build build"
    out=$(mktemp)
    # shellcheck disable=SC2086
    BUILD=build/$build bats --tap $SUITES 2>&1 | tee "$out"
    p=$(grep -Ec '^ok [0-9]+ ' "$out" || true)
    s=$(grep -Ec '^ok [0-9]+ .*# skip' "$out" || true)
    f=$(grep -Ec '^not ok [0-9]+ ' "$out" || true)
    pass=$((pass + p - s)) skip=$((skip + s)) fail=$((fail + f))
    rm -f "$out"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
