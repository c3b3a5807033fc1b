#!/bin/sh
# Checks deploy/compose.yaml without a Docker engine, as check-dockerfile.sh checks the
# Dockerfile:
#  1. three etcd members, each naming all of them in --initial-cluster, with a volume for its
#     data directory and no --unsafe-no-fsync (acknowledged writes must survive a crash);
#  2. every node is built from the Dockerfile, keeps its data in the Dockerfile's VOLUME, and
#     passes --etcd with the client URL of every member;
#  3. every option a node's command passes is one core-rd accepts (its --help), and the config
#     file it names is one the Dockerfile's install puts there.
# Usage: check-compose.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
build=$2
cf="$src/deploy/compose.yaml"
df="$src/Dockerfile"
fail=0
bad() { echo "check-compose: $*"; fail=1; }

[ -f "$cf" ] || { echo "check-compose: $cf missing"; exit 1; }
members=$(grep -oE '^  e[0-9]+:' "$cf" | tr -d ' :')
nodes=$(grep -oE '^  node[0-9]+:' "$cf" | tr -d ' :')
[ "$(echo "$members" | wc -w)" -ge 3 ] || bad "fewer than three etcd members"
[ "$(echo "$nodes" | wc -w)" -ge 1 ] || bad "no core-rd node"

# The block of service $1: its lines up to the next service.
block() { awk -v s="  $1:" '$0 == s {on = 1; next} on && /^  [^ ]/ {exit} on' "$cf"; }

urls=""
for m in $members; do
    b=$(block "$m")
    for o in $members; do
        echo "$b" | grep -q -- "--initial-cluster [^ ]*$o=http://$o:2380" || bad "$m: --initial-cluster lacks $o"
    done
    echo "$b" | grep -q -- '--unsafe-no-fsync' && bad "$m: --unsafe-no-fsync loses acknowledged writes"
    dir=$(echo "$b" | grep -oE -- '--data-dir [^ ]+' | cut -d' ' -f2)
    echo "$b" | grep -qE "volumes: \[\"[a-z0-9]+:$dir\"\]" || bad "$m: no volume for $dir"
    urls="$urls http://$m:2379"
done

volume=$(sed -n 's/^VOLUME \["\(.*\)"\]/\1/p' "$df")
grep -q 'dockerfile: Dockerfile' "$cf" || bad "nodes are not built from the Dockerfile"
help=$("$build/rd/core-rd" --help 2>&1)
for n in $nodes; do
    b=$(block "$n")
    cmd=$(echo "$b" | sed -n 's/^ *command: //p')
    etcd=$(echo "$cmd" | grep -oE -- '--etcd [^ ]+' | cut -d' ' -f2 | tr ',' ' ')
    for u in $urls; do
        echo " $etcd " | grep -q " $u " || bad "$n: --etcd lacks $u"
    done
    echo "$b" | grep -qE "volumes: \[\"[a-z0-9]+:$volume\"\]" || bad "$n: data not in the Dockerfile's VOLUME $volume"
    for opt in $(echo "$cmd" | grep -oE -- '--[a-z-]+'); do
        echo "$help" | grep -q -- "$opt " || bad "$n: core-rd has no option $opt"
    done
    conf=$(echo "$cmd" | grep -oE -- '--config [^ ]+' | cut -d' ' -f2)
    if [ -n "$conf" ]; then
        grep -qF "\"$conf\"" "$df" || bad "$n: --config $conf is not the Dockerfile's installed configuration"
    fi
done
[ "$fail" = 0 ] && echo "check-compose: ok"
exit $fail
