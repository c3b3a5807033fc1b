#!/usr/bin/env bash
# Benchmark of core-rd. Builds the Release server and the load generator, measures the UDP
# ceiling of this machine with the same generator (against udp-ack), then for each size N starts
# a fresh core-rd on loopback, registers N endpoints and measures every interface, its memory,
# the size of its data and the time a restart on that data takes. Writes a Markdown report to
# stdout and to BENCH_OUT.
#
# Environment (all optional):
#   BENCH_SIZES        endpoint counts, default "10000 100000 1000000" (empty: none)
#   BENCH_OUT          report file, default bench/results.md
#   BENCH_BUILD        build directory, default build-bench
#   BENCH_WINDOW       outstanding requests of the throughput runs, default 32
#   BENCH_W1_OPS       operations of each latency run (window 1), default 20000
#   BENCH_CEILING_OPS  operations of each ceiling run, default 200000
#   BENCH_MAX_SECONDS  time limit of each phase, default 300
#   BENCH_LOG_LEVEL    core-rd log level, default warn (info logs every registration)
#   BENCH_MAP_MIB      core-rd map_size, default 16384 (the 1024 default is too small for 1M)
#   BENCH_SEED         seed of the generator, default 1
#   BENCH_PIN          1 (default with 2 or more CPUs): server on CPU 0, generator on CPU 1
#   BENCH_EXPIRY_N     registrations that expire in the same second in the expiry run,
#                      default 100000 (0: no expiry run)
#   BENCH_PHASES       all (default), or writes: per N only register and update, against one
#                      fresh server (no lookups, restart or delete; the expiry and isolation
#                      runs keep their own switches)
#   BENCH_PERF         a directory: perf record the server during each register run (and
#                      update run with BENCH_PHASES=writes), into perf-<phase>-<N>.data there,
#                      with the top of its flat profile in perf-<phase>-<N>.txt
#   BENCH_CG           perf's call-graph mode, default fp (frame pointers: build with
#                      -fno-omit-frame-pointer for whole stacks), or dwarf
#   BENCH_ISOLATION_N  registrations of the isolation run, default 1000000 (0: none): writes
#                      and pings unloaded, then again while 8 clients ask expensive lookups
#   BENCH_ISOLATION_OPS registrations (then refreshes) of each isolation measurement,
#                      default 200000 (some 2 s at full rate: a shorter one moves by a fifth
#                      with one preempted stretch of a worker)
#   BENCH_ISOLATION_PINGS pings of each isolation measurement, default 20000
#   BENCH_ISOLATION_LOAD_S how long the 8 lookup clients run, default 60 (the loaded
#                      measurements must end within it)
#   BENCH_WORKERS      core-rd's `workers` directive, default auto
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
BUILD=${BENCH_BUILD:-$ROOT/build-bench}
SIZES=${BENCH_SIZES-"10000 100000 1000000"}
OUT=${BENCH_OUT:-$ROOT/bench/results.md}
WINDOW=${BENCH_WINDOW:-32}
W1_OPS=${BENCH_W1_OPS:-20000}
CEILING_OPS=${BENCH_CEILING_OPS:-200000}
MAX_SECONDS=${BENCH_MAX_SECONDS:-300}
LOG_LEVEL=${BENCH_LOG_LEVEL:-warn}
MAP_MIB=${BENCH_MAP_MIB:-16384}
SEED=${BENCH_SEED:-1}
PIN=${BENCH_PIN:-1}
EXPIRY_N=${BENCH_EXPIRY_N:-100000}
PHASES=${BENCH_PHASES:-all}
PERF_DIR=${BENCH_PERF:-}
PERF_PID=""
ISO_N=${BENCH_ISOLATION_N:-1000000}
ISO_OPS=${BENCH_ISOLATION_OPS:-200000}
ISO_PINGS=${BENCH_ISOLATION_PINGS:-20000}
ISO_LOAD_S=${BENCH_ISOLATION_LOAD_S:-60}
WORKERS=${BENCH_WORKERS:-auto}

for v in $SIZES $WINDOW $W1_OPS $CEILING_OPS $MAX_SECONDS $MAP_MIB $SEED $PIN $EXPIRY_N $ISO_N \
    $ISO_OPS $ISO_PINGS $ISO_LOAD_S; do
    case $v in
    '' | *[!0-9]*)
        echo "run.sh: expected a number, got '$v'" >&2
        exit 2
        ;;
    esac
