#!/bin/sh
# Reports and exports beyond the data set's totals (those are checked by
# demo.sh --check): who can make an election result final, personal data kept
# out of general scopes, freshness columns, and the export formats.
set -eu
TX=${TONGXIN_BIN:?}
ROOT=$(mktemp -d "${TX_TEST_TMP:-/tmp}/reports.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
export NO_COLOR=1

fail() { echo "reports: $*" >&2; exit 1; }
# expect_exit CODE COMMAND...: run, demand that exit status
expect_exit() {
    want=$1; shift
    set +e
    "$@" >"$ROOT/out" 2>"$ROOT/err"
    got=$?
    set -e
    [ "$got" = "$want" ] || fail "$* exited $got, expected $want: $(cat "$ROOT/err")"
}
# move everything fulin holds to the hub
to_hub() {
    "$TX" -D "$ROOT/fulin" bundle export "$ROOT/f.txb" >/dev/null
    "$TX" -D "$ROOT/hub" bundle import "$ROOT/f.txb" >/dev/null
}
final_of() { # ELECTION -> the "final" cell of the hub's elections report
    "$TX" -D "$ROOT/hub" report elections --json |
        grep -o "{\"election\":\"$1\"[^}]*}" | grep -o '"final":"[^"]*"'
}

"$TX" district init --out "$ROOT/district" >/dev/null 2>&1
"$TX" -D "$ROOT/hub" init --community linchuan --role hub --name hub --district "$ROOT/district" \
    >/dev/null 2>&1
"$TX" -D "$ROOT/fulin" init --community fulin --role office --name 抚临社区 \
    --district "$ROOT/district" >/dev/null 2>&1
FULIN=$("$TX" -D "$ROOT/fulin" id)
[ ${#FULIN} = 64 ] || fail "tongxin id printed '$FULIN'"

# --- an election: ballots, and a result only a hub (or the committee's node it
# names) can make final
"$TX" -D "$ROOT/fulin" records put election e1 title=第一届业委会选举 eligible=3 >/dev/null
"$TX" -D "$ROOT/fulin" records put ballot e1:h1 election=e1 household=h1 choice=list_a >/dev/null
"$TX" -D "$ROOT/fulin" records put ballot e1:h2 election=e1 household=h2 choice=list_b >/dev/null
"$TX" -D "$ROOT/fulin" records put result e1 election=e1 tally=list_a:1,list_b:1 turnout=2 \
    final=true >/dev/null
to_hub
[ "$(final_of e1)" = '"final":"no"' ] || fail "an office's final=true made the result final: $(final_of e1)"
"$TX" -D "$ROOT/hub" report elections --json | grep -q '"ballots":2,"counted":2' ||
    fail "elections report: ballots and counted wrong: $("$TX" -D "$ROOT/hub" report elections --json)"

# the office naming itself the committee's node changes nothing
expect_exit 2 "$TX" -D "$ROOT/fulin" records put election e1 committee_node=not-a-node-id
grep -q "committee_node" "$ROOT/err" || fail "bad committee_node: error does not name the field"
"$TX" -D "$ROOT/fulin" records put election e1 committee_node="$FULIN" >/dev/null
to_hub
[ "$(final_of e1)" = '"final":"no"' ] || fail "an office named itself the committee's node: $(final_of e1)"
# the hub naming it does
"$TX" -D "$ROOT/hub" records put election e1 --community fulin committee_node="$FULIN" >/dev/null
final_of e1 | grep -q "yes (signed by 抚临社区, the committee's node)" ||
    fail "the committee's node named by the hub did not make it final: $(final_of e1)"
# and a hub's own final=true is final
"$TX" -D "$ROOT/hub" records put election e2 --community fulin title=补选 eligible=1 >/dev/null
"$TX" -D "$ROOT/hub" records put result e2 --community fulin election=e2 final=true >/dev/null
final_of e2 | grep -q '"final":"yes (signed by hub)"' || fail "a hub's result not final: $(final_of e2)"

# --- a different ballot for the same household, recorded on the hub
# concurrently, is a conflict: counted as a ballot, not in the tally
"$TX" -D "$ROOT/fulin" records put ballot e1:h3 election=e1 household=h3 choice=list_a >/dev/null
"$TX" -D "$ROOT/hub" records put ballot e1:h3 --community fulin election=e1 household=h3 \
    choice=list_b >/dev/null
to_hub
"$TX" -D "$ROOT/hub" report elections --json |
    grep -q '"ballots":3,"counted":2,"conflicting":1' ||
    fail "conflicting ballot: $("$TX" -D "$ROOT/hub" report elections --json)"
"$TX" -D "$ROOT/hub" report elections --json | grep -q '"household":"h3"' ||
    fail "the conflicting ballot is not listed"

# --- personal data never goes to a general or public scope
for sc in general:fulin public; do
    expect_exit 2 "$TX" -D "$ROOT/fulin" records put household h9 --scope "$sc" address=3-2-401
    grep -q "personal data" "$ROOT/err" || fail "household in $sc: unclear error: $(cat "$ROOT/err")"
done
expect_exit 4 "$TX" -D "$ROOT/fulin" records get household h9 --scope general:fulin
"$TX" -D "$ROOT/fulin" records put household h9 address=3-2-401 >/dev/null # private by default
"$TX" -D "$ROOT/fulin" records get household h9 --json | grep -q '"scope":"private:fulin"' ||
    fail "a household did not go to private:fulin: $("$TX" -D "$ROOT/fulin" records get household h9 --json)"

# --private puts a record of any type in the private scope
"$TX" -D "$ROOT/fulin" records put case c-p title=内部 --private >/dev/null
"$TX" -D "$ROOT/fulin" records get case c-p --json | grep -q '"scope":"private:fulin"' ||
    fail "--private did not choose private:fulin"

# --- freshness on every report row, machine-readable in JSON
"$TX" -D "$ROOT/fulin" records put role r1 person=张三 role=building_leader scope_kind=building \
    scope_ref=b1 estate=ygc >/dev/null
"$TX" -D "$ROOT/fulin" records put org o1 kind=property_company name=物业 party_org=joint_built \
    >/dev/null
"$TX" -D "$ROOT/fulin" records put case c0 title=漏水 category=property >/dev/null
"$TX" -D "$ROOT/fulin" records put visit v1 household=h9 kind=door_knock >/dev/null
to_hub
for r in coverage cases visits rosters elections; do
    "$TX" -D "$ROOT/hub" report $r --json | grep -q '"lag_s":[0-9]' ||
        fail "report $r: no numeric lag_s: $("$TX" -D "$ROOT/hub" report $r --json | head -c 600)"
    TONGXIN_TABLES=aligned "$TX" -D "$ROOT/hub" report $r | head -1 | grep -q "LAG" || fail "report $r: no LAG column"
done
"$TX" -D "$ROOT/hub" report freshness --json >"$ROOT/fresh.json"
grep -o '{"node":"[0-9a-f]*","name":"抚临社区"[^}]*}' "$ROOT/fresh.json" >"$ROOT/fulin.json" ||
    fail "freshness: no row for 抚临社区: $(cat "$ROOT/fresh.json")"
grep -q '"behind":0' "$ROOT/fulin.json" || fail "freshness: behind: $(cat "$ROOT/fulin.json")"
grep -q '"head":[1-9]' "$ROOT/fulin.json" || fail "freshness: head: $(cat "$ROOT/fulin.json")"
grep -q '"direct":0' "$ROOT/fulin.json" || fail "freshness: direct: $(cat "$ROOT/fulin.json")"
grep -q '"last_contact":"[^"]*(relayed)"' "$ROOT/fulin.json" ||
    fail "freshness: a bundle-fed node's contact not marked relayed: $(cat "$ROOT/fulin.json")"
# --- export: RFC 4180 CSV (CRLF, quotes doubled, fields with , " or newline
# quoted), UTF-8, one JSON object per line in jsonl, -O FILE
"$TX" -D "$ROOT/fulin" records put case c-q title='电梯停运, "3号楼"
二单元' category=facilities >/dev/null
"$TX" -D "$ROOT/fulin" export case -o csv -O "$ROOT/cases.csv" 2>/dev/null
head -1 "$ROOT/cases.csv" | grep -q "$(printf '\r$')" || fail "export csv: lines do not end in CRLF"
grep -q '"电梯停运, ""3号楼""' "$ROOT/cases.csv" || fail "export csv: quoting: $(cat "$ROOT/cases.csv")"
grep -q '^二单元"' "$ROOT/cases.csv" || fail "export csv: the embedded newline is not inside quotes"
"$TX" -D "$ROOT/fulin" export case -o jsonl >"$ROOT/cases.jsonl"
n=$(wc -l <"$ROOT/cases.jsonl")
[ "$n" = 3 ] || fail "export jsonl: $n lines for 3 cases"
grep -c '^{.*}$' "$ROOT/cases.jsonl" | grep -qx 3 || fail "export jsonl: not one object per line"
"$TX" -D "$ROOT/fulin" export case -o json | head -c 1 | grep -q '\[' || fail "export json: not an array"
expect_exit 2 "$TX" -D "$ROOT/fulin" export nosuchtype
echo "reports: ok"
