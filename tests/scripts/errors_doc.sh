#!/bin/sh
# docs/errors.md documents every error code and every ingest reason: for each
# XX(NAME, -NNNNN, "msg") of TX_ERRNO_MAP in crdt/crdt.h and each entry of
# NODE_REASON_MAP in node/node.h there must be a table row whose first cell is
# the number and which names NAME (TX_NAME for error codes). Prints what is
# missing and exits 1 if anything is.
set -u
cd "${TX_SRC:-.}" || exit 1
doc=docs/errors.md
fail=0

missing() { echo "errors_doc: $1"; fail=1; }

if [ ! -f crdt/crdt.h ] || [ ! -f node/node.h ]; then
    echo "errors_doc: crdt/crdt.h or node/node.h not found: run from the source tree (TX_SRC)"
    exit 1
fi
if [ ! -f "$doc" ]; then
    echo "errors_doc: $doc does not exist"
    exit 1
fi

# "NAME NUMBER" per line, for every XX(NAME, NUMBER, ...) found (several per
# line are allowed). Error codes: every entry with a negative number anywhere in
# crdt/crdt.h. Reasons: the entries of the NODE_REASON_MAP macro, up to its last
# continued line.
entries() { # $1 file, $2 macro name or "" for the whole file, $3 "neg" or "pos"
    awk -v macro="$2" -v sign="$3" '
        macro == "" { inmap = 1 }
        macro != "" && $0 ~ ("#define[ \t]+" macro "[ \t(]") { inmap = 1 }
        inmap {
            line = $0
            while (match(line, /XX\([ \t]*[A-Z0-9_]+[ \t]*,[ \t]*-?[0-9]+/)) {
                item = substr(line, RSTART + 3, RLENGTH - 3)
                line = substr(line, RSTART + RLENGTH)
                gsub(/[ \t]/, "", item)
                split(item, f, ",")
                if ((sign == "neg") == (substr(f[2], 1, 1) == "-"))
                    print f[1], f[2]
            }
        }
        macro != "" && inmap && !/\\[ \t]*$/ { inmap = 0 }' "$1"
}
codes=$(entries crdt/crdt.h "" neg)
reasons=$(entries node/node.h NODE_REASON_MAP pos)

[ -n "$codes" ] || missing "no XX(NAME, -NNNNN, \"msg\") lines found in crdt/crdt.h"
[ -n "$reasons" ] || missing "no NODE_REASON_MAP entries found in node/node.h"

# check NAME NUMBER PREFIX WHAT: a row "| NUMBER | ... PREFIX NAME ..." must exist.
# Negative numbers may be written with '-' or the Unicode minus sign.
check() {
    name=$1
    num=$2
    abs=${num#-}
    if [ "$abs" != "$num" ]; then
        numre="(-|−)$abs"
    else
        numre="$abs"
    fi
    namere="(^|[^A-Za-z0-9_])$3$name([^A-Za-z0-9_]|\$)"
    if ! grep -Eq "^\|[[:space:]]*$numre[[:space:]]*\|" "$doc"; then
        if grep -Eq "$namere" "$doc"; then
            missing "$4 $3$name is in $doc but has no row numbered $num"
        else
            missing "$4 $3$name ($num) is not in $doc"
        fi
    elif ! grep -E "^\|[[:space:]]*$numre[[:space:]]*\|" "$doc" | grep -Eq "$namere"; then
        missing "$4 $3$name: the row numbered $num in $doc does not name it"
    fi
}

ncodes=0
while read -r name num; do
    [ -n "$name" ] || continue
    ncodes=$((ncodes + 1))
    check "$name" "$num" "TX_" "error code"
done <<EOF
$codes
EOF

nreasons=0
while read -r name num; do
    [ -n "$name" ] || continue
    nreasons=$((nreasons + 1))
    check "$name" "$num" "" "ingest reason"
done <<EOF
$reasons
EOF

[ $fail = 0 ] && echo "errors_doc: $ncodes error codes and $nreasons ingest reasons are documented in $doc"
exit $fail
