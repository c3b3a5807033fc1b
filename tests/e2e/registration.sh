#!/usr/bin/env bash
# End-to-end tests of the registration interface (RFC 9176 section 5): the real core-rd on a
# loopback port with a fresh LMDB directory, driven over UDP by coap-client-openssl.
# Usage: registration.sh CORE_RD COAP_RAW
set -u
RD=$1
RAW=$2
. "$(dirname "$0")/lib.sh"

LINKS='</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor"'

test_discovery_lists_directory() {
    coap get .well-known/core
    expect_eq "code" "2.05" "$CODE"
    expect_match "rd link" '</rd>;rt="?core.rd"?;ct=40(,|$)' "$BODY"
    expect_no_match "no registration resources listed" '</rd/' "$BODY"
    coap get '.well-known/core?rt=core.rd*'
    expect_match "rt=core.rd* filter" '</rd>' "$BODY"
    coap get '.well-known/core?rt=core.rd'
    expect_match "rt=core.rd filter" '</rd>' "$BODY"
    coap get '.well-known/core?rt=core.xyz'
    expect_no_match "non-matching filter" '</rd>' "$BODY"
}

test_register_creates_location() {
    coap post 'rd?ep=node1&lt=300' -t 40 -e "$LINKS"
    expect_eq "code" "2.01" "$CODE"
    expect_match "location" '^rd/[0-9a-z]{8}$' "$LOCATION"
    local loc=$LOCATION
    coap get "$loc"
    expect_eq "get code" "2.05" "$CODE"
    expect_eq "links kept as sent" "$LINKS" "$BODY"
    expect_match "content-format" 'Content-Format:application/link-format' "$(cat "$WORK/out")"
}

test_reregister_replaces_in_place() {
    coap post 'rd?ep=node2' -t 40 -e '</a>'
    local first=$LOCATION
    coap post 'rd?ep=node2&et=oic.d.sensor' -t 40 -e '</b>;rt=x'
    expect_eq "code" "2.01" "$CODE"
    expect_eq "same location" "$first" "$LOCATION"
    coap get "$first"
    expect_eq "links replaced" '</b>;rt=x' "$BODY"
    coap post 'rd?ep=node2&d=other' -t 40 -e '</c>'
    expect_eq "code in another sector" "2.01" "$CODE"
    expect_ne "another sector, another location" "$first" "$LOCATION"
}

test_register_without_content_format_is_link_format() {
    coap post 'rd?ep=nocf' -e '</x>'
    expect_eq "code" "2.01" "$CODE"
}

test_register_rejects_bad_parameters() {
    coap post 'rd?lt=60' -t 40 -e '</a>'
    expect_eq "missing ep" "4.00" "$CODE"
    expect_match "diagnostic" 'ep' "$BODY"
    for lt in 0 -1 abc 4294967296 1.5 ''; do
        coap post "rd?ep=bad-lt&lt=$lt" -t 40 -e '</a>'
        expect_eq "lt=$lt" "4.00" "$CODE"
    done
    coap post 'rd?ep=max-lt&lt=604800' -t 40 -e '</a>'
    expect_eq "lt=lifetime_max (default 7 days) accepted" "2.01" "$CODE"
    coap post 'rd?ep=max-lt&lt=4294967295' -t 40 -e '</a>'
    expect_eq "lt=2^32-1 over the default lifetime_max" "4.00" "$CODE"
    for base in 'not-a-uri' '/path' 'coap://h%23?x' 'coap://[fe80::1%25eth0]'; do
        coap post "rd?ep=bad-base&base=$base" -t 40 -e '</a>'
        expect_eq "base=$base" "4.00" "$CODE"
    done
    coap post "rd?ep=$(printf 'x%.0s' $(seq 64))" -t 40 -e '</a>'
    expect_eq "ep of 64 bytes" "4.00" "$CODE"
    coap post 'rd?ep=a&ep=b' -t 40 -e '</a>'
    expect_eq "ep twice" "4.00" "$CODE"
    coap post 'rd?ep=p&page=1' -t 40 -e '</a>'
    expect_eq "lookup parameter" "4.00" "$CODE"
}

test_register_rejects_bad_links_and_keeps_old() {
    coap post 'rd?ep=keeper' -t 40 -e '</good>;rt=g'
    local loc=$LOCATION
    for body in '</a>;rt="unterminated' 'garbage' '<relative/path>' '<//host/x>' '</a>,,</b>'; do
        coap post 'rd?ep=keeper' -t 40 -e "$body"
        expect_eq "body $body" "4.00" "$CODE"
        expect_ne "diagnostic for $body" "" "$BODY"
    done
    coap get "$loc"
    expect_eq "old links intact" '</good>;rt=g' "$BODY"
}

