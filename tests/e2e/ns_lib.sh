# Shared by the end-to-end tests that build network namespaces (sourced). The caller sets
# WORK, RD_PID and NAMESPACES (names to delete on exit).
RD_PID=""
NAMESPACES=""
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# End core-rd (by the PID it recorded), delete the namespaces and the work directory.
ns_cleanup() {
    local ns
    if [ -n "$RD_PID" ]; then
        kill -TERM "$RD_PID" 2>/dev/null
        wait_until 5 rd_gone || kill -KILL "$RD_PID" 2>/dev/null
    fi
    wait 2>/dev/null
    for ns in $NAMESPACES; do
        ip netns del "$ns" 2>/dev/null
    done
    rm -rf "$WORK"
}

# Report a host that cannot run the test: skipped, not passed (ctest SKIP_RETURN_CODE 77).
skip_test() {
    echo "SKIP: $*"
    ns_cleanup
    exit 77
}

# Wait until core-rd logged that it listens (its log is $WORK/rd.log) and read its PID file.
wait_listening() {
    wait_until 10 grep -q 'listening on' "$WORK/rd.log" 2>/dev/null
    RD_PID=$(cat "$WORK/rd.pid" 2>/dev/null)
}

# The core-rd whose PID it recorded has exited.
rd_gone() { ! kill -0 "$RD_PID" 2>/dev/null; }