done
case $PHASES in
all | writes) ;;
*)
    echo "run.sh: BENCH_PHASES: expected all or writes, got '$PHASES'" >&2
    exit 2
    ;;
esac
if [ -n "$PERF_DIR" ]; then
    mkdir -p "$PERF_DIR"
    PERF_DIR=$(cd "$PERF_DIR" && pwd)
fi

RD=$BUILD/rd/core-rd
BENCH=$BUILD/bench/rd-bench
ACK=$BUILD/bench/udp-ack
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-bench.XXXXXX")
SERVER_PID=""
ACK_PID=""
PORT=""
# Source ports of the generator. core-rd answers a message ID it has seen from the same
# address and port within 247 s from its cache, so no two runs against one server may share a
# port: each run starts where the previous one stopped (rd-bench prints next_src_port).
SRC_PORT=21000
# Where the scheduler puts the two processes changes a window-1 round trip by a factor of two
# or more (a wake-up on the same CPU against one on the other), so by default each gets its own.
PIN_SERVER=()
PIN_CLIENT=()
PLACEMENT="not pinned"
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
    PIN_SERVER=(taskset -c 0)
    PIN_CLIENT=(taskset -c 1)
    PLACEMENT="server (and udp-ack) pinned to CPU 0, generator to CPU 1"
fi
RAW=$WORK/raw.txt
NOTES=$WORK/notes.txt
: >"$RAW"
: >"$NOTES"
declare -A RES  # "N|phase|W" -> rd-bench result line
declare -A INFO # "N|what" -> value

log() { echo "run.sh: $*" >&2; }

now_us() {
    local t=$EPOCHREALTIME
    echo "${t//[.,]/}"
}

# stop_pid PID NAME: SIGTERM, wait up to 120 s, then SIGKILL. Sets STOP_STATUS and STOP_MS.
stop_pid() {
    local pid=$1 name=$2 i=0 t0
    t0=$(now_us)
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 12000 ]; do
        sleep 0.01
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$name (pid $pid) ignored SIGTERM for 120 s: SIGKILL"
        echo "- $name did not stop within 120 s of SIGTERM and was killed." >>"$NOTES"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    STOP_STATUS=0
    wait "$pid" 2>/dev/null || STOP_STATUS=$?
    STOP_MS=$((($(now_us) - t0) / 1000))
}

cleanup() {
    perf_stop
    if [ -n "$SERVER_PID" ]; then
        stop_pid "$SERVER_PID" core-rd
        SERVER_PID=""
    fi
    if [ -n "$ACK_PID" ]; then
        stop_pid "$ACK_PID" udp-ack
        ACK_PID=""
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bench KEY N ARGS...: run rd-bench with N endpoints against 127.0.0.1:$PORT; keep its lines
# in RAW, and in RES under "KEY|phase|window".
bench() {
    local key=$1 n=$2 out=$WORK/bench.out status=0 line cpu0 cpu1=""
    shift 2
    cpu0=$(server_cpu_ticks)
    "${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" -n "$n" --seed "$SEED" \
        --max-seconds "$MAX_SECONDS" --src-port-base "$SRC_PORT" "$@" \
        >"$out" 2>"$WORK/bench.err" || status=$?
    [ -z "$cpu0" ] || cpu1=$(server_cpu_ticks)
    # The server's CPU time over the run, when it ran one phase: what an op costs the server,
    # which the load of other processes on the machine changes less than ops/s.
    if [ -n "$cpu1" ] && [ "$(grep -c '^phase=' "$out")" = 1 ]; then
        sed -i "s/^phase=.*/& server_cpu_s=$(awk -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" \
            'BEGIN { printf "%.2f", t / hz }')/" "$out"
    fi
    cat "$out" >>"$RAW"
    while IFS= read -r line; do
        case $line in
        phase=*) RES["$key|$(field "$line" phase)|$(field "$line" w)"]=$line ;;
        "# next_src_port="*) SRC_PORT=${line#*=} ;;
        "# register: duplicate_locations="*)
            if [ "${line#*=}" != 0 ]; then
                echo "- N=$n: ${line#*=} registrations of distinct endpoints got a location" \
                    "another endpoint also got." >>"$NOTES"
            fi
            ;;
        esac
    done <"$out"
    grep -h '^phase=' "$out" >&2 || true
    if [ $status -ne 0 ] || [ -s "$WORK/bench.err" ]; then
        log "rd-bench $* exited $status: $(head -c 500 "$WORK/bench.err")"
        echo "- N=$n: rd-bench $* exited $status: $(head -c 300 "$WORK/bench.err" | tr '\n' ' ')" \
            >>"$NOTES"
    fi
    return 0
}

