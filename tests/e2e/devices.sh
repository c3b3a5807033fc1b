#!/usr/bin/env bash
# End-to-end tests for constrained registrants: simple registration (RFC 9176 section 5.1) with
# the project's test endpoint, and LwM2M-style registration, update and de-registration.
# Usage: devices.sh CORE_RD COAP_RAW TEST_ENDPOINT
set -u
RD=$1
RAW=$2
ENDPOINT=$3
. "$(dirname "$0")/lib.sh"

# endpoint MODE QUERY [REPEAT]: run the test endpoint; sets EP_PORT, EP_CODES (one per POST,
# space-separated) and EP_SERVED.
endpoint() {
    timeout 60 "$ENDPOINT" 127.0.0.1 "$PORT" "$@" >"$WORK/ep.out" 2>&1
    EP_PORT=$(sed -n 's/^port //p' "$WORK/ep.out")
    EP_CODES=$(sed -n 's/^code //p' "$WORK/ep.out" | paste -sd' ' -)
    EP_SERVED=$(sed -n 's/^served //p' "$WORK/ep.out")
}

test_simple_registration_registers_fetched_links() {
    endpoint links 'ep=simple1&lt=300&et=oic.d.light'
    expect_eq "answer" "2.04" "$EP_CODES"
    expect_eq "fetched once" "1" "$EP_SERVED"
    coap get 'rd-lookup/res?ep=simple1'
    expect_match "links under the requester's address" \
        "<coap://127\\.0\\.0\\.1:$EP_PORT/sensors/temp>;rt=\"temperature-c\";if=\"sensor\"" "$BODY"
    coap get 'rd-lookup/ep?ep=simple1'
    expect_match "base is the source address and port" "base=\"coap://127\\.0\\.0\\.1:$EP_PORT\"" "$BODY"
    expect_match "extra attribute kept" 'et="?oic.d.light"?' "$BODY"
}

# RFC 9176 section 5.1 and RFC 6690 section 2.1: the fetched document's relative references are
# relative to /.well-known/core, and the links are registered in the Limited Link Format.
test_simple_registration_resolves_against_well_known_core() {
    endpoint relative 'ep=simple-rel&lt=300'
    expect_eq "answer" "2.04" "$EP_CODES"
    coap get 'rd-lookup/res?ep=simple-rel'
    local base="coap://127\\.0\\.0\\.1:$EP_PORT"
    expect_match "a relative target resolves against /.well-known/core" \
        "<$base/\\.well-known/sensors/temp>;rt=\"temperature-c\"" "$BODY"
    expect_match "dot segments too" "<$base/up>;rt=\"up\"" "$BODY"
    expect_match "a relative anchor as well" \
        "<$base/abs>;anchor=\"$base/\\.well-known/sensors/\";rel=\"describedby\"" "$BODY"
    expect_match "a full URI stays" '<coap://other\.example/x>;rt="elsewhere"' "$BODY"
    coap get "$(coap get 'rd-lookup/ep?ep=simple-rel' >/dev/null; printf '%s' "$BODY" |
        sed -n 's/^<\/\(rd\/[a-z0-9]*\)>.*/\1/p')"
    expect_match "stored in the Limited Link Format" '^</\.well-known/sensors/temp>' "$BODY"
}

test_simple_registration_retry_uses_cache() {
    endpoint links 'ep=simple2' 2
    expect_eq "both answers" "2.04 2.04" "$EP_CODES"
    expect_eq "fetched once, then from the cache" "1" "$EP_SERVED"
    coap get 'rd-lookup/ep?ep=simple2'
    expect_eq "one registration" "1" "$(printf '%s' "$BODY" | grep -o '</rd/' | wc -l)"
}

test_simple_registration_follows_block2() {
    endpoint large 'ep=simple-large'
    expect_eq "answer" "2.04" "$EP_CODES"
    coap get 'rd-lookup/res?ep=simple-large'
    expect_eq "all eighty links" "80" "$(printf '%s' "$BODY" | grep -o '<coap://' | wc -l)"
}

test_simple_registration_failures_register_nothing() {
    endpoint garbage 'ep=simple-garbage'
    expect_eq "garbage" "5.02" "$EP_CODES"
    endpoint error 'ep=simple-error'
    expect_eq "endpoint error" "5.02" "$EP_CODES"
    coap get 'rd-lookup/ep?ep=simple-*'
    expect_no_match "nothing registered" 'simple-garbage|simple-error' "$BODY"
    expect_match "failure logged with name and address" \
        'simple registration of ep=simple-garbage from coap://127\.0\.0\.1:[0-9]+ failed' \
        "$(cat "$WORK/rd.log")"
}