test_register_rejects_other_content_format() {
    coap post 'rd?ep=cf' -t 0 -e '</a>'
    expect_eq "text/plain" "4.15" "$CODE"
    coap post 'rd?ep=cf' -t 50 -e '[]'
    expect_eq "json" "4.15" "$CODE"
}

test_block1_registration_and_block2_read() {
    local big="" i
    for i in $(seq 1 60); do
        big="$big</sensors/s$i>;rt=\"temperature-c\";if=\"sensor\";title=\"Sensor number $i\","
    done
    big=${big%,}
    printf '%s' "$big" >"$WORK/big.lf"
    expect_match "payload above 1500 bytes" '^[0-9]{4,}$' "$(wc -c <"$WORK/big.lf")"
    coap post 'rd?ep=bignode' -t 40 -b 64 -f "$WORK/big.lf"
    expect_eq "block1 code" "2.01" "$CODE"
    expect_match "block1 used" 'Block1' "$(cat "$WORK/out")"
    coap get "$LOCATION" -b 64
    expect_eq "block2 code" "2.05" "$CODE"
    expect_eq "whole payload back" "$big" "$BODY"
}

test_update_refreshes_and_changes() {
    coap post 'rd?ep=upd&lt=100&et=a' -t 40 -e '</u>'
    local loc=$LOCATION
    coap post "$loc"
    expect_eq "empty update" "2.04" "$CODE"
    coap post "$loc?lt=200&base=coap://[2001:db8::1]&new=attr"
    expect_eq "update with parameters" "2.04" "$CODE"
    coap post "$loc?lt=0"
    expect_eq "bad lt" "4.00" "$CODE"
    coap post "$loc?ep=other"
    expect_eq "ep cannot change" "4.00" "$CODE"
    coap post "$loc?base=nonsense"
    expect_eq "bad base" "4.00" "$CODE"
    coap post "$loc" -t 0 -e 'x'
    expect_eq "update with text body" "4.15" "$CODE"
    coap post "$loc" -t 40 -e '</v>;rt=new'
    expect_eq "update with links (LwM2M)" "2.04" "$CODE"
    coap get "$loc"
    expect_eq "links replaced by update" '</v>;rt=new' "$BODY"
    coap post 'rd/zzzzzzzz'
    expect_eq "unknown location" "4.04" "$CODE"
}

test_delete_removes() {
    coap post 'rd?ep=del' -t 40 -e '</d>'
    local loc=$LOCATION
    coap delete "$loc"
    expect_eq "delete" "2.02" "$CODE"
    coap delete "$loc"
    expect_eq "delete again" "4.04" "$CODE"
    coap get "$loc"
    expect_eq "get after delete" "4.04" "$CODE"
    coap post "$loc"
    expect_eq "update after delete" "4.04" "$CODE"
    coap post 'rd?ep=del' -t 40 -e '</d>'
    expect_ne "a new location, never reused" "$loc" "$LOCATION"
}

test_unknown_paths_and_methods() {
    coap get 'nothing/here'
    expect_eq "unknown path" "4.04" "$CODE"
    coap delete 'rd/00000000'
    expect_eq "delete of unknown location" "4.04" "$CODE"
    coap delete 'elsewhere'
    expect_eq "delete of unknown path" "4.04" "$CODE"
    coap get 'rd'
    expect_eq "GET on the directory" "4.05" "$CODE"
    coap post 'rd?ep=meth' -t 40 -e '</m>'
    coap put "$LOCATION" -e 'x'
    expect_eq "PUT on a registration" "4.05" "$CODE"
}

test_unknown_critical_option() {
    coap get '.well-known/core' -O 9,x
    expect_eq "unknown critical option 9" "4.02" "$CODE"
    # A raw CON GET with critical option 65001 (extended delta 0xfcdc).
    local out
    out=$("$RAW" 127.0.0.1 "$PORT" "41017a02bfe1fcdc78" 1)
    expect_match "unknown critical option 65001" '^4\.02 31234' "$out"
    # Outside the registration interface conditional requests are refused, never run as if
    # unconditional.
    coap get 'rd-lookup/ep' -O 5
    expect_eq "If-None-Match on a lookup: 4.02" "4.02" "$CODE"
    expect_match "with the reason" 'If-Match and If-None-Match apply to registrations only' "$BODY"
}

