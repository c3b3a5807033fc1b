#!/usr/bin/env bash
# The change feed at scale (issue 14). Builds the Release server and tools, then on loopback:
#
# 1. Follow: a core-rd with a fresh data directory is followed by `curl -sN /api/events` while
#    rd-bench registers FEED_N endpoints. Once the follower has a third of them, it is killed (a
#    disconnect); when the registrations are done it comes back with `Last-Event-ID: <last id it
#    saw whole>`, and FEED_UPDATES registrations are updated and FEED_DELETES removed. The ids
#    seen over both connections must be exactly 1..changes: gaps and duplicates are counted.
# 2. Subscribers: a fresh core-rd with http_connections raised holds FEED_SUBS idle subscribers
#    (sse-hold): its RSS and CPU time over FEED_IDLE_SECONDS idle, then re-registrations of
#    FEED_FANOUT_N endpoints without and with the subscribers (each one is an event for every
#    subscriber), and the time until every subscriber had every event.
#
# Prints a Markdown table (and the raw lines) to stdout; with FEED_OUT=FILE also appends it there.
#
# Environment (all optional): FEED_N (100000), FEED_UPDATES (20000), FEED_DELETES (30000),
# FEED_SUBS (2000), FEED_FANOUT_N (5000), FEED_IDLE_SECONDS (10), FEED_MAX_SECONDS (time limit
# of each wait and load run, 300), FEED_BUILD (build directory, build-bench), FEED_OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/bench/lib.sh"
BUILD=${FEED_BUILD:-$ROOT/build-bench}
N=${FEED_N:-100000}
UPDATES=${FEED_UPDATES:-20000}
DELETES=${FEED_DELETES:-30000}
SUBS=${FEED_SUBS:-2000}
FANOUT_N=${FEED_FANOUT_N:-5000}
IDLE_SECONDS=${FEED_IDLE_SECONDS:-10}
MAX_SECONDS=${FEED_MAX_SECONDS:-300}
OUT=${FEED_OUT:-}

for v in $N $UPDATES $DELETES $SUBS $FANOUT_N $IDLE_SECONDS $MAX_SECONDS; do
    case $v in
    '' | *[!0-9]*)
        echo "feed.sh: expected a number, got '$v'" >&2
        exit 2
        ;;
    esac
done
if [ "$UPDATES" -gt "$N" ] || [ "$DELETES" -gt "$N" ] || [ "$N" -lt 3 ] ||
    [ "$SUBS" -lt 1 ] || [ "$SUBS" -gt 9900 ] || [ "$FANOUT_N" -lt 1 ]; then
    echo "feed.sh: need 3 <= FEED_N, FEED_UPDATES and FEED_DELETES <= FEED_N, 1 <= FEED_SUBS <= 9900" >&2
    exit 2
fi

RD=$BUILD/rd/core-rd
BENCH=$BUILD/bench/rd-bench
HOLD=$BUILD/bench/sse-hold
WORK=$(mktemp -d "${TMPDIR:-/tmp}/rd-feed.XXXXXX")
SERVER_PID=""
CURL_PID=""
HOLD_PID=""
BENCH_PID=""
TICK=$(getconf CLK_TCK)

log() { echo "feed.sh: $*" >&2; }

