#!/bin/sh
# Install every Debian package sluice's build, tests and demo need (with "deb": packaging
# too). Idempotent.
set -e
PKGS="make gcc clang llvm bpftool pkg-config libmnl-dev libnftnl-dev libbpf-dev libcap-dev
libyaml-dev libseccomp-dev libsodium-dev libsystemd-dev libelf-dev zlib1g-dev libcmocka-dev iproute2 nftables tinyproxy curl python3 socat
procps util-linux wireguard-go wireguard-tools tmux git systemd-container"
# `make deb`: packaging too; its test installs the package and reads its man page
[ "${1:-}" = deb ] && PKGS="$PKGS debhelper dpkg-dev fakeroot lintian man-db"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# node: Debian's nodejs, unless one is there already (the tests run it as an ordinary program)
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing
fi
echo "deps: all installed"