# perf_start NAME: with BENCH_PERF, record the server's profile until perf_stop.
perf_start() {
    [ -n "$PERF_DIR" ] && [ -n "$SERVER_PID" ] || return 0
    perf record -q --call-graph ${BENCH_CG:-fp} -p "$SERVER_PID" -o "$PERF_DIR/perf-$1.data" 2>"$PERF_DIR/perf-$1.err" &
    PERF_PID=$!
    PERF_NAME=$1
    # perf attaches within a moment; its first samples are all this needs.
    local i=0
    while [ ! -s "$PERF_DIR/perf-$1.data" ] && [ $i -lt 500 ]; do
        sleep 0.01
        i=$((i + 1))
    done
}

# perf_stop: end the recording perf_start began and write the top of its flat profile.
perf_stop() {
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    perf report -i "$PERF_DIR/perf-$PERF_NAME.data" --no-children --sort symbol --stdio \
        -g none --percent-limit 0.5 2>/dev/null | grep -v '^$' | head -n 60 \
        >"$PERF_DIR/perf-$PERF_NAME.txt" || true
}

# server_cpu_ticks: user and system time of the running core-rd (or udp-ack), in clock ticks.
server_cpu_ticks() {
    local pid=${SERVER_PID:-$ACK_PID}
    [ -n "$pid" ] || return 0
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || true
}

# server_alive WHEN: 0 if core-rd still runs; else record how it ended.
server_alive() {
    local status=0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        return 0
    fi
    wait "$SERVER_PID" 2>/dev/null || status=$?
    SERVER_PID=""
    log "core-rd died $1 (exit status $status); log tail:"
    tail -n 20 "$WORK/rd.log" >&2
    {
        echo "- core-rd died $1: exit status $status$([ $status -gt 128 ] &&
            echo " (signal $((status - 128)))"). Last log lines:"
        tail -n 5 "$WORK/rd.log" | sed 's/^/    /'
    } >>"$NOTES"
    return 1
}

# start_server DATA: start core-rd on a free loopback port and wait until it answers a request.
# Sets SERVER_PID, PORT and READY_MS (from exec to the first answer).
start_server() {
    local data=$1 tries=0 t0 out ready
    while [ $tries -lt 5 ]; do
        tries=$((tries + 1))
        PORT=$((40000 + RANDOM % 10000))
        : >"$WORK/rd.log"
        t0=$(now_us)
        # taskset execs the server in place, so $! is the server's PID.
        "${PIN_SERVER[@]}" "$RD" -c "$WORK/core-rd.conf" -l "127.0.0.1:$PORT" -d "$data" \
            2>>"$WORK/rd.log" &
        SERVER_PID=$!
        out=$("${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" --src-port-base "$SRC_PORT" \
            --wait-ready 600000 2>&1) || true
        SRC_PORT=$(echo "$out" | sed -n 's/^# next_src_port=//p' | grep . || echo $((SRC_PORT + 1)))
        ready=$(echo "$out" | sed -n 's/.*ready_epoch_us=\([0-9]*\).*/\1/p')
        # "listening on" is an info line, so below info only the absence of a bind error
        # tells that the answer came from this server and not from another owner of the port.
        if [ -n "$ready" ] && ! grep -q "cannot" "$WORK/rd.log" &&
            kill -0 "$SERVER_PID" 2>/dev/null; then
            READY_MS=$(((ready - t0) / 1000))
            return 0
        fi
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            stop_pid "$SERVER_PID" core-rd
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
        if ! grep -q "cannot bind" "$WORK/rd.log"; then
            break
        fi
    done
    log "core-rd did not start; log:"
    cat "$WORK/rd.log" >&2
    exit 1
}

proc_kb() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo "-"
}

