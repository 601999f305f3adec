# world.sh: the private test world for sluice's integration tests (sourced by tests/integration/run.sh).
# Makes netns "world" (where sluice runs, as the host) and "internet" (a web server and a UDP
# listener) joined by one veth on documentation addresses, with no route off this machine;
# tinyproxy and a host-only service in the world; counts the kernel objects a cage makes;
# and takes all of it down again, whatever happened.

W=sluice-w-$$			# the world netns: sluice's "host"
I=sluice-i-$$			# the internet netns
C=sluice-c-$$			# a control netns with no protection at all
WORLD_IP=198.51.100.1
NET_IP=198.51.100.2
WORLD_IP6=2001:db8:1::1
NET_IP6=2001:db8:1::2
PROXY_PORT=8888
PROXY_URL=http://$WORLD_IP:$PROXY_PORT
LOPROXY_URL=http://127.0.0.1:$PROXY_PORT	# a tinyproxy on the world's loopback only
HOSTSVC_PORT=2222		# a world service cages must not reach
UDP_PORT=9999			# the internet's UDP listener
CAGE_PREFIX=st$$x		# every cage name the tests make starts with this
CONTROL_IP=192.0.2.2		# the control netns (TEST-NET-1)

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SLUICE=${SLUICE:-$ROOT/sluice}
PROBE_BUILT=${PROBE:-$ROOT/build/tests/probe}
T=
PIDS=

# Run a command in a namespace; nsenter keeps our mounts (ip netns exec remounts /sys and hides
# the cgroup2 mount).
in_world() { nsenter --net=/run/netns/$W "$@"; }
in_net() { nsenter --net=/run/netns/$I "$@"; }
in_control() { nsenter --net=/run/netns/$C "$@"; }

# A world that cannot be made is a failure, never a skip; the EXIT trap takes it down.
die() {
	echo "FAIL world_up: $*"
	echo "0 passed, 1 failed"
	exit 1
}

# The cgroup2 mount point, from mountinfo (field 5 is the mount point, after " - " the type).
cgroup2_mount() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break;
	       if ($(i + 1) == "cgroup2") { print $5; exit } }' /proc/self/mountinfo
}

