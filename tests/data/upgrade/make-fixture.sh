#!/usr/bin/env bash
# Make the upgrade fixture of a release: its own core-rd and rdctl write a small data directory
# (a dozen registrations over plain CoAP and PSK), and the manifest of what a later release
# must find in it: each lookup's answer as this release gives it, the offline export (deadlines
# included) and who owns what. Every release reruns it once, with its own binaries, into
# tests/data/upgrade/v<schema version> (v<schema version>-<release> when an earlier release
# already wrote that schema version), and commits the result; tests/e2e/upgrade.sh opens every
# such directory with the binary under test.
# Usage: [MADE_FROM=commit] make-fixture.sh CORE_RD RDCTL OUTDIR
set -u
if [ $# -ne 3 ]; then
    echo "usage: $0 CORE_RD RDCTL OUTDIR" >&2
    exit 2
fi
RD=$1
RDCTL=$2
OUT=$3
RAW=""
. "$(dirname "$0")/../../e2e/lib.sh"

if [ -e "$OUT/data.mdb" ]; then
    echo "$OUT already holds a fixture" >&2
    exit 1
fi
mkdir -p "$OUT/answers" || exit 1

# alice and bob own registrations over CoAPS; the keys themselves are not part of the fixture.
printf 'alice alice-key\nbob bob-key\n' >"$WORK/psk.keys"
chmod 600 "$WORK/psk.keys"
# Lifetimes of decades need a lifetime_max above the default of a week; a release that does not
# know the directive has no such cap and is given none.
printf 'psk_file %s\n' "$WORK/psk.keys" >"$WORK/rd.conf"
if "$RD" --help 2>&1 | grep -q lifetime_max || grep -q lifetime_max "$RD"; then
    printf 'lifetime_max 4294967295\n' >>"$WORK/rd.conf"
fi

# reg OWNER QUERY LINKS: register, over CoAPS as OWNER (alice, bob) or plain CoAP (none), and
# note the location and owner. Lifetimes are long so the fixture stays live for decades.
reg() {
    local owner=$1 query=$2 links=$3
    if [ "$owner" = none ]; then
        coap post "rd?$query" -t 40 -e "$links"
    else
        COAP_BASE="coaps://127.0.0.1:$DPORT" coap post "rd?$query" -t 40 -e "$links" \
            -u "$owner" -k "$owner-key"
    fi
    if [ "$CODE" != 2.01 ]; then
        echo "registration $query: $CODE $BODY" >&2
        exit 1
    fi
    printf '%s\t%s\t%s\n' "$LOCATION" "$owner" "$query" >>"$OUT/registrations"
}

start_rd_secure "$WORK/rd.conf" >&2
: >"$OUT/registrations"
LT=3000000000
reg none "ep=sensor-1&d=floor1&lt=$LT&et=oic.d.sensor&base=coap://[2001:db8::1]:5683" \
    '</temp>;rt="temperature-c";if=sensor;ct=0;obs,</hum>;rt=humidity;if=sensor,</fw>;rt=firmware;title="Firmware v1.2"'
reg none "ep=sensor-2&d=floor1&lt=$((LT + 1))&location=room12" \
    '</temp>;rt="temperature-c";if=sensor,</batt>;rt=battery;ct="0 60"'
reg none "ep=lamp-1&d=floor2&lt=$((LT + 2))&et=core.light" \
    '</light>;rt=light;if=core.a,</light/dim>;rt=dimmer;anchor="/light";rel=alternate'
reg none "ep=lamp-2&lt=$((LT + 3))" '</light>;rt=light'
links=""
i=1
while [ $i -le 20 ]; do
    links="$links</io/$i>;rt=\"io.port\";if=core.s;n=$i,"
    i=$((i + 1))
done
reg none "ep=gw-1&d=building&lt=$((LT + 4))&base=coap://gw.example.com" "${links%,}"
reg none "ep=urn:dev:ops:32473-Foo&lt=$((LT + 5))&b=U&lwm2m=1.1&Q" \
    '</1/0>,</3/0>,</3303/0>;ver=1.1,</3303/1>;ver=1.1'
reg alice "ep=alice-node&d=secure&lt=$((LT + 6))&et=oic.d.switch" \
    '</switch>;rt=switch;if=core.a,<coap://[2001:db8::2]/remote>;rt=remote'
reg bob "ep=bob-node&d=secure&lt=$((LT + 7))" '</meter>;rt=meter;if=core.s;sz=128'
reg none "ep=plain-1&d=floor2&lt=$((LT + 8))&custom=x-y_z" '</a>;rt="a b c";foo=bar'
reg none "ep=multi&d=floor3&lt=$((LT + 9))" \
    '</s/1>;rt=temp,</s/2>;rt=temp,</s/3>;rt=temp,</s/4>;rt=hum,</s/5>;rt=hum'
reg none "ep=short-ttl-then-long&d=floor3&lt=120" '</x>;rt=changing'
# An update moves its deadline and changes its links and an attribute.
loc=$(grep -F 'ep=short-ttl-then-long' "$OUT/registrations" | cut -f1)
coap post "$loc?lt=$((LT + 10))&et=updated" -t 40 -e '</x>;rt=changed,</y>;rt=added'
if [ "$CODE" != 2.04 ]; then
    echo "update: $CODE $BODY" >&2
    exit 1
fi
reg alice "ep=alice-two&lt=$((LT + 11))" '</p>;rt=private'

# The lookups whose answers a later release must reproduce.
cat >"$OUT/queries" <<'EOF'
rd-lookup/ep
rd-lookup/res
rd-lookup/ep?d=floor1
rd-lookup/ep?et=oic.d.sensor
rd-lookup/ep?ep=gw-1
rd-lookup/res?rt=temperature-c
rd-lookup/res?if=sensor
rd-lookup/res?rt=io.port&count=5&page=1
rd-lookup/res?ep=urn:dev:ops:32473-Foo
rd-lookup/res?d=secure
rd-lookup/ep?lwm2m=1.1
rd-lookup/res?ep=short-ttl-then-long
EOF
n=0
while read -r q; do
    n=$((n + 1))
    coap get "$q"
    if [ "$CODE" != 2.05 ]; then
        echo "lookup $q: $CODE" >&2
        exit 1
    fi
    printf '%s' "$BODY" >"$OUT/answers/$n"
done <"$OUT/queries"
stop_rd

"$RDCTL" -d "$WORK/data" export >"$OUT/export" 2>/dev/null || exit 1
"$RDCTL" -d "$WORK/data" check >"$OUT/check" || exit 1
# The compacted copy is the fixture: no free pages, a few tens of KB.
"$RDCTL" -d "$WORK/data" backup "$WORK/copy" >/dev/null || exit 1
cp "$WORK/copy/data.mdb" "$OUT/data.mdb" || exit 1
{
    echo "made by: $("$RD" --version 2>&1 | head -n 1), from commit ${MADE_FROM:-unknown}"
    echo "made on: $(date -u +%Y-%m-%d)"
    echo "registrations: $(grep -c . "$OUT/registrations")"
    # rdctl check has printed the schema version since version 2; before, it was always 1.
    version=$(sed -n 's/^schema version \([0-9]*\)$/\1/p' "$OUT/check")
    echo "schema version: ${version:-1}"
} >"$OUT/made-by"
echo "fixture written to $OUT"
