#!/bin/sh
# `make demo` in its short form, checked end to end: it must finish, and its
# output must show convergence, the conflict kept visible, and a final status
# with every peer connected.
set -eu
out=$(TMPDIR="${TX_TEST_TMP:-/tmp}" sh "${TX_SRC:-.}/scripts/demo.sh" --short "${TX_BUILD:-build}" 2>&1) || {
    echo "$out"; echo "demo: failed"; exit 1; }
echo "$out" | tail -30
check() { echo "$out" | grep -q "$1" || { echo "demo check failed: missing '$1'"; exit 1; }; }
check "log digests equal"
check "all three nodes hold the same envelopes"
check "fl-c1.*assignee.*|"
check "demo: finished"
# the final status: both offices connected to the hub
tail=$(echo "$out" | sed -n '/== tongxin status on the hub/,$p')
[ "$(echo "$tail" | grep -c 'connected')" -ge 2 ] || { echo "demo: offices not connected at the end"; exit 1; }
echo "demo: checked"
