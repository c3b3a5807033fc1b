#!/usr/bin/env bash
# Benchmark of a core-rd cluster: registrations and endpoint lookups per second through three
# nodes, through one node on the same etcd, and through a standalone core-rd, with etcd's
# commit latency beside them. Three etcd members on loopback (fsync on, as in production).
# Prints a Markdown table; append it to bench/results.md by hand.
#
# Environment (all optional):
#   BENCH_N        registrations per generator, default 5000
#   BENCH_WINDOW   outstanding requests per generator, default 32
#   BENCH_BUILD    build directory, default build-bench (built Release when missing)
#   BENCH_PUTS     sequential etcd puts timed for the commit latency, default 200
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
N=${BENCH_N:-5000}
WINDOW=${BENCH_WINDOW:-32}
PUTS=${BENCH_PUTS:-200}
RD=$BUILD/rd/core-rd
BENCH=$BUILD/bench/rd-bench
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-cluster-bench.XXXXXX")
BASE=$((20000 + (RANDOM % 20000)))
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$RD" ] || [ ! -x "$BENCH" ]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DRD_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j 2 --target core-rd rd-bench >/dev/null
fi

client_url() { echo "http://127.0.0.1:$((BASE + 2 * $1))"; }
peer_url() { echo "http://127.0.0.1:$((BASE + 2 * $1 + 1))"; }
MEMBERS=$(client_url 0),$(client_url 1),$(client_url 2)

# wait_for SECONDS CMD...: CMD until it succeeds, at most SECONDS.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

start_etcd() {
    local initial="e0=$(peer_url 0),e1=$(peer_url 1),e2=$(peer_url 2)" i
    for i in 0 1 2; do
        etcd --name "e$i" --data-dir "$WORK/etcd$i" --listen-client-urls "$(client_url "$i")" \
            --advertise-client-urls "$(client_url "$i")" --listen-peer-urls "$(peer_url "$i")" \
            --initial-advertise-peer-urls "$(peer_url "$i")" --initial-cluster "$initial" \
            --initial-cluster-token "b$BASE" >"$WORK/etcd$i.log" 2>&1 &
        PIDS+=($!)
    done
    wait_for 30 etcdctl --endpoints="$MEMBERS" endpoint health >/dev/null 2>&1
}

cat >"$WORK/rd.conf" <<EOF
write_rate_limit 0
max_per_source 0
rate_limit 0
log_level warn
EOF

# start_rd NAME PORT [options]: a core-rd on PORT with its own data directory; ready once it
# answers (a cluster node: once its /health says it watches).
start_rd() {
    local name=$1 port=$2
    shift 2
    "$RD" -c "$WORK/rd.conf" -l "127.0.0.1:$port" -d "$WORK/$name" "$@" 2>>"$WORK/$name.log" &
    PIDS+=($!)
    "$BENCH" --server "127.0.0.1:$port" --wait-ready 20000 >/dev/null
}

watching() {
    timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /health HTTP/1.0\r\n\r\n" >&3 && cat <&3' \
        "$1" 2>/dev/null | grep -q '"phase":"watching"'
}

# bench PHASE PORT... : one generator per port at once; prints total ok per second (ok ops of
# all generators over the longest run) and the worst p99.
bench() {
    local phase=$1 i=0 port
    shift
    for port in "$@"; do
        "$BENCH" --server "127.0.0.1:$port" -n "$N" -w "$WINDOW" --ops "$N" --phases "$phase" \
            --seed $((i + 1)) >"$WORK/out.$i" 2>&1 &
        i=$((i + 1))
    done
    wait_generators
    awk '/^phase=/ { for (f = 1; f <= NF; f++) { split($f, kv, "="); v[kv[1]] = kv[2] }
                     ok += v["ok"]; if (v["seconds"] > s) s = v["seconds"];
                     if (v["p99_ms"] > p) p = v["p99_ms"]
                     n += v["ops"] }
         END { printf "%.0f ops/s (p99 %.1f ms, %d of %d ok)", (s > 0 ? ok / s : 0), p, ok, n }' "$WORK"/out.*
    rm -f "$WORK"/out.*
}
wait_generators() {
    local p
    for p in $(jobs -p); do
        case " ${PIDS[*]} " in *" $p "*) ;; *) wait "$p" || true ;; esac
    done
}

# Median and p99 of PUTS sequential 800-byte puts, one HTTP request each (curl's own time).
commit_latency() {
    local value k
    value=$(head -c 600 /dev/zero | tr '\0' 'v' | base64 -w0)
    for k in $(seq 1 "$PUTS"); do
        curl -s -o /dev/null -w '%{time_total}\n' -X POST "$(client_url 0)/v3/kv/put" \
            -d "{\"key\":\"$(printf 'bench/%s' "$k" | base64 -w0)\",\"value\":\"$value\"}"
    done | sort -n | awk '{ t[NR] = $1 * 1000 } END { printf "median %.1f ms, p99 %.1f ms", t[int(NR / 2) + 1], t[int(NR * 0.99)] }'
}

P=$((BASE + 100))
start_rd standalone "$P"
SA_REG=$(bench register "$P")
SA_LOOK=$(bench lookup-ep "$P")

start_etcd
LAT=$(commit_latency)
for i in 0 1 2; do
    start_rd "node$i" $((P + 10 + i)) --etcd "$MEMBERS" -H "127.0.0.1:$((P + 20 + i))"
    wait_for 30 watching $((P + 20 + i))
done
ONE_REG=$(bench register $((P + 10)))
ONE_LOOK=$(bench lookup-ep $((P + 10)))
THREE_REG=$(bench register $((P + 10)) $((P + 11)) $((P + 12)))
THREE_LOOK=$(bench lookup-ep $((P + 10)) $((P + 11)) $((P + 12)))

cat <<EOF
## Cluster ($(date -u +%F), $(nproc) CPUs, etcd $(etcd --version | head -n 1 | awk '{print $3}'), N=$N per generator, window $WINDOW)

| set-up | registrations | endpoint lookups |
|---|---|---|
| standalone core-rd | $SA_REG | $SA_LOOK |
| 1 node on 3 etcd members | $ONE_REG | $ONE_LOOK |
| 3 nodes on 3 etcd members (3 generators) | $THREE_REG | $THREE_LOOK |

etcd commit latency (sequential 800-byte puts through the JSON gateway): $LAT.
EOF
