#!/bin/sh
# A local district on loopback: the district hub and four community offices,
# each a tongxind process with its own data directory under a temporary folder.
# Every office loads its part of the data set (the Linchuan report's figures);
# records flow to the hub; one office is cut off while both sides keep writing;
# the link comes back; everything converges. Ends with the hub's
# `tongxin status` and `tongxin report coverage`.
#
#   scripts/demo.sh [BUILD_DIR] [--short] [--keep]
#
# --short: less talk; --keep: leave the folder; --check: verify the data set's
# known totals in the hub's reports after the partition heals (the test suite
# runs --short --check).
set -eu
. "$(dirname "$0")/lib/daemons.sh"

BUILD=build
SHORT=0
KEEP=0
CHECK=0
for a in "$@"; do
    case "$a" in
    --short) SHORT=1 ;;
    --keep) KEEP=1 ;;
    --check) CHECK=1 ;;
    *) BUILD=$a ;;
    esac
done
TX=${TONGXIN_BIN:-$BUILD/cli/tongxin}
TXD=${TONGXIND_BIN:-$BUILD/cli/tongxind}
[ -x "$TX" ] && [ -x "$TXD" ] || { echo "demo: build first (make build)" >&2; exit 1; }

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tongxin-demo.XXXXXX")
PIDS=""
cleanup() {
    stop_all
    if [ "$KEEP" = 1 ]; then echo "demo: files kept in $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT INT TERM

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$(printf '\033[1m'); N=$(printf '\033[0m'); else B=; N=; fi
say() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
t0=$(date +%s)

OFFICES="xidajie fulin bojin gongyuan"

converged() {
    h=$("$TX" -D "$ROOT/hub" digest --log) || return 1
    for n in $OFFICES; do [ "$("$TX" -D "$ROOT/$n" digest --log)" = "$h" ] || return 1; done
}
start() { # NODE [PEER]
    if [ -n "${2:-}" ]; then
        "$TXD" -D "$ROOT/$1" --listen 127.0.0.1:0 --peer "127.0.0.1:$(port_of "$2")" \
            2>>"$ROOT/$1.log" &
    else
        "$TXD" -D "$ROOT/$1" --listen 127.0.0.1:0 2>>"$ROOT/$1.log" &
    fi
    eval "PID_$1=$!"
    PIDS="$PIDS $!"
    wait_for "$1 to start" 20 online "$1"
}
stop() { eval "p=\$PID_$1"; kill "$p"; wait "$p" 2>/dev/null || true; }

# --check: the report's figures, per community and summed, on the hub, after the
# partition healed.
jrow() { # REPORT ROWKEY ROWVALUE FIELD
    "$TX" -D "$ROOT/hub" report "$1" --json | grep -o "{\"$2\":\"$3\"[^}]*}" |
        grep -o "\"$4\":[0-9]*" | cut -d: -f2
}
expect() { # REPORT ROWKEY ROWVALUE FIELD WANT
    got=$(jrow "$1" "$2" "$3" "$4")
    if [ "$got" != "$5" ]; then
        echo "demo check: report $1, $3 $4 = '$got', expected $5" >&2
        exit 1
    fi
}
check_totals() {
    expect coverage community district property_companies 120
    expect coverage community district companies_with_party 5
    expect coverage community district owners_committees 155
    expect coverage community district committees_with_party 16
    expect coverage community xidajie property_companies 30
    expect coverage community fulin committees_with_party 5
    expect cases community district resolved 2089
    expect cases community fulin resolved 612
    expect visits community fulin households_reached 2763
    expect visits community xidajie elderly_alone_visits 412
    expect visits community district errands 239
    expect rosters estate fulin-ygc three_leaders 337
    expect rosters estate fulin-ygc building_leaders 103
    expect rosters estate gongyuan-gyyp red_stewards 162
    expect elections election e-ygc-2 conflicting "$2"
    expect elections election e-ygc-2 eligible 2763
    if [ "$3" = final ]; then
        "$TX" -D "$ROOT/hub" report elections --json | grep -q '"final":"yes (signed by' ||
            { echo "demo check: the election result is not final" >&2; exit 1; }
    fi
    if [ "$3" = final ]; then
        # the hub's freshness view, with its daemon's knowledge of its peers:
        # nothing behind; offices that dial it are direct, 铂金水岸 is relayed
        f=$("$TX" -D "$ROOT/hub" report freshness --json)
        for n in 西大街社区 抚临社区 公园社区; do
            echo "$f" | grep -o "\"name\":\"$n\"[^}]*}" | grep -q '"behind":0,.*"direct":1' ||
                { echo "demo check: freshness of $n: $f" >&2; exit 1; }
        done
        echo "$f" | grep -o '"name":"铂金水岸社区"[^}]*}' | grep -q '"direct":0' ||
            { echo "demo check: freshness of 铂金水岸社区: $f" >&2; exit 1; }
    fi
    echo "demo: checked the data set's totals on the hub $1"
}

say "A district (临川区): its root key; the hub and four community offices enrolled in it"
"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" init --community linchuan --role hub --name "临川区中心" \
    --district "$ROOT/district" >/dev/null 2>&1
for o in $OFFICES; do
    case $o in
    xidajie) nm=西大街社区 ;; fulin) nm=抚临社区 ;; bojin) nm=铂金水岸社区 ;; gongyuan) nm=公园社区 ;;
    esac
    "$TX" -D "$ROOT/$o" init --community $o --role office --name "$nm" \
        --district "$ROOT/district" >/dev/null 2>&1
