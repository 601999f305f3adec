#!/bin/sh
# deb.sh: the Debian package, as a user meets it. As root, from anywhere:
#
#   sh tests/package/deb.sh
#
# Builds it (make deb: dpkg-buildpackage, lintian's errors fatal), installs it with dpkg -i,
# checks that sluice --version, man sluice and man sluice.yaml work, that the profiles are
# conffiles in /etc/sluice and the units are in place, then removes and purges it and checks
# nothing of it is left. Refuses to run where a sluice package is installed already.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VERSION=$(cat "$ROOT/VERSION")
fail() { echo "FAIL deb: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' sluice 2>/dev/null | grep -q installed; then
	fail "a sluice package is installed here already: left alone"
fi
make -C "$ROOT" deb >/tmp/sluice-deb.log 2>&1 || fail "make deb: $(tail -20 /tmp/sluice-deb.log)"
DEB=$ROOT/build/sluice_${VERSION}_amd64.deb
[ -f "$DEB" ] || fail "no $DEB"
trap 'dpkg --purge sluice >/dev/null 2>&1 || true' EXIT

dpkg -i "$DEB" >/dev/null || fail "dpkg -i"
[ "$(command -v sluice)" = /usr/bin/sluice ] || fail "sluice is not /usr/bin/sluice"
[ "$(cd / && sluice --version)" = "sluice $VERSION" ] || fail "sluice --version: $(sluice --version)"
man -w sluice >/dev/null 2>&1 || fail "man sluice finds no page"
man -w sluice.yaml >/dev/null 2>&1 || fail "man sluice.yaml finds no page"
MANPAGER=cat man sluice 2>/dev/null | grep -q "SYSTEMD" || fail "man sluice does not show the page"
for p in agent offline tor actor-wg registrar-wg; do
	[ -f /etc/sluice/$p.yaml ] || fail "no /etc/sluice/$p.yaml"
	dpkg-query -W -f='${Conffiles}\n' sluice | grep -q " /etc/sluice/$p.yaml " ||
		fail "/etc/sluice/$p.yaml is not a conffile"
done
for u in sluice@.service sluice@.socket; do
	f=/lib/systemd/system/$u
	[ -f $f ] || f=/usr/lib/systemd/system/$u
	[ -f $f ] || fail "no unit $u"
	grep -q "/usr/bin/sluice" $f || [ $u = sluice@.socket ] || fail "$u does not run /usr/bin/sluice"
done
[ -f /usr/share/bash-completion/completions/sluice ] || fail "no bash completion"
[ -f /usr/share/zsh/vendor-completions/_sluice ] || fail "no zsh completion"
(cd / && sluice check --profile agent -- /bin/true >/dev/null) || fail "the installed sluice cannot read its profile"

dpkg -r sluice >/dev/null || fail "dpkg -r"
[ -z "$(command -v sluice)" ] || fail "sluice is still there after dpkg -r"
dpkg --purge sluice >/dev/null || fail "dpkg --purge"
[ ! -e /etc/sluice ] || fail "/etc/sluice is left after purge: $(ls /etc/sluice)"
trap - EXIT
echo "ok deb ($DEB)"
