#!/usr/bin/env bash
# End-to-end tests of the lookup interface (RFC 9176 section 6): endpoint and resource lookup,
# filters, paging, Block2 and Observe, against the real core-rd over UDP with coap-client-openssl.
# Usage: lookup.sh CORE_RD COAP_RAW
set -u
RD=$1
RAW=$2
. "$(dirname "$0")/lib.sh"

# Count the links of a link-format document (commas outside quotes and angle brackets).
nlinks() {
    if [ -z "$1" ]; then
        echo 0
        return
    fi
    printf '%s' "$1" | awk 'BEGIN { RS = "\0" } {
        n = 1; q = 0; a = 0
        for (i = 1; i <= length($0); i++) {
            c = substr($0, i, 1)
            if (c == "\\" && q) { i++; continue }
            if (c == "\"") q = !q
            else if (!q && c == "<") a = 1
            else if (!q && c == ">") a = 0
            else if (!q && !a && c == ",") n++
        }
        print n }'
}

setup_directory() {
    coap post 'rd?ep=node1&et=sensor-node&base=coap://[2001:db8::1]' -t 40 \
        -e '</sensors/temp>;rt="temperature-c";if="sensor",</sensors/light>;rt="light-lux";if="sensor"'
    LOC1=$LOCATION
    coap post 'rd?ep=node2&d=floor2' -t 40 -e '</t>;rt="temperature-c"'
    LOC2=$LOCATION
    coap post 'rd?ep=node3&base=coap://h3.example.com' -t 40 \
        -e '</a>;rt="actuator";obs,<http://www.example.com/doc>;anchor="/a";rel="describedby"'
    LOC3=$LOCATION
}

test_discovery_lists_lookups() {
    coap get '.well-known/core'
    expect_match "ep lookup listed" '</rd-lookup/ep>;[^,]*rt="?core.rd-lookup-ep"?' "$BODY"
    expect_match "res lookup listed" '</rd-lookup/res>;[^,]*rt="?core.rd-lookup-res"?' "$BODY"
    expect_match "ct=40 on lookups" '</rd-lookup/res>;[^,]*ct=40' "$BODY"
    coap get '.well-known/core?rt=core.rd-lookup*'
    expect_eq "rt=core.rd-lookup* finds both" "2" "$(nlinks "$BODY")"
    coap get '.well-known/core?rt=core.rd*'
    expect_eq "rt=core.rd* finds all three" "3" "$(nlinks "$BODY")"
}

test_endpoint_lookup_all() {
    coap get 'rd-lookup/ep'
    expect_eq "code" "2.05" "$CODE"
    expect_eq "three endpoints" "3" "$(nlinks "$BODY")"
    expect_match "registration resource as target" "</$LOC1>" "$BODY"
    expect_match "rt=core.rd-ep" 'rt="?core.rd-ep"?' "$BODY"
    expect_no_match "never lt" ';lt=' "$BODY"
    expect_match "content-format" 'Content-Format:application/link-format' "$(cat "$WORK/out")"
    coap get 'rd-lookup/ep?rt=core.rd-ep'
    expect_eq "rt=core.rd-ep: the endpoint links carry it" "3" "$(nlinks "$BODY")"
    coap get 'rd-lookup/ep?rt=core.rd*&ep=node1'
    expect_eq "rt=core.rd* with ep" "1" "$(nlinks "$BODY")"
}

