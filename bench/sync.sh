#!/usr/bin/env bash
# sync.sh BUILD_DIR [bench_sync options]
#
# Run only the network benchmarks (bench/bench_sync.c: initial sync of
# 1,000,000 envelopes between two tongxind daemons on loopback, and the
# propagation latency of one write along A <- B <- C) against BUILD_DIR's
# tongxind, after a short description of the machine. `make bench`
# (scripts/bench.sh) runs the same program after bench_store; this script is
# for running the network part alone, e.g.
#
#   bench/sync.sh build                         # full scale: about 1 minute
#   TX_BENCH_SCALE=0.05 bench/sync.sh build     # 50,000 envelopes, 20 writes
#   bench/sync.sh build --only p                # latency only
#   bench/sync.sh build --batch 1024            # sync with [sync] batch_envelopes = 1024
#
# Environment:
#   TX_BENCH_TMP    scratch directory (default BUILD_DIR/bench-tmp, removed
#                   afterwards if this script created it); the stores of the
#                   daemons live there, so keep it on the disk a node would use
#   TX_BENCH_SCALE  multiplies the envelope and write counts (default 1)
#
# The figures are also left as JSON in BUILD_DIR/bench_sync.json. Exit status:
# that of bench_sync (0: every section ran; targets missed are reported, not
# failures), 2 on a usage error or when bench_sync or tongxind is not built.
set -u

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: $0 BUILD_DIR [bench_sync options]" >&2
    exit 2
fi
if ! build=$(cd "$1" 2>/dev/null && pwd); then
    echo "sync.sh: no build directory $1" >&2
    exit 2
fi
shift
prog="$build/bench/bench_sync"
daemon="$build/cli/tongxind"
for f in "$prog" "$daemon"; do
    if [ ! -x "$f" ]; then
        echo "sync.sh: $f is not built (cmake --build $build --target bench_sync tongxind)" >&2
        exit 2
    fi
done

tmp=${TX_BENCH_TMP:-$build/bench-tmp}
made_tmp=0
if [ ! -d "$tmp" ]; then
    mkdir -p "$tmp" || exit 2
    made_tmp=1
fi
tmp=$(cd "$tmp" && pwd)
trap 'if [ "$made_tmp" = 1 ]; then rm -rf "$tmp"; fi' EXIT
trap 'exit 130' INT TERM

cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
fstype=$(df -PT "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 " on " $1 }')
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
echo "== machine"
echo "date:        $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "cpu:         ${cpu:-$(uname -p)}, $(nproc 2>/dev/null || echo ?) online"
echo "kernel:      $(uname -srm)"
echo "scratch dir: $tmp (${fstype:-?})"
echo "load:        $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1, 5, 15 min)"
echo "build:       ${btype:-?}"
echo "scale:       ${TX_BENCH_SCALE:-1}"
echo
echo "== bench_sync"
start=$(date +%s)
"$prog" --dir "$tmp" --daemon "$daemon" --json="$build/bench_sync.json" "$@"
rc=$?
echo "(bench_sync: $(($(date +%s) - start)) s; figures as JSON in $build/bench_sync.json)"
exit $rc
