#!/bin/sh
# Build the man pages from their scdoc sources: man/*.scd -> BUILD_DIR/man/.
#
#   scripts/man.sh [BUILD_DIR]        (default: build)
#
# Installs scdoc first if it is missing (scripts/install-deps.sh scdoc).
# Install the results with, for example:
#   install -Dm644 build/man/tongxin.1 /usr/share/man/man1/tongxin.1
#   install -Dm644 build/man/tongxind.8 /usr/share/man/man8/tongxind.8
#   install -Dm644 build/man/tongxin.conf.5 /usr/share/man/man5/tongxin.conf.5
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac

if ! command -v scdoc >/dev/null 2>&1; then
    "$SRC/scripts/install-deps.sh" scdoc
fi
command -v scdoc >/dev/null 2>&1 || { echo "man: scdoc is not available" >&2; exit 1; }

mkdir -p "$BUILD/man"
n=0
for src in "$SRC"/man/*.scd; do
    page=$(basename "$src" .scd)
    if ! scdoc <"$src" >"$BUILD/man/$page.tmp"; then
        rm -f "$BUILD/man/$page.tmp"
        echo "man: scdoc failed on man/$page.scd" >&2
        exit 1
    fi
    mv "$BUILD/man/$page.tmp" "$BUILD/man/$page"
    n=$((n + 1))
done
echo "man: $n pages in $BUILD/man"