# etag: the ETag option of the last answer, as coap-client's -O takes it (0x...).
etag() { grep -E '^v:1 t:[A-Z]+ c:[0-9]' "$WORK/out" | tail -n 1 | grep -oE 'ETag:0x[0-9a-f]+' |
    sed 's/ETag://'; }

# RFC 7252 section 5.10.8 on the registration interface: GET /rd/<id> gives the registration's
# tag, and an update or removal with a stale If-Match gets 4.12 and changes nothing.
test_conditional_update_and_delete() {
    # An explicit base: each coap-client run sends from another port, and an implicit base
    # that follows it would change the registration (and its tag) with every request.
    coap post 'rd?ep=cond&base=coap://127.0.0.1:5683' -t 40 -e '</c>'
    local loc=$LOCATION tag stale
    coap get "$loc"
    tag=$(etag)
    expect_match "GET /rd/<id> carries an ETag" '^0x[0-9a-f]+$' "$tag"
    coap get "$loc" -O "4,$tag"
    expect_eq "revalidation with it: 2.03" "2.03" "$CODE"
    coap post "$loc" -O "1,$tag"
    expect_eq "refresh with the current tag: 2.04" "2.04" "$CODE"
    coap get "$loc"
    expect_eq "a refresh keeps the tag" "$tag" "$(etag)"
    coap post "$loc?et=changed" -O "1,$tag"
    expect_eq "update with the current tag: 2.04" "2.04" "$CODE"
    stale=$tag
    coap get "$loc"
    tag=$(etag)
    expect_ne "an attribute change changes the tag" "$stale" "$tag"
    coap post "$loc?lt=300" -t 40 -e '</stale>' -O "1,$stale"
    expect_eq "update with a stale If-Match: 4.12" "4.12" "$CODE"
    expect_match "with the reason" 'If-Match: the registration has changed' "$BODY"
    coap delete "$loc" -O "1,$stale"
    expect_eq "removal with a stale If-Match: 4.12" "4.12" "$CODE"
    coap get "$loc"
    expect_eq "the registration is untouched" "</c>" "$BODY"
    expect_eq "and so is its tag" "$tag" "$(etag)"
    coap post "$loc" -O 5
    expect_eq "If-None-Match on an existing registration: 4.12" "4.12" "$CODE"
    coap post "$loc" -O 1
    expect_eq "an empty If-Match matches the existing registration" "2.04" "$CODE"
    coap delete "$loc" -O "1,$tag" -O "1,$stale"
    expect_eq "removal when one If-Match is current: 2.02" "2.02" "$CODE"
    coap delete "$loc" -O 1
    expect_eq "an empty If-Match on a removed registration: 4.12" "4.12" "$CODE"
    expect_match "with the reason" 'If-Match: no such registration' "$BODY"
    coap delete "$loc" -O 5
    expect_eq "If-None-Match on a removed registration runs the request" "4.04" "$CODE"
}

# If-None-Match on POST /rd registers only a new (ep, d), so a provisioning system never
# overwrites a device; If-Match there concerns the registration (ep, d) names.
test_conditional_registration() {
    coap post 'rd?ep=prov&d=site&base=coap://127.0.0.1:5683' -t 40 -e '</first>' -O 5
    expect_eq "If-None-Match on a new (ep, d): 2.01" "2.01" "$CODE"
    local loc=$LOCATION tag
    coap post 'rd?ep=prov&d=site' -t 40 -e '</second>' -O 5
    expect_eq "If-None-Match on a registered (ep, d): 4.12" "4.12" "$CODE"
    expect_match "with the reason" 'If-None-Match: already registered' "$BODY"
    coap get "$loc"
    expect_eq "the registration is not overwritten" "</first>" "$BODY"
    tag=$(etag)
    coap post 'rd?ep=prov&d=other' -t 40 -e '</x>' -O 5
    expect_eq "another sector is another registration" "2.01" "$CODE"
    coap post 'rd?ep=prov&d=site' -t 40 -e '</third>' -O 1,0x0102
    expect_eq "re-registration with a stale If-Match: 4.12" "4.12" "$CODE"
    coap post 'rd?ep=prov&d=site&base=coap://127.0.0.1:5683' -t 40 -e '</third>' -O "1,$tag"
    expect_eq "re-registration with the current If-Match: 2.01" "2.01" "$CODE"
    expect_eq "in place" "$loc" "$LOCATION"
    coap post 'rd?ep=prov-new' -t 40 -e '</x>' -O 1
    expect_eq "an empty If-Match never creates" "4.12" "$CODE"
}