human_kb() {
    awk -v kb="$1" 'BEGIN {
        if (kb !~ /^[0-9]+$/) { print "-"; exit }
        if (kb >= 1048576) printf "%.2f GiB", kb / 1048576; else printf "%.1f MiB", kb / 1024 }'
}

run_ceiling() {
    local i=0
    PORT=$((40000 + RANDOM % 10000))
    "${PIN_SERVER[@]}" "$ACK" -l "127.0.0.1:$PORT" 2>"$WORK/ack.log" &
    ACK_PID=$!
    while ! grep -q "listening on" "$WORK/ack.log" && [ $i -lt 100 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    if ! kill -0 "$ACK_PID" 2>/dev/null; then
        log "udp-ack did not start: $(cat "$WORK/ack.log")"
        exit 1
    fi
    log "ceiling: udp-ack on 127.0.0.1:$PORT"
    bench ceiling "$CEILING_OPS" --accept-empty-ack --phases register -w "$WINDOW"
    bench ceiling "$CEILING_OPS" --accept-empty-ack --phases lookup-ep -w "$WINDOW" \
        --ops "$CEILING_OPS"
    bench ceiling "$CEILING_OPS" --accept-empty-ack --phases lookup-ep -w 1 \
        --ops "$((CEILING_OPS / 4))"
    stop_pid "$ACK_PID" udp-ack
    ACK_PID=""
}

# stop_measured N DATA: note the server's memory and data size, then stop it with SIGTERM.
stop_measured() {
    INFO["$1|hwm_end"]=$(proc_kb "$SERVER_PID" VmHWM)
    INFO["$1|anon_end"]=$(proc_kb "$SERVER_PID" RssAnon)
    INFO["$1|du"]=$(du -sk "$2" | awk '{ print $1 }')
    stop_pid "$SERVER_PID" core-rd
    SERVER_PID=""
    INFO["$1|stop_ms"]=$STOP_MS
    INFO["$1|stop_status"]=$STOP_STATUS
}

run_size() {
    local n=$1
    local data=$WORK/data-$n loc=$WORK/loc-$n
    log "N=$n: fresh server"
    rm -rf "$data" "$loc"
    start_server "$data"
    INFO["$n|start_ms"]=$READY_MS
    perf_start "register-$n"
    bench "$n" "$n" --phases register -w "$WINDOW" --locations "$loc"
    perf_stop
    server_alive "after register (N=$n)" || return 0
    INFO["$n|hwm_register"]=$(proc_kb "$SERVER_PID" VmHWM)
    if [ "$PHASES" = writes ]; then
        perf_start "update-$n"
        bench "$n" "$n" --phases update -w "$WINDOW" --locations "$loc"
        perf_stop
        server_alive "during update (N=$n)" || return 0
        stop_measured "$n" "$data"
        rm -rf "$data" "$loc"
        return 0
    fi
    bench "$n" "$n" --phases update,lookup-ep,lookup-res-selective,lookup-res-page -w "$WINDOW" \
        --locations "$loc"
    server_alive "during update/lookups (N=$n, W=$WINDOW)" || return 0
    bench "$n" "$n" --phases lookup-ep,lookup-res-selective -w 1 --ops "$W1_OPS"
    server_alive "during the W=1 lookups (N=$n)" || return 0
    stop_measured "$n" "$data"
    if [ "$STOP_STATUS" -ne 0 ]; then
        echo "- N=$n: core-rd exited $STOP_STATUS on SIGTERM." >>"$NOTES"
    fi
    log "N=$n: restart on the same data"
    start_server "$data"
    INFO["$n|restart_ms"]=$READY_MS
    INFO["$n|restart_rss"]=$(proc_kb "$SERVER_PID" VmRSS)
    bench "$n" "$n" --phases delete -w "$WINDOW" --locations "$loc"
    server_alive "during delete (N=$n)" || return 0
    INFO["$n|du_after_delete"]=$(du -sk "$data" | awk '{ print $1 }')
    stop_pid "$SERVER_PID" core-rd
    SERVER_PID=""
    rm -rf "$data" "$loc"
}

# run_expiry: EXPIRY_N registrations get the same deadline (and no grace period, so the sweep
# collects them in the very next second) while a window-1 lookup load runs across that moment.
# Its max latency is the longest any request waited on the mass expiry.
run_expiry() {
    local data=$WORK/data-expiry at now
    log "expiry: $EXPIRY_N registrations expiring in the same second"
    cp "$WORK/core-rd.conf" "$WORK/core-rd.conf.main"
    printf 'expiry_grace 0\nlifetime_min 1\n' >>"$WORK/core-rd.conf"
    start_server "$data"
    cp "$WORK/core-rd.conf.main" "$WORK/core-rd.conf"
    now=$(date +%s)
    # Registering runs at some 30,000/s or more; leave time for it and a few seconds of load.
    at=$((now + 8 + EXPIRY_N / 20000))
    bench expiry "$EXPIRY_N" --phases register -w "$WINDOW" --expire-at "$at"
    server_alive "during the expiry registrations" || return 0
    now=$(date +%s)
    INFO["expiry|lead_s"]=$((at - now))
    # Until 4 s after the deadline: the sweep of the whole batch runs in its first second.
    bench expiry "$EXPIRY_N" --phases lookup-ep -w 1 --ops 100000000 \
        --max-seconds $((at - now + 4))
    server_alive "during the expiry (N=$EXPIRY_N)" || return 0
    stop_pid "$SERVER_PID" core-rd
    SERVER_PID=""
    rm -rf "$data"
}

# run_isolation: ISO_N registrations; then ISO_OPS new registrations, their refreshes and
# ISO_PINGS pings, once with nothing else running and once while 8 clients (window 1 each) ask
# expensive lookups in a loop (rd-bench lookup-heavy: unindexed filters over every
# registration, deep pages of two criteria, cold deep pages).
run_isolation() {
    local data=$WORK/data-iso i pids=() base
    log "isolation: N=$ISO_N"
    start_server "$data"
    bench iso "$ISO_N" --phases register -w "$WINDOW"
    server_alive "after the isolation registrations" || return 0
    bench iso-idle "$ISO_OPS" --first "$ISO_N" --phases register,update -w "$WINDOW" \
        --locations "$WORK/loc-iso-idle"
    bench iso-idle "$ISO_PINGS" --phases ping -w 1 --ops "$ISO_PINGS"
    # The loaders get port ranges of their own, above the ones the measured runs take.
    base=$((SRC_PORT + 2000))
    for i in 1 2 3 4 5 6 7 8; do
        "${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" -n "$ISO_N" --seed "$i" \
            --phases lookup-heavy -w 1 --ops 100000000 --max-seconds "$ISO_LOAD_S" \
            --src-port-base $((base + i * 100)) >"$WORK/loader-$i.out" 2>&1 &
        pids+=($!)
    done
    INFO["iso|load_t0"]=$(now_us)
    INFO["iso|data0"]=$(du -sm "$data" | cut -f1)
    bench iso-load "$ISO_OPS" --first $((ISO_N + ISO_OPS)) --phases register,update \
        -w "$WINDOW" --locations "$WORK/loc-iso-load"
    bench iso-load "$ISO_PINGS" --phases ping -w 1 --ops "$ISO_PINGS"
    INFO["iso|load_s"]=$((($(now_us) - INFO["iso|load_t0"]) / 1000000))
    INFO["iso|data1"]=$(du -sm "$data" | cut -f1)
    if [ "${INFO["iso|load_s"]}" -ge "$ISO_LOAD_S" ]; then
        echo "- isolation: the loaded measurements took ${INFO["iso|load_s"]} s, longer than" \
            "the ${ISO_LOAD_S} s of lookup load." >>"$NOTES"
    fi
    # The loaders stop by themselves at ISO_LOAD_S and print what they got.
    for i in "${pids[@]}"; do
        wait "$i" 2>/dev/null || true
    done
    grep -h '^phase=' "$WORK"/loader-*.out >"$WORK/loaders.txt" || true
    cat "$WORK/loaders.txt" >>"$RAW"
    SRC_PORT=$((base + 1000))
    server_alive "during the isolation run" || return 0
    stop_pid "$SERVER_PID" core-rd
    SERVER_PID=""
    rm -rf "$data"
}

# ratio OPS_PER_S CEILING_LINE: percentage of the ceiling.
ratio() {
    local c
    c=$(field "$2" ops_per_s)
    awk -v a="$1" -v c="$c" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || c !~ /^[0-9.]+$/ || c == 0) print "-"
        else printf "%.1f%%", 100 * a / c }'
}

