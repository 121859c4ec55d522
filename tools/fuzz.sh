#!/usr/bin/env bash
# fuzz.sh - `make fuzz` and tests/fuzz.bats: runs the libFuzzer targets
# built in build/fuzz (all, or those named) for FUZZ_SECONDS each, seeded
# from tests/fuzz/corpus/<target>; new inputs are kept in
# build/fuzz/corpus/<target> (never in git), a crash in build/fuzz/crashes.
# One line per target with its runs and exec/s; exit 1 when any crashed.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH=${FUZZ_SECONDS:-30}
OUT=build/fuzz
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(ls tests/fuzz/*.c | sed 's#.*/##; s#\.c$##')
fi
rc=0
for t in "${TARGETS[@]}"; do
    bin="$OUT/$t"
    [ -x "$bin" ] || { echo "$t: $bin is not built (make fuzz-build)"; rc=1; continue; }
    mkdir -p "$OUT/corpus/$t" "$OUT/crashes" "$OUT/logs"
    log="$OUT/logs/$t.log"
    dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
    # -timeout: one input taking seconds is a finding too (quadratic
    # parsing); -rss_limit_mb keeps a runaway allocation from the machine.
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$OUT/crashes/$t-" \
        "${dict[@]}" "$OUT/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
    if [ "$status" -ne 0 ]; then
        echo "$t: CRASHED (exit $status) after ${runs:-?} runs; log $log:"
        grep -E 'ERROR|invariant failed|runtime error|Test unit written' "$log" | head -5
        rc=1
    else
        echo "$t: ${runs:-?} runs in ${SECONDS_EACH}s, ${rate:-?} exec/s, ${added:-?} new inputs"
    fi
done
exit $rc
