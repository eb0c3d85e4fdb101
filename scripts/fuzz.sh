#!/usr/bin/env bash
# fuzz.sh BUILD_DIR SECONDS [TARGET...]
#
# Run every libFuzzer target in BUILD_DIR/tests/fuzz/ (a build configured with
# -DCMAKE_C_COMPILER=clang -DTX_FUZZ=ON, as `make fuzz` does) for SECONDS each,
# one after the other, over a fresh copy of its seed corpus from
# tests/fuzz/corpus/<target>/. Name targets to run only those.
#
# Everything a run writes stays under BUILD_DIR/fuzz-work/<target>/: corpus/
# (the seeds plus what libFuzzer found), artifacts/ (crash-*, leak-*, timeout-*,
# oom-* inputs) and log. The tree is never written.
#
# Prints a summary line per target and exits 1 if any target crashed, leaked,
# timed out or ran out of memory; 2 on a usage error or when there is nothing
# to run. Extra libFuzzer flags can be passed in FUZZ_ARGS.
set -u

usage() {
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
}

[ $# -ge 2 ] || usage
secs=$2
case "$secs" in
'' | *[!0-9]*) usage ;;
esac
[ "$secs" -ge 1 ] || usage
if ! build=$(cd "$1" 2>/dev/null && pwd); then
    echo "fuzz.sh: no build directory $1" >&2
    exit 2
fi
shift 2

root=$(cd "$(dirname "$0")/.." && pwd)
bindir=$build/tests/fuzz
corpora=$root/tests/fuzz/corpus
dict=$root/tests/fuzz/msgpack.dict
work=$build/fuzz-work

if [ ! -d "$bindir" ]; then
    echo "fuzz.sh: no $bindir; configure with -DCMAKE_C_COMPILER=clang -DTX_FUZZ=ON" >&2
    exit 2
fi

# libFuzzer binaries: fuzz_* executables that are not replay drivers and carry
# libFuzzer's flag parser.
targets=()
if [ $# -gt 0 ]; then
    for t in "$@"; do
        if [ ! -x "$bindir/$t" ]; then
            echo "fuzz.sh: no target $bindir/$t" >&2
            exit 2
        fi
        targets+=("$t")
    done
else
    for f in "$bindir"/fuzz_*; do
        t=${f##*/}
        if [ ! -f "$f" ] || [ ! -x "$f" ]; then continue; fi
        case "$t" in *_replay) continue ;; esac
        grep -qa -- 'max_total_time' "$f" || continue
        targets+=("$t")
    done
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no libFuzzer targets in $bindir; configure with" \
        "-DCMAKE_C_COMPILER=clang -DTX_FUZZ=ON" >&2
    exit 2
fi

hexdump_input() {
    if command -v xxd >/dev/null 2>&1; then
        head -c 512 "$1" | xxd -p
    else
        head -c 512 "$1" | od -An -tx1 -v
    fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "fuzz.sh: ${#targets[@]} target(s), ${secs} s each, work in $work"
failed=0
summary=()
for t in "${targets[@]}"; do
    w=$work/$t
    rm -rf "$w"
    mkdir -p "$w/corpus" "$w/artifacts"
    if [ -d "$corpora/$t" ]; then
        cp -R "$corpora/$t/." "$w/corpus/"
    else
        echo "fuzz.sh: $t: no seed corpus in $corpora/$t, starting empty" >&2
    fi
    seeds=$(find "$w/corpus" -type f | wc -l)
    args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$w/artifacts/")
    [ -f "$dict" ] && args+=(-dict="$dict")
    echo "fuzz.sh: $t: $seeds seed(s), running..."
    # shellcheck disable=SC2086
    (cd "$w" && "$bindir/$t" "${args[@]}" ${FUZZ_ARGS:-} "$w/corpus") >"$w/log" 2>&1
    rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$w/log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$w/log" | tail -1)
    cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(find "$w/corpus" -type f | wc -l)
    bad=$(find "$w/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | sort)

    if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
        result=FAIL
        failed=1
        echo "fuzz.sh: $t FAILED (exit $rc); log: $w/log" >&2
        tail -n 60 "$w/log" >&2
        for a in $bad; do
            echo "fuzz.sh: $t: input $a ($(wc -c <"$a") bytes), first 512 bytes in hex:" >&2
            hexdump_input "$a" >&2
        done
    else
        result=ok
    fi
    summary+=("$(printf '%-12s %-4s %10s execs %7s/s  cov %-5s ft %-6s corpus %s -> %s' \
        "$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$seeds" "$corp")")
done

echo "fuzz.sh: summary (${secs} s per target)"
for line in "${summary[@]}"; do
    echo "  $line"
done
if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: FAILED; inputs and logs under $work" >&2
    exit 1
fi
echo "fuzz.sh: ok"
