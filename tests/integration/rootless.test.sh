# rootless.test.sh: link none run by user nobody (a user namespace, no eBPF): the one-liner
# through an HTTP proxy that listens only on the world's loopback gets the page, and the cage
# reaches nothing else by any protocol and has no route but loopback; the same run as root adds
# the eBPF hooks (EPERM), and `sluice check` says which layers each of them has.

RO_PROXY_PORT=8891		# this file's own tinyproxy, on the world's 127.0.0.1 only
RO_PROXY_URL=http://127.0.0.1:$RO_PROXY_PORT

# ro_stop: kill the servers this test started (a test runs in a subshell: bg_start's PIDS
# never reaches world_down, so each test takes its own servers down).
ro_stop() {
	for p in $RO_PIDS; do
		kill "$p" 2>/dev/null
	done
	[ -f "$T/out/ro-tinyproxy.pid" ] && kill "$(cat "$T/out/ro-tinyproxy.pid")" 2>/dev/null
	for p in $RO_PIDS; do
		wait "$p" 2>/dev/null
	done
	RO_PIDS=
}

# ro_tinyproxy: a tinyproxy with `Listen 127.0.0.1` in the world, stopped when the test ends.
ro_tinyproxy() {
	sed -e "s/^Port .*/Port $RO_PROXY_PORT/" -e "s/^Listen .*/Listen 127.0.0.1/" \
		-e "s/tinyproxy\./ro-tinyproxy./g" "$T/tinyproxy.conf" >"$T/ro-tinyproxy.conf" ||
		fail "no $T/tinyproxy.conf to start from"
	grep -qx "Listen 127.0.0.1" "$T/ro-tinyproxy.conf" || fail "tinyproxy config: no Listen line"
	rm -f "$T/out/ro-tinyproxy.log"	# tinyproxy, as nobody, makes its own
	trap ro_stop EXIT
	bg_start "$T/ro-tinyproxy.out" $W tinyproxy -d -c "$T/ro-tinyproxy.conf"
	RO_PIDS="$RO_PIDS $!"
	wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 $RO_PROXY_PORT ||
		fail "tinyproxy on the world's 127.0.0.1:$RO_PROXY_PORT not up: $(cat "$T/ro-tinyproxy.out")"
	# only on loopback: a cage can reach it through a forward and no other way
	in_world "$PROBE" connect tcp $WORLD_IP $RO_PROXY_PORT >/dev/null &&
		fail "tinyproxy also listens on $WORLD_IP: the test would prove nothing"
	true
}

# The probes of a cage that should reach nothing directly: "LABEL probe-args".
RO_DIRECT="tcp4 connect tcp $NET_IP 80|worldproxy connect tcp $WORLD_IP $PROXY_PORT|\
hostsvc connect tcp $WORLD_IP $HOSTSVC_PORT|udp4c connect udp $NET_IP $UDP_PORT|\
udp4s sendto udp $NET_IP $UDP_PORT|udpworld sendto udp $WORLD_IP 53|tcp6 connect tcp $NET_IP6 80|\
udp6s sendto udp $NET_IP6 $UDP_PORT|tcp6world connect tcp $WORLD_IP6 $PROXY_PORT|\
mapped connect tcp ::ffff:$NET_IP 80|ping4 ping $NET_IP|ping6 ping $NET_IP6|pingworld ping $WORLD_IP"
RO_LABELS="tcp4 worldproxy hostsvc udp4c udp4s udpworld tcp6 udp6s tcp6world mapped ping4 ping6 pingworld"

# ro_one_liner USER: the one-liner, then every direct path, then the routes, in one cage.
ro_one_liner() {
	page=$T/out/ro.page.$TESTNO.$1
	run_as "$1" --proxy "$RO_PROXY_URL" -- /bin/sh -c '
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		curl -sf --max-time 10 http://'$NET_IP'/ >"$1"; echo "curl=$?"
		curl -sf --max-time 3 --noproxy "*" http://'$NET_IP'/ >/dev/null; echo "direct=$?"
		id -u | sed "s/^/uid=/"
		p=$2
		echo "$3" | tr "|" "\n" | while read -r label args; do
			printf "%s " "$label"
			$p $args --timeout 1500
		done
		echo "links:"; ip -o link show
		echo "route4:"; ip route show
		echo "route6:"; ip -6 route show
		echo "all4:"; ip -4 route show table all
		echo "all6:"; ip -6 route show table all
		echo "get:"; ip route get '$NET_IP' 2>&1
		echo end' sh "$page" "$PROBE" "$RO_DIRECT"
	[ "$RC" = 0 ] && grep -qx end "$OUT" || fail "$1: the cage did not run: $(said)"
}

# ro_section NAME: the lines of $OUT after "NAME:" up to the next "word:" line.
ro_section() {
	awk -v s="$1:" '$0 == s { on = 1; next } /^[a-z0-9]*:$/ || $0 == "end" { on = 0 } on' "$OUT"
}

