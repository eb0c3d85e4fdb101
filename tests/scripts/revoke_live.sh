#!/bin/sh
# Revoking a node on the hub while the hub's daemon runs: the daemon picks the
# revocation up by itself (no restart), drops the open session with the revoked
# laptop, refuses its next handshake, and records written by the community in
# the rotated key epoch reach the hub readable.
set -eu
. "${TX_SRC:-.}/scripts/lib/daemons.sh"
TX=${TONGXIN_BIN:?}
TXD=${TONGXIND_BIN:?}
ROOT=$(mktemp -d "${TX_TEST_TMP:-/tmp}/revokelive.XXXXXX")
PIDS=""
cleanup() { stop_all; rm -rf "$ROOT"; }
trap cleanup EXIT INT TERM

"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" init --community district --role hub --name hub --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/a" init --community a --role office --name office-a --district "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/laptop" init --community a --role office --name laptop --district "$ROOT/district" >/dev/null 2>&1
LAPTOP=$("$TX" -D "$ROOT/laptop" id)

"$TXD" -D "$ROOT/hub" --listen 127.0.0.1:0 2>>"$ROOT/hub.log" & PIDS="$PIDS $!"
wait_for "hub" 20 online hub
P=$(port_of hub)
"$TXD" -D "$ROOT/a" --listen 127.0.0.1:0 --peer "127.0.0.1:$P" 2>>"$ROOT/a.log" & PIDS="$PIDS $!"
"$TXD" -D "$ROOT/laptop" --listen 127.0.0.1:0 --peer "127.0.0.1:$P" 2>>"$ROOT/laptop.log" & PIDS="$PIDS $!"
wait_for "a" 20 online a
wait_for "laptop" 20 online laptop
peer_up() { "$TX" -D "$ROOT/hub" status --json | sed 's/"origins":.*//' | grep -q "\"name\":\"$1\",\"last_contact"; }
connected() { "$TX" -D "$ROOT/hub" status --json | sed 's/"origins":.*//' |
    grep -o "\"state\":\"[a-z ]*\",[^}]*\"name\":\"$1\"" | grep -q '"state":"connected"'; }
wait_for "the laptop's session" 20 connected laptop
"$TX" -D "$ROOT/laptop" records put household h-1 address=before >/dev/null
has() { "$TX" -D "$ROOT/$1" records get "$2" "$3" >/dev/null 2>&1; }
wait_for "the laptop's record at the hub" 20 has hub household h-1

# a negative cut is a usage error, not 2^64 - 2
rc=0
"$TX" -D "$ROOT/hub" revoke --district "$ROOT/district" "$LAPTOP" --after-seq -2 --reason x >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "revoke --after-seq -2 exited $rc, not 2"

# revoke with the hub's daemon running
"$TX" -D "$ROOT/hub" revoke --district "$ROOT/district" "$LAPTOP" --reason "laptop stolen" >/dev/null
not_connected() { ! connected laptop; }
wait_for "the hub to drop the laptop's session" 15 not_connected
# the refusal ring, not the origin rows (every row has a "revoked" key)
refused() { "$TX" -D "$ROOT/hub" status --json | sed 's/"origins":.*//' | grep -q '"code":"EREVOKED"'; }
wait_for "the laptop's handshake to be refused" 20 refused

# the community rotates to epoch 2; its new private record reaches the hub readable
rotated() { "$TX" -D "$ROOT/a" keys list --json | grep -q '"scope":"private:a","epoch":2,"readable":true'; }
wait_for "office a to receive the new key" 20 rotated
"$TX" -D "$ROOT/a" records put household h-2 address=after-rotation >/dev/null
wait_for "the new-epoch record at the hub" 20 has hub household h-2
# the laptop learned of its revocation before the hub hung up: it refuses to
# write
if "$TX" -D "$ROOT/laptop" records put household h-3 address=after-revocation >/dev/null 2>&1; then
    fail "the revoked laptop still writes"
fi
echo "revoke_live: ok"