# cpu_per_op LINE: the server's CPU microseconds per op of a run that measured them, or empty.
cpu_per_op() {
    awk -v c="$(field "$1" server_cpu_s)" -v n="$(field "$1" ops)" 'BEGIN {
        if (c ~ /^[0-9.]+$/ && n ~ /^[0-9]+$/ && n > 0) printf "%.1f", 1e6 * c / n }'
}

# sum_loaders KEY: KEY (ops, ok) summed over the lookup-heavy lines of the 8 loaders.
sum_loaders() {
    local line t=0
    while IFS= read -r line; do
        t=$((t + $(field "$line" "$1")))
    done <"$WORK/loaders.txt"
    echo "$t"
}

# pct NEW OLD: NEW as a percentage of OLD.
pct() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "-"
        else printf "%.1f%%", 100 * a / b }'
}

report_isolation() {
    local ph idle load w=$WINDOW
    echo
    echo "## Isolation (N = $ISO_N, workers $WORKERS)"
    echo
    echo "$ISO_OPS new registrations, then their refreshes (empty POST to each location), then"
    echo "$ISO_PINGS pings (empty CON, window 1), first with nothing else running, then while 8"
    echo "rd-bench clients (window 1 each) asked \`lookup-heavy\` lookups in a loop, each with"
    echo "\`count=50\`: \`href=*tempI\`, \`title=tI*\`, \`if=sensor&ct=0&page=P\`, \`sz=I\` and a cold"
    echo "\`rt=temperature-c&page=P\`, in turn (I random, P in the upper half: no answer is kept"
    echo "for a later ask)."
    echo
    echo "| phase | W | unloaded ops/s | loaded ops/s | loaded/unloaded |" \
        "unloaded p50 / p99 / max ms | loaded p50 / p99 / max ms | loaded codes |"
    echo "|---|---:|---:|---:|---:|---|---|---|"
    for ph in register update ping; do
        [ "$ph" = ping ] && w=1
        idle=${RES["iso-idle|$ph|$w"]:-}
        load=${RES["iso-load|$ph|$w"]:-}
        [ -n "$idle" ] || continue
        echo "| $ph | $w | $(field "$idle" ops_per_s) | $(field "$load" ops_per_s) |" \
            "$(pct "$(field "$load" ops_per_s)" "$(field "$idle" ops_per_s)") |" \
            "$(field "$idle" p50_ms) / $(field "$idle" p99_ms) / $(field "$idle" max_ms) |" \
            "$(field "$load" p50_ms) / $(field "$load" p99_ms) / $(field "$load" max_ms) |" \
            "$(field "$load" codes | sed 's/,/, /g') |"
    done
    echo
    echo "The 8 lookup clients ran ${ISO_LOAD_S} s (the loaded measurements took" \
        "${INFO["iso|load_s"]:--} s of it): $(sum_loaders ops) lookups asked, $(sum_loaders ok)" \
        "of them 2.05 (the rest 5.03 over \`lookup_budget_ms\`, or unanswered at the end)." \
        "The data directory (\`du\`) went from ${INFO["iso|data0"]:--} MiB to ${INFO["iso|data1"]:--}" \
        "MiB over the loaded measurements; it grows in steps of an eighth of the data, allocated" \
        "ahead, and faster when writes must take fresh pages because a snapshot older than" \
        "their freed pages is open."
}

