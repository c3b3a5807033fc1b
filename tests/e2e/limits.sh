#!/usr/bin/env bash
# End-to-end tests of the limits: each one tripped with its code and diagnostic, the rate limit,
# the amplification limit (RFC 9175 section 2.4), garbage datagrams, a full LMDB map, and kill -9
# during a burst of registrations (one at a time, and 32 in flight with rd-bench). The real
# core-rd on loopback, a fresh data directory per test.
# Usage: limits.sh CORE_RD COAP_RAW TEST_ENDPOINT MID_CLIENT [RD_BENCH]
set -u
RD=$1
RAW=$2
BENCH=${6:-}
. "$(dirname "$0")/lib.sh"

# with_conf LINES...: a fresh server with these directives.
with_conf() {
    stop_rd
    fresh_data
    printf '%s\n' "$@" >"$WORK/limits.conf"
    start_rd -c "$WORK/limits.conf"
}

# links N: a link-format body of N links.
links() {
    local i out=""
    for i in $(seq 1 "$1"); do
        out="$out${out:+,}</s/$i>;rt=\"sensor-$i\""
    done
    printf '%s' "$out"
}

# raw HEX [COUNT]: send a raw datagram; sets RAW_OUT to the replies, one per line.
raw() {
    RAW_OUT=$(timeout 60 "$RAW" 127.0.0.1 "$PORT" "$1" "${2:-1}" 300)
}

test_payload_over_max_is_413_with_size1() {
    with_conf 'max_payload 128'
    coap post 'rd?ep=big' -t 40 -e "$(links 10)"
    expect_eq "one datagram" "4.13" "$CODE"
    expect_match "Size1 names the limit" 'Size1:128' "$(cat "$WORK/out")"
    links 40 >"$WORK/big.lf"
    coap post 'rd?ep=big' -t 40 -b 64 -f "$WORK/big.lf"
    expect_eq "Block1, reassembled" "4.13" "$CODE"
    coap get 'rd-lookup/ep?ep=big'
    expect_eq "nothing registered" "" "$BODY"
    coap post 'rd?ep=small' -t 40 -e "$(links 2)"
    expect_eq "under the limit" "2.01" "$CODE"
    expect_match "logged" 'limit: [0-9]+-byte body over max_payload 128 from coap://127' \
        "$(cat "$WORK/rd.log")"
}

