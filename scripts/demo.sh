#!/bin/sh
# A local district on loopback: a hub and two community offices, each a tongxind
# process with its own data directory under a temporary folder. Records flow,
# one office is cut off, both sides keep writing, the link comes back, and
# everything converges. Ends with the hub's `tongxin status` (and reports).
#
#   scripts/demo.sh [BUILD_DIR] [--short] [--keep]
#
# --short: fewer records (the test suite runs this); --keep: leave the folder.
set -eu

BUILD=build
SHORT=0
KEEP=0
for a in "$@"; do
    case "$a" in
    --short) SHORT=1 ;;
    --keep) KEEP=1 ;;
    *) BUILD=$a ;;
    esac
done
TX=${TONGXIN_BIN:-$BUILD/cli/tongxin}
TXD=${TONGXIND_BIN:-$BUILD/cli/tongxind}
[ -x "$TX" ] && [ -x "$TXD" ] || { echo "demo: build first (make build)" >&2; exit 1; }

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tongxin-demo.XXXXXX")
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    if [ "$KEEP" = 1 ]; then echo "demo: files kept in $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*" | { [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && cat || sed 's/\x1b\[[0-9;]*m//g'; }; }
t0=$(date +%s)

# Ports: derived from the pid so parallel runs do not collide.
BASE=$(( 20000 + ($$ % 2000) * 3 ))
HUBP=$BASE; AP=$((BASE + 1)); BP=$((BASE + 2))

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
    what=$1; limit=$2; shift 2
    end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "demo: timed out waiting for $what" >&2
            for f in "$ROOT"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
            exit 1
        fi
        sleep 0.1
    done
}

online() { "$TX" -D "$1" status --json 2>/dev/null | grep -q '"online":true'; }
same_log() {
    h=$("$TX" -D "$ROOT/hub" digest --log) || return 1
    for n in "$@"; do [ "$("$TX" -D "$ROOT/$n" digest --log)" = "$h" ] || return 1; done
}
start() { # start NODE PORT [PEER]
    if [ -n "${3:-}" ]; then
        "$TXD" -D "$ROOT/$1" --listen "127.0.0.1:$2" --peer "127.0.0.1:$3" 2>>"$ROOT/$1.log" &
    else
        "$TXD" -D "$ROOT/$1" --listen "127.0.0.1:$2" 2>>"$ROOT/$1.log" &
    fi
    eval "PID_$1=$!"
    PIDS="$PIDS $!"
    wait_for "$1 to start" 20 online "$ROOT/$1"
}
stop() { eval "p=\$PID_$1"; kill "$p"; wait "$p" 2>/dev/null || true; }

say "A district: root key, and a hub and two community offices enrolled in it"
"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" init --community linchuan --role hub --name "临川区中心" \
    --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/xidajie" init --community xidajie --role office --name "西大街社区" \
    --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/fulin" init --community fulin --role office --name "抚临社区" \
    --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" certs list

say "Starting three tongxind processes on 127.0.0.1:$HUBP (hub), :$AP and :$BP (offices)"
start hub "$HUBP"
start xidajie "$AP" "$HUBP"
start fulin "$BP" "$HUBP"

say "Offices record their work; every write is pushed to the hub at once"
N=20; [ "$SHORT" = 1 ] && N=6
i=1
while [ $i -le $N ]; do
    "$TX" -D "$ROOT/xidajie" records put visit "xdj-v$i" household="h-$i" visitor=王敏 \
        needs+=meals errands+=1 >/dev/null
    "$TX" -D "$ROOT/fulin" records put case "fl-c$i" title="楼道灯不亮 $i" category=facilities \
        platform=discussion_point status^=open >/dev/null
    i=$((i + 1))
done
"$TX" -D "$ROOT/xidajie" records put household h-1 address="阳光城小区 3栋2单元501" \
    flags+=elderly_alone --private >/dev/null
wait_for "the hub to hold everything" 30 same_log xidajie fulin
echo "hub holds $("$TX" -D "$ROOT/hub" log --json | grep -o '"seq"' | wc -l) envelopes; log digests equal"
"$TX" -D "$ROOT/hub" records get household h-1

say "Cutting 抚临社区 off (its daemon stops); both sides keep writing"
stop fulin
"$TX" -D "$ROOT/fulin" records put case fl-c1 status^=assigned assignee=李强 >/dev/null
"$TX" -D "$ROOT/fulin" records put case fl-c2 title="楼道灯已修" status^=resolved >/dev/null
"$TX" -D "$ROOT/xidajie" records put visit xdj-v1 errands+=2 notes="帮办: 代缴水费" >/dev/null
"$TX" -D "$ROOT/hub" records put case fl-c1 assignee=张华 --scope general:fulin >/dev/null
echo "fulin wrote offline; the hub assigned fl-c1 to someone else at the same time"
"$TX" -D "$ROOT/hub" status | sed -n '1,12p'

say "The link comes back: 抚临社区 restarts and catches up"
start fulin "$BP" "$HUBP"
wait_for "convergence" 30 same_log xidajie fulin
echo "all three nodes hold the same envelopes (digest --log $("$TX" -D "$ROOT/hub" digest --log | cut -c1-16)...)"
echo "the concurrent assignment is kept as a visible conflict, not silently lost:"
"$TX" -D "$ROOT/hub" conflicts list

say "tongxin status on the hub"
"$TX" -D "$ROOT/hub" status

echo
echo "demo: finished in $(( $(date +%s) - t0 )) s"
