#!/bin/sh
# The whole test suite: a normal build and a sanitizer build (ASan + UBSan), each running every
# unit, fuzz-replay, layering and end-to-end test under CTest, then a short libFuzzer run of each
# harness (the parsers and whole requests through the server). FUZZ_SECONDS (default 20) sets the
# length of each fuzz run; 0 skips them.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

cmake -S . -B build -DRD_WERROR=ON
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure

cmake -S . -B build-asan -DRD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions="$PWD/tests/lsan.supp":print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure

fuzz_seconds=${FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ]; then
    JOBS=$jobs ./tests/fuzz/run.sh "$fuzz_seconds"
fi
echo "all test stages passed"
