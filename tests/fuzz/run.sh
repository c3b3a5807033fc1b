#!/bin/sh
# Builds the libFuzzer harnesses with clang (in build-fuzz, or $FUZZ_BUILD) and runs each for
# SECONDS (default 20) on a scratch copy of its seed corpus, printing libFuzzer's final stats.
# Usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]   (harnesses: linkformat query record lookup server dtls token watch frame)
# A crash stops the script with libFuzzer's report and the crashing input in the build dir.
set -eu
cd "$(dirname "$0")/../.."
seconds=${1:-20}
[ $# -gt 0 ] && shift
harnesses=${*:-linkformat query record lookup server dtls token watch frame}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-2}

CC=clang cmake -S . -B "$build" -DRD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for h in $harnesses; do
    cmake --build "$build" -j "$jobs" --target "fuzz_$h" >/dev/null
done
for h in $harnesses; do
    work=$(mktemp -d)
    cp tests/fuzz/corpus/"$h"/* "$work"/
    echo "== fuzz_$h, $seconds s"
    # -artifact_prefix keeps crashing inputs next to the binary, not in the source tree.
    if ! "./$build/tests/fuzz_$h" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$build/fuzz_$h-" "$work" >"$work.log" 2>&1; then
        tail -n 60 "$work.log"
        rm -rf "$work" "$work.log"
        echo "fuzz_$h failed" >&2
        exit 1
    fi
    grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|cov:' "$work.log" | tail -n 4
    rm -rf "$work" "$work.log"
done