report() {
    local n ph w label line ceil ops ok links stopped
    local cpu kernel mem commit fs
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    kernel=$(uname -sr)
    mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
    fs=$(df -T "$WORK" | awk 'NR == 2 { print $2 }')
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$ROOT" status --porcelain -- rd store lookup include 2>/dev/null)" ]; then
        commit="$commit (with uncommitted changes in the server sources)"
    fi
    echo "# core-rd benchmark"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'), core-rd $commit, Release build"
    echo "- Machine: $(nproc) CPUs, ${cpu:-unknown CPU}, $mem RAM, $kernel"
    echo "- Server: \`sync periodic\` (sync_interval 1 s), map_size $MAP_MIB MiB, log level" \
        "$LOG_LEVEL, data on $fs, 127.0.0.1 only; $PLACEMENT"
    echo "- Generator: rd-bench, window $WINDOW (latency runs: window 1, $W1_OPS ops)," \
        "confirmable requests, 2 s retransmission timeout, 4 tries; lookups: min(N, 100000) ops"
    echo
    echo "## UDP ceiling (rd-bench against udp-ack, empty ACK to every request)"
    echo
    echo "| shape | W | ops | ops/s | p50 ms | p99 ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    for key in "register|$WINDOW|POST /rd (register-shaped)" \
        "lookup-ep|$WINDOW|GET (lookup-shaped)" "lookup-ep|1|GET (lookup-shaped)"; do
        IFS='|' read -r ph w label <<<"$key"
        line=${RES["ceiling|$ph|$w"]:-}
        [ -n "$line" ] || continue
        echo "| $label | $w | $(field "$line" ok) | $(field "$line" ops_per_s) |" \
            "$(field "$line" p50_ms) | $(field "$line" p99_ms) |"
    done
    echo
    echo "## Throughput and latency"
    echo
    echo "ops/s counts only answers with the expected code; latencies are over all answered ops;"
    echo "\"of ceiling\" compares with the ceiling run of the same shape and window."
    echo
    echo "| N | phase | W | ok / ops | ops/s | of ceiling | p50 ms | p99 ms | max ms |" \
        "links/answer | timeouts | retrans | server CPU µs/op | codes |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for n in $SIZES; do
        for key in "register|$WINDOW" "update|$WINDOW" "lookup-ep|$WINDOW" \
            "lookup-res-selective|$WINDOW" "lookup-res-page|$WINDOW" "lookup-ep|1" \
            "lookup-res-selective|1" "delete|$WINDOW"; do
            IFS='|' read -r ph w <<<"$key"
            line=${RES["$n|$ph|$w"]:-}
            [ -n "$line" ] || continue
            case $ph in
            register | update | delete) ceil=${RES["ceiling|register|$WINDOW"]:-} ;;
            *) ceil=${RES["ceiling|lookup-ep|$w"]:-} ;;
            esac
            ops=$(field "$line" ops)
            ok=$(field "$line" ok)
            links=$(field "$line" links_per_ok)
            case $ph in register | update | delete) links="" ;; esac
            stopped=""
            if [ "$(field "$line" stopped)" != no ]; then
                stopped=" (stopped at ${MAX_SECONDS} s)"
            fi
            echo "| $n | $ph$stopped | $w | $ok / $ops | $(field "$line" ops_per_s) |" \
                "$(ratio "$(field "$line" ops_per_s)" "$ceil") | $(field "$line" p50_ms) |" \
                "$(field "$line" p99_ms) | $(field "$line" max_ms) | $links |" \
                "$(field "$line" timeouts) | $(field "$line" retransmissions) |" \
                "$(cpu_per_op "$line") | $(field "$line" codes | sed 's/,/, /g') |"
        done
    done
    echo
    echo "## Memory, data and restart"
    echo
    echo "| N | peak RSS after register | peak RSS at end | RssAnon at end | data dir |" \
        "start (empty) | stop (SIGTERM) | restart to first answer | RSS after restart |" \
        "data dir after delete | wall time of the N run |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for n in $SIZES; do
        [ -n "${INFO["$n|start_ms"]:-}" ] || continue
        echo "| $n | $(human_kb "${INFO["$n|hwm_register"]:-}") |" \
            "$(human_kb "${INFO["$n|hwm_end"]:-}") | $(human_kb "${INFO["$n|anon_end"]:-}") |" \
            "$(human_kb "${INFO["$n|du"]:-}") |" \
            "${INFO["$n|start_ms"]} ms | ${INFO["$n|stop_ms"]:--} ms |" \
            "${INFO["$n|restart_ms"]:--} ms | $(human_kb "${INFO["$n|restart_rss"]:-}") |" \
            "$(human_kb "${INFO["$n|du_after_delete"]:-}") | ${INFO["$n|total_s"]:--} s |"
    done
    line=${RES["expiry|lookup-ep|1"]:-}
    if [ -n "$line" ]; then
        echo
        echo "## Mass expiry"
        echo
        echo "$EXPIRY_N registrations with the same deadline and \`expiry_grace 0\`; a window-1"
        echo "lookup-ep load ran from ${INFO["expiry|lead_s"]:--} s before the deadline until 4 s"
        echo "after it, while the sweep collected them."
        echo
        echo "| ops | p50 ms | p99 ms | max ms | timeouts |"
        echo "|---:|---:|---:|---:|---:|"
        echo "| $(field "$line" ok) | $(field "$line" p50_ms) | $(field "$line" p99_ms) |" \
            "$(field "$line" max_ms) | $(field "$line" timeouts) |"
    fi
    if [ -n "${RES["iso-idle|register|$WINDOW"]:-}" ]; then
        report_isolation
    fi
    echo
    echo "## How it was measured"
    echo
    cat <<'EOF'