stop_pid() {
    local pid=$1 i=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 1200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local p
    for p in "$BENCH_PID" "$CURL_PID" "$HOLD_PID" "$SERVER_PID"; do
        if [ -n "$p" ]; then
            stop_pid "$p"
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for WHAT COMMAND...: run COMMAND every 50 ms until it succeeds, at most MAX_SECONDS.
wait_for() {
    local what=$1 deadline
    shift
    deadline=$(($(now_ms) + MAX_SECONDS * 1000))
    until "$@"; do
        if [ "$(now_ms)" -gt "$deadline" ]; then
            log "gave up after ${MAX_SECONDS} s waiting for $what"
            exit 1
        fi
        sleep 0.05
    done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_ms() { echo $(($1 * 1000 / TICK)); }

# owns_port PID PORT: PID listens on TCP PORT (not some other server that got there first).
owns_port() { ss -Hltnp "sport = :$2" | grep -q "pid=$1,"; }

# start_server NAME EXTRA_CONF: a fresh core-rd on free loopback ports; sets SERVER_PID, PORT,
# HPORT. Tries other ports while the HTTP port is taken (the server then exits).
start_server() {
    local try
    for try in 1 2 3 4 5; do
        start_server_on "$@"
        # Alone on its CoAP port too: UDP sockets may share one.
        if owns_port "$SERVER_PID" "$HPORT" &&
            ! ss -Hlunp "sport = :$PORT" | grep -qv "pid=$SERVER_PID,"; then
            return
        fi
        stop_pid "$SERVER_PID"
        SERVER_PID=""
    done
    log "could not start core-rd on a free port: $(tail -n 3 "$WORK/$1/rd.log")"
    exit 1
}

start_server_on() {
    local dir=$WORK/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    PORT=$((20000 + RANDOM % 20000))
    HPORT=$((PORT + 1))
    {
        echo "map_size 4096"
        echo "write_rate_limit 0"
        echo "max_per_source 0"
        echo "log_rate_limit 0"
        echo "feed_retain_events 1000000"
        echo "http_listen 127.0.0.1:$HPORT"
        printf '%b' "$2"
    } >"$dir/core-rd.conf"
    "$RD" -c "$dir/core-rd.conf" -l "127.0.0.1:$PORT" -d "$dir/data" -v warn 2>"$dir/rd.log" &
    SERVER_PID=$!
    wait_for "core-rd to listen or exit" listening_or_gone
}

listening_or_gone() { owns_port "$SERVER_PID" "$HPORT" || ! kill -0 "$SERVER_PID" 2>/dev/null; }

# rdbench ARGS...: one rd-bench run against the server; prints its phase line.
rdbench() {
    "$BENCH" --server "127.0.0.1:$PORT" --max-seconds "$MAX_SECONDS" "$@" 2>>"$WORK/bench.err" |
        grep '^phase='
}

# ids FILE [PARTIAL]: the ids of the whole events in FILE, one a line; with PARTIAL=1 the last
# event is left out unless the file ends with its blank line (a connection cut mid-event).
ids() {
    local partial=0
    if [ "${2:-0}" = 1 ] && [ "$(tail -c 2 "$1" | od -An -c | tr -d ' ')" != '\n\n' ]; then
        partial=1
    fi
    awk -v partial=$partial 'BEGIN { RS = "" }
        { id[NR] = ""; for (i = 1; i <= NF; i++) if ($i == "id:") id[NR] = $(i + 1) }
        END { n = NR - partial; for (r = 1; r <= n; r++) if (id[r] != "") print id[r] }' "$1"
}

last_id_at_least() {
    local want=$1 file=$2 last
    last=$(tail -c 4096 "$file" | awk '$1 == "id:" { v = $2 } END { print v + 0 }')
    [ "$last" -ge "$want" ]
}

has_ids() { [ "$(grep -c '^id: ' "$2")" -ge "$1" ]; }
has_text() { grep -q "$1" "$2" 2>/dev/null; }

# The server and sse-hold each hold a descriptor per subscriber.
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((SUBS + 512)) ]; then
    ulimit -n $((SUBS + 512)) 2>/dev/null || {
        log "ulimit -n is $(ulimit -n) and cannot be raised to $((SUBS + 512)) (hard limit)"
        exit 1
    }
fi
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
log "building Release in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target core-rd rd-bench sse-hold >/dev/null

# --- 1. follow 100,000 registrations, with a disconnect -------------------------------------
start_server follow ""
F1=$WORK/follow1.txt
F2=$WORK/follow2.txt
: >"$F1"
curl -sN "http://127.0.0.1:$HPORT/api/events" >"$F1" &
CURL_PID=$!
wait_for "the follower's hello" has_text "change feed" "$F1"

t_start=$(now_ms)
"$BENCH" --server "127.0.0.1:$PORT" --max-seconds "$MAX_SECONDS" -n "$N" -w 32 \
    --phases register --locations "$WORK/loc" >"$WORK/register.out" 2>>"$WORK/bench.err" &
BENCH_PID=$!
wait_for "a third of the events at the follower" has_ids $((N / 3)) "$F1"
stop_pid "$CURL_PID"
CURL_PID=""
t_cut=$(now_ms)
wait "$BENCH_PID" || log "rd-bench register exited $?"
BENCH_PID=""
reg_line=$(grep '^phase=' "$WORK/register.out")
reg_ok=$(field "$reg_line" ok)

ids "$F1" 1 >"$WORK/ids1"
last_seen=$(tail -n 1 "$WORK/ids1")
seen1=$(wc -l <"$WORK/ids1")
: >"$F2"
t_resume=$(now_ms)
curl -sN -H "Last-Event-ID: $last_seen" "http://127.0.0.1:$HPORT/api/events" >"$F2" &
CURL_PID=$!
wait_for "the follower to catch up" last_id_at_least "$reg_ok" "$F2"
t_caught=$(now_ms)

head -n "$UPDATES" "$WORK/loc" >"$WORK/loc.upd"
head -n "$DELETES" "$WORK/loc" >"$WORK/loc.del"
upd_line=$(rdbench -n "$UPDATES" -w 32 --phases update --locations "$WORK/loc.upd")
del_line=$(rdbench -n "$DELETES" -w 32 --phases delete --locations "$WORK/loc.del")
t_writes_end=$(now_ms)
changes=$((reg_ok + $(field "$upd_line" ok) + $(field "$del_line" ok)))
wait_for "the last event at the follower" last_id_at_least "$changes" "$F2"
t_end=$(now_ms)
follow_rss=$(rss_kb "$SERVER_PID")
stop_pid "$CURL_PID"
CURL_PID=""
stop_pid "$SERVER_PID"
SERVER_PID=""

ids "$F2" >"$WORK/ids2"
resets=$(grep -c '^event: reset' "$F2" || true)
read -r received dups gaps beyond < <(cat "$WORK/ids1" "$WORK/ids2" | awk -v n="$changes" '
    { c[$1]++; r++ }
    END {
        for (k in c) { if (c[k] > 1) d += c[k] - 1; if (k + 0 < 1 || k + 0 > n) b++ }
        for (i = 1; i <= n; i++) if (!(i in c)) g++
        print r + 0, d + 0, g + 0, b + 0 }')
follow_ms=$((t_end - t_start))
replay=$((reg_ok - last_seen))
catch_ms=$((t_caught - t_resume))

# --- 2. idle subscribers and fan-out --------------------------------------------------------
start_server subs "http_connections $((SUBS + 100))\nhttp_connections_per_ip $((SUBS + 100))\n"
fill_line=$(rdbench -n "$FANOUT_N" -w 32 --phases register)
cpu0=$(cpu_ticks "$SERVER_PID")
alone_line=$(rdbench -n "$FANOUT_N" -w 32 --phases register)
alone_cpu_ms=$(ticks_ms $(($(cpu_ticks "$SERVER_PID") - cpu0)))
rss_before=$(rss_kb "$SERVER_PID")

"$HOLD" "$HPORT" "$SUBS" "$MAX_SECONDS" "$FANOUT_N" >"$WORK/hold.out" 2>&1 &
HOLD_PID=$!
wait_for "$SUBS subscribers" has_text '^connected=' "$WORK/hold.out"
hold_ready=$(head -n 1 "$WORK/hold.out")
rss_subs=$(rss_kb "$SERVER_PID")
cpu0=$(cpu_ticks "$SERVER_PID")
hold_cpu0=$(cpu_ticks "$HOLD_PID")
# A measurement window, not a wait for a condition: what the idle subscribers cost meanwhile.
sleep "$IDLE_SECONDS"
idle_cpu_ms=$(ticks_ms $(($(cpu_ticks "$SERVER_PID") - cpu0)))
hold_idle_cpu_ms=$(ticks_ms $(($(cpu_ticks "$HOLD_PID") - hold_cpu0)))
rss_idle=$(rss_kb "$SERVER_PID")

cpu0=$(cpu_ticks "$SERVER_PID")
t0=$(now_ms)
fan_line=$(rdbench -n "$FANOUT_N" -w 32 --phases register)
t_fan_writes=$(now_ms)
status=0
wait "$HOLD_PID" || status=$?
HOLD_PID=""
t_fan_end=$(now_ms)
fan_cpu_ms=$(ticks_ms $(($(cpu_ticks "$SERVER_PID") - cpu0)))
rss_fan=$(rss_kb "$SERVER_PID")
hold_line=$(tail -n 1 "$WORK/hold.out")
stop_pid "$SERVER_PID"
SERVER_PID=""

# --- report ---------------------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
per() { awk -v ms="$1" -v n="$2" 'BEGIN { printf "%.3f", ms / n }'; }
rate() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", (ms > 0 ? n * 1000 / ms : 0) }'; }
report() {
    local commit
    commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo
    echo "## Change feed at scale ($(date -u +%F), commit $commit, $(nproc) CPUs, load average $LOAD at the start)"
    echo
    echo "\`FEED_N=$N FEED_UPDATES=$UPDATES FEED_DELETES=$DELETES FEED_SUBS=$SUBS" \
        "FEED_FANOUT_N=$FANOUT_N bench/feed.sh\` (Release, loopback, one \`curl -sN\` follower)."
    echo
    echo "| follow with a disconnect | value |"
    echo "|---|---:|"
    echo "| changes made (registered + updated + removed) | $changes ($reg_ok + $(field "$upd_line" ok) + $(field "$del_line" ok)) |"
    echo "| events received (first connection + after resume) | $received ($seen1 + $((received - seen1))) |"
    echo "| gaps / duplicates / ids out of range / resets | $gaps / $dups / $beyond / $resets |"
    echo "| cut after event, resumed with Last-Event-ID | $last_seen (disconnected $((t_resume - t_cut)) ms) |"
    echo "| replay at resume: events, time, events/s | $replay, $catch_ms ms, $(rate "$replay" "$catch_ms") |"
    echo "| first write to last event received | $follow_ms ms, $(rate "$changes" "$follow_ms") events/s |"
    echo "| last write to last event received | $((t_end - t_writes_end)) ms |"
    echo "| register / update / delete, ops/s (w=32) | $(field "$reg_line" ops_per_s) / $(field "$upd_line" ops_per_s) / $(field "$del_line" ops_per_s) |"
    echo "| server RSS after | $(mib "$follow_rss") |"
    echo
    echo "| $SUBS subscribers | value |"
    echo "|---|---:|"
    echo "| connected | $(field "$hold_ready" connected) in $(field "$hold_ready" ready_ms) ms, failed $(field "$hold_ready" failed) |"
    echo "| server RSS without / with them / after ${IDLE_SECONDS} s idle | $(mib "$rss_before") / $(mib "$rss_subs") / $(mib "$rss_idle") |"
    echo "| RSS per subscriber | $(awk -v a="$rss_before" -v b="$rss_subs" -v n="$SUBS" 'BEGIN { printf "%.1f KiB", (b - a) / n }') |"
    echo "| server CPU over ${IDLE_SECONDS} s idle (subscribers' process) | $idle_cpu_ms ms ($hold_idle_cpu_ms ms) |"
    echo "| re-register $FANOUT_N without subscribers: ops/s, p50, p99, server CPU | $(field "$alone_line" ops_per_s), $(field "$alone_line" p50_ms) ms, $(field "$alone_line" p99_ms) ms, $alone_cpu_ms ms |"
    echo "| re-register $FANOUT_N with $SUBS subscribers: ops/s, p50, p99 | $(field "$fan_line" ops_per_s), $(field "$fan_line" p50_ms) ms, $(field "$fan_line" p99_ms) ms |"
    echo "| server CPU per registration without / with them; per event and subscriber | $(per "$alone_cpu_ms" "$FANOUT_N") / $(per "$fan_cpu_ms" "$FANOUT_N") ms; $(awk -v c="$fan_cpu_ms" -v a="$alone_cpu_ms" -v e="$(field "$hold_line" events_sum)" 'BEGIN { printf "%.2f", (e > 0 ? (c - a) * 1000 / e : 0) }') µs |"
    echo "| events delivered (min / max per subscriber), cut off as slow | $(field "$hold_line" events_sum) ($(field "$hold_line" events_min) / $(field "$hold_line" events_max)), $(field "$hold_line" cut_off) |"
    echo "| first write to every event delivered; server CPU | $((t_fan_end - t0)) ms ($((t_fan_writes - t0)) ms of writes), $(rate "$(field "$hold_line" events_sum)" $((t_fan_end - t0))) events/s; $fan_cpu_ms ms |"
    echo "| server RSS after | $(mib "$rss_fan") |"
    echo
    echo '```'
    echo "$reg_line"
    echo "$upd_line"
    echo "$del_line"
    echo "$fill_line"
    echo "$alone_line"
    echo "$fan_line"
    echo "$hold_ready"
    echo "$hold_line"
    echo '```'
}
report | tee -a "${OUT:-/dev/null}"
if [ -s "$WORK/bench.err" ]; then
    log "rd-bench said: $(head -c 500 "$WORK/bench.err")"
fi
if [ "$gaps" != 0 ] || [ "$dups" != 0 ] || [ "$beyond" != 0 ] || [ "$resets" != 0 ] ||
    [ "$status" != 0 ]; then
    log "FAILED: gaps=$gaps duplicates=$dups out_of_range=$beyond resets=$resets sse-hold=$status"
    exit 1
fi
