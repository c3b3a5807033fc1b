# Helpers for the end-to-end tests: start the real core-rd on loopback with a fresh data
# directory, talk CoAP to it with coap-client-openssl, and count assertions.
# Sourced by the suites; expects RD (the core-rd binary) and RAW (coap_raw) to be set.

CLIENT=${COAP_CLIENT:-coap-client-openssl}
WORK=$(mktemp -d)
PASSED=0
FAILED=0
RD_PID=""
PORT=""
CURRENT=""

cleanup() {
    stop_rd
    rm -rf "$WORK"
}
trap cleanup EXIT

pass() { PASSED=$((PASSED + 1)); }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL [$CURRENT]: $*"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}
expect_ne() {
    if [ "$2" != "$3" ]; then pass; else fail "$1: expected something other than '$2'"; fi
}
# expect_match WHAT REGEX ACTUAL
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then pass; else fail "$1: '$3' does not match /$2/"; fi
}
expect_no_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then fail "$1: '$3' matches /$2/"; else pass; fi
}

# start_rd [core-rd options...]: start on a free loopback port with the data directory
# $WORK/data (kept across restarts until fresh_data) and wait until it listens.
start_rd() {
    local tries=0
    mkdir -p "$WORK"
    while [ $tries -lt 5 ]; do
        PORT=${FIXED_PORT:-$((20000 + (RANDOM % 30000)))}
        "$RD" -l "127.0.0.1:$PORT" -d "$WORK/data" -v debug "$@" 2>>"$WORK/rd.log" &
        RD_PID=$!
        local i=0
        while [ $i -lt 100 ]; do
            if grep -q "listening on 127.0.0.1:$PORT" "$WORK/rd.log" 2>/dev/null; then
                return 0
            fi
            if ! kill -0 "$RD_PID" 2>/dev/null; then
                break
            fi
            sleep 0.05
            i=$((i + 1))
        done
        stop_rd
        tries=$((tries + 1))
    done
    echo "core-rd did not start; log:"
    cat "$WORK/rd.log"
    exit 1
}

# stop_rd [SIGNAL]: stop the server we started (TERM by default) and wait for it.
stop_rd() {
    if [ -n "$RD_PID" ]; then
        kill -"${1:-TERM}" "$RD_PID" 2>/dev/null || true
        wait "$RD_PID" 2>/dev/null
        RD_STATUS=$?
        RD_PID=""
    fi
}

fresh_data() {
    rm -rf "$WORK/data" "$WORK/rd.log"
}

# hex TEXT: the bytes of TEXT in hex, for raw datagrams.
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# coap METHOD PATH?QUERY [coap-client options...]: one request (to COAP_BASE when set, waiting
# COAP_WAIT seconds for the answer, default 10). Sets CODE (e.g. 2.01),
# LOCATION (e.g. rd/abc12345, from the Location-Path options) and BODY (the payload).
coap() {
    local method=$1 path=$2
    shift 2
    rm -f "$WORK/out" "$WORK/body"
    timeout 30 "$CLIENT" -v 6 -B "${COAP_WAIT:-10}" -m "$method" -o "$WORK/body" "$@" \
        "${COAP_BASE:-coap://127.0.0.1:$PORT}/$path" >"$WORK/out" 2>&1
    CODE=$(grep -oE '^v:1 t:[A-Z]+ c:[0-9]\.[0-9]{2}' "$WORK/out" | tail -n 1 | sed 's/.*c://')
    LOCATION=$(grep -E '^v:1 t:[A-Z]+ c:[0-9]\.[0-9]{2}' "$WORK/out" | tail -n 1 |
        grep -oE 'Location-Path:[^], ]+' | sed 's/Location-Path://' | paste -sd/ -)
    if [ -f "$WORK/body" ]; then
        BODY=$(cat "$WORK/body")
    else
        # Error responses carry their diagnostic in the PDU dump, not in the output file.
        BODY=$(grep -E '^v:1 t:[A-Z]+ c:[0-9]\.[0-9]{2}' "$WORK/out" | tail -n 1 |
            sed -n "s/.* :: '\(.*\)'$/\1/p")
    fi
}

run_test() {
    CURRENT=$1
    "$1"
}

summary() {
    echo "e2e: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# start_rd_http [core-rd options...]: start_rd with the HTTP listener on a free loopback port
# HPORT as well; retries with other ports when either one is taken.
start_rd_http() {
    local tries=0
    while [ $tries -lt 5 ]; do
        HPORT=$((20000 + (RANDOM % 30000)))
        PORT=$((20000 + (RANDOM % 30000)))
        mkdir -p "$WORK"
        "$RD" -l "127.0.0.1:$PORT" -H "127.0.0.1:$HPORT" -d "$WORK/data" -v debug "$@" \
            2>>"$WORK/rd.log" &
        RD_PID=$!
        local i=0
        while [ $i -lt 100 ]; do
            if grep -q "http listening on 127.0.0.1:$HPORT" "$WORK/rd.log" 2>/dev/null; then
                return 0
            fi
            if ! kill -0 "$RD_PID" 2>/dev/null; then
                break
            fi
            sleep 0.05
            i=$((i + 1))
        done
        stop_rd
        tries=$((tries + 1))
    done
    echo "core-rd did not start with HTTP; log:"
    cat "$WORK/rd.log"
    exit 1
}

# http METHOD PATH: one HTTP/1.0 request to the listener, through bash's /dev/tcp so no HTTP
# client is needed. Sets HTTP_STATUS (e.g. 200), HTTP_HEADERS and HTTP_BODY.
http() {
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
        printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$1" "$2" >&3 && cat <&3' \
        "$HPORT" "$1" "$2" >"$WORK/http" 2>/dev/null
    HTTP_STATUS=$(head -n 1 "$WORK/http" | cut -d' ' -f2)
    HTTP_HEADERS=$(sed -n '1,/^\r\{0,1\}$/p' "$WORK/http")
    HTTP_BODY=$(sed '1,/^\r\{0,1\}$/d' "$WORK/http")
}
