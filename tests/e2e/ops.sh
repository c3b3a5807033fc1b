#!/usr/bin/env bash
# End-to-end tests for the operator interfaces: Prometheus metrics and health over HTTP, the same
# figures over CoAP, the dashboard's JSON API with lookup filters, and the HTTP listener's
# refusals, DTLS handshakes counted while rdctl talks CoAPS. Usage: ops.sh CORE_RD RDCTL
set -u
RD=$1
RDCTL=$2
. "$(dirname "$0")/lib.sh"

# metric NAME{LABELS}: the value of one sample in HTTP_BODY ("" when absent).
metric() {
    printf '%s\n' "$HTTP_BODY" | awk -v n="$1" '$1 == n { print $2; exit }'
}

register_three() {
    coap post 'rd?ep=node1&d=floor2&et=oic.d.sensor' -t 40 -e '</t>;rt="temperature-c";if=sensor,</l>;rt=light-lux'
    expect_eq "register node1" 2.01 "$CODE"
    coap post 'rd?ep=node2&d=floor3' -t 40 -e '</m>;rt=motion'
    expect_eq "register node2" 2.01 "$CODE"
    coap post 'rd?ep=<img src=x onerror=alert(1)>' -t 40 -e '</x>;title="</td><script>alert(2)</script>"'
    expect_eq "register hostile" 2.01 "$CODE"
}

test_health_and_metrics() {
    fresh_data
    start_rd_http
    http GET /health
    expect_eq "health status" 200 "$HTTP_STATUS"
    expect_match "health body" '"status":"ok"' "$HTTP_BODY"
    register_three
    coap get 'rd-lookup/ep?page=1'
    expect_eq "bad lookup" 4.00 "$CODE"
    coap get 'rd-lookup/res?rt=motion'
    expect_eq "lookup res" 2.05 "$CODE"
    http GET /metrics
    expect_eq "metrics status" 200 "$HTTP_STATUS"
    expect_match "metrics content type" 'Content-Type: text/plain; version=0.0.4' "$HTTP_HEADERS"
    expect_eq "registrations gauge" 3 "$(metric core_rd_registrations)"
    expect_eq "resources gauge" 4 "$(metric core_rd_resources)"
    expect_eq "registrations by code" 3 \
        "$(metric 'core_rd_requests_total{interface="registration",code="2.01"}')"
    expect_eq "rejected by reason" 1 \
        "$(metric 'core_rd_rejected_total{interface="lookup_ep",reason="bad_request"}')"
    expect_eq "latency histogram count" 1 \
        "$(metric 'core_rd_request_duration_seconds_count{interface="lookup_res"}')"
    expect_eq "latency +Inf bucket" 3 \
        "$(metric 'core_rd_request_duration_seconds_bucket{interface="registration",le="+Inf"}')"
    expect_match "map size gauge" '^[1-9][0-9]*$' "$(metric core_rd_store_map_bytes)"
    expect_match "map usage" '^0\.[0-9]+$' "$(metric core_rd_store_map_usage_ratio)"
    expect_eq "expired counter" 0 "$(metric core_rd_expired_total)"
    # The same figures over CoAP, as text/plain.
    coap get metrics
    expect_eq "coap metrics code" 2.05 "$CODE"
    expect_match "coap metrics content format" 'Content-Format:text/plain,' "$(cat "$WORK/out")"
    expect_match "coap metrics gauge" '^core_rd_registrations 3$' "$BODY"
    stop_rd
}

# expired_counted N: /metrics over HTTP counts N expired registrations (HTTP_BODY holds it).
expired_counted() {
    http GET /metrics
    [ "$(metric core_rd_expired_total)" = "$1" ]
}

test_expiry_is_counted() {
    fresh_data
    printf 'expiry_grace 0\n' >"$WORK/grace.conf"
    start_rd_http -c "$WORK/grace.conf"
    coap post 'rd?ep=short&lt=1' -t 40 -e '</a>'
    expect_eq "short registration" 2.01 "$CODE"
    # lt 1 s, then the next sweep (every second).
    wait_until 10 expired_counted 1
    expect_eq "expired counter after lt" 1 "$(metric core_rd_expired_total)"
    expect_eq "no live registration" 0 "$(metric core_rd_registrations)"
    stop_rd
}

