#!/usr/bin/env bash
# Deep pages at scale: registers N endpoints (rd-bench's five links each, one of them
# rt="temperature-c") with a fresh core-rd on loopback, then asks random pages of the upper half
# of `rd-lookup/res?rt=temperature-c&count=50` (lookup-res-deep) and of the unfiltered
# `rd-lookup/res?count=50` (lookup-all-deep), one request at a time, so each latency is one
# answer's server time plus a loopback round trip. Pages are random among thousands: nearly every
# ask is the first of its page (no page mark, no kept answer).
#
# Environment (all optional):
#   DEEP_N            endpoints, default 1000000
#   DEEP_OPS          requests of each deep phase, default 300
#   DEEP_MAX_SECONDS  time limit of each phase, default 240
#   DEEP_RD           the core-rd to measure, default: the Release build in DEEP_BUILD
#   DEEP_BUILD        build directory of core-rd and rd-bench, default build-bench
#   DEEP_MAP_MIB      map_size, default 16384
#   DEEP_SEED         seed of the generator, default 1
# Prints rd-bench's lines and a summary; the server runs on CPU 0, the generator on CPU 1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
BUILD=${DEEP_BUILD:-$ROOT/build-bench}
N=${DEEP_N:-1000000}
OPS=${DEEP_OPS:-300}
MAX_SECONDS=${DEEP_MAX_SECONDS:-240}
MAP_MIB=${DEEP_MAP_MIB:-16384}
SEED=${DEEP_SEED:-1}
for v in $N $OPS $MAX_SECONDS $MAP_MIB $SEED; do
    case $v in
    '' | *[!0-9]*)
        echo "deep-pages.sh: expected a number, got '$v'" >&2
        exit 2
        ;;
    esac
done

bench_setup deep "${DEEP_RD:-}"

# The load comes from one address: no per-source limit may refuse it.
printf 'sync periodic\nsync_interval 1\nmap_size %s\nlog_level warn\n%s\n' "$MAP_MIB" \
    'max_per_source 0
write_rate_limit 0
rate_limit 0' \
    >"$WORK/core-rd.conf"
bench_start_server deep-pages.sh

# bench ARGS...: one rd-bench run; prints its phase lines, moves the source ports on.
bench() {
    "${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" -n "$N" --seed "$SEED" \
        --max-seconds "$MAX_SECONDS" --src-port-base "$SRC_PORT" "$@" >"$WORK/bench.out"
    grep '^phase=' "$WORK/bench.out" || true
    SRC_PORT=$(sed -n 's/^# next_src_port=//p' "$WORK/bench.out" | grep . || echo $((SRC_PORT + 64)))
}

echo "# core-rd $("$RD" -V 2>/dev/null | head -n 1 || echo "$RD"), N=$N, ops=$OPS"
bench --phases register -w 32
bench --phases lookup-res-deep -w 1 --ops "$OPS"
bench --phases lookup-all-deep -w 1 --ops "$OPS"
