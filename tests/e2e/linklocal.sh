#!/usr/bin/env bash
# End-to-end test of link-local bases (RFC 9176 sections 5, 6.1 and 6.4): a registration whose
# base is a link-local address belongs to the link its request came in on, and lookups from
# another link never show it. core-rd runs in one network namespace this test creates, a
# second client sits in another, joined by a veth pair; loopback is the second link.
# Exits 77 (counted as skipped) where the host cannot make namespaces.
# Usage: linklocal.sh CORE_RD
set -u
RD=$1
CLIENT=${COAP_CLIENT:-coap-client-openssl}
NSA=corerd-lla-$$
NSB=corerd-llb-$$
WORK=$(mktemp -d)
. "$(dirname "$0")/ns_lib.sh"
NAMESPACES=$(echo "$NSA" "$NSB")

[ "$(id -u)" = 0 ] || skip_test "creating a network namespace needs root"
command -v ip >/dev/null || skip_test "no ip command (iproute2)"
ip netns add "$NSA" 2>/dev/null || skip_test "this host does not allow network namespaces"
trap ns_cleanup EXIT
ip netns add "$NSB" 2>/dev/null || skip_test "cannot make a second namespace"
ip link add llA netns "$NSA" type veth peer name llB netns "$NSB" 2>/dev/null ||
    skip_test "no veth pair between namespaces"
ip -n "$NSA" link set lo up
ip -n "$NSB" link set lo up
ip -n "$NSA" addr add 10.213.0.1/24 dev llA
ip -n "$NSB" addr add 10.213.0.2/24 dev llB
ip -n "$NSA" link set llA up
ip -n "$NSB" link set llB up

# ip netns exec may fork: the shell inside records core-rd's own PID before it execs.
ip netns exec "$NSA" sh -c 'echo $$ >"$1"; exec "$2" -l "0.0.0.0:5683" -d "$3" -c /dev/null' sh \
    "$WORK/rd.pid" "$RD" "$WORK/data" >"$WORK/rd.out" 2>"$WORK/rd.log" &
wait_listening
grep -q 'listening on' "$WORK/rd.log" || {
    cat "$WORK/rd.log"
    fail "core-rd did not start"
    exit 1
}

# from NS METHOD PATH [ARGS...]: a request from namespace A over loopback, or from B over veth.
# Prints the exchange, then the whole body (which may have come in several blocks).
from() {
    local ns=$1 method=$2 path=$3 host body
    shift 3
    if [ "$ns" = A ]; then host=127.0.0.1; else host=10.213.0.1; fi
    body=$(mktemp)
    ip netns exec "$([ "$ns" = A ] && echo "$NSA" || echo "$NSB")" timeout 20 "$CLIENT" -v 6 \
        -o "$body" -m "$method" "$@" "coap://$host/$path" 2>&1
    cat "$body"
    rm -f "$body"
}

out=$(from B post 'rd?ep=ll-v4&base=coap://169.254.7.7' -t 40 -e '</t>;rt="ll-type"')
expect_match "link-local IPv4 base accepted over the veth" 'c:2\.01' "$out"
loc=$(printf '%s' "$out" | grep -oE 'Location-Path:[a-z0-9]+' | tail -n 1 | cut -d: -f2)
out=$(from B post 'rd?ep=ll-plain' -t 40 -e '</t>;rt="ll-type"')
expect_match "routable implicit base" 'c:2\.01' "$out"
out=$(from A post 'rd?ep=ll-v6&base=coap://[fe80::3]' -t 40 -e '</t>;rt="ll-type"')
expect_match "link-local IPv6 base accepted over loopback" 'c:2\.01' "$out"

out=$(from A get 'rd-lookup/ep')
expect_match "loopback sees its own link-local registration" 'ep="?ll-v6' "$out"
expect_match "loopback sees the routable one" 'ep="?ll-plain' "$out"
expect_no_match "loopback never sees the veth link's registration" 'll-v4|169\.254' "$out"
out=$(from A get 'rd-lookup/res?rt=ll-type')
expect_no_match "nor its resources" '169\.254' "$out"
expect_match "resources of its own link" 'fe80::3' "$out"

out=$(from B get 'rd-lookup/ep')
expect_match "the veth link sees its registration" '>;ep="?ll-v4' "$out"
expect_no_match "but not loopback's" 'll-v6|fe80' "$out"
out=$(from B get 'rd-lookup/res?rt=ll-type&count=5&page=0')
expect_match "paged resources of the veth link" '169\.254\.7\.7' "$out"
expect_no_match "paged, without loopback's" 'fe80' "$out"
out=$(from A get 'rd-lookup/res?rt=ll-type&count=5&page=0')
expect_no_match "the same query from loopback, answered on its own" '169\.254' "$out"

# An update moves a link-local registration to the link the update came from.
if [ -n "$loc" ]; then
    out=$(from A post "rd/$loc" -t 40)
    expect_match "update over loopback" 'c:2\.04' "$out"
    out=$(from A get 'rd-lookup/ep?ep=ll-v4')
    expect_match "now on loopback's link" '>;ep="?ll-v4' "$out"
    out=$(from B get 'rd-lookup/ep?ep=ll-v4')
    expect_no_match "and gone from the veth link" '>;ep="?ll-v4' "$out"
else
    fail "no Location-Path in the answer to the link-local registration"
fi

summary e2e-linklocal
