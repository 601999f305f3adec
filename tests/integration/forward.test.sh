# forward.test.sh: link none's forwards (the relay): every LISTEN and TARGET form, unix-socket
# targets, 250 concurrent connections with every byte checked both ways, half-close in both
# directions, targets that are down, SOCKS5 targets with and without isolate_streams, and
# forwards from a profile. Servers run in the world (where sluice runs) and are this test's
# own: each test stops what it started.

FW_PORT=7400			# relayload's port in the world (7400-7499 are this file's)
FW_SOCKS_PORT=9060		# socks5.py's port on the world's loopback

# fw_tools: this file's tools into $T/bin, where user nobody can run them.
fw_tools() {
	cp "$ROOT/tests/lib/relayload.py" "$ROOT/tests/lib/socks5.py" "$T/bin/" &&
		chmod 755 "$T/bin/relayload.py" "$T/bin/socks5.py" || fail "cannot copy the test tools"
	FW_PY=${PY:-/usr/bin/python3}
	RLOAD="$FW_PY $T/bin/relayload.py"
}

# fw_serve LOG CMD...: a server in the world for this test; waits for its "ready" line. It is
# stopped when the test ends (the test's subshell never hands bg_start's PIDS to world_down).
fw_serve() {
	fw_log=$1
	shift
	trap fw_stop EXIT
	bg_start "$fw_log" $W "$@"
	FW_PIDS="$FW_PIDS $!"
	wait_for 50 grep -q '^ready' "$fw_log" || fail "server not up ($*): $(head -c 300 "$fw_log")"
}

fw_stop() {
	for p in $FW_PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $FW_PIDS; do
		wait "$p" 2>/dev/null
	done
	FW_PIDS=
}

# fw_ok_lines N: $OUT has exactly N "ok " lines from relayload clients and no FAIL.
fw_ok_lines() {
	grep '^FAIL' "$OUT" && fail "a client failed: $(said)"
	[ "$(grep -c '^ok ' "$OUT")" = "$1" ] || fail "expected $1 ok lines: $(said)"
	true
}

TESTS="$TESTS forward_every_listen_and_target_form"
test_forward_every_listen_and_target_form()
{
	fw_tools
	# one dual-stack server, reached as the world's 127.0.0.1, ::1, $WORLD_IP and $WORLD_IP6
	fw_serve "$T/fw-srv.$TESTNO.log" $RLOAD serve :: $FW_PORT
	run_as nobody --forward 7401=127.0.0.1:$FW_PORT --forward "127.0.0.1:7402=[::1]:$FW_PORT" \
		--forward 127.0.0.7:7403=$WORLD_IP:$FW_PORT \
		--forward "[::1]:7404=[$WORLD_IP6]:$FW_PORT" -- /bin/sh -c "
		$RLOAD client 127.0.0.1 7401 --conns 5 --bytes 200000
		$RLOAD client 127.0.0.1 7402 --conns 5 --bytes 200000 --down 700000
		$RLOAD client 127.0.0.7 7403 --conns 5 --bytes 700000 --down 1000
		$RLOAD client ::1 7404 --conns 5 --bytes 200000
		printf 'other-addr '; $RLOAD refused 127.0.0.1 7403"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	fw_ok_lines 4
	# a forward listens on its own address only
	grep -q '^other-addr refused ' "$OUT" ||
		fail "127.0.0.1:7403 should be refused (the forward is on 127.0.0.7): $(said)"
	grep -q 'conn-error' "$fw_log" && fail "server: $(grep conn-error "$fw_log" | head -3)"
	true
}

fw_unix_socket()
{
	fw_tools
	sock=$T/out/fw.$TESTNO.sock
	fw_serve "$T/fw-unix.$TESTNO.log" $RLOAD serve-unix "$sock"
	for who in nobody root; do
		run_as $who --forward 7410=$sock -- $RLOAD client 127.0.0.1 7410 --conns 20 \
			--bytes 1000000 --down 1500000
		[ "$RC" = 0 ] || fail "$who: cage: $(said)"
		fw_ok_lines 1
	done
	grep -q 'conn-error' "$fw_log" && fail "server: $(grep conn-error "$fw_log" | head -3)"
	true
}

TESTS="$TESTS forward_to_unix_socket_moves_checked_bytes"
test_forward_to_unix_socket_moves_checked_bytes()
{
	fw_unix_socket
}

