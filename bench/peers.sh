#!/usr/bin/env bash
# What many peers cost: libcoap keeps a session per peer, and 4.3.1 walks all of them after
# each dispatch (and for each datagram of a new peer). Starts a fresh core-rd on loopback,
# registers PEERS_OPS endpoints from one source port (window 32), then lets PEERS_SESSIONS
# other source ports each ask one lookup (so many sessions are kept), and registers
# PEERS_OPS more: the server's CPU per registration before and after is the cost of those
# sessions. Prints rd-bench's lines and the two figures.
#
# Environment (all optional):
#   PEERS_SESSIONS      peers that ask a lookup in between, default 4000 (a multiple of 500)
#   PEERS_OPS           registrations of each measurement, default 50000
#   PEERS_MAX_SESSIONS  core-rd's max_sessions, default: core-rd's own default
#   PEERS_RD            the core-rd to measure, default: the Release build in PEERS_BUILD
#   PEERS_BUILD         build directory of core-rd and rd-bench, default build-bench
# The server runs on CPU 0, the generator on CPU 1 (with two CPUs or more).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
BUILD=${PEERS_BUILD:-$ROOT/build-bench}
SESSIONS=${PEERS_SESSIONS:-4000}
OPS=${PEERS_OPS:-50000}
MAX_SESSIONS=${PEERS_MAX_SESSIONS:-}
for v in $SESSIONS $OPS $MAX_SESSIONS; do
    case $v in
    '' | *[!0-9]*)
        echo "peers.sh: expected a number, got '$v'" >&2
        exit 2
        ;;
    esac
done
if [ $((SESSIONS % 500)) != 0 ]; then
    echo "peers.sh: PEERS_SESSIONS must be a multiple of 500" >&2
    exit 2
fi

bench_setup peers "${PEERS_RD:-}"

{
    printf 'sync periodic\nsync_interval 1\nmap_size 4096\nlog_level warn\n'
    printf 'max_per_source 0\nwrite_rate_limit 0\nrate_limit 0\n'
    [ -z "$MAX_SESSIONS" ] || printf 'max_sessions %s\n' "$MAX_SESSIONS"
} >"$WORK/core-rd.conf"
bench_start_server peers.sh

# cpu_ticks: the server's user and system time so far, in clock ticks.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}

# bench ARGS...: one rd-bench run; prints its phase lines, moves the source ports on.
bench() {
    "${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" --max-seconds 300 \
        --src-port-base "$SRC_PORT" "$@" >"$WORK/bench.out"
    grep '^phase=' "$WORK/bench.out" || true
    SRC_PORT=$(sed -n 's/^# next_src_port=//p' "$WORK/bench.out" | grep . || echo $((SRC_PORT + 600)))
}

# measure FIRST: register OPS endpoints from FIRST on; prints µs of server CPU per one.
measure() {
    local t0 t1
    t0=$(cpu_ticks)
    bench -n "$OPS" --first "$1" --phases register -w 32 >&2
    t1=$(cpu_ticks)
    awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$OPS" \
        'BEGIN { printf "%.1f", t / hz * 1e6 / n }'
}

echo "# core-rd $RD, sessions=$SESSIONS, ops=$OPS, max_sessions=${MAX_SESSIONS:-default}"
before=$(measure 0)
for ((i = 0; i < SESSIONS / 500; i++)); do
    bench -n 1 --phases lookup-ep -w 32 --ops 500 --peers 500 >/dev/null
done
after=$(measure "$OPS")
kill -0 "$SERVER_PID" || { echo "peers.sh: core-rd died" >&2; exit 1; }
echo "register, server CPU per registration: ${before} µs from one peer;" \
    "${after} µs after $SESSIONS more peers spoke"
