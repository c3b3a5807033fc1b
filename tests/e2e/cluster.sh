#!/usr/bin/env bash
# A cluster: three etcd members and three core-rd nodes on loopback. Writes spread over the
# nodes are seen by every node's lookups and observers; kill -9 of the etcd leader, and of a
# node, under a steady load loses no acknowledged registration; a node restarted after the
# history it needs was compacted converges; a registration that stops refreshing disappears
# from every node, deleted once.
# Usage: cluster.sh CORE_RD TEST_ENDPOINT SSE_CLIENT   (skipped, exit 77, without etcd)
set -u
RD=$1
ENDPOINT=$2
SSE=$3
command -v etcd >/dev/null && command -v etcdctl >/dev/null || {
    echo "etcd or etcdctl missing: skipped"
    exit 77
}
. "$(dirname "$0")/lib.sh"

ETCD_PIDS=(0 0 0)
NODE_PIDS=(0 0 0)
NODE_PORTS=(0 0 0)
NODE_HPORTS=(0 0 0)
BASE=$((20000 + (RANDOM % 20000)))
CLIENT_URLS=""
LOAD_PIDS=()

cluster_cleanup() {
    local p
    for p in "${LOAD_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    # Nodes stop cleanly (a sanitizer build then checks for leaks), members after them.
    for p in "${NODE_PIDS[@]}" "${ETCD_PIDS[@]}"; do
        [ "$p" != 0 ] && kill -CONT "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if grep -aq 'ERROR: \|runtime error' "$WORK"/node*.log 2>/dev/null; then
        echo "FAIL: a sanitizer reported an error:"
        grep -a -A20 'ERROR: \|runtime error' "$WORK"/node*.log | head -n 60
        rm -rf "$WORK"
        exit 1
    fi
    rm -rf "$WORK"
}
trap cluster_cleanup EXIT

# etcd's members: client port BASE+2i, peer port BASE+2i+1.
client_url() { echo "http://127.0.0.1:$((BASE + 2 * $1))"; }
peer_url() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }

start_etcd() {
    local i=$1 state=${2:-new} initial=""
    for j in 0 1 2; do initial+="${initial:+,}e$j=$(peer_url "$j")"; done
    etcd --name "e$i" --data-dir "$WORK/etcd$i" --listen-client-urls "$(client_url "$i")" \
        --advertise-client-urls "$(client_url "$i")" --listen-peer-urls "$(peer_url "$i")" \
        --initial-advertise-peer-urls "$(peer_url "$i")" --initial-cluster "$initial" \
        --initial-cluster-state "$state" --initial-cluster-token "t$BASE" \
        --heartbeat-interval 100 --election-timeout 1000 >>"$WORK/etcd$i.log" 2>&1 &
    ETCD_PIDS[$i]=$!
}

ctl() { ETCDCTL_API=3 timeout 10 etcdctl --endpoints="$CLIENT_URLS" "$@"; }
etcd_healthy() { ctl endpoint health >/dev/null 2>&1; }

# not_in_etcd EP: no registration key of etcd names EP (keys hold a NUL between d and ep).
not_in_etcd() {
    ! ctl get --prefix /core-rd/reg/ --keys-only | tr '\000' '/' | grep -q "/$1\$"
}

