# dns.test.sh: the cage's DNS stub (link none): proxy.internal and the --dns names resolve,
# every other name is NXDOMAIN over UDP and TCP, and no query ever leaves the cage: a DNS
# server in the world, made the world's own resolver for the test, hears nothing from it.

# dn_tools: this file's tools into $T/bin, where user nobody can run them.
dn_tools() {
	cp "$ROOT/tests/lib/dnsd.py" "$T/bin/" && chmod 755 "$T/bin/dnsd.py" ||
		fail "cannot copy dnsd.py"
	DN_PY=${PY:-/usr/bin/python3}
	DNSQ="$DN_PY $T/bin/dnsd.py query"
}

# dn_run USER [sluice run options] -- CMD...: a link-none cage started by USER (nobody: an
# unprivileged run; root: --user root), in a mount namespace of its own whose
# /etc/resolv.conf is $DN_RESOLV when that is set (so that a stub that forwarded would
# forward to our server). Sets NAME, RC, OUT, ERR.
dn_run() {
	who=$1
	shift
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	if [ "$who" = root ]; then
		set -- "$SLUICE" run --name "$NAME" --user root "$@"
	else
		set -- runuser -u "$who" -- "$(nobody_sluice)" run --name "$NAME" "$@"
	fi
	timeout -k 3 "${TMO:-60}" nsenter --net=/run/netns/$W unshare -m /bin/sh -c '
		[ -z "$DN_RESOLV" ] || mount --bind "$DN_RESOLV" /etc/resolv.conf || exit 124
		exec "$@"' sh "$@" </dev/null >"$OUT" 2>"$ERR"
	RC=$?
}

dn_stop() {
	for p in $DN_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $DN_PIDS; do
		wait "$p" 2>/dev/null
	done
	DN_PIDS=
}

# dn_world_dnsd: dnsd.py on port 53 of the world's 127.0.0.1, ::1, $WORLD_IP and $WORLD_IP6
# (stopped when the test ends); sets DNSLOG.
dn_world_dnsd() {
	DNSLOG=$T/out/dnsd.$TESTNO.log
	: >"$DNSLOG"
	trap dn_stop EXIT
	bg_start "$T/dnsd.$TESTNO.out" $W "$DN_PY" "$T/bin/dnsd.py" serve --log "$DNSLOG" \
		127.0.0.1 ::1 $WORLD_IP $WORLD_IP6
	DN_PIDS="$DN_PIDS $!"
	if ! wait_for 50 grep -q '^ready' "$T/dnsd.$TESTNO.out"; then
		fail "dnsd not up in the world: $(tail -n 1 "$T/dnsd.$TESTNO.out");" \
			"port 53 there (a server an earlier test left running?):" \
			"$(in_world ss -Hlunp 'sport = 53' | tr '\n' '|')"
	fi
}

