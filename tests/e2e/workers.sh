#!/usr/bin/env bash
# End-to-end tests of lookups computed on worker threads (RFC 9176 section 6) and answered as
# separate responses (RFC 7252 section 5.2.2): pings and registrations are answered while
# expensive lookups run; deep pages hold the links that walking page by page finds; observers
# hear of changes and expiries; a lookup over its work budget gets 5.03 with Max-Age. The real
# core-rd on loopback, with registrations made by rd-bench.
# Usage: workers.sh CORE_RD COAP_RAW RD_BENCH
set -u
RD=$1
RAW=$2
BENCH=$3
. "$(dirname "$0")/lib.sh"

# Registrations of rd-bench: five links each, one rt="temperature-c", all with ct=0.
N=3000

# Every lookup goes to the two workers, whatever the directory's size; answers are not cut into
# small blocks for an address not yet verified (the separate responses are what is tested).
write_conf() {
    printf 'workers 2\nlookup_inline_max 0\nlookup_inline_ms 0\namplification off\nwrite_rate_limit 0\n' \
        >"$WORK/workers.conf"
    printf 'max_per_source 0\nlog_level debug\n%s\n' "${1:-}" >>"$WORK/workers.conf"
}

# bench_register N: register bench-0 .. bench-(N-1); checks that all got 2.01.
bench_register() {
    local out
    out=$("$BENCH" --server "127.0.0.1:$PORT" --phases register -n "$1" --max-seconds 120 2>&1)
    expect_match "rd-bench registered $1" "ok=$1 " "$out"
}

# lookup QUERY: a non-confirmable GET of rd-lookup/QUERY, the whole answer in BODY. Requests
# are non-confirmable where the answer may take several blocks: libcoap clients before 4.3.5
# do not ask for the later blocks of a separate response to a confirmable request.
lookup() {
    coap get "rd-lookup/$1" -N
}

# nlinks TEXT: the links in a link-format answer.
nlinks() {
    if [ -z "$1" ]; then
        echo 0
    else
        printf '%s' "$1" | tr ',' '\n' | grep -c '^<'
    fi
}

# walk KIND FILTER COUNT: every page of rd-lookup/KIND?FILTER with COUNT, from page 0 until an
# empty one (1000 pages at most), joined into WALK.
walk() {
    local p=0
    WALK=""
    while [ $p -lt 1000 ]; do
        lookup "$1?${2:+$2&}count=$3&page=$p"
        [ "$CODE" = 2.05 ] && [ -n "$BODY" ] || break
        WALK="$WALK${WALK:+,}$BODY"
        p=$((p + 1))
    done
}

# page_of TEXT COUNT PAGE: the links of page PAGE of TEXT, COUNT a page.
page_of() {
    printf '%s' "$1" | tr ',' '\n' | sed -n "$(($3 * $2 + 1)),$((($3 + 1) * $2))p" |
        paste -sd, -
}

# A deep page asked first, cold (no page mark, no kept answer: placed by the store's counts, or
# walked on a worker), then the whole result walked page by page: the deep page holds the same
# links as that page of the walk, and the walk finds every match.
check_deep_page() {
    local kind=$1 filter=$2 count=$3 total=$4 page=23 deep
    lookup "$kind?${filter:+$filter&}count=$count&page=$page"
    expect_eq "$kind?$filter: deep page $page answered" "2.05" "$CODE"
    deep=$BODY
    expect_eq "$kind?$filter: deep page $page is full" "$count" "$(nlinks "$deep")"
    walk "$kind" "$filter" "$count"
    expect_eq "$kind?$filter: the walk finds every match" "$total" "$(nlinks "$WALK")"
    expect_eq "$kind?$filter: deep page $page is that page of the walk" \
        "$(page_of "$WALK" "$count" "$page")" "$deep"
}