# The member that leads: its index.
etcd_leader() {
    local i
    for i in 0 1 2; do
        [ "${ETCD_PIDS[$i]}" = 0 ] && continue
        if ETCDCTL_API=3 timeout 5 etcdctl --endpoints="$(client_url "$i")" endpoint status \
            -w json 2>/dev/null | grep -qE '"leader":([0-9]+).*"member_id":\1|"member_id":([0-9]+).*"leader":\2'; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

write_conf() {
    printf 'alice alice-key\nbob bob-key\n' >"$WORK/psk.keys"
    chmod 600 "$WORK/psk.keys"
    cat >"$WORK/node.conf" <<EOF
psk_file $WORK/psk.keys
lifetime_min 1
expiry_grace 0
write_rate_limit 0
max_per_source 0
log_level debug
EOF
}

# start_node I: node I on its own ports and data directory, through all three members.
start_node() {
    local i=$1 tries=0
    while [ $tries -lt 5 ]; do
        NODE_PORTS[$i]=$((20000 + (RANDOM % 30000)))
        NODE_HPORTS[$i]=$((20000 + (RANDOM % 30000)))
        "$RD" -c "$WORK/node.conf" -l "127.0.0.1:${NODE_PORTS[$i]}" -d "$WORK/node$i" \
            -s "127.0.0.1:$((NODE_PORTS[$i] + 1))" \
            -H "127.0.0.1:${NODE_HPORTS[$i]}" --etcd "$CLIENT_URLS" 2>>"$WORK/node$i.log" &
        NODE_PIDS[$i]=$!
        if wait_until 20 node_watching "$i"; then
            return 0
        fi
        kill -9 "${NODE_PIDS[$i]}" 2>/dev/null
        wait "${NODE_PIDS[$i]}" 2>/dev/null
        tries=$((tries + 1))
    done
    echo "node $i did not start:"
    tail -n 30 "$WORK/node$i.log"
    exit 1
}

# Started, joined, listed and watching (the log says so since this start).
node_watching() {
    kill -0 "${NODE_PIDS[$1]}" 2>/dev/null &&
        grep -q 'cluster: node .* joined' "$WORK/node$1.log" 2>/dev/null &&
        node_health "$1" | grep -q '"phase":"watching"'
}

node_health() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /health HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
        "${NODE_HPORTS[$1]}" 2>/dev/null | tail -n 1
}

stop_node() {
    kill -"${2:-TERM}" "${NODE_PIDS[$1]}" 2>/dev/null
    wait "${NODE_PIDS[$1]}" 2>/dev/null
    NODE_PIDS[$1]=0
}

# on I METHOD PATH [options]: one request to node I.
on() {
    local i=$1
    shift
    COAP_BASE="coap://127.0.0.1:${NODE_PORTS[$i]}" coap "$@"
}

# ep_seen I EP: node I's endpoint lookup lists EP.
ep_seen() {
    on "$1" get "rd-lookup/ep?ep=$2"
    printf '%s' "$BODY" | grep -q "ep=\"$2\""
}
ep_gone() {
    on "$1" get "rd-lookup/ep?ep=$2"
    [ "$CODE" = 2.05 ] && ! printf '%s' "$BODY" | grep -q "ep=\"$2\""
}

test_spread() {
    local loc i
    on 2 post 'rd?ep=s1&lt=300' -e '</t>;rt=temp'
    expect_eq "registration on node 3" 2.01 "$CODE"
    loc=$LOCATION
    for i in 0 1 2; do
        wait_until 20 ep_seen "$i" s1 || fail "node $((i + 1)) does not list s1"
        pass
    done
    on 0 get "rd-lookup/res?ep=s1"
    expect_match "node 1 lists the links" 'rt=temp' "$BODY"
    on 1 post "$loc?et=oven"
    expect_eq "update of node 3's registration on node 2" 2.04 "$CODE"
    wait_until 10 eval 'on 0 get "rd-lookup/ep?ep=s1"; printf "%s" "$BODY" | grep -qE "et=\"?oven"' ||
        fail "node 1 does not see the update: $BODY"
    on 1 post 'rd?ep=s1&lt=300' -e '</u>'
    expect_eq "re-registration on another node" 2.01 "$CODE"
    expect_eq "re-registration keeps the location" "$loc" "$LOCATION"
    on 0 delete "$loc"
    expect_eq "removal on node 1" 2.02 "$CODE"
    for i in 0 1 2; do
        wait_until 20 ep_gone "$i" s1 || fail "node $((i + 1)) still lists s1"
        pass
    done
    on 2 delete "$loc"
    expect_eq "a second removal" 4.04 "$CODE"
    on 1 post "$loc"
    expect_eq "an update of what is gone" 4.04 "$CODE"
}

# on_as I IDENTITY METHOD PATH [options]: one request to node I over DTLS with a PSK identity.
on_as() {
    local i=$1 who=$2
    shift 2
    COAP_BASE="coaps://127.0.0.1:$((NODE_PORTS[$i] + 1))" coap "$@" -u "$who" -k "$who-key"
}

