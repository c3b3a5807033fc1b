#!/usr/bin/env bash
# The change feed, GET /api/events on the HTTP listener: one event per registration, update,
# removal and expiry with ids that order them; resumption with Last-Event-ID or since from the
# journal, also across a restart; a reset beyond the retained window; lookup filters; and a
# subscriber that never reads, cut off while registrations go on at full speed.
# Usage: feed.sh CORE_RD SSE_CLIENT
set -u
RD=$1
SSE=$2
. "$(dirname "$0")/lib.sh"

SUB_PIDS=()

# subscribe NAME PATH [LAST_EVENT_ID]: follow PATH into $WORK/NAME.out for 60 s at most, in the
# background, and wait until the feed greeted it.
subscribe() {
    open_feed "$@"
    wait_until 10 grep -q '^: core-rd change feed' "$WORK/$1.out" ||
        fail "$1: no greeting from the feed: $(head -c 300 "$WORK/$1.out")"
}

# open_feed NAME PATH [LAST_EVENT_ID]: the same without waiting.
open_feed() {
    # A subscriber gives up after 240 s: far more than a suite on a loaded machine needs, and
    # each is stopped by unsubscribe long before.
    "$SSE" "$HPORT" "$2" 240 "${3:--}" >"$WORK/$1.out" 2>&1 &
    SUB_PIDS+=($!)
}

# refused NAME PATH: the feed answers PATH with a status line other than 200 (30 s at most);
# prints it.
refused() {
    open_feed "$1" "$2"
    wait_until 30 grep -q '^HTTP/1.1' "$WORK/$1.out"
    head -n 1 "$WORK/$1.out" | tr -d '\r'
}

# unsubscribe: stop every subscriber this suite started.
unsubscribe() {
    local p
    for p in "${SUB_PIDS[@]}"; do
        kill "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    SUB_PIDS=()
}

# events NAME: "ID KIND EP" per event received so far.
events() {
    awk '/^id: /{id=$2} /^event: /{kind=$2}
         /^data: /{ep=$0; sub(/.*"ep":"/, "", ep); sub(/".*/, "", ep); print id, kind, ep}' \
        "$WORK/$1.out"
}
count_events() { events "$1" | wc -l; }
has_events() { [ "$(count_events "$1")" -ge "$2" ]; }

# wait_events NAME N: wait until NAME has received N events (10 s at most).
wait_events() {
    wait_until 10 has_events "$1" "$2" || fail "$1: $2 events expected, got $(count_events "$1")"
}

# conf LINES...: a configuration file with these lines.
conf() {
    printf '%s\n' "$@" >"$WORK/core-rd.conf"
}

test_feed_orders_every_kind_of_change() {
    fresh_data
    conf 'lifetime_min 1' 'expiry_grace 0'
    start_rd_http -c "$WORK/core-rd.conf"
    subscribe all /api/events
    coap post 'rd?ep=n1&d=floor2&lt=100' -t 40 -e '</t>;rt=temp'
    expect_eq "register n1" 2.01 "$CODE"
    local n1=$LOCATION
    coap post "$n1?lt=200" -t 40 -e '</t>;rt=temp,</h>;rt=hum'
    expect_eq "update n1" 2.04 "$CODE"
    coap post "$n1"
    expect_eq "refresh n1" 2.04 "$CODE"
    coap post 'rd?ep=n2&lt=1' -t 40 -e '</x>'
    expect_eq "register n2 for a second" 2.01 "$CODE"
    coap delete "$n1"
    expect_eq "remove n1" 2.02 "$CODE"
    wait_until 10 grep -q '^event: expired' "$WORK/all.out" || fail "n2 never expired"
    local got
    got=$(events all | awk '{print $2, $3}' | paste -sd, -)
    # The refresh in the same second keeps the deadline: it changes nothing and tells nothing.
    expect_match "kinds in order" \
        '^registered n1,updated n1,(updated n1,)?registered n2,(removed n1,expired n2|expired n2,removed n1)$' \
        "$got"
    expect_eq "ids strictly increase from 1" "ok" \
        "$(events all | awk 'NR == 1 && $1 != 1 {bad=1} NR > 1 && $1 <= last {bad=1} {last=$1}
                             END {print bad ? "bad" : "ok"}')"
    # Each coap-client request comes from a new port, the base with it (no base= given).
    expect_match "update says what changed" \
        '"changed":\["lifetime","links","base"\]' "$(grep -m1 '^data: .*"changed"' "$WORK/all.out")"
    expect_match "registration carries its links as JSON" \
        '"location":"/'"$n1"'".*"links":\[\{"href":"/t","attrs":\[\["rt","temp"\]\]\}\]' \
        "$(grep -m1 '^data: ' "$WORK/all.out")"
    expect_match "removal names the endpoint without its links" \
        '^data: \{"ep":"n1","d":"floor2","location":"/'"$n1"'"\}' \
        "$(grep '^data: ' "$WORK/all.out" | grep -v links | head -n 1)"
    cp "$WORK/all.out" "$WORK/history.out"
    unsubscribe
    stop_rd
}

