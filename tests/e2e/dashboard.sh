#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium loads the page from core-rd's HTTP
# listener, runs its script against the live directory and dumps the resulting DOM. Checks that
# registered endpoints appear, that the filter (taken from the URL fragment into the filter box)
# narrows the list like a lookup, and that hostile names and attributes show as text. Then, with
# the page kept open through the DevTools protocol (browser.py): a registration made after the
# page loaded appears without a reload, the endpoint page shows one registration and follows its
# changes, and a token from the fragment is used and hidden.
# Exits 77 (reported as skipped) when Chromium is not installed.
# Usage: dashboard.sh CORE_RD
set -u
RD=$1
BROWSER=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$BROWSER" ]; then
    echo "chromium not installed: skipped"
    exit 77
fi
. "$(dirname "$0")/lib.sh"

# dom FRAGMENT: the page's DOM after its script ran, with FRAGMENT as the URL fragment.
dom() {
    rm -rf "$WORK/profile"
    timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$WORK/profile" --virtual-time-budget=5000 --dump-dom \
        "http://127.0.0.1:$HPORT/$1" 2>"$WORK/chromium.log"
}

# rows DOM: one line per endpoint row, its cells separated by '|'.
rows() {
    printf '%s' "$1" | grep -o '<tr class="endpoint">.*</tr>' | sed 's#</tr>#&\n#g' |
        sed -n 's#.*<td class="ep"><a href="[^"]*">\([^<]*\)</a></td><td class="d">\([^<]*\)</td><td class="et">\([^<]*\)</td><td class="lt">\([^<]*\)</td>.*#\1|\2|\3|\4#p'
}

test_dashboard_lists_filters_and_escapes() {
    fresh_data
    start_rd_http
    coap post 'rd?ep=node1&d=floor2&et=oic.d.sensor&lt=7200' -t 40 -e '</t>;rt="temperature-c"'
    expect_eq "register node1" 2.01 "$CODE"
    coap post 'rd?ep=node2&d=floor3&et=oic.d.light' -t 40 -e '</l>;rt=light-lux'
    expect_eq "register node2" 2.01 "$CODE"
    coap post 'rd?ep=<img src=x onerror=document.title=1>&d=<b>bold</b>' -t 40 \
        -e '</x>;rt="<script>document.title=2</script>"'
    expect_eq "register hostile" 2.01 "$CODE"

    local page
    page=$(dom "")
    expect_match "page loaded" 'data-loaded="1"' "$page"
    expect_match "count of registrations" '<span class="n" id="n-regs">3</span>' "$page"
    expect_match "count of resources" '<span class="n" id="n-res">3</span>' "$page"
    expect_match "node1 row with sector, type and lifetime left" \
        '^node1\|floor2\|oic\.d\.sensor\|(1h 59m|2h 0m)$' "$(rows "$page")"
    expect_match "node2 row" '^node2\|floor3\|oic\.d\.light\|' "$(rows "$page")"
    expect_match "resource resolved" 'coap://127\.0\.0\.1:[0-9]+/t  rt=temperature-c' "$page"
    expect_match "chart drawn" '<polyline points="' "$page"
    # Hostile strings are text: escaped in the DOM, never elements, never run.
    expect_match "hostile ep as text" \
        '<td class="ep"><a href="#ep=%2Frd%2F[0-9a-z]{8}">&lt;img src=x onerror=document.title=1&gt;</a></td>' \
        "$page"
    expect_match "hostile sector as text" '<td class="d">&lt;b&gt;bold&lt;/b&gt;</td>' "$page"
    expect_match "hostile rt as text" 'rt=&lt;script&gt;document.title=2&lt;/script&gt;' "$page"
    expect_no_match "no injected element" '<img src|<b>bold|<script>document' "$page"
    expect_match "title untouched" '<title>core-rd</title>' "$page"

    # The filter box takes lookup filters; the fragment fills it and applies it.
    page=$(dom "#filter=et%3Doic.d.sensor")
    expect_match "applied filter shown" '<code id="applied">et=oic.d.sensor</code>' "$page"
    expect_eq "filtered by et" "node1|floor2|oic.d.sensor" "$(rows "$page" | cut -d'|' -f1-3)"
    expect_match "matching count" '<span class="n" id="n-match">1</span>' "$page"
    page=$(dom "#filter=rt%3Dlight*")
    expect_eq "filtered by a link attribute prefix" "node2" "$(rows "$page" | cut -d'|' -f1)"
    page=$(dom "#filter=d%3Dfloor*%20ep%3Dnode2")
    expect_eq "two filters AND" "node2" "$(rows "$page" | cut -d'|' -f1)"
    page=$(dom "#filter=%3Dx")
    expect_match "bad filter explained" '<span id="filter-error">empty parameter name</span>' "$page"
    expect_eq "no rows for a bad filter" "" "$(rows "$page")"
    # A fragment that is not valid percent-encoding must not stop the page from loading.
    page=$(dom "#filter=%E0%A4%A")
    expect_match "undecodable filter: page loaded" 'data-loaded="1"' "$page"
    expect_match "undecodable filter explained" \
        '<span id="filter-error">the link.s filter is not valid percent-encoding' "$page"
    expect_eq "every endpoint listed" "3" "$(rows "$page" | wc -l)"
    stop_rd
}