# The change feed of node 1 tells of a registration made through node 3 and its removal
# through node 2.
test_feed_on_every_node() {
    local loc feed=$WORK/feed0.out
    "$SSE" "${NODE_HPORTS[0]}" /api/events 60 >"$feed" 2>&1 &
    LOAD_PIDS+=($!)
    wait_until 10 grep -q '^: core-rd change feed' "$feed" || fail "node 1's feed did not greet"
    on 2 post 'rd?ep=fed&lt=300' -e '</f>'
    expect_eq "registration through node 3" 2.01 "$CODE"
    loc=$LOCATION
    wait_until 20 grep -q '^data: {"ep":"fed".*"location":"/'"$loc"'"' "$feed" ||
        fail "node 1's feed misses the registration: $(tail -c 300 "$feed")"
    on 1 delete "$loc"
    expect_eq "removal through node 2" 2.02 "$CODE"
    wait_until 20 eval 'grep -A1 "^event: removed" "$feed" | grep -q "\"ep\":\"fed\""' ||
        fail "node 1's feed misses the removal"
    pass
}

# A node's /health, cluster state included, is what docs/openapi.yaml says.
test_health_as_documented() {
    local body
    body=$(node_health 0)
    expect_match "health shows the node watching" '"cluster":\{"node":"[^"]+","phase":"watching"' "$body"
    python3 -c 'import json, sys, jsonschema, yaml
doc = yaml.safe_load(open(sys.argv[1]))
jsonschema.validate(json.loads(sys.argv[2]), doc["components"]["schemas"]["Health"])' \
        "$(dirname "$0")/../../docs/openapi.yaml" "$body"
    expect_eq "health validates against docs/openapi.yaml" 0 $?
}

# Simple registration (RFC 9176 section 5.1) through node 2 is answered once etcd holds it.
test_simple_registration() {
    local out
    out=$(timeout 60 "$ENDPOINT" 127.0.0.1 "${NODE_PORTS[1]}" links 'ep=simple1&lt=300' 2>&1)
    expect_match "simple registration through node 2" 'code 2.04' "$out"
    not_in_etcd simple1
    expect_eq "in etcd when answered" 1 $?
    ep_seen 1 simple1
    expect_eq "in node 2's lookups when answered" 0 $?
    wait_until 20 ep_seen 0 simple1 || fail "node 1 does not list simple1"
    pass
}

# The owner recorded on one node is enforced on every other.
test_owner_enforced_on_every_node() {
    local loc
    on_as 0 alice post 'rd?ep=owned&lt=300' -e '</o>'
    expect_eq "alice registers on node 1" 2.01 "$CODE"
    loc=$LOCATION
    wait_until 20 ep_seen 1 owned || fail "node 2 does not list owned"
    wait_until 20 ep_seen 2 owned || fail "node 3 does not list owned"
    on_as 1 bob post "$loc?lt=600"
    expect_eq "bob's update on node 2" 4.03 "$CODE"
    on_as 2 bob post 'rd?ep=owned&lt=300' -e '</b>'
    expect_eq "bob's re-registration on node 3" 4.03 "$CODE"
    on 1 delete "$loc"
    expect_eq "a plain removal on node 2" 4.03 "$CODE"
    on_as 2 alice delete "$loc"
    expect_eq "alice removes on node 3" 2.02 "$CODE"
}

test_observe_and_expiry() {
    local obs=$WORK/obs.out n
    timeout 60 stdbuf -oL "$CLIENT" -v 6 -B 50 -s 50 -m get \
        "coap://127.0.0.1:${NODE_PORTS[0]}/rd-lookup/ep?ep=short" >"$obs" 2>&1 &
    LOAD_PIDS+=($!)
    wait_until 10 grep -q 'c:2.05' "$obs" || fail "observer on node 1 got no first answer"
    on 2 post 'rd?ep=short&lt=5' -e '</x>'
    expect_eq "short registration on node 3" 2.01 "$CODE"
    wait_until 10 grep -q 'ep="short"' "$obs" || fail "observer on node 1 not told of node 3's registration"
    pass
    n=$(grep -c 'c:2.05' "$obs")
    # The deadline passes, the elected sweeper deletes the key, every node applies it.
    for i in 0 1 2; do
        wait_until 30 ep_gone "$i" short || fail "node $((i + 1)) still lists short"
        pass
    done
    wait_until 10 eval '[ "$(grep -c "c:2.05" "$obs")" -gt "$n" ]' ||
        fail "observer on node 1 not told of the expiry"
    wait_until 10 not_in_etcd short ||
        fail "short still in etcd"
    pass
    n=$(cat "$WORK"/node*.log | grep -acE 'cluster: swept"? ep=short')
    expect_eq "deleted once, by one sweeper" 1 "$n"
}

