#!/bin/sh
# `make demo` in its short form, checked end to end: it must finish, and its
# output must show convergence, the conflict kept visible, and a final status
# with every peer connected.
set -eu
out=$(TMPDIR="${TX_TEST_TMP:-/tmp}" sh "${TX_SRC:-.}/scripts/demo.sh" --short --check "${TX_BUILD:-build}" 2>&1) || {
    echo "$out"; echo "demo: failed"; exit 1; }
echo "$out" | tail -30
check() { echo "$out" | grep -q "$1" || { echo "demo check failed: missing '$1'"; exit 1; }; }
check "every node's log digest is equal"
check "all five nodes hold the same envelopes"
check "choice.*list_[ab] | list_[ab]"
check "demo: checked the data set's totals on the hub after the first sync"
check "demo: checked the data set's totals on the hub after the partition healed"
check "demo: finished"
# the final status: both offices connected to the hub
tail=$(echo "$out" | sed -n '/== tongxin status on the hub/,$p')
[ "$(echo "$tail" | grep -c 'connected')" -ge 3 ] || { echo "demo: offices not connected at the end"; exit 1; }
echo "demo: checked"
