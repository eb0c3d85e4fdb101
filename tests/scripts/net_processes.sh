#!/bin/sh
# Real processes on loopback: a hub and three offices as tongxind daemons.
#  - writes on every node converge everywhere;
#  - office A is stopped, the others keep writing, A restarts and catches up;
#  - office C reaches the hub only through office B (C dials B only);
#  - nothing acknowledged is lost: every write that `records put` acknowledged
#    is present on every node at the end.
set -eu
. "${TX_SRC:-.}/scripts/lib/daemons.sh"
TX=${TONGXIN_BIN:?}
TXD=${TONGXIND_BIN:?}
ROOT=$(mktemp -d "${TX_TEST_TMP:-/tmp}/netproc.XXXXXX")
PIDS=""
cleanup() { stop_all; rm -rf "$ROOT"; }
trap cleanup EXIT INT TERM
start() { # NODE [PEER]: listens on a port the kernel picks; PEER is running
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
stop() { eval "p=\$PID_$1"; kill -TERM "$p"; wait "$p" || fail "$1 did not stop cleanly"; }

"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
for n in hub a b c; do
    role=office; comm=$n
    [ $n = hub ] && { role=hub; comm=district; }
    "$TX" -D "$ROOT/$n" init --community "$comm" --role $role --name "node-$n" \
        --district "$ROOT/district" >/dev/null 2>&1
done

start hub
start a hub
start b hub
start c b   # C knows only B

ACKS="$ROOT/acks"
: >"$ACKS"
put() { # NODE ID VALUE: write one public record and remember the acknowledgement
    "$TX" -D "$ROOT/$1" records put case "$2" title="$3" --scope public >/dev/null ||
        fail "write $2 on $1 not acknowledged"
    echo "$2 $3" >>"$ACKS"
}
round() { # NAME NODES...: five writes on each node
    name=$1; shift
    for n in "$@"; do
        i=1
        while [ $i -le 5 ]; do put "$n" "$n-$name-$i" "v$i"; i=$((i + 1)); done
    done
}
same_everywhere() {
    h=$("$TX" -D "$ROOT/hub" digest --log) || return 1
    s=$("$TX" -D "$ROOT/hub" digest) || return 1
    for n in a b c; do
        [ "$("$TX" -D "$ROOT/$n" digest --log)" = "$h" ] || return 1
        [ "$("$TX" -D "$ROOT/$n" digest)" = "$s" ] || return 1
    done
}

# 1. writes on every node converge (C's reach the hub through B)
round r1 hub a b c
wait_for "convergence of round 1" 30 same_everywhere
echo "net_processes: round 1 converged on 4 nodes"
# C is connected to B only, yet the hub holds C's writes:
"$TX" -D "$ROOT/hub" status --json | sed 's/"origins":.*//' | grep -q '"name":"node-c"' &&
    fail "the hub has a direct session with C, which dials only B"

# 2. A stops; the others keep writing; A writes offline too; A restarts
stop a
round r2 hub b c
put a a-offline-1 "written while cut off"
start a hub
wait_for "A to catch up" 30 same_everywhere
echo "net_processes: A caught up after a restart"

# 3. nothing acknowledged is lost, on any node
for n in hub a b c; do
    while read -r id val; do
        got=$("$TX" -D "$ROOT/$n" records get case "$id" --json --scope public) ||
            fail "$n lacks acknowledged $id"
        echo "$got" | grep -q "\"title\":\"$val\"" || fail "$n has the wrong value for $id"
    done <"$ACKS"
done
echo "net_processes: all $(wc -l <"$ACKS") acknowledged writes present on 4 nodes"

# 4. every node verifies, and the daemons stop cleanly (SIGTERM drains)
for n in hub a b c; do "$TX" -D "$ROOT/$n" verify >/dev/null || fail "$n does not verify"; done
for n in c b a hub; do stop $n; done
grep -q "stopped cleanly" "$ROOT/hub.log" || fail "hub log lacks the clean stop"
echo "net_processes: ok"
