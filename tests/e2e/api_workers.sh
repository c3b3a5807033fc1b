#!/usr/bin/env bash
# End-to-end tests of the HTTP API's lookups on the lookup workers (docs/openapi.yaml, README
# "Lookups on worker threads"): in a directory of twenty thousand registrations an unindexed
# /api/resources or /api/endpoints lookup goes to a worker, its connection suspended, and gives
# the JSON the loop gives with workers 0; CoAP pings and registrations are answered while such
# lookups are outstanding; a full pool and a walk over its budget get 503 with Retry-After; a
# client that goes away mid-job and a stop with lookups in flight leave the server sound. The
# real core-rd on loopback, its registrations made by rd-bench, the HTTP requests made by curl.
# Usage: api_workers.sh CORE_RD COAP_RAW RD_BENCH
set -u
RD=$1
RAW=$2
BENCH=$3
. "$(dirname "$0")/lib.sh"

N=20000
# Lookups of every registration, none of them indexed: "obs" matches two links of each, a title
# none, and a deep endpoint page needs every registration counted for its total.
HEAVY='/api/resources?obs&count=7&page=311'
# heavy I: a lookup that walks every registration whatever was counted before (it matches
# none), a different one for each I.
heavy() {
    printf '/api/resources?title=none-%s*' "$1"
}
QUERIES=(
    '/api/resources?obs&count=7&page=311'
    '/api/resources?title=x*'
    '/api/resources?ct=0&count=1000&page=3'
    '/api/resources?rt=rare-sensor'
    '/api/endpoints?count=20&page=300'
    '/api/endpoints?ep=bench-12*&count=5&page=2'
    '/api/endpoints'
)

# write_conf WORKERS [BUDGET_MS]: the configuration, with WORKERS lookup workers and no budget
# unless BUDGET_MS (a slow machine gets the same answers), every lookup straight to a worker,
# and room for many connections from one address.
write_conf() {
    printf 'workers %s\nlookup_inline_max 0\nlookup_inline_ms 0\nlookup_budget_ms %s\n' "$1" \
        "${2:-0}" >"$WORK/api.conf"
    printf 'http_connections 400\nhttp_connections_per_ip 400\nwrite_rate_limit 0\n' \
        >>"$WORK/api.conf"
    printf 'max_per_source 0\namplification off\n' >>"$WORK/api.conf"
}

# get PATH: curl's GET of PATH on the listener, the body in $WORK/get, the status in STATUS.
get() {
    STATUS=$(curl -s -m 60 -o "$WORK/get" -w '%{http_code}' "http://127.0.0.1:$HPORT$1")
}

# stable FILE: the JSON of FILE without the fields that follow the clock.
stable() {
    sed -E 's/"now":[0-9]+,//; s/"expires_in":-?[0-9]+,//g' "$1"
}

# on_workers: how many API lookups the log says went to a worker.
on_workers() {
    grep -c 'http: lookup [0-9]* on a worker' "$WORK/rd.log"
}

# workers_above N: more than N API lookups went to a worker (for wait_until, which runs it
# again and again: an expansion in its arguments would be made once).
workers_above() {
    [ "$(on_workers)" -gt "$1" ]
}

# ping MID: a CoAP ping (an empty confirmable message), answered by a Reset with the same MID.
ping() {
    RAW_OUT=$(timeout 10 "$RAW" 127.0.0.1 "$PORT" "$(printf '4000%04x' "$1")" 1 5000)
    expect_eq "a ping is answered" "0.00 $1" "$RAW_OUT"
}