test_deep_pages_agree_with_the_walk() {
    check_deep_page res 'rt=temperature-c' 100 "$N"
    check_deep_page res 'ct=0' 500 $((5 * N))
    check_deep_page res '' 500 $((5 * N))
    check_deep_page ep '' 100 "$N"
    check_deep_page ep 'ep=bench-*' 100 "$N"
}

# Eight clients ask expensive lookups (unindexed filters over every registration, cold deep
# pages) in a loop while a ping and a registration come from other clients: both are answered,
# and every lookup answer is right. Nothing is timed: the answers are what is checked.
test_ping_and_registration_answered_while_lookups_run() {
    local i pids=() out bad=0
    coap post 'rd?ep=rare1' -t 40 -e '</r1>;sz=4242,</r2>;sz=1'
    expect_eq "a registration with a rare unindexed attribute" "2.01" "$CODE"
    for i in 1 2 3 4 5 6 7 8; do
        (
            for r in 1 2 3 4 5; do
                timeout 60 "$CLIENT" -N -B 30 "coap://127.0.0.1:$PORT/rd-lookup/res?sz=4242" \
                    >"$WORK/heavy$i.$r" 2>/dev/null
                timeout 60 "$CLIENT" -N -B 30 \
                    "coap://127.0.0.1:$PORT/rd-lookup/res?ct=0&count=7&page=$((i * 100 + r))" \
                    >"$WORK/deep$i.$r" 2>/dev/null
            done
        ) &
        pids+=($!)
    done
    RAW_OUT=$(timeout 10 "$RAW" 127.0.0.1 "$PORT" 40000999 1 5000)
    expect_eq "a ping is answered" "0.00 2457" "$RAW_OUT"
    coap post 'rd?ep=during1' -t 40 -e '</d1>;rt=during-type'
    expect_eq "a registration from another client succeeds" "2.01" "$CODE"
    coap get 'rd-lookup/res?rt=during-type'
    expect_match "and is found at once" '/d1>' "$BODY"
    # A confirmable lookup: its answer comes as a separate (confirmable) response.
    coap get 'rd-lookup/ep?ep=during1'
    expect_match "a worker's answer is a separate response" '^v:1 t:CON c:2\.05' \
        "$(grep -E '^v:1 t:[A-Z]+ c:2\.05' "$WORK/out")"
    for i in "${pids[@]}"; do
        wait "$i"
    done
    for out in "$WORK"/heavy*; do
        grep -Eqx '<coap://127\.0\.0\.1:[0-9]+/r1>;sz=4242' "$out" || bad=$((bad + 1))
    done
    expect_eq "40 unindexed lookups found the one link" "0" "$bad"
    bad=0
    for out in "$WORK"/deep*; do
        [ "$(nlinks "$(cat "$out")")" = 7 ] || bad=$((bad + 1))
    done
    expect_eq "40 deep pages of seven links each" "0" "$bad"
}

# observer_answers PATTERN: how many 2.05 answers with Observe the observer got whose line
# matches PATTERN too.
observer_answers() {
    grep -E '^v:1 t:(CON|NON|ACK) c:2\.05 .*Observe' "$WORK/observer" 2>/dev/null | grep -cE -- "$1"
}

# answers_at_least PATTERN N: the observer got N such answers or more (a condition that
# wait_until evaluates anew each time).
answers_at_least() {
    [ "$(observer_answers "$1")" -ge "$2" ]
}

