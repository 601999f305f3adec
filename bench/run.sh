#!/bin/sh
# run.sh: sluice's benchmarks, all in one go, inside a private network namespace with
# loopback only (no packet leaves this machine). Writes bench/RESULTS.md.
# Usage: sudo make bench   (installs its peers first; RUNS=N for more runs)
set -e
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
if [ -z "$SLUICE_BENCH_INSIDE" ]; then
	sh contrib/deps.sh >/dev/null
	export SLUICE_BENCH_INSIDE=1
	exec unshare -n sh -c 'ip link set lo up && exec sh bench/run.sh'
fi

OUT=bench/RESULTS.md
{
	echo "# sluice benchmarks"
	echo
	echo "Written by \`make bench\` on $(date -u +%Y-%m-%d), $(uname -sr), $(nproc) cores;"
	echo "every figure is the median of several runs, with min and max, inside a private"
	echo "network namespace (loopback only)."
	echo
	echo "## Throughput: one large TCP transfer"
	echo
	sh bench/relay.sh
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
