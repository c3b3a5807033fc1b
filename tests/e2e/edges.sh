#!/usr/bin/env bash
# End-to-end tests of the protocol's edges: no datagram reaches libcoap unexamined under a burst
# (the datagram gate), every CoAP ping gets its Reset (RFC 7252 section 4.3), options RFC 7252
# section 5.4 says to ignore are ignored and the critical ones refused with a 4.02 a strict
# client takes, unknown method codes get 4.05 (section 5.8), and registered links must be URIs
# with one anchor at most (RFC 3986, RFC 8288). The real core-rd on loopback.
# The same gate stands before libcoap over CoAPS (DTLS), CoAP over TCP and over TLS (RFC 8323).
# Usage: edges.sh CORE_RD COAP_RAW TEST_ENDPOINT MID_CLIENT TCP_RAW
set -u
RD=$1
RAW=$2
MIDC=$4
TCPRAW=$5
. "$(dirname "$0")/lib.sh"

# raw HEX [WAIT_MS]: send raw datagrams (comma-separated, "HEX*N" repeats) from one port, each
# waiting for its reply; sets RAW_OUT to the replies, one per line.
raw() {
    RAW_OUT=$(timeout 60 "$RAW" 127.0.0.1 "$PORT" "$1" 1 "${2:-1000}")
}

# burst HEX: the same, all sent at once; RAW_OUT has the replies as they came.
burst() {
    RAW_OUT=$(COAP_RAW_BURST=1 timeout 60 "$RAW" 127.0.0.1 "$PORT" "$1" 1 500)
}

# alive WHAT: the server runs and answers a ping within 5 s.
alive() {
    expect_eq "$1: still running" "0" "$(kill -0 "$RD_PID" 2>/dev/null; echo $?)"
    RAW_OUT=$(timeout 10 "$RAW" 127.0.0.1 "$PORT" 40000999 1 5000)
    expect_eq "$1: answers a ping" "0.00 2457" "$RAW_OUT"
    if [ "$RAW_OUT" != "0.00 2457" ]; then
        # A server that spins does not stop on TERM: the next test needs its port and data.
        stop_rd KILL
    fi
}

fresh() {
    stop_rd
    fresh_data
    start_rd "$@"
}

