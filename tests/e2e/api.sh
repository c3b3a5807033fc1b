#!/usr/bin/env bash
# The HTTP JSON API against its OpenAPI document (docs/openapi.yaml): live answers of every
# documented path, its errors and the change feed's events validated with jsonschema by
# tests/api/validate.py; the JSON lookups agree with the CoAP ones.
# Usage: api.sh CORE_RD VALIDATE_PY OPENAPI_YAML
set -u
RD=$1
VALIDATE=$2
DOC=$3
. "$(dirname "$0")/lib.sh"
# Debian's interpreter, whose python3-jsonschema and python3-yaml the CI installs.
PYTHON=${PYTHON:-/usr/bin/python3}

# conf LINES...: a configuration file with these lines.
conf() {
    printf '%s\n' "$@" >"$WORK/core-rd.conf"
}

# populate: registrations, an update, a removal and an expiry, so that every kind of answer
# and event has something to show.
populate() {
    coap post 'rd?ep=node1&d=floor2&et=oic.d.sensor&lt=7200' -t 40 -e '</t>;rt=temp;if=sensor'
    expect_eq "register node1" 2.01 "$CODE"
    NODE1=$LOCATION
    coap post 'rd?ep=node2&d=floor3' -t 40 -e '</l>;rt=light,</m>;rt=temp-motion'
    expect_eq "register node2" 2.01 "$CODE"
    coap post "$NODE1?lt=3600"
    expect_eq "update node1" 2.04 "$CODE"
    coap post 'rd?ep=gone' -t 40 -e '</x>'
    coap delete "$LOCATION"
    expect_eq "remove gone" 2.02 "$CODE"
    coap post 'rd?ep=brief&lt=1' -t 40 -e '</b>'
    expect_eq "register brief" 2.01 "$CODE"
    wait_until 10 expired_seen || fail "brief never expired"
}
expired_seen() {
    http GET '/api/endpoints?ep=brief'
    expect_match_quiet '"total":0,' "$HTTP_BODY" && [ "$HTTP_STATUS" = 200 ] &&
        http GET /metrics && printf '%s' "$HTTP_BODY" | grep -q '^core_rd_expired_total 1'
}
expect_match_quiet() { printf '%s' "$2" | grep -Eq -- "$1"; }

test_api_answers_match_the_document() {
    fresh_data
    conf 'lifetime_min 1' 'expiry_grace 0'
    start_rd_http -c "$WORK/core-rd.conf"
    populate
    "$PYTHON" "$VALIDATE" "$DOC" "$HPORT" >"$WORK/validate.out" 2>&1
    expect_eq "validate.py: every answer as documented" 0 $?
    expect_match "validate.py checked" 'api: [1-9][0-9]* passed, 0 failed' \
        "$(tail -n 1 "$WORK/validate.out")"
    grep "^FAIL" "$WORK/validate.out"
    stop_rd
}