# watch URL READY_JS DONE_JS: open URL in a browser kept open; once READY_JS holds, run CHANGE
# (a shell function), then wait until DONE_JS holds. The DOMs are in $WORK/watch/ready.html and
# done.html; WATCH_STATUS is 0 when DONE_JS came true.
watch() {
    rm -rf "$WORK/watch"
    mkdir -p "$WORK/watch"
    "${PYTHON:-/usr/bin/python3}" "$(dirname "$0")/browser.py" "$BROWSER" "$1" "$WORK/watch" \
        "$2" "$3" 30 2>"$WORK/browser.log" &
    local pid=$!
    if wait_until 40 test -e "$WORK/watch/ready"; then
        $CHANGE
    else
        fail "the page never got ready: $(tail -n 3 "$WORK/browser.log")"
    fi
    touch "$WORK/watch/go"
    wait "$pid"
    WATCH_STATUS=$?
}

# In the page: loaded, following the feed, and marked, so that a reload (which loses the mark)
# cannot pass for a live update.
LIVE='(window.mark = 1) && document.body.dataset.loaded === "1" && document.getElementById("live").textContent === "live"'

register_late() {
    coap post 'rd?ep=late&d=floor9&et=oic.d.late' -t 40 -e '</z>;rt=zone'
    expect_eq "register late" 2.01 "$CODE"
}

test_dashboard_follows_changes_live() {
    fresh_data
    start_rd_http
    coap post 'rd?ep=early' -t 40 -e '</a>'
    CHANGE=register_late watch "http://127.0.0.1:$HPORT/" "$LIVE" \
        'window.mark === 1 && [...document.querySelectorAll("td.ep a")].some((a) => a.textContent === "late") && document.getElementById("n-regs").textContent === "2"'
    expect_eq "the new registration appeared" 0 "$WATCH_STATUS"
    expect_eq "not there when the page loaded" "early" "$(rows "$(cat "$WORK/watch/ready.html")" | cut -d'|' -f1)"
    expect_eq "there after, without a reload" "early late" \
        "$(rows "$(cat "$WORK/watch/done.html")" | cut -d'|' -f1 | sort | paste -sd' ' -)"
    expect_match "the counts follow" '<span class="n" id="n-regs">2</span>' "$(cat "$WORK/watch/done.html")"
    expect_match "the last event is shown" '<span id="last-event">registered late /rd/' \
        "$(cat "$WORK/watch/done.html")"
    stop_rd
}

update_links() {
    coap post "$NODE?lt=7200" -t 40 -e '</t>;rt="temperature-c",</h>;rt=humidity'
    expect_eq "update node's links" 2.04 "$CODE"
}

test_dashboard_endpoint_page() {
    fresh_data
    start_rd_http
    coap post 'rd?ep=node1&d=floor2&et=oic.d.sensor&lt=3600' -t 40 -e '</t>;rt="temperature-c";if=sensor'
    NODE=$LOCATION
    local page
    page=$(dom "#ep=%2F${NODE//\//%2F}")
    expect_match "endpoint page: name" '<h2 id="ep-name">node1</h2>' "$page"
    expect_match "endpoint page: location" "<dd id=\"ep-location\">/$NODE</dd>" "$page"
    expect_match "endpoint page: sector" '<dd id="ep-sector">floor2</dd>' "$page"
    expect_match "endpoint page: lifetime left" '<dd id="ep-left">(59m [0-9]+s|1h 0m)</dd>' "$page"
    expect_match "endpoint page: last change" '<dd id="ep-changed">20[0-9-]+T[0-9:.]+Z</dd>' "$page"
    expect_match "endpoint page: attributes" '<tbody id="ep-attrs"><tr><td>et</td><td>oic.d.sensor</td></tr></tbody>' "$page"
    expect_match "endpoint page: links" \
        '<td class="href">coap://127\.0\.0\.1:[0-9]+/t</td><td class="attrs">rt=temperature-c; if=sensor</td>' "$page"
    expect_match "the list is hidden" '<main id="list" hidden' "$page"
    CHANGE=update_links watch "http://127.0.0.1:$HPORT/#ep=%2F${NODE//\//%2F}" "$LIVE" \
        'window.mark === 1 && document.getElementById("ep-links").textContent.includes("rt=humidity")'
    expect_eq "the endpoint page follows its changes" 0 "$WATCH_STATUS"
    expect_match "with the new lifetime" '<dd id="ep-lt">7200 s</dd>' "$(cat "$WORK/watch/done.html")"
    page=$(dom "#ep=%2Frd%2Fzzzzzzzz")
    expect_match "unknown location: the API's error" \
        '<span id="ep-error">no registration at that location</span>' "$page"
    stop_rd
}

register_second() {
    coap post 'rd?ep=second' -t 40 -e '</b>'
}

test_dashboard_takes_a_token_from_the_fragment() {
    fresh_data
    printf 'dash-token-7\n' >"$WORK/http.tokens"
    chmod 600 "$WORK/http.tokens"
    printf 'http_token_file %s\n' "$WORK/http.tokens" >"$WORK/tok.conf"
    start_rd_http -c "$WORK/tok.conf"
    coap post 'rd?ep=first' -t 40 -e '</a>'
    CHANGE=register_second watch "http://127.0.0.1:$HPORT/#token=dash-token-7" "$LIVE" \
        'window.mark === 1 && [...document.querySelectorAll("td.ep a")].some((a) => a.textContent === "second") && !location.href.includes("dash-token")'
    expect_eq "with the token: listed, live, and the token out of the address" 0 "$WATCH_STATUS"
    expect_eq "both endpoints" "first second" \
        "$(rows "$(cat "$WORK/watch/done.html")" | cut -d'|' -f1 | sort | paste -sd' ' -)"
    stop_rd
}

run_test test_dashboard_lists_filters_and_escapes
run_test test_dashboard_follows_changes_live
run_test test_dashboard_endpoint_page
run_test test_dashboard_takes_a_token_from_the_fragment
summary
