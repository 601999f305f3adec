#!/bin/sh
# scale.sh: N cages alive at once (each running sleep), for N in $COUNTS: the time to start
# them all (and the rate of the last hundred against the first), the supervisors' memory
# per cage, the kernel's memory growth, and the time for all to exit with nothing left (the
# eBPF hooks, which stay loaded between runs, are loaded first and not counted as left).
# Run inside a private netns with loopback only (bench/run.sh does), as root.
. bench/lib.sh
COUNTS=${COUNTS:-100 500 1000}
SL=$(readlink -f "$SLUICE")
echo "| cages | start all (s) | first 100 (ms/cage) | last 100 (ms/cage) | one more start with all alive: sluice / unshare -nmpfiu (ms) | supervisor RSS / PSS per cage (KiB) | kernel memory per cage (KiB) | all exit (s) | left after |"
echo "|---|---|---|---|---|---|---|---|---|"
# median ms of one more start of /bin/true under sluice and under unshare, as things stand
one_more() {
	hyperfine -N -w 3 -r 40 --export-json "$1" "$SL run --user root --name scone -- /bin/true" \
		"unshare -n -m -p -f -i -u /bin/true" >/dev/null 2>&1 &&
		python3 -c 'import json,sys,statistics as s
r=json.load(open(sys.argv[1]))["results"]
print("%.1f / %.1f" % tuple(s.median(x["times"]) * 1000 for x in r))' "$1"
}
J=$(mktemp)
trap 'rm -f "$J"' EXIT
kmem() { awk '/^(Slab|KernelStack|PageTables|Percpu):/ { s += $2 } END { print s }' /proc/meminfo; }
progs() { bpftool prog show 2>/dev/null | grep -c cgroup_sock_addr; }
entries() {
	for m in ip_allow ip_denied unix_allow unix_denied unix_paths; do
		bpftool -j map dump name $m 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0
	done | awk '{ s += $1 } END { print s + 0 }'
}
# The eBPF hooks are loaded by the first run and stay: load them before counting.
"$SL" run --user root --name scwarm -- /bin/true
p0=$(progs)
for n in $COUNTS; do
	k0=$(kmem)
	t0=$(date +%s.%N)
	t100=
	i=0
	while [ $i -lt "$n" ]; do
		[ $i = 100 ] && t100=$(date +%s.%N)
		[ $i = $((n - 100)) ] && tl0=$(date +%s.%N)
		setsid "$SL" run --user root --name "sc$i" -- sleep 600 >/dev/null 2>&1 </dev/null &
		# a cage is up once its record exists; keep at most 8 starting at once (looking
		# for the record of the one started 8 before: listing them all would be O(n))
		while [ $i -ge 8 ] && [ ! -e "/run/sluice/sc$((i - 8))" ]; do sleep 0.005; done
		i=$((i + 1))
	done
	tl1=$(date +%s.%N)
	while [ "$(ls /run/sluice | wc -l)" -lt "$n" ]; do sleep 0.01; done
	while [ "$(pgrep -c -x sleep)" -lt "$n" ]; do sleep 0.01; done
	t1=$(date +%s.%N)
	[ -n "$t100" ] || t100=$t1
	rss=$(ps -C sluice -o rss= | awk '{ s += $1 } END { print s }')
	pss=$(for p in $(pgrep -x sluice); do cat /proc/$p/smaps_rollup 2>/dev/null; done |
		awk '/^Pss:/ { s += $2 } END { print s }')
	k1=$(kmem)
	more=$(one_more "$J")
	pkill -TERM -x sluice
	while pgrep -x sluice >/dev/null; do sleep 0.02; done
	t2=$(date +%s.%N)
	sleep 1
	# records, cage cgroups, programs beyond the resident hooks, and the cages' map entries
	left=$(( $(ls /run/sluice 2>/dev/null | wc -l) + $(find "$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)/sluice" -mindepth 1 -type d 2>/dev/null | wc -l) + $(progs) - p0 + $(entries) ))
	awk -v n="$n" -v t0="$t0" -v t100="$t100" -v tl0="$tl0" -v tl1="$tl1" -v t1="$t1" -v t2="$t2" \
		-v rss="$rss" -v pss="$pss" -v k0="$k0" -v k1="$k1" -v left="$left" -v more="$more" 'BEGIN {
		printf "| %d | %.1f | %.1f | %.1f | %s | %.0f / %.0f | %.0f | %.1f | %d objects |\n",
			n, t1 - t0, (t100 - t0) * 1000 / 100, (tl1 - tl0) * 1000 / 100, more,
			rss / n, pss / n, (k1 - k0) / n, t2 - t1, left }'
done