# Every query answered with workers 0 (on the loop) and with two workers (suspended, computed
# on a worker): the same JSON, but for the clock.
test_same_json_as_on_the_loop() {
    local i q
    write_conf 0
    start_rd_http -c "$WORK/api.conf"
    expect_match "lookups on the loop" 'lookups on the I/O loop' "$(cat "$WORK/rd.log")"
    i=0
    for q in "${QUERIES[@]}"; do
        get "$q"
        expect_eq "$q with workers 0" 200 "$STATUS"
        stable "$WORK/get" >"$WORK/loop.$i"
        i=$((i + 1))
    done
    expect_match "a deep endpoint page with its total" '"total":20000,"page":300,"count":20,' \
        "$(cat "$WORK/loop.4")"
    expect_match "an unindexed filter's matches" '"total":40010,' "$(cat "$WORK/loop.0")"
    stop_rd
    write_conf 2
    start_rd_http -c "$WORK/api.conf"
    i=0
    for q in "${QUERIES[@]}"; do
        get "$q"
        expect_eq "$q with workers 2" 200 "$STATUS"
        expect_eq "$q: the JSON of the loop" "$(cat "$WORK/loop.$i")" "$(stable "$WORK/get")"
        i=$((i + 1))
    done
    expect_eq "every lookup went to a worker" "${#QUERIES[@]}" "$(on_workers)"
    stop_rd
    expect_eq "stopped cleanly" 0 "$RD_STATUS"
}

# Sixty lookups of every registration queue for one worker; while they are outstanding, a ping
# and a registration from CoAP clients are answered, and the new registration is found. Nothing
# is timed: what is checked is that the HTTP requests were not all answered yet.
test_coap_answered_while_http_lookups_wait() {
    local i pids=() done_before bad=0 before
    write_conf 1
    start_rd_http -c "$WORK/api.conf"
    before=$(on_workers)
    for i in $(seq 1 60); do
        curl -s -m 120 -o "$WORK/heavy.$i" "http://127.0.0.1:$HPORT$(heavy "$i")" &
        pids+=($!)
    done
    wait_until 30 workers_above "$before"
    ping 2457
    coap post 'rd?ep=during1' -t 40 -e '</d1>;rt=during-type'
    expect_eq "a registration while HTTP lookups wait" "2.01" "$CODE"
    done_before=0
    for i in "${pids[@]}"; do
        kill -0 "$i" 2>/dev/null || done_before=$((done_before + 1))
    done
    expect_ne "some HTTP lookups were still outstanding meanwhile" 60 "$done_before"
    for i in "${pids[@]}"; do
        wait "$i"
    done
    for i in $(seq 1 60); do
        grep -q '"total":0,"page":0,"count":100,"resources":\[\]}$' "$WORK/heavy.$i" ||
            bad=$((bad + 1))
    done
    expect_eq "60 HTTP lookups answered right" 0 "$bad"
    get '/api/resources?rt=during-type'
    expect_match "the registration is found" '"total":1,' "$(cat "$WORK/get")"
    stop_rd
    expect_eq "stopped cleanly" 0 "$RD_STATUS"
}

# A client that goes away while its lookup waits for the worker: the job ends, its answer is
# dropped, and the server goes on answering HTTP and CoAP.
test_client_gone_mid_job() {
    local pid before
    write_conf 1
    start_rd_http -c "$WORK/api.conf"
    before=$(on_workers)
    curl -s -m 120 -o /dev/null "http://127.0.0.1:$HPORT$(heavy gone)" &
    pid=$!
    wait_until 30 workers_above "$before"
    expect_eq "the lookup went to a worker" $((before + 1)) "$(on_workers)"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # One worker takes jobs in turn: this one is answered after the abandoned one ended.
    get "$HEAVY"
    expect_eq "a lookup after the client left" 200 "$STATUS"
    get /health
    expect_eq "health" 200 "$STATUS"
    ping 2458
    stop_rd
    expect_eq "stopped cleanly" 0 "$RD_STATUS"
}

