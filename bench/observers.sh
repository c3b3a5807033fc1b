#!/usr/bin/env bash
# What lookup observers (RFC 7641 on RFC 9176 section 6) cost the writers of a directory.
# Starts core-rd on loopback, fills it with N registrations (rd-bench), then measures the
# latency of WRITES registrations of one endpoint, each changing an attribute:
#   idle      without observers
#   unrelated with 20 observers of different unindexed lookups that no write affects
#   departed  with 20 observers of different unindexed lookups that every write changes (lt=
#             matches only the moving endpoint), whose clients have exited
# Prints one line per case: writes, p50, p90 and max milliseconds.
#
# Environment (all optional): OBS_N registrations (default 100000), OBS_WRITES (default 100),
# OBS_BUILD build directory (default build), OBS_MAX_SECONDS time limit of each case (60).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
BUILD=${OBS_BUILD:-$ROOT/build}
N=${OBS_N:-100000}
WRITES=${OBS_WRITES:-100}
MAX_SECONDS=${OBS_MAX_SECONDS:-60}
RD=$BUILD/rd/core-rd
BENCH=$BUILD/bench/rd-bench
CLIENT=${CLIENT:-coap-client-openssl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-observers.XXXXXX")
PORT=$((20000 + RANDOM % 30000))
SERVER_PID=""
OBS_PIDS=()

cleanup() {
    for p in "${OBS_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

printf 'map_size 4096\n' >"$WORK/core-rd.conf"
# All observers come from 127.0.0.1: let them all in (a server without the directive has no
# limit).
# The generator stands for many devices behind one address (a server that has the per-source
# quota and write rate would stop it).
if grep -q write_rate_limit "$RD"; then
    printf 'max_per_source 0\nwrite_rate_limit 0\n' >>"$WORK/core-rd.conf"
fi
if grep -q observe_max_per_source "$RD"; then
    printf 'observe_max_per_source 64\n' >>"$WORK/core-rd.conf"
fi
"$RD" -c "$WORK/core-rd.conf" -l "127.0.0.1:$PORT" -d "$WORK/data" -v warn 2>"$WORK/rd.log" &
SERVER_PID=$!
"$BENCH" --server "127.0.0.1:$PORT" --wait-ready 5000 >/dev/null
"$BENCH" --server "127.0.0.1:$PORT" -n "$N" -w 32 --phases register \
    --max-seconds "$MAX_SECONDS" | sed 's/^/fill: /' >&2

# observe QUERY: an observer that stays until killed.
observe() {
    timeout "$MAX_SECONDS" "$CLIENT" -B "$MAX_SECONDS" -s "$MAX_SECONDS" -m get \
        "coap://127.0.0.1:$PORT/$1" >/dev/null 2>&1 &
    OBS_PIDS+=($!)
}

stop_observers() {
    for p in "${OBS_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    OBS_PIDS=()
}

# writes CASE: WRITES registrations of ep=moving, each with a new et; one line of figures.
writes() {
    local k t0 t1 deadline
    : >"$WORK/lat"
    deadline=$(($(now_ms) + MAX_SECONDS * 1000))
    for k in $(seq 1 "$WRITES"); do
        t0=$(now_ms)
        "$CLIENT" -B 10 -m post -t 40 -e '</m>' \
            "coap://127.0.0.1:$PORT/rd?ep=moving&et=v$k" >/dev/null 2>&1
        t1=$(now_ms)
        echo $((t1 - t0)) >>"$WORK/lat"
        if [ "$t1" -gt "$deadline" ]; then
            break
        fi
    done
    "$CLIENT" -B 10 -m get "coap://127.0.0.1:$PORT/metrics" 2>/dev/null |
        grep -E '^core_rd_(observe|observers)' | sed "s/^/$1: /" >&2 || true
    sort -n "$WORK/lat" | awk -v c="$1" '{ v[NR] = $1 } END {
        printf "case=%s writes=%d p50_ms=%d p90_ms=%d max_ms=%d\n", c, NR, v[int(NR * 0.5) + 1],
            v[int(NR * 0.9) + 1], v[NR] }'
}

# Wait until the observers' first answers have gone out (the server logs nothing at warn), by
# asking the server a question of its own: it answers in turn.
settle() {
    "$CLIENT" -B 10 -m get "coap://127.0.0.1:$PORT/rd-lookup/ep?ep=moving" >/dev/null 2>&1
}

writes idle
for i in $(seq 0 9); do
    observe "rd-lookup/ep?base=coap://watch-$i.example"
    observe "rd-lookup/res?title=watch-$i"
done
sleep 2
settle
writes unrelated
stop_observers
for i in $(seq 0 19); do
    observe "rd-lookup/ep?lt=90000&count=$((i + 1))"
done
sleep 2
settle
stop_observers
writes departed
