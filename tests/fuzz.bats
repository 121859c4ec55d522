#!/usr/bin/env bats
# The libFuzzer targets of tests/fuzz/ (clang, ASan/UBSan, build/fuzz), each
# for FUZZ_SECONDS (30) from its seed corpus: a crash, a sanitizer report
# or a failed invariant fails the test. They have their own build, so they
# run once per `make test`, in the release pass; the asan pass skips them.
ROOT="$(cd "$(dirname "${BATS_TEST_FILENAME}")/.." && pwd)"

setup_file() {
    [ "${BUILD:-build/release}" = build/asan ] && return 0
    make -C "$ROOT" -s --no-print-directory fuzz-build >/dev/null
}

fuzz() {
    [ "${BUILD:-build/release}" = build/asan ] &&
        skip "fuzzing runs once, in the release pass"
    run bash "$ROOT/tools/fuzz.sh" "$1"
    echo "$output"
    [ "$status" -eq 0 ]
    [[ "$output" == "$1: "*" exec/s, "* ]]
}

@test "fuzz: request bodies (proto_parse against an RFC 8259 reader, field checks)" {
    fuzz request
}

@test "fuzz: UTF-8 and the byte field checks (username, message, UUID)" {
    fuzz fields
}

@test "fuzz: cursors and the /poll, /events parameters" {
    fuzz cursor
}

@test "fuzz: stored users records and channel messages" {
    fuzz record
}

@test "fuzz: Redis replies (poll batch, channel read, userinfo, CONFIG, errors)" {
    fuzz reply
}
