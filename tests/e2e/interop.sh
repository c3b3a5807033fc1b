#!/usr/bin/env bash
# Interoperability of core-rd with clients other than its own tests' (RFC 9176 sections 4-6):
# node-coap (npm coap, pinned in tests/interop/package-lock.json) and coap-client-openssl over
# UDP and DTLS-PSK, against the real core-rd on loopback. Each check prints one line naming
# the RFC clause it holds the RD to. Skipped (exit 77) only when node is not installed.
# Usage: interop.sh CORE_RD NODE_DIR (where node-coap is installed, in the build tree)
set -u
RD=$1
NODE_DIR=$2
SRC=$(cd "$(dirname "$0")/../interop" && pwd)

if ! command -v node >/dev/null 2>&1; then
    echo "e2e-interop: skipped, node not found: the node-coap checks (discovery, registration"
    echo "with Block1, update, observe of a lookup, ETag revalidation, conditional requests,"
    echo "removal) and the coap-client checks over UDP and DTLS did not run"
    exit 77
fi
. "$(dirname "$0")/lib.sh"

# check CLAUSE WHAT EXPECTED ACTUAL: one printed line per check, counted like expect_eq.
check() {
    CURRENT=$1
    if [ "$3" = "$4" ]; then
        echo "ok   $1: $2"
        pass
    else
        echo "FAIL $1: $2 (expected '$3', got '$4')"
        FAILED=$((FAILED + 1))
    fi
}

# node-coap, installed from the committed lock file unless that exact tree is already there.
install_node_coap() {
    mkdir -p "$NODE_DIR"
    if cmp -s "$SRC/package-lock.json" "$NODE_DIR/package-lock.json" &&
        [ -f "$NODE_DIR/node_modules/coap/package.json" ]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        echo "e2e-interop: node is installed but npm is not (Debian: apt-get install npm)"
        exit 1
    fi
    cp "$SRC/package.json" "$SRC/package-lock.json" "$NODE_DIR/"
    if ! (cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error); then
        rm -f "$NODE_DIR/package-lock.json"
        echo "e2e-interop: npm ci of node-coap failed"
        exit 1
    fi
}
install_node_coap

# node_check SCRIPT [ARGS...]: run one node-coap script against the plain listener; its lines
# are printed as they are, and its exit status counts as one check.
node_check() {
    local script=$1
    shift
    CURRENT=$script
    if NODE_PATH="$NODE_DIR/node_modules" timeout 120 node "$SRC/$script.js" 127.0.0.1 \
        "$PORT" "$@" >"$WORK/node.out" 2>&1; then
        pass
    else
        FAILED=$((FAILED + 1))
    fi
    sed 's/^/  node-coap /' "$WORK/node.out"
}

printf 'alice 0x616c6963652d6b6579\n' >"$WORK/psk.keys"
chmod 600 "$WORK/psk.keys"
printf 'psk_file %s\n' "$WORK/psk.keys" >"$WORK/interop.conf"
# A registration body of N links, in $WORK/links-N.lf.
links_file() {
    local i body=""
    for i in $(seq 1 "$1"); do
        body="$body${body:+,}</interop/sensor/$i>;rt=\"temperature-c\";if=\"sensor\""
    done
    printf '%s' "$body" >"$WORK/links-$1.lf"
}
links_file 40

# The coap-client checks, over the transport of COAP_BASE (extra options in CLIENT_OPTS).
client_checks() {
    local tag=$1 loc
    coap get '.well-known/core?rt=core.rd*' "${CLIENT_OPTS[@]}"
    check "RFC 9176 section 4.3" "$tag discovery finds /rd" "1" \
        "$(printf '%s' "$BODY" | grep -c '</rd>;')"
    coap post "rd?ep=cc-$tag&lt=300" -t 40 -b 64 -f "$WORK/links-40.lf" "${CLIENT_OPTS[@]}"
    check "RFC 9176 section 5, RFC 7959 section 2.5" "$tag registration in 64-byte Block1 blocks" \
        "2.01" "$CODE"
    loc=$LOCATION
    coap get "rd-lookup/res?ep=cc-$tag" -b 64 "${CLIENT_OPTS[@]}"
    check "RFC 9176 section 6, RFC 7959 section 2.4" "$tag resource lookup read with Block2" \
        "40" "$(printf '%s' "$BODY" | tr ',' '\n' | grep -c '^<')"
    check "RFC 7959 section 2.4" "$tag the answer came in 64-byte blocks" "1" \
        "$(grep -cE 'c:2\.05 .*Block2:2/M/64' "$WORK/out" | sed 's/^[1-9][0-9]*$/1/')"
    coap delete "$loc" "${CLIENT_OPTS[@]}"
    check "RFC 9176 section 5.3.2" "$tag removal" "2.02" "$CODE"
    coap get "$loc" "${CLIENT_OPTS[@]}"
    check "RFC 9176 section 5.3.2" "$tag the registration is gone" "4.04" "$CODE"
}

start_rd_secure "$WORK/interop.conf"

# node-coap first, while 127.0.0.1 is an address the RD has not verified (RFC 9175 section 2.4):
# node-coap never sends Echo back.
node_check discovery
node_check registration
node_check etag
node_check observe small
node_check observe large-unverified

CLIENT_OPTS=()
client_checks udp
# coap-client sent the Echo values of the small blocks back: 127.0.0.1 is verified now, and
# node-coap's observation gets its answers and notifications whole.
node_check observe large

CLIENT_OPTS=(-u alice -k alice-key)
COAP_BASE="coaps://127.0.0.1:$DPORT" client_checks dtls-psk
expect_alive "before a wrong key"
COAP_WAIT=3 COAP_BASE="coaps://127.0.0.1:$DPORT" coap get '.well-known/core' -u alice -k wrong-key
check "RFC 9176 section 7" "dtls-psk a wrong key gets no answer" "" "$CODE"
coap get '.well-known/core'
check "RFC 7252 section 5.9.1.4" "and the RD goes on answering" "2.05" "$CODE"

stop_rd
check "core-rd exits cleanly" "SIGTERM" "0" "$RD_STATUS"
summary
