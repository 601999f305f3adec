# wireguard.test.sh: link wireguard (wireguard-go here: this kernel has no WireGuard). The
# internet netns plays a service host: its own wireguard-go peer on the underlay, a registrar
# on its overlay address, and services the cage must not reach.

OVERLAY_PORT=1616

# The service host's side, for one test (its servers are stopped after it): keys,
# wireguard-go, overlay addresses, services. The tunnel's name is the test's own, so the
# last test's daemon going away cannot collide with this one's.
wg_world_up() {
	WGS=wgs$$t$TESTNO
	command -v wireguard-go >/dev/null && command -v wg >/dev/null ||
		fail "missing prerequisite: wireguard-go and wg (make deps)"
	umask 077
	wg genkey >"$T/wg.server.key" && wg pubkey <"$T/wg.server.key" >"$T/wg.server.pub"
	wg genkey >"$T/wg.client.key" && wg pubkey <"$T/wg.client.key" >"$T/wg.client.pub"
	wg genkey | wg pubkey >"$T/wg.other.pub"
	umask 022
	bg_start "$T/wgs.log" $I env WG_PROCESS_FOREGROUND=1 wireguard-go "$WGS"
	wait_for 50 in_net ip link show "$WGS" || fail "the service host's wireguard-go is not up"
	in_net wg set "$WGS" private-key "$T/wg.server.key" listen-port 51820 \
		peer "$(cat "$T/wg.client.pub")" allowed-ips 10.0.11.2/32 || fail "wg set"
	in_net ip addr add 10.0.11.1/24 dev "$WGS"
	in_net ip addr add 10.0.11.3/32 dev "$WGS"
	in_net ip link set "$WGS" up
	for svc in 10.0.11.1:$OVERLAY_PORT 10.0.11.1:1617 10.0.11.3:$OVERLAY_PORT; do
		bg_start "$T/svc.$svc.log" $I socat "TCP4-LISTEN:${svc#*:},bind=${svc%:*},reuseaddr,fork" \
			"SYSTEM:echo registrar-${svc%:*}-${svc#*:}"
	done
	wait_for 50 in_net "$PROBE" connect tcp 10.0.11.1 $OVERLAY_PORT || fail "registrar not up"
	SERVER_U=$("$SLUICE" maddr key "$(cat "$T/wg.server.pub")") || fail "maddr key"
	# a wg-quick file as people write it: comments, a second peer, AllowedIPs over two lines
	cat >"$T/client.conf" <<-EOF
	# the actor tree's side of the LAN overlay
	[Interface]
	PrivateKey = $(cat "$T/wg.client.key")
	Address = 10.0.11.2/24   ; the overlay address

	[Peer]
	# the registrar's host
	PublicKey = $(cat "$T/wg.server.pub")
	Endpoint = $NET_IP:51820
	AllowedIPs = 10.0.11.1/32
	AllowedIPs = 10.0.11.3/32, 10.0.11.0/24
	PersistentKeepalive = 25

	[Peer]
	# another host of the overlay, not up
	PublicKey = $(cat "$T/wg.other.pub")
	AllowedIPs = 10.0.12.0/24
	EOF
}

wg_leftovers() {
	pgrep -fa 'wireguard-go -f [s]w-' || true
	in_world ip -o link show | grep -o ' sw-[0-9a-f]*\| wg0' || true
	ls /var/run/wireguard 2>/dev/null | grep '^sw-' || true
}