test_endpoint_lookup_filters() {
    coap get 'rd-lookup/ep?ep=node1'
    expect_eq "by ep" "1" "$(nlinks "$BODY")"
    expect_match "explicit base shown" 'base="coap://\[2001:db8::1\]"' "$BODY"
    expect_match "extra attribute shown" 'et="?sensor-node"?' "$BODY"
    coap get 'rd-lookup/ep?d=floor2'
    expect_eq "by sector" "1" "$(nlinks "$BODY")"
    expect_match "sector shown" 'd="?floor2"?' "$BODY"
    expect_match "implicit base shown" 'base="coap://127\.0\.0\.1:[0-9]+"' "$BODY"
    coap get 'rd-lookup/ep?rt=temperature-c'
    expect_eq "by resource type (cross-level)" "2" "$(nlinks "$BODY")"
    coap get 'rd-lookup/ep?ep=node*'
    expect_eq "prefix" "3" "$(nlinks "$BODY")"
    coap get 'rd-lookup/ep?et=sensor-node&rt=light-lux'
    expect_eq "two criteria" "1" "$(nlinks "$BODY")"
    coap get 'rd-lookup/ep?et=sensor-node&d=floor2'
    expect_eq "criteria that no endpoint meets together" "0" "$(nlinks "$BODY")"
    coap get "rd-lookup/ep?href=/$LOC2"
    expect_eq "by href" "1" "$(nlinks "$BODY")"
}

test_resource_lookup() {
    coap get 'rd-lookup/res'
    expect_eq "all links" "5" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?rt=temperature-c'
    expect_eq "by rt" "2" "$(nlinks "$BODY")"
    expect_match "resolved against explicit base" '<coap://\[2001:db8::1\]/sensors/temp>' "$BODY"
    expect_match "resolved against source address" '<coap://127\.0\.0\.1:[0-9]+/t>' "$BODY"
    coap get 'rd-lookup/res?rt=temp*'
    expect_eq "prefix on rt" "2" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?if=sensor'
    expect_eq "by if" "2" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?ep=node3'
    expect_eq "registration attribute filter" "2" "$(nlinks "$BODY")"
    expect_match "anchor resolved" 'anchor="coap://h3.example.com/a"' "$BODY"
    expect_match "absolute target kept" '<http://www.example.com/doc>' "$BODY"
    expect_match "link without anchor gets none" '<coap://h3.example.com/a>;rt="?actuator"?;obs(,|$)' "$BODY"
    coap get 'rd-lookup/res?obs'
    expect_eq "presence" "1" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?et=sensor-node'
    expect_eq "by endpoint type" "2" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?href=coap://[2001:db8::1]/sensors/light'
    expect_eq "by resolved href" "1" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?rt=nothing-like-this'
    expect_eq "no match code" "2.05" "$CODE"
    expect_eq "no match is empty" "" "$BODY"
}

test_paging() {
    coap get 'rd-lookup/res?count=2'
    local first=$BODY
    expect_eq "count" "2" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?count=2&page=0'
    expect_eq "page 0 is the first count links" "$first" "$BODY"
    coap get 'rd-lookup/res?count=2&page=1'
    expect_eq "page 1" "2" "$(nlinks "$BODY")"
    expect_ne "page 1 differs" "$first" "$BODY"
    coap get 'rd-lookup/res?count=2&page=2'
    expect_eq "last page" "1" "$(nlinks "$BODY")"
    coap get 'rd-lookup/res?count=2&page=3'
    expect_eq "past the end" "" "$BODY"
    coap get 'rd-lookup/ep?count=0'
    expect_eq "count=0" "" "$BODY"
    coap get 'rd-lookup/ep?count=1&page=2'
    expect_eq "endpoint paging" "1" "$(nlinks "$BODY")"
}

test_bad_lookups() {
    coap get 'rd-lookup/res?page=1'
    expect_eq "page without count" "4.00" "$CODE"
    expect_ne "diagnostic" "" "$BODY"
    coap get 'rd-lookup/res?count=abc'
    expect_eq "count=abc" "4.00" "$CODE"
    coap get 'rd-lookup/ep?page=x&count=1'
    expect_eq "page=x" "4.00" "$CODE"
    coap get 'rd-lookup/ep' -A 50
    expect_eq "Accept json" "4.06" "$CODE"
    coap post 'rd-lookup/ep'
    expect_eq "POST on lookup" "4.05" "$CODE"
}

