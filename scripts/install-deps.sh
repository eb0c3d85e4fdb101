#!/bin/sh
# Install what the build needs on Debian 12, and nothing that is already there:
# a package is installed only when pkg-config (or the command) cannot find it.
set -eu

missing=""
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }

need_cmd cc gcc
# gcc only recommends the C library headers; --no-install-recommends skips them
[ -f /usr/include/stdio.h ] || missing="$missing libc6-dev"
need_cmd make make
# scdoc renders the man pages, which the suite checks (tests/scripts/man_pages.sh)
need_cmd scdoc scdoc
need_cmd cmake cmake
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc libsodium libsodium-dev
    need_pc msgpack libmsgpack-dev
    need_pc lmdb liblmdb-dev
    need_pc libuv libuv1-dev
    need_pc jansson libjansson-dev
    need_pc inih libinih-dev
    need_pc cmocka libcmocka-dev
else
    missing="$missing libsodium-dev libmsgpack-dev liblmdb-dev libuv1-dev libjansson-dev libinih-dev libcmocka-dev"
fi
for extra in "$@"; do
    case "$extra" in
    clang) need_cmd clang "clang libclang-rt-14-dev" ;;
    scdoc) need_cmd scdoc scdoc ;;
    esac
done

[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