TESTS="$TESTS dns_listed_names_resolve_all_else_nxdomain"
test_dns_listed_names_resolve_all_else_nxdomain()
{
	dn_tools
	sums=$(sha256sum /etc/resolv.conf /etc/hosts)
	dn_run nobody --proxy "$PROXY_URL" --dns web.test=$NET_IP --dns v6.test=$NET_IP6 -- /bin/sh -c "
		getent hosts proxy.internal
		getent ahostsv4 web.test | head -n 1
		getent hosts v6.test
		for n in example.com sub.web.test test web proxy.internal.example.com; do
			getent hosts \$n; echo \"getent \$n=\$?\"
		done
		$DN_PY -c '
import socket
for n in (\"example.org\", \"sub.proxy.internal\", \"localhost.example\"):
    try:
        print(\"gai\", n, socket.getaddrinfo(n, 80))
    except socket.gaierror as e:
        print(\"gai\", n, e.errno)
print(\"gai web.test\", socket.getaddrinfo(\"web.test\", 80, socket.AF_INET)[0][4][0])'
		for tcp in '' --tcp; do
			for q in 'proxy.internal A' 'web.test A' 'web.test AAAA' 'v6.test AAAA' \
				 'v6.test A' 'example.com A' 'example.com AAAA' 'example.com MX' \
				 'sub.web.test A' 'internal A' 'test A'; do
				printf 'q%s %s: ' \"\$tcp\" \"\$q\"; $DNSQ 127.0.0.1 \$q \$tcp
			done
		done
		echo resolv:; cat /etc/resolv.conf; echo hosts:; cat /etc/hosts; echo end"
	[ "$RC" = 0 ] && grep -qx end "$OUT" || fail "cage: $(said)"
	[ "$(sha256sum /etc/resolv.conf /etc/hosts)" = "$sums" ] ||
		fail "the host's /etc/resolv.conf or /etc/hosts changed"
	grep -q '^127\.0\.0\.1 *proxy\.internal' "$OUT" || fail "proxy.internal: $(said)"
	grep -q "^$NET_IP .*web\.test" "$OUT" || fail "web.test: $(said)"
	grep -q "^$NET_IP6 .*v6\.test" "$OUT" || fail "v6.test: $(said)"
	for n in example.com sub.web.test test web proxy.internal.example.com; do
		grep -qx "getent $n=2" "$OUT" || fail "getent hosts $n is not 'not found': $(grep "$n" "$OUT" | tr '\n' '|')"
	done
	noname=$(python3 -c 'import socket; print(socket.EAI_NONAME)')
	for n in example.org sub.proxy.internal localhost.example; do
		grep -qx "gai $n $noname" "$OUT" ||
			fail "getaddrinfo($n) is not EAI_NONAME: $(grep "^gai $n" "$OUT")"
	done
	grep -qx "gai web.test $NET_IP" "$OUT" || fail "getaddrinfo(web.test): $(grep '^gai web' "$OUT")"
	# the stub itself, over UDP and over TCP (getent may have answered from /etc/hosts)
	for tcp in '' --tcp; do
		chk() {
			got=$(grep "^q$tcp $1: " "$OUT" | sed 's/^[^:]*: //')
			[ "$got" = "$2" ] || fail "stub${tcp:+ over tcp}: $1 gave '$got', not '$2'"
		}
		chk 'proxy.internal A' "NOERROR A 127.0.0.1"
		chk 'web.test A' "NOERROR A $NET_IP"
		chk 'v6.test AAAA' "NOERROR AAAA $NET_IP6"
		chk 'example.com A' NXDOMAIN
		chk 'example.com AAAA' NXDOMAIN
		chk 'example.com MX' NXDOMAIN
		chk 'sub.web.test A' NXDOMAIN
		# a listed name has no record of the other family, and the parents of listed names
		# (empty non-terminals, NODATA by RFC 8020) none at all: no address, whatever the rcode
		for q in 'web.test AAAA' 'v6.test A' 'internal A' 'test A'; do
			got=$(grep "^q$tcp $q: " "$OUT" | sed 's/^[^:]*: //')
			case $got in
			"NOERROR -" | NXDOMAIN) ;;
			*) fail "stub${tcp:+ over tcp}: $q gave '$got'" ;;
			esac
		done
	done
	sed -n '/^resolv:$/,/^hosts:$/p' "$OUT" | grep '^nameserver' >"$T/out/dn-ns.$TESTNO"
	[ "$(cat "$T/out/dn-ns.$TESTNO")" = "nameserver 127.0.0.1" ] ||
		fail "resolv.conf nameservers: $(tr '\n' '|' <"$T/out/dn-ns.$TESTNO")"
	sed -n '/^hosts:$/,/^end$/p' "$OUT" | grep -q "^${NET_IP}[[:space:]].*web\.test" ||
		fail "/etc/hosts lacks web.test: $(sed -n '/^hosts:$/,/^end$/p' "$OUT" | tr '\n' '|')"
}

TESTS="$TESTS dns_stub_names_are_case_insensitive"
test_dns_stub_names_are_case_insensitive()
{
	# RFC 4343: a resolver may send any case (0x20 randomisation does); the answer must not change
	dn_tools
	dn_run nobody --proxy "$PROXY_URL" --dns web.test=$NET_IP -- /bin/sh -c "
		printf 'upper '; $DNSQ 127.0.0.1 WEB.TEST A
		printf 'mixed '; $DNSQ 127.0.0.1 Proxy.Internal A --tcp
		printf 'dot '; $DNSQ 127.0.0.1 web.test. A"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	grep -qx "upper NOERROR A $NET_IP" "$OUT" || fail "WEB.TEST: $(grep '^upper' "$OUT")"
	grep -qx "mixed NOERROR A 127.0.0.1" "$OUT" || fail "Proxy.Internal: $(grep '^mixed' "$OUT")"
	grep -qx "dot NOERROR A $NET_IP" "$OUT" || fail "web.test.: $(grep '^dot' "$OUT")"
}

TESTS="$TESTS dns_no_query_ever_leaves_the_cage"
test_dns_no_query_ever_leaves_the_cage()
{
	dn_tools
	dn_world_dnsd
	# The world's own resolver is dnsd for this test: a stub that forwarded, or a supervisor
	# that resolved a cage's name, would be heard there.
	DN_RESOLV=$T/out/dn-resolv.$TESTNO
	printf 'nameserver 127.0.0.1\nnameserver %s\noptions timeout:1 attempts:1\n' "$WORLD_IP" \
		>"$DN_RESOLV"
	chmod 644 "$DN_RESOLV"
	export DN_RESOLV
	# the test is void unless the world's lookups do reach dnsd, by both paths
	nsenter --net=/run/netns/$W unshare -m /bin/sh -c '
		mount --bind "$1" /etc/resolv.conf && getent hosts live-check.test
		'"$DNSQ"' '$WORLD_IP' live-check-tcp.test A --tcp' sh "$DN_RESOLV" >/dev/null 2>&1
	grep -q ' live-check\.test ' "$DNSLOG" ||
		fail "the world's getent never reached dnsd (the test is void): $(tr '\n' '|' <"$DNSLOG")"
	grep -q '^tcp .* live-check-tcp\.test A$' "$DNSLOG" || fail "dnsd over TCP at $WORLD_IP is not up"
	before=$(wc -l <"$DNSLOG")
	script="
		for n in exfil-\$(id -u).example.com proxy.internal web.test secret.example.org; do
			getent hosts \$n; getent ahosts \$n
		done
		$DN_PY -c 'import socket
for n in (\"leak-a.example\", \"leak-b.example\"):
    try: socket.getaddrinfo(n, 443)
    except socket.gaierror: pass'
		curl -s --max-time 3 http://leak-curl.example/ >/dev/null
		for q in 'leak-udp.example A' 'leak-mx.example MX'; do
			$DNSQ 127.0.0.1 \$q; $DNSQ 127.0.0.1 \$q --tcp
		done
		for s in $WORLD_IP $WORLD_IP6 ::1; do
			printf 'direct %s ' \$s; $DNSQ \$s direct-udp.example A --timeout 1
			printf 'directtcp %s ' \$s; $DNSQ \$s direct-tcp.example A --tcp --timeout 1
		done
		echo done"
	for who in nobody root; do
		dn_run $who --proxy "$PROXY_URL" --dns web.test=$NET_IP -- /bin/sh -c "$script"
		[ "$RC" = 0 ] && grep -qx 'done' "$OUT" || fail "$who: cage: $(said)"
		sleep 0.3
		after=$(wc -l <"$DNSLOG")
		[ "$after" = "$before" ] ||
			fail "$who: the world's DNS server heard $((after - before)) queries: $(tail -n +$((before + 1)) "$DNSLOG" | head -n 5 | tr '\n' '|')"
		grep "^direct" "$OUT" | grep -v ' E[A-Z]*$\| TIMEOUT$' &&
			fail "$who: a direct query to the world's DNS server got an answer: $(grep '^direct' "$OUT" | tr '\n' '|')"
		grep -q "^$NET_IP .*web\.test" "$OUT" || fail "$who: web.test did not resolve: $(said)"
	done
	# and it is still alive: silence was not a dead server
	in_world $DNSQ 127.0.0.1 still-alive.test A >/dev/null
	grep -q ' still-alive\.test A$' "$DNSLOG" || fail "dnsd died during the test (the test is void)"
}

TESTS="$TESTS dns_proxy_internal_names_the_proxy"
test_dns_proxy_internal_names_the_proxy()
{
	# a client told to use proxy.internal by name reaches the proxy through its forward
	dn_run nobody --proxy "$PROXY_URL" -- /usr/bin/curl -sf --max-time 10 \
		-x "http://proxy.internal:$PROXY_PORT" http://$NET_IP/
	[ "$RC" = 0 ] && [ "$(cat "$OUT")" = "$CONTENT" ] || fail "curl -x proxy.internal: $(said)"
}