test_base_changes_follow() {
    coap post "$LOC1?base=coaps://new.example.com"
    expect_eq "update base" "2.04" "$CODE"
    coap get 'rd-lookup/res?ep=node1'
    expect_match "re-resolved" '<coaps://new.example.com/sensors/temp>' "$BODY"
    coap get 'rd-lookup/ep?ep=node2'
    local before=$BODY
    # coap-client sends from a new source port each time: the implicit base follows it.
    coap post "$LOC2"
    coap get 'rd-lookup/ep?ep=node2'
    expect_ne "implicit base follows the latest update" "$before" "$BODY"
}

# lookup_count QUERY N: the lookup QUERY answers N links (BODY holds the answer).
lookup_count() {
    coap get "$1"
    [ "$(nlinks "$BODY")" = "$2" ]
}

# last_observed_has FILE TEXT / last_observed_lacks FILE TEXT: the last 2.05 with Observe that
# coap-client wrote to FILE holds TEXT, or holds no TEXT (and exists).
last_observed() {
    grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe.*' "$1" 2>/dev/null | tail -n 1
}
last_observed_has() { last_observed "$1" | grep -q -- "$2"; }
last_observed_lacks() {
    local last
    last=$(last_observed "$1")
    [ -n "$last" ] && ! printf '%s' "$last" | grep -q -- "$2"
}

# A registration and a lookup that arrive together are served in one loop turn, whose writes
# commit at its end: the lookup may not see the registration yet, but what it remembers must
# not hide it from the lookups after the commit.
test_lookup_in_the_turn_of_a_registration() {
    local post get
    post="41020101""01""b2$(hex rd)""1128""38$(hex ep=same1)""ff$(hex '</x>')"
    get="51010102""02""b9$(hex rd-lookup)""02$(hex ep)""48$(hex ep=same1)"
    RAW_OUT=$(COAP_RAW_BURST=1 timeout 30 "$RAW" 127.0.0.1 "$PORT" "$post,$get" 1 1000)
    expect_match "registered in the burst" '^2\.01 257' "$RAW_OUT"
    coap get 'rd-lookup/ep?ep=same1'
    expect_eq "a lookup after the commit finds it" "1" "$(nlinks "$BODY")"
}

test_expired_registrations_leave_lookups() {
    coap post 'rd?ep=brief&lt=1' -t 40 -e '</b>;rt=brief-type'
    coap get 'rd-lookup/res?rt=brief-type'
    expect_eq "live" "1" "$(nlinks "$BODY")"
    # lt=1: gone within a few seconds (the sweep runs every second).
    wait_until 10 lookup_count 'rd-lookup/res?rt=brief-type' 0
    expect_eq "expired" "0" "$(nlinks "$BODY")"
    coap get 'rd-lookup/ep?ep=brief'
    expect_eq "expired endpoint" "0" "$(nlinks "$BODY")"
}

test_block2_lookup() {
    local i
    for i in $(seq 1 30); do
        coap post "rd?ep=bulk$i&et=bulk" -t 40 -e "</sensors/s$i>;rt=\"bulk-sensor\";title=\"bulk sensor number $i\""
    done
    coap get 'rd-lookup/res?rt=bulk-sensor' -b 64
    expect_eq "code" "2.05" "$CODE"
    expect_eq "all links through Block2" "30" "$(nlinks "$BODY")"
    expect_match "Block2 used" 'Block2' "$(cat "$WORK/out")"
    coap get 'rd-lookup/ep?et=bulk&count=10&page=2'
    expect_eq "paging over many" "10" "$(nlinks "$BODY")"
}