# load NAME NODE COUNT: register NAME-1..COUNT through NODE one after the other; the names
# answered 2.01 go to $WORK/NAME.acked.
load() {
    local name=$1 node=$2 count=$3 k out
    : >"$WORK/$name.acked"
    for k in $(seq 1 "$count"); do
        [ -e "$WORK/stop-$node" ] && break
        out=$(timeout 20 "$CLIENT" -v 6 -B 15 -m post -e '</l>' \
            "coap://127.0.0.1:${NODE_PORTS[$node]}/rd?ep=$name-$k&lt=3600" 2>&1)
        if printf '%s' "$out" | grep -q 'c:2.01'; then
            echo "$name-$k" >>"$WORK/$name.acked"
        fi
    done
}

# count_loss NAME SURVIVORS...: acknowledged, present in etcd and on every survivor, lost.
count_loss() {
    local name=$1 acked present lost=0 ep i
    shift
    acked=$(cat "$WORK/$name"-*.acked | sort -u)
    ctl get --prefix /core-rd/reg/ --keys-only | tr -d '\000' | grep -aoE "$name-[0-9]+-[0-9]+" | sort -u >"$WORK/$name.etcd"
    present=$(printf '%s\n' "$acked" | grep -c . )
    for ep in $acked; do
        grep -qx "$ep" "$WORK/$name.etcd" || { lost=$((lost + 1)); echo "lost in etcd: $ep"; }
    done
    for i in "$@"; do
        on "$i" get 'rd-lookup/ep?count=100000'
        for ep in $acked; do
            printf '%s' "$BODY" | grep -q "ep=\"$ep\"" || { lost=$((lost + 1)); echo "missing on node $((i + 1)): $ep"; }
        done
    done
    echo "$name: acknowledged $present, present in etcd $(wc -l <"$WORK/$name.etcd"), lost $lost"
    expect_eq "$name: acknowledged registrations lost" 0 "$lost"
    [ "$present" -gt 0 ] || fail "$name: nothing was acknowledged"
}

# Wait until every survivor lists every acknowledged name (the watch may lag a little).
converged() {
    local name=$1 i ep
    shift
    for i in "$@"; do
        on "$i" get 'rd-lookup/ep?count=100000'
        for ep in $(cat "$WORK/$name"-*.acked); do
            printf '%s' "$BODY" | grep -q "ep=\"$ep\"" || return 1
        done
    done
}

# start_load NAME COUNT: a load of COUNT registrations through each node, in the background;
# returns once a sixth of them were acknowledged, so the fault comes in the middle of it.
start_load() {
    local n
    for n in 0 1 2; do
        load "$1-$n" "$n" "$2" &
        LOAD_PIDS+=($!)
    done
    wait_until 30 acked_at_least "$1" $(($2 / 2)) || fail "$1: load did not start"
}

# acked_at_least NAME N: the loads NAME-* have N acknowledged registrations or more.
acked_at_least() {
    [ "$(cat "$WORK/$1"-*.acked 2>/dev/null | wc -l)" -ge "$2" ]
}

# The three loads started last have ended.
end_load() {
    local n
    for n in 0 1 2; do wait "${LOAD_PIDS[-1 - n]}" 2>/dev/null; done
}

test_kill_etcd_leader() {
    local leader
    leader=$(etcd_leader) || { fail "no etcd leader found"; return; }
    start_load kl 60
    echo "kill -9 of etcd leader e$leader"
    kill -9 "${ETCD_PIDS[$leader]}"
    wait "${ETCD_PIDS[$leader]}" 2>/dev/null
    ETCD_PIDS[$leader]=0
    end_load
    wait_until 30 converged kl 0 1 2 || true
    count_loss kl 0 1 2
    # The member comes back and catches up.
    start_etcd "$leader" existing
    wait_until 30 etcd_healthy || fail "etcd did not become healthy again"
}

test_kill_node() {
    start_load kn 40
    echo "kill -9 of node 3"
    touch "$WORK/stop-2"
    stop_node 2 9
    end_load
    wait_until 30 converged kn 0 1 || true
    count_loss kn 0 1
    start_node 2
    wait_until 30 converged kn 0 1 2 || fail "restarted node 3 did not catch up"
    pass
}

