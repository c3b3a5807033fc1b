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

test_silent_endpoint_times_out_and_rd_stays_responsive() {
    timeout 60 "$ENDPOINT" 127.0.0.1 "$PORT" silent 'ep=simple-silent' >"$WORK/silent.out" 2>&1 &
    local pid=$!
    sleep 0.5
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
    test_simple_and_normal_registration_share_identity test_lwm2m_register_update_deregister \
    test_simple_registration_of_an_empty_discovery_document \
    test_simple_registration_verifies_address_with_echo \
    test_simple_registration_can_be_switched_off; do
    run_test "$t"
done
stop_rd
summary