# A CON request sent twice with the same message ID is one request: the duplicate gets the
# same answer and changes nothing. DELETE shows it: a second execution would answer 4.04.
test_retransmission_is_answered_once() {
    coap post 'rd?ep=retx' -t 40 -e '</r>'
    local id=${LOCATION#rd/}
    local path_hex id_hex
    id_hex=$(printf '%s' "$id" | od -An -tx1 | tr -d ' \n')
    # CON DELETE, MID 0x7a01, token 0xbe; Uri-Path "rd" (delta 11, len 2), Uri-Path id (len 8).
    path_hex="b2$(printf 'rd' | od -An -tx1 | tr -d ' \n')08${id_hex}"
    local out
    out=$("$RAW" 127.0.0.1 "$PORT" "41047a01be${path_hex}" 2)
    expect_eq "both copies answered 2.02" "2.02 31233
2.02 31233" "$out"
    coap get "rd/$id"
    expect_eq "deleted once" "4.04" "$CODE"
}

# A non-confirmable request that comes again is one request too (RFC 7252 section 4.5): the
# duplicate of a DELETE gets 2.02 again, where a second execution would answer 4.04.
test_non_confirmable_duplicate_is_answered_once() {
    coap post 'rd?ep=nondup' -t 40 -e '</n>'
    local id=${LOCATION#rd/} out
    # NON DELETE /rd/<id>, MID 0x7b01, token 0xbf, sent twice from one port.
    out=$("$RAW" 127.0.0.1 "$PORT" "51047b01bfb2$(hex rd)08$(hex "$id")" 2)
    expect_eq "both copies answered 2.02" "2 2" \
        "$(printf '%s\n' "$out" | grep -c '^2\.02 ') $(printf '%s\n' "$out" | wc -l)"
    coap get "rd/$id"
    expect_eq "deleted once" "4.04" "$CODE"
}

# answered_with CODE METHOD PATH [coap-client options...]: the request gets CODE.
answered_with() {
    local want=$1
    shift
    COAP_WAIT=2 coap "$@"
    [ "$CODE" = "$want" ]
}

test_expiry_and_grace() {
    coap post 'rd?ep=short&lt=2' -t 40 -e '</s>'
    local loc=$LOCATION
    coap get "$loc"
    expect_eq "live" "2.05" "$CODE"
    # lt 2 s, rounded up to the next whole second; a GET does not refresh it.
    wait_until 10 answered_with 4.04 get "$loc"
    expect_eq "expired: gone from answers" "4.04" "$CODE"
    coap post "$loc?lt=60"
    expect_eq "late update revives" "2.04" "$CODE"
    coap get "$loc"
    expect_eq "revived" "2.05" "$CODE"
    coap post 'rd?ep=short' -t 40 -e '</s>'
    expect_eq "re-registration keeps location" "$loc" "$LOCATION"
}

test_grace_period_ends() {
    coap post 'rd?ep=gone&lt=1' -t 40 -e '</g>'
    local loc=$LOCATION
    # lt 1 s (rounded up to the next whole second) + grace 1 s + one sweep (every second). An
    # update before the sweep would revive it, so wait for the sweep's line (the data directory
    # is fresh: nothing else is there to collect).
    wait_logged 'expired [0-9]* registrations for good' 10
    coap post "$loc"
    expect_eq "update after the grace period" "4.04" "$CODE"
    expect_match "collected in the log" 'expired [0-9]+ registrations for good' "$(cat "$WORK/rd.log")"
}

test_payload_limit() {
    head -c 3000 /dev/zero | tr '\0' 'a' | sed 's/^/<\//; s/$/>/' >"$WORK/large.lf"
    coap post 'rd?ep=huge' -t 40 -b 256 -f "$WORK/large.lf"
    expect_eq "over max_payload" "4.13" "$CODE"
}

test_persistence_across_restart() {
    coap post 'rd?ep=persist&lt=3600' -t 40 -e '</p>;rt=kept'
    local loc=$LOCATION
    stop_rd TERM
    expect_eq "clean exit on SIGTERM" "0" "$RD_STATUS"
    expect_match "shutdown logged" 'shutting down' "$(cat "$WORK/rd.log")"
    start_rd
    coap get "$loc"
    expect_eq "after restart" "2.05" "$CODE"
    expect_eq "links after restart" '</p>;rt=kept' "$BODY"
    coap post 'rd?ep=crash&lt=3600' -t 40 -e '</k>'
    local crash_loc=$LOCATION
    coap post "$loc?lt=7200"
    stop_rd KILL
    start_rd
    coap get "$crash_loc"
    expect_eq "acknowledged before kill -9" "2.05" "$CODE"
    coap post 'rd?ep=crash' -t 40 -e '</k>'
    expect_eq "same location after kill -9" "$crash_loc" "$LOCATION"
}

test_expiry_while_down() {
    coap post 'rd?ep=downexp&lt=1' -t 40 -e '</x>'
    local short=$LOCATION
    coap post 'rd?ep=downlive&lt=3600' -t 40 -e '</y>'
    local long=$LOCATION
    stop_rd TERM
    # Time itself must pass while the server is down: lt 1 s, rounded up to the next second.
    sleep 2
    start_rd
    coap get "$short"
    expect_eq "expired while down" "4.04" "$CODE"
    coap get "$long"
    expect_eq "still live after restart" "2.05" "$CODE"
}

test_ipv6_listener() {
    local v6port=$((PORT + 1))
    "$RD" -l "[::1]:$v6port" -d "$WORK/data6" 2>"$WORK/rd6.log" &
    local pid=$!
    # Listening, or gone at once where the host has no IPv6 loopback.
    wait_until 10 eval 'grep -q "listening on \[::1\]:$v6port" "$WORK/rd6.log" || ! kill -0 $pid'
    timeout 30 "$CLIENT" -v 6 -B 10 -m post -t 40 -e '</v6>' "coap://[::1]:$v6port/rd?ep=v6" \
        >"$WORK/out6" 2>&1
    if grep -q 'listening on' "$WORK/rd6.log"; then
        expect_match "IPv6 registration" 'c:2\.01' "$(cat "$WORK/out6")"
    else
        echo "SKIP [$CURRENT]: no IPv6 loopback on this host"
    fi
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

test_command_line() {
    "$RD" --help >"$WORK/help" 2>&1
    expect_eq "--help exits 0" "0" "$?"
    expect_match "--help lists --listen" '--listen' "$(cat "$WORK/help")"
    expect_match "--version" '^core-rd [0-9]' "$("$RD" --version)"
    "$RD" --bogus >/dev/null 2>&1
    expect_eq "unknown option" "2" "$?"
    printf 'listen 127.0.0.1:1\nlifetime_max abc\n' >"$WORK/bad.conf"
    "$RD" -c "$WORK/bad.conf" 2>"$WORK/err"
    expect_eq "bad config exits 2" "2" "$?"
    expect_match "bad config names line" 'bad.conf:2: lifetime_max' "$(cat "$WORK/err")"
}

test_config_file_and_override() {
    stop_rd
    printf 'listen 127.0.0.1:1\nlifetime_max 1000\ndefault_sector site1\n' >"$WORK/ok.conf"
    # --listen given by start_rd overrides the file's listen line.
    start_rd -c "$WORK/ok.conf"
    coap post 'rd?ep=conf&lt=1001' -t 40 -e '</c>'
    expect_eq "lifetime_max from file" "4.00" "$CODE"
    coap post 'rd?ep=conf&lt=1000' -t 40 -e '</c>'
    expect_eq "within lifetime_max" "2.01" "$CODE"
    local loc=$LOCATION
    coap post 'rd?ep=conf&d=site1' -t 40 -e '</c2>'
    expect_eq "default sector applied" "$loc" "$LOCATION"
    stop_rd
    start_rd
}

start_rd -c /dev/null
for t in test_discovery_lists_directory test_register_creates_location \
    test_reregister_replaces_in_place test_register_without_content_format_is_link_format \
    test_register_rejects_bad_parameters test_register_rejects_bad_links_and_keeps_old \
    test_register_rejects_other_content_format test_block1_registration_and_block2_read \
    test_update_refreshes_and_changes test_delete_removes test_unknown_paths_and_methods \
    test_unknown_critical_option test_conditional_update_and_delete \
    test_conditional_registration test_retransmission_is_answered_once \
    test_non_confirmable_duplicate_is_answered_once test_expiry_and_grace \
    test_persistence_across_restart test_expiry_while_down test_ipv6_listener \
    test_command_line test_config_file_and_override; do
    run_test "$t"
done

# Short limits for the tests that need them, on fresh data.
stop_rd
fresh_data
printf 'expiry_grace 1\nmax_payload 2048\n' >"$WORK/limits.conf"
start_rd -c "$WORK/limits.conf"
run_test test_grace_period_ends
run_test test_payload_limit

stop_rd
summary
