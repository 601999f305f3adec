# egress.test.sh: a cage reaches the proxy and nothing else, by any protocol or address form.

TESTS="$TESTS control_unconfined_netns_gets_out"
test_control_unconfined_netns_gets_out()
{
	# Proves the world is honest: a netns with a link and no sluice layers does get out, and the
	# servers answer. Without this, every denial below could be the world's doing.
	control_up || fail "could not make the control netns"
	OUT=$T/control.out
	for spec in "tcp4 connect tcp $NET_IP 80" "tcp6 connect tcp $NET_IP6 80" \
		    "hostsvc connect tcp $WORLD_IP $HOSTSVC_PORT" "udp4 connect udp $NET_IP $UDP_PORT" \
		    "ping4 ping $NET_IP" "tfo connect tcp $NET_IP 80 --tfo"; do
		printf '%s ' "${spec%% *}"
		# shellcheck disable=SC2086
		in_control "$PROBE" ${spec#* }
	done >"$OUT" 2>&1
	allowed tcp4 hostsvc udp4 ping4 tfo
	# The control netns has no IPv6 address; the world itself must reach the internet over v6.
	in_world "$PROBE" connect tcp $NET_IP6 80 | grep -q '^ok ' || fail "world cannot reach [$NET_IP6]:80"
	in_world "$PROBE" sendto udp ::ffff:$NET_IP $UDP_PORT | grep -q '^ok ' ||
		fail "world cannot send to ::ffff:$NET_IP"
	wait_for 20 test -s "$T/udp.log" || fail "the UDP listener received nothing from the control"
	: >"$T/udp.log"
	got=$(in_control curl -sf --max-time 5 -x "$PROXY_URL" http://$NET_IP/) ||
		fail "curl through tinyproxy from the control failed"
	[ "$got" = "$CONTENT" ] || fail "page through tinyproxy: '$got'"
	control_down
}

curl_through_proxy()
{
	cage root -- /usr/bin/curl -sf --max-time 10 http://$NET_IP/
	[ "$RC" = 0 ] || fail "curl in the cage: $(said)"
	[ "$(cat "$OUT")" = "$CONTENT" ] || fail "wrong page: $(said)"
	grep -q "http://$NET_IP/" "$T/out/tinyproxy.log" || fail "tinyproxy did not log the request"
}

TESTS="$TESTS curl_through_proxy_gets_page"
test_curl_through_proxy_gets_page()
{
	LINK=none curl_through_proxy
}

TESTS="$TESTS curl_through_proxy_gets_page_veth"
test_curl_through_proxy_gets_page_veth()
{
	curl_through_proxy
}

# A veth is made with one queue each way on both ends (said at creation: cutting a
# per-CPU default down afterwards waits for RCU grace periods with the RTNL held).
TESTS="$TESTS veth_has_one_queue_each_way"
test_veth_has_one_queue_each_way()
{
	cage root -- /bin/sh -c 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; ip -d -o link show'
	[ "$RC" = 0 ] || fail "ip -d link in the cage: $(said)"
	got=$(grep -v ': lo:' "$OUT" | grep -o 'numtxqueues [0-9]* numrxqueues [0-9]*')
	[ "$got" = "numtxqueues 1 numrxqueues 1" ] || fail "the cage's end: '$got'"
}

TESTS="$TESTS proxy_variables_are_set"
test_proxy_variables_are_set()
{
	cage nobody -- /usr/bin/env
	[ "$RC" = 0 ] || fail "env in the cage: $(said)"
	for v in http_proxy HTTP_PROXY https_proxy HTTPS_PROXY ALL_PROXY all_proxy; do
		val=$(sed -n "s/^$v=//p" "$OUT")
		case $val in
		"$PROXY_URL" | "$PROXY_URL/") ;;
		*) fail "$v is '$val', not $PROXY_URL" ;;
		esac
	done
}

eperm_fast()
{
	probes root "tcp connect tcp $NET_IP 80"
	[ "$(verdict tcp)" = EPERM ] || fail "expected EPERM: $(grep '^tcp ' "$OUT")"
	awk -v t="$(ms tcp)" 'BEGIN { exit !(t < 500) }' || fail "EPERM took $(ms tcp) ms"
}

TESTS="$TESTS direct_tcp_gets_eperm_fast"
test_direct_tcp_gets_eperm_fast()
{
	eperm_fast
}

TESTS="$TESTS direct_tcp_gets_eperm_fast_link_none"
test_direct_tcp_gets_eperm_fast_link_none()
{
	LINK=none eperm_fast
}

TESTS="$TESTS direct_udp_fails"
test_direct_udp_fails()
{
	probes root "connect connect udp $NET_IP $UDP_PORT" "sendto sendto udp $NET_IP $UDP_PORT" \
		"hostudp sendto udp $WORLD_IP $UDP_PORT"
	denied connect sendto hostudp
	udp_silent
}

TESTS="$TESTS direct_ipv6_fails"
test_direct_ipv6_fails()
{
	probes root "tcp connect tcp $NET_IP6 80" "udp connect udp $NET_IP6 $UDP_PORT" \
		"sendto sendto udp $NET_IP6 $UDP_PORT"
	denied tcp udp sendto
	udp_silent
}

