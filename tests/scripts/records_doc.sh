#!/bin/sh
# docs/records.md is exactly what `tongxin schema --markdown` prints: the
# documentation of every type and field cannot drift from the schema.
set -eu
cd "${TX_SRC:-.}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"${TONGXIN_BIN:?}" schema --markdown >"$tmp"
if ! cmp -s "$tmp" docs/records.md; then
    diff -u docs/records.md "$tmp" | head -40
    echo "records_doc: docs/records.md is stale: run tongxin schema --markdown > docs/records.md"
    exit 1
fi
echo "records_doc: docs/records.md matches the schema ($(grep -c '^## ' docs/records.md) sections)"
