#!/bin/sh
# Golden tests of the CLI's output: `status` (offline) and two reports, in their
# aligned-table and JSON forms, over the data set. Variable parts (node ids,
# timestamps, ages) are normalised; everything else - columns, alignment of
# Chinese text by display width, JSON keys and values - must match the files in
# tests/golden/. Regenerate after an intended change with TX_GOLDEN_UPDATE=1.
set -eu
TX=${TONGXIN_BIN:?}
SRC=${TX_SRC:-.}
ROOT=$(mktemp -d "${TX_TEST_TMP:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
export TONGXIN_NOW_MS=4102444800000 # 2100-01-01: every age is a whole number of days
export NO_COLOR=1

"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" init --community linchuan --role hub --name "临川区中心" \
    --district "$ROOT/district" >/dev/null 2>&1
for o in xidajie fulin bojin gongyuan; do
    "$TX" -D "$ROOT/$o" init --community $o --role office --name "office-$o" \
        --district "$ROOT/district" >/dev/null 2>&1
    "$TX" -D "$ROOT/$o" demo load --seed 7 >/dev/null
    "$TX" -D "$ROOT/$o" bundle export "$ROOT/$o.txb" >/dev/null
done
# a fixed order of imports: arrival numbers are part of nothing shown here
for o in xidajie fulin bojin gongyuan; do "$TX" -D "$ROOT/hub" bundle import "$ROOT/$o.txb" >/dev/null; done

normalise() {
    sed -E -e 's/[0-9a-f]{64}/<NODE>/g' \
        -e 's/\b[0-9a-f]{8}\b/<node>/g' \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z/<TIME>/g' \
        -e 's/\b[0-9]+d\b/<AGE>/g' \
        -e 's/,[0-9]{13},[0-9]+(\r?)$/,<MS>,<S>\1/' \
        -e 's/"(generated_ms|now_ms|last_received_ms|issued_ms|expires_ms|last_data_ms|lag_s|last_contact_ms|last_envelope_ms)":[0-9]+/"\1":<MS>/g'
}
run() { # NAME COMMAND...
    name=$1; shift
    TONGXIN_TABLES=aligned "$@" | normalise >"$ROOT/$name.out"
    if [ "${TX_GOLDEN_UPDATE:-0}" = 1 ]; then
        cp "$ROOT/$name.out" "$SRC/tests/golden/$name.txt"
    elif ! cmp -s "$ROOT/$name.out" "$SRC/tests/golden/$name.txt"; then
        diff -u "$SRC/tests/golden/$name.txt" "$ROOT/$name.out" | head -30
        echo "golden: $name differs (TX_GOLDEN_UPDATE=1 regenerates after an intended change)"
        exit 1
    fi
}
run status_table "$TX" -D "$ROOT/hub" status
run status_json "$TX" -D "$ROOT/hub" status --json
run report_coverage_table "$TX" -D "$ROOT/hub" report coverage
run report_coverage_json "$TX" -D "$ROOT/hub" report coverage --json
run report_rosters_table "$TX" -D "$ROOT/hub" report rosters
run report_rosters_json "$TX" -D "$ROOT/hub" report rosters -o json
run report_cases_csv "$TX" -D "$ROOT/hub" report cases -o csv
echo "golden: status and reports match tests/golden/"
