#!/usr/bin/env bash
# lint.sh - `make lint`: clang-format check, cppcheck, clang-tidy and a
# banned-function grep over every C file of the project, and luacheck over
# the Lua scripts (common/lua/, .luacheckrc).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
CHAT_WITH_LINT=1 bash tools/deps.sh || exit 1
mapfile -t SRC < <(git ls-files 'common/*.c' 'fcgi/*.c' 'poller/*.c' 'bench/*.c' 'tests/unit/*.c' 'tests/fuzz/*.c')
mapfile -t HDR < <(git ls-files 'common/*.h' 'fcgi/*.h' 'poller/*.h' 'tests/fuzz/*.h')
rc=0
# store.c includes the scripts as generated C (build/gen, tools/lua2c.sh)
make --no-print-directory -s build/gen/lua_scripts.h || exit 1

echo "== clang-format"
clang-format --dry-run -Werror "${SRC[@]}" "${HDR[@]}" || rc=1

echo "== banned functions"
if grep -nE '\b(sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|gets)\s*\(' "${SRC[@]}"; then
    rc=1
fi

echo "== cppcheck"
cppcheck --std=c11 --quiet --error-exitcode=1 --inline-suppr \
    --enable=warning,style,performance,portability --library=posix \
    --suppress=missingIncludeSystem -I. -Ibuild/gen "${SRC[@]}" || rc=1

echo "== clang-tidy"
clang-tidy --quiet "${SRC[@]}" -- -I. -Ibuild/gen -D_POSIX_C_SOURCE=200809L \
    -D_DEFAULT_SOURCE -std=c11 2>&1 | grep -v '^[0-9]* warnings generated' || true
clang-tidy --quiet "${SRC[@]}" -- -I. -Ibuild/gen -D_POSIX_C_SOURCE=200809L \
    -D_DEFAULT_SOURCE -std=c11 >/dev/null 2>&1 || rc=1

echo "== luacheck"
luacheck --quiet --no-color common/lua || rc=1

[ $rc -eq 0 ] && echo "lint: clean" || echo "lint: problems found"
exit $rc