# CON POST /rd?ep=EP with Block1 option VALUE (hex), optional Size1 (hex) and payload (hex).
block1_post() {
    local mid=$1 ep=$2 block=$3 size1=$4 payload=$5 qlen
    qlen=$(printf '%x' $((3 + ${#ep})))
    printf '4102%04x01b2%s4%s%sc%x%s%s%s' "$mid" "$(hex rd)" "$qlen" "$(hex "ep=$ep")" \
        "$((${#block} / 2))" "$block" "${size1:+d$((${#size1} / 2))14$size1}" "${payload:+ff$payload}"
}

test_block1_checked_before_reassembly() {
    with_conf 'max_payload 1024'
    local full
    full=$(printf '61%.0s' $(seq 64))
    # Size1 announcing 4 GiB: refused before libcoap reserves anything.
    raw "$(block1_post 1 huge 0a ffffffff "$full")"
    expect_match "Size1 over max_payload" '^4\.13 1 payload too large$' "$RAW_OUT"
    # A block starting past max_payload.
    raw "$(block1_post 2 far fffff2 '' "$full")"
    expect_match "offset over max_payload" '^4\.13 2 ' "$RAW_OUT"
    # An empty first block, then the last block of the same body from the same port: libcoap
    # 4.3.1 dereferences a NULL body on the second one unless the first is refused.
    raw "$(block1_post 3 boom 0a '' ''),$(block1_post 4 boom 02 '' '')"
    expect_match "empty non-final block" '^4\.00 3 Block1 block not full' "$RAW_OUT"
    expect_eq "still alive" "0" "$(kill -0 "$RD_PID" 2>/dev/null; echo $?)"
    # A second Block1 option is a critical option not recognized (RFC 7252 section 5.4.5).
    raw "$(block1_post 8 rep 0a '' '')0102"
    expect_match "repeated Block1" '^4\.02 8 option 27' "$RAW_OUT"
    # Without Size1 (RFC 7959 makes it optional) the handler keeps the blocks and puts the
    # body together: three blocks, the second and the last sent twice, then a second
    # body from the same port, and a last block whose earlier blocks never came.
    local body b0 b1 b2
    body="</n>;title=\"$(printf 'x%.0s' $(seq 120))\",</m>;rt=\"nosize\""
    b0=$(hex "${body:0:64}")
    b1=$(hex "${body:64:64}")
    b2=$(hex "${body:128}")
    raw "$(block1_post 20 nosize 0a '' "$b0"),$(block1_post 21 nosize 1a '' "$b1"),$(block1_post 21 nosize 1a '' "$b1"),$(block1_post 22 nosize 22 '' "$b2"),$(block1_post 22 nosize 22 '' "$b2"),$(block1_post 23 nosize2 0a '' "$b0"),$(block1_post 24 nosize2 1a '' "$b1"),$(block1_post 25 nosize2 22 '' "$b2"),$(block1_post 26 nosize3 22 '' "$b2")"
    expect_eq "without Size1: 2.31, 2.31 (again), 2.01 (again), a second body, a lone last block" \
        "2.31 20|2.31 21|2.31 21|2.01 22|2.01 22|2.31 23|2.31 24|2.01 25|4.08 26 earlier blocks missing" \
        "$(printf '%s\n' "$RAW_OUT" | paste -sd'|' -)"
    coap get 'rd-lookup/res?ep=nosize'
    expect_eq "the whole body registered" "2" "$(printf '%s' "$BODY" | tr ',' '\n' | grep -c '^<')"
    expect_match "its last link" '/m>;rt="nosize"' "$BODY"
    # Blocks out of order: the body cannot go on.
    raw "$(block1_post 27 skip 0a '' "$b0"),$(block1_post 28 skip 2a '' "$b1")"
    expect_match "a skipped block" '4\.08 28 Block1 block out of order' "$RAW_OUT"
    # An honest two-block body from one port still goes through libcoap's reassembly.
    raw "$(block1_post 5 twoblocks 0a 0047 "$(hex '</a>;title="')$(printf '78%.0s' $(seq 52))"),$(block1_post 6 twoblocks 12 '' "$(hex 'x",</b>')")"
    expect_match "first block continues" '^2\.31 5' "$RAW_OUT"
    expect_match "last block registers" '2\.01 6' "$RAW_OUT"
    coap get 'rd-lookup/res?ep=twoblocks'
    expect_match "both blocks joined" '/b>' "$BODY"
    expect_match "logged" 'limit: [0-9]+-byte body over max_payload 1024 from coap://127\.0\.0\.1' \
        "$(cat "$WORK/rd.log")"
}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$RD_PID/status"; }

test_abandoned_block1_transfers_stay_bounded() {
    with_conf 'max_sessions 16' 'max_payload 65536'
    local before after i full
    full=$(printf '3c%.0s' $(seq 1024))
    before=$(rss_kb)
    # 300 peers (source ports) each start a 64 KiB body and never finish it.
    for i in $(seq 1 300); do
        "$RAW" 127.0.0.1 "$PORT" "$(block1_post "$i" "gone$i" 0e 010000 "$full")" 1 300 >/dev/null
    done
    after=$(rss_kb)
    expect_match "resident memory grew by under 16 MiB ($before kB to $after kB)" '^1$' \
        "$((after - before < 16384))"
    coap get 'rd-lookup/ep'
    expect_eq "still serving" "2.05" "$CODE"
    echo "300 abandoned Block1 transfers with max_sessions 16: VmRSS $before kB -> $after kB"
}

test_links_over_max_is_400() {
    with_conf 'max_links 3'
    coap post 'rd?ep=many' -t 40 -e "$(links 4)"
    expect_eq "code" "4.00" "$CODE"
    expect_eq "diagnostic" "more than 3 links" "$BODY"
    coap post 'rd?ep=many' -t 40 -e "$(links 3)"
    expect_eq "at the limit" "2.01" "$CODE"
    coap post "$LOCATION" -t 40 -e "$(links 4)"
    expect_eq "update over the limit" "4.00" "$CODE"
    expect_match "logged" 'limit: more than 3 links from coap://127' "$(cat "$WORK/rd.log")"
}

test_lifetime_outside_range_is_400_with_range() {
    with_conf 'lifetime_min 60' 'lifetime_max 3600'
    coap post 'rd?ep=lt&lt=59' -t 40 -e '</a>'
    expect_eq "below" "4.00" "$CODE"
    expect_eq "range in the diagnostic" "lt: expected 60..3600" "$BODY"
    coap post 'rd?ep=lt&lt=3601' -t 40 -e '</a>'
    expect_eq "above" "4.00" "$CODE"
    coap post 'rd?ep=lt&lt=60' -t 40 -e '</a>'
    expect_eq "at the minimum" "2.01" "$CODE"
    local loc=$LOCATION
    coap post "$loc?lt=7200"
    expect_eq "update above" "4.00" "$CODE"
    coap post "$loc?lt=3600"
    expect_eq "update at the maximum" "2.04" "$CODE"
    expect_match "logged" 'limit: lt: expected 60\.\.3600 from coap://127' "$(cat "$WORK/rd.log")"
}

test_long_query_and_attributes_are_400() {
    with_conf 'max_attr_len 32' 'max_query_len 80'
    local long
    long=$(printf 'v%.0s' $(seq 40))
    coap post "rd?ep=q&note=$long" -t 40 -e '</a>'
    expect_eq "long parameter" "4.00" "$CODE"
    expect_eq "diagnostic" "query parameter longer than 32 bytes" "$BODY"
    coap post "rd?ep=q&a=0123456789012345678901234&b=0123456789012345678901234&c=0123456789012345678901234" \
        -t 40 -e '</a>'
    expect_eq "long query" "4.00" "$CODE"
    expect_eq "query diagnostic" "query longer than 80 bytes" "$BODY"
    coap get "rd-lookup/res?rt=$long"
    expect_eq "lookup too" "4.00" "$CODE"
    coap post 'rd?ep=q' -t 40 -e "</a>;title=\"$long\""
    expect_eq "long link attribute" "4.00" "$CODE"
    expect_match "names the attribute" 'title longer than 32' "$BODY"
    coap post 'rd?ep=q' -t 40 -e "</$long>"
    expect_eq "long target" "4.00" "$CODE"
    coap post 'rd?ep=q&note=short' -t 40 -e '</a>;title="fine"'
    expect_eq "within limits" "2.01" "$CODE"
    expect_match "logged" 'limit: query parameter longer than 32 bytes from coap://127\.0\.0\.1' \
        "$(cat "$WORK/rd.log")"
}

test_directory_full_is_503_with_max_age() {
    with_conf 'max_registrations 3'
    for i in 1 2 3; do
        coap post "rd?ep=full$i" -t 40 -e '</a>'
        expect_eq "registration $i" "2.01" "$CODE"
    done
    coap post 'rd?ep=full4' -t 40 -e '</a>'
    expect_eq "fourth" "5.03" "$CODE"
    expect_match "Max-Age" 'Max-Age:60' "$(cat "$WORK/out")"
    expect_match "diagnostic" 'directory full' "$BODY"
    coap post 'rd?ep=full2' -t 40 -e '</b>'
    expect_eq "re-registration still taken" "2.01" "$CODE"
    coap get 'rd-lookup/ep?ep=full*'
    expect_eq "lookups still served" "2.05" "$CODE"
    expect_match "logged" 'limit: directory holds 3 registrations' "$(cat "$WORK/rd.log")"
}

test_registrations_per_source_is_429() {
    with_conf 'max_per_source 2'
    coap post 'rd?ep=src1' -t 40 -e '</a>'
    coap post 'rd?ep=src2' -t 40 -e '</a>'
    expect_eq "second" "2.01" "$CODE"
    coap post 'rd?ep=src3' -t 40 -e '</a>'
    expect_eq "third from the same address" "4.29" "$CODE"
    expect_match "Max-Age" 'Max-Age:60' "$(cat "$WORK/out")"
    expect_match "diagnostic" 'too many registrations from this address' "$BODY"
    coap post 'rd?ep=src3' -t 40 -e '</a>' -a 127.0.0.2
    expect_eq "from another address" "2.01" "$CODE"
    coap post 'rd?ep=src1' -t 40 -e '</b>'
    expect_eq "re-registration from the full address" "2.01" "$CODE"
    expect_match "logged" 'limit: coap://127\.0\.0\.1:[0-9]+ holds 2 registrations' \
        "$(cat "$WORK/rd.log")"
}

# GET /rd-lookup/ep?ep=none, non-confirmable, MID 0x7000 + n: a small request with a small answer.
small_get() {
    printf '5101%04x01b9%s02%s47%s' "$((0x7000 + $1))" "$(hex rd-lookup)" "$(hex ep)" \
        "$(hex ep=none)"
}

test_rate_limit_is_429_then_recovers() {
    with_conf 'rate_limit 5' 'rate_burst 5'
    raw "$(small_get 1)" 20
    expect_eq "burst taken" "5" "$(printf '%s\n' "$RAW_OUT" | grep -c '^2\.05')"
    expect_eq "the rest refused" "15" "$(printf '%s\n' "$RAW_OUT" | grep -c '^4\.29 .* rate limit: 5 requests/s')"
    coap get 'rd-lookup/ep?ep=none'
    expect_eq "coap-client too" "4.29" "$CODE"
    expect_match "Max-Age" 'Max-Age:1' "$(cat "$WORK/out")"
    expect_eq "logged once" "1" "$(grep -c 'over 5 requests/s' "$WORK/rd.log")"
    coap get 'rd-lookup/ep?ep=none' -a 127.0.0.3
    expect_eq "another address is not limited" "2.05" "$CODE"
    # Time must pass for the bucket to refill: 3 requests at 5 a second take 0.6 s.
    sleep 0.7
    raw "$(small_get 2)" 3
    expect_eq "a second later" "3" "$(printf '%s\n' "$RAW_OUT" | grep -c '^2\.05')"
    # Every Block1 block reaches a handler and is counted; a duplicate (same message ID) is
    # answered from the first answer (RFC 7252 section 4.5).
    local full blocks="" i
    full=$(printf '61%.0s' $(seq 64))
    for i in 0 1 2 3 4 5 6 7; do
        blocks="$blocks${blocks:+,}$(block1_post $((100 + i)) rb1 0a 0400 "$full")"
    done
    # Time must pass for the bucket to fill again: 5 requests at 5 a second take 1 s.
    sleep 1.1
    raw "$blocks"
    expect_eq "Block1 blocks within the burst" "5" "$(printf '%s\n' "$RAW_OUT" | grep -c '^2\.31')"
    expect_eq "Block1 blocks over the rate" "3" "$(printf '%s\n' "$RAW_OUT" | grep -c '^4\.29 .* rate limit: 5 requests/s$')"
}

test_amplification_small_blocks_then_echo() {
    with_conf
    for i in 1 2 3 4; do
        coap post "rd?ep=amp$i" -t 40 -e "$(links 4)"
    done
    # CON GET /rd-lookup/res: 19 bytes asking for about 700.
    local get_res
    get_res="4101abcd01b9$(hex rd-lookup)03$(hex res)"
    RAW_OUT=$(COAP_RAW_SIZES=1 timeout 60 "$RAW" 127.0.0.1 "$PORT" "$get_res" 1 300)
    expect_match "unverified: a first block of 16 bytes" '^2\.05 [0-9]+ <coap://127\.0\.0\.$' \
        "$(printf '%s\n' "$RAW_OUT" | head -n 1)"
    local size
    size=$(printf '%s\n' "$RAW_OUT" | sed -n 's/^bytes //p')
    expect_eq "within three times the request" "yes" "$([ "$size" -le 57 ] && echo yes)"
    # The same asking for 1024-byte blocks (Block2 0/szx 6), and for later 256-byte blocks:
    # every block passes the limit, so each is cut to a small one (RFC 7959 lets the server
    # answer with a smaller block than asked for).
    local req
    for req in "${get_res}c106" "${get_res}c114" "${get_res}c124"; do
        RAW_OUT=$(COAP_RAW_SIZES=1 timeout 60 "$RAW" 127.0.0.1 "$PORT" "$req" 1 300)
        expect_match "asked for big blocks ($req): a small block" '^2\.05 [0-9]+ .{16}$' \
            "$(printf '%s\n' "$RAW_OUT" | head -n 1)"
        size=$(printf '%s\n' "$RAW_OUT" | sed -n 's/^bytes //p')
        expect_eq "asked for big blocks: within three times" "yes" \
            "$([ "$size" -le $((3 * ${#req} / 2)) ] && echo yes)"
    done
    # BERT (SZX 7) exists only over reliable transports.
    raw "${get_res}c107"
    expect_match "Block2 SZX 7: 4.00" '^4\.00 [0-9]+ Block2 SZX 7' "$RAW_OUT"
    raw "$(small_get 3)"
    expect_match "small answers go out" '^2\.05 ' "$RAW_OUT"
    # GET /rd-lookup/ep?ep=none with Observe (6): an unverified observer is served like anyone,
    # within the limit; its notifications will be confirmable.
    raw "4101abce016059$(hex rd-lookup)02$(hex ep)47$(hex ep=none)"
    expect_match "an unverified observer is answered" '^2\.05 ' "$RAW_OUT"
    # GET /metrics (20 bytes with an 8-byte token) is held to the same limit.
    raw "4801abcf0102030405060708b7$(hex metrics)"
    expect_match "metrics: a first block of 16 bytes" '^2\.05 [0-9]+ .{16}$' "$RAW_OUT"
    coap get 'rd-lookup/res'
    expect_eq "coap-client follows the small blocks" "2.05" "$CODE"
    expect_match "and gets every link" '/s/4>;rt="sensor-4"' "$BODY"
    expect_eq "all 16 links" "16" "$(printf '%s' "$BODY" | tr ',' '\n' | grep -c '^<')"
    expect_match "the blocks carry an Echo value" 'Block2:0/M/16.*Echo:0x' "$(cat "$WORK/out")"
    # coap-client sent the value back with its block requests: the address is verified.
    raw "$get_res"
    expect_match "then the whole answer at once" '^2\.05 [0-9]+ <coap://.*sensor-4"$' "$RAW_OUT"

    with_conf 'amplification echo'
    coap post 'rd?ep=amp' -t 40 -e "$(links 4)"
    raw "$get_res"
    expect_match "echo: 4.01 and no links" '^4\.01 [0-9]+ repeat with the Echo option$' "$RAW_OUT"
    local asked
    asked=$(grep -c 'asking for Echo' "$WORK/rd.log")
    coap get 'rd-lookup/res'
    expect_eq "coap-client repeats with Echo" "2.05" "$CODE"
    expect_match "and gets the links" '/s/4>;rt="sensor-4"' "$BODY"
    expect_eq "after one challenge" "$((asked + 1))" "$(grep -c 'asking for Echo' "$WORK/rd.log")"
    coap get 'rd-lookup/res'
    expect_eq "the address stays verified" "$((asked + 1))" "$(grep -c 'asking for Echo' "$WORK/rd.log")"
    raw "$get_res"
    expect_match "from any port" '^2\.05 [0-9]+ <coap://' "$RAW_OUT"

    with_conf 'amplification off'
    coap post 'rd?ep=amp' -t 40 -e "$(links 20)"
    raw "$get_res"
    expect_match "off: answered" '^2\.05 ' "$RAW_OUT"
}

# libcoap 4.3.1 takes a CSM (7.01, RFC 8323) over UDP and sets the session's MTU from its
# Max-Message-Size; with a tiny one, its next Block2 answer spun for ever. Signaling never
# reaches libcoap over UDP.
test_signaling_over_udp_is_dropped() {
    with_conf
    coap post 'rd?ep=csm' -t 40 -e "$(links 4)"
    expect_alive "before the CSM"
    # NON 7.01 with Max-Message-Size (option 2) 10, then CON GET /rd-lookup/res from one port.
    raw "50e10001210a,4101000201b9$(hex rd-lookup)03$(hex res)"
    expect_eq "no answer to the CSM" "timeout" "$(printf '%s\n' "$RAW_OUT" | head -n 1)"
    expect_match "the lookup from the same port is answered" '^2\.05 2 <coap://' \
        "$(printf '%s\n' "$RAW_OUT" | sed -n 2p)"
    coap get 'rd-lookup/ep?ep=csm'
    expect_eq "the server goes on" "2.05" "$CODE"
}

test_block_past_the_end_is_400() {
    with_conf 'amplification off'
    coap post 'rd?ep=past' -t 40 -e "$(links 4)"
    # Block2 50/szx 6: far past the end of a 150-byte answer.
    raw "4101abd001b9$(hex rd-lookup)03$(hex res)c20326"
    expect_match "lookup: 4.00 with the reason" '^4\.00 [0-9]+ block 50 is past the end' "$RAW_OUT"
    raw "4101abd101b7$(hex metrics)c20326"
    expect_match "metrics: 4.00 with the reason" '^4\.00 [0-9]+ block 50 is past the end' "$RAW_OUT"
    coap get 'rd-lookup/ep?ep=past'
    expect_eq "the server goes on" "2.05" "$CODE"
}

test_garbage_then_normal_request() {
    with_conf
    local bad
    for bad in 00 ff 4101 41 '5f01000101' '4101000101ff' '4101000201d4' '410100030111' \
        '41010004011d' '41010005011e00' '4101000601bd10' '4101000701b4616263' \
        "e101000801$(hex junk)" '4101000901f0' '4101000a01b272640d10ff' '4001000b' \
        "4102000c01b2$(hex rd)c10e$(hex '</a>')" "4102000d01b2$(hex rd)d41400000000ff3c"; do
        raw "$bad"
    done
    expect_eq "still alive" "0" "$(kill -0 "$RD_PID" 2>/dev/null; echo $?)"
    coap post 'rd?ep=after-garbage' -t 40 -e '</ok>'
    expect_eq "normal registration afterwards" "2.01" "$CODE"
    coap get 'rd-lookup/ep?ep=after-garbage'
    expect_match "and lookup" 'ep="after-garbage"' "$BODY"
    raw "4102000e01b2$(hex rd)1128"
    expect_match "a POST without ep gets 4.00" '^4\.00 14 ' "$RAW_OUT"
}

test_full_map_refuses_writes_and_serves_reads() {
    with_conf 'map_size 1' 'max_payload 65536' 'max_links 4096' 'amplification off'
    coap post 'rd?ep=first' -t 40 -e '</first>'
    expect_eq "first" "2.01" "$CODE"
    local first=$LOCATION
    links 900 >"$WORK/many.lf"
    local i code=""
    for i in $(seq 1 60); do
        coap post "rd?ep=fill$i" -t 40 -b 1024 -f "$WORK/many.lf"
        code=$CODE
        [ "$code" = "2.01" ] || break
    done
    expect_eq "a full map refuses writes" "5.03" "$code"
    echo "map_size 1 MiB: full after $((i - 1)) registrations of 900 links"
    expect_eq "diagnostic" "directory full" "$BODY"
    coap get "$first"
    expect_eq "reads still served" "2.05" "$CODE"
    coap get 'rd-lookup/ep?ep=first'
    expect_match "lookups still served" 'ep="first"' "$BODY"
    coap post "$first"
    expect_match "update: success or a clean 5.03" '^(2\.04|5\.03)$' "$CODE"
    expect_match "logged" 'store full' "$(cat "$WORK/rd.log")"
    stop_rd TERM
    start_rd -c "$WORK/limits.conf"
    coap get "$first"
    expect_eq "intact after a restart" "2.05" "$CODE"
    coap get 'rd-lookup/ep?ep=fill1'
    expect_match "what was acknowledged is there" 'ep="fill1"' "$BODY"
}

# kill -9 while a burst of registrations runs; every acknowledged one must survive.
kill_during_burst() {
    with_conf "sync $1"
    : >"$WORK/acked"
    (
        for i in $(seq 1 400); do
            if timeout 5 "$CLIENT" -v 6 -B 2 -m post -t 40 -e '</burst>' \
                "coap://127.0.0.1:$PORT/rd?ep=burst$i&lt=3600" 2>&1 | grep -q 'c:2\.01'; then
                echo "burst$i" >>"$WORK/acked"
            else
                break
            fi
        done
    ) &
    local burst=$!
    # Kill while the burst runs, once some registrations are acknowledged.
    wait_until 20 eval '[ "$(wc -l <"$WORK/acked")" -ge 10 ]'
    stop_rd KILL
    wait "$burst"
    local acked
    acked=$(wc -l <"$WORK/acked")
    expect_match "sync $1: some registrations were acknowledged" '^[1-9][0-9]*$' "$acked"
    start_rd -c "$WORK/limits.conf"
    coap get 'rd-lookup/ep?ep=burst*&count=1000'
    local missing=0 ep
    while read -r ep; do
        printf '%s' "$BODY" | grep -q "ep=\"$ep\"" || missing=$((missing + 1))
    done <"$WORK/acked"
    expect_eq "sync $1: acknowledged registrations lost ($acked acknowledged)" "0" "$missing"
    echo "kill -9 with sync $1: $acked registrations acknowledged, $missing missing after restart"
}

# With the default configuration one source cannot fill the store: a burst of 120 new
# registrations from one address gets write_rate_burst (50) through, then 4.29 with Max-Age
# beyond write_rate_limit (10 a second).
test_default_write_rate_per_source() {
    with_conf
    local i hex="" t0 t1 ok refused
    for i in $(seq 100 219); do
        # CON POST /rd?ep=fillNNN, MID i, Content-Format 40, payload </f>.
        hex="$hex${hex:+,}4002$(printf '%04x' "$i")b2$(hex rd)1128"
        hex="${hex}3a$(hex "ep=fill$i")ff$(hex '</f>')"
    done
    t0=$(date +%s)
    raw "$hex"
    t1=$(date +%s)
    ok=$(printf '%s\n' "$RAW_OUT" | grep -c '^2\.01')
    refused=$(printf '%s\n' "$RAW_OUT" | grep -c '^4\.29 [0-9]* too many registrations per second')
    echo "burst of 120 registrations from one address: $ok created, $refused refused in" \
        "$((t1 - t0)) s"
    expect_eq "at most the burst and the rate let through" "yes" \
        "$([ "$ok" -le $((50 + 10 * (t1 - t0 + 1))) ] && echo yes)"
    expect_eq "the rest refused with 4.29" "120" "$((ok + refused))"
    coap get 'metrics'
    expect_match "refusals counted" 'core_rd_limited_total\{bound="write_rate_limit"\} [1-9]' \
        "$BODY"
    coap post 'rd?ep=after-burst&lt=86400' -t 40 -e '</a>' -a 127.0.0.2
    expect_eq "another address still registers" "2.01" "$CODE"
}

# 3000 five-byte garbage datagrams from one address: the log gets log_rate_limit (10) lines a
# second of them and a summary of what it suppressed, not a line each.
test_garbage_flood_log_is_rate_limited() {
    with_conf
    local i before after t0 t1
    before=$(wc -l <"$WORK/rd.log")
    t0=$(date +%s)
    exec 3<>"/dev/udp/127.0.0.1/$PORT"
    for i in $(seq 1 3000); do
        printf 'hello' >&3
    done
    exec 3>&-
    coap get '.well-known/core'
    expect_eq "server alive after the flood" "2.05" "$CODE"
    wait_logged 'log lines suppressed' 5
    t1=$(date +%s)
    after=$(tail -n +"$((before + 1))" "$WORK/rd.log" | grep -c 'discard malformed PDU')
    echo "3000 garbage datagrams: $after lines about them in the log"
    expect_eq "at most the budget's lines" "yes" "$([ "$after" -le $((10 * (t1 - t0 + 2))) ] && echo yes)"
    expect_match "suppressed lines summed up" 'log lines suppressed" source=libcoap count=[1-9]' \
        "$(cat "$WORK/rd.log")"
    coap get 'metrics'
    expect_match "suppressed lines counted" 'core_rd_limited_total\{bound="log_rate_limit"\} [1-9]' \
        "$BODY"
}

# Lines a handler logs count against the requester's address: 100 refused registrations from
# one address log at most the budget, then a summary naming the address.
test_log_lines_per_source_are_rate_limited() {
    with_conf 'max_per_source 1' 'write_rate_limit 0'
    local i hex="" n t0 t1
    for i in $(seq 300 400); do
        hex="$hex${hex:+,}4002$(printf '%04x' "$i")b2$(hex rd)11283a$(hex "ep=many$i")ff$(hex '</f>')"
    done
    t0=$(date +%s)
    raw "$hex"
    t1=$(date +%s)
    expect_eq "all but the first refused" "100" "$(printf '%s\n' "$RAW_OUT" | grep -c '^4\.29')"
    wait_logged 'log lines suppressed" source=127.0.0.1' 5
    n=$(grep -c 'limit: coap://127.0.0.1:[0-9]* holds' "$WORK/rd.log")
    echo "100 refused registrations: $n refusal lines in the log"
    expect_eq "at most the budget's lines" "yes" "$([ "$n" -le $((10 * (t1 - t0 + 2))) ] && echo yes)"
    expect_match "summary names the source" 'log lines suppressed" source=127\.0\.0\.1 count=[1-9]' \
        "$(cat "$WORK/rd.log")"
}

# 70 HTTP connections from one address that send their request a byte at a time never go
# idle; /health must still answer while they trickle (http_connections_per_ip, 16 by default:
# a newcomer takes the place of the oldest such connection).
test_trickling_http_connections_do_not_starve_health() {
    stop_rd
    fresh_data
    start_rd_http
    local fds=() fd i status="" t0 t1
    # Connections the server shuts down answer a write with EPIPE, not with the end of bash.
    trap '' PIPE
    for i in $(seq 1 70); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$HPORT" || break
        fds+=("$fd")
        printf 'GET /he' >&"$fd" 2>/dev/null
    done
    expect_eq "70 connections opened" "70" "${#fds[@]}"
    t0=$(date +%s)
    # Until /health answers, 15 s at most; each round every connection trickles one more byte.
    for i in $(seq 1 75); do
        for fd in "${fds[@]}"; do
            printf 'a' >&"$fd" 2>/dev/null
        done
        status=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" &&
            printf "GET /health HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3' "$HPORT" 2>/dev/null |
            cut -d' ' -f2)
        [ "$status" = 200 ] && break
        # The trickle's pace: time must pass between one byte and the next, or the
        # connections would not be slow.
        sleep 0.2
    done
    t1=$(date +%s)
    for fd in "${fds[@]}"; do
        exec {fd}>&-
    done
    trap - PIPE
    echo "70 trickling HTTP connections: /health ${status:-unanswered} after $((t1 - t0)) s"
    expect_eq "/health answers while they trickle" "200" "$status"
    http GET /metrics
    expect_match "connections turned away counted" \
        'core_rd_limited_total\{bound="http_connections"\} [1-9]' "$HTTP_BODY"
}

test_kill_9_during_burst_loses_nothing_acknowledged() {
    kill_during_burst periodic
    kill_during_burst never
}

# kill -9 while rd-bench keeps 32 registrations in flight, so that each turn of the loop commits
# many in one transaction and holds their answers: every registration answered before the kill
# is there after the restart (its location takes an update).
test_kill_9_during_batched_burst_loses_nothing_acknowledged() {
    local acked line
    if [ -z "$BENCH" ]; then
        echo "SKIP [$CURRENT]: built without rd-bench (RD_BENCH=OFF)"
        return
    fi
    with_conf 'sync periodic' 'max_per_source 0' 'write_rate_limit 0' 'log_rate_limit 0'
    # After the kill, each request left times out: 50 ms, one try, 32 at a time, so the rest of
    # 6000 takes seconds. One answered later than that is simply not counted as answered.
    "$BENCH" --server "127.0.0.1:$PORT" -n 6000 -w 32 --phases register --locations "$WORK/loc" \
        --timeout-ms 50 --tries 1 --max-seconds 120 >"$WORK/bench.out" 2>&1 &
    local bench=$!
    # rd-bench registers bench-0, bench-1, ... in order: kill once the log has the 1500th.
    wait_until 60 grep -q 'registered ep=bench-1500 ' "$WORK/rd.log" ||
        fail "bench-1500 not registered within 60 s"
    stop_rd KILL
    wait "$bench"
    acked=$(wc -l <"$WORK/loc" 2>/dev/null || echo 0)
    expect_eq "hundreds of registrations answered before the kill" 1 "$((acked >= 500))"
    expect_eq "and not all of them: the kill came during the burst" 1 "$((acked < 6000))"
    start_rd -c "$WORK/limits.conf"
    "$BENCH" --server "127.0.0.1:$PORT" -n 6000 -w 32 --phases update --locations "$WORK/loc" \
        >"$WORK/update.out" 2>&1
    line=$(grep '^phase=update' "$WORK/update.out")
    expect_match "every answered registration updated after the restart ($acked)" \
        " ops=$acked ok=$acked " "$line"
    echo "kill -9 during a burst of 32 in flight: $acked registrations answered, all there"
}

run_test test_payload_over_max_is_413_with_size1
run_test test_block1_checked_before_reassembly
run_test test_abandoned_block1_transfers_stay_bounded
run_test test_links_over_max_is_400
run_test test_lifetime_outside_range_is_400_with_range
run_test test_long_query_and_attributes_are_400
run_test test_directory_full_is_503_with_max_age
run_test test_registrations_per_source_is_429
run_test test_rate_limit_is_429_then_recovers
run_test test_amplification_small_blocks_then_echo
run_test test_block_past_the_end_is_400
run_test test_signaling_over_udp_is_dropped
run_test test_garbage_then_normal_request
run_test test_full_map_refuses_writes_and_serves_reads
run_test test_default_write_rate_per_source
run_test test_garbage_flood_log_is_rate_limited
run_test test_log_lines_per_source_are_rate_limited
run_test test_trickling_http_connections_do_not_starve_health
run_test test_kill_9_during_burst_loses_nothing_acknowledged
run_test test_kill_9_during_batched_burst_loses_nothing_acknowledged
summary
