#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium loads the page from core-rd's HTTP
# listener, runs its script against the live directory and dumps the resulting DOM. Checks that
# registered endpoints appear, that the filter (taken from the URL fragment into the filter box)
# narrows the list like a lookup, and that hostile names and attributes show as text.
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
        sed -n 's#.*<td class="ep">\([^<]*\)</td><td class="d">\([^<]*\)</td><td class="et">\([^<]*\)</td><td class="lt">\([^<]*\)</td>.*#\1|\2|\3|\4#p'
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
    expect_match "hostile ep as text" '<td class="ep">&lt;img src=x onerror=document.title=1&gt;</td>' "$page"
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

run_test test_dashboard_lists_filters_and_escapes
summary