- Per N: a fresh core-rd and data directory; register N endpoints `bench-<i>` (lt 86400), each
  with 5 links: `temperature-c`, `humidity`, `light-lux`, `power` on every endpoint, and a fifth
  that is `rare-sensor` on 10 endpoints in all (`firmware` elsewhere). Then update (empty POST to
  each location), lookup-ep (`?ep=bench-<random>`), lookup-res-selective (`?rt=rare-sensor`: 10
  links), lookup-res-page (`?rt=temperature-c&count=50&page=<random 0..19>`), the last two
  lookups again with window 1, then SIGTERM, a restart on the same data, and delete (every
  location) against the restarted server.
- An op is one request, or for a Block2 answer (1024-byte blocks, requested with Block2 szx 6)
  the whole chain of block requests: its latency runs from the first transmission of the first
  request to the arrival of the last block (lookup-res-page takes 4 blocks: `messages` in the
  raw output). Retransmitted requests keep their first send time.
- Window 1 is bound by the wake-up of the other CPU on each round trip, for the server as for
  udp-ack, so its "of ceiling" is close to 100% and moves by some 10% from run to run.
- Peak RSS is VmHWM of the server; it includes the LMDB pages the server touched through its
  memory map (file-backed), RssAnon is its heap alone. The data dir is `du` of the LMDB directory.
