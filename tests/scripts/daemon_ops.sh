#!/bin/sh
# tongxind as an operator meets it: one daemon per data directory, the INI
# configuration and its errors, peers added at run time (kept across restarts),
# SIGHUP reloading the peer list, writes pushed at once (not at the next vector
# exchange), `sync now`, status offline and online, and a clean SIGTERM.
set -eu
. "${TX_SRC:-.}/scripts/lib/daemons.sh"
TX=${TONGXIN_BIN:?}
TXD=${TONGXIND_BIN:?}
ROOT=$(mktemp -d "${TX_TEST_TMP:-/tmp}/daemonops.XXXXXX")
PIDS=""
cleanup() { stop_all; rm -rf "$ROOT"; }
trap cleanup EXIT INT TERM

"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/a" init --community a --role hub --name node-a --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/b" init --community b --role office --name node-b --district "$ROOT/district" >/dev/null 2>&1

# offline status works without a daemon
"$TX" -D "$ROOT/a" status | grep -q "offline" || fail "offline status not marked"

# a bad configuration key is refused with its line number, exit 2
printf '[node]\nlisten = 127.0.0.1:0\n[sync]\ncolour = blue\n' >"$ROOT/bad.conf"
set +e
"$TXD" -D "$ROOT/a" --config "$ROOT/bad.conf" 2>"$ROOT/bad.log"; rc=$?
set -e
[ $rc = 2 ] || fail "bad config: exit $rc, expected 2"
grep -q "line 4" "$ROOT/bad.log" || fail "bad config: no line number in: $(cat "$ROOT/bad.log")"
# a value out of its range likewise
printf '[store]\nmax_held = 5\n' >"$ROOT/bad2.conf"
set +e
"$TXD" -D "$ROOT/a" --config "$ROOT/bad2.conf" 2>"$ROOT/bad2.log"; rc=$?
set -e
[ $rc = 2 ] || fail "out-of-range max_held: exit $rc, expected 2"
grep -q "line 2" "$ROOT/bad2.log" || fail "out-of-range max_held: no line number in: $(cat "$ROOT/bad2.log")"

# A: long vector interval, so only the eager push can deliver writes quickly
printf '[node]\nlisten = 127.0.0.1:0\nlog_level = debug\n[sync]\nvector_interval = 3600\n[store]\nmax_held = 5000\nmap_max_mib = 4096\n' \
    >"$ROOT/a.conf"
"$TXD" -D "$ROOT/a" --config "$ROOT/a.conf" 2>>"$ROOT/a.log" & PA=$!; PIDS="$PIDS $PA"
wait_for "a to start" 20 online a
P1=$(port_of a)
grep -q "hold queue limited to 5000 envelopes" "$ROOT/a.log" || fail "[store] max_held not applied"
grep -q "map_max_mib .* not applied" "$ROOT/a.log" && fail "[store] map_max_mib refused"

# a second daemon on the same data directory is refused: exit 6
set +e
"$TXD" -D "$ROOT/a" --listen 127.0.0.1:0 2>"$ROOT/second.log"; rc=$?
set -e
[ $rc = 6 ] || fail "second daemon: exit $rc, expected 6"
grep -q "another tongxind is running" "$ROOT/second.log" || fail "second daemon: no clear message"

# B starts with no peers; `peers add` connects it and is remembered in DIR/peers
"$TXD" -D "$ROOT/b" --listen 127.0.0.1:0 2>>"$ROOT/b.log" & PB=$!; PIDS="$PIDS $PB"
wait_for "b to start" 20 online b
"$TX" -D "$ROOT/b" peers add "127.0.0.1:$P1" >/dev/null
grep -qx "127.0.0.1:$P1" "$ROOT/b/peers" || fail "peers add not kept in DIR/peers"
connected() { "$TX" -D "$ROOT/$1" status --json | sed 's/"origins":.*//' | grep -q '"state":"connected"'; }
wait_for "b to connect to a" 20 connected b
"$TX" -D "$ROOT/b" peers list | grep -q "node-a" || fail "peers list lacks node-a"

# a write on B reaches A at once (pushed), long before the next vector exchange
"$TX" -D "$ROOT/b" records put case c-push title="pushed at once" >/dev/null
has() { "$TX" -D "$ROOT/a" records get case c-push --scope general:b >/dev/null 2>&1; }
wait_for "the push to reach a" 5 has

# sync now is accepted
"$TX" -D "$ROOT/b" sync now | grep -q "sync started" || fail "sync now"

# peers remove disconnects and forgets; SIGHUP restores from the config file
"$TX" -D "$ROOT/b" peers remove "127.0.0.1:$P1" >/dev/null
grep -q "127.0.0.1:$P1" "$ROOT/b/peers" && fail "peers remove left the peer in DIR/peers"
notconnected() { ! connected b; }
wait_for "b to disconnect" 20 notconnected
printf '[peers]\npeer = 127.0.0.1:%s\n' "$P1" >"$ROOT/b/tongxind.conf"
kill -HUP "$PB"
wait_for "SIGHUP to reconnect b" 20 connected b
grep -q "SIGHUP: reloading the peer list" "$ROOT/b.log" || fail "SIGHUP not logged"

# SIGTERM drains: both exit 0 and say so
kill -TERM "$PB"; wait "$PB" || fail "b did not exit 0"
kill -TERM "$PA"; wait "$PA" || fail "a did not exit 0"
PIDS=""
grep -q "stopped cleanly" "$ROOT/a.log" || fail "a: no clean stop in the log"
"$TX" -D "$ROOT/a" status | grep -q "offline" || fail "status after stop not offline"
echo "daemon_ops: ok"
