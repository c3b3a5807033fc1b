#!/usr/bin/env bash
# End-to-end tests for rdctl against the real core-rd: discovery, lookups with filters, paging
# and JSON, show, delete, register from stdin, watch, and the offline export/import round trip,
# backup while the RD runs and check. Usage: rdctl.sh CORE_RD RDCTL
set -u
RD=$1
RDCTL=$2
. "$(dirname "$0")/lib.sh"

# ctl ARGS...: run rdctl against the server; sets OUT, ERR and STATUS.
ctl() {
    timeout 60 "$RDCTL" --server "coap://127.0.0.1:$PORT" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
    STATUS=$?
    OUT=$(cat "$WORK/ctl.out")
    ERR=$(cat "$WORK/ctl.err")
}

test_online_commands() {
    fresh_data
    start_rd
    ctl discover
    expect_eq "discover status" 0 "$STATUS"
    expect_eq "discover lists interfaces" "$(printf '/rd\n/rd-lookup/ep\n/rd-lookup/res')" "$OUT"

    printf '</t>;rt="temperature-c";if=sensor,</l>;rt=light-lux\n' >"$WORK/links"
    ctl register --ep node1 --d floor2 --lt 600 --attr et=oic.d.sensor - <"$WORK/links"
    expect_eq "register from stdin" 0 "$STATUS"
    expect_match "register prints location" '^registered /rd/[a-z0-9]{8}$' "$OUT"
    local loc=${OUT#registered }
    ctl register --ep node1 --d floor2 --lt 600 --attr et=oic.d.sensor "$WORK/links"
    expect_eq "re-register same location" "registered $loc" "$OUT"
    printf '<t>;rt=x,' >"$WORK/bad"
    ctl register --ep bad "$WORK/bad"
    expect_eq "bad links refused before sending" 4 "$STATUS"
    ctl register --d x - <"$WORK/links"
    expect_eq "register without ep" 2 "$STATUS"
    ctl register --ep 'bad name' --base 'not a uri' - <"$WORK/links"
    expect_eq "RD refusal is exit 1" 1 "$STATUS"
    expect_match "RD diagnostic shown" '^rdctl: 4\.00 ' "$ERR"

    # 25 more endpoints: three pages of 10, fetched for the user.
    local i=1
    while [ $i -le 25 ]; do
        printf '</x>;rt=thing\n' | "$RDCTL" -s "coap://127.0.0.1:$PORT" register --ep "n$i" \
            --d bulk >/dev/null
        i=$((i + 1))
    done
    ctl --page-size 10 -o link-format ep d=bulk
    expect_eq "paging status" 0 "$STATUS"
    expect_eq "every page fetched" 25 "$(printf '%s\n' "$OUT" | grep -c 'ep="n')"
    expect_eq "no duplicates across pages" 25 "$(printf '%s\n' "$OUT" | sort -u | grep -c .)"
    ctl --page-size 10 -o link-format res rt=thing
    expect_eq "resource paging" 25 "$(printf '%s\n' "$OUT" | grep -c 'rt=thing')"
    ctl -o link-format res 'rt=temp*'
    expect_match "resource filter" '^<coap://127\.0\.0\.1:[0-9]+/t>;rt="temperature-c";if=sensor$' "$OUT"
    ctl --json ep et=oic.d.sensor
    expect_match "json ep" '"ep": "node1"' "$OUT"
    expect_match "json sector" '"d": "floor2"' "$OUT"
    expect_eq "json is one entry" 1 "$(printf '%s' "$OUT" | grep -c '"href"')"
    ctl ep page=2
    expect_eq "page is rdctl's job" 2 "$STATUS"

    ctl show node1
    expect_eq "show status" 0 "$STATUS"
    expect_match "show endpoint" "^</$loc|<$loc>" "$(printf '%s' "$OUT" | sed -n 2p)"
    expect_eq "show resources" 2 "$(printf '%s\n' "$OUT" | grep -c '^<coap://')"
    ctl show "$loc"
    expect_match "show by location" 'ep="node1"' "$OUT"
    ctl show nobody
    expect_eq "show unknown" 1 "$STATUS"

    ctl delete "$loc"
    expect_eq "delete" 0 "$STATUS"
    ctl delete "$loc"
    expect_eq "delete again is 4.04" 1 "$STATUS"
    expect_match "delete again diagnostic" '4\.04' "$ERR"
    ctl delete node1
    expect_eq "delete needs a location" 2 "$STATUS"
    stop_rd
}

test_watch_sees_registration() {
    fresh_data
    start_rd
    timeout 30 "$RDCTL" -s "coap://127.0.0.1:$PORT" --count 2 --timeout 20 watch ep ep=late \
        >"$WORK/watch" 2>&1 &
    local wpid=$!
    sleep 1
    printf '</z>\n' | "$RDCTL" -s "coap://127.0.0.1:$PORT" register --ep late >/dev/null
    wait $wpid
    expect_eq "watch ends after two answers" 0 "$?"
    expect_eq "first answer empty" 1 "$(sed -n 1p "$WORK/watch" | grep -cE ' 2\.05 $')"
    expect_match "notification shows the new endpoint" 'ep="late"' "$(sed -n 2p "$WORK/watch")"
    stop_rd
}

test_offline_commands() {
    fresh_data
    start_rd
    printf '</t>;rt="temperature-c";title="a \\"quoted\\" title",</l>;rt=light-lux;anchor="/t"\n' |
        "$RDCTL" -s "coap://127.0.0.1:$PORT" register --ep node1 --d floor2 --attr et=oic.d.sensor \
            --attr Q >/dev/null
    printf '</x>\n' | "$RDCTL" -s "coap://127.0.0.1:$PORT" register --ep node2 \
        --base coap://192.0.2.1 >/dev/null
    # Backup while the RD runs and keeps serving.
    "$RDCTL" --data-dir "$WORK/data" backup "$WORK/backup" >"$WORK/ctl.out" 2>&1
    expect_eq "backup while running" 0 "$?"
    coap get 'rd-lookup/ep'
    expect_eq "RD still serves" 2.05 "$CODE"
    stop_rd

    "$RDCTL" --data-dir "$WORK/backup" check >"$WORK/check" 2>&1
    expect_eq "backup checks clean" 0 "$?"
    expect_match "check figures" '^records=2 names=2 expiry=2 terms=[0-9]+ problems=0$' \
        "$(cat "$WORK/check")"
    expect_match "check names the schema version" '^schema version [0-9]+$' "$(cat "$WORK/check")"
    "$RDCTL" --data-dir "$WORK/data" export >"$WORK/export" 2>/dev/null
    expect_eq "export status" 0 "$?"
    expect_eq "export lines" 2 "$(grep -c . "$WORK/export")"
    expect_match "export keeps valueless attribute" '\["Q",null\]' "$(cat "$WORK/export")"

    # Round trip into a fresh directory (made by starting and stopping an RD there).
    mkdir -p "$WORK/fresh"
    "$RD" -l "127.0.0.1:$((PORT + 1))" -d "$WORK/fresh" 2>/dev/null &
    local fpid=$!
    sleep 0.3
    kill "$fpid"
    wait "$fpid"
    "$RDCTL" --data-dir "$WORK/fresh" import "$WORK/export" 2>"$WORK/import.err"
    expect_eq "import status" 0 "$?"
    expect_match "import counts" 'imported 2 new' "$(cat "$WORK/import.err")"
    "$RDCTL" --data-dir "$WORK/fresh" export 2>/dev/null | sed 's/"expires_at":[0-9]*,//' \
        >"$WORK/export2"
    expect_eq "round trip is lossless" "$(sed 's/"expires_at":[0-9]*,//' "$WORK/export")" \
        "$(cat "$WORK/export2")"
    "$RDCTL" --data-dir "$WORK/fresh" check >/dev/null 2>&1
    expect_eq "imported store checks clean" 0 "$?"

    # A bad record anywhere means nothing is imported.
    { sed -n 1p "$WORK/export" | sed 's/"ep":"node1"/"ep":"other"/'
      echo '{"ep":"x","expires_at":1,"lt":60,"base":"coap://a","links":"<rel>"}'; } \
        >"$WORK/bad.jsonl"
    "$RDCTL" --data-dir "$WORK/fresh" import "$WORK/bad.jsonl" 2>"$WORK/import.err"
    expect_eq "bad import status" 4 "$?"
    expect_match "bad import names line" 'line 2: ' "$(cat "$WORK/import.err")"
    "$RDCTL" --data-dir "$WORK/fresh" export 2>/dev/null >"$WORK/export3"
    expect_no_match "nothing imported" '"ep":"other"' "$(cat "$WORK/export3")"
    "$RDCTL" --data-dir "$WORK/nowhere" export >/dev/null 2>"$WORK/err"
    expect_eq "missing data dir" 4 "$?"
    expect_eq "missing data dir not created" no "$([ -e "$WORK/nowhere" ] && echo yes || echo no)"
}

test_help_and_usage() {
    "$RDCTL" --help >"$WORK/help"
    expect_eq "help status" 0 "$?"
    expect_match "help lists commands" 'watch \[ep\|res\]' "$(cat "$WORK/help")"
    "$RDCTL" register --help >"$WORK/help"
    expect_eq "subcommand help" 0 "$?"
    expect_match "subcommand usage" '^Usage: rdctl \[-s URI\] register --ep NAME' "$(head -n 1 "$WORK/help")"
    "$RDCTL" backup -h >"$WORK/help"
    expect_match "offline subcommand usage" '^Usage: rdctl -d DIR backup TARGET_DIR' "$(head -n 1 "$WORK/help")"
    "$RDCTL" frobnicate 2>/dev/null
    expect_eq "unknown command" 2 "$?"
    "$RDCTL" -s coap://127.0.0.1:9 -t 1 discover 2>"$WORK/err"
    expect_eq "no server" 3 "$?"
}

run_test test_online_commands
run_test test_watch_sees_registration
run_test test_offline_commands
run_test test_help_and_usage
summary
