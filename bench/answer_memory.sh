#!/usr/bin/env bash
# Memory held for answers in progress: 120 unpaged lookups of every endpoint, each from its own
# source port, in a directory of N registrations; prints the answer's size and the server's
# resident memory before and after. Usage: bench/answer_memory.sh [BUILD_DIR] [N]
set -eu
build=${1:-build}
n=${2:-20000}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
# The generator stands for many devices behind one address: no per-source quota or write rate.
printf 'max_per_source 0\nwrite_rate_limit 0\n' >"$work/rd.conf"
"$build/rd/core-rd" -c "$work/rd.conf" -l "127.0.0.1:$port" -d "$work/data" -v warn 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
"$build/bench/rd-bench" --server "127.0.0.1:$port" --wait-ready 5000 >/dev/null
"$build/bench/rd-bench" --server "127.0.0.1:$port" --phases register -n "$n" -w 32 >/dev/null
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
rss() { awk '/VmRSS/ { print $2 }' "/proc/$pid/status"; }
before=$(rss)
# NON GET /rd-lookup/ep, 17 bytes, each from a new port (a new session for libcoap).
d="5101200001b9$(hex rd-lookup)02$(hex ep)"
for i in $(seq 1 120); do timeout 5 "$build/tests/coap_raw" 127.0.0.1 "$port" "$d" 1 50 >/dev/null; done
after=$(rss)
size=$(coap-client-openssl -m get -B 20 "coap://127.0.0.1:$port/rd-lookup/ep" 2>/dev/null | wc -c)
echo "answer $size bytes; RSS before $before kB, after 120 lookups $after kB (+$(((after - before) / 1024)) MB)"
