#!/bin/sh
# hooks.sh: what the cage's eBPF hooks cost per call. bench/hookcost.c times connect() of a
# UDP socket (no packet is sent: only the connect4 hook and the kernel's own checks run) and
# sendto() (sendmsg4, plus the cage's nftables for the loopback packet) in a cage with all
# layers, and the same outside any cage. Medians of RUNS runs, ns per call.
. bench/lib.sh
RUNS=${RUNS:-7}
T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
cp "$BIN/hookcost" "$T/"
for i in $(seq "$RUNS"); do
	"$T/hookcost" >>"$T/out"
	$SLUICE run --user root --name benchhooks -- "$T/hookcost" >>"$T/in"
done
echo "| call | outside a cage (ns) | in a cage with hooks (ns) | difference (ns) |"
echo "|---|---|---|---|"
for k in connect-loopback connect-refused sendto-loopback sendto-refused; do
	o=$(awk -v k=$k '$1 == k { print $2 }' "$T/out" | stats)
	c=$(awk -v k=$k '$1 == k { print $2 }' "$T/in" | stats)
	awk -v k=$k -v o="${o%% *}" -v c="${c%% *}" \
		'BEGIN { printf "| %s | %.0f | %.0f | %+.0f |\n", k, o, c, c - o }'
done
echo
echo "connect-refused outside is ENETUNREACH (no route), inside EPERM from the hook;"
echo "sendto-loopback inside also passes the cage's nftables output chain."