# Wait up to $1 tenths of a second for a command to succeed.
wait_for() {
	n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# bg_start LOG NETNS CMD...: start a server in a netns, in the background; nsenter execs CMD, so
# the pid we keep is the server's own and world_down can kill and reap it. A test runs in a
# subshell, whose PIDS the runner never sees: its servers are also listed in $T/test.pids,
# which the runner kills after each test (bg_stop_test).
bg_start() {
	log=$1
	ns=$2
	shift 2
	nsenter --net=/run/netns/$ns "$@" >"$log" 2>&1 </dev/null &
	PIDS="$PIDS $!"
	[ -n "$T" ] && echo $! >>"$T/test.pids"
}

bg_stop_test() {
	[ -f "$T/test.pids" ] || return 0
	for p in $(cat "$T/test.pids"); do
		kill "$p" 2>/dev/null
	done
	rm -f "$T/test.pids"
}

world_up() {
	for tool in ip nft nsenter tinyproxy socat curl bpftool python3 awk runuser getent; do
		command -v $tool >/dev/null || die "missing prerequisite: $tool"
	done
	[ "$(id -u)" = 0 ] || die "must run as root"
	CG2=$(cgroup2_mount)
	[ -n "$CG2" ] || die "no cgroup2 mount in /proc/self/mountinfo"
	[ -x "$SLUICE" ] || die "no sluice binary at $SLUICE (make sluice)"
	[ -x "$PROBE_BUILT" ] || die "no probe at $PROBE_BUILT (make build/tests/probe)"

	# not /tmp: a cage has a private /tmp of its own
	T=$(mktemp -d /var/tmp/sluice-itest.XXXXXX) || die "mktemp"
	chmod 755 "$T"			# cages run commands as nobody too
	mkdir -p "$T/bin" "$T/www" "$T/out"
	chmod 1777 "$T/out"
	cp "$PROBE_BUILT" "$T/bin/probe"
	chmod 755 "$T/bin/probe"
	PROBE=$T/bin/probe
	# the test tools, where a cage's user (nobody) can run them, with Debian's python
	cp "$ROOT"/tests/lib/relayload.py "$ROOT"/tests/lib/socks5.py "$ROOT"/tests/lib/dnsd.py \
		"$T/bin/"
	chmod 755 "$T"/bin/*.py
	PY=/usr/bin/python3
	CONTENT="sluice world $$ $(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
	echo "$CONTENT" >"$T/www/index.html"

	ip netns add $W || die "netns $W"
	ip netns add $I || die "netns $I"
	in_world ip link set lo up
	in_net ip link set lo up
	in_world ip link add sw$$ type veth peer name si$$ || die "veth"
	in_world ip link set si$$ netns $I || die "veth move"
	in_world ip addr add $WORLD_IP/24 dev sw$$
	in_world ip -6 addr add $WORLD_IP6/64 dev sw$$ nodad
	in_world ip link set sw$$ up
	in_net ip addr add $NET_IP/24 dev si$$
	in_net ip -6 addr add $NET_IP6/64 dev si$$ nodad
	in_net ip link set si$$ up
	# The internet routes everything back to the world, and the world forwards: so a cage whose
	# layers failed would really get out (the control test proves it), and every denial seen
	# in a test is sluice's doing. Both routes stay inside namespaces made here.
	in_net ip route add default via $WORLD_IP
	in_net ip -6 route add default via $WORLD_IP6
	in_world sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward;
			echo 1 >/proc/sys/net/ipv6/conf/all/forwarding' || die "forwarding"

	# The internet: a web server (v4 and v6) and a UDP listener that logs what it gets.
	py=$(python3 -c 'import sys; print(sys.executable)')
	bg_start "$T/http.log" $I "$py" "$ROOT/tests/lib/webserver.py" "$T/www" 80 $NET_IP $NET_IP6
	: >"$T/udp.log"
	bg_start "$T/socat-udp.log" $I socat -u \
		"UDP6-RECV:$UDP_PORT,bind=[::],ipv6only=0,reuseaddr" "OPEN:$T/udp.log,append"

	# The world: tinyproxy on the world address only, and a service cages must not reach.
	cat >"$T/tinyproxy.conf" <<-EOF
	User nobody
	Group nogroup
	Port $PROXY_PORT
	Listen $WORLD_IP
	Timeout 20
	MaxClients 50
	Allow 0.0.0.0/0
	LogFile "$T/out/tinyproxy.log"
	PidFile "$T/out/tinyproxy.pid"
	LogLevel Info
	EOF
	bg_start "$T/tinyproxy.out" $W tinyproxy -d -c "$T/tinyproxy.conf"
	# the same on the world's loopback only: the proxy of the one-liner users type
	sed -e "s/^Listen .*/Listen 127.0.0.1/" -e "s/tinyproxy\./tinyproxy-lo./g" \
		"$T/tinyproxy.conf" >"$T/tinyproxy-lo.conf"
	bg_start "$T/tinyproxy-lo.out" $W tinyproxy -d -c "$T/tinyproxy-lo.conf"
	bg_start "$T/hostsvc.log" $W socat \
		"TCP4-LISTEN:$HOSTSVC_PORT,bind=$WORLD_IP,reuseaddr,fork" "SYSTEM:echo host-service"

	wait_for 50 in_world "$PROBE" connect tcp $NET_IP 80 || die "web server (v4) not up"
	wait_for 50 in_world "$PROBE" connect tcp $NET_IP6 80 || die "web server (v6) not up"
	wait_for 50 in_world "$PROBE" connect tcp $WORLD_IP $PROXY_PORT || die "tinyproxy not up"
	wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 $PROXY_PORT || die "loopback tinyproxy not up"
	wait_for 50 in_world "$PROBE" connect tcp $WORLD_IP $HOSTSVC_PORT || die "host service not up"
	wait_for 50 sh -c "ss -H -N $I -uln | grep -q :$UDP_PORT" || die "UDP listener not up"
}

# A netns with a plain veth into the world and a default route: what a cage would be with no
# nftables and no eBPF.
control_up() {
	ip netns add $C || return 1
	in_control ip link set lo up
	in_world ip link add sc$$ type veth peer name cc$$ &&
		in_world ip link set cc$$ netns $C &&
		in_world ip addr add 192.0.2.1/30 dev sc$$ &&
		in_world ip link set sc$$ up &&
		in_control ip addr add $CONTROL_IP/30 dev cc$$ &&
		in_control ip link set cc$$ up &&
		in_control ip route add default via 192.0.2.1
}

control_down() {
	ip netns del $C 2>/dev/null
	true
}

# Kill and remove whatever a cage of ours left, without relying on sluice.
cages_scrub() {
	[ -n "$CG2" ] && [ -d "$CG2/sluice" ] || return 0
	for d in $(find "$CG2/sluice" -mindepth 1 -maxdepth 1 -type d -name "$CAGE_PREFIX*"); do
		[ -e "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
		sleep 0.1
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	for d in /run/sluice/$CAGE_PREFIX* /run/sluice/.$CAGE_PREFIX*; do
		[ -e "$d" ] && rm -rf "$d"
	done
	# named cages' netns binds
	for d in /run/netns/$CAGE_PREFIX*; do
		[ -e "$d" ] && { umount -l "$d" 2>/dev/null; rm -f "$d"; }
	done
	true
}

world_down() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	[ -n "$T" ] && [ -f "$T/out/tinyproxy.pid" ] && kill "$(cat "$T/out/tinyproxy.pid")" 2>/dev/null
	[ -n "$T" ] && [ -f "$T/out/tinyproxy-lo.pid" ] && kill "$(cat "$T/out/tinyproxy-lo.pid")" 2>/dev/null
	cages_scrub
	# the sigkill test's cage loop, should it have outlived its cage
	for p in $(pgrep -f "sluice-sigkill-test-$$"); do
		kill -KILL "$p" 2>/dev/null
	done
	control_down
	ip netns del $W 2>/dev/null
	ip netns del $I 2>/dev/null
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	if [ -n "$T" ] && [ -z "$KEEP" ]; then
		rm -rf "$T"
	fi
	true
}

# The set of network namespaces alive by a process, a thread or an open fd.
netns_set() {
	{
		find /proc/[0-9]*/ns/net /proc/[0-9]*/task/[0-9]*/ns/net /proc/[0-9]*/fd \
			-maxdepth 1 -type l -printf '%l\n' 2>/dev/null | grep '^net:'
		# bind-mounted ones (ip netns add), seen from our mount namespace
		awk '$(NF - 2) == "nsfs" { print $4 }' /proc/self/mountinfo
	} | sort -u
}

# Entries in the maps of sluice's eBPF hooks, whatever cage they are for.
hook_entries() {
	n=0
	for m in ip_allow ip_denied ip_events unix_allow unix_denied unix_paths; do
		k=$(bpftool -j map dump name $m 2>/dev/null |
			python3 -c 'import json,sys
d=json.load(sys.stdin) if sys.stdin.readable() else []
print(len(d))' 2>/dev/null)
		n=$((n + ${k:-0}))
	done
	echo $n
}

# The resident hooks are loaded by the first run as root and stay: load them before any test
# counts objects, so that every baseline has them.
hooks_warm() {
	sluice_w run --user root --name ${CAGE_PREFIX}warm -- /bin/true ||
		die "the warm-up run failed"
}

# One line counting every kind of object a cage makes.
counts() {
	cg=0
	[ -d "$CG2/sluice" ] && cg=$(find "$CG2/sluice" -mindepth 1 -type d | wc -l)
	# veth host sides (sl-) and WireGuard links made before they move into a cage (sw-)
	links=$(in_world ip -o link show | grep -c ': s[lw]-[0-9a-f]\{8\}[@:]')
	# wireguard-go processes sluice runs (their UAPI sockets go with them)
	wggo=$(pgrep -fc 'wireguard-go -f [s]w-' || true)
	tables=$(in_world nft list tables 2>/dev/null | grep -c 'sluice_')
	# programs (the resident hooks of all cages, loaded by the warm-up run) and the entries
	# cages put in their maps: a cage that leaves either behind changes the count
	bpf=$(($(bpftool prog show 2>/dev/null | grep -c '^[0-9]*: cgroup_sock_addr') + $(hook_entries)))
	run=0
	[ -d /run/sluice ] && run=$(ls -A /run/sluice | wc -l)
	netns=$(netns_set | wc -l)
	echo "cgroups=$cg links=$links wggo=${wggo:-0} tables=$tables bpf=$bpf run=$run netns=$netns"
}

# counts_settle BASELINE: wait up to 3 s (teardown may finish after sluice exits: veth and cgroup
# removal wait for RCU) for the counts to equal BASELINE; print the last counts.
counts_settle() {
	n=30
	while :; do
		now=$(counts)
		[ "$now" = "$1" ] && break
		n=$((n - 1))
		[ $n -le 0 ] && break
		sleep 0.1
	done
	echo "$now"
}
