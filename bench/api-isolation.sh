#!/usr/bin/env bash
# CoAP pings while the HTTP API walks: registers N endpoints (rd-bench's) with a fresh core-rd on
# loopback, then 4 HTTP clients (curl) ask /api/resources lookups that walk every registration
# (an unindexed title that matches none, a new one each time) in a loop while coap_raw sends
# PINGS pings one after the other. Prints how long the pings took in all and how many HTTP
# lookups were answered meanwhile: with the API's lookups on the loop every ping waited behind
# a walk, on the workers only behind the loop's own short work.
#
# Environment (all optional):
#   API_ISO_N      endpoints, default 20000
#   API_ISO_PINGS  pings, default 3000
#   API_ISO_RD     the core-rd to measure, default: the Release build in API_ISO_BUILD
#   API_ISO_BUILD  build directory of core-rd, rd-bench and coap_raw, default build-bench
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${API_ISO_BUILD:-$ROOT/build-bench}
N=${API_ISO_N:-20000}
PINGS=${API_ISO_PINGS:-3000}
if ! [[ $N =~ ^[0-9]+$ && $PINGS =~ ^[0-9]+$ ]]; then
    echo "api-isolation.sh: API_ISO_N and API_ISO_PINGS are numbers" >&2
    exit 2
fi

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j 2 --target core-rd rd-bench coap_raw >/dev/null
RD=${API_ISO_RD:-$BUILD/rd/core-rd}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-api-iso.XXXXXX")
PORT=$((20000 + RANDOM % 20000))
HPORT=$((PORT + 1))
RD_PID=""
CLIENTS=()
cleanup() {
    rm -f "$WORK/run"
    for p in "${CLIENTS[@]}" $RD_PID; do
        kill "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

printf 'http_connections 64\nhttp_connections_per_ip 64\nwrite_rate_limit 0\nmax_per_source 0\n' \
    >"$WORK/rd.conf"
"$RD" -c "$WORK/rd.conf" -l "127.0.0.1:$PORT" -H "127.0.0.1:$HPORT" -d "$WORK/data" -v warn \
    2>"$WORK/rd.log" &
RD_PID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$HPORT/health" && break
    sleep 0.1
done
"$BUILD/bench/rd-bench" --server "127.0.0.1:$PORT" --phases register -n "$N" --max-seconds 240 |
    grep '^phase='

touch "$WORK/run"
for k in 1 2 3 4; do
    (
        i=0
        while [ -f "$WORK/run" ] && [ $i -lt 100000 ]; do
            i=$((i + 1))
            curl -s -m 60 -o /dev/null "http://127.0.0.1:$HPORT/api/resources?title=none-$k-$i*"
        done
        echo $i >"$WORK/lookups.$k"
    ) &
    CLIENTS+=($!)
done
sleep 0.5
t0=${EPOCHREALTIME/./}
answered=$("$BUILD/tests/coap_raw" 127.0.0.1 "$PORT" 40000777 "$PINGS" 5000 | grep -c '^0\.00')
t1=${EPOCHREALTIME/./}
rm -f "$WORK/run"
wait "${CLIENTS[@]}"
CLIENTS=()
echo "api-isolation: N=$N, $answered/$PINGS pings answered in $(((t1 - t0) / 1000)) ms," \
    "$(cat "$WORK"/lookups.* | paste -sd+ | bc) HTTP lookups of every registration meanwhile" \
    "(and during the 0.5 s before)"
