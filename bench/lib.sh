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
