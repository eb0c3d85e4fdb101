#!/bin/sh
# The bash completions in contrib/bash-completion: source them in bash,
# simulate COMP_WORDS/COMP_CWORD for typical command lines and compare
# COMPREPLY with what must be offered. Skipped when bash is not installed.
set -u
cd "${TX_SRC:-.}" || exit 1
if ! command -v bash >/dev/null 2>&1; then
    echo "completion: bash not installed, skipped"
    exit 0
fi
for f in contrib/bash-completion/tongxin contrib/bash-completion/tongxind; do
    [ -f "$f" ] || { echo "completion: $f does not exist"; exit 1; }
done

exec bash -c '
set -u
. contrib/bash-completion/tongxin || exit 1
. contrib/bash-completion/tongxind || exit 1
fail=0 n=0
# check FUNCTION "EXPECTED WORDS" WORD... : the last WORD is the one being
# completed (possibly empty); COMPREPLY must hold exactly EXPECTED (any order).
check() {
    local fn=$1 want=$2 got
    shift 2
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    "$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
    got=$(printf "%s\n" "${COMPREPLY[@]}" | sed "/^\$/d" | sort | tr "\n" " ")
    want=$(printf "%s\n" $want | sed "/^\$/d" | sort | tr "\n" " ")
    n=$((n + 1))
    if [ "$got" != "$want" ]; then
        echo "completion: \"$*\": expected [$want] got [$got]"
        fail=1
    fi
}
types="community org estate building unit household role visit case meeting election ballot result inspection campaign pairing"
check _tongxin "records" tongxin rec
check _tongxin "put get list history" tongxin records ""
check _tongxin "coverage cases visits rosters elections freshness" tongxin report ""
check _tongxin "cases coverage" tongxin report c
check _tongxin "status sync schema" tongxin -D /tmp s
check _tongxin "records report revoke" tongxin -D/tmp re
check _tongxin "-D -h --help --version" tongxin -
check _tongxin "$types" tongxin records put ""
check _tongxin "case campaign" tongxin records get ca
check _tongxin "" tongxin records put case ""
check _tongxin "--scope" tongxin records put case c-1 title=x --sc
check _tongxin "$types" tongxin export ""
check _tongxin "$types" tongxin schema ""
check _tongxin "table json csv" tongxin report cases -o ""
check _tongxin "json jsonl csv" tongxin export case -o ""
check _tongxin "office hub relay" tongxin init --community xidajie --role ""
check _tongxin "office hub relay" tongxin init --role = ""
check _tongxin "hub" tongxin cert issue --role h
check _tongxin "issue install" tongxin cert ""
check _tongxin "add remove list" tongxin peers ""
check _tongxin "now" tongxin sync ""
check _tongxin "load" tongxin demo ""
check _tongxin "xidajie fulin bojin gongyuan" tongxin demo load --community ""
check _tongxin "--district --after-seq --reason --help" tongxin revoke --
check _tongxin "--json" tongxin status --j
check _tongxin "--log" tongxin digest --l
check _tongxind "error warn info debug" tongxind --log-level ""
check _tongxind "--listen --log-level" tongxind -D /var/lib/tongxin --l
check _tongxind "-D --listen --peer --config --log-level -h --help --version" tongxind ""
# directories for -D: a fresh directory tree
tmp=$(mktemp -d) || exit 1
mkdir "$tmp/datadir" && : >"$tmp/datafile"
check _tongxin "$tmp/datadir" tongxin -D "$tmp/data"
check _tongxind "$tmp/datadir" tongxind -D "$tmp/data"
rm -rf "$tmp"
[ $fail = 0 ] && echo "completion: $n cases complete as expected"
exit $fail
'
