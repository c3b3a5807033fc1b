#!/bin/sh
# The install layout: `cmake --install` into a fresh prefix puts the binaries, man pages, sample
# configuration and systemd unit where the README says, with the unit's paths filled in for that
# prefix. Checks the unit with systemd-analyze and the man pages with groff when installed.
# Usage: install.sh BUILD_DIR
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail=0
bad() { echo "install: $*"; fail=1; }

cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 || { cat "$prefix.log"; bad "cmake --install failed"; }
rm -f "$prefix.log"
for f in bin/core-rd bin/rdctl etc/core-rd/core-rd.conf share/man/man8/core-rd.8 \
    share/man/man1/rdctl.1 lib/systemd/system/core-rd.service; do
    [ -f "$prefix/$f" ] || bad "missing $f"
done
[ -x "$prefix/bin/core-rd" ] && [ -x "$prefix/bin/rdctl" ] || bad "binaries not executable"
"$prefix/bin/core-rd" --version | grep -q '^core-rd ' || bad "installed core-rd does not run"
"$prefix/bin/rdctl" --help | grep -q '^Usage: rdctl' || bad "installed rdctl does not run"
unit="$prefix/lib/systemd/system/core-rd.service"
grep -qx "ExecStart=$prefix/bin/core-rd --config $prefix/etc/core-rd/core-rd.conf --data-dir /var/lib/core-rd/data" "$unit" ||
    bad "unit ExecStart does not name the installed files"
for d in DynamicUser=yes StateDirectory=core-rd ProtectSystem=strict NoNewPrivileges=yes \
    PrivateTmp=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    'ExecReload=/bin/kill -HUP $MAINPID' CapabilityBoundingSet=; do
    grep -qxF "$d" "$unit" || bad "unit lacks $d"
done
grep -q '@RD_' "$unit" && bad "unit has unreplaced @VARIABLES@"
if command -v systemd-analyze >/dev/null 2>&1; then
    systemd-analyze verify --man=no "$unit" || bad "systemd-analyze verify failed"
else
    echo "install: systemd-analyze not installed, unit syntax not verified"
fi
if command -v groff >/dev/null 2>&1; then
    for m in share/man/man8/core-rd.8 share/man/man1/rdctl.1; do
        out=$(groff -man -Tutf8 -ww -z "$prefix/$m" 2>&1)
        [ -z "$out" ] || bad "groff warns about $m: $out"
    done
fi
[ "$fail" = 0 ] && echo "install: ok"
exit $fail
