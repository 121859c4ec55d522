#!/usr/bin/env bats
# C unit checks of common/ (no servers): tests/unit/*.c, built by make into
# $BUILD/tests/ (also with ASan/UBSan).
ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"

@test "common/: Go escaping, UTF-8, field checks, parsing, cursors, errors" {
    run "$ROOT/${BUILD:-build/release}/tests/test_common"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *" checks, 0 failed" ]]
}

@test "common/redis_conn: Sentinel and ROLE replies, +switch-master, READONLY; the Sentinel settings" {
    run "$ROOT/${BUILD:-build/release}/tests/test_redis_conn"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == *" checks, 0 failed" ]]
}
