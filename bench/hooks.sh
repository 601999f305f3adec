#!/bin/sh
# hooks.sh: what the cage's eBPF hooks cost per call. bench/hookcost.c times connect() of a
# UDP socket (no packet is sent: only the connect4 hook and the kernel's own checks run) and
# sendto() (sendmsg4, plus the cage's nftables for the loopback packet). It runs outside any
# cage; in a cage's netns from a process outside the cage's cgroup (the cage's nftables, no
# hooks); in that netns and the cage's cgroup (nftables and hooks: the two differ by the
# hooks alone); and in a cage of its own, under the cage's seccomp filter, whose connects
# and sends go to the unix broker first. Medians of RUNS runs, ns per call.
. bench/lib.sh
RUNS=${RUNS:-7}
T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
HELD=
trap 'kill $HELD 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
cp "$BIN/hookcost" "$T/"
CG=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
	    if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo)
# a cage kept alive for its netns
$SLUICE run --user root --name benchhooksnet -- sleep 3600 &
HELD=$!
n=0
until pid=$(head -n 1 "$CG/sluice/benchhooksnet/cgroup.procs" 2>/dev/null) && [ -n "$pid" ]; do
	n=$((n + 1))
	[ $n -lt 100 ] || { echo "hooks.sh: the cage did not come up" >&2; exit 1; }
	sleep 0.05
done
for i in $(seq "$RUNS"); do
	"$T/hookcost" >>"$T/out"
	nsenter --net="/proc/$pid/ns/net" "$T/hookcost" >>"$T/net"
	sh -c 'echo $$ >"$1" && exec nsenter --net="$2" "$3"' - \
		"$CG/sluice/benchhooksnet/cgroup.procs" "/proc/$pid/ns/net" "$T/hookcost" >>"$T/cg"
	$SLUICE run --user root --name benchhooks -- "$T/hookcost" >>"$T/in"
done
echo "| call | outside a cage (ns) | a cage's netns, no hooks (ns) | its netns and cgroup, with hooks (ns) | the hooks' cost (ns) | in a cage, with its filter (ns) | the filter and broker's cost (ns) |"
echo "|---|---|---|---|---|---|---|"
for k in connect-loopback connect-refused sendto-loopback sendto-refused; do
	o=$(awk -v k=$k '$1 == k { print $2 }' "$T/out" | stats)
	m=$(awk -v k=$k '$1 == k { print $2 }' "$T/net" | stats)
	g=$(awk -v k=$k '$1 == k { print $2 }' "$T/cg" | stats)
	c=$(awk -v k=$k '$1 == k { print $2 }' "$T/in" | stats)
	awk -v k=$k -v o="${o%% *}" -v m="${m%% *}" -v g="${g%% *}" -v c="${c%% *}" \
		'BEGIN { printf "| %s | %.0f | %.0f | %.0f | %+.0f | %.0f | %+.0f |\n", k, o, m, g,
			 g - m, c, c - g }'
done
echo
echo "connect-refused outside is ENETUNREACH (no route), in the cage's netns too, and in the"
echo "cage EPERM from the hook; sendto-loopback in the cage's netns passes its nftables."
echo "The last two columns: the same calls in a cage of its own, whose filter hands every connect"
echo "and addressed send to the unix broker; for an IP destination it lets the kernel go on (as"
echo "root), so what it costs is the notification's round trip through the supervisor."