test_feed_resumes_with_exactly_the_missed_events() {
    # Continues on the data of the test before: its events are in the journal.
    local all last2
    start_rd_http
    all=$(events history | awk '{print $1, $2, $3}')
    last2=$(printf '%s\n' "$all" | sed -n 2p | cut -d' ' -f1)
    subscribe resumed /api/events "$last2"
    wait_events resumed "$(($(printf '%s\n' "$all" | wc -l) - 2))"
    expect_eq "Last-Event-ID: every event after it, across a restart" \
        "$(printf '%s\n' "$all" | tail -n +3)" "$(events resumed)"
    subscribe since "/api/events?since=$last2"
    wait_events since "$(($(printf '%s\n' "$all" | wc -l) - 2))"
    expect_eq "since: the same" "$(events resumed)" "$(events since)"
    # Then live: the next change follows the replay, with the next id.
    coap post 'rd?ep=n3&lt=100' -t 40 -e '</x>'
    wait_events resumed "$(($(printf '%s\n' "$all" | wc -l) - 1))"
    expect_eq "live after the replay" "$(($(printf '%s\n' "$all" | tail -n 1 | cut -d' ' -f1) + 1)) registered n3" \
        "$(events resumed | tail -n 1)"
    expect_match "a bad id is a 400" '^HTTP/1.1 400' "$(refused bad /api/events?since=abc)"
    expect_match "with a reason" '"error":"Last-Event-ID or since: expected a decimal event id"' \
        "$(cat "$WORK/bad.out")"
    unsubscribe
    stop_rd
}

test_feed_resets_a_subscriber_beyond_the_window() {
    fresh_data
    conf 'feed_retain_events 3'
    start_rd_http -c "$WORK/core-rd.conf"
    local i
    for i in 1 2 3 4 5 6; do
        coap post "rd?ep=w$i&lt=100" -t 40 -e '</x>'
    done
    expect_eq "six registrations" 2.01 "$CODE"
    subscribe old /api/events 1
    wait_until 10 grep -q '^event: reset' "$WORK/old.out"
    expect_match "reset first, at the last id" '^id: 6 event: reset' \
        "$(grep -A1 '^id: ' "$WORK/old.out" | head -n 2 | paste -sd' ' -)"
    expect_eq "nothing replayed before it" "" "$(events old | grep -v reset)"
    subscribe within /api/events 3
    wait_events within 3
    expect_eq "within the window: ids 4 to 6" "4 5 6" "$(events within | cut -d' ' -f1 | paste -sd' ' -)"
    coap post 'rd?ep=w7&lt=100' -t 40 -e '</x>'
    wait_until 10 grep -q '"ep":"w7"' "$WORK/old.out"
    expect_eq "live after the reset" "7 registered w7" "$(events old | tail -n 1)"
    unsubscribe
    stop_rd
}

test_feed_filters_like_a_lookup() {
    fresh_data
    start_rd_http
    subscribe floor2 '/api/events?d=floor2'
    subscribe temp '/api/events?rt=temp*'
    subscribe both '/api/events?rt=temp*&d=floor2'
    expect_match "paging refused" '^HTTP/1.1 400' "$(refused bad '/api/events?page=1&count=1')"
    coap post 'rd?ep=a&d=floor2&lt=100' -t 40 -e '</t>;rt=temperature'
    local a=$LOCATION
    coap post 'rd?ep=b&d=floor3&lt=100' -t 40 -e '</t>;rt=temp-c'
    coap post 'rd?ep=c&d=floor2&lt=100' -t 40 -e '</l>;rt=light'
    coap delete "$a"
    coap post 'rd?ep=z&lt=100' -t 40 -e '</z>;rt=temp'
    wait_events temp 4
    expect_eq "d=floor2" "a c a" "$(events floor2 | cut -d' ' -f3 | paste -sd' ' -)"
    expect_eq "rt=temp*, removal matched on what it was" "a b a z" \
        "$(events temp | cut -d' ' -f3 | paste -sd' ' -)"
    expect_eq "both" "registered a,removed a" "$(events both | cut -d' ' -f2,3 | paste -sd, -)"
    unsubscribe
    stop_rd
}

