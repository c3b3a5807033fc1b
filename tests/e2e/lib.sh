# Helpers for the end-to-end tests: start the real core-rd on loopback with a fresh data
# directory, talk CoAP to it with coap-client-openssl, and count assertions.
# Sourced by the suites; expects RD (the core-rd binary) and RAW (coap_raw) to be set.

CLIENT=${COAP_CLIENT:-coap-client-openssl}
WORK=$(mktemp -d)
RD_PID=""
PORT=""
DPORT=""
HPORT=""
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

cleanup() {
    stop_rd
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_rd_with READY ARGS...: run core-rd with ARGS, its stderr appended to $WORK/rd.log, and
# wait until the log matches READY (a grep pattern) or the server exits; an empty READY waits
# instead until it answers a plain CoAP request on PORT (for a log level that says nothing at
# start-up). In READY and ARGS,
# {PORT}, {DPORT} and {HPORT} stand for the ports picked for this attempt: PORT at random (or
# FIXED_PORT), DPORT = PORT + 1 for CoAPS, HPORT at random for HTTP. A port someone else holds
# makes core-rd exit, so up to five attempts are made, each with new ports; after the fifth the
# log is printed and the suite exits. BEFORE_START, when set, is run once the ports are picked
# (to write a configuration naming them). Sets PORT, DPORT, HPORT and RD_PID.
start_rd_with() {
    local ready=$1 tries=0 arg args
    shift
    mkdir -p "$WORK"
    while [ $tries -lt 5 ]; do
        PORT=${FIXED_PORT:-$((20000 + (RANDOM % 30000)))}
        DPORT=$((PORT + 1))
        HPORT=$((20000 + (RANDOM % 30000)))
        ${BEFORE_START:-:}
        args=()
        for arg in "$@"; do
            args+=("$(with_ports "$arg")")
        done
        "$RD" "${args[@]}" 2>>"$WORK/rd.log" &
        RD_PID=$!
        if [ -z "$ready" ]; then
            if wait_until 10 answers_or_gone && kill -0 "$RD_PID" 2>/dev/null; then
                return 0
            fi
        elif wait_logged "$(with_ports "$ready")"; then
            return 0
        fi
        stop_rd
        tries=$((tries + 1))
    done
    echo "core-rd did not start; log:"
    cat "$WORK/rd.log"
    exit 1
}

# with_ports TEXT: TEXT with {PORT}, {DPORT} and {HPORT} replaced by the ports picked.
with_ports() {
    local t=${1//\{PORT\}/$PORT}
    t=${t//\{DPORT\}/$DPORT}
    printf '%s' "${t//\{HPORT\}/$HPORT}"
}

# wait_logged PATTERN [DEADLINE_S]: wait until $WORK/rd.log has a line matching PATTERN (grep
# basic regex), 10 s at most (the sanitizer build starts slowly). Returns 1 on the deadline or
# as soon as the server we started (RD_PID) has exited.
wait_logged() {
    wait_until "${2:-10}" logged_or_gone "$1" && grep -q -- "$1" "$WORK/rd.log" 2>/dev/null
}
logged_or_gone() {
    grep -q -- "$1" "$WORK/rd.log" 2>/dev/null || ! kill -0 "$RD_PID" 2>/dev/null
}
answers_or_gone() {
    ! kill -0 "$RD_PID" 2>/dev/null && return 0
    COAP_WAIT=1 COAP_BASE="" coap get '.well-known/core'
    [ "$CODE" = 2.05 ]
}

# start_rd [core-rd options...]: start on a free loopback port with the data directory
# $WORK/data (kept across restarts until fresh_data) and wait until it listens.
start_rd() {
    start_rd_with 'listening on 127.0.0.1:{PORT}' -l '127.0.0.1:{PORT}' -d "$WORK/data" \
        -v debug "$@"
}

# start_rd_secure CONFIG [core-rd options...]: start with CONFIG, a plain listener on PORT and
# a CoAPS one on DPORT, and wait until the CoAPS one listens (it opens last).
start_rd_secure() {
    local conf=$1
    shift
    start_rd_with 'listening on 127.0.0.1:{DPORT} (coaps)' -c "$conf" -l '127.0.0.1:{PORT}' \
        -s '127.0.0.1:{DPORT}' -d "$WORK/data" -v debug "$@"
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

# expect_alive WHAT: the server answers within 5 s: PROBE when set (a command that sets CODE,
# for a server without a plain listener), else a plain GET /.well-known/core. Checks 2.05.
expect_alive() {
    if [ -n "${PROBE:-}" ]; then
        $PROBE
    else
        COAP_WAIT=5 COAP_BASE="" coap get '.well-known/core'
    fi
    expect_eq "$1: the server answers" "2.05" "$CODE"
}

# expect_no_answer WHAT CMD...: CMD, a coap request, gets no answer (CODE stays empty). The
# server is first proved alive (expect_alive), so the silence is a refusal, not a dead server.
expect_no_answer() {
    local what=$1
    shift
    expect_alive "$what"
    CODE=""
    "$@"
    expect_eq "$what: no answer" "" "$CODE"
}

# start_rd_http [core-rd options...]: start_rd with the HTTP listener on HPORT as well.
start_rd_http() {
    start_rd_with 'http listening on 127.0.0.1:{HPORT}' -l '127.0.0.1:{PORT}' \
        -H '127.0.0.1:{HPORT}' -d "$WORK/data" -v debug "$@"
}

# http METHOD PATH: one HTTP/1.0 request to the listener, through bash's /dev/tcp so no HTTP
# client is needed; with HTTP_TOKEN set, it carries that bearer token. Sets HTTP_STATUS (e.g.
# 200), HTTP_HEADERS and HTTP_BODY.
http() {
    timeout 10 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
        printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n" "$1" "$2" "$3" >&3 && cat <&3' \
        "$HPORT" "$1" "$2" "${HTTP_TOKEN:+Authorization: Bearer $HTTP_TOKEN$'\r\n'}" \
        >"$WORK/http" 2>/dev/null
    HTTP_STATUS=$(head -n 1 "$WORK/http" | cut -d' ' -f2)
    HTTP_HEADERS=$(sed -n '1,/^\r\{0,1\}$/p' "$WORK/http")
    HTTP_BODY=$(sed '1,/^\r\{0,1\}$/d' "$WORK/http")
}
