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
# Suites that test front-server and host configuration more than our C
# code (every code path they reach is run by other suites in both builds):
# the ASan/UBSan pass leaves them out, which keeps `make test` near 20 min.
RELEASE_ONLY="server_apache server_apache_cgi server_nginx server_shared server_tls deploy_files hosts fuzz"
for build in release asan; do
    echo "== $build build"
    out=$(mktemp)
    run=$SUITES
    if [ "$build" = asan ]; then
        run=$(for f in $SUITES; do
            b=$(basename "$f" .bats)
            case " $RELEASE_ONLY " in *" $b "*) ;; *) echo "$f" ;; esac
        done)
    fi
    # shellcheck disable=SC2086
    BUILD=build/$build bats --tap $run 2>&1 | tee "$out"
    p=$(grep -Ec '^ok [0-9]+ ' "$out" || true)
    s=$(grep -Ec '^ok [0-9]+ .*# skip' "$out" || true)
    f=$(grep -Ec '^not ok [0-9]+ ' "$out" || true)
    pass=$((pass + p - s)) skip=$((skip + s)) fail=$((fail + f))
    rm -f "$out"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