# CON POST /rd?ep=EP with Block1 option VALUE (hex) and payload (hex), token 01.
block1_post() {
    local mid=$1 ep=$2 block=$3 payload=$4 qlen
    qlen=$(printf '%x' $((3 + ${#ep})))
    printf '4102%04x01b2%s4%s%sc%x%s%s' "$mid" "$(hex rd)" "$qlen" "$(hex "ep=$ep")" \
        "$((${#block} / 2))" "$block" "${payload:+ff$payload}"
}

# The Uri-Path and Uri-Query options of /rd-lookup/ep?ep=EP after option number 11 or less.
lookup_opts() {
    printf '02%s4%x%s' "$(hex ep)" "$((3 + ${#1}))" "$(hex "ep=$1")"
}

test_every_ping_gets_a_reset() {
    fresh
    # Six pings from one port, each sent when the previous one's Reset came (or after 1 s).
    raw "40000064,40000065,40000066,40000067,40000068,40000069"
    expect_eq "a Reset to each of 100..105" \
        "0.00 100|0.00 101|0.00 102|0.00 103|0.00 104|0.00 105" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    # Ten more at once: ten Resets.
    burst "40000070*10"
    expect_eq "a Reset to each of ten at once" "10" "$(printf '%s\n' "$RAW_OUT" | grep -c '^0\.00 112$')"
}

# An empty non-final Block1 block must never reach libcoap 4.3.1: the last block of that body
# then makes it read a NULL body. The gate refuses it with 4.00; the old guard looked at 64
# datagrams a round, and libcoap read the next one unexamined.
test_refused_burst_then_the_crash_pair() {
    fresh
    burst "$(block1_post 3 boom 0a '')*250,$(block1_post 4 boom 02 '')"
    expect_match "the empty blocks refused" '^4\.00 3 Block1 block not full' "$RAW_OUT"
    expect_eq "no empty block reached libcoap (it answers 2.31)" "0" \
        "$(printf '%s\n' "$RAW_OUT" | grep -c '^2\.31 3')"
    alive "after 250 refused blocks and a last block"
    coap post 'rd?ep=after-burst' -t 40 -e '</ok>'
    expect_eq "registration afterwards" "2.01" "$CODE"
}

# libcoap 4.3.1 takes a CSM over UDP and sets the session's MTU from it; with a tiny one its
# next Block2 answer spins for ever. The old guard dropped 64 a round and let the next through.
test_csm_burst_then_lookup() {
    fresh
    local i
    for i in 1 2 3; do
        coap post "rd?ep=csm$i" -t 40 -e '</a>;rt="x",</b>;rt="y"'
    done
    # NON 7.01 with Max-Message-Size (option 2) 10, then CON GET /rd-lookup/res, one port.
    burst "50e10001210a*200,4101000201b9$(hex rd-lookup)03$(hex res)"
    expect_match "the lookup from that port is answered" '^2\.05 2 <' "$RAW_OUT"
    expect_no_match "no answer to a CSM" '^7\.' "$RAW_OUT"
    alive "after 200 CSMs and a lookup"
    COAP_WAIT=5 coap get 'rd-lookup/ep?ep=csm1'
    expect_eq "lookups go on" "2.05" "$CODE"
}

test_electives_out_of_range_are_ignored() {
    fresh
    coap post 'rd?ep=opts' -t 40 -e '</s>;rt="x"'
    local etag
    etag=$(printf '00%.0s' $(seq 18))
    # An 18-byte ETag (4) before Uri-Path (delta 7).
    raw "41010101aa4d05${etag}79$(hex rd-lookup)$(lookup_opts opts)"
    expect_match "18-byte ETag: answered" '^2\.05 257 </rd/.*ep="opts"' "$RAW_OUT"
    # A 4-byte Observe (6): no observation, a plain answer.
    raw "41010102aa640000000059$(hex rd-lookup)$(lookup_opts opts)"
    expect_match "4-byte Observe: answered" '^2\.05 258 </rd/.*ep="opts"' "$RAW_OUT"
    # An empty Uri-Query (an empty query component) before ep=opts.
    raw "41010103aab9$(hex rd-lookup)02$(hex ep)4007$(hex ep=opts)"
    expect_match "empty Uri-Query: answered" '^2\.05 259 </rd/.*ep="opts"' "$RAW_OUT"
    # A 5-byte Content-Format (12) on a registration, then Uri-Query (delta 3).
    raw "41020104aab2$(hex rd)15000000002836$(hex ep=cf5)ff$(hex '</c>')"
    expect_match "5-byte Content-Format: registered" '^2\.01 260' "$RAW_OUT"
    # Non-confirmable: a 4-byte Observe gets a non-confirmable answer, not a Reset.
    RAW_OUT=$(COAP_RAW_SIZES=1 timeout 10 "$RAW" 127.0.0.1 "$PORT" \
        "51010105aa640000000059$(hex rd-lookup)$(lookup_opts opts)" 1 1000)
    expect_match "NON with a 4-byte Observe: answered" '^2\.05 [0-9]+ </rd/.*ep="opts"' "$RAW_OUT"
    coap get 'rd-lookup/ep?ep=cf5'
    expect_match "and looked up" 'ep="cf5"' "$BODY"
}

test_unrecognized_critical_option_is_402() {
    fresh
    coap post 'rd?ep=crit' -t 40 -e '</s>'
    # coap-client discards an answer that carries an option it does not know: libcoap 4.3.1
    # copied the request's options into its 4.02.
    coap get 'rd-lookup/ep?ep=crit' -O 2049,x
    expect_eq "coap-client takes the 4.02" "4.02" "$CODE"
    expect_eq "naming the option" "option 2049 not recognized" "$BODY"
    # The answer is header, token, marker and diagnostic: no option.
    RAW_OUT=$(COAP_RAW_SIZES=1 timeout 10 "$RAW" 127.0.0.1 "$PORT" \
        "41010201aab9$(hex rd-lookup)$(lookup_opts crit)e106e578" 1 1000)
    expect_eq "no option in the 4.02" "4.02 513 option 2049 not recognized|bytes 32" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    # Accept (17) twice: the second is an unrecognized critical option (RFC 7252 5.4.5).
    raw "41010202aab9$(hex rd-lookup)$(lookup_opts crit)21280128"
    expect_eq "repeated Accept" "4.02 514 option 17 not recognized" "$RAW_OUT"
    # A non-confirmable request with one is rejected: silence, not a Reset.
    alive "before the NON"
    raw "51010203aab9$(hex rd-lookup)$(lookup_opts crit)e106e578*5" 300
    expect_eq "NON: no answer" "timeout|timeout|timeout|timeout|timeout" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    alive "after the NONs"
}

test_unknown_method_on_a_registration_is_405() {
    fresh
    coap post 'rd?ep=meth' -t 40 -e '</s>'
    local id=${LOCATION#rd/}
    expect_match "registered" '^rd/' "$LOCATION"
    raw "41080301aab2$(hex rd)0$(printf '%x' ${#id})$(hex "$id")"
    expect_eq "0.08 on the registration" "4.05 769 method 0.08 not recognized" "$RAW_OUT"
    raw "411f0302aab2$(hex rd)"
    expect_eq "0.31 on /rd" "4.05 770 method 0.31 not recognized" "$RAW_OUT"
    coap get "$LOCATION"
    expect_eq "the registration is still there" "2.05" "$CODE"
}

# With the HTTP listener the loop waits elsewhere (rd_http.c); the gate is the same.
test_gate_with_the_http_listener() {
    stop_rd
    fresh_data
    start_rd_http
    raw "40000064,40000065,40000066,40000067"
    expect_eq "a Reset to each ping" "0.00 100|0.00 101|0.00 102|0.00 103" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    burst "50e10001210a*200,4101000201b9$(hex rd-lookup)03$(hex res)"
    expect_match "200 CSMs, then a lookup answered" '^2\.05 2' "$RAW_OUT"
    alive "with HTTP"
    http GET /health
    expect_eq "HTTP goes on" "200" "$HTTP_STATUS"
}

test_links_must_be_uris_with_one_anchor() {
    fresh
    # From files: coap-client decodes percent-encoding in -e text.
    printf '%s' '</ok>,</s%zz>' >"$WORK/bad.lf"
    coap post 'rd?ep=bad-uri' -t 40 -f "$WORK/bad.lf"
    expect_eq "a bad percent-encoding" "4.00" "$CODE"
    expect_eq "names the link" "link 1: target is not a URI: bad percent-encoding" "$BODY"
    coap post 'rd?ep=two-anchors' -t 40 -e '</s>;anchor="/a";anchor="/b"'
    expect_eq "two anchors" "4.00" "$CODE"
    expect_eq "names the link" "link 0: anchor repeated" "$BODY"
    coap get 'rd-lookup/ep?ep=bad-uri'
    expect_eq "nothing registered" "" "$BODY"
    printf '%s' '</a%20b>;anchor="coap://[2001:db8::1]/x"' >"$WORK/good.lf"
    coap post 'rd?ep=good-uri' -t 40 -f "$WORK/good.lf"
    expect_eq "what RFC 3986 allows is registered" "2.01" "$CODE"
}

# control_observer_start QUERY: coap-client observes QUERY over plain CoAP into $WORK/obs.out
# (each line as it comes) until control_observer_stop; returns once its first answer came.
control_observer_start() {
    rm -f "$WORK/obs.out"
    timeout 60 stdbuf -oL -eL "$CLIENT" -v 6 -s 60 -B 60 -m get "coap://127.0.0.1:$PORT/$1" \
        >"$WORK/obs.out" 2>&1 &
    OBS_PID=$!
    wait_until 10 grep -q 'c:2\.05' "$WORK/obs.out"
}
control_observer_stop() {
    kill "$OBS_PID" 2>/dev/null
    wait "$OBS_PID" 2>/dev/null
}

# An Observe request whose answer is an error gets no Observe option (RFC 7641 section 4.1):
# here the 4.01 with Echo of the amplification limit. libcoap 4.3.1 kept the one core-rd added.
test_error_answer_to_observe_has_no_observe_option() {
    stop_rd
    fresh_data
    printf 'amplification echo\n' >"$WORK/amp.conf"
    start_rd -c "$WORK/amp.conf"
    local i links=""
    for i in $(seq 1 12); do
        links="$links${links:+,}</s/$i>;rt=\"sensor-$i\""
    done
    coap post 'rd?ep=obs-err' -t 40 -e "$links"
    # CON GET /rd-lookup/res with Observe 0 (option 6): 20 bytes asking for about 400.
    RAW_OUT=$(COAP_RAW_OPTIONS=1 timeout 10 "$RAW" 127.0.0.1 "$PORT" \
        "4101abcd016059$(hex rd-lookup)03$(hex res)" 1 1000)
    expect_eq "4.01 with Echo (252) and no Observe (6)" \
        "4.01 43981 repeat with the Echo option|options 252" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    # From one port: an observation of a small answer (2.05 with Observe), then with the same
    # token a block past its end (4.00), which must not say the observation goes on.
    fresh
    coap post 'rd?ep=obs-err' -t 40 -e '</s>'
    local get_ep="016059$(hex rd-lookup)02$(hex ep)4a$(hex ep=obs-err)"
    RAW_OUT=$(COAP_RAW_OPTIONS=1 timeout 10 "$RAW" 127.0.0.1 "$PORT" \
        "4101abce${get_ep},4101abcf${get_ep}81f2" 1 1000)
    expect_match "a small answer: 2.05 with Observe" '^2\.05 43982 </rd/.*\|options ([0-9]+,)*6,' \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    expect_match "a block past the end: 4.00 without Observe" \
        '\|4\.00 43983 block 15 is past the end [^|]*\|options $' \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
}

# A Reset to a non-confirmable notification ends that observation at once (RFC 7641 section
# 3.6); libcoap 4.3.1 reported it to nobody, and the notifications went on. A second observer
# of the same lookup, told after the first, shows when a notification would have been sent.
test_reset_to_a_non_notification_ends_the_observation() {
    stop_rd
    fresh_data
    printf 'amplification off\n' >"$WORK/amp.conf"
    start_rd -c "$WORK/amp.conf"
    local q="rd-lookup/ep?ep=rst" raw_pid
    rm -f "$WORK/rst.out" "$WORK/rst.done"
    control_observer_start "$q"
    # CON GET with Observe 0 from a raw client that resets every non-confirmable message.
    COAP_RAW_BURST=1 COAP_RAW_RESET=1 COAP_RAW_UNTIL="$WORK/rst.done" timeout 60 "$RAW" \
        127.0.0.1 "$PORT" "4101abd0016059$(hex rd-lookup)02$(hex ep)46$(hex ep=rst)" 1 1000 \
        >"$WORK/rst.out" &
    raw_pid=$!
    wait_until 10 grep -q '^2\.05 43984' "$WORK/rst.out"
    expect_match "the raw observer's first answer" '^2\.05 43984' "$(cat "$WORK/rst.out")"
    coap post 'rd?ep=rst' -t 40 -e '</a>'
    expect_eq "registered" "2.01" "$CODE"
    local loc=$LOCATION
    wait_until 10 grep -q '^reset ' "$WORK/rst.out"
    expect_match "a non-confirmable notification, reset" '^reset [0-9]+' "$(cat "$WORK/rst.out")"
    wait_until 10 grep -q 'ep="rst"' "$WORK/obs.out"
    coap delete "$loc"
    expect_eq "removed" "2.02" "$CODE"
    # The raw observer, registered last, is told first: once the other has its second
    # notification, one to the raw observer would already be queued at its socket.
    wait_until 10 matches_at_least 'c:2\.05' "$WORK/obs.out" 3
    expect_eq "the other observer heard both changes" "3" "$(grep -c 'c:2\.05' "$WORK/obs.out")"
    touch "$WORK/rst.done"
    wait "$raw_pid"
    expect_eq "one notification to the raw observer, none after its Reset" "1" \
        "$(grep -c '^2\.05 ' "$WORK/rst.out" | awk '{print $1 - 1}')"
    control_observer_stop
    alive "after the Reset"
}

# start_transports: plain UDP on PORT, CoAPS on DPORT, CoAP over TCP on PORT and over TLS on
# DPORT (TCP ports are not UDP ones), PSK identity alice.
start_transports() {
    stop_rd
    fresh_data
    printf 'alice alice-key\n' >"$WORK/psk.keys"
    chmod 600 "$WORK/psk.keys"
    printf 'psk_file %s\n' "$WORK/psk.keys" >"$WORK/tr.conf"
    start_rd_secure "$WORK/tr.conf" -l 'coap+tcp://127.0.0.1:{PORT}' \
        -l 'coaps+tcp://127.0.0.1:{DPORT}'
}

# A Reset to every ping over DTLS too: libcoap 4.3.1 sent one a session every quarter second.
# An unrecognized critical option gets a 4.02 coap-client takes (no option copied), and an
# unknown method on a registration 4.05, as over UDP.
test_dtls_edges() {
    start_transports
    local lp=$((20000 + (RANDOM % 30000))) out
    out=$(PINGS=6 timeout 60 "$MIDC" 127.0.0.1 "$DPORT" "$lp" 300 post 'rd?ep=dtls-edge' \
        alice alice-key 2>/dev/null)
    expect_match "registered over DTLS" '^2\.01 rd/' "$out"
    expect_eq "a Reset to each of six pings, each sent on the last one's" \
        "pong|pong|pong|pong|pong|pong" "$(printf '%s\n' "$out" | tail -n 6 | paste -sd'|' -)"
    local loc
    loc=$(printf '%s\n' "$out" | head -n 1 | cut -d' ' -f2)
    COAP_BASE="coaps://127.0.0.1:$DPORT" coap get 'rd-lookup/ep?ep=dtls-edge' -O 2049,x \
        -u alice -k alice-key
    expect_eq "DTLS: coap-client takes the 4.02" "4.02" "$CODE"
    expect_eq "DTLS: naming the option" "option 2049 not recognized" "$BODY"
    out=$(timeout 30 "$MIDC" 127.0.0.1 "$DPORT" "$lp" 301 8 "$loc" alice alice-key 2>/dev/null)
    expect_eq "DTLS: 0.08 on the registration" "4.05 -" "$out"
    COAP_BASE="coaps://127.0.0.1:$DPORT" coap get "$loc" -u alice -k alice-key
    expect_eq "DTLS: the registration is still there" "2.05" "$CODE"
}

# Over TCP (RFC 8323): a Pong carries its Ping's token (section 5.4; libcoap 4.3.1's had none),
# an Empty message is ignored, an elective option out of range is ignored (libcoap dropped the
# request unanswered), an unknown method gets 4.05 (not 4.04), an unrecognized critical option
# 4.02 with no option copied. Over TLS, the 4.02 too.
test_tcp_and_tls_edges() {
    start_transports
    coap post 'rd?ep=tcp-edge' -t 40 -e '</s>'
    local loc=$LOCATION out
    # Ping (7.02) with tokens ab and ac; the second after an Empty message in the same write.
    # GET /rd-lookup/ep?ep=tcp-edge with a 4-byte Observe; 0.08 on the registration; a GET
    # with option 2049.
    out=$(timeout 60 "$TCPRAW" 127.0.0.1 "$PORT" "01e2ab,000001e2ac,$(tcp_msg 01 77 \
        "6400000000$(printf '59%s02%s4b%s' "$(hex rd-lookup)" "$(hex ep)" "$(hex ep=tcp-edge)")"),$(tcp_msg 08 78 \
        "b2$(hex rd)08$(hex "${loc#rd/}")"),$(tcp_msg 01 79 e106f478)" 5000)
    expect_eq "TCP: a Pong to each Ping, with its token" "7.03 ab|7.03 ac" \
        "$(printf '%s\n' "$out" | head -n 2 | paste -sd'|' -)"
    expect_match "TCP: 4-byte Observe ignored" '^2\.05 77 \+options </rd/.*ep="tcp-edge"' \
        "$(printf '%s\n' "$out" | sed -n 3p)"
    expect_eq "TCP: 0.08 on the registration" "4.05 78 method 0.08 not recognized" \
        "$(printf '%s\n' "$out" | sed -n 4p)"
    expect_eq "TCP: option 2049, no option copied" "4.02 79 option 2049 not recognized" \
        "$(printf '%s\n' "$out" | sed -n 5p)"
    COAP_BASE="coaps+tcp://127.0.0.1:$DPORT" coap get 'rd-lookup/ep?ep=tcp-edge' -O 2049,x \
        -u alice -k alice-key
    expect_eq "TLS: coap-client takes the 4.02" "4.02" "$CODE"
    expect_eq "TLS: naming the option" "option 2049 not recognized" "$BODY"
    COAP_BASE="coaps+tcp://127.0.0.1:$DPORT" coap get 'rd-lookup/ep?ep=tcp-edge' \
        -u alice -k alice-key
    expect_match "TLS: lookups go on" 'ep="tcp-edge"' "$BODY"
}

# The same over DTLS: the gate sees the Reset once OpenSSL has decrypted it. The DTLS observer,
# registered last, is told first, and reads what came before it is told to stop.
test_reset_to_a_notification_over_dtls() {
    start_transports
    local q="rd-lookup/ep?ep=drst" lp=$((20000 + (RANDOM % 30000))) midc_pid
    rm -f "$WORK/drst.out" "$WORK/drst.done"
    control_observer_start "$q"
    OBSERVE_UNTIL="$WORK/drst.done" timeout 60 "$MIDC" 127.0.0.1 "$DPORT" "$lp" 400 get "$q" \
        alice alice-key >"$WORK/drst.out" 2>/dev/null &
    midc_pid=$!
    wait_until 10 grep -q '^2\.05' "$WORK/drst.out"
    expect_match "the DTLS observer's first answer" '^2\.05' "$(cat "$WORK/drst.out")"
    coap post 'rd?ep=drst' -t 40 -e '</a>'
    local loc=$LOCATION
    wait_until 10 grep -q '^notified' "$WORK/drst.out"
    wait_until 10 grep -q 'ep="drst"' "$WORK/obs.out"
    coap delete "$loc"
    expect_eq "removed" "2.02" "$CODE"
    # Its notifications may come in small blocks (the amplification limit): each first block
    # carries Observe.
    wait_until 10 matches_at_least 'c:2\.05.*Observe:' "$WORK/obs.out" 3
    expect_eq "the other observer heard both changes" "3" \
        "$(grep -c 'c:2\.05.*Observe:' "$WORK/obs.out")"
    touch "$WORK/drst.done"
    wait "$midc_pid"
    expect_eq "one notification over DTLS, none after its Reset" "notified 2.05" \
        "$(grep '^notified' "$WORK/drst.out" | paste -sd'|' -)"
    control_observer_stop
}

# tcp_msg CODE TOKEN BODY: a CoAP-over-TCP message (RFC 8323 section 3.2), all in hex, with a
# one-byte token and a body of options and payload shorter than 269 bytes.
tcp_msg() {
    local len=$((${#3} / 2))
    if [ "$len" -lt 13 ]; then
        printf '%x1%s%s%s' "$len" "$1" "$2" "$3"
    else
        printf 'd1%02x%s%s%s' $((len - 13)) "$1" "$2" "$3"
    fi
}

run_test test_every_ping_gets_a_reset
run_test test_refused_burst_then_the_crash_pair
run_test test_csm_burst_then_lookup
run_test test_electives_out_of_range_are_ignored
run_test test_unrecognized_critical_option_is_402
run_test test_unknown_method_on_a_registration_is_405
run_test test_gate_with_the_http_listener
run_test test_links_must_be_uris_with_one_anchor
run_test test_error_answer_to_observe_has_no_observe_option
run_test test_reset_to_a_non_notification_ends_the_observation
run_test test_dtls_edges
run_test test_tcp_and_tls_edges
run_test test_reset_to_a_notification_over_dtls
summary
