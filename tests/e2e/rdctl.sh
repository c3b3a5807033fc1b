#!/usr/bin/env bash
# End-to-end tests for rdctl against the real core-rd: discovery, lookups with filters, paging
# and JSON, show, delete, register from stdin, watch, and the offline export/import round trip,
# backup while the RD runs and check; options anywhere on the command line, the table output
# and the unchanged link-format and JSON outputs. Usage: rdctl.sh CORE_RD RDCTL
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

# lines_are FILE N: FILE has N non-empty lines.
lines_are() { [ "$(grep -c . "$1" 2>/dev/null)" = "$2" ]; }

test_watch_sees_registration() {
    fresh_data
    start_rd
    timeout 30 "$RDCTL" -s "coap://127.0.0.1:$PORT" --count 2 --timeout 20 watch ep ep=late \
        >"$WORK/watch" 2>&1 &
    local wpid=$!
    # Register only once the observation stands: its first answer is printed.
    wait_until 10 lines_are "$WORK/watch" 1
    expect_eq "watch's first answer came" 1 "$(grep -c . "$WORK/watch")"
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
    "$RD" -l "127.0.0.1:$((PORT + 1))" -d "$WORK/fresh" 2>"$WORK/fresh.log" &
    local fpid=$!
    wait_until 10 grep -q 'data directory' "$WORK/fresh.log"
    expect_match "fresh RD opened its store" 'data directory' "$(cat "$WORK/fresh.log")"
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

# raw ARGS...: run rdctl exactly as given (no --server added); sets OUT, ERR and STATUS.
raw() {
    timeout 60 "$RDCTL" "$@" >"$WORK/ctl.out" 2>"$WORK/ctl.err"
    STATUS=$?
    OUT=$(cat "$WORK/ctl.out")
    ERR=$(cat "$WORK/ctl.err")
}

test_options_after_the_command() {
    fresh_data
    start_rd
    local uri="coap://127.0.0.1:$PORT"
    printf '</t>;rt="temperature-c"\n' >"$WORK/links"
    # Register's own options and the global ones mixed, after the file operand.
    raw register "$WORK/links" --ep opt1 --server "$uri" --d floor2 -t 5
    expect_eq "register with options after the command" 0 "$STATUS"
    expect_match "register location" '^registered /rd/[a-z0-9]{8}$' "$OUT"
    local loc=${OUT#registered }
    ctl -o link-format ep ep=opt1
    local want=$OUT
    expect_match "reference lookup" 'ep="opt1"' "$want"
    # Before the fix, --server and its value went to the default server as two more filters;
    # -t 5 first bounds that case.
    raw -t 5 ep --server "$uri" -o link-format ep=opt1
    expect_eq "ep --server URI" 0 "$STATUS"
    expect_eq "ep --server URI is the same lookup" "$want" "$OUT"
    raw -t 5 ep ep=opt1 --output=link-format --server="$uri"
    expect_eq "options after the filters, with =" "$want" "$OUT"
    raw -t 5 ep ep=opt1 -o link-format -s "$uri"
    expect_eq "short option after the filters" "$want" "$OUT"
    POSIXLY_CORRECT=1 timeout 60 "$RDCTL" -t 5 ep ep=opt1 -o link-format -s "$uri" \
        >"$WORK/ctl.out" 2>&1
    expect_eq "POSIXLY_CORRECT changes nothing" "$want" "$(cat "$WORK/ctl.out")"
    raw -t 5 ep ep=opt1 -s "$uri" --json
    expect_match "--json after the command" '"ep": "opt1"' "$OUT"
    raw -t 5 discover -s "$uri"
    expect_eq "discover -s URI" "$(printf '/rd\n/rd-lookup/ep\n/rd-lookup/res')" "$OUT"
    raw -t 5 show opt1 --server "$uri"
    expect_match "show NAME --server URI" 'ep="opt1"' "$OUT"
    raw -t 5 watch ep ep=opt1 --server "$uri" --count 1 --timeout 10
    expect_eq "watch with options after" 0 "$STATUS"
    expect_match "watch answer" 'ep="opt1"' "$OUT"
    raw -t 5 delete "$loc" --server "$uri"
    expect_eq "delete LOCATION --server URI" "deleted $loc" "$OUT"
    stop_rd
    raw check --data-dir "$WORK/data"
    expect_eq "check --data-dir after the command" 0 "$STATUS"
    raw backup "$WORK/bk" -d "$WORK/data"
    expect_eq "backup DIR -d DIR" "backup written to $WORK/bk" "$OUT"
}

test_unknown_options_are_usage_errors() {
    fresh_data
    start_rd
    local uri="coap://127.0.0.1:$PORT"
    # Each of these must be refused before anything is sent; the server is alive, so a lookup
    # that went out would answer (exit 0 or 1), and exit 2 means the command line stopped it.
    raw -s "$uri" -t 5 -o link-format ep
    expect_eq "the server answers" 0 "$STATUS"
    raw -s "$uri" -t 5 ep --bogus
    expect_eq "unknown long option after the command" 2 "$STATUS"
    expect_match "names it" '^rdctl ep: unknown option --bogus' "$ERR"
    raw -s "$uri" -t 5 ep d=x --bogus=1
    expect_eq "unknown option with a value" 2 "$STATUS"
    raw -s "$uri" -t 5 res -x
    expect_eq "unknown short option" 2 "$STATUS"
    expect_match "names the short one" 'unknown option -x' "$ERR"
    raw --bogus -s "$uri" ep
    expect_eq "unknown option before the command" 2 "$STATUS"
    raw -s "$uri" -t 5 ep --ep x
    expect_eq "register's option on ep" 2 "$STATUS"
    raw -s "$uri" -t 5 ep -o yaml
    expect_eq "unknown output format" 2 "$STATUS"
    expect_match "lists the formats" 'table, link-format or json' "$ERR"
    raw -s "$uri" -t 5 ep --server
    expect_eq "option without its value" 2 "$STATUS"
    expect_match "says a value is missing" 'needs a value: --server' "$ERR"
    raw -s "$uri" -t 5 ep --json=1
    expect_eq "a value for an option without one" 2 "$STATUS"
    expect_match "says it takes none" 'takes no value: --json=1' "$ERR"
    raw -s "$uri" -t 5 check -d "$WORK/data" --frob
    expect_eq "offline command, unknown option" 2 "$STATUS"
    expect_eq "no output on a usage error" "" "$OUT"
    stop_rd
}

test_double_dash_ends_options() {
    fresh_data
    start_rd
    local uri="coap://127.0.0.1:$PORT"
    printf '</t>\n' | "$RDCTL" -s "$uri" register --ep dd1 >/dev/null
    # After --, "--help" and "-s URI" are filters: no help, and the server named before stays.
    raw -s "$uri" -t 5 -o link-format ep -- --help
    expect_eq "-- --help is a filter" 0 "$STATUS"
    expect_no_match "no help after --" 'Usage' "$OUT"
    raw -s "$uri" -t 5 -o link-format ep -- -s coap://127.0.0.1:9
    expect_eq "-- -s is a filter" 0 "$STATUS"
    expect_eq "no endpoint has those attributes" "" "$OUT"
    raw -s "$uri" -t 5 -o link-format -- ep ep=dd1
    expect_match "the command after --" 'ep="dd1"' "$OUT"
    raw -s "$uri" -t 5 register -- --ep dd2
    expect_eq "register -- --ep: a file name, no --ep" 2 "$STATUS"
    stop_rd
}

# max_len FILE: the longest line's length in characters.
max_len() { LC_ALL=C awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$1"; }

test_table_output() {
    fresh_data
    start_rd
    local uri="coap://127.0.0.1:$PORT"
    local long=lorem-ipsum-dolor-sit-amet-consectetur-adipiscing-elit-sed-do-eiusmod
    printf '</s/t>;rt="temperature-c";if=sensor;ct=0,</s/l>;rt=light-lux;title="a b"\n' |
        "$RDCTL" -s "$uri" register --ep tbl1 --d tblsec --base coap://192.0.2.7 \
            --attr et=oic.d.sensor --attr "note=$long" >/dev/null
    printf '</x>\n' | "$RDCTL" -s "$uri" register --ep tbl2 --d tblsec --base coap://192.0.2.8 \
        >/dev/null

    COLUMNS='' LC_ALL=C timeout 60 "$RDCTL" -s "$uri" ep d=tblsec >"$WORK/t" 2>&1
    expect_eq "table status" 0 "$?"
    expect_match "ep header" '^EP +D +BASE +LT +LOCATION +ATTRIBUTES$' "$(head -n 1 "$WORK/t")"
    expect_eq "ep rows" 3 "$(grep -c . "$WORK/t")"
    expect_match "ep row" "^tbl1 +tblsec +coap://192\.0\.2\.7 +- +/rd/[a-z0-9]{8} +et=oic\.d\.sensor note=$long\$" \
        "$(grep '^tbl1' "$WORK/t")"
    expect_match "empty cells are -" '^tbl2 +tblsec +coap://192\.0\.2\.8 +- +/rd/[a-z0-9]{8} +-$' \
        "$(grep '^tbl2' "$WORK/t")"
    # Columns line up: LOCATION starts where each row's location does.
    local at
    at=$(head -n 1 "$WORK/t" | awk '{ print index($0, "LOCATION") }')
    expect_eq "aligned columns" "$at $at" \
        "$(sed 1d "$WORK/t" | awk '{ printf "%s%d", (NR > 1 ? " " : ""), index($0, "/rd/") }')"

    COLUMNS='' LC_ALL=C timeout 60 "$RDCTL" -s "$uri" res d=tblsec >"$WORK/t" 2>&1
    expect_match "res header" '^TARGET +RT +IF +CT +ATTRIBUTES +EP$' "$(head -n 1 "$WORK/t")"
    expect_match "res row" '^coap://192\.0\.2\.7/s/t +temperature-c +sensor +0 +- +tbl1$' \
        "$(grep '/s/t' "$WORK/t")"
    expect_match "quoted value, endpoint found by base" '^coap://192\.0\.2\.7/s/l +light-lux +- +- +title="a b" +tbl1$' \
        "$(grep '/s/l' "$WORK/t")"
    expect_match "second endpoint" '^coap://192\.0\.2\.8/x +- +- +- +- +tbl2$' "$(grep '/x' "$WORK/t")"

    COLUMNS=60 LC_ALL=C timeout 60 "$RDCTL" -s "$uri" ep d=tblsec >"$WORK/t60" 2>&1
    expect_eq "COLUMNS=60: nothing longer" 1 "$([ "$(max_len "$WORK/t60")" -le 60 ] && echo 1)"
    expect_eq "COLUMNS=60: still three lines" 3 "$(grep -c . "$WORK/t60")"
    expect_match "COLUMNS=60: long value cut with ~" '~$' "$(grep '^tbl1' "$WORK/t60")"
    expect_match "COLUMNS=60: short columns whole" '^tbl1 +tblsec ' "$(grep '^tbl1' "$WORK/t60")"
    COLUMNS=60 LC_ALL=C.UTF-8 timeout 60 "$RDCTL" -s "$uri" ep d=tblsec >"$WORK/t60u" 2>&1
    expect_match "UTF-8 ellipsis" "$(printf '\342\200\246')\$" "$(grep '^tbl1' "$WORK/t60u")"
    COLUMNS=60 LC_ALL=C timeout 60 "$RDCTL" -s "$uri" res d=tblsec >"$WORK/r60" 2>&1
    expect_eq "COLUMNS=60: res fits" 1 "$([ "$(max_len "$WORK/r60")" -le 60 ] && echo 1)"

    COLUMNS=200 LC_ALL=C timeout 60 "$RDCTL" -s "$uri" ep d=tblsec >"$WORK/t200" 2>&1
    COLUMNS='' LC_ALL=C timeout 60 "$RDCTL" -s "$uri" ep d=tblsec >"$WORK/tfree" 2>&1
    expect_eq "COLUMNS=200: as wide as the content" "$(max_len "$WORK/tfree")" \
        "$(max_len "$WORK/t200")"
    expect_eq "COLUMNS=200: nothing cut" "$(cat "$WORK/tfree")" "$(cat "$WORK/t200")"
    expect_eq "not a tty: the longest value whole" 1 "$(grep -c -- "$long" "$WORK/tfree")"


    # On a terminal, without COLUMNS, its width counts (script(1) gives rdctl a pty).
    if command -v script >/dev/null && command -v stty >/dev/null; then
        COLUMNS='' LC_ALL=C timeout 30 script -qec "stty cols 50; env -u COLUMNS '$RDCTL' \
            -s '$uri' ep d=tblsec" /dev/null | tr -d '\r' >"$WORK/tpty"
        expect_eq "tty: three lines" 3 "$(grep -c . "$WORK/tpty")"
        expect_eq "tty: fitted to its 50 columns" 50 "$(max_len "$WORK/tpty")"
        expect_match "tty: long value cut" '~$' "$(grep '^tbl1' "$WORK/tpty")"
    fi

    ctl -o table show tbl1
    expect_match "show -o table" '^EP +D +BASE' "$OUT"
    expect_match "show -o table resources" 'coap://192\.0\.2\.7/s/t +temperature-c +sensor +0 +- +tbl1' "$OUT"
    stop_rd
}

test_link_format_and_json_unchanged() {
    fresh_data
    start_rd
    local uri="coap://127.0.0.1:$PORT"
    printf '</s/t>;rt="temperature-c";if=sensor;ct=0,</s/l>;rt=light-lux;title="a \\"b\\" c"\n' |
        "$RDCTL" -s "$uri" register --ep fmt1 --d fmtsec --base coap://192.0.2.7 \
            --attr et=oic.d.sensor --attr et=probe --attr Q - >"$WORK/reg"
    local loc
    loc=$(sed 's/^registered //' "$WORK/reg")
    # These are the outputs of the release before the table, byte for byte.
    ctl -o link-format ep d=fmtsec
    expect_eq "ep link-format" "<$loc>;ep=\"fmt1\";d=\"fmtsec\";base=\"coap://192.0.2.7\";et=oic.d.sensor;et=probe;Q;rt=core.rd-ep" "$OUT"
    ctl --output link-format res d=fmtsec
    expect_eq "res link-format" "$(printf '%s\n' '<coap://192.0.2.7/s/t>;rt="temperature-c";if=sensor;ct=0' '<coap://192.0.2.7/s/l>;rt=light-lux;title="a \"b\" c"')" "$OUT"
    ctl --json ep d=fmtsec
    expect_eq "ep json" "$(printf '[\n  {\n    "href": "%s",\n    "ep": "fmt1",\n    "d": "fmtsec",\n    "base": "coap://192.0.2.7",\n    "et": [\n      "oic.d.sensor",\n      "probe"\n    ],\n    "Q": true,\n    "rt": "core.rd-ep"\n  }\n]' "$loc")" "$OUT"
    ctl -o json res d=fmtsec
    expect_eq "res json" "$(printf '[\n  {\n    "href": "coap://192.0.2.7/s/t",\n    "rt": "temperature-c",\n    "if": "sensor",\n    "ct": "0"\n  },\n  {\n    "href": "coap://192.0.2.7/s/l",\n    "rt": "light-lux",\n    "title": "a \\"b\\" c"\n  }\n]')" "$OUT"
    ctl show fmt1
    expect_eq "show keeps link-format" "$(printf 'endpoint:\n<%s>;ep="fmt1";d="fmtsec";base="coap://192.0.2.7";et=oic.d.sensor;et=probe;Q;rt=core.rd-ep\nresources:\n<coap://192.0.2.7/s/t>;rt="temperature-c";if=sensor;ct=0\n<coap://192.0.2.7/s/l>;rt=light-lux;title="a \\"b\\" c"' "$loc")" "$OUT"
    stop_rd
}


# events ARGS...: rdctl events against the HTTP listener, in the foreground; sets OUT, ERR, STATUS.
events() {
    timeout 60 "$RDCTL" --http "http://127.0.0.1:$HPORT" events "$@" >"$WORK/ev.out" \
        2>"$WORK/ev.err"
    STATUS=$?
    OUT=$(cat "$WORK/ev.out")
    ERR=$(cat "$WORK/ev.err")
}
lines_at_least() { [ "$(wc -l <"$1")" -ge "$2" ]; }

test_events_follow_the_feed_across_a_restart() {
    fresh_data
    start_rd_http
    coap post 'rd?ep=n1&d=floor2&lt=100' -t 40 -e '</t>;rt=temp'
    local n1=$LOCATION
    timeout 60 "$RDCTL" --http "http://127.0.0.1:$HPORT" --since 0 -c 4 -t 40 events \
        >"$WORK/follow.out" 2>"$WORK/follow.err" &
    local follower=$!
    coap post "$n1?lt=200"
    wait_until 10 lines_at_least "$WORK/follow.out" 2 || fail "no events before the restart"
    # (Each coap-client request comes from a new port: the implicit base changes too.)
    # The server goes away under the follower and comes back on the same port.
    stop_rd
    "$RD" -l "127.0.0.1:$PORT" -H "127.0.0.1:$HPORT" -d "$WORK/data" -v debug 2>"$WORK/rd2.log" &
    RD_PID=$!
    wait_until 10 grep -q "http listening on 127.0.0.1:$HPORT" "$WORK/rd2.log" ||
        fail "restart on the same ports: $(cat "$WORK/rd2.log")"
    coap post 'rd?ep=n2' -t 40 -e '</x>'
    coap delete "$n1"
    wait "$follower"
    expect_eq "events: exit 0 after -c 4" 0 $?
    expect_eq "one line per event, in order, resumed after the restart" \
        "1 registered n1 d=floor2 /$n1|2 updated n1 d=floor2 /$n1 changed=lifetime,base|3 registered n2 /rd/*|4 removed n1 d=floor2 /$n1" \
        "$(sed 's#^3 registered n2 /rd/[0-9a-z]*$#3 registered n2 /rd/*#' "$WORK/follow.out" | paste -sd'|' -)"
    expect_match "the reconnection is told on stderr" \
        '^rdctl: the feed ended; reconnecting \(1/5\) after event 2$' "$(cat "$WORK/follow.err")"
    events --json --since 2 -c 2 -t 20
    expect_eq "json: exit 0" 0 "$STATUS"
    expect_match "json: one object per line" \
        '^\{"id":3,"event":"registered","data":\{"ep":"n2",.*\}\}$' "$(printf '%s' "$OUT" | head -n 1)"
    expect_match "json: the removal" \
        '^\{"id":4,"event":"removed","data":\{"ep":"n1","d":"floor2","location":"/'"$n1"'"\}\}$' \
        "$(printf '%s' "$OUT" | tail -n 1)"
    events --since 0 -c 1 -t 20 d=floor2 rt=temp
    expect_eq "filters select the events" "1 registered n1 d=floor2 /$n1" "$OUT"
    events -c 1 -t 5 page=1
    expect_eq "a refused subscription: exit 1" 1 "$STATUS"
    expect_match "with the server's reason" '^rdctl: 400 \{"error":"page needs count"\}' "$ERR"
    timeout 10 "$RDCTL" -c 1 events >/dev/null 2>"$WORK/ev.err"
    expect_eq "no --http: usage" 2 $?
    expect_match "no --http: says so" 'needs --http URL' "$(cat "$WORK/ev.err")"
    stop_rd
    events -c 1 -t 5
    expect_eq "nothing listening: exit 3" 3 "$STATUS"
}

test_events_with_a_bearer_token() {
    fresh_data
    printf '# ops\nfeed-token-1\n' >"$WORK/http.tokens"
    chmod 600 "$WORK/http.tokens"
    printf 'http_token_file %s\n' "$WORK/http.tokens" >"$WORK/tok.conf"
    start_rd_http -c "$WORK/tok.conf"
    coap post 'rd?ep=t1' -t 40 -e '</x>'
    events --since 0 -c 1 -t 10
    expect_eq "no token: refused" 1 "$STATUS"
    expect_match "no token: 401 and how to give one" '^rdctl: 401 .*--token-file FILE or RDCTL_TOKEN' "$ERR"
    events --token-file "$WORK/http.tokens" --since 0 -c 1 -t 10
    expect_match "--token-file: the first token line" '^1 registered t1 /rd/' "$OUT"
    RDCTL_TOKEN=feed-token-1 events --since 0 -c 1 -t 10
    expect_match "RDCTL_TOKEN" '^1 registered t1 /rd/' "$OUT"
    stop_rd
}

run_test test_online_commands
run_test test_watch_sees_registration
run_test test_offline_commands
run_test test_help_and_usage
run_test test_options_after_the_command
run_test test_unknown_options_are_usage_errors
run_test test_double_dash_ends_options
run_test test_table_output
run_test test_link_format_and_json_unchanged
run_test test_events_follow_the_feed_across_a_restart
run_test test_events_with_a_bearer_token
summary
