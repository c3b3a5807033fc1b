#!/usr/bin/env bash
# End-to-end test of multicast discovery (RFC 9176 section 4.1, RFC 7252 section 8): core-rd and
# coap-client in a network namespace this test creates, with multicast on its loopback (IPv4)
# and on a veth pair (IPv6). Exits 77 (counted as skipped) where the host cannot do that.
# Usage: multicast.sh CORE_RD
set -u
RD=$1
CLIENT=${COAP_CLIENT:-coap-client-openssl}
NS=corerd-mc-$$
WORK=$(mktemp -d)
. "$(dirname "$0")/ns_lib.sh"
NAMESPACES=$(echo "$NS")

in_ns() { ip netns exec "$NS" "$@"; }

[ "$(id -u)" = 0 ] || skip_test "creating a network namespace needs root"
command -v ip >/dev/null || skip_test "no ip command (iproute2)"
ip netns add "$NS" 2>/dev/null || skip_test "this host does not allow network namespaces"
trap ns_cleanup EXIT
in_ns ip link set lo up
in_ns ip link set lo multicast on || skip_test "no multicast on loopback"
in_ns ip route add 224.0.0.0/4 dev lo
in_ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
v6=0
if in_ns ip link add rdmc0 type veth peer name rdmc1 2>/dev/null; then
    in_ns ip link set rdmc0 up && in_ns ip link set rdmc1 up && v6=1
fi

printf 'multicast_interface lo\n' >"$WORK/mc.conf"
[ "$v6" = 1 ] && printf 'multicast_interface rdmc0\n' >>"$WORK/mc.conf"
# ip netns exec may fork: the shell inside records core-rd's own PID before it execs, so the
# cleanup ends the right process. No output goes to the caller's pipe.
in_ns sh -c 'echo $$ >"$1"; exec "$2" --multicast -l "[::]:5683" -d "$3" -c "$4"' sh \
    "$WORK/rd.pid" "$RD" "$WORK/data" "$WORK/mc.conf" >"$WORK/rd.out" 2>"$WORK/rd.log" &
wait_listening
grep -q 'joined multicast group 224.0.1.187' "$WORK/rd.log" || {
    cat "$WORK/rd.log"
    skip_test "could not join an IPv4 group in the namespace"
}

# Group requests are non-confirmable (RFC 7252 section 8.1); coap-client collects answers for
# the -B seconds, long enough for the random leisure of RFC 7252 section 8.2.
group_get() { in_ns timeout 20 "$CLIENT" -N -v 6 -B 6 -m get "$1" 2>&1; }

out=$(group_get 'coap://224.0.1.187/.well-known/core?rt=core.rd*')
expect_match "All-CoAP-Nodes (IPv4) finds the RD" '</rd>;rt=core.rd;ct=40' "$out"
expect_match "and its lookups" '</rd-lookup/res>;rt=core.rd-lookup-res' "$out"
out=$(group_get 'coap://224.0.1.190/.well-known/core?rt=core.rd')
expect_match "All-CoRE-RDs (IPv4) finds the directory" '</rd>;rt=core.rd;ct=40' "$out"
expect_no_match "filtered to the directory" 'rd-lookup' "$out"
# The silent answers below are refusals only if the RD answers at all.
out=$(in_ns timeout 20 "$CLIENT" -v 6 -m get 'coap://127.0.0.1/.well-known/core' 2>&1)
expect_match "the RD answers before the silent group requests" 'c:2\.05' "$out"
out=$(group_get 'coap://224.0.1.187/.well-known/core?rt=no-such-type')
expect_no_match "no answer when nothing matches" 'c:[0-9]\.[0-9]{2}' "$out"
out=$(group_get 'coap://224.0.1.187/.well-known/core?page=x')
expect_no_match "no error answer to a group" 'c:4\.' "$out"
out=$(in_ns timeout 20 "$CLIENT" -N -v 6 -B 4 -m post -t 40 -e '</x>' \
    'coap://224.0.1.187/rd?ep=by-multicast' 2>&1)
expect_no_match "no answer to a group registration" 'c:[0-9]\.[0-9]{2}' "$out"
out=$(in_ns timeout 20 "$CLIENT" -m get 'coap://127.0.0.1/rd-lookup/ep' 2>&1)
expect_no_match "a group request never writes" 'by-multicast' "$out"
if [ "$v6" = 1 ] && grep -q 'joined multicast group ff02::fd on rdmc0' "$WORK/rd.log"; then
    out=$(group_get 'coap://[ff02::fd%rdmc0]/.well-known/core?rt=core.rd*')
    expect_match "All-CoAP-Nodes (IPv6 link-local) finds the RD" '</rd>;rt=core.rd' "$out"
    out=$(group_get 'coap://[ff02::fe%rdmc0]/.well-known/core?rt=core.rd')
    expect_match "All-CoRE-RDs (IPv6 link-local) finds the RD" '</rd>;rt=core.rd' "$out"
else
    echo "SKIP: IPv6 group part (no veth or no IPv6 group joined in the namespace)"
fi

summary e2e-multicast
