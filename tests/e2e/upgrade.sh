#!/usr/bin/env bash
# End-to-end test of upgrades: every fixture under tests/data/upgrade/ (a data directory written
# by an earlier release's own binary, see make-fixture.sh there) opens with this core-rd,
# migrated when older, and serves every registration unchanged: location, deadline, owner,
# base, attributes and links. Usage: upgrade.sh CORE_RD RDCTL FIXTURES_DIR
set -u
RD=$1
RDCTL=$2
FIXTURES=$3
RAW=""
. "$(dirname "$0")/lib.sh"

FX=""
FXVERSION=""
printf 'alice alice-key\nbob bob-key\n' >"$WORK/psk.keys"
chmod 600 "$WORK/psk.keys"
printf 'psk_file %s\n' "$WORK/psk.keys" >"$WORK/rd.conf"

# start_up: start on the data directory with plain CoAP on PORT and CoAPS on DPORT, and wait
# until both listen and the data directory is open. A log of this start alone is in $WORK/rd.log.
start_up() {
    rm -f "$WORK/rd.log"
    start_rd_secure "$WORK/rd.conf"
    # The count of registrations is logged once every listener is open.
    if ! wait_logged "registrations, schema version"; then
        echo "core-rd did not open fixture $FX; log:"
        cat "$WORK/rd.log"
        exit 1
    fi
}

as() {
    local who=$1
    shift
    COAP_BASE="coaps://127.0.0.1:$DPORT" coap "$@" -u "$who" -k "$who-key"
}

# Each lookup of the fixture's manifest gives the answer the release that made it gave.
check_answers() {
    local n=0 q
    while read -r q; do
        n=$((n + 1))
        coap get "$q"
        expect_eq "$FX: $q: code" 2.05 "$CODE"
        expect_eq "$FX: $q: answer" "$(cat "$FX/answers/$n")" "$BODY"
    done <"$FX/queries"
    expect_eq "$FX: every lookup asked" "$(grep -c . "$FX/queries")" "$n"
}

test_fixture_migrates_and_serves_everything() {
    local regs current loc owner query other
    regs=$(grep -c . "$FX/registrations")
    expect_match "$FX: made-by names the schema version" '^[0-9]+$' "$FXVERSION"
    FXVERSION=${FXVERSION:-0}
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    cp "$FX/data.mdb" "$WORK/data/data.mdb"
    chmod 600 "$WORK/data/data.mdb"

    # rdctl check looks without migrating.
    "$RDCTL" -d "$WORK/data" check >"$WORK/check" 2>&1
    expect_eq "$FX: check as found" 0 "$?"
    expect_match "$FX: check names the fixture's version" "^schema version $FXVERSION\$" \
        "$(cat "$WORK/check")"

    start_up
    current=$(sed -n 's/.*registrations, schema version \([0-9]*\)".*/\1/p' "$WORK/rd.log")
    expect_match "$FX: started at a schema version" '^[0-9]+$' "$current"
    expect_match "$FX: registrations counted" "data directory .*: $regs registrations," \
        "$(cat "$WORK/rd.log")"
    if [ "$FXVERSION" -lt "${current:-0}" ]; then
        expect_match "$FX: migration start logged" \
            "migrating schema version $FXVERSION to $current, $regs registrations" \
            "$(cat "$WORK/rd.log")"
        expect_match "$FX: migration end logged" \
            "migrated from schema version $FXVERSION to $current in [0-9.]+ s \\($regs registrations" \
            "$(cat "$WORK/rd.log")"
    else
        expect_no_match "$FX: nothing to migrate" 'migrat' "$(cat "$WORK/rd.log")"
    fi
    check_answers

    # Owners: another identity, or plain CoAP, may not update a registration it does not own.
    while IFS="$(printf '\t')" read -r loc owner query; do
        [ "$owner" = none ] && continue
        other=alice
        [ "$owner" = alice ] && other=bob
        as "$other" post "$loc" -t 40
        expect_eq "$FX: $loc ($owner) updated by $other" 4.03 "$CODE"
        coap post "$loc" -t 40
        expect_eq "$FX: $loc ($owner) updated over plain coap" 4.03 "$CODE"
    done <"$FX/registrations"
    stop_rd
    expect_eq "$FX: clean exit" 0 "$RD_STATUS"

    # Deadlines, bases, attributes and links, as the old rdctl exported them: lifetimes go on
    # from where they were, not from the upgrade.
    "$RDCTL" -d "$WORK/data" export >"$WORK/export" 2>/dev/null
    expect_eq "$FX: export status" 0 "$?"
    expect_eq "$FX: export unchanged" "$(cat "$FX/export")" "$(cat "$WORK/export")"
    "$RDCTL" -d "$WORK/data" check >"$WORK/check" 2>&1
    expect_eq "$FX: check after the migration" 0 "$?"
    expect_match "$FX: migrated version checked" "^schema version $current\$" "$(cat "$WORK/check")"
    expect_match "$FX: indexes agree" "^records=$regs names=$regs expiry=$regs terms=[0-9]+ problems=0\$" \
        "$(cat "$WORK/check")"

    # The second start migrates nothing and serves the same.
    start_up
    expect_no_match "$FX: second start migrates nothing" 'migrat' "$(cat "$WORK/rd.log")"
    expect_match "$FX: second start at the current version" "schema version $current\"\$" \
        "$(cat "$WORK/rd.log")"
    check_answers
    # The owner still may.
    while IFS="$(printf '\t')" read -r loc owner query; do
        [ "$owner" = none ] && continue
        as "$owner" post "$loc" -t 40
        expect_eq "$FX: $loc updated by its owner $owner" 2.04 "$CODE"
    done <"$FX/registrations"
    stop_rd
    expect_eq "$FX: clean exit after the second start" 0 "$RD_STATUS"
}

n=0
for FX in "$FIXTURES"/*/; do
    FX=${FX%/}
    [ -f "$FX/data.mdb" ] || continue
    FXVERSION=$(sed -n 's/^schema version: \([0-9]*\)$/\1/p' "$FX/made-by")
    n=$((n + 1))
    run_test test_fixture_migrates_and_serves_everything
done
expect_match "fixtures found" '^[1-9]' "$n"
summary
