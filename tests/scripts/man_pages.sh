#!/bin/sh
# The man pages in man/*.scd: every tongxin command, every tongxind option and
# every configuration key read by cli/tongxind.c is documented, and, when scdoc
# is installed, every page renders without an scdoc error.
set -u
cd "${TX_SRC:-.}" || exit 1
fail=0
missing() { echo "man_pages: $1"; fail=1; }

for f in man/tongxin.1.scd man/tongxind.8.scd man/tongxin.conf.5.scd; do
    [ -f "$f" ] || { echo "man_pages: $f does not exist"; exit 1; }
done

# Commands of the tongxin command table: an entry "*NAME..." in tongxin(1).
cmds=$(grep -o '{"[a-z][a-z]*", cmd_' cli/tongxin.c | sed 's/{"\([a-z]*\)".*/\1/')
[ -n "$cmds" ] || missing "no commands found in cli/tongxin.c"
for c in $cmds; do
    grep -q "^\*${c}[* ]" man/tongxin.1.scd || missing "tongxin.1: command '$c' is not documented"
done
# tongxind's options: "*OPT*" in tongxind(8).
opts=$(grep -o 'strcmp(a, "-[-a-zA-Z]*")' cli/tongxind.c | sed 's/.*"\(.*\)")/\1/')
[ -n "$opts" ] || missing "no options found in cli/tongxind.c"
for o in $opts; do
    grep -q -- "\*$o\*" man/tongxind.8.scd || missing "tongxind.8: option '$o' is not documented"
done
# Configuration sections and keys: "## [SECTION]" and "*KEY* =" in tongxin.conf(5).
# shellcheck disable=SC2013
for s in $(grep -o 'strcmp(section, "[a-z_]*")' cli/tongxind.c | sed 's/.*"\(.*\)")/\1/'); do
    grep -q "^## \[$s\]" man/tongxin.conf.5.scd || missing "tongxin.conf.5: section [$s] is not documented"
done
# shellcheck disable=SC2013
for k in $(grep -o 'strcmp(name, "[a-z_]*")' cli/tongxind.c | sed 's/.*"\(.*\)")/\1/'); do
    grep -q "^\*$k\* =" man/tongxin.conf.5.scd || missing "tongxin.conf.5: key '$k' is not documented"
done
# Exit codes 0-6 and the environment of tongxin(1).
for e in 0 1 2 3 4 5 6; do
    grep -q "^\*$e\*\$" man/tongxin.1.scd || missing "tongxin.1: exit status $e is not documented"
done
for v in TONGXIN_DIR XDG_DATA_HOME NO_COLOR; do
    grep -q "^\*$v\*" man/tongxin.1.scd || missing "tongxin.1: environment variable $v is not documented"
done

if ! command -v scdoc >/dev/null 2>&1; then
    [ $fail = 0 ] && echo "man_pages: scdoc not installed, skipped"
    exit $fail
fi
mkdir -p "${TX_TEST_TMP:-/tmp}"
tmp=$(mktemp -d "${TX_TEST_TMP:-/tmp}/manpages.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
for src in man/*.scd; do
    page=$(basename "$src" .scd)
    if ! scdoc <"$src" >"$tmp/$page" 2>"$tmp/$page.err" || [ -s "$tmp/$page.err" ]; then
        missing "scdoc failed on $src: $(cat "$tmp/$page.err")"
    elif [ ! -s "$tmp/$page" ]; then
        missing "scdoc produced nothing for $src"
    fi
done
[ $fail = 0 ] && echo "man_pages: every page renders; commands, options and keys are documented"
exit $fail
