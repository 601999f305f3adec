# services.test.sh: what a cage can offer, and nothing else: a published port reached from
# outside (root and nobody, each link), --listen on a veth link from declared sources only, and
# two hosts joined by WireGuard with both ends caged, the registrar on A accepting B's client.

# probe_w LABEL IP PORT: one probe from the world (uncaged), its line appended to $OUT.
probe_w() {
	printf '%s ' "$1" >>"$OUT"
	in_world "$PROBE" connect tcp "$2" "$3" >>"$OUT" 2>&1
}

# refused LABEL...: each probe was refused by the peer (a reset), not timed out or denied.
refused() {
	for l; do
		[ "$(verdict "$l")" = ECONNREFUSED ] || fail "$l not refused: $(grep "^$l " "$OUT" || said)"
	done
}

# The cage's own services: 8000 on its loopback (published) and 8001 on every address.
SERVICES='socat TCP4-LISTEN:8001,reuseaddr,fork SYSTEM:"echo unpublished" &
	exec socat TCP4-LISTEN:8000,bind=127.0.0.1,reuseaddr,fork SYSTEM:"echo caged-service"'

TESTS="$TESTS services_published_port_reaches_the_cage_only_there"
test_services_published_port_reaches_the_cage_only_there()
{
	for link in none veth; do
		base=$(counts)
		next_name
		OUT=$T/out.$NAME
		ERR=$T/err.$NAME
		sluice_w up "$NAME" --link $link --proxy "$PROXY_URL" --user root \
			--publish 18080=8000 --publish "$WORLD_IP:18081=8000" -- /bin/sh -c "$SERVICES" \
			>"$OUT" 2>"$ERR" || fail "$link: up: $(said)"
		wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 18080 || fail "$link: not published"
		# the port is published before the caged service listens: wait for the service
		wait_for 50 sh -c "[ \"\$(nsenter --net=/run/netns/$W socat -T3 - TCP:127.0.0.1:18080 </dev/null)\" = caged-service ]"
		reply=$(in_world socat -T3 - TCP:127.0.0.1:18080 </dev/null)
		[ "$reply" = caged-service ] || fail "$link: 127.0.0.1:18080 answered '$reply'"
		reply=$(in_world socat -T3 - TCP:$WORLD_IP:18081 </dev/null)
		[ "$reply" = caged-service ] || fail "$link: $WORLD_IP:18081 answered '$reply'"
		# the internet reaches the port published on the world's address, not the other
		reply=$(in_net socat -T3 - TCP:$WORLD_IP:18081 </dev/null)
		[ "$reply" = caged-service ] || fail "$link: from the internet: '$reply'"
		: >"$OUT"
		probe_w unpublished 127.0.0.1 18082
		if [ $link = veth ]; then
			ip=$(sluice_w ls --json | python3 -c 'import json, sys
print([c for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0]["plan"]["veth"]["cage_v4"].split("/")[0])' "$NAME")
			[ -n "$ip" ] || fail "no cage address in ls --json"
			# the cage's other port, on its link: the input chain resets it
			probe_w link8001 "$ip" 8001
			probe_w link8000 "$ip" 8000
			refused link8001 link8000
		fi
		refused unpublished
		sluice_w ls --json | grep -q '"accepted": [1-9]' || fail "$link: ls counts no connection"
		sluice_w down "$NAME" || fail "$link: down"
		same_counts "$base" "$link: a cage with published ports"
		if in_world "$PROBE" connect tcp 127.0.0.1 18080 >/dev/null 2>&1; then
			fail "$link: 127.0.0.1:18080 still answers after down"
		fi
	done
}

TESTS="$TESTS services_published_port_without_root"
test_services_published_port_without_root()
{
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	nsenter --net=/run/netns/$W runuser -u nobody -- "$(nobody_sluice)" run --name "$NAME" \
		--proxy "$PROXY_URL" --publish 18090=8000 -- /bin/sh -c "$SERVICES" \
		</dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 18090 || fail "not published: $(said)"
	wait_for 50 sh -c "[ \"\$(nsenter --net=/run/netns/$W socat -T3 - TCP:127.0.0.1:18090 </dev/null)\" = caged-service ]"
	reply=$(in_world socat -T3 - TCP:127.0.0.1:18090 </dev/null)
	kill -TERM $pid
	wait_pid $pid 10
	[ "$reply" = caged-service ] || fail "127.0.0.1:18090 answered '$reply': $(said)"
	in_world "$PROBE" connect tcp 127.0.0.1 18090 >/dev/null 2>&1 &&
		fail "127.0.0.1:18090 still answers after the run"
	runuser -u nobody -- "$(nobody_sluice)" run --proxy "$PROXY_URL" --publish 80=8000 -- true \
		2>"$ERR"
	[ $? = 125 ] || fail "publishing port 80 as nobody did not fail with 125"
	grep -q 'publish tcp 127.0.0.1:80: Permission denied' "$ERR" || fail "port 80: $(cat "$ERR")"
}

TESTS="$TESTS services_listen_on_veth_from_declared_sources_only"
test_services_listen_on_veth_from_declared_sources_only()
{
	base=$(counts)
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" --user root --listen "8001@$NET_IP" \
		-- /bin/sh -c 'socat TCP4-LISTEN:8002,reuseaddr,fork SYSTEM:"echo other" &
			exec socat TCP4-LISTEN:8001,reuseaddr,fork SYSTEM:"echo listened"' \
		>"$OUT" 2>"$ERR" || fail "up: $(said)"
	ip=$(sluice_w ls --json | python3 -c 'import json, sys
print([c for c in json.load(sys.stdin) if c["name"] == sys.argv[1]][0]["plan"]["veth"]["cage_v4"].split("/")[0])' "$NAME")
	[ -n "$ip" ] || fail "no cage address in ls --json"
	# the internet routes the cage's /30 through the world, the cage's host
	in_net ip route add "$ip/32" via $WORLD_IP || fail "route to the cage"
	wait_for 50 in_net "$PROBE" connect tcp "$ip" 8001 || fail "the declared source cannot reach 8001"
	reply=$(in_net socat -T3 - TCP:$ip:8001 </dev/null)
	: >"$OUT"
	for spec in "net8002 $ip 8002"; do
		set -- $spec
		printf '%s ' "$1" >>"$OUT"
		in_net "$PROBE" connect tcp "$2" "$3" >>"$OUT" 2>&1
	done
	probe_w world8001 "$ip" 8001
	in_net ip route del "$ip/32" via $WORLD_IP
	[ "$reply" = listened ] || fail "8001 from $NET_IP answered '$reply'"
	# the host's forward chain drops what is not declared; the cage's input chain resets
	denied net8002
	refused world8001
	sluice_w check --link veth --proxy "$PROXY_URL" --user root --listen "8001@$NET_IP" -- true |
		grep -q "tcp dport 8001 ip saddr $NET_IP counter accept" || fail "check does not show the rule"
	sluice_w down "$NAME" || fail "down"
	same_counts "$base" "a veth cage that listens"
}

# Host A is the world, host B the internet; A's cage holds the registrar on its overlay address,
# B's cage the client. Another peer of A's overlay (C, 10.0.11.3, not caged, in B) is not a
# declared source.
TESTS="$TESTS services_wireguard_two_hosts_both_caged"
test_services_wireguard_two_hosts_both_caged()
{
	command -v wireguard-go >/dev/null && command -v wg >/dev/null ||
		fail "missing prerequisite: wireguard-go and wg (make deps)"
	umask 077
	for k in a b c; do
		wg genkey >"$T/wg2.$k.key" && wg pubkey <"$T/wg2.$k.key" >"$T/wg2.$k.pub"
	done
	umask 022
	A_U=$("$SLUICE" maddr key "$(cat "$T/wg2.a.pub")") || fail "maddr key"
	cat >"$T/a.conf" <<-EOF
	[Interface]
	PrivateKey = $(cat "$T/wg2.a.key")
	Address = 10.0.11.1/24
	ListenPort = 51830
	[Peer]
	PublicKey = $(cat "$T/wg2.b.pub")
	AllowedIPs = 10.0.11.2/32
	[Peer]
	PublicKey = $(cat "$T/wg2.c.pub")
	AllowedIPs = 10.0.11.3/32
	EOF
	cat >"$T/b.conf" <<-EOF
	[Interface]
	PrivateKey = $(cat "$T/wg2.b.key")
	Address = 10.0.11.2/24
	[Peer]
	PublicKey = $(cat "$T/wg2.a.pub")
	Endpoint = $WORLD_IP:51830
	AllowedIPs = 10.0.11.1/32
	EOF
	# C: a plain peer of A's in host B, with no cage
	WGC=wgc$$t$TESTNO
	bg_start "$T/wgc.log" $I env WG_PROCESS_FOREGROUND=1 wireguard-go "$WGC"
	wait_for 50 in_net ip link show "$WGC" || fail "C's wireguard-go is not up"
	in_net wg set "$WGC" private-key "$T/wg2.c.key" peer "$(cat "$T/wg2.a.pub")" \
		endpoint $WORLD_IP:51830 allowed-ips 10.0.11.1/32 || fail "wg set C"
	in_net ip addr add 10.0.11.3/32 dev "$WGC"
	in_net ip link set "$WGC" up
	in_net ip route add 10.0.11.1/32 dev "$WGC"

	base=$(counts)
	next_name
	A=$NAME
	OUT=$T/out.$A
	ERR=$T/err.$A
	TMO=60 sluice_w up "$A" --link wireguard --wg-config "$T/a.conf" --user root \
		--listen "/ip4/10.0.11.1/tcp/1616/wg/$A_U@10.0.11.2" -- /bin/sh -c '
		socat TCP4-LISTEN:1617,bind=10.0.11.1,reuseaddr,fork SYSTEM:"echo other-port" &
		exec socat TCP4-LISTEN:1616,bind=10.0.11.1,reuseaddr,fork SYSTEM:"echo registrar"' \
		>"$OUT" 2>"$ERR" || fail "A: up: $(said)"
	sleep 0.5
	# B: the client, caged in host B, allowed the registrar only
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	timeout -k 3 60 nsenter --net=/run/netns/$I "$SLUICE" run --name "$NAME" --link wireguard \
		--wg-config "$T/b.conf" --user root --allow "/ip4/10.0.11.1/tcp/1616/wg/$A_U" -- \
		/bin/sh -c 'p=$1
		for i in 1 2 3 4 5 6 7 8 9 10; do $p connect tcp 10.0.11.1 1616 >/dev/null && break
			sleep 0.3; done
		echo "reply: $(socat -T3 - TCP:10.0.11.1:1616 </dev/null)"
		printf "b1617 "; $p connect tcp 10.0.11.1 1617
		printf "bunderlay "; $p connect tcp '"$WORLD_IP $PROXY_PORT"'
		echo end' sh "$PROBE" </dev/null >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] && grep -qx end "$OUT" || fail "B: $(said)"
	grep -qx "reply: registrar" "$OUT" || fail "B did not reach A's registrar: $(said)"
	denied b1617 bunderlay
	[ "$(verdict b1617)" = EPERM ] || fail "B's own layers did not deny 1617: $(said)"
	# A refuses what it did not declare: C's connects (another source), C to another port,
	# and the underlay (A's cage has no address there)
	: >"$OUT"
	for spec in "c1616 10.0.11.1 1616" "c1617 10.0.11.1 1617"; do
		set -- $spec
		printf '%s ' "$1" >>"$OUT"
		in_net "$PROBE" connect tcp "$2" "$3" >>"$OUT" 2>&1
	done
	printf 'underlay ' >>"$OUT"
	in_net ip route del 10.0.11.1/32 dev "$WGC"
	in_net "$PROBE" connect tcp 10.0.11.1 1616 >>"$OUT" 2>&1
	refused c1616 c1617
	denied underlay
	sluice_w down "$A" || fail "A: down"
	same_counts "$base" "two caged hosts over WireGuard"
}

# Socket activation: the listeners a service manager passes (LISTEN_FDS) are the caged
# command's own, with LISTEN_PID its pid in the cage; a connection reaches it with no relay.
# The listener belongs to the network outside: disconnecting it (shutdown) and connecting it
# from there is refused. systemd-socket-activate stands in for systemd's socket units here;
# tests/system/ runs the real units under systemd.
TESTS="$TESTS services_socket_activation_hands_the_listeners_in"
test_services_socket_activation_hands_the_listeners_in()
{
	command -v systemd-socket-activate >/dev/null || fail "no systemd-socket-activate"
	cp "$ROOT/tests/lib/activated.py" "$T/bin/" && chmod 755 "$T/bin/activated.py"
	base=$(counts)
	for mode in root nobody; do
		port=$((18100 + TESTNO % 50))
		next_name
		OUT=$T/out.$NAME
		ERR=$T/err.$NAME
		if [ $mode = root ]; then
			run="$SLUICE run --name $NAME --user nobody --"
		else
			run="setpriv --reuid nobody --regid nogroup --clear-groups $(nobody_sluice) run --name $NAME --"
		fi
		bg_start "$OUT" $W systemd-socket-activate -l 127.0.0.1:$port --fdname=web \
			$run "$PY" "$T/bin/activated.py"
		wait_for 50 grep -q "^Listening on" "$OUT" || fail "$mode: not listening"
		got=$(nsenter --net=/run/netns/$W socat -T5 - TCP:127.0.0.1:$port </dev/null)
		echo "$got" | grep -q "^hello from the cage [0-9]" ||
			fail "$mode: no answer from the cage: '$got' $(cat "$OUT")"
		wait_for 50 grep -q "^listeners 1 names web" "$OUT" ||
			fail "$mode: the listener was not handed in: $(cat "$OUT")"
		# the accepting process is in the cage (its own pid namespace): not the pid outside
		pid=${got##* }
		[ "$pid" -lt 100 ] || fail "$mode: answered by pid $pid, not a caged process"

		# a hostile service: its listener disconnected and connected out from the outside netns
		next_name
		OUT=$T/out.$NAME
		bg_start "$T/hostsvc.$mode" $W "$PY" -c "
import socket; b = socket.socket(); b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
b.bind(('127.0.0.1', $((port + 1)))); b.listen(); b.settimeout(8); print('up', flush=True)
try:
    b.accept(); print('reached')
except OSError:
    print('nothing')"
		wait_for 50 grep -q up "$T/hostsvc.$mode" || fail "host service not up"
		if [ $mode = root ]; then
			run="$SLUICE run --name $NAME --user nobody --"
		else
			run="setpriv --reuid nobody --regid nogroup --clear-groups $(nobody_sluice) run --name $NAME --"
		fi
		bg_start "$OUT" $W systemd-socket-activate -l 127.0.0.1:$((port + 2)) \
			$run "$PY" "$T/bin/activated.py" --escape $((port + 1))
		wait_for 50 grep -q "^Listening on" "$OUT" || fail "$mode: not listening (2)"
		nsenter --net=/run/netns/$W socat -T2 - TCP:127.0.0.1:$((port + 2)) </dev/null >/dev/null 2>&1
		wait_for 50 grep -q "^escape" "$OUT" || fail "$mode: the escape did not run: $(cat "$OUT")"
		grep -qx "escape EPERM" "$OUT" || fail "$mode: $(grep escape "$OUT")"
		grep -q "refused .*on an IP socket handed in from outside the cage" "$OUT" ||
			fail "$mode: no denial line: $(cat "$OUT")"
		wait_for 100 grep -q "reached\|nothing" "$T/hostsvc.$mode"
		grep -qx nothing "$T/hostsvc.$mode" || fail "$mode: the outside service was reached"
	done
	same_counts "$base" "socket activation"
}
