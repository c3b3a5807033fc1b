#!/usr/bin/env bash
# What the stream gate (rd/compat/rd_gate_stream.c: every CoAP-over-TCP message cut out of the
# stream and examined before libcoap parses it) costs a client over TCP (RFC 8323). Starts
# core-rd on loopback with a coap+tcp listener and one registration, then sends ROUNDS x 100
# lookups (GET /rd-lookup/ep?ep=bench), each after the answer to the one before, on one
# connection per round (tcp_raw), and as many Pings. Prints requests, seconds and requests per
# second for each. Run it with RD set to another core-rd binary to compare.
#
# Environment (all optional): GATE_BUILD build directory (default build), GATE_ROUNDS (20),
# RD the server binary (default the build's core-rd).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${GATE_BUILD:-$ROOT/build}
ROUNDS=${GATE_ROUNDS:-20}
RD=${RD:-$BUILD/rd/core-rd}
TCPRAW=$BUILD/tests/tcp_raw
CLIENT=${CLIENT:-coap-client-openssl}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-gate.XXXXXX")
PORT=$((20000 + RANDOM % 30000))
SERVER_PID=""

cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# run NAME MESSAGE: ROUNDS connections of 100 MESSAGEs each; prints the figures.
run() {
    local list="" i start end n
    for i in $(seq 1 100); do
        list="$list${list:+,}$2"
    done
    start=$(date +%s%N)
    n=0
    for i in $(seq 1 "$ROUNDS"); do
        n=$((n + $("$TCPRAW" 127.0.0.1 "$PORT" "$list" 5000 | grep -c '^[0-9]' || true)))
    done
    end=$(date +%s%N)
    awk -v name="$1" -v n="$n" -v ns=$((end - start)) \
        'BEGIN { printf "%-8s %6d answered in %.2f s: %.0f/s\n", name, n, ns / 1e9, n / (ns / 1e9) }'
}

"$RD" -l "127.0.0.1:$PORT" -l "coap+tcp://127.0.0.1:$PORT" -d "$WORK/data" -v error \
    2>"$WORK/rd.log" &
SERVER_PID=$!
# Ready when a Ping over TCP gets its Pong (five seconds at most).
for i in $(seq 1 50); do
    if "$TCPRAW" 127.0.0.1 "$PORT" 01e2ab 100 2>/dev/null | grep -q '^7\.03'; then
        break
    fi
    sleep 0.1
done
timeout 10 "$CLIENT" -B 5 -m post -t 40 -e '</s>;rt="x"' "coap://127.0.0.1:$PORT/rd?ep=bench" \
    >/dev/null 2>&1
# GET /rd-lookup/ep?ep=bench (token 01), and a Ping (token ab).
q="b9$(hex rd-lookup)02$(hex ep)48$(hex ep=bench)"
run lookup "d1$(printf '%02x' $((${#q} / 2 - 13)))0101$q"
run ping 01e2ab
