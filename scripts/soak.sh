#!/usr/bin/env bash
# soak.sh BUILD_DIR
#
# Long runs of the randomised tests, one after the other, each printing its
# seed (replay a failure with the variable it names):
#   test_crash        TX_CRASH_KILLS=2000 kill -9s of a writing child
#   test_convergence  TX_CONVERGENCE_HISTORIES=1000000 random histories
#   tests/sim/sim     TX_SIM_RUNS=20 runs of 50 nodes and 5 of 200 nodes, each
#                     with a fresh random seed (replay one with --seed S)
# A program that is not built is skipped with a message, not failed. Override
# the counts by setting the variables. `make soak` runs
# `TX_SOAK=1 scripts/soak.sh build`.
#
# Output of each run goes to the terminal and to BUILD_DIR/soak-logs/<name>.log.
# Exit status: 0 when everything that ran passed, 1 if anything failed, 2 on a
# usage error or when nothing at all could run.
set -u

usage() {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}

[ $# -eq 1 ] || usage
if ! build=$(cd "$1" 2>/dev/null && pwd); then
    echo "soak.sh: no build directory $1" >&2
    exit 2
fi

export TX_SOAK=${TX_SOAK:-1}
export TX_TEST_TMP=${TX_TEST_TMP:-$build/testtmp}
export TX_CRASH_KILLS=${TX_CRASH_KILLS:-2000}
export TX_CONVERGENCE_HISTORIES=${TX_CONVERGENCE_HISTORIES:-1000000}
mkdir -p "$TX_TEST_TMP" "$build/soak-logs" || exit 2

ran=0
failed=()
skipped=()

# run NAME PROGRAM: run one soak program, logging and timing it.
run() {
    local name=$1 prog=$2 start rc
    shift 2
    if [ ! -f "$prog" ] || [ ! -x "$prog" ]; then
        echo "soak: $name: $prog is not built; skipped"
        skipped+=("$name")
        return
    fi
    echo "== soak: $name ($(date '+%H:%M:%S'))"
    start=$(date +%s)
    "$prog" "$@" 2>&1 | tee "$build/soak-logs/$name.log"
    rc=${PIPESTATUS[0]}
    ran=$((ran + 1))
    if [ "$rc" -ne 0 ]; then
        failed+=("$name")
        echo "soak: $name FAILED (exit $rc) after $(($(date +%s) - start)) s; log in $build/soak-logs/$name.log"
    else
        echo "soak: $name passed in $(($(date +%s) - start)) s"
    fi
    echo
}

echo "soak: TX_CRASH_KILLS=$TX_CRASH_KILLS TX_CONVERGENCE_HISTORIES=$TX_CONVERGENCE_HISTORIES"
run test_crash "$build/tests/unit/test_crash"
run test_convergence "$build/tests/unit/test_convergence"

sim=$build/tests/sim/sim
if [ -x "$sim" ]; then
    for i in $(seq "${TX_SIM_RUNS:-20}"); do
        run "sim-50-$i" "$sim" --nodes 50
    done
    for i in $(seq 5); do
        run "sim-200-$i" "$sim" --nodes 200 --max-seconds 3600
    done
else
    echo "soak: $sim is not built; skipped"
    skipped+=("sim")
fi

echo "soak: $ran run, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}, ${#skipped[@]} skipped${skipped[*]:+ (${skipped[*]})}"
if [ "${#failed[@]}" -gt 0 ]; then
    exit 1
fi
[ "$ran" -gt 0 ] || exit 2
exit 0
