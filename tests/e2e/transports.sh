#!/usr/bin/env bash
# End-to-end tests of CoAP over TCP and TLS (RFC 8323) beside UDP: listeners named by their
# scheme, registration and lookup with block-wise transfer, the base's scheme, PSK identities
# and ownership over TLS, Observe, and rdctl. Usage: transports.sh CORE_RD RDCTL
set -u
RD=$1
RDCTL=$2
. "$(dirname "$0")/lib.sh"

KEYS="$WORK/keys"
mkdir -p "$KEYS"
printf 'alice alice-key\nbob bob-key\n' >"$KEYS/psk.keys"
chmod 600 "$KEYS/psk.keys"

free_tcp_port() {
    local p
    while :; do
        p=$((20000 + (RANDOM % 30000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
}

# start_transports: UDP on PORT, TCP on TPORT, TLS on SPORT, each logged before we go on.
start_transports() {
    TPORT=$(free_tcp_port)
    SPORT=$(free_tcp_port)
    printf 'psk_file %s\ndtls_listen 127.0.0.1:0\n' "$KEYS/psk.keys" >"$WORK/rd.conf"
    fresh_data
    start_rd -c "$WORK/rd.conf" -l "coap+tcp://127.0.0.1:$TPORT" -l "coaps+tcp://127.0.0.1:$SPORT"
    wait_logged "listening on 127.0.0.1:$SPORT (coaps+tcp)"
}

tcp() { COAP_BASE="coap+tcp://127.0.0.1:$TPORT" coap "$@"; }
tls_alice() { COAP_BASE="coaps+tcp://127.0.0.1:$SPORT" coap "$@" -u alice -k alice-key; }
tls_bob() { COAP_BASE="coaps+tcp://127.0.0.1:$SPORT" coap "$@" -u bob -k bob-key; }

body_of() {
    local i out=""
    for i in $(seq 1 "$1"); do
        out="$out${out:+,}</$2/sensor/$i>;rt=\"temperature-c\";if=\"sensor\""
    done
    printf '%s' "$out"
}

test_listeners_by_scheme() {
    expect_match "TCP listener logged" "listening on 127\\.0\\.0\\.1:$TPORT \\(coap\\+tcp\\)" \
        "$(cat "$WORK/rd.log")"
    expect_match "TLS listener logged" "listening on 127\\.0\\.0\\.1:$SPORT \\(coaps\\+tcp\\)" \
        "$(cat "$WORK/rd.log")"
    tcp get '.well-known/core?rt=core.rd*'
    expect_eq "discovery over TCP (RFC 9176 section 4)" "2.05" "$CODE"
    expect_match "lists the directory" '</rd>;rt=core\.rd' "$BODY"
}

test_registration_over_tcp() {
    body_of 60 tcp >"$WORK/tcp.lf"
    tcp post 'rd?ep=tcp-node&lt=600' -t 40 -f "$WORK/tcp.lf"
    expect_eq "register over TCP with Block1 (RFC 7959, RFC 8323 section 6)" "2.01" "$CODE"
    expect_match "location" '^rd/[0-9a-z]{8}$' "$LOCATION"
    local loc=$LOCATION
    tcp get 'rd-lookup/ep?ep=tcp-node'
    expect_match "the base carries the scheme it came by (RFC 9176 section 5)" \
        'base="coap\+tcp://127\.0\.0\.1:[0-9]+"' "$BODY"
    tcp get 'rd-lookup/res?ep=tcp-node'
    expect_eq "every link back by Block2 over TCP" "60" "$(printf '%s' "$BODY" | tr ',' '\n' | grep -c '^<')"
    coap get 'rd-lookup/res?ep=tcp-node'
    expect_eq "the same links over UDP" "60" "$(printf '%s' "$BODY" | tr ',' '\n' | grep -c '^<')"
    tcp post "$loc?lt=900"
    expect_eq "update over TCP" "2.04" "$CODE"
    tcp delete "$loc"
    expect_eq "removal over TCP" "2.02" "$CODE"
}

test_tls_identities_and_ownership() {
    tls_alice post 'rd?ep=tls-node&lt=600' -t 40 -e '</t>;rt="temperature-c"'
    expect_eq "register over TLS with a PSK" "2.01" "$CODE"
    local loc=$LOCATION
    expect_match "owned by the identity" 'registered ep=tls-node .*identity=psk:alice' \
        "$(cat "$WORK/rd.log")"
    tls_bob post "$loc?lt=60"
    expect_eq "another identity may not update it" "4.03" "$CODE"
    tcp delete "$loc"
    expect_eq "nor plain TCP remove it" "4.03" "$CODE"
    tls_alice get 'rd-lookup/ep?ep=tls-node'
    expect_match "coaps+tcp base" 'base="coaps\+tcp://127\.0\.0\.1:[0-9]+"' "$BODY"
    tls_alice delete "$loc"
    expect_eq "the owner removes it" "2.02" "$CODE"
}

test_observe_over_tcp() {
    rm -f "$WORK/obs.out"
    timeout 20 stdbuf -oL -eL "$CLIENT" -v 6 -s 6 -B 8 -m get "coap+tcp://127.0.0.1:$TPORT/rd-lookup/ep?ep=watched" \
        >"$WORK/obs.out" 2>&1 &
    local obs=$!
    wait_until 5 grep -q 'c:2\.05' "$WORK/obs.out" 2>/dev/null
    expect_match "first answer to the observer" 'c:2\.05.*Observe' "$(cat "$WORK/obs.out")"
    coap post 'rd?ep=watched&lt=600' -t 40 -e '</w>'
    wait_until 5 grep -q 'ep="watched"' "$WORK/obs.out" 2>/dev/null
    expect_match "notified over TCP of a registration over UDP (RFC 7641)" 'ep="watched"' \
        "$(cat "$WORK/obs.out")"
    kill "$obs" 2>/dev/null
    wait "$obs" 2>/dev/null
}

test_rdctl_over_tcp() {
    coap post 'rd?ep=ctl-node&lt=600' -t 40 -e '</c>;rt="temperature-c"'
    timeout 30 "$RDCTL" --server "coap+tcp://127.0.0.1:$TPORT" ep ep=ctl-node >"$WORK/ctl.out" 2>&1
    expect_eq "rdctl over TCP" "0" "$?"
    expect_match "finds the endpoint" 'ctl-node' "$(cat "$WORK/ctl.out")"
    timeout 30 "$RDCTL" --server "coaps+tcp://127.0.0.1:$SPORT" --psk-identity alice \
        --psk-key alice-key res ep=ctl-node >"$WORK/ctl.out" 2>&1
    expect_eq "rdctl over TLS" "0" "$?"
    expect_match "finds the resource" '/c' "$(cat "$WORK/ctl.out")"
}

test_secure_listener_needs_keys() {
    stop_rd
    timeout 10 "$RD" -l "coaps+tcp://127.0.0.1:$(free_tcp_port)" -d "$WORK/nokeys" \
        >"$WORK/nokeys.log" 2>&1
    expect_eq "refuses to start" "1" "$?"
    expect_match "says why" 'a secure listener needs psk_file or cert_file' \
        "$(cat "$WORK/nokeys.log")"
}

start_transports
run_test test_listeners_by_scheme
run_test test_registration_over_tcp
run_test test_tls_identities_and_ownership
run_test test_observe_over_tcp
run_test test_rdctl_over_tcp
stop_rd
expect_eq "clean exit" "0" "$RD_STATUS"
run_test test_secure_listener_needs_keys
summary