TESTS="$TESTS mapped_ipv4_fails"
test_mapped_ipv4_fails()
{
	probes root "tcp connect tcp ::ffff:$NET_IP 80" "udp connect udp ::ffff:$NET_IP $UDP_PORT" \
		"sendto sendto udp ::ffff:$NET_IP $UDP_PORT" \
		"hostsvc connect tcp ::ffff:$WORLD_IP $HOSTSVC_PORT"
	denied tcp udp sendto hostsvc
	udp_silent
}

TESTS="$TESTS tfo_fails"
test_tfo_fails()
{
	before=$(wc -l <"$T/http.log")
	probes root "tfo4 connect tcp $NET_IP 80 --tfo" "tfo6 connect tcp $NET_IP6 80 --tfo" \
		"tfomapped connect tcp ::ffff:$NET_IP 80 --tfo"
	denied tfo4 tfo6 tfomapped
	sleep 0.2
	after=$(wc -l <"$T/http.log")
	[ "$before" = "$after" ] || fail "the web server saw something: $(tail -n 1 "$T/http.log")"
}

TESTS="$TESTS icmp_fails"
test_icmp_fails()
{
	probes root "ping4 ping $NET_IP" "ping6 ping $NET_IP6" "pinghost ping $WORLD_IP"
	denied ping4 ping6 pinghost
	probes nobody "ping4 ping $NET_IP" "ping6 ping $NET_IP6"
	denied ping4 ping6
}

TESTS="$TESTS host_other_port_refused"
test_host_other_port_refused()
{
	probes root "proxy connect tcp $WORLD_IP $PROXY_PORT" \
		"hostsvc connect tcp $WORLD_IP $HOSTSVC_PORT" "hostweb connect tcp $WORLD_IP 80"
	allowed proxy
	denied hostsvc hostweb
}

TESTS="$TESTS inbound_from_host_refused"
test_inbound_from_host_refused()
{
	next_name
	ready=$T/out/listen.$NAME
	# The cage listens on its own eth0 address; the world (the host) tries to connect to it.
	nsenter --net=/run/netns/$W "$SLUICE" run --name "$NAME" --link veth \
		--proxy "$PROXY_URL" --user root -- /bin/sh -c '
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		a=$(ip -4 -o addr show eth0 | awk "{ split(\$4, a, \"/\"); print a[1] }")
		echo "addr $a" >"$2.addr"
		$1 listen tcp "$a" 7777 --timeout 2500 >"$2"' sh "$PROBE" "$ready" \
		</dev/null >"$T/out/inbound.out" 2>"$T/out/inbound.err" &
	pid=$!
	wait_for 100 grep -q listening "$ready" 2>/dev/null
	addr=$(awk '{ print $2 }' "$ready.addr" 2>/dev/null)
	if ! grep -q listening "$ready" 2>/dev/null; then
		kill -KILL $pid 2>/dev/null
		fail "the cage never listened (addr '$addr'): $(cat "$T/out/inbound.err" "$ready" 2>/dev/null | tr '\n' '|')"
	fi
	got=$(in_world "$PROBE" connect tcp "$addr" 7777 --timeout 1500)
	wait_pid $pid 10
	case $got in
	ok*) fail "the host connected to the cage's listener at $addr:7777" ;;
	E*) ;;
	*) fail "no verdict from the host's connect: '$got'" ;;
	esac
	grep -q '^ok' "$ready" && fail "the cage accepted a connection"
	true
}

TESTS="$TESTS offline_profile_reaches_nothing"
test_offline_profile_reaches_nothing()
{
	[ -f profiles/offline.yaml ] || fail "profiles/offline.yaml is missing"
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	sluice_w run --profile profiles/offline.yaml --name "$NAME" --user root -- /bin/sh -c '
		for spec; do
			printf "%s " "${spec%% *}"
			'"$PROBE"' ${spec#* }
		done
		echo probes-done' sh "proxy connect tcp $WORLD_IP $PROXY_PORT" \
		"tcp connect tcp $NET_IP 80" "udp sendto udp $NET_IP $UDP_PORT" >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] && grep -qx probes-done "$OUT" || fail "cage did not run the probes: $(said)"
	denied proxy tcp udp
	udp_silent
}

TESTS="$TESTS off_host_allow_is_forwarded_only_there"
test_off_host_allow_is_forwarded_only_there()
{
	# An allowed endpoint beyond the host is routed through the host side's forward chain and
	# masqueraded; the same host's other port, and every other address, stay closed.
	cage nobody --allow $NET_IP:80 -- /bin/sh -c "
		printf 'web '; $PROBE connect tcp $NET_IP 80
		printf 'otherport '; $PROBE connect tcp $NET_IP 81
		printf 'udp '; $PROBE sendto udp $NET_IP $UDP_PORT
		true"
	[ "$RC" = 0 ] || fail "cage did not run the probes: $(said)"
	allowed web
	denied otherport udp
	udp_silent
	cage nobody --allow $NET_IP:80 -- /usr/bin/curl -sf --noproxy '*' --max-time 10 http://$NET_IP/
	[ "$RC" = 0 ] && [ "$(cat "$OUT")" = "$CONTENT" ] || fail "direct curl to the allowed endpoint: $(said)"
	grep -q "$WORLD_IP" "$T/http.log" || fail "the web server did not see the masqueraded world address"
}