# register_many N PREFIX: N registrations in a row, each with a large link payload; sets REG_MS
# to the milliseconds they took.
register_many() {
    local i t0 links=''
    for i in $(seq 1 40); do
        links="$links</sensors/temperature/$i>;rt=\"temperature-c\";if=sensor;title=\"probe $i\","
    done
    links=${links%,}
    t0=${EPOCHREALTIME//[!0-9]/}
    for i in $(seq 1 "$1"); do
        coap post "rd?ep=$2$i&lt=100" -t 40 -e "$links"
        [ "$CODE" = 2.01 ] || fail "register $2$i: $CODE"
    done
    REG_MS=$(((${EPOCHREALTIME//[!0-9]/} - t0) / 1000))
}

test_feed_cuts_off_a_subscriber_that_never_reads() {
    fresh_data
    # Full speed from one address: no per-source write rate or quota in the way. The slow
    # subscriber's last event waits in the server until it reads: an idle timeout longer than
    # the suite keeps the connection from being dropped first on a slow machine.
    conf 'write_rate_limit 0' 'max_per_source 0' 'log_rate_limit 0' 'http_idle_timeout 600'
    start_rd_http -c "$WORK/core-rd.conf"
    local base slow pid
    register_many 200 warm
    base=$REG_MS
    # 4 KiB of receive buffer and no reads: the server's queue for it fills.
    "$SSE" "$HPORT" /api/events 240 - 4096 >"$WORK/slow.out" 2>&1 &
    pid=$!
    SUB_PIDS+=("$pid")
    subscribe live /api/events
    register_many 200 busy
    slow=$REG_MS
    wait_logged 'feed: subscriber cut off' 10
    expect_match "the slow one is cut off" 'feed: subscriber cut off: more than 262144 bytes' \
        "$(grep 'feed: subscriber cut off' "$WORK/rd.log")"
    expect_eq "only one cut off" 1 "$(grep -c 'feed: subscriber cut off' "$WORK/rd.log")"
    echo "registration of 200: ${base} ms without a slow subscriber, ${slow} ms with one"
    # Allow for noise on a shared machine; a blocked loop would take the CoAP timeouts (seconds).
    expect_eq "registrations not slowed (${slow} ms vs ${base} ms)" 1 \
        "$((slow < base * 2 + 2000))"
    wait_events live 200
    expect_eq "the reading subscriber got every event" 200 "$(count_events live)"
    kill -USR1 "$pid"
    wait "$pid"
    expect_match "the slow one ends with the reason" \
        'event: error data: \{"reason":"subscriber too slow' \
        "$(grep -a -A1 '^event: error' "$WORK/slow.out" | paste -sd' ' -)"
    expect_alive "after the cut-off"
    unsubscribe
    stop_rd
}

test_feed_replays_a_large_backlog_whole() {
    fresh_data
    conf 'write_rate_limit 0' 'max_per_source 0' 'log_rate_limit 0'
    start_rd_http -c "$WORK/core-rd.conf"
    # 100 events of 40 links (about 4 KB each): the replay holds far more than the 256 KiB a
    # subscriber may have queued, and the subscriber reads as fast as it can.
    register_many 100 big
    subscribe backlog /api/events 0
    wait_until 30 has_events backlog 100
    expect_eq "every event of the backlog, in order" "$(seq 1 100 | paste -sd' ' -)" \
        "$(events backlog | cut -d' ' -f1 | paste -sd' ' -)"
    expect_eq "not cut off while catching up" "" "$(grep -a 'event: error' "$WORK/backlog.out")"
    expect_eq "no cut-off logged" 0 "$(grep -c 'feed: subscriber cut off' "$WORK/rd.log")"
    coap post 'rd?ep=after&lt=100' -t 40 -e '</x>'
    wait_events backlog 101
    expect_eq "live after the replay" "101 registered after" "$(events backlog | tail -n 1)"
    unsubscribe
    stop_rd
}

# start_rd_limited ULIMIT_ARGS [core-rd options...]: start_rd_http under `ulimit ULIMIT_ARGS`.
start_rd_limited() {
    local real=$RD
    printf '#!/bin/sh\nulimit %s || exit 1\nexec "%s" "$@"\n' "$1" "$real" >"$WORK/rd-limited"
    chmod +x "$WORK/rd-limited"
    shift
    RD=$WORK/rd-limited
    start_rd_http "$@"
    RD=$real
}

# hold_subscribers N: N subscribers that never read, on descriptors of this shell (HELD).
HELD=()
hold_subscribers() {
    local i fd
    # The server shuts the connections over its bound: a write to one fails instead of killing
    # the suite.
    trap '' PIPE
    for i in $(seq 1 "$1"); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$HPORT" || break
        printf 'GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd" 2>/dev/null
        HELD+=("$fd")
    done
    trap - PIPE
}
release_subscribers() {
    local fd
    for fd in "${HELD[@]}"; do
        exec {fd}>&-
    done
    HELD=()
}
health_ok() {
    http GET /health
    [ "$HTTP_STATUS" = 200 ]
}

test_feed_subscribers_within_the_open_files_limit() {
    fresh_data
    conf 'http_connections 1000' 'http_connections_per_ip 1000' 'http_idle_timeout 600'
    # A hard limit of 200 descriptors: 1,000 connections cannot be had.
    start_rd_limited '-n 200' -c "$WORK/core-rd.conf"
    local allowed
    allowed=$(sed -n 's/.*the open files limit (200, hard 200) leaves room for \([0-9]*\) connections.*/\1/p' \
        "$WORK/rd.log")
    expect_match "the bound the limit leaves is logged" '^[0-9]+$' "$allowed"
    hold_subscribers 250
    expect_eq "250 subscribers asked" 250 "${#HELD[@]}"
    # Past the open files limit accept() fails: without a bound under it, /health hangs.
    wait_until 20 health_ok
    expect_eq "/health answers past the limit" 200 "$HTTP_STATUS"
    expect_eq "connections kept within the bound" 1 \
        "$(($(http_connections_now) <= ${allowed:-0} + 1))"
    release_subscribers
    expect_alive "after 250 subscribers over the open files limit"
    stop_rd
    if [ "$(ulimit -H -n)" != unlimited ] && [ "$(ulimit -H -n)" -lt 2000 ]; then
        echo "hard open files limit $(ulimit -H -n): raising the soft one not tested"
        return
    fi
    # A soft limit of 200 under a high hard one: raised to what 1,000 connections need.
    start_rd_limited '-S -n 200' -c "$WORK/core-rd.conf"
    expect_match "soft limit raised" 'http_connections 1000: open files limit raised from 200 to' \
        "$(grep 'open files limit raised' "$WORK/rd.log")"
    expect_eq "to at least 1,000 more" 1 \
        "$(($(awk '/^Max open files/ { print $4 }' "/proc/$RD_PID/limits") >= 1064))"
    stop_rd
}

# http_connections_now: core_rd_http_connections as /metrics says (counting the one asking).
http_connections_now() {
    http GET /metrics
    printf '%s\n' "$HTTP_BODY" | sed -n 's/^core_rd_http_connections \([0-9]*\).*/\1/p'
}
connections_are() { [ "$(http_connections_now)" = "$1" ]; }

test_feed_keepalive_to_idle_subscribers() {
    fresh_data
    conf 'feed_keepalive 1'
    start_rd_http -c "$WORK/core-rd.conf"
    subscribe idle /api/events
    wait_until 10 grep -q '^: keepalive$' "$WORK/idle.out" ||
        fail "no keepalive to an idle subscriber: $(head -c 300 "$WORK/idle.out")"
    coap post 'rd?ep=k1&lt=100' -t 40 -e '</x>'
    wait_events idle 1
    expect_eq "events still follow the keepalives" "1 registered k1" "$(events idle)"
    # A subscriber that goes away unseen: suspended, its connection is only noticed when
    # something is written to it, which the keepalive does.
    "$SSE" "$HPORT" /api/events 60 - >"$WORK/gone.out" 2>&1 &
    local gone=$!
    wait_until 10 grep -q '^: core-rd change feed' "$WORK/gone.out" || fail "no greeting"
    wait_until 10 connections_are 3 || fail "3 connections expected, $(http_connections_now)"
    kill -KILL "$gone"
    wait "$gone" 2>/dev/null
    wait_until 10 connections_are 2
    expect_eq "the vanished subscriber is dropped" 2 "$(http_connections_now)"
    unsubscribe
    stop_rd
}

test_feed_stays_behind_authenticated_lookups() {
    fresh_data
    conf 'lookup_access authenticated'
    start_rd_http -c "$WORK/core-rd.conf"
    http GET /api/events
    expect_eq "lookup_access authenticated: no feed" 403 "$HTTP_STATUS"
    stop_rd
}

run_test test_feed_orders_every_kind_of_change
run_test test_feed_resumes_with_exactly_the_missed_events
run_test test_feed_resets_a_subscriber_beyond_the_window
run_test test_feed_filters_like_a_lookup
run_test test_feed_cuts_off_a_subscriber_that_never_reads
run_test test_feed_replays_a_large_backlog_whole
run_test test_feed_subscribers_within_the_open_files_limit
run_test test_feed_stays_behind_authenticated_lookups
run_test test_feed_keepalive_to_idle_subscribers
summary feed