# The JSON lookups give what the CoAP ones give, page for page.
test_api_lookups_agree_with_coap() {
    fresh_data
    start_rd_http
    local i
    for i in 1 2 3 4 5; do
        coap post "rd?ep=n$i&d=f$((i % 2))" -t 40 -e "</a$i>;rt=temp,</b$i>;rt=hum"
    done
    expect_eq "five registrations" 2.01 "$CODE"
    coap get 'rd-lookup/res?rt=temp&count=2&page=1'
    local coap_hrefs json_hrefs
    coap_hrefs=$(printf '%s' "$BODY" | grep -o '<[^>]*>' | tr -d '<>' | paste -sd' ' -)
    http GET '/api/resources?rt=temp&count=2&page=1'
    expect_eq "resources: 200" 200 "$HTTP_STATUS"
    json_hrefs=$(printf '%s' "$HTTP_BODY" | grep -o '"href":"[^"]*"' | cut -d'"' -f4 | paste -sd' ' -)
    expect_eq "resource page as rd-lookup/res gives it" "$coap_hrefs" "$json_hrefs"
    expect_match "resources: total of every page" '"total":5,"page":1,"count":2' "$HTTP_BODY"
    coap get 'rd-lookup/ep?d=f1'
    http GET '/api/endpoints?d=f1'
    expect_eq "endpoints: the same registrations as rd-lookup/ep" \
        "$(printf '%s' "$BODY" | grep -o '<[^>]*>' | tr -d '<>' | paste -sd' ' -)" \
        "$(printf '%s' "$HTTP_BODY" | grep -o '"href":"/rd/[^"]*"' | cut -d'"' -f4 | paste -sd' ' -)"
    http GET '/api/resources?rt=temp&count=0'
    expect_match "count 0: an empty page, the total still counted" \
        '"total":5,"page":0,"count":0,"resources":\[\]' "$HTTP_BODY"
    coap post 'rd?ep=one&d=x&et=e1&lt=600' -t 40 -e '</o>;rt=one'
    local one=$LOCATION
    http GET "/api/endpoints/$one"
    expect_eq "one registration: 200" 200 "$HTTP_STATUS"
    expect_match "one registration: the one at that location" \
        "^\\{\"href\":\"/$one\",\"ep\":\"one\",\"d\":\"x\"" "$HTTP_BODY"
    expect_match "one registration: its attributes and links" \
        '"attrs":\[\["et","e1"\]\],"links":\[\{"href":"coap://127\.0\.0\.1:[0-9]+/o","attrs":\[\["rt","one"\]\]\}\]' \
        "$HTTP_BODY"
    coap delete "$one"
    http GET "/api/endpoints/$one"
    expect_eq "removed: 404" 404 "$HTTP_STATUS"
    expect_eq "removed: a JSON error" '{"error":"no registration at that location"}' "$HTTP_BODY"
    http GET '/api/endpoints/xyz'
    expect_eq "not a location: 404" 404 "$HTTP_STATUS"
    http POST '/api/endpoints'
    expect_eq "POST: 405" 405 "$HTTP_STATUS"
    expect_eq "POST: a JSON error" '{"error":"read-only: GET only"}' "$HTTP_BODY"
    stop_rd
}

# tokens FILE TOKEN...: a token file (mode 600) with a comment and these tokens.
tokens() {
    local f=$1
    shift
    printf '# operators\n' >"$f"
    printf '%s\n' "$@" >>"$f"
    chmod 600 "$f"
}

test_api_needs_a_token_when_tokens_are_set() {
    fresh_data
    tokens "$WORK/http.tokens" s3cret-1 other.token
    conf 'lifetime_min 1' 'expiry_grace 0' "http_token_file $WORK/http.tokens"
    start_rd_http -c "$WORK/core-rd.conf"
    HTTP_TOKEN=s3cret-1 populate
    # Every documented path: 401 with the challenge without a token or with a wrong one, the
    # same answers as before with one; /health needs none.
    "$PYTHON" "$VALIDATE" "$DOC" "$HPORT" other.token >"$WORK/validate.out" 2>&1
    expect_eq "validate.py with a token" 0 $?
    expect_match "validate.py checked" 'api: [1-9][0-9]* passed, 0 failed' \
        "$(tail -n 1 "$WORK/validate.out")"
    grep '^FAIL' "$WORK/validate.out"
    http GET /api/stats
    expect_eq "no token: 401" 401 "$HTTP_STATUS"
    expect_match "no token: the challenge" 'WWW-Authenticate: Bearer realm="core-rd"' "$HTTP_HEADERS"
    expect_eq "no token: a JSON error" '{"error":"a bearer token is required"}' "$HTTP_BODY"
    http GET /
    expect_eq "the dashboard's page needs none" 200 "$HTTP_STATUS"
    http GET /health
    expect_eq "health needs none" 200 "$HTTP_STATUS"
    HTTP_TOKEN=s3cret-1 http GET /metrics
    expect_eq "metrics with a token" 200 "$HTTP_STATUS"
    # SIGHUP reads the file again: the old token stops working, the new one works.
    tokens "$WORK/http.tokens" rotated-2
    kill -HUP "$RD_PID"
    wait_until 10 token_is 401 s3cret-1 || fail "the old token still works after SIGHUP"
    HTTP_TOKEN=rotated-2 http GET /api/stats
    expect_eq "reloaded: the new token works" 200 "$HTTP_STATUS"
    # A broken file on reload leaves the tokens as they were.
    printf 'not a token\n' >"$WORK/http.tokens"
    kill -HUP "$RD_PID"
    wait_logged "http_token_file $WORK/http.tokens:1: not a bearer token" ||
        fail "the broken file is not reported"
    HTTP_TOKEN=rotated-2 http GET /api/stats
    expect_eq "broken file: the tokens stay" 200 "$HTTP_STATUS"
    stop_rd
}
token_is() {
    HTTP_TOKEN=$2 http GET /api/stats
    [ "$HTTP_STATUS" = "$1" ]
}

test_http_listen_off_loopback_needs_tokens() {
    fresh_data
    "$RD" -l 127.0.0.1:0 -H 0.0.0.0:0 -d "$WORK/data" 2>"$WORK/refused.log" &
    local pid=$!
    wait_until 10 gone "$pid"
    wait "$pid"
    expect_ne "no tokens, not loopback: start fails" 0 $?
    expect_match "and says why" 'http_listen 0\.0\.0\.0:0: not a loopback address.*set http_token_file' \
        "$(cat "$WORK/refused.log")"
    # With tokens it binds every address; this test still only talks to 127.0.0.1.
    tokens "$WORK/http.tokens" wide-1
    conf "http_token_file $WORK/http.tokens"
    start_rd_with 'http listening on 0.0.0.0:{HPORT}' -l '127.0.0.1:{PORT}' -H '0.0.0.0:{HPORT}' \
        -d "$WORK/data" -c "$WORK/core-rd.conf"
    HTTP_TOKEN=wide-1 http GET /api/endpoints
    expect_eq "tokens, any address: served" 200 "$HTTP_STATUS"
    http GET /api/endpoints
    expect_eq "tokens, any address: 401 without" 401 "$HTTP_STATUS"
    stop_rd
}
gone() { ! kill -0 "$1" 2>/dev/null; }

run_test test_api_answers_match_the_document
run_test test_api_lookups_agree_with_coap
run_test test_api_needs_a_token_when_tokens_are_set
run_test test_http_listen_off_loopback_needs_tokens
summary api