# fw_load USER: 250 connections open at once end to end, ~1 MB up and ~1 MB down each.
fw_load()
{
	fw_tools
	fw_serve "$T/fw-load.$TESTNO.log" $RLOAD serve 127.0.0.1 $FW_PORT
	TMO=240 run_as "$1" --forward 7420=127.0.0.1:$FW_PORT -- $RLOAD client 127.0.0.1 7420 \
		--conns 250 --bytes 1048576 --down 1000000 --timeout 200
	[ "$RC" = 0 ] || fail "$1: relay under load: $(said)"
	fw_ok_lines 1
	grep -q '^ok 250 conns (250 open at once)' "$OUT" || fail "not 250 open at once: $(said)"
	grep -q 'conn-error' "$fw_log" && fail "server: $(grep conn-error "$fw_log" | head -3)"
	true
}

TESTS="$TESTS forward_250_concurrent_conns_1mb_each_way_rootless"
test_forward_250_concurrent_conns_1mb_each_way_rootless()
{
	fw_load nobody
}

TESTS="$TESTS forward_250_concurrent_conns_1mb_each_way_root"
test_forward_250_concurrent_conns_1mb_each_way_root()
{
	fw_load root
}

TESTS="$TESTS forward_half_close_either_side_first"
test_forward_half_close_either_side_first()
{
	# client first: the client half-closes after its upload and still reads the whole reply;
	# server first: the server sends its part and half-closes, the client reads it to EOF and
	# only then uploads, which must still arrive whole (the server checks it and says so).
	fw_tools
	fw_serve "$T/fw-half.$TESTNO.log" $RLOAD serve 127.0.0.1 $FW_PORT
	run_as nobody --forward 7430=127.0.0.1:$FW_PORT -- /bin/sh -c "
		$RLOAD client 127.0.0.1 7430 --conns 20 --bytes 300000 --down 3000000
		$RLOAD client 127.0.0.1 7430 --conns 20 --bytes 3000000 --down 300000 --server-first
		sleep 1"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	fw_ok_lines 2
	wait_for 50 sh -c "[ \$(grep -c '^up-ok ' '$fw_log') -ge 20 ]"
	grep '^up-BAD\|conn-error' "$fw_log" && fail "server: $(grep '^up-BAD\|conn-error' "$fw_log" | head -3)"
	n=$(grep -c '^up-ok .* 3000000$' "$fw_log")
	[ "$n" = 20 ] || fail "the server got $n of 20 whole uploads after its own half-close: $(tail -n 3 "$fw_log" | tr '\n' '|')"
}

TESTS="$TESTS forward_target_down_is_reset_at_once_then_recovers"
test_forward_target_down_is_reset_at_once_then_recovers()
{
	fw_tools
	stale=$T/out/fw-stale.$TESTNO.sock
	# a socket file nobody listens on any more
	"$FW_PY" -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$stale" ||
		fail "cannot make a stale socket"
	chmod 777 "$stale"
	go=$T/out/fw-go.$TESTNO
	# The cage tries every forward, then waits for the test to bring the TCP target up and
	# tries the first forward again: a relay must not remember a failure.
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	timeout -k 3 60 nsenter --net=/run/netns/$W runuser -u nobody -- "$(nobody_sluice)" run \
		--name "$NAME" --forward 7440=127.0.0.1:7499 --forward 7441=$T/out/fw-none.sock \
		--forward 7442="$stale" --forward 7443=$NET_IP:7499 \
		--forward 7444=socks5h://127.0.0.1:7498 \
		--forward 7445=socks5h://127.0.0.1:7498,isolate_streams -- /bin/sh -c "
		for p in 7440 7441 7442 7443 7444; do printf 'p%s ' \$p; $RLOAD refused 127.0.0.1 \$p; done
		t0=\$(date +%s%N)
		curl -s --max-time 5 --socks5-hostname 127.0.0.1:7445 http://web.test/; c=\$?
		echo \"isolate curl=\$c ms=\$(( (\$(date +%s%N) - t0) / 1000000 ))\"
		echo waiting
		n=0; while [ ! -e $go ] && [ \$n -lt 100 ]; do sleep 0.1; n=\$((n + 1)); done
		$RLOAD client 127.0.0.1 7440 --conns 3 --bytes 100000" </dev/null >"$OUT" 2>"$ERR" &
	cpid=$!
	wait_for 150 grep -q '^waiting' "$OUT"
	fw_serve "$T/fw-late.$TESTNO.log" $RLOAD serve 127.0.0.1 7499
	touch "$go"
	wait_pid $cpid 40
	RC=$?
	[ "$RC" = 0 ] || fail "cage: $(said)"
	for p in 7440 7441 7442 7443 7444; do
		line=$(grep "^p$p " "$OUT") || fail "no verdict for forward $p: $(said)"
		set -- $line
		case $2 in
		refused | reset | eof) ;;
		*) fail "forward $p to a down target: $line" ;;
		esac
		[ "$3" -lt 500 ] || fail "forward $p: the down target took $3 ms to show: $line"
	done
	line=$(grep '^isolate ' "$OUT")
	case $line in
	"isolate curl=0 "*) fail "curl through an isolating forward to a down SOCKS server succeeded" ;;
	"isolate curl="*) ;;
	*) fail "no verdict for the isolating forward: $(said)" ;;
	esac
	ms=${line##*ms=}
	[ "$ms" -lt 1000 ] || fail "the isolating forward to a down SOCKS server took $ms ms: $line"
	fw_ok_lines 1
}

