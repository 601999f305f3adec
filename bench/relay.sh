#!/bin/sh
# relay.sh: throughput of one large TCP transfer through a sluice forward (the relay),
# beside plain loopback and socat (128 KiB buffers) between the same two endpoints.
# Prints a markdown table (MB/s: median, min, max of RUNS runs; ratio to loopback).
# Run inside a private netns (bench/run.sh does): it uses 127.0.0.1 only.
. bench/lib.sh
BYTES=${BYTES:-2147483648}
RUNS=${RUNS:-5}
T=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
cp "$BIN/tcpblast" "$T/"
trap 'kill $SINK $SOCAT 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

"$T/tcpblast" sink 9001 &
SINK=$!
socat -b 131072 TCP-LISTEN:9002,bind=127.0.0.1,reuseaddr,fork TCP:127.0.0.1:9001,rcvbuf=131072,sndbuf=131072 &
SOCAT=$!
sleep 0.3

for i in $(seq "$RUNS"); do
	"$T/tcpblast" send 127.0.0.1 9001 "$BYTES" | awk '{ print $3 }' >>"$T/loopback"
	$SLUICE run --user root --name benchrelay --forward 9000=127.0.0.1:9001 -- \
		"$T/tcpblast" send 127.0.0.1 9000 "$BYTES" | awk '{ print $3 }' >>"$T/relay"
	runuser -u nobody -- $SLUICE run --name benchrelay2 --forward 9000=127.0.0.1:9001 -- \
		"$T/tcpblast" send 127.0.0.1 9000 "$BYTES" | awk '{ print $3 }' >>"$T/relay-rootless"
	"$T/tcpblast" send 127.0.0.1 9002 "$BYTES" | awk '{ print $3 }' >>"$T/socat"
done

ref=$(stats <"$T/loopback")
echo "| path | median MB/s | min | max | ratio to loopback | command |"
echo "|---|---|---|---|---|---|"
row "loopback, no sluice" "$ref" "${ref%% *}" "tcpblast send 127.0.0.1 9001 $BYTES"
row "sluice forward (root)" "$(stats <"$T/relay")" "${ref%% *}" \
	"sluice run --forward 9000=127.0.0.1:9001 -- tcpblast send 127.0.0.1 9000 $BYTES"
row "sluice forward (rootless)" "$(stats <"$T/relay-rootless")" "${ref%% *}" \
	"runuser -u nobody -- sluice run --forward 9000=127.0.0.1:9001 -- tcpblast send ..."
row "socat, 128 KiB buffers" "$(stats <"$T/socat")" "${ref%% *}" \
	"socat -b 131072 TCP-LISTEN:9002 TCP:127.0.0.1:9001; tcpblast send 127.0.0.1 9002 $BYTES"
relay=$(stats <"$T/relay")
socat=$(stats <"$T/socat")
awk -v a="${relay%% *}" -v b="${socat%% *}" \
	'BEGIN { printf "\nrelay / socat (medians): %.2f\n", a / b }'
