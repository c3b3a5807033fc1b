# Shared by the end-to-end tests that build network namespaces (sourced). The caller sets
# WORK, RD_PID and NAMESPACES (names to delete on exit).
PASSED=0
FAILED=0
RD_PID=""
NAMESPACES=""

pass() { PASSED=$((PASSED + 1)); }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $*"
}
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then pass; else fail "$1: '$3' does not match /$2/"; fi
}
expect_no_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then fail "$1: '$3' matches /$2/"; else pass; fi
}

# End core-rd (by the PID it recorded), delete the namespaces and the work directory.
ns_cleanup() {
    local ns
    if [ -n "$RD_PID" ]; then
        kill -TERM "$RD_PID" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$RD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$RD_PID" 2>/dev/null
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
    for _ in $(seq 1 100); do
        grep -q 'listening on' "$WORK/rd.log" 2>/dev/null && break
        sleep 0.05
    done
    RD_PID=$(cat "$WORK/rd.pid" 2>/dev/null)
}