TESTS="$TESTS rootless_proxy_one_liner_gets_page_and_only_lo"
test_rootless_proxy_one_liner_gets_page_and_only_lo()
{
	ro_tinyproxy
	base=$(counts)
	: >"$T/udp.log"
	web_before=$(wc -l <"$T/http.log")
	ro_one_liner nobody
	grep -qx 'uid=65534' "$OUT" || fail "the command did not run as nobody: $(said)"
	grep -qx 'curl=0' "$OUT" || fail "curl through the loopback proxy failed: $(said)"
	[ "$(cat "$page")" = "$CONTENT" ] || fail "wrong page: '$(head -c 200 "$page")'"
	grep -q "http://$NET_IP/" "$T/out/ro-tinyproxy.log" ||
		fail "the loopback tinyproxy did not log the request (the page came some other way)"
	grep -qx 'direct=0' "$OUT" && fail "curl --noproxy reached the web server directly"
	denied $RO_LABELS
	udp_silent
	sleep 0.2
	web_after=$(wc -l <"$T/http.log")
	[ "$web_after" = $((web_before + 1)) ] ||
		fail "the web server saw $((web_after - web_before)) requests, not 1: $(tail -n 3 "$T/http.log" | tr '\n' '|')"

	# topology: lo alone, and every route, in every table, is on lo; nothing routes out
	links=$(ro_section links)
	[ "$(echo "$links" | grep -c .)" = 1 ] && echo "$links" | grep -q '^1: lo:' ||
		fail "links other than lo: $(echo "$links" | tr '\n' '|')"
	for s in route4 route6 all4 all6; do
		ro_section $s | grep -v ' dev lo\( \|$\)' | grep . &&
			fail "$s: a route not on lo: $(ro_section $s | tr '\n' '|')"
		ro_section $s | grep -q '^default\|^unreachable default' &&
			fail "$s: a default route: $(ro_section $s | tr '\n' '|')"
	done
	ro_section all4 | grep -q ' dev lo' || fail "no loopback routes listed at all (did ip run?): $(said)"
	ro_section get | grep -q 'unreachable' ||
		fail "ip route get $NET_IP found a route: $(ro_section get | tr '\n' '|')"
	same_counts "$base" "an unprivileged run"
}

TESTS="$TESTS rootless_gets_enetunreach_root_gets_eperm"
test_rootless_gets_enetunreach_root_gets_eperm()
{
	# The same run, by nobody and by root. Without privileges only topology and nftables hold:
	# a direct connect finds no route. As root the cgroup hooks refuse it first, at once.
	ro_tinyproxy
	ro_one_liner nobody
	nb=$OUT
	[ "$(verdict tcp4)" = ENETUNREACH ] ||
		fail "nobody: a direct connect should find no route: $(grep '^tcp4 ' "$OUT")"
	denied $RO_LABELS
	ro_one_liner root
	grep -qx 'curl=0' "$OUT" && [ "$(cat "$page")" = "$CONTENT" ] ||
		fail "root: curl through the loopback proxy: $(said)"
	grep -qx 'uid=0' "$OUT" || fail "root: the command did not run as root: $(said)"
	for l in tcp4 hostsvc udp4c udp4s tcp6 mapped; do
		[ "$(verdict $l)" = EPERM ] ||
			fail "root: $l should get EPERM from the eBPF hooks: $(grep "^$l " "$OUT"); as nobody: $(grep "^$l " "$nb")"
		awk -v t="$(ms $l)" 'BEGIN { exit !(t < 500) }' || fail "root: $l took $(ms $l) ms"
	done
	denied $RO_LABELS
	udp_silent
}

TESTS="$TESTS check_layers_root_vs_nobody_differ_in_ebpf"
test_check_layers_root_vs_nobody_differ_in_ebpf()
{
	sl=$(nobody_sluice)
	timeout 20 nsenter --net=/run/netns/$W runuser -u nobody -- "$sl" check \
		--proxy "$RO_PROXY_URL" </dev/null >"$T/out/ro-check.nobody" 2>&1 ||
		fail "check as nobody: exit $?: $(head -c 300 "$T/out/ro-check.nobody")"
	sluice_w check --proxy "$RO_PROXY_URL" >"$T/out/ro-check.root" 2>&1 ||
		fail "check as root: exit $?: $(head -c 300 "$T/out/ro-check.root")"
	for who in root nobody; do
		f=$T/out/ro-check.$who
		grep -qi '^ *\(enforcement \)\{0,1\}layers' "$f" || fail "check as $who: no layers section"
		# the section: from its heading to the next unindented-by-more heading
		awk 'tolower($0) ~ /^ *(enforcement )?layers/ { on = 1; next }
		     on && /^  [a-z]/ { exit } on' "$f" >"$f.layers"
		for layer in topology nftables eBPF process; do
			[ "$(grep -c "^ *$layer:" "$f.layers")" = 1 ] ||
				fail "check as $who: layer '$layer' not listed once: $(tr '\n' '|' <"$f.layers")"
		done
	done
	ebpf_root=$(grep '^ *eBPF:' "$T/out/ro-check.root.layers")
	ebpf_nobody=$(grep '^ *eBPF:' "$T/out/ro-check.nobody.layers")
	[ "$ebpf_root" != "$ebpf_nobody" ] || fail "the eBPF line is the same as root and as nobody: $ebpf_root"
	echo "$ebpf_root" | grep -qi 'connect4' || fail "as root, eBPF does not list the connect hooks: $ebpf_root"
	echo "$ebpf_root" | grep -qiw 'off\|inactive\|disabled\|not active' &&
		fail "as root, eBPF is said to be off: $ebpf_root"
	echo "$ebpf_nobody" | grep -qiw 'off\|inactive\|disabled\|not active' ||
		fail "as nobody, eBPF is not said to be off: $ebpf_nobody"
	# and why: something after the verdict naming the missing privilege
	echo "$ebpf_nobody" | grep -qi 'root\|CAP_\|privilege' ||
		fail "as nobody, the eBPF line does not say why: $ebpf_nobody"
	# topology holds for both
	for who in root nobody; do
		grep -i '^ *topology:' "$T/out/ro-check.$who.layers" | grep -qiw 'off\|inactive\|disabled' &&
			fail "check as $who: topology is off"
	done
	true
}
