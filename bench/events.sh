#!/bin/sh
# events.sh: what the denial events cost the eBPF hooks (bpf/sock.bpf.c sends each refusal to
# the cage's ring buffer, at most 64 a second per CPU, and counts the rest): bench/hooks.sh's
# in-cgroup column with this build, and with the last build without events (EVENTS_BASE,
# default c496f5b), built in a scratch git worktree. Medians of RUNS runs, ns per call.
. bench/lib.sh
BASE=${EVENTS_BASE:-c496f5b}
if ! git rev-parse --verify -q "$BASE^{commit}" >/dev/null; then
	echo "(no git history here: the build without events, $BASE, cannot be made)"
	exit 0
fi
W=$(mktemp -d /var/tmp/sluice-bench-base.XXXXXX)
R=$(mktemp -d /var/tmp/sluice-bench-ev.XXXXXX)
trap 'git worktree remove --force "$W" >/dev/null 2>&1; rm -rf "$W" "$R"' EXIT
rmdir "$W"
git worktree add -q --detach "$W" "$BASE" && make -C "$W" -s sluice >/dev/null 2>&1 ||
	{ echo "events.sh: could not build $BASE" >&2; exit 1; }
SLUICE="$W/sluice" sh bench/hooks.sh >"$R/base" 2>/dev/null
sh bench/hooks.sh >"$R/this" 2>/dev/null
echo "| call | hooks without events, $BASE (ns) | hooks with events, this build (ns) | the events' cost (ns) |"
echo "|---|---|---|---|"
for k in connect-loopback connect-refused sendto-loopback sendto-refused; do
	b=$(awk -F'|' -v k=" $k " '$2 == k { print $5 }' "$R/base")
	t=$(awk -F'|' -v k=" $k " '$2 == k { print $5 }' "$R/this")
	awk -v k="$k" -v b="$b" -v t="$t" 'BEGIN { printf "| %s | %.0f | %.0f | %+.0f |\n", k, b, t, t - b }'
done