test_simple_registration_rejects_bad_requests() {
    endpoint links 'ep=simple-base&base=coap://elsewhere.example'
    expect_eq "base refused" "4.00" "$EP_CODES"
    expect_eq "no fetch for a refused request" "0" "$EP_SERVED"
    endpoint links 'lt=60'
    expect_eq "missing ep" "4.00" "$EP_CODES"
    coap post '.well-known/rd?ep=with-body' -t 40 -e '</x>'
    expect_eq "payload refused" "4.00" "$CODE"
}

# simple_fetches N: /metrics says N simple-registration fetches are under way (BODY holds it).
simple_fetches() {
    coap get 'metrics'
    printf '%s\n' "$BODY" | grep -q "^core_rd_simple_fetches $1\$"
}

test_silent_endpoint_times_out_and_rd_stays_responsive() {
    timeout 60 "$ENDPOINT" 127.0.0.1 "$PORT" silent 'ep=simple-silent' >"$WORK/silent.out" 2>&1 &
    local pid=$!
    # Until the RD fetches from the silent endpoint.
    wait_until 10 simple_fetches 1
    local start end
    start=$(date +%s%N)
    coap get '.well-known/core'
    end=$(date +%s%N)
    expect_eq "other requests answered meanwhile" "2.05" "$CODE"
    if kill -0 "$pid" 2>/dev/null; then pass; else fail "the silent registration ended too early"; fi
    expect_match "answered in under a second" '^[0-9]{1,3}$' "$(((end - start) / 1000000))"
    wait "$pid"
    expect_eq "silent endpoint" "5.04" "$(sed -n 's/^code //p' "$WORK/silent.out")"
    coap get 'rd-lookup/ep?ep=simple-silent'
    expect_eq "nothing registered" "" "$BODY"
}

# A device that never even acknowledges the RD's GET (bash's own UDP socket, no CoAP stack):
# its 5.04 must come after simple_timeout (2 s here), not behind the GET's retransmissions,
# and the GET must stop being retransmitted once given up.
test_mute_device_gets_its_answer_in_time() {
    local start elapsed=999 d code gets=0 i
    exec 3<>"/dev/udp/127.0.0.1/$PORT"
    # CON POST /.well-known/rd?ep=mute, MID 0x1234, token 0x77.
    start=$(date +%s)
    printf '\x41\x02\x12\x34\x77\xbb.well-known\x02rd\x47ep=mute' >&3
    for i in $(seq 1 20); do
        d=$(timeout 15 dd bs=2048 count=1 status=none <&3 | od -An -v -tx1 | tr -d ' \n')
        code=${d:2:2}
        if [ "$code" = a4 ]; then
            elapsed=$(($(date +%s) - start))
            expect_eq "the 5.04 is non-confirmable" "5" "${d:0:1}"
            break
        fi
        [ -n "$d" ] || break
    done
    expect_eq "5.04 within a few seconds of simple_timeout" "yes" "$([ "$elapsed" -le 8 ] && echo yes)"
    # Within the next 8 s, at most the one retransmission already due.
    for i in 1 2 3; do
        d=$(timeout 8 dd bs=2048 count=1 status=none <&3 | od -An -v -tx1 | tr -d ' \n')
        [ "${d:2:2}" = 01 ] && gets=$((gets + 1))
        [ -n "$d" ] || break
    done
    exec 3>&-
    expect_eq "the GET is given up" "yes" "$([ "$gets" -le 1 ] && echo yes)"
    coap get 'rd-lookup/ep?ep=mute'
    expect_eq "nothing registered" "" "$BODY"
}

