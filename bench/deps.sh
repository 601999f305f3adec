#!/bin/sh
# deps.sh: the peers sluice is measured beside (Debian packages), and Anthropic's
# sandbox-runtime from npm into /opt/sluice-bench. Idempotent; a peer that cannot be
# installed is left out of the tables with a note.
PKGS="hyperfine bubblewrap firejail passt slirp4netns ripgrep socat"
# npm from Debian, unless the machine has a node and npm of its own already
command -v npm >/dev/null || PKGS="$PKGS nodejs npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		echo "bench: could not install$missing" >&2
fi
if [ ! -x /opt/sluice-bench/node_modules/.bin/srt ] && command -v npm >/dev/null; then
	mkdir -p /opt/sluice-bench
	(cd /opt/sluice-bench && npm install --silent --no-audit --no-fund \
		@anthropic-ai/sandbox-runtime >/dev/null 2>&1) ||
		echo "bench: could not install @anthropic-ai/sandbox-runtime" >&2
fi
true