- Start and restart time: from exec of core-rd to its first answer to `GET /.well-known/core`,
  probed every 10 ms (so up to 10 ms late).
- The generator uses a new source port after every 65536 message IDs and never reuses a port
  against one server: core-rd answers a repeated (address, port, message ID) from its
  deduplication cache for 247 s, which would make a reused ID look like a fast success.
- The ceiling runs send the same requests to udp-ack, which returns an empty ACK at once: the
  most this generator, kernel and loopback can carry, measured in the same run.
- Server CPU µs/op: the user and system time of the server (all its threads, from
  /proc/PID/stat) over a run of a single phase, divided by its ops. Other work on the machine
  moves it far less than ops/s.
EOF
    if [ -s "$NOTES" ]; then
        echo
        echo "## Incidents"
        echo
        cat "$NOTES"
    fi
    echo
    echo "## Raw rd-bench output"
    echo
    echo '```'
    grep -v '^# next_src_port' "$RAW" || true
    echo '```'
}

main() {
    log "building $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j "$(nproc)" --target core-rd rd-bench udp-ack >/dev/null
    # The generator stands for many devices behind one address: the per-source quota and write
    # rate, which a single device never reaches, would stop it.
    cat >"$WORK/core-rd.conf" <<EOF
sync periodic
sync_interval 1
map_size $MAP_MIB
log_level $LOG_LEVEL
max_per_source 0
write_rate_limit 0
workers $WORKERS
EOF
    run_ceiling
    for n in $SIZES; do
        local t0
        t0=$(now_us)
        run_size "$n"
        INFO["$n|total_s"]=$((($(now_us) - t0) / 1000000))
        log "N=$n took ${INFO["$n|total_s"]} s"
    done
    if [ "$EXPIRY_N" -gt 0 ]; then
        run_expiry
    fi
    if [ "$ISO_N" -gt 0 ]; then
        run_isolation
    fi
    report >"$WORK/report.md"
    cat "$WORK/report.md"
    keep_history "$WORK/report.md"
    cp "$WORK/report.md" "$OUT"
}

# keep_history REPORT: the sections of the old report from the line HISTORY_MARK on (measurements
# written by hand, of other scripts and earlier rounds) go on after the new one.
HISTORY_MARK='<!-- Below: kept by bench/run.sh when it writes a new report above. -->'
keep_history() {
    [ -f "$OUT" ] && grep -qxF "$HISTORY_MARK" "$OUT" || return 0
    printf '\n' >>"$1"
    awk -v m="$HISTORY_MARK" 'kept || $0 == m { kept = 1; print }' "$OUT" >>"$1"
}

main