# reflect EP: a CON POST /.well-known/rd?ep=EP (28 bytes, MID 0x1235, token 0x78) from a fresh
# UDP socket that never answers, as from a forged address; counts what the RD sends there until
# it has been quiet for 4 s after its final answer (20 datagrams at most). Sets REFL_PACKETS,
# REFL_BYTES and REFL_FINAL (the final answer's code byte, a4 for 5.04).
reflect() {
    local d i req
    req="\x41\x02\x12\x35\x78\xbb.well-known\x02rd\x4$(printf '%x' $((3 + ${#1})))ep=$1"
    REFL_PACKETS=0
    REFL_BYTES=0
    REFL_FINAL=""
    exec 3<>"/dev/udp/127.0.0.1/$PORT"
    printf "$req" >&3
    for i in $(seq 1 20); do
        # Until the final answer: up to simple_timeout and a margin; after it: 4 s of quiet.
        d=$(timeout "$([ -n "$REFL_FINAL" ] && echo 4 || echo 15)" dd bs=2048 count=1 \
            status=none <&3 | od -An -v -tx1 | tr -d ' \n')
        [ -n "$d" ] || break
        REFL_PACKETS=$((REFL_PACKETS + 1))
        REFL_BYTES=$((REFL_BYTES + ${#d} / 2))
        [ "${d:2:2}" != 01 ] && [ "${d:2:2}" != 00 ] && REFL_FINAL=${d:2:2}
    done
    exec 3>&-
}

# RFC 7252 section 11.3 and RFC 9176 section 5.1: a simple registration forged with a victim's
# address makes the RD send there at most three times the request, in bytes and in datagrams.
test_forged_simple_registration_reflects_at_most_three_times() {
    # A fresh server: the devices of the tests before verified 127.0.0.1 by answering.
    stop_rd
    start_rd -c "$WORK/simple.conf"
    reflect refl
    echo "forged simple registration: 1 datagram of 28 bytes in, $REFL_PACKETS datagrams of" \
        "$REFL_BYTES bytes out"
    expect_eq "final answer 5.04" "a4" "$REFL_FINAL"
    expect_eq "at most 3 datagrams" "yes" "$([ "$REFL_PACKETS" -le 3 ] && echo yes)"
    expect_eq "at most 3 x 28 bytes" "yes" "$([ "$REFL_BYTES" -le 84 ] && echo yes)"
    coap get 'rd-lookup/ep?ep=refl'
    expect_eq "nothing registered" "" "$BODY"
}

# One address cannot hold every fetch slot (simple_fetches_per_source, 2 by default): its third
# simple registration in progress gets 5.03, while another address is still served.
test_one_source_cannot_take_every_fetch_slot() {
    local d i got=""
    exec 4<>"/dev/udp/127.0.0.1/$PORT" 5<>"/dev/udp/127.0.0.1/$PORT" 6<>"/dev/udp/127.0.0.1/$PORT"
    printf '\x41\x02\x12\x40\x79\xbb.well-known\x02rd\x47ep=src1' >&4
    printf '\x41\x02\x12\x41\x79\xbb.well-known\x02rd\x47ep=src2' >&5
    # Both are waiting once each has its empty ACK.
    for fd in 4 5; do
        for i in 1 2 3; do
            d=$(timeout 3 dd bs=2048 count=1 status=none <&$fd | od -An -v -tx1 | tr -d ' \n')
            [ "${d:0:2}" = 60 ] && [ "${d:2:2}" = 00 ] && break
        done
    done
    printf '\x41\x02\x12\x42\x79\xbb.well-known\x02rd\x47ep=src3' >&6
    for i in 1 2 3; do
        d=$(timeout 3 dd bs=2048 count=1 status=none <&6 | od -An -v -tx1 | tr -d ' \n')
        [ -n "$d" ] || break
        if [ "${d:2:2}" != 00 ] && [ "${d:2:2}" != 01 ]; then
            got=${d:2:2}
            break
        fi
    done
    exec 4>&- 5>&- 6>&-
    expect_eq "third from one address: 5.03" "a3" "$got"
    coap post '.well-known/rd?ep=other-source' -a 127.0.0.2
    expect_eq "another address still registers" "2.04" "$CODE"
    coap get 'metrics'
    expect_match "refusal counted" \
        'core_rd_limited_total\{bound="simple_fetches_per_source"\} [1-9]' "$BODY"
    # The two silent fetches end after simple_timeout; the tests after this one need the slots.
    wait_until 10 simple_fetches 0
    expect_match "slots free again" '^core_rd_simple_fetches 0$' "$BODY"
}

# A request forged with the RD's own address and port must not make it register itself. Needs a
# raw socket (root) to forge the source; skipped otherwise.
test_simple_registration_from_our_own_address_refused() {
    if ! python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)' \
        2>/dev/null; then
        echo "skipped: no raw socket"
        return
    fi
    python3 - "$PORT" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
coap = b'\x51\x02\x12\x50\x7a\xbb.well-known\x02rd\x47ep=self'
udp = struct.pack('!HHHH', port, port, 8 + len(coap), 0) + coap
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 socket.inet_aton('127.0.0.1'), socket.inet_aton('127.0.0.1'))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + udp, ('127.0.0.1', 0))
PY
    # The forged request is refused at once; a lookup after it proves the RD alive and shows
    # whether it registered itself (a fetch from itself takes well under a second).
    wait_logged 'simple registration from one of our own addresses\|simple registration ep=self' 3
    coap get 'rd-lookup/ep?ep=self'
    expect_eq "lookup answered" "2.05" "$CODE"
    expect_eq "the RD did not register itself" "" "$BODY"
    expect_match "refusal logged" 'simple registration from one of our own addresses refused' \
        "$(cat "$WORK/rd.log")"
}

test_simple_and_normal_registration_share_identity() {
    coap post 'rd?ep=both' -t 40 -e '</first>'
    local loc=$LOCATION
    endpoint links 'ep=both'
    expect_eq "simple re-registration" "2.04" "$EP_CODES"
    coap get 'rd-lookup/ep?ep=both'
    expect_match "same registration resource" "</$loc>" "$BODY"
    coap get 'rd-lookup/res?ep=both'
    expect_no_match "links replaced" 'first' "$BODY"
}