TESTS="$TESTS wireguard_cage_reaches_only_the_registrar"
test_wireguard_cage_reaches_only_the_registrar()
{
	wg_world_up
	base=$(counts)
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	TMO=60 sluice_w run --name "$NAME" --link wireguard --wg-config "$T/client.conf" \
		--allow "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$SERVER_U" --user root -- /bin/sh -c '
		p=$1; shift
		for spec; do printf "%s " "${spec%% *}"; $p ${spec#* }; done
		echo "reply: $(socat -T2 - TCP:10.0.11.1:'$OVERLAY_PORT' </dev/null)"
		echo "links:"; ip -o link show
		echo "udp:"; cat /proc/net/udp /proc/net/udp6 2>/dev/null | grep -v local_address
		echo end' sh "$PROBE" \
		"registrar connect tcp 10.0.11.1 $OVERLAY_PORT" "otherport connect tcp 10.0.11.1 1617" \
		"otherhost connect tcp 10.0.11.3 $OVERLAY_PORT" "underlay connect tcp $NET_IP 80" \
		"underlayudp sendto udp $NET_IP 51820" "world connect tcp $WORLD_IP $PROXY_PORT" \
		>"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] && grep -qx end "$OUT" || fail "wireguard cage: $(said)"
	allowed registrar
	denied otherport otherhost underlay underlayudp world
	grep -q "^reply: registrar-10.0.11.1-$OVERLAY_PORT" "$OUT" || fail "no reply through the tunnel: $(said)"
	links=$(sed -n '/^links:/,/^udp:/p' "$OUT" | grep '^[0-9]*:' | awk '{ print $2 }' | tr -d ':' |
		sed 's/@.*//' | sort | tr '\n' ' ')
	[ "$links" = "lo wg0 " ] || fail "the cage's links are '$links', not lo and wg0"
	# the one UDP socket in the cage's netns is the DNS stub's, on 127.0.0.1:53 (0100007F:0035)
	sed -n '/^udp:/,/^end$/p' "$OUT" | grep -v '^udp:\|^end$' | grep -v ' 0100007F:0035 ' | grep -q . &&
		fail "a UDP socket inside the cage other than the DNS stub: $(said)"
	same_counts "$base" "a wireguard run"
	[ -z "$(wg_leftovers)" ] || fail "left after the run: $(wg_leftovers | tr '\n' ' ')"
}

TESTS="$TESTS wireguard_tunnel_socket_stays_outside"
test_wireguard_tunnel_socket_stays_outside()
{
	wg_world_up
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	TMO=60 sluice_w run --name "$NAME" --link wireguard --wg-config "$T/client.conf" \
		--allow "10.0.11.1:$OVERLAY_PORT" --user root -- /bin/sh -c 'sleep 2' >"$OUT" 2>"$ERR" &
	pid=$!
	wait_for 50 sh -c "ss -H -N $W -uanp | grep -q wireguard-go" ||
		fail "no wireguard-go UDP socket in the netns sluice runs in"
	in_world ip -o link show | grep -q ' sw-' && fail "the tunnel was not moved into the cage"
	wait_pid $pid 30
	[ $? = 0 ] || fail "run: $(said)"
	wait_for 30 sh -c '[ -z "$(ls /var/run/wireguard 2>/dev/null | grep "^sw-")" ]' ||
		fail "left after the run: $(wg_leftovers | tr '\n' ' ')"
}

TESTS="$TESTS wireguard_wrong_key_is_125_and_leaves_nothing"
test_wireguard_wrong_key_is_125_and_leaves_nothing()
{
	wg_world_up
	base=$(counts)
	other=$("$SLUICE" maddr key "$(cat "$T/wg.other.pub")")
	wrong=$(wg genkey | wg pubkey)
	wrong_u=$("$SLUICE" maddr key "$wrong")
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	sluice_w run --name "$NAME" --link wireguard --wg-config "$T/client.conf" \
		--allow "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$wrong_u" --user root -- /bin/true \
		>"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] || fail "wrong key: $(said)"
	grep -q "WireGuard key $wrong is not a peer of the tunnel" "$ERR" || fail "message: $(said)"
	grep -q "$(cat "$T/wg.server.pub")" "$ERR" || fail "the message does not list the peers: $(said)"
	# the other peer's key names a peer, but that peer does not carry 10.0.11.1
	sluice_w run --name "$NAME" --link wireguard --wg-config "$T/client.conf" \
		--allow "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$other" --user root -- /bin/true \
		>"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] && grep -q 'not inside the AllowedIPs' "$ERR" || fail "wrong peer: $(said)"
	same_counts "$base" "a refused wireguard run"
	[ -z "$(wg_leftovers)" ] || fail "left: $(wg_leftovers | tr '\n' ' ')"
}

TESTS="$TESTS wireguard_infix_maddr_configures_the_peer"
test_wireguard_infix_maddr_configures_the_peer()
{
	wg_world_up
	# an interface with no peer at all: the one infix maddr declares it
	sed '/^\[Peer\]/,$d' "$T/client.conf" >"$T/client-nopeer.conf"
	maddr="/ip4/$NET_IP/udp/51820/wg/$SERVER_U/ip4/10.0.11.1/tcp/$OVERLAY_PORT"
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	TMO=60 sluice_w run --name "$NAME" --link wireguard --wg-config "$T/client-nopeer.conf" \
		--allow "$maddr" --user root -- /bin/sh -c "
		$PROBE connect tcp 10.0.11.1 $OVERLAY_PORT; $PROBE connect tcp 10.0.11.3 $OVERLAY_PORT
		true" >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] || fail "infix maddr: $(said)"
	[ "$(sed -n 1p "$OUT" | awk '{ print $1 }')" = ok ] || fail "registrar via infix maddr: $(said)"
	[ "$(sed -n 2p "$OUT" | awk '{ print $1 }')" != ok ] || fail "10.0.11.3 reachable: $(said)"
}

TESTS="$TESTS wireguard_sigkill_then_gc_leaves_nothing"
test_wireguard_sigkill_then_gc_leaves_nothing()
{
	wg_world_up
	base=$(counts)
	next_name
	nsenter --net=/run/netns/$W "$SLUICE" run --name "$NAME" --link wireguard \
		--wg-config "$T/client.conf" --allow "10.0.11.1:$OVERLAY_PORT" --user root -- \
		/bin/sleep 30 >/dev/null 2>&1 &
	pid=$!
	wait_for 100 sh -c "pgrep -f 'wireguard-go -f [s]w-' >/dev/null && ! ip -n $W -o link show | grep -q ' sw-'" ||
		fail "the wireguard cage did not come up"
	kill -KILL $pid
	wait $pid 2>/dev/null
	# wireguard-go dies with its supervisor (a death signal), and the cage with it
	wait_for 50 sh -c '[ -z "$(pgrep -f "wireguard-go -f [s]w-")" ]' ||
		fail "wireguard-go outlived its supervisor: $(pgrep -fa 'wireguard-go -f [s]w-')"
	# gc removes the UAPI socket once nothing answers on it; a daemon still dying as gc
	# looked is caught by the next gc
	wait_for 30 sh -c "nsenter --net=/run/netns/$W $SLUICE gc >>$T/out/gc.$TESTNO 2>&1 &&
		[ -z \"\$(ls /var/run/wireguard 2>/dev/null | grep '^sw-')\" ]" ||
		fail "gc: $(cat "$T/out/gc.$TESTNO")"
	same_counts "$base" "SIGKILL + gc of a wireguard cage"
	[ -z "$(wg_leftovers)" ] || fail "left: $(wg_leftovers | tr '\n' ' ')"
}

TESTS="$TESTS maddr_verify_against_the_live_tunnel"
test_maddr_verify_against_the_live_tunnel()
{
	wg_world_up
	in_net "$SLUICE" maddr verify "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$SERVER_U" --iface "$WGS" \
		>"$T/out/verify.ok" 2>&1 || fail "own key not verified: $(cat "$T/out/verify.ok")"
	client_u=$("$SLUICE" maddr key "$(cat "$T/wg.client.pub")")
	in_net "$SLUICE" maddr verify "/ip4/10.0.11.2/tcp/1/wg/$client_u" >"$T/out/verify.peer" 2>&1 ||
		fail "configured peer not verified: $(cat "$T/out/verify.peer")"
	other=$("$SLUICE" maddr key "$(wg genkey | wg pubkey)")
	in_net "$SLUICE" maddr verify "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$other" --iface "$WGS" \
		>"$T/out/verify.bad" 2>&1
	rc=$?
	[ $rc = 1 ] || fail "another key: exit $rc: $(cat "$T/out/verify.bad")"
}
