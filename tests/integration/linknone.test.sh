# linknone.test.sh: link none (the default), without and with root: the one-liner through a
# proxy on the world's loopback, no route out, forwards to TCP and unix targets under load,
# a target that is down, the DNS stub, and SOCKS5 stream isolation.

# sluice as user nobody in the world netns (an unprivileged run), never for more than TMO s.
nobody_w() {
	timeout -k 3 "${TMO:-60}" nsenter --net=/run/netns/$W runuser -u nobody -- "$SLUICE" "$@" \
		</dev/null
}

# (bg_start sets $log: keep test variables off that name)

# rl_cage [sluice options] -- CMD...: an unprivileged cage; sets NAME, RC, OUT, ERR.
rl_cage() {
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	nobody_w run --name "$NAME" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# A probe script: "LABEL ARGS..." specs, one verdict line each.
PROBE_LOOP='p=$1; shift; for spec; do printf "%s " "${spec%% *}"; $p ${spec#* }; done'

TESTS="$TESTS rootless_one_liner_gets_page_and_nothing_else"
test_rootless_one_liner_gets_page_and_nothing_else()
{
	base=$(counts)
	: >"$T/udp.log"
	rl_cage --proxy "$LOPROXY_URL" -- /bin/sh -c '
		curl -sf --max-time 10 http://'$NET_IP'/ >"$0.page"; echo "curl=$?"
		'"$PROBE_LOOP"'
		echo "links:"; ip -o link show
		echo "routes:"; ip -o route show table all; ip -o -6 route show table all
		echo end' "$T/out/rl.$TESTNO" "$PROBE" \
		"tcp4 connect tcp $NET_IP 80" "proxy connect tcp $WORLD_IP $PROXY_PORT" \
		"hostsvc connect tcp $WORLD_IP $HOSTSVC_PORT" "udp4 sendto udp $NET_IP $UDP_PORT" \
		"tcp6 connect tcp $NET_IP6 80" "mapped connect tcp ::ffff:$NET_IP 80" \
		"ping4 ping $NET_IP"
	[ "$RC" = 0 ] && grep -qx end "$OUT" || fail "cage did not run: $(said)"
	grep -qx 'curl=0' "$OUT" || fail "curl through the loopback proxy failed: $(said)"
	[ "$(cat "$T/out/rl.$TESTNO.page")" = "$CONTENT" ] || fail "wrong page"
	grep -q "http://$NET_IP/" "$T/out/tinyproxy-lo.log" || fail "the loopback tinyproxy saw nothing"
	denied tcp4 proxy hostsvc udp4 tcp6 mapped ping4
	udp_silent
	# lo and nothing else; every route is lo's
	links=$(sed -n '/^links:/,/^routes:/p' "$OUT" | grep -c '^[0-9]*:')
	[ "$links" = 1 ] && sed -n '/^links:/,/^routes:/p' "$OUT" | grep -q '^1: lo:' ||
		fail "links other than lo: $(sed -n '/^links:/,/^routes:/p' "$OUT" | tr '\n' '|')"
	sed -n '/^routes:/,/^end$/p' "$OUT" | grep -v '^routes:\|^end$' | grep -v ' dev lo ' &&
		fail "a route not on lo: $(said)"
	sed -n '/^routes:/,/^end$/p' "$OUT" | grep -q 'dev lo' || fail "no routes listed at all: $(said)"
	same_counts "$base" "an unprivileged run"
}

TESTS="$TESTS root_adds_ebpf_and_check_says_so"
test_root_adds_ebpf_and_check_says_so()
{
	# Without root a direct connect finds no route; as root the hooks refuse it first.
	rl_cage --proxy "$LOPROXY_URL" -- /bin/sh -c "$PROBE_LOOP; true" sh "$PROBE" \
		"tcp4 connect tcp $NET_IP 80"
	[ "$RC" = 0 ] || fail "unprivileged cage: $(said)"
	[ "$(verdict tcp4)" = ENETUNREACH ] || fail "unprivileged: $(grep tcp4 "$OUT")"
	LINK=none probes root "tcp4 connect tcp $NET_IP 80" "udp4 sendto udp $NET_IP $UDP_PORT"
	[ "$(verdict tcp4)" = EPERM ] || fail "as root: $(grep tcp4 "$OUT")"
	[ "$(verdict udp4)" = EPERM ] || fail "as root: $(grep udp4 "$OUT")"

	nobody_w check --proxy "$LOPROXY_URL" >"$T/out/check.nobody" 2>&1 || fail "check as nobody"
	sluice_w check --proxy "$LOPROXY_URL" >"$T/out/check.root" 2>&1 || fail "check as root"
	grep -q 'eBPF: off: cgroup hooks need root' "$T/out/check.nobody" ||
		fail "check as nobody does not say eBPF is off: $(grep eBPF "$T/out/check.nobody")"
	grep -q 'eBPF: cgroup connect4 connect6 sendmsg4 sendmsg6' "$T/out/check.root" ||
		fail "check as root does not list the hooks"
	grep -q 'user net mnt pid' "$T/out/check.nobody" || fail "check as nobody: no user namespace"
	for f in root nobody; do
		grep -q 'topology: lo only' "$T/out/check.$f" || fail "check as $f: topology"
		grep -q 'nftables: table inet sluice in the cage' "$T/out/check.$f" ||
			fail "check as $f: nftables"
	done
	nobody_w run --link veth -- /bin/true >"$T/out/veth.nobody" 2>&1
	rc=$?
	[ $rc = 125 ] && grep -q 'link veth needs root' "$T/out/veth.nobody" ||
		fail "veth without root: exit $rc: $(cat "$T/out/veth.nobody")"
}

TESTS="$TESTS unix_socket_forward_moves_checked_bytes"
test_unix_socket_forward_moves_checked_bytes()
{
	sock=$T/out/app.$TESTNO.sock
	bg_start "$T/unix.$TESTNO.log" $W "$PY" "$T/bin/relayload.py" serve-unix "$sock"
	wait_for 50 test -S "$sock" || fail "unix server not up"
	rl_cage --forward "7001=$sock" -- "$PY" "$T/bin/relayload.py" client 127.0.0.1 7001 \
		--conns 8 --bytes 300000 --down 500000
	[ "$RC" = 0 ] && grep -q '^ok 8 conns' "$OUT" || fail "unix forward: $(said)"
}

TESTS="$TESTS relay_many_connections_both_ways"
test_relay_many_connections_both_ways()
{
	bg_start "$T/streams.$TESTNO.log" $W "$PY" "$T/bin/relayload.py" serve 127.0.0.1 7100
	wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 7100 || fail "server not up"
	# 250 at once, each half-closing after its upload and then reading a larger reply; then
	# a few large ones. Bytes are checked end to end (hash up, pattern down).
	TMO=180 LINK=none cage root --forward 7100=127.0.0.1:7100 -- /bin/sh -c "
		$PY $T/bin/relayload.py client 127.0.0.1 7100 --conns 250 --bytes 200000 --down 400000 &&
		$PY $T/bin/relayload.py client 127.0.0.1 7100 --conns 4 --bytes 20000000 --down 20000000"
	[ "$RC" = 0 ] || fail "relay under load: $(said)"
	grep -q '^ok 250 conns' "$OUT" && grep -q '^ok 4 conns' "$OUT" || fail "relay: $(said)"
}

TESTS="$TESTS relay_target_down_is_reset_at_once"
test_relay_target_down_is_reset_at_once()
{
	rl_cage --forward 7200=127.0.0.1:7299 --forward 7201=$T/out/no-such.sock -- /bin/sh -c "
		$PY $T/bin/relayload.py refused 127.0.0.1 7200; $PY $T/bin/relayload.py refused 127.0.0.1 7201"
	[ "$RC" = 0 ] || fail "down targets: $(said)"
	[ "$(grep -c '^\(reset\|eof\|refused\) ' "$OUT")" = 2 ] || fail "down targets: $(said)"
	awk '$2 > 1000 { exit 1 }' "$OUT" || fail "a down target took over a second: $(said)"
}

TESTS="$TESTS dns_stub_answers_only_listed_names"
test_dns_stub_answers_only_listed_names()
{
	: >"$T/out/dns.log"
	bg_start "$T/dnslog.log" $W "$PY" "$T/bin/dnsd.py" serve --log "$T/out/dns.log" 127.0.0.1 $WORLD_IP
	wait_for 50 sh -c "ss -N $W -uln | grep -q '127.0.0.1:53 '" || fail "world DNS server not up"
	rl_cage --proxy "$LOPROXY_URL" --dns web.test=$NET_IP --dns v6.test=$NET_IP6 -- /bin/sh -c "
		getent ahostsv4 proxy.internal | head -1; echo rc=\$?
		getent ahostsv4 web.test | head -1
		getent hosts v6.test
		getent hosts example.com; echo example=\$?
		getent hosts sub.web.test; echo sub=\$?
		$PY -c 'import socket
try:
    socket.getaddrinfo(\"example.org\", 80)
except socket.gaierror as e:
    print(\"gai\", e.errno)'
		$PROBE sendto udp $WORLD_IP 53
		cat /etc/resolv.conf"
	[ "$RC" = 0 ] || fail "dns cage: $(said)"
	grep -q '^127.0.0.1 .*proxy.internal' "$OUT" || fail "proxy.internal: $(said)"
	grep -q "^$NET_IP .*web.test" "$OUT" || fail "web.test: $(said)"
	grep -q "^$NET_IP6 .*v6.test" "$OUT" || fail "v6.test: $(said)"
	grep -qx 'example=2' "$OUT" || fail "example.com resolved: $(said)"
	grep -qx 'sub=2' "$OUT" || fail "sub.web.test resolved: $(said)"
	grep -qx "gai $(python3 -c 'import socket; print(socket.EAI_NONAME)')" "$OUT" ||
		fail "example.org is not NXDOMAIN to getaddrinfo: $(said)"
	grep -qx 'nameserver 127.0.0.1' "$OUT" || fail "resolv.conf: $(said)"
	# the stub answered on the cage's side; the world's DNS server heard nothing at all
	in_world "$PY" - <<-PYEOF || fail "the world DNS server does not answer (the test is void)"
	import socket
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(2)
	s.sendto(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04live\x00\x00\x01\x00\x01", ("127.0.0.1", 53))
	s.recv(512)
	PYEOF
	sleep 0.2
	grep -v ' live ' "$T/out/dns.log" && fail "a cage's query reached the world's DNS server"
	grep -q ' live ' "$T/out/dns.log" || fail "the world DNS server logs nothing (the test is void)"
}

TESTS="$TESTS socks5_isolate_streams_fresh_credentials_names_kept"
test_socks5_isolate_streams_fresh_credentials_names_kept()
{
	slog=$T/out/socks.$TESTNO.log
	: >"$slog"
	bg_start "$T/socks.$TESTNO.out" $W "$PY" "$T/bin/socks5.py" 127.0.0.1 9050 --log "$slog" \
		--host web.test=$NET_IP
	wait_for 50 in_world "$PROBE" connect tcp 127.0.0.1 9050 || fail "SOCKS5 server not up"
	rl_cage --forward 127.0.0.1:1080=socks5h://127.0.0.1:9050,isolate_streams -- /bin/sh -c "
		curl -sf --max-time 10 --socks5-hostname 127.0.0.1:1080 http://web.test/
		curl -sf --max-time 10 --socks5-hostname 127.0.0.1:1080 http://web.test/"
	[ "$RC" = 0 ] || fail "curl through the isolating forward: $(said)"
	[ "$(grep -c "^$CONTENT\$" "$OUT")" = 2 ] || fail "pages: $(said)"
	"$PY" - "$slog" <<-'PYEOF' || fail "credentials: $(tr '\n' '|' <"$slog")"
	import json, sys
	rows = [json.loads(l) for l in open(sys.argv[1])]
	assert len(rows) == 2, rows
	for r in rows:
	    assert r["atyp"] == "domain" and r["dest"] == "web.test" and r["port"] == 80, r
	    assert r["user"] and r["pass"], r
	assert (rows[0]["user"], rows[0]["pass"]) != (rows[1]["user"], rows[1]["pass"]), rows
	PYEOF

	# profiles/tor.yaml: the same through the proxy variables, curl given no option at all
	: >"$slog"
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	nobody_w run --name "$NAME" --profile "$ROOT/profiles/tor.yaml" -- /bin/sh -c "
		curl -sf --max-time 10 http://web.test/; curl -sf --max-time 10 http://web.test/" \
		>"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] && [ "$(grep -c "^$CONTENT\$" "$OUT")" = 2 ] || fail "tor profile: $(said)"
	[ "$(cut -d, -f1,2 "$slog" | sort -u | wc -l)" = 2 ] || fail "tor profile credentials: $(cat "$slog")"
	grep -q '"atyp": "domain", "dest": "web.test"' "$slog" || fail "tor profile: names: $(cat "$slog")"
}