# An observer of a lookup answered on a worker hears of a registration and of its expiry.
test_observe_and_expiry_with_lookups_on_workers() {
    local obs
    # -v 7: libcoap shows every notification received, coap-client 4.3.1 not an empty one.
    timeout 40 stdbuf -oL "$CLIENT" -v 7 -B 30 -s 30 \
        "coap://127.0.0.1:$PORT/rd-lookup/res?rt=obs-type" >"$WORK/observer" 2>&1 &
    obs=$!
    wait_until 10 answers_at_least . 1
    expect_eq "the observer's first answer, from a worker, with Observe" "1" \
        "$(observer_answers .)"
    expect_match "it came as a separate response" '^v:1 t:CON c:2\.05' \
        "$(grep -E '^v:1 t:[A-Z]+ c:2\.05' "$WORK/observer" | head -n 1)"
    coap post 'rd?ep=obs1&lt=3' -t 40 -e '</o1>;rt=obs-type'
    expect_eq "a registration it can see" "2.01" "$CODE"
    wait_until 10 answers_at_least '/o1>' 1
    expect_eq "the registration is notified" "1" "$(observer_answers '/o1>')"
    # The registration's deadline passes 3 s later: the answer changes without any request.
    wait_until 15 answers_at_least . 3
    expect_eq "its expiry is notified" "3" "$(observer_answers .)"
    expect_no_match "the last answer has no expired link" '/o1>' \
        "$(grep -E '^v:1 t:[A-Z]+ c:2\.05 .*Observe' "$WORK/observer" | tail -n 1)"
    coap get 'rd-lookup/res?rt=obs-type'
    expect_eq "a lookup agrees: nothing left" "" "$BODY"
    kill "$obs" 2>/dev/null
    wait "$obs" 2>/dev/null
}

# With a budget of 1 ms, a lookup that walks every registration is refused with 5.03 and a
# Max-Age; one that reads a single registration is answered, and so is a ping.
test_budget_refuses_with_max_age() {
    coap get 'rd-lookup/res?sz=4242'
    expect_eq "a walk over its budget" "5.03" "$CODE"
    expect_match "with Max-Age" 'Max-Age:5' "$(grep -E '^v:1 t:[A-Z]+ c:5\.03' "$WORK/out")"
    expect_match "and a diagnostic" 'budget' "$BODY"
    coap get 'rd-lookup/ep?ep=bench-7'
    expect_eq "a lookup of one registration is answered" "2.05" "$CODE"
    expect_match "with its registration" 'ep="bench-7"' "$BODY"
    RAW_OUT=$(timeout 10 "$RAW" 127.0.0.1 "$PORT" 40000998 1 5000)
    expect_eq "a ping is answered" "0.00 2456" "$RAW_OUT"
}

write_conf
start_rd -c "$WORK/workers.conf"
expect_match "lookups run on two workers" 'lookups on 2 worker threads' "$(cat "$WORK/rd.log")"
bench_register "$N"
for t in test_deep_pages_agree_with_the_walk test_ping_and_registration_answered_while_lookups_run \
    test_observe_and_expiry_with_lookups_on_workers; do
    run_test "$t"
done
stop_rd
expect_eq "stopped cleanly with lookups on workers" "0" "$RD_STATUS"

# A lookup that ends within its try on the loop (lookup_inline_ms; a generous one here, so that
# no slow machine misses it) is answered piggybacked, and a confirmable client gets every block
# of a long answer: libcoap 4.3.1 clients ask for no later block of a separate response.
test_quick_lookup_answered_piggybacked() {
    coap get 'rd-lookup/ep?ep=bench-7'
    expect_match "piggybacked in the ACK" '^v:1 t:ACK c:2\.05' \
        "$(grep -E '^v:1 t:[A-Z]+ c:2\.05' "$WORK/out" | head -n 1)"
    coap get 'rd-lookup/res?rt=temperature-c&count=60'
    expect_eq "a confirmable client gets every block of 60 links" "60" "$(nlinks "$BODY")"
}

write_conf 'lookup_inline_ms 1000'
start_rd -c "$WORK/workers.conf"
run_test test_quick_lookup_answered_piggybacked
stop_rd

# The budget: twenty thousand registrations take far longer than 1 ms to walk.
write_conf 'lookup_budget_ms 1'
start_rd -c "$WORK/workers.conf"
bench_register 20000
coap post 'rd?ep=rare1' -t 40 -e '</r1>;sz=4242'
run_test test_budget_refuses_with_max_age
stop_rd
summary workers
