# shellcheck shell=bash
# Assertions and waiting for the end-to-end suites, shared by lib.sh (loopback suites) and
# ns_lib.sh (network-namespace suites). Sourced; defines PASSED, FAILED and CURRENT.

PASSED=0
FAILED=0
CURRENT=""

pass() { PASSED=$((PASSED + 1)); }
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL${CURRENT:+ [$CURRENT]}: $*"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}
expect_ne() {
    if [ "$2" != "$3" ]; then pass; else fail "$1: expected something other than '$2'"; fi
}
# expect_match WHAT REGEX ACTUAL
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then pass; else fail "$1: '$3' does not match /$2/"; fi
}
expect_no_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then fail "$1: '$3' matches /$2/"; else pass; fi
}

run_test() {
    CURRENT=$1
    "$1"
}

# summary [NAME]: print the counts; the suite fails when a check failed, and also when none
# ran at all, since a suite that checked nothing proved nothing (a typo in a run_test list, a
# start-up that returned early).
summary() {
    echo "${1:-e2e}: $PASSED passed, $FAILED failed"
    if [ $((PASSED + FAILED)) -eq 0 ]; then
        echo "FAIL: no check ran"
        return 1
    fi
    [ "$FAILED" -eq 0 ]
}

# wait_until DEADLINE_S CMD...: run CMD every 50 ms until it succeeds; returns 1 when it has
# not succeeded after DEADLINE_S seconds (whole seconds). The time CMD itself takes counts.
wait_until() {
    local deadline=$((${EPOCHREALTIME//[!0-9]/} + $1 * 1000000))
    shift
    until "$@"; do
        if [ "${EPOCHREALTIME//[!0-9]/}" -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.05
    done
}

# matches_at_least REGEX FILE N: FILE has N lines or more matching REGEX. A condition for
# wait_until, which evaluates it anew each time (a "$(grep -c ...)" argument would be counted
# once, before the wait).
matches_at_least() {
    [ "$(grep -c -- "$1" "$2" 2>/dev/null)" -ge "$3" ]
}