LWM2M_LINKS='</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</3303/0>'

test_lwm2m_register_update_deregister() {
    coap post 'rd?ep=urn:imei:490154203237518&lt=300&lwm2m=1.1&b=U&Q' -t 40 -e "$LWM2M_LINKS"
    expect_eq "register" "2.01" "$CODE"
    local loc=$LOCATION
    coap get 'rd-lookup/ep?lwm2m=1.1'
    expect_match "found by lwm2m version" 'ep="urn:imei:490154203237518"' "$BODY"
    expect_match "binding kept" 'b=U' "$BODY"
    coap get 'rd-lookup/ep?Q'
    expect_match "queue mode flag, without value" 'urn:imei' "$BODY"
    coap get 'rd-lookup/res?rt=oma.lwm2m'
    expect_match "object root found" '<coap://127\.0\.0\.1:[0-9]+/>;rt="oma.lwm2m";ct=11543' "$BODY"
    coap get 'rd-lookup/res?ep=urn:imei:490154203237518'
    expect_eq "four object links" "4" "$(printf '%s' "$BODY" | grep -o '<coap://' | wc -l)"
    coap post "$loc?lt=600&b=UQ"
    expect_eq "update without body" "2.04" "$CODE"
    coap post "$loc" -t 40 -e '</1/0>,</3/0>,</3303/0>,</3303/1>'
    expect_eq "update with new objects" "2.04" "$CODE"
    coap get 'rd-lookup/res?ep=urn:imei:490154203237518'
    expect_match "new object instance" '/3303/1>' "$BODY"
    coap get 'rd-lookup/ep?ep=urn:imei:490154203237518'
    expect_match "binding updated" 'b=UQ' "$BODY"
    coap delete "$loc"
    expect_eq "de-register" "2.02" "$CODE"
    coap get 'rd-lookup/res?ep=urn:imei:490154203237518'
    expect_eq "gone" "" "$BODY"
}

test_simple_registration_verifies_address_with_echo() {
    stop_rd
    printf 'simple_echo on\n' >"$WORK/echo.conf"
    start_rd -c "$WORK/echo.conf"
    # CON POST /.well-known/rd?ep=raw-echo without Echo: Uri-Path (11) ".well-known",
    # Uri-Path "rd", Uri-Query (15) "ep=raw-echo".
    local out
    out=$("$RAW" 127.0.0.1 "$PORT" "41027a03c1bb$(hex .well-known)02$(hex rd)4b$(hex ep=raw-echo)" 1)
    expect_match "unverified address gets 4.01" '^4\.01 31235' "$out"
    coap get 'rd-lookup/ep?ep=raw-echo'
    expect_eq "nothing fetched or registered" "" "$BODY"
    endpoint links 'ep=echo-ok'
    expect_eq "a client that repeats with Echo registers" "2.04" "$EP_CODES"
    coap get 'rd-lookup/ep?ep=echo-ok'
    expect_match "registered after the Echo round trip" 'echo-ok' "$BODY"
    stop_rd
}

test_simple_registration_of_an_empty_discovery_document() {
    stop_rd
    start_rd -c "$WORK/simple.conf"
    # coap-client serves an empty /.well-known/core from the port it sends from.
    coap post '.well-known/rd?ep=no-links'
    expect_eq "registered with no links" "2.04" "$CODE"
    coap get 'rd-lookup/ep?ep=no-links'
    expect_match "listed" 'no-links' "$BODY"
}

test_simple_registration_can_be_switched_off() {
    stop_rd
    printf 'simple_registration off\n' >"$WORK/off.conf"
    start_rd -c "$WORK/off.conf"
    coap post '.well-known/rd?ep=nope'
    expect_eq "switched off" "4.04" "$CODE"
    stop_rd
}

printf 'simple_timeout 2\n' >"$WORK/simple.conf"
start_rd -c "$WORK/simple.conf"
for t in test_simple_registration_registers_fetched_links \
    test_simple_registration_retry_uses_cache test_simple_registration_follows_block2 \
    test_simple_registration_failures_register_nothing \
    test_simple_registration_rejects_bad_requests \
    test_silent_endpoint_times_out_and_rd_stays_responsive \
    test_mute_device_gets_its_answer_in_time \
    test_forged_simple_registration_reflects_at_most_three_times \
    test_one_source_cannot_take_every_fetch_slot \
    test_simple_registration_from_our_own_address_refused \
    test_simple_and_normal_registration_share_identity test_lwm2m_register_update_deregister \
    test_simple_registration_of_an_empty_discovery_document \
    test_simple_registration_verifies_address_with_echo \
    test_simple_registration_can_be_switched_off; do
    run_test "$t"
done
stop_rd
summary
