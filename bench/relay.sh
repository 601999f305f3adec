#!/bin/sh
# relay.sh: throughput of one large TCP transfer through a sluice forward (the relay), as root
# and rootless, beside plain loopback and socat (128 KiB buffers) between the same endpoints.
# The endpoints are tcpblast (bench/tcpblast.c, C speed, so that they are not what is measured).
# Prints a markdown table: MB/s, median, min and max of RUNS runs, ratio to loopback.
# Standalone: run as root from anywhere, `sh bench/relay.sh`; it makes a private network
# namespace with loopback only (no packet leaves this machine) unless bench/run.sh already did.
#   BYTES (default 2 GiB), RUNS (default 5), SLUICE (default ./sluice), BIN (build/bench)
cd "$(dirname "$0")/.." || exit 1
[ "$(id -u)" = 0 ] || { echo "relay.sh: run as root" >&2; exit 1; }
if [ -z "$SLUICE_BENCH_INSIDE" ]; then
	export SLUICE_BENCH_INSIDE=1
	exec unshare -n sh -c 'ip link set lo up && exec sh bench/relay.sh'
fi
# not one packet off this machine: the namespace must hold lo and nothing else
if ip -o link show | grep -v ': lo:' | grep -q .; then
	echo "relay.sh: this network namespace has links other than lo; refusing" >&2
	exit 1
fi

. bench/lib.sh
BYTES=${BYTES:-2147483648}
RUNS=${RUNS:-5}
[ -x "$BIN/tcpblast" ] || make -s "$BIN/tcpblast" >&2 || { echo "relay.sh: no $BIN/tcpblast" >&2; exit 1; }
[ -x "$SLUICE" ] || { echo "relay.sh: no sluice at $SLUICE (make)" >&2; exit 1; }
"$SLUICE" run --help 2>&1 | grep -q -- '--forward' || { echo "relay.sh: $SLUICE has no --forward" >&2; exit 1; }
command -v socat >/dev/null || { echo "relay.sh: socat is missing (apt-get install socat)" >&2; exit 1; }

T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"			# the rootless run is user nobody's
cp "$BIN/tcpblast" "$SLUICE" "$T/"
SL=$T/$(basename "$SLUICE")
SINK=
SOCAT=
trap 'kill $SINK $SOCAT 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
trap 'exit 130' INT TERM HUP

"$T/tcpblast" sink 9001 &
SINK=$!
socat -b 131072 TCP-LISTEN:9002,bind=127.0.0.1,reuseaddr,fork \
	TCP:127.0.0.1:9001,rcvbuf=131072,sndbuf=131072 &
SOCAT=$!
n=0
until "$T/tcpblast" send 127.0.0.1 9001 1 >/dev/null 2>&1 &&
	"$T/tcpblast" send 127.0.0.1 9002 1 >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -lt 50 ] || { echo "relay.sh: the sink or socat did not come up" >&2; exit 1; }
	sleep 0.1
done

# sample FILE CMD...: one transfer; its MB/s goes to FILE, a failure to stderr (and FAILED).
FAILED=0
sample() {
	f=$1
	shift
	got=$("$@" 2>"$T/err")
	rc=$?
	set -- $got
	if [ $rc -ne 0 ] || [ "$1" != "$BYTES" ] || [ -z "$3" ]; then
		echo "relay.sh: $(basename "$f"): exit $rc, '$got': $(head -c 300 "$T/err")" >&2
		FAILED=1
		return
	fi
	echo "$3" >>"$f"
}

for i in $(seq "$RUNS"); do
	sample "$T/loopback" "$T/tcpblast" send 127.0.0.1 9001 "$BYTES"
	sample "$T/relay" "$SL" run --user root --name benchrelay --forward 9000=127.0.0.1:9001 -- \
		"$T/tcpblast" send 127.0.0.1 9000 "$BYTES"
	sample "$T/relay-rootless" runuser -u nobody -- "$SL" run --name benchrelay2 \
		--forward 9000=127.0.0.1:9001 -- "$T/tcpblast" send 127.0.0.1 9000 "$BYTES"
	sample "$T/socat" "$T/tcpblast" send 127.0.0.1 9002 "$BYTES"
done
touch "$T/loopback" "$T/relay" "$T/relay-rootless" "$T/socat"

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
	'BEGIN { if (b > 0 && a != "-") printf "\nrelay / socat (medians): %.2f\n", a / b }'
[ "$FAILED" = 0 ] || echo "relay.sh: some runs failed (see above); their rows count only the others" >&2
exit "$FAILED"