test_api_endpoints_filters_and_escapes() {
    fresh_data
    start_rd_http
    register_three
    http GET '/api/endpoints?et=oic.d.sensor'
    expect_eq "api status" 200 "$HTTP_STATUS"
    expect_match "api total" '"total":1,' "$HTTP_BODY"
    expect_match "api node1" '"ep":"node1","d":"floor2"' "$HTTP_BODY"
    expect_no_match "api no node2" 'node2' "$HTTP_BODY"
    http GET '/api/endpoints?rt=motion'
    expect_match "link filter" '"total":1,.*"ep":"node2"' "$HTTP_BODY"
    http GET '/api/endpoints?d=floor*&count=1&page=1'
    expect_match "paging" '"total":2,"page":1,"count":1,"endpoints":\[\{[^]]*"ep":"node2"' \
        "$HTTP_BODY"
    # The total is remembered for the next page, until the directory changes.
    http GET '/api/endpoints?d=floor*&count=1&page=0'
    expect_match "another page, the same total" '"total":2,"page":0,"count":1,"endpoints":\[\{' \
        "$HTTP_BODY"
    http GET '/api/endpoints'
    expect_match "hostile name is a JSON string" '"ep":"<img src=x onerror=alert\(1\)>"' \
        "$HTTP_BODY"
    http GET '/api/endpoints?page=1'
    expect_eq "bad filter" 400 "$HTTP_STATUS"
    expect_match "bad filter reason" '"error":"page needs count"' "$HTTP_BODY"
    http GET '/api/stats'
    expect_match "stats" '"registrations":3,' "$HTTP_BODY"
    expect_match "stats history" '"history":\[\[[0-9]+,[0-9]+\]' "$HTTP_BODY"
    http GET '/api/endpoints?d=floor*&count=1&page=1'
    coap post 'rd?ep=node4&d=floor9' -t 40 -e '</x>'
    http GET '/api/endpoints?d=floor*&count=1&page=0'
    expect_match "a registration changes the total" '"total":3,' "$HTTP_BODY"
    stop_rd
}

test_http_refusals_and_headers() {
    fresh_data
    start_rd_http
    http POST /metrics
    expect_eq "POST refused" 405 "$HTTP_STATUS"
    http GET /nothing-here
    expect_eq "unknown path" 404 "$HTTP_STATUS"
    http GET /
    expect_eq "dashboard" 200 "$HTTP_STATUS"
    expect_match "dashboard html" '<script src="app.js" defer></script>' "$HTTP_BODY"
    expect_match "dashboard CSP" "Content-Security-Policy: default-src 'none'; script-src 'self'" \
        "$HTTP_HEADERS"
    http GET /app.js
    expect_match "script type" 'Content-Type: text/javascript' "$HTTP_HEADERS"
    expect_no_match "no innerHTML in the page script" 'innerHTML' "$HTTP_BODY"
    stop_rd
}

test_http_listen_in_use_fails_start() {
    fresh_data
    start_rd_http
    local taken=$HPORT first=$RD_PID
    RD_PID=""
    "$RD" -l "127.0.0.1:$((PORT + 1))" -H "127.0.0.1:$taken" -d "$WORK/data2" 2>"$WORK/rd2.log"
    expect_eq "second instance exit status" 1 "$?"
    expect_match "bind error logged" "http_listen 127.0.0.1:$taken: cannot bind" \
        "$(cat "$WORK/rd2.log")"
    RD_PID=$first
    stop_rd
}

