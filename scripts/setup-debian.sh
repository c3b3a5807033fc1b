#!/bin/sh
# Installs what core-rd needs to build, run and test on Debian bookworm (run as root).
# Does nothing when everything is already there.
set -eu
pkgs="build-essential cmake pkg-config libcoap3-dev libcoap3-bin liblmdb-dev libssl-dev
libcmocka-dev clang libclang-rt-14-dev iproute2 openssl
libjansson-dev libmicrohttpd-dev chromium nodejs npm python3-jsonschema python3-yaml
libcurl4-openssl-dev curl etcd-server etcd-client"
missing=""
for p in $pkgs; do
    # node and npm from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's)
    # serve the interop tests as well.
    case $p in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $missing
fi