done
"$TX" -D "$ROOT/hub" certs list

say "Five tongxind processes on 127.0.0.1; 铂金水岸 reaches the hub only through 西大街"
start hub
start xidajie hub
start fulin hub
start bojin xidajie
start gongyuan hub
HUB_PORT=$(port_of hub)
echo "hub on port $HUB_PORT; offices on$(for o in $OFFICES; do printf ' %s' "$(port_of "$o")"; done)"

say "Each office loads its records (the data set follows the Linchuan report's figures)"
for o in $OFFICES; do "$TX" -D "$ROOT/$o" demo load; done
wait_for "the hub to hold everything" 60 converged
echo "the hub holds $("$TX" -D "$ROOT/hub" status --json | sed 's/.*"envelopes":\([0-9]*\).*/\1/') envelopes; every node's log digest is equal"
[ "$SHORT" = 1 ] || "$TX" -D "$ROOT/hub" records get household hh-ygc-001-1-01
[ "$CHECK" = 1 ] && check_totals "after the first sync" 0 -

say "抚临社区 loses its link to the hub (peers remove); both sides keep writing"
"$TX" -D "$ROOT/fulin" peers remove "127.0.0.1:$HUB_PORT"
linked() { "$TX" -D "$ROOT/$1" status --json | sed 's/"origins":.*//' | grep -q '"state":"connected"'; }
unlinked() { ! linked "$1"; }
wait_for "抚临社区's link to drop" 20 unlinked fulin
BALLOT=e-ygc-2:hh-ygc-103-2-11
"$TX" -D "$ROOT/fulin" records put ballot "$BALLOT" election=e-ygc-2 household=hh-ygc-103-2-11 \
    choice=list_b collected_by=王敏 date=2026-09-20 >/dev/null
"$TX" -D "$ROOT/fulin" records put case fulin-case-0700 title="电梯停运" category=facilities \
    platform=grid status^=open >/dev/null
"$TX" -D "$ROOT/hub" records put ballot "$BALLOT" --community fulin election=e-ygc-2 \
    household=hh-ygc-103-2-11 choice=list_a collected_by=李强 date=2026-09-20 >/dev/null
"$TX" -D "$ROOT/xidajie" records put case xidajie-case-0001 status^=closed >/dev/null
echo "抚临社区 recorded a ballot while cut off; the hub recorded the same household's ballot differently"
[ "$SHORT" = 1 ] || "$TX" -D "$ROOT/fulin" status | sed -n '/^NODE\|^PEER\|offline\|connect\|down/p'

say "The link comes back (peers add): 抚临社区 and the hub exchange what each lacks"
"$TX" -D "$ROOT/fulin" peers add "127.0.0.1:$HUB_PORT"
wait_for "convergence" 60 converged
echo "all five nodes hold the same envelopes (log digest $("$TX" -D "$ROOT/hub" digest --log | cut -c1-16)...)"
echo "the household's two ballots are a visible conflict, never a silent winner:"
"$TX" -D "$ROOT/hub" conflicts list
"$TX" -D "$ROOT/hub" records put result e-ygc-2 --community fulin election=e-ygc-2 \
    tally="list_a:1512,list_b:598,abstain:100" turnout=2210 final=true >/dev/null
"$TX" -D "$ROOT/hub" report elections

[ "$CHECK" = 1 ] && check_totals "after the partition healed" 1 final

say "tongxin status on the hub"
"$TX" -D "$ROOT/hub" status

say "tongxin report coverage on the hub (the report: 5 of 120 companies, 16 of 155 committees)"
"$TX" -D "$ROOT/hub" report coverage

echo
echo "demo: finished in $(( $(date +%s) - t0 )) s"
