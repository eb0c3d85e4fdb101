#!/bin/sh
# The layering crdt <- net <- node <- cli: each folder includes only what is
# below it, and crdt/ does no I/O. (CMake include paths enforce most of this;
# this catches system headers and relative includes too.)
set -u
cd "${TX_SRC:-.}"
fail=0
bad() { echo "layering: $1"; fail=1; }

for f in crdt/*.c crdt/*.h; do
    grep -nE '#include *[<"](uv|lmdb|net|node|cli|out|sys/socket|netinet/[a-z]+|unistd|fcntl|stdio_ext)\.h[>"]' "$f" \
        && bad "$f: crdt/ must not include I/O, libuv, LMDB or upper layers"
    grep -nE '\b(fopen|open|read|write|socket|connect|printf|fprintf|puts)\(' "$f" | grep -vE '^\s*[0-9]+:\s*(/\*|\*)' \
        | grep -vE 'snprintf|vsnprintf' && bad "$f: crdt/ does I/O"
done
for f in net/*.c net/*.h; do
    [ -e "$f" ] || continue
    grep -nE '#include *[<"](lmdb|node|cli|out)\.h[>"]' "$f" && bad "$f: net/ must not include node/ or cli/"
done
for f in node/*.c node/*.h; do
    grep -nE '#include *[<"](cli|out)\.h[>"]' "$f" && bad "$f: node/ must not include cli/"
done
[ $fail = 0 ] && echo "layering: crdt <- net <- node <- cli holds"
exit $fail
