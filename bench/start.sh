#!/bin/sh
# start.sh: the time to start /bin/true under sluice and under what users would pick instead,
# measured with hyperfine (whole processes). Prints a markdown table: ms median, min, max,
# and the ratio to `unshare -n -m -p -f -i -u /bin/true`. Run inside a private netns with
# loopback only (bench/run.sh does). RUNS (default 200) per command.
. bench/lib.sh
RUNS=${RUNS:-200}
T=$(mktemp -d /var/tmp/sluice-bench.XXXXXX)
chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
SL=$(readlink -f "$SLUICE")

# The shell equivalent of a veth cage: what sluice does, with ip and nft.
cat >"$T/veth-shell.sh" <<-'EOF2'
	set -e
	n=shb$$
	ip netns add $n
	ip link add h$n type veth peer name eth0 netns $n
	ip addr add 10.199.0.1/30 dev h$n && ip link set h$n up
	ip -n $n link set lo up && ip -n $n addr add 10.199.0.2/30 dev eth0 && ip -n $n link set eth0 up
	ip -n $n route add default via 10.199.0.1
	ip netns exec $n nft -f "$(dirname "$0")/veth-shell.nft"
	ip netns exec $n /bin/true
	ip netns del $n
EOF2
cat >"$T/veth-shell.nft" <<-'EOF2'
	table inet sluice {
		chain input { type filter hook input priority 0; policy drop; iif "lo" accept; ct state established,related accept; }
		chain output { type filter hook output priority 0; policy drop; oif "lo" accept; ct state established,related accept; ip daddr 10.199.0.1 tcp dport 8888 accept; }
		chain forward { type filter hook forward priority 0; policy drop; }
	}
EOF2
echo '{"network":{"allowedDomains":["proxy.test"],"deniedDomains":[]},"filesystem":{"denyRead":[],"allowWrite":[],"denyWrite":[]}}' >"$T/srt.json"
SRT=
for d in /opt/sluice-bench/node_modules/.bin/srt; do [ -x "$d" ] && SRT=$d; done

# label|command (one per line); a peer that is not installed is left out with a note
cmds="true|/bin/true
unshare -n|unshare -n /bin/true
unshare -n -m -p -f -i -u (reference)|unshare -n -m -p -f -i -u /bin/true
floor: a link-none cage's kernel work and nothing else, libc only|$BIN/floor /bin/true
floor, linked to sluice's libraries as sluice is|$BIN/floor-libs /bin/true
sluice, link none, root (all layers)|$SL run --user root --name bs1 -- /bin/true"
# Where /run is not a tmpfs (as systemd mounts it), each run's record costs a block of the
# disk's filesystem: sluice is timed once more with a tmpfs on /run/sluice.
[ "$(stat -f -c %T /run)" = tmpfs ] || cmds="$cmds
sluice, link none, root, /run/sluice on a tmpfs|$SL run --user root --name bs4 -- /bin/true"
cmds="$cmds
sluice, link veth, root (all layers)|$SL run --user root --name bs2 --link veth -- /bin/true
runuser -u nobody /bin/true|runuser -u nobody -- /bin/true
sluice, link none, rootless (via runuser)|runuser -u nobody -- $SL run --name bs3 -- /bin/true"
command -v bwrap >/dev/null && cmds="$cmds
bwrap --unshare-net|bwrap --unshare-net --bind / / /bin/true"
command -v firejail >/dev/null && cmds="$cmds
firejail --net=none|firejail --quiet --noprofile --net=none /bin/true"
cmds="$cmds
shell script: veth + nft by ip/nft|sh $T/veth-shell.sh"
[ -n "$SRT" ] && cmds="$cmds
sandbox-runtime (srt), one domain allowed|$SRT -s $T/srt.json /bin/true"

# on_tmpfs_run CMD...: CMD in a mount namespace of its own with a tmpfs on /run/sluice.
on_tmpfs_run() {
	mkdir -p /run/sluice
	unshare -m --propagation private sh -c \
		'mount -t tmpfs -o mode=755 sluice-bench /run/sluice && exec "$@"' sh "$@"
}

echo "$cmds" >"$T/cmds"
ref=
echo "| command | median ms | min | max | ratio to unshare -n -m -p -f -i -u | command line |"
echo "|---|---|---|---|---|---|"
while IFS='|' read -r label cmd; do
	runs=$RUNS
	case $label in firejail* | shell* | sandbox*) runs=$((RUNS / 10 + 5)) ;; esac
	tmpfs=
	case $label in *"on a tmpfs") tmpfs=on_tmpfs_run ;; esac
	if ! $tmpfs hyperfine -N -w 3 -r "$runs" --export-json "$T/h.json" "$cmd" >/dev/null 2>"$T/err"; then
		echo "| $label | failed | | | | \`$cmd\` |"
		continue
	fi
	st=$(python3 -c 'import json,sys,statistics as s
t=[x*1000 for x in json.load(open(sys.argv[1]))["results"][0]["times"]]
print("%.1f %.1f %.1f" % (s.median(t), min(t), max(t)))' "$T/h.json")
	case $label in *reference*) ref=${st%% *} ;; esac
	row "$label" "$st" "${ref:-0}" "$cmd" | sed "s|$T/|bench/|g; s|$SL|sluice|g"
done <"$T/cmds"
[ -n "$SRT" ] || echo "sandbox-runtime is not installed (bench/run.sh installs it with npm): left out."
