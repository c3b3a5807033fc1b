# Helpers the benchmark scripts share; sourced, not run.

# field LINE KEY: the value of KEY=... in a line of key=value words (an rd-bench line); "-"
# when it has none.
field() {
    local kv
    for kv in $1; do
        if [ "${kv%%=*}" = "$2" ]; then
            echo "${kv#*=}"
            return
        fi
    done
    echo "-"
}

# now_ms: wall-clock milliseconds.
now_ms() {
    local t=$EPOCHREALTIME
    t=${t//[.,]/}
    echo $((t / 1000))
}

# The pinning of the single-server scripts: the server on CPU 0, the generator on CPU 1, with
# two CPUs or more (PIN_SERVER, PIN_CLIENT: command prefixes, empty otherwise).
bench_pins() {
    PIN_SERVER=()
    PIN_CLIENT=()
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
        PIN_SERVER=(taskset -c 0)
        PIN_CLIENT=(taskset -c 1)
    fi
}

# bench_stop_server: stop SERVER_PID (SIGTERM, then SIGKILL after 60 s) if one runs.
bench_stop_server() {
    local i=0
    if [ -n "${SERVER_PID:-}" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        while kill -0 "$SERVER_PID" 2>/dev/null && [ $i -lt 6000 ]; do
            sleep 0.01
            i=$((i + 1))
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

# bench_start_server NAME: start RD with WORK/core-rd.conf and data in WORK/data on a random
# loopback port, trying five ports, and wait until it answers (BENCH, the rd-bench binary).
# Sets PORT, SERVER_PID and SRC_PORT (the next free source port); exits naming NAME if it
# never starts.
bench_start_server() {
    local try
    SRC_PORT=21000
    for try in 1 2 3 4 5; do
        PORT=$((40000 + RANDOM % 10000))
        "${PIN_SERVER[@]}" "$RD" -c "$WORK/core-rd.conf" -l "127.0.0.1:$PORT" -d "$WORK/data" \
            2>>"$WORK/rd.log" &
        SERVER_PID=$!
        if "${PIN_CLIENT[@]}" "$BENCH" --server "127.0.0.1:$PORT" --src-port-base "$SRC_PORT" \
            --wait-ready 60000 >"$WORK/ready.out" 2>&1 && ! grep -q cannot "$WORK/rd.log"; then
            break
        fi
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
        SRC_PORT=$((SRC_PORT + 1))
        if [ "$try" = 5 ]; then
            echo "$1: core-rd did not start: $(cat "$WORK/rd.log")" >&2
            exit 1
        fi
    done
    SRC_PORT=$(sed -n 's/^# next_src_port=//p' "$WORK/ready.out" | grep . || echo $((SRC_PORT + 1)))
}

# bench_setup NAME RD: build core-rd and rd-bench in BUILD (Release), take RD as the server to
# measure (empty: the one just built), make WORK, pin, and stop the server and remove WORK on
# exit. Sets RD, BENCH, WORK, SERVER_PID, PIN_SERVER and PIN_CLIENT.
bench_setup() {
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j 2 --target core-rd rd-bench >/dev/null
    RD=${2:-$BUILD/rd/core-rd}
    BENCH=$BUILD/bench/rd-bench
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-$1.XXXXXX")
    SERVER_PID=""
    bench_pins
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_cleanup: what bench_setup arranged for the exit.
bench_cleanup() {
    bench_stop_server
    rm -rf "$WORK"
}