# More lookups than the pool holds (64) at once: those past it get 503 with Retry-After 5 and
# the API's JSON error; the others their answer.
test_full_pool_gives_503_with_retry_after() {
    local i args=() codes
    write_conf 1
    start_rd_http -c "$WORK/api.conf"
    for i in $(seq 1 150); do
        args+=(-o "$WORK/full.$i" -D "$WORK/full.$i.h" "http://127.0.0.1:$HPORT$(heavy "$i")")
    done
    codes=$(curl -s -m 120 --parallel --parallel-immediate --parallel-max 150 \
        -w '%{http_code}\n' "${args[@]}" 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
    expect_match "some lookups answered" ' [0-9]+ 200 ' " $codes"
    expect_match "some refused with 503" ' [0-9]+ 503 ' " $codes"
    expect_eq "nothing else" "" "$(printf '%s' " $codes" | sed -E 's/ [0-9]+ (200|503)//g' |
        tr -d ' ')"
    expect_match "503 carries Retry-After: 5" '^Retry-After: 5' \
        "$(grep -l '^HTTP/1.1 503' "$WORK"/full.*.h | head -n 1 | xargs cat | tr -d '\r')"
    expect_eq "and the API's error" '{"error":"too many lookups under way"}' \
        "$(grep -l '^HTTP/1.1 503' "$WORK"/full.*.h | head -n 1 | sed 's/\.h$//' | xargs cat)"
    ping 2459
    stop_rd
    expect_eq "stopped cleanly" 0 "$RD_STATUS"
}

# A stop while lookups are suspended and on the worker: the server exits cleanly (the
# sanitizer build checks for leaks and use after free) and the clients are let go.
test_stop_with_lookups_in_flight() {
    local i pids=() hung=0 before
    write_conf 1
    start_rd_http -c "$WORK/api.conf"
    before=$(on_workers)
    for i in $(seq 1 20); do
        curl -s -m 60 -o /dev/null "http://127.0.0.1:$HPORT$(heavy "$i")" &
        pids+=($!)
    done
    wait_until 30 workers_above $((before + 4))
    expect_eq "five lookups or more suspended for the worker" yes \
        "$([ "$(on_workers)" -ge $((before + 5)) ] && echo yes)"
    stop_rd
    expect_eq "stopped cleanly with lookups in flight" 0 "$RD_STATUS"
    # curl's 28: its own deadline passed, the connection held open.
    for i in "${pids[@]}"; do
        wait "$i"
        [ $? -ne 28 ] || hung=$((hung + 1))
    done
    expect_eq "no client left hanging" 0 "$hung"
}

# With a budget of 1 ms, a lookup that walks every registration on the worker is refused as the
# CoAP one is (5.03 with Max-Age): 503, Retry-After 5 and the API's error; a lookup of one
# registration is answered.
test_budget_gives_503_with_retry_after() {
    write_conf 1 1
    start_rd_http -c "$WORK/api.conf"
    curl -s -m 60 -D "$WORK/budget.h" -o "$WORK/budget" "http://127.0.0.1:$HPORT$(heavy budget)"
    expect_match "a walk over its budget: 503" '^HTTP/1.1 503' "$(head -n 1 "$WORK/budget.h")"
    expect_match "with Retry-After: 5" '^Retry-After: 5' "$(tr -d '\r' <"$WORK/budget.h")"
    expect_eq "and the API's error" \
        '{"error":"lookup over its work budget: narrow it or page it"}' "$(cat "$WORK/budget")"
    get '/api/endpoints?ep=bench-7'
    expect_eq "a lookup of one registration" 200 "$STATUS"
    expect_match "finds it" '"total":1,.*"ep":"bench-7"' "$(cat "$WORK/get")"
    stop_rd
    expect_eq "stopped cleanly" 0 "$RD_STATUS"
}

write_conf 0
start_rd_http -c "$WORK/api.conf"
out=$("$BENCH" --server "127.0.0.1:$PORT" --phases register -n "$N" --max-seconds 120 2>&1)
expect_match "rd-bench registered $N" "ok=$N " "$out"
stop_rd
for t in test_same_json_as_on_the_loop test_coap_answered_while_http_lookups_wait \
    test_client_gone_mid_job test_full_pool_gives_503_with_retry_after \
    test_budget_gives_503_with_retry_after test_stop_with_lookups_in_flight; do
    run_test "$t"
done
summary api-workers
