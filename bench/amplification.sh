#!/usr/bin/env bash
# What an unverified source can make core-rd send: forged block-wise requests for a lookup and
# for /metrics, from an address that never proved it receives (RFC 7252 section 11.3, RFC 9175).
# Prints the bytes asked and answered and their ratio; the limit core-rd keeps is 3.
# Usage: bench/amplification.sh [BUILD_DIR]   (default build; needs core-rd, coap_raw, rd-bench)
set -eu
build=${1:-build}
rd="$build/rd/core-rd"
raw="$build/tests/coap_raw"
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
"$rd" -l "127.0.0.1:$port" -d "$work/data" -v warn 2>"$work/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
# Registrations of 40 links each, made from 127.0.0.2 so that 127.0.0.1 stays unverified.
body=""
for i in $(seq 1 40); do body="$body${body:+,}</sensor/number/$i>;rt=\"temperature-c\";if=\"sensor\""; done
for e in $(seq 1 20); do
    coap-client-openssl -B 5 -m post -t 40 -e "$body" -a 127.0.0.2 \
        "coap://127.0.0.1:$port/rd?ep=amp$e" >/dev/null 2>&1
done

# measure NAME PATH-OPTIONS: a first request without Block2, then 39 asking for blocks 1..39
# of 1024 bytes (SZX 6), each 1 s at most, all from one socket.
measure() {
    local name=$1 path=$2 d dgrams n asked answered
    dgrams="4101$(printf '%04x' 0x0fff)01$path"
    asked=$((${#dgrams} / 2))
    for n in $(seq 1 39); do
        d="4101$(printf '%04x' $((0x1000 + n)))01${path}c2$(printf '%04x' $(((n << 4) | 6)))"
        dgrams="$dgrams,$d"
        asked=$((asked + ${#d} / 2))
    done
    answered=$(COAP_RAW_SIZES=1 timeout 120 "$raw" 127.0.0.1 "$port" "$dgrams" 1 1000 |
        sed -n 's/^bytes //p' | awk '{ s += $1 } END { print s + 0 }')
    awk -v n="$name" -v a="$asked" -v b="$answered" \
        'BEGIN { printf "%-28s asked %6d bytes, answered %8d bytes, x%.1f\n", n, a, b, b / a }'
}
measure "lookup (20 x 40 links)" "b9$(hex rd-lookup)03$(hex res)"
measure "/metrics" "b7$(hex metrics)"