# fw_socks: socks5.py on the world's loopback, names from its static map only.
fw_socks() {
	slog=$T/out/fw-socks.$TESTNO.log
	: >"$slog"
	fw_serve "$T/fw-socks.$TESTNO.out" "$FW_PY" "$T/bin/socks5.py" 127.0.0.1 $FW_SOCKS_PORT \
		--log "$slog" --host web.test=$NET_IP --host web6.test=$NET_IP6
}

TESTS="$TESTS forward_socks5_isolate_streams_fresh_credentials_request_unchanged"
test_forward_socks5_isolate_streams_fresh_credentials_request_unchanged()
{
	fw_tools
	fw_socks
	run_as nobody --forward 127.0.0.1:1080=socks5h://127.0.0.1:$FW_SOCKS_PORT,isolate_streams \
		-- /bin/sh -c "
		c() { p=\$(curl -sf --max-time 10 \"\$@\"); echo \"page=\$p curl=\$?\"; }
		c --socks5-hostname 127.0.0.1:1080 http://web.test/
		c --socks5-hostname 127.0.0.1:1080 http://web.test/
		c -x socks5h://alice:secret@127.0.0.1:1080 http://web.test/
		c --socks5 127.0.0.1:1080 http://$NET_IP/
		c --socks5 127.0.0.1:1080 http://[$NET_IP6]/
		c --socks5-hostname 127.0.0.1:1080 http://nosuch.test/"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	[ "$(grep -c "^page=$CONTENT curl=0\$" "$OUT")" = 5 ] || fail "pages: $(said)"
	tail -n 1 "$OUT" | grep -q ' curl=0$' && fail "an unknown name got through: $(said)"
	"$FW_PY" - "$slog" "$NET_IP" "$NET_IP6" <<-'PYEOF' || fail "SOCKS log: $(tr '\n' '|' <"$slog")"
	import json, sys
	rows = [json.loads(l) for l in open(sys.argv[1])]
	net, net6 = sys.argv[2], sys.argv[3]
	want = [("domain", "web.test"), ("domain", "web.test"), ("domain", "web.test"),
	        ("ipv4", net), ("ipv6", net6), ("domain", "nosuch.test")]
	assert [(r["atyp"], r["dest"]) for r in rows] == want, ("requests", rows)
	assert all(r["port"] == 80 for r in rows), ("ports", rows)
	assert all(r["user"] and r["pass"] for r in rows), ("no credentials", rows)
	creds = [(r["user"], r["pass"]) for r in rows]
	assert len(set(creds)) == len(creds), ("credentials repeat", creds)
	assert ("alice", "secret") not in creds, ("the client's own credentials went upstream", creds)
	PYEOF
}

TESTS="$TESTS forward_socks5_without_isolation_is_plain_bytes"
test_forward_socks5_without_isolation_is_plain_bytes()
{
	# without isolate_streams the forward is a byte pipe to the SOCKS server: the client's own
	# method and credentials arrive as they were sent
	fw_tools
	fw_socks
	run_as nobody --forward 1081=socks5h://127.0.0.1:$FW_SOCKS_PORT -- /bin/sh -c "
		curl -sf --max-time 10 -x socks5h://alice:secret@127.0.0.1:1081 http://web.test/
		curl -sf --max-time 10 --socks5-hostname 127.0.0.1:1081 http://web.test/"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	[ "$(grep -c "^$CONTENT\$" "$OUT")" = 2 ] || fail "pages: $(said)"
	"$FW_PY" - "$slog" <<-'PYEOF' || fail "SOCKS log: $(tr '\n' '|' <"$slog")"
	import json, sys
	rows = [json.loads(l) for l in open(sys.argv[1])]
	assert len(rows) == 2, rows
	assert (rows[0]["user"], rows[0]["pass"]) == ("alice", "secret"), rows[0]
	assert rows[1]["user"] is None and rows[1]["pass"] is None, rows[1]
	assert all(r["atyp"] == "domain" and r["dest"] == "web.test" for r in rows), rows
	PYEOF
}

TESTS="$TESTS proxy_socks5h_isolate_streams_through_proxy_variables"
test_proxy_socks5h_isolate_streams_through_proxy_variables()
{
	# --proxy socks5h://127.0.0.1:P --isolate-streams: curl, given no option, goes through the
	# proxy variables; every connection upstream has credentials of its own, names stay names
	fw_tools
	fw_socks
	run_as nobody --proxy socks5h://127.0.0.1:$FW_SOCKS_PORT --isolate-streams -- /bin/sh -c "
		env | grep -i '^all_proxy='
		curl -sf --max-time 10 http://web.test/; curl -sf --max-time 10 http://web.test/"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	[ "$(grep -c "^$CONTENT\$" "$OUT")" = 2 ] || fail "pages: $(said)"
	grep -q "^ALL_PROXY=socks5h://127.0.0.1:$FW_SOCKS_PORT/\{0,1\}\$" "$OUT" ||
		fail "ALL_PROXY: $(said)"
	"$FW_PY" - "$slog" <<-'PYEOF' || fail "SOCKS log: $(tr '\n' '|' <"$slog")"
	import json, sys
	rows = [json.loads(l) for l in open(sys.argv[1])]
	assert len(rows) == 2, rows
	assert all(r["atyp"] == "domain" and r["dest"] == "web.test" and r["port"] == 80 for r in rows), rows
	assert all(r["user"] and r["pass"] for r in rows), rows
	assert (rows[0]["user"], rows[0]["pass"]) != (rows[1]["user"], rows[1]["pass"]), rows
	PYEOF
}

TESTS="$TESTS proxy_off_loopback_is_forwarded_at_same_port"
test_proxy_off_loopback_is_forwarded_at_same_port()
{
	# with link none any proxy is served by a forward at 127.0.0.1 on the proxy's port
	run_as nobody --proxy "$PROXY_URL" -- /bin/sh -c '
		env | grep "^HTTP_PROXY="
		curl -sf --max-time 10 http://'$NET_IP'/'
	[ "$RC" = 0 ] || fail "cage: $(said)"
	grep -q "^HTTP_PROXY=http://127.0.0.1:$PROXY_PORT/\{0,1\}\$" "$OUT" || fail "HTTP_PROXY: $(said)"
	grep -qx "$CONTENT" "$OUT" || fail "page: $(said)"
	grep -q "http://$NET_IP/" "$T/out/tinyproxy.log" || fail "the world's tinyproxy saw nothing"
}

TESTS="$TESTS forward_from_profile_both_forms"
test_forward_from_profile_both_forms()
{
	fw_tools
	fw_socks
	sock=$T/out/fw-prof.$TESTNO.sock
	fw_serve "$T/fw-prof.$TESTNO.log" $RLOAD serve-unix "$sock"
	cat >"$T/out/fw-prof.$TESTNO.yaml" <<-EOF
	forward:
	  - 7450=$sock
	  - listen: 127.0.0.1:1082
	    target: socks5h://127.0.0.1:$FW_SOCKS_PORT
	    isolate_streams: true
	EOF
	chmod 644 "$T/out/fw-prof.$TESTNO.yaml"
	run_as nobody --profile "$T/out/fw-prof.$TESTNO.yaml" -- /bin/sh -c "
		$RLOAD client 127.0.0.1 7450 --conns 4 --bytes 100000
		curl -sf --max-time 10 --socks5-hostname 127.0.0.1:1082 http://web.test/"
	[ "$RC" = 0 ] || fail "cage: $(said)"
	fw_ok_lines 1
	grep -qx "$CONTENT" "$OUT" || fail "page through the profile's SOCKS forward: $(said)"
	grep -q '"user": "[^"]' "$slog" || fail "the profile's isolate_streams sent no credentials: $(cat "$slog")"
}

TESTS="$TESTS forward_bad_specs_exit_125_before_anything"
test_forward_bad_specs_exit_125_before_anything()
{
	# a forward that would listen off the cage's loopback, isolate a non-SOCKS target, use
	# port 0 or 70000, lack a side, clash with another forward or with the DNS stub: one line
	# naming it, status 125, and nothing made
	base=$(counts)
	for who in nobody root; do
		for spec in 0.0.0.0:7460=127.0.0.1:$FW_PORT $WORLD_IP:7460=127.0.0.1:$FW_PORT \
			"[::]:7460=127.0.0.1:$FW_PORT" 7460=127.0.0.1:$FW_PORT,isolate_streams \
			7460=$T/out/x.sock,isolate_streams 70000=127.0.0.1:$FW_PORT 7460=127.0.0.1:0 \
			7460= =127.0.0.1:$FW_PORT 53=127.0.0.1:$FW_PORT; do
			run_as $who --forward "$spec" -- /bin/echo ran
			[ "$RC" = 125 ] || fail "$who: --forward $spec: exit $RC, not 125: $(said)"
			[ -s "$OUT" ] && fail "$who: --forward $spec: the command ran"
			# naming it: the spec, or at least the listen side of it
			[ "$(wc -l <"$ERR")" = 1 ] && { grep -qF -- "$spec" "$ERR" ||
				grep -qF -- ":${spec%%=*}" "$ERR"; } ||
				fail "$who: --forward $spec: not one line naming it: $(tr '\n' '|' <"$ERR")"
		done
		run_as $who --forward 7461=127.0.0.1:$FW_PORT --forward 127.0.0.1:7461=127.0.0.1:1 -- /bin/echo ran
		[ "$RC" = 125 ] && [ ! -s "$OUT" ] || fail "$who: a listen address given twice: $(said)"
	done
	same_counts "$base" "refused forwards"
}

# fw_cage_secrets PATTERNS: every process of the running cage (its pid namespace, found from
# the one running "sleep 7.$TESTNO"), read from outside as root: how many of their command
# lines, and how many of their environments, hold a line of the file PATTERNS.
fw_cage_secrets() {
	wait_for 100 pgrep -f "^sleep 7.$TESTNO\$" || fail "the cage's sleep is not running: $(said)"
	sl=$(pgrep -f "^sleep 7.$TESTNO\$" | head -1)
	pidns=$(readlink /proc/$sl/ns/pid)
	FW_IN_CMDLINE=0
	FW_IN_ENVIRON=0
	FW_PROCS=0
	for d in /proc/[0-9]*; do
		[ "$(readlink $d/ns/pid 2>/dev/null)" = "$pidns" ] || continue
		FW_PROCS=$((FW_PROCS + 1))
		tr '\0' '\n' <$d/cmdline 2>/dev/null | grep -q -F -f "$1" &&
			FW_IN_CMDLINE=$((FW_IN_CMDLINE + 1))
		tr '\0' '\n' <$d/environ 2>/dev/null | grep -q -F -f "$1" &&
			FW_IN_ENVIRON=$((FW_IN_ENVIRON + 1))
	done
	[ $FW_PROCS -ge 2 ] || fail "found $FW_PROCS process(es) of the cage"
}

# A proxy URL with credentials: the supervisor adds them on the way out (Basic for HTTP,
# RFC 1929 for SOCKS5). The proxies get them (tinyproxy requires them, the SOCKS server logs
# them); no process of the cage has them on its command line or in its environment, nor does
# a secret passed with --env NAME appear on any command line; ps shows sluice's own command
# line with stars where they were. In link none, veth (a proxy routed to, now forwarded) and
# without root.
TESTS="$TESTS forward_proxy_credentials_reach_the_proxy_never_the_cage"
test_forward_proxy_credentials_reach_the_proxy_never_the_cage()
{
	fw_tools
	http_pw=hpw$$x$TESTNO
	socks_pw=spw$$y$TESTNO
	env_secret=env$$z$TESTNO
	cat >"$T/tp-auth.conf" <<-EOF2
	Port 7490
	Listen $WORLD_IP
	Timeout 30
	BasicAuth alice $http_pw
	LogFile "$T/out/tp-auth.log"
	PidFile "$T/out/tp-auth.pid"
	EOF2
	fw_serve "$T/tp-auth.out" sh -c "echo ready; exec tinyproxy -d -c '$T/tp-auth.conf'"
	wait_for 50 in_world "$PROBE" connect tcp $WORLD_IP 7490 || fail "tinyproxy with auth not up"
	fw_serve "$T/socks-auth.log" $FW_PY "$T/bin/socks5.py" 127.0.0.1 7491 --log "$T/out/socks-auth.json"
	printf '%s\n%s\n' "$http_pw" "$socks_pw" >"$T/out/pat-cred"
	printf '%s\n' "$env_secret" >"$T/out/pat-env"
	base=$(counts)
	# the control: without its credentials the proxy refuses
	run_as nobody --proxy http://$WORLD_IP:7490 -- curl -s -o /dev/null -w '%{http_code}\n' http://$NET_IP/
	grep -qx 407 "$OUT" || fail "the proxy does not require its credentials: $(said)"
	for mode in root-none root-veth nobody; do
		for url in "http://alice:$http_pw@$WORLD_IP:7490" "socks5h://bob:$socks_pw@127.0.0.1:7491"; do
			next_name
			OUT=$T/out.$NAME
			ERR=$T/err.$NAME
			cmd="curl -s -m 10 http://$NET_IP/ >$T/out/got.$NAME; sleep 7.$TESTNO || true"
			case $mode in
			root-none | root-veth)
				SLUICE_T_SECRET=$env_secret timeout -k 3 40 nsenter --net=/run/netns/$W \
					"$SLUICE" run --name "$NAME" --link "${mode#root-}" --user nobody \
					--proxy "$url" --env SLUICE_T_SECRET -- /bin/sh -c "$cmd" \
					</dev/null >"$OUT" 2>"$ERR" & ;;
			nobody)
				SLUICE_T_SECRET=$env_secret timeout -k 3 40 nsenter --net=/run/netns/$W \
					runuser -u nobody -- "$(nobody_sluice)" run --name "$NAME" \
					--proxy "$url" --env SLUICE_T_SECRET -- /bin/sh -c "$cmd" \
					</dev/null >"$OUT" 2>"$ERR" & ;;
			esac
			job=$!
			fw_cage_secrets "$T/out/pat-cred"
			[ $FW_IN_CMDLINE = 0 ] && [ $FW_IN_ENVIRON = 0 ] ||
				fail "$mode $url: the proxy's credentials in the cage: $FW_IN_CMDLINE command line(s), $FW_IN_ENVIRON environment(s) of $FW_PROCS processes"
			fw_cage_secrets "$T/out/pat-env"
			[ $FW_IN_CMDLINE = 0 ] || fail "$mode: the --env secret on $FW_IN_CMDLINE command line(s)"
			[ $FW_IN_ENVIRON -ge 1 ] || fail "$mode: the --env secret did not reach the command"
			ps -C sluice -o args= | grep -q -F -f "$T/out/pat-cred" &&
				fail "$mode: ps shows the credentials on sluice's command line"
			pkill -f "^sleep 7.$TESTNO\$"
			wait $job
			RC=$?
			[ "$RC" = 0 ] || fail "$mode $url: $(said)"
			grep -qx "$CONTENT" "$T/out/got.$NAME" ||
				fail "$mode $url: not fetched through the proxy: $(cat "$T/out/got.$NAME") $(said)"
		done
	done
	# the SOCKS server was asked with the URL's credentials, every time
	n=$(grep -c "\"user\": \"bob\", \"pass\": \"$socks_pw\"" "$T/out/socks-auth.json")
	[ "$n" = 3 ] || fail "the SOCKS server saw the credentials $n times: $(cat "$T/out/socks-auth.json")"
	# and the credentials are refused where they cannot be honoured
	sluice_w check --proxy "socks5://u:p@127.0.0.1:1080" --isolate-streams -- true >"$T/out/iso" 2>&1 &&
		fail "isolate_streams with credentials accepted"
	grep -q "cannot carry credentials" "$T/out/iso" || fail "isolate: $(cat "$T/out/iso")"
	grep -q "p@" "$T/out/iso" && fail "an error shows the credentials: $(cat "$T/out/iso")"
	same_counts "$base" "credentials"
}
