#!/bin/sh
# wg.sh: throughput through a cage's WireGuard tunnel (link wireguard, wireguard-go) beside
# the same wireguard-go tunnel between the same two namespaces without sluice. The peer is a
# netns made here, joined by a veth; nothing leaves this machine. MB/s, medians of RUNS.
. bench/lib.sh
RUNS=${RUNS:-5}
BYTES=${WG_BYTES:-536870912}
P=sluice-bench-wg-$$
T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
cleanup() {
	pkill -f "wireguard-go wgbp$$" 2>/dev/null
	pkill -f "wireguard-go wgbc$$" 2>/dev/null
	ip netns pids $P 2>/dev/null | xargs -r kill 2>/dev/null
	sleep 0.2
	ip netns del $P 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
cp "$BIN/tcpblast" "$T/"
umask 077
wg genkey >"$T/p.key"; wg pubkey <"$T/p.key" >"$T/p.pub"
wg genkey >"$T/c.key"; wg pubkey <"$T/c.key" >"$T/c.pub"
umask 022
ip netns add $P
ip -n $P link set lo up
ip link add bw$$ type veth peer name bp$$ netns $P
ip addr add 192.0.2.1/24 dev bw$$ && ip link set bw$$ up
ip -n $P addr add 192.0.2.2/24 dev bp$$ && ip -n $P link set bp$$ up
ip netns exec $P env WG_PROCESS_FOREGROUND=1 wireguard-go wgbp$$ >/dev/null 2>&1 &
sleep 0.5
ip netns exec $P wg set wgbp$$ private-key "$T/p.key" listen-port 51820 \
	peer "$(cat "$T/c.pub")" allowed-ips 10.77.0.2/32
ip -n $P addr add 10.77.0.1/24 dev wgbp$$ && ip -n $P link set wgbp$$ up
ip netns exec $P "$T/tcpblast" sink 9001 0.0.0.0 &
sleep 0.3
cat >"$T/client.conf" <<EOC
[Interface]
PrivateKey = $(cat "$T/c.key")
Address = 10.77.0.2/24
[Peer]
PublicKey = $(cat "$T/p.pub")
Endpoint = 192.0.2.2:51820
AllowedIPs = 10.77.0.0/24
EOC
for i in $(seq "$RUNS"); do
	env WG_PROCESS_FOREGROUND=1 wireguard-go wgbc$$ >/dev/null 2>&1 &
	sleep 0.5
	wg set wgbc$$ private-key "$T/c.key" peer "$(cat "$T/p.pub")" \
		allowed-ips 10.77.0.0/24 endpoint 192.0.2.2:51820
	ip addr add 10.77.0.2/24 dev wgbc$$ && ip link set wgbc$$ up
	"$T/tcpblast" send 10.77.0.1 9001 "$BYTES" | awk '{ print $3 }' >>"$T/plain"
	pkill -f "wireguard-go wgbc$$"
	while ip link show wgbc$$ >/dev/null 2>&1; do sleep 0.05; done
	$SLUICE run --user root --name benchwg --link wireguard --wg-config "$T/client.conf" \
		--allow 10.77.0.1:9001 -- "$T/tcpblast" send 10.77.0.1 9001 "$BYTES" |
		awk '{ print $3 }' >>"$T/cage"
done
plain=$(stats <"$T/plain")
echo "| path | median MB/s | min | max | ratio to plain wireguard-go | command |"
echo "|---|---|---|---|---|---|"
row "wireguard-go tunnel, no sluice" "$plain" "${plain%% *}" "tcpblast send 10.77.0.1 9001 $BYTES"
row "sluice --link wireguard (wireguard-go)" "$(stats <"$T/cage")" "${plain%% *}" \
	"sluice run --link wireguard --wg-config client.conf --allow 10.77.0.1:9001 -- tcpblast send ..."
