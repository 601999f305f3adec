#!/bin/sh
# run.sh: sluice's benchmarks, all in one go, inside a private network namespace with
# loopback only (no packet leaves this machine). Writes bench/RESULTS.md.
# Usage: sudo make bench   (installs its peers first; RUNS=N to change the run counts)
set -e
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: run as root (sudo make bench)" >&2; exit 1; }
if [ -z "$SLUICE_BENCH_INSIDE" ]; then
	sh contrib/deps.sh >/dev/null
	sh bench/deps.sh
	export SLUICE_BENCH_INSIDE=1
	exec unshare -n sh -c 'ip link set lo up && exec sh bench/run.sh'
fi

. bench/lib.sh
OUT=bench/RESULTS.md
phase() {
	# the per-phase breakdown of one run, from sluice itself (SLUICE_TRACE), median of 50
	f=$(mktemp)
	for i in $(seq 50); do
		SLUICE_TRACE=1 $SLUICE run --user root --name benchtrace "$@" -- /bin/true 2>&1 |
			awk '$2 == "trace" { print $5, $3 }'
	done >"$f"
	for k in $(awk '!seen[$1]++ { print $1 }' "$f"); do
		m=$(awk -v k="$k" '$1 == k { print $2 }' "$f" | stats)
		echo "| $k | ${m%% *} |"
	done
	rm -f "$f"
}
{
	echo "# sluice benchmarks"
	echo
	echo "Written by \`sudo make bench\` on $(date -u +%Y-%m-%d), $(uname -sr), $(nproc) cores,"
	echo "inside a private network namespace with loopback only. Medians of many runs, with"
	echo "min and max; whole-process times by hyperfine, in-process ones by bench/*.c."
	echo
	echo "## Start: /bin/true"
	echo
	echo "The two \"floor\" rows are bench/floor.c: the least program doing the kernel work a"
	echo "link-none cage cannot do without (a cgroup, a first process cloned into it with new net,"
	echo "mount, pid, ipc and uts namespaces, a cgroup namespace, private mounts with a fresh"
	echo "/proc, sysfs and cgroup2, a hostname, the command spawned and waited for, the cgroup"
	echo "removed), linked to libc alone and to sluice's libraries as well. What sluice takes"
	echo "above the second is its own: the record, policy and user, the nftables ruleset, the"
	echo "eBPF entries, the other mounts, the sockets, dropping capabilities, the supervisor."
	echo
	sh bench/start.sh
	echo
	echo "## Where the start time goes (sluice's own trace, ms since the run began, median of 50)"
	echo
	echo "link none, root: each line is when the step starts, from \"plan\" (options, the user,"
	echo "the record). \"inside\" to \"mounted\" is the cage's first process opening its sockets"
	echo "and building its mounts, concurrently with the supervisor's \"bpf\" (the cage's entries"
	echo "in the maps of the resident eBPF hooks), nftables and serving; after \"go\" it spawns"
	echo "the command (\"exec\": its exec has succeeded), which runs and exits by \"teardown\":"
	echo
	echo "| step | ms |"
	echo "|---|---|"
	phase
	echo
	echo "link veth, root:"
	echo
	echo "| step | ms |"
	echo "|---|---|"
	phase --link veth
	echo
	echo "## Hook cost"
	echo
	sh bench/hooks.sh
	echo
	echo "## Hook cost with denial events"
	echo
	sh bench/events.sh
	echo
	echo "Refused calls past the events' rate (64 a second per CPU) pay only the count; the"
	echo "first ones of each second also reserve and submit a ring buffer record."
	echo
	echo "## The unix broker and the seccomp filter"
	echo
	sh bench/unix.sh
	echo
	echo "## Throughput: one large TCP transfer"
	echo
	sh bench/relay.sh
	echo
	echo "## Throughput through WireGuard (this kernel has none: wireguard-go at both ends)"
	echo
	sh bench/wg.sh
	echo
	echo "## Scale: cages alive at once"
	echo
	sh bench/scale.sh
	echo
	echo "A start slows as cages accumulate, where unshare's does not: each cage mounts a"
	echo "fresh sysfs (and cgroup2) for its own netns, and the kernel finds a new superblock by"
	echo "walking every one of its kind (sget_fc, kernfs_test_super: 15 % of sluice's CPU time"
	echo "with 1,000 alive)."
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
