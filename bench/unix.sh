#!/bin/sh
# unix.sh: what the cage's seccomp filter and the unix broker cost per call. bench/unixcost.c
# times a syscall the filter lets through (getpid), connects and sends to unix sockets of its
# own in /tmp (handed to the supervisor, judged by the socket reached, performed there), a send
# on a connected unix socket (not handed over), and a TCP connect and an addressed UDP send to
# loopback (handed over: as root the kernel carries on with them, rootless the supervisor
# performs them). It runs outside any cage and in cages as root and as nobody; the difference
# is the mechanism's. Medians of RUNS runs, ns per call.
. bench/lib.sh
RUNS=${RUNS:-7}
T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
cp "$BIN/unixcost" "$T/"
cp "$SLUICE" "$T/sluice"
chmod 755 "$T/unixcost" "$T/sluice"
for i in $(seq "$RUNS"); do
	"$T/unixcost" >>"$T/out"
	$SLUICE run --user root --name benchunix -- "$T/unixcost" >>"$T/root"
	$SLUICE run --user root --name benchunix --seccomp off -- "$T/unixcost" >>"$T/off"
	runuser -u nobody -- "$T/sluice" run --name benchunix -- "$T/unixcost" >>"$T/nobody"
done
echo "| call | outside a cage (ns) | cage, root (ns) | cost, root (ns) | cage, root, seccomp off (ns) | cage, rootless (ns) | cost, rootless (ns) |"
echo "|---|---|---|---|---|---|---|"
for k in getpid unix-connect unix-sendto unix-send-connected tcp-connect udp-sendto; do
	o=$(awk -v k=$k '$1 == k { print $2 }' "$T/out" | stats)
	r=$(awk -v k=$k '$1 == k { print $2 }' "$T/root" | stats)
	f=$(awk -v k=$k '$1 == k { print $2 }' "$T/off" | stats)
	n=$(awk -v k=$k '$1 == k { print $2 }' "$T/nobody" | stats)
	awk -v k=$k -v o="${o%% *}" -v r="${r%% *}" -v f="${f%% *}" -v n="${n%% *}" \
		'BEGIN { printf "| %s | %.0f | %.0f | %+.0f | %.0f | %.0f | %+.0f |\n", k, o, r, r - o, f, n, n - o }'
done
echo
echo "unix-connect and tcp-connect are a connect of a fresh socket, less making and closing it;"
echo "unix-sendto and udp-sendto are a one-byte send with an address and its receipt."
echo "The cage's nftables and eBPF hooks are in these numbers too (bench/hooks.sh: under 0.1 us)."
