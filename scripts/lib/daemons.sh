# shellcheck shell=sh
# daemons.sh - shell helpers for scripts that run tongxind processes under one
# scratch folder: scripts/demo.sh and tests/scripts/*.sh source it. They set
# TX (the tongxin binary), ROOT (the folder holding one data directory per node
# and its NAME.log) and PIDS (the daemons started) first.

# fail MESSAGE: say it with the tail of every log, and exit 1.
fail() {
    echo "${0##*/}: $*" >&2
    for f in "$ROOT"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -15 "$f" >&2; }; done
    exit 1
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll COMMAND until it succeeds.
wait_for() {
    what=$1; limit=$2; shift 2
    end=$(( $(date +%s) + limit ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || fail "timed out waiting for $what"
        sleep 0.1
    done
}

# stop_all: end every daemon in PIDS and wait for it.
stop_all() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
}

# online NODE: its daemon answers on the control socket.
online() { "$TX" -D "$ROOT/$1" status --json 2>/dev/null | grep -q '"online":true'; }

# port_of NODE: the port the kernel gave a daemon started with --listen
# 127.0.0.1:0 (scripts never pick ports: parallel tests cannot collide).
port_of() { "$TX" -D "$ROOT/$1" status --json | sed -n 's/.*"listen":"[^"]*(port \([0-9]*\)).*/\1/p'; }