test_compacted_restart() {
    local rev k
    stop_node 1
    for k in 1 2 3; do
        on 0 post "rd?ep=cp-$k&lt=3600" -e '</c>'
    done
    on 0 get "rd-lookup/ep?ep=kn-0-1"
    on 0 delete "$(printf '%s' "$BODY" | grep -oE 'rd/[0-9a-z]+' | head -n 1)"
    expect_eq "removal while node 2 is away" 2.02 "$CODE"
    rev=$(ctl endpoint status -w json | grep -oE '"revision":[0-9]+' | head -n 1 | cut -d: -f2)
    ctl compact "$rev" >/dev/null || fail "etcdctl compact $rev failed"
    start_node 1
    wait_until 20 grep -q 'compacted; listing again' "$WORK/node1.log" || fail "node 2 did not list again"
    for k in 1 2 3; do
        wait_until 20 ep_seen 1 "cp-$k" || fail "node 2 misses cp-$k"
        pass
    done
    wait_until 20 ep_gone 1 kn-0-1 || fail "node 2 still lists the removed kn-0-1"
    pass
}

# Two members stopped: no quorum. Writes get 5.03 with Max-Age and a log line, lookups are
# answered from the local copy, /health and /metrics say so; with the members back, writes work.
test_no_quorum() {
    local a b
    on 0 post 'rd?ep=quorum-lost&lt=3600' -e '</q>'
    expect_eq "registration before the stop" 2.01 "$CODE"
    a=$(etcd_leader) || a=0
    b=$(((a + 1) % 3))
    kill -STOP "${ETCD_PIDS[$a]}" "${ETCD_PIDS[$b]}"
    on 0 post 'rd?ep=during-stop&lt=3600' -e '</q>'
    expect_eq "registration without quorum" 5.03 "$CODE"
    expect_match "with Max-Age" 'Max-Age' "$(grep -E '^v:1' "$WORK/out" | tail -n 1)"
    on 1 get 'rd-lookup/ep?ep=quorum-lost'
    expect_match "lookups answered from the local copy" 'ep="quorum-lost"' "$BODY"
    expect_match "health says etcd is not reachable" '"connected":false' "$(node_health 0)"
    expect_match "the log says why" 'etcd cannot commit' "$(cat "$WORK/node0.log")"
    kill -CONT "${ETCD_PIDS[$a]}" "${ETCD_PIDS[$b]}"
    wait_until 30 etcd_healthy || fail "etcd did not recover"
    wait_until 30 eval 'on 0 post "rd?ep=after-stop&lt=3600" -e "</q>"; [ "$CODE" = 2.01 ]' ||
        fail "no registration after the members came back: $CODE"
    pass
    expect_match "metrics of the cluster" 'core_rd_cluster_applied_revision [1-9]' \
        "$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' "${NODE_HPORTS[0]}")"
}

# Three members on ports picked at random; a port someone else holds makes a member exit, so
# up to three attempts are made, each on new ports.
start_members() {
    local tries=0 i
    while [ $tries -lt 3 ]; do
        CLIENT_URLS=""
        for i in 0 1 2; do CLIENT_URLS+="${CLIENT_URLS:+,}$(client_url "$i")"; done
        for i in 0 1 2; do start_etcd "$i"; done
        wait_until 30 etcd_healthy && return 0
        for i in 0 1 2; do
            kill -9 "${ETCD_PIDS[$i]}" 2>/dev/null
            wait "${ETCD_PIDS[$i]}" 2>/dev/null
            rm -rf "$WORK/etcd$i"
        done
        BASE=$((20000 + (RANDOM % 20000)))
        tries=$((tries + 1))
    done
    echo "etcd did not start"
    tail "$WORK"/etcd*.log
    exit 1
}

start_members
write_conf
for i in 0 1 2; do start_node "$i"; done

run_test test_spread
run_test test_owner_enforced_on_every_node
run_test test_simple_registration
run_test test_health_as_documented
run_test test_feed_on_every_node
run_test test_observe_and_expiry
run_test test_kill_etcd_leader
run_test test_kill_node
run_test test_compacted_restart
run_test test_no_quorum
summary cluster