test_observe_endpoint_lookup() {
    timeout 20 stdbuf -oL -eL "$CLIENT" -v 6 -B 10 -s 8 -m get "coap://127.0.0.1:$PORT/rd-lookup/ep?ep=watched" \
        >"$WORK/obs.out" 2>&1 &
    local obs=$!
    wait_until 10 grep -q 'Observe' "$WORK/obs.out"
    coap post 'rd?ep=watched&lt=3' -t 40 -e '</w>'
    wait_until 10 last_observed_has "$WORK/obs.out" 'watched'
    coap post 'rd?ep=unrelated' -t 40 -e '</u>'
    # The 3 s lifetime runs out: a last notification without the endpoint follows.
    wait_until 15 last_observed_lacks "$WORK/obs.out" 'watched'
    kill "$obs" 2>/dev/null
    wait "$obs" 2>/dev/null
    local notes
    notes=$(grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe' "$WORK/obs.out" | wc -l)
    expect_match "initial answer and notifications" '^[3-9]$|^[1-9][0-9]$' "$notes"
    expect_match "registration notified" "ep=\"?watched\"?" "$(cat "$WORK/obs.out")"
    # After the 3 s lifetime ran out, the last notification is the empty result again.
    local last
    last=$(grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe.*' "$WORK/obs.out" | tail -n 1)
    expect_no_match "expiry notified" "watched" "$last"
}

# On the dual-stack listener IPv4 peers arrive as ::ffff:a.b.c.d; their implicit base must name
# them as IPv4 (RFC 9176 section 5 needs a usable literal).
test_dual_stack_base_is_ipv4() {
    local port=$((PORT + 2)) pid
    "$RD" -l "[::]:$port" -d "$WORK/data-ds" 2>"$WORK/rd-ds.log" &
    pid=$!
    if wait_until 10 grep -q "listening on" "$WORK/rd-ds.log"; then
        timeout 30 "$CLIENT" -B 10 -m post -t 40 -e '</x>' \
            "coap://127.0.0.1:$port/rd?ep=v4mapped" >/dev/null 2>&1
        local body
        body=$(timeout 30 "$CLIENT" -B 10 -m get "coap://127.0.0.1:$port/rd-lookup/ep" 2>&1)
        expect_match "IPv4 literal in base" 'base="coap://127\.0\.0\.1:[0-9]+"' "$body"
        expect_no_match "no IPv4-mapped form" 'ffff' "$body"
    else
        echo "SKIP [$CURRENT]: no dual-stack socket on this host"
    fi
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

test_observe_sees_delete() {
    coap post 'rd?ep=doomed' -t 40 -e '</z>;rt=doomed-type'
    local loc=$LOCATION
    timeout 20 stdbuf -oL -eL "$CLIENT" -v 6 -B 6 -s 4 -m get \
        "coap://127.0.0.1:$PORT/rd-lookup/res?rt=doomed-type" >"$WORK/obs2.out" 2>&1 &
    local obs=$!
    wait_until 10 last_observed_has "$WORK/obs2.out" 'doomed-type'
    coap delete "$loc"
    wait_until 10 last_observed_lacks "$WORK/obs2.out" 'doomed-type'
    kill "$obs" 2>/dev/null
    wait "$obs" 2>/dev/null
    local first last
    first=$(grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe.*' "$WORK/obs2.out" | head -n 1)
    last=$(grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe.*' "$WORK/obs2.out" | tail -n 1)
    expect_match "initial answer has the link" 'doomed-type' "$first"
    expect_no_match "notified of the removal" 'doomed-type' "$last"
}

# Pages asked in any order, and again after a change, are the slices of the whole answer: the
# server remembers where pages start and must never serve a stale start.
check_pages() {
    local what=$1 query=$2 npages=$3
    local full joined="" p
    coap get "rd-lookup/res?$query"
    full=$BODY
    for p in 3 1 4 0 2 3 1; do
        coap get "rd-lookup/res?$query&count=5&page=$p"
        eval "PAGE_$p=\$BODY"
    done
    for p in $(seq 0 $((npages - 1))); do
        eval "joined=\$joined\${joined:+,}\$PAGE_$p"
    done
    expect_eq "$what: pages in any order join to the whole answer" "$full" "$joined"
}

test_paging_in_any_order() {
    local i j links
    for i in $(seq 1 12); do
        links=""
        for j in $(seq 1 $((i % 3 + 1))); do
            links="$links${links:+,}</p$j>;rt=\"pg-type\";pgx=1"
        done
        coap post "rd?ep=pg$i" -t 40 -e "$links"
        eval "PGLOC_$i=\$LOCATION"
    done
    check_pages "indexed" "rt=pg-type" 5
    check_pages "scanned" "pgx=1" 5
    coap delete "$PGLOC_5"
    coap post "$PGLOC_7" -t 40 -e '</p1>;rt="pg-type";pgx=1'
    check_pages "indexed after changes" "rt=pg-type" 4
    check_pages "scanned after changes" "pgx=1" 4
    coap get 'rd-lookup/res?rt=pg-type&count=5&page=1'
    expect_eq "a refreshed page" "5" "$(nlinks "$BODY")"
}

# One link a page over registrations of two links: every page starts inside a registration,
# so each walk resumes from a mark and writes the next one.
test_paging_one_link_at_a_time() {
    local i p full joined="" page
    for i in 1 2 3; do
        coap post "rd?ep=one$i&et=one-et" -t 40 -e "</a>;rt=\"one-type\",</b>;rt=\"one-type\""
    done
    coap get 'rd-lookup/res?rt=one-type'
    full=$BODY
    for p in 0 1 2 3 4 5; do
        coap get "rd-lookup/res?rt=one-type&count=1&page=$p"
        expect_eq "res page $p has one link" "1" "$(nlinks "$BODY")"
        joined="$joined${joined:+,}$BODY"
        eval "ONE_$p=\$BODY"
    done
    expect_eq "res pages join to the whole answer" "$full" "$joined"
    coap get 'rd-lookup/res?rt=one-type&count=1&page=6'
    expect_eq "res page past the end is empty" "" "$BODY"
    for p in 4 2 5; do
        coap get "rd-lookup/res?count=1&rt=one-type&page=$p"
        expect_eq "res page $p asked again" "$(eval "printf '%s' \"\$ONE_$p\"")" "$BODY"
    done
    coap get 'rd-lookup/ep?et=one-et'
    full=$BODY
    joined=""
    for p in 0 1 2; do
        coap get "rd-lookup/ep?et=one-et&count=1&page=$p"
        joined="$joined${joined:+,}$BODY"
    done
    expect_eq "ep pages join to the whole answer" "$full" "$joined"
    for p in 2 1; do
        coap get "rd-lookup/ep?page=$p&et=one-et&count=1"
        page=$(printf '%s' "$full" | tr ',' '\n' | grep '^<' | sed -n "$((p + 1))p")
        expect_match "ep page $p asked again" "^$(printf '%s' "$page" | cut -c1-14)" "$BODY"
    done
}

# The ETag of a lookup depends on its answer only (RFC 7252 section 5.10.6; RFC 9176 section 6.2
# names revalidation as a way to poll).
etag_of_last() {
    grep -E '^v:1 t:[A-Z]+ c:2\.0[35]' "$WORK/out" | tail -n 1 | grep -oE 'ETag:0x[0-9a-f]+' |
        sed 's/ETag://'
}

test_etag_revalidation() {
    local tag again
    coap post 'rd?ep=tagged&et=tag-et' -t 40 -e '</t>;rt="tag-type"'
    coap get 'rd-lookup/res?rt=tag-type'
    tag=$(etag_of_last)
    expect_match "a lookup answer carries an ETag" '^0x[0-9a-f]+$' "$tag"
    coap get 'rd-lookup/res?rt=tag-type'
    expect_eq "the same answer, the same ETag" "$tag" "$(etag_of_last)"
    coap get 'rd-lookup/res?rt=tag-type' -O "4,$tag"
    expect_eq "a current ETag gets 2.03" "2.03" "$CODE"
    expect_eq "without the links" "" "$BODY"
    coap get 'rd-lookup/res?rt=tag-type' -O "4,0x0102"
    expect_eq "another ETag gets the answer" "2.05" "$CODE"
    coap post 'rd?ep=tagged2' -t 40 -e '</t2>;rt="tag-type"'
    coap get 'rd-lookup/res?rt=tag-type' -O "4,$tag"
    expect_eq "after a change: 2.05" "2.05" "$CODE"
    again=$(etag_of_last)
    expect_ne "with a new ETag" "$tag" "$again"
    expect_match "and both links" '/t2>' "$BODY"
}

# Observers for the Observe tests (RFC 7641): coap-client processes, each for at most 30 s.
OBSERVERS=()

# observe NAME QUERY: observe rd-lookup/QUERY; what the observer receives goes to $WORK/NAME.obs.
observe() {
    # Line-buffered: the tests read what it received while it runs.
    timeout 40 stdbuf -oL "$CLIENT" -v 6 -B 30 -s 30 -m get "coap://127.0.0.1:$PORT/rd-lookup/$2" \
        >"$WORK/$1.obs" 2>&1 &
    OBSERVERS+=($!)
}

# answers NAME [PATTERN]: how many 2.05 answers observer NAME got (its first one included), or
# of those the ones whose options match PATTERN.
answers() {
    local n
    n=$(grep -cE "v:1 t:(CON|NON|ACK) c:2\.05 [^]]*${2:-}" "$WORK/$1.obs" 2>/dev/null)
    echo "${n:-0}"
}

# notes NAME: the answers with Observe observer NAME got: the first answer and notifications.
notes() { answers "$1" Observe; }

last_note() {
    grep -oE 'v:1 t:(CON|NON|ACK) c:2\.05 [^]]*Observe.*' "$WORK/$1.obs" 2>/dev/null | tail -n 1
}

has_answers() { [ "$(answers "$1" "${3:-}")" -ge "$2" ]; }

# wait_answers NAME N [PATTERN]: wait (10 s at most) until observer NAME has N answers (of
# PATTERN); fails the test when it does not.
wait_answers() {
    if ! wait_until 10 has_answers "$@"; then
        fail "observer $1: $2 answers expected, got $(answers "$1" "${3:-}")"
        return 1
    fi
}

wait_notes() { wait_answers "$1" "$2" Observe; }

stop_observers() {
    local p
    for p in "${OBSERVERS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    OBSERVERS=()
}

# An observer hears of changes to its own answer only: not of a registration its lookup cannot
# match, nor of a change that leaves its answer as it was (RFC 7641 section 4.2: a notification
# is a new representation). The positive control, an observer of a changed registration, shows
# that the server went through the changes: its notifications come in later rounds.
test_observer_hears_only_its_own_changes() {
    coap post 'rd?ep=obs-b&base=coap://[2001:db8::b]' -t 40 -e '</b>;title="obs-b-title"'
    local locb=$LOCATION
    observe oa 'ep?ep=obs-a'
    observe ob 'res?title=obs-b-title'
    observe oc 'ep?ep=obs-b'
    wait_notes oa 1 && wait_notes ob 1 && wait_notes oc 1 || return
    expect_match "first answer of an unindexed lookup" 'obs-b-title' "$(last_note ob)"
    coap post 'rd?ep=obs-unrelated' -t 40 -e '</u>;title="elsewhere"'
    coap post "$locb?lt=5000"
    expect_eq "lifetime updated" "2.04" "$CODE"
    coap post 'rd?ep=obs-a' -t 40 -e '</a1>'
    wait_notes oa 2 || return
    expect_match "positive control notified" 'obs-a' "$(last_note oa)"
    coap post 'rd?ep=obs-a' -t 40 -e '</a2>'
    wait_notes oa 3 || return
    expect_eq "no notification: unrelated registration, answer unchanged" "1" "$(notes ob)"
    expect_eq "endpoint lookup: lifetime never shows, no notification" "1" "$(notes oc)"
    coap post "$locb" -t 40 -e '</b2>;title="obs-b-title"'
    wait_notes ob 2 || return
    expect_match "a relevant change is notified" '/b2>' "$(last_note ob)"
    stop_observers
}

# Registration, removal, registration again and expiry each change the answer: each is notified,
# with the observer's own current answer.
test_observer_told_of_change_removal_and_expiry() {
    observe od 'res?rt=obs-d-type'
    wait_notes od 1 || return
    expect_no_match "nothing at first" '/d>' "$(last_note od)"
    coap post 'rd?ep=obs-d' -t 40 -e '</d>;rt=obs-d-type'
    local loc=$LOCATION
    wait_notes od 2 || return
    expect_match "registration notified" '/d>' "$(last_note od)"
    coap delete "$loc"
    wait_notes od 3 || return
    expect_no_match "removal notified" '/d>' "$(last_note od)"
    coap post 'rd?ep=obs-d&lt=2' -t 40 -e '</d>;rt=obs-d-type'
    wait_notes od 4 || return
    expect_match "registered again" '/d>' "$(last_note od)"
    wait_notes od 5 || return
    expect_no_match "expiry notified" '/d>' "$(last_note od)"
    stop_observers
}

# metric NAME: its value in the server's metrics (over CoAP).
metric() {
    coap get 'metrics'
    printf '%s\n' "$BODY" | sed -n "s/^$1 \([0-9.]*\)\$/\1/p"
}

# A client that deregisters (a GET with Observe 1 and the same token, RFC 7641 section 3.6) is
# no observer any more. The raw client sends both from one port; 127.0.0.1 has shown by now
# that it receives (Echo), so the first answer is no 4.01.
test_observe_cancel_removes_observer() {
    local before during after path
    path="59$(hex rd-lookup)02$(hex ep)4c$(hex ep=cancel-me)"
    before=$(metric core_rd_observers)
    "$RAW" 127.0.0.1 "$PORT" "410101c1aa60$path" 1 >"$WORK/cancel.out"
    expect_match "registered" '^2\.05 ' "$(cat "$WORK/cancel.out")"
    during=$(metric core_rd_observers)
    expect_eq "one more observer" "$((before + 1))" "$during"
    "$RAW" 127.0.0.1 "$PORT" "410101c1aa60$path,410101c2aa6101$path" 1 >"$WORK/cancel.out"
    after=$(metric core_rd_observers)
    expect_eq "registered and deregistered: no more observers" "$during" "$after"
}

# observe_max_per_source: past it, an Observe request is answered as a plain GET (RFC 7641
# section 4.1), and the refused client is never notified.
test_observe_limit_per_source() {
    observe l1 'ep?ep=lim'
    wait_notes l1 1 || return
    observe l2 'ep?ep=lim'
    wait_notes l2 1 || return
    observe l3 'ep?ep=lim'
    wait_answers l3 1 || return
    expect_eq "third observer from one address: answered without Observe" "0" "$(notes l3)"
    coap get 'metrics'
    expect_match "two observers" '(^|[^_])core_rd_observers 2' "$BODY"
    expect_match "one refused" 'core_rd_observe_refused_total 1' "$BODY"
    expect_match "most from one address" 'core_rd_observers_source_max 2' "$BODY"
    coap post 'rd?ep=lim' -t 40 -e '</l>'
    wait_notes l1 2 && wait_notes l2 2 || return
    expect_eq "the refused client hears nothing" "1" "$(answers l3)"
    stop_observers
}

# Deep pages asked cold, from the last to the first, are placed by the store's counts, and are
# exactly the slices that walking page by page gives: for one term and for everything, in links
# and in registrations, before and after a delete, an update that changes the links and a
# registration again under a used name. A registration made and removed before each page drops
# the page marks that the walk of the previous page left (they would place it instead).
deep_pages() {
    local what=$1 path=$2 query=$3 count=$4 marks=${5:-}
    local full n last p joined="" before placed
    coap get "$path?$query"
    full=$BODY
    n=$(nlinks "$full")
    last=$(((n - 1) / count))
    before=$(grep -c "placed by the counts" "$WORK/rd.log")
    for p in $(seq "$last" -1 0); do
        if [ -z "$marks" ]; then
            coap post "rd?ep=deep-bump" -t 40 -e '</b>;rt="bump-type"'
            expect_eq "$what: a registration drops the page marks" "2.01" "$CODE"
            coap delete "$LOCATION"
        fi
        coap get "$path?$query${query:+&}count=$count&page=$p"
        eval "DEEP_$p=\$BODY"
    done
    for p in $(seq 0 "$last"); do
        eval "joined=\$joined\${joined:+,}\$DEEP_$p"
    done
    expect_eq "$what: deep pages join to the whole answer" "$full" "$joined"
    placed=$(($(grep -c "placed by the counts" "$WORK/rd.log") - before))
    if [ -z "$marks" ]; then
        expect_eq "$what: every page but the first placed by the counts" "$last" "$placed"
    else
        expect_ne "$what: the last page placed by the counts" "0" "$placed"
    fi
    coap get "$path?$query${query:+&}count=$count&page=$((last + 1))"
    expect_eq "$what: the page past the end is empty" "2.05 " "$CODE $BODY"
}

test_deep_pages_placed_by_the_counts() {
    local i j links
    for i in $(seq 1 30); do
        links=""
        for j in $(seq 1 $((i % 4))); do
            links="$links${links:+,}</d$j>;rt=\"deep-type\""
        done
        links="$links${links:+,}</o>;rt=\"other-type\""
        coap post "rd?ep=deep$i&et=deep-et$((i % 2))" -t 40 -e "$links"
        eval "DEEPLOC_$i=\$LOCATION"
    done
    deep_pages "res of one term" rd-lookup/res "rt=deep-type" 4
    deep_pages "res of everything" rd-lookup/res "" 7
    deep_pages "ep of one term" rd-lookup/ep "et=deep-et1" 2
    deep_pages "ep of everything" rd-lookup/ep "" 3
    coap delete "$DEEPLOC_6"
    coap post "$DEEPLOC_9" -t 40 -e '</d1>;rt="deep-type",</d2>;rt="deep-type deep-more"'
    coap post "rd?ep=deep6&et=deep-et1" -t 40 -e '</d1>;rt="deep-type"'
    deep_pages "res of one term after changes" rd-lookup/res "rt=deep-type" 3
    deep_pages "res of everything after changes" rd-lookup/res "" 5
    deep_pages "ep of one term after changes" rd-lookup/ep "et=deep-et1" 2
    # Registrations spread over several buckets (the directory has had many before them), asked
    # without dropping the marks: the walk from a placed page marks the pages before it in its
    # bucket, and the next ask starts from such a mark.
    for i in $(seq 1 40); do
        coap post "rd?ep=spread$i" -t 40 -e '</s1>;rt="spread-type",</s2>;rt="spread-type"'
    done
    deep_pages "res over buckets, with marks" rd-lookup/res "rt=spread-type" 3 marks
    deep_pages "res over buckets, cold" rd-lookup/res "rt=spread-type" 3
}

# The suite registers far more from one address than a device would, and reads the log line
# of each deep page: no per-source write rate, quota or log budget (e2e-limits tests those).
printf 'write_rate_limit 0\nmax_per_source 0\nlog_rate_limit 0\n' >"$WORK/lookup.conf"
start_rd -c "$WORK/lookup.conf"
setup_directory
for t in test_discovery_lists_lookups test_endpoint_lookup_all test_endpoint_lookup_filters \
    test_resource_lookup test_paging test_paging_in_any_order \
    test_paging_one_link_at_a_time test_etag_revalidation test_bad_lookups test_base_changes_follow \
    test_lookup_in_the_turn_of_a_registration test_expired_registrations_leave_lookups \
    test_block2_lookup test_observe_endpoint_lookup \
    test_observe_sees_delete test_dual_stack_base_is_ipv4 test_observer_hears_only_its_own_changes \
    test_observer_told_of_change_removal_and_expiry test_observe_cancel_removes_observer \
    test_deep_pages_placed_by_the_counts; do
    run_test "$t"
done
stop_rd
fresh_data
printf 'observe_max_per_source 2\n' >"$WORK/observe.conf"
start_rd -c "$WORK/observe.conf"
run_test test_observe_limit_per_source
stop_observers
stop_rd
summary