test_structured_logs_and_reload() {
    fresh_data
    printf 'log_level warn\n' >"$WORK/level.conf"
    # At warn nothing is logged at start-up: started once it answers.
    start_rd_with '' -c "$WORK/level.conf" -l '127.0.0.1:{PORT}' -d "$WORK/data"
    coap post 'rd?ep=quiet' -t 40 -e '</a>'
    expect_eq "register at warn" 2.01 "$CODE"
    expect_no_match "info not logged at warn" 'registered' "$(cat "$WORK/rd.log")"
    printf 'log_level info\n' >"$WORK/level.conf"
    kill -HUP "$RD_PID"
    wait_logged 'log level changed' 5
    coap post 'rd?ep=loud&d=floor2&lt=60' -t 40 -e '</a>'
    expect_eq "register after reload" 2.01 "$CODE"
    expect_match "info logged after SIGHUP, as fields" \
        '^ts=[0-9T:.-]+Z level=info msg=registered ep=loud d=floor2 location=/rd/[a-z0-9]{8} base=coap://127\.0\.0\.1:[0-9]+ lt=60 links=1( identity=none)?$' \
        "$(grep 'ep=loud' "$WORK/rd.log")"
    coap post 'rd?ep=nosector' -t 40 -e '</a>'
    expect_match "an empty value is a field too" 'msg=registered ep=nosector d="" location=' \
        "$(grep 'ep=nosector' "$WORK/rd.log")"
    expect_match "prose quoted, then fields" '^ts=[^ ]+ level=info msg="log level changed" from=warn to=info$' \
        "$(grep 'log level changed' "$WORK/rd.log")"
    kill -0 "$RD_PID"
    expect_eq "still running after SIGHUP" 0 "$?"
    printf 'log_level loud\n' >"$WORK/level.conf"
    kill -HUP "$RD_PID"
    wait_logged 'reload: configuration unchanged' 5
    expect_match "bad reload keeps running" 'reload: configuration unchanged' "$(cat "$WORK/rd.log")"
    stop_rd
    expect_eq "clean exit" 0 "$RD_STATUS"
}

test_dtls_handshakes_and_rdctl_coaps() {
    fresh_data
    printf 'bob bob-key\n' >"$WORK/psk.keys"
    chmod 600 "$WORK/psk.keys"
    printf 'psk_file %s\n' "$WORK/psk.keys" >"$WORK/dtls.conf"
    start_rd_with 'http listening on 127.0.0.1:{HPORT}' -c "$WORK/dtls.conf" -l '127.0.0.1:{PORT}' \
        -s '127.0.0.1:{DPORT}' -H '127.0.0.1:{HPORT}' -d "$WORK/data"
    local dport=$DPORT
    timeout 30 "$RDCTL" -s "coaps://127.0.0.1:$dport" --psk-identity bob --psk-key bob-key \
        discover >"$WORK/ctl.out" 2>&1
    expect_eq "rdctl over CoAPS" 0 "$?"
    expect_match "CoAPS discovery" '/rd-lookup/ep' "$(cat "$WORK/ctl.out")"
    expect_alive "before the refused handshakes"
    timeout 30 "$RDCTL" -s "coaps://127.0.0.1:$dport" --psk-identity bob --psk-key wrong -t 3 \
        discover >"$WORK/ctl.out" 2>&1
    expect_eq "wrong key is no answer" 3 "$?"
    timeout 30 "$RDCTL" -s "coaps://127.0.0.1:$dport" --psk-identity eve --psk-key bob-key -t 3 \
        discover >"$WORK/ctl.out" 2>&1
    expect_eq "unknown identity is no answer" 3 "$?"
    http GET /metrics
    expect_eq "handshake counted" 1 "$(metric 'core_rd_dtls_handshakes_total{result="ok"}')"
    # The unknown identity fails on the server; a wrong key with a known identity only fails on
    # the client (the server drops what it cannot decrypt, as DTLS does).
    expect_eq "failed handshake counted" 1 \
        "$(metric 'core_rd_dtls_handshakes_total{result="failed"}')"
    stop_rd
}

run_test test_structured_logs_and_reload
run_test test_dtls_handshakes_and_rdctl_coaps
run_test test_health_and_metrics
run_test test_expiry_is_counted
run_test test_api_endpoints_filters_and_escapes
run_test test_http_refusals_and_headers
run_test test_http_listen_in_use_fails_start
summary
