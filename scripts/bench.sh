#!/usr/bin/env bash
# bench.sh BUILD_DIR
#
# Run the benchmark programs of BUILD_DIR/bench/ (bench_store: see
# bench/bench_store.c) and print their figures after a description of the
# machine: CPU model, cores, memory, kernel, date, load, and the disk and
# filesystem under the scratch directory, since the LMDB figures measure that
# disk. `make bench` runs `scripts/bench.sh build`.
#
# Environment:
#   TX_BENCH_TMP    scratch directory (default BUILD_DIR/bench-tmp; it is removed
#                   afterwards if this script created it)
#   TX_BENCH_SCALE  multiplies every benchmark size (default 1: about a minute)
#   BENCH_ARGS      extra arguments for each program (e.g. "--only cd")
#
# The JSON form of each program's figures is left in BUILD_DIR/<program>.json.
# Exit status: 0 when every program ran, 1 if one failed, 2 on a usage error or
# when nothing is built. Targets missed are reported, not failures.
set -u

usage() {
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
}

[ $# -eq 1 ] || usage
if ! build=$(cd "$1" 2>/dev/null && pwd); then
    echo "bench.sh: no build directory $1" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)

progs=()
for p in "$build"/bench/bench_*; do
    [ -f "$p" ] && [ -x "$p" ] && progs+=("$p")
done
if [ ${#progs[@]} -eq 0 ]; then
    echo "bench.sh: no benchmark programs in $build/bench (configure with -DTX_BENCH=ON and build)" >&2
    exit 2
fi

tmp=${TX_BENCH_TMP:-$build/bench-tmp}
made_tmp=0
if [ ! -d "$tmp" ]; then
    mkdir -p "$tmp" || exit 2
    made_tmp=1
fi
tmp=$(cd "$tmp" && pwd)

# ---- the machine ----
cpu=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')
[ -n "$cpu" ] || cpu=$(uname -p)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
src=$(df -P "$tmp" 2>/dev/null | awk 'NR == 2 { print $1 }')
fstype=$(df -PT "$tmp" 2>/dev/null | awk 'NR == 2 { print $2 }')
mnt=$(df -P "$tmp" 2>/dev/null | awk 'NR == 2 { print $6 }')
opts=$(awk -v m="$mnt" '$2 == m { o = $4 } END { print o }' /proc/mounts 2>/dev/null)
disk=""
case "$src" in
/dev/*)
    dev=$(basename "$(readlink -f "$src" 2>/dev/null || echo "$src")")
    # A partition: describe the disk that holds it.
    if [ ! -e "/sys/block/$dev" ] && [ -e "/sys/class/block/$dev" ]; then
        dev=$(basename "$(readlink -f "/sys/class/block/$dev/..")")
    fi
    if [ -e "/sys/block/$dev" ]; then
        rot=$(cat "/sys/block/$dev/queue/rotational" 2>/dev/null)
        model=$(cat "/sys/block/$dev/device/model" 2>/dev/null | sed 's/ *$//')
        sched=$(sed 's/.*\[\(.*\)\].*/\1/' "/sys/block/$dev/queue/scheduler" 2>/dev/null)
        wcache=$(cat "/sys/block/$dev/queue/write_cache" 2>/dev/null)
        disk="$dev${model:+ ($model)}, rotational=${rot:-?}, write cache: ${wcache:-?}, scheduler: ${sched:-?}"
    fi
    ;;
esac
virt=$(systemd-detect-virt 2>/dev/null || true)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")
if [ -n "$(git -C "$root" status --porcelain 2>/dev/null | head -1)" ]; then
    rev="$rev (with uncommitted changes)"
fi
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null)
ccver=$("${cc:-cc}" --version 2>/dev/null | head -1)
libs=""
for l in lmdb libsodium msgpack; do
    v=$(pkg-config --modversion "$l" 2>/dev/null) && libs="$libs $l $v,"
done

echo "== machine"
echo "date:        $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "cpu:         $cpu"
echo "cores:       $(nproc 2>/dev/null || echo ?) online${virt:+ (virtualisation: $virt)}"
echo "memory:      ${mem:-?}"
echo "kernel:      $(uname -srm)"
echo "scratch dir: $tmp"
echo "filesystem:  ${fstype:-?} on ${src:-?} mounted at ${mnt:-?} (${opts:-?})"
echo "disk:        ${disk:-unknown}"
echo "load:        $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) (1, 5, 15 min)"
echo "build:       ${btype:-?}, ${ccver:-?}; tree $rev"
echo "libraries:  ${libs%,}"
echo "scale:       ${TX_BENCH_SCALE:-1}"
echo

rc=0
for p in "${progs[@]}"; do
    name=$(basename "$p")
    echo "== $name"
    start=$(date +%s)
    # shellcheck disable=SC2086
    if ! "$p" --dir "$tmp" --json="$build/$name.json" ${BENCH_ARGS:-}; then
        echo "bench.sh: $name failed" >&2
        rc=1
    fi
    echo "($name: $(($(date +%s) - start)) s; figures as JSON in $build/$name.json)"
    echo
done
[ "$made_tmp" = 1 ] && rm -rf "$tmp"
exit $rc

# The network benchmarks, bench_sync (bench/bench_sync.c), are run by the loop
# above right after bench_store (the glob sorts bench_store before bench_sync):
# two and three tongxind daemons of BUILD_DIR/cli on loopback, their stores in
# the scratch directory; about a minute at scale 1. BENCH_ARGS "--only" letters
# select its sections too (s: initial sync, p: propagation latency; an --only
# without s or p skips it). bench/sync.sh BUILD_DIR runs it alone.
