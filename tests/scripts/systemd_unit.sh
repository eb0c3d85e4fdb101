#!/bin/sh
# contrib/systemd: the unit has what tongxind needs (Type=notify, reload by
# SIGHUP, the state directory, no restart on configuration errors), and, when
# systemd-analyze is installed, `systemd-analyze verify` accepts it. The unit's
# ExecStart names /usr/bin/tongxind, which a test machine may not have: a copy
# pointing at the built binary ($TONGXIND_BIN) is verified instead.
set -u
cd "${TX_SRC:-.}" || exit 1
unit=contrib/systemd/tongxind.service
fail=0
missing() { echo "systemd_unit: $1"; fail=1; }

for f in "$unit" contrib/systemd/tongxin.sysusers contrib/systemd/tongxin.tmpfiles; do
    [ -f "$f" ] || { echo "systemd_unit: $f does not exist"; exit 1; }
done
# shellcheck disable=SC2016
for line in 'Type=notify' 'NotifyAccess=main' 'ExecStart=/usr/bin/tongxind -D /var/lib/tongxin' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'User=tongxin' 'StateDirectory=tongxin' \
    'StateDirectoryMode=0700' 'Restart=on-failure' 'NoNewPrivileges=yes' \
    'ProtectSystem=strict' 'ReadWritePaths=/var/lib/tongxin' \
    'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX'; do
    grep -qxF "$line" "$unit" || missing "$unit lacks the line '$line'"
done
grep -q '^TimeoutStopSec=' "$unit" || missing "$unit has no TimeoutStopSec"
for code in 2 3; do
    grep '^RestartPreventExitStatus=' "$unit" | tr ' =' '[\n*]' | grep -qx "$code" ||
        missing "$unit restarts on exit $code (a configuration error)"
done
grep -q '^u tongxin ' contrib/systemd/tongxin.sysusers || missing "tongxin.sysusers defines no user tongxin"
grep -q '^d /var/lib/tongxin 0700 tongxin tongxin' contrib/systemd/tongxin.tmpfiles ||
    missing "tongxin.tmpfiles does not create /var/lib/tongxin 0700"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    [ $fail = 0 ] && echo "systemd_unit: required keys present (systemd-analyze not installed, not verified)"
    exit $fail
fi
mkdir -p "${TX_TEST_TMP:-/tmp}"
tmp=$(mktemp -d "${TX_TEST_TMP:-/tmp}/systemdunit.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
bin=${TONGXIND_BIN:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    # no built daemon: any executable stands in for the path check
    bin=$(command -v true)
fi
sed "s#^ExecStart=/usr/bin/tongxind #ExecStart=$bin #" "$unit" >"$tmp/tongxind.service"
# verify reports problems on stderr and may still exit 0: both count.
if ! systemd-analyze verify --man=no "$tmp/tongxind.service" >"$tmp/out" 2>&1; then
    missing "systemd-analyze verify failed: $(cat "$tmp/out")"
elif grep -q 'tongxind.service' "$tmp/out"; then
    missing "systemd-analyze verify: $(grep 'tongxind.service' "$tmp/out")"
fi
[ $fail = 0 ] && echo "systemd_unit: $unit verified by systemd-analyze"
exit $fail
