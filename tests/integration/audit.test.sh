# audit.test.sh: denials you can see. Each kind (TCP, UDP, IPv6, a unix socket, a name) is
# one line on stderr and one JSON object with the right fields; a storm of 100,000 refused
# connects leaves the supervisor serving and is reported with its count; learn mode writes a
# profile that check accepts and that reaches what it lists; a proxy that is down is said at
# start; rootless tells what it can.

# au_json FILE LAYER KIND DEST PORT PROTO: FILE has an object with these fields, pid, comm,
# time and a count; prints nothing, fails with what it has.
au_json() {
	python3 - "$@" <<'PY' || fail "no JSON object $2 $3 $4 $5 $6 in: $(head -c 1500 "$1")"
import json, sys
path, layer, kind, dest, port, proto = sys.argv[1:]
want_port = None if port == "-" else int(port)
for line in open(path):
    o = json.loads(line)
    keys = {"time", "cage", "pid", "comm", "exe", "layer", "kind", "destination", "port",
            "protocol", "verdict", "count"}
    assert keys <= set(o), o
    if (o["layer"], o["kind"], o["destination"], o["port"], o["protocol"]) == \
            (layer, kind, dest, want_port, proto):
        assert o["verdict"] == "refused" and o["count"] >= 1, o
        assert o["time"].endswith("Z") and o["cage"], o
        if layer != "dns":
            assert isinstance(o["pid"], int) and o["comm"], o
        sys.exit(0)
sys.exit(1)
PY
}

TESTS="$TESTS audit_each_denial_kind_has_its_line_and_json"
test_audit_each_denial_kind_has_its_line_and_json()
{
	base=$(counts)
	UX_VAR=$T/out/au-host.$TESTNO.sock
	cp "$ROOT/tests/lib/unixprobe.py" "$T/bin/" && chmod 755 "$T/bin/unixprobe.py"
	bg_start "$T/au-ux.log" $W "$PY" "$T/bin/unixprobe.py" serve "$UX_VAR"
	wait_for 50 test -S "$UX_VAR" || fail "unix server $UX_VAR not up"
	json=$T/out/au.$TESTNO.json
	rm -f "$json"
	cage root --audit "$json" -- /bin/sh -c "
		$PROBE connect tcp $NET_IP 80; $PROBE sendto udp $NET_IP $UDP_PORT
		$PROBE connect tcp $NET_IP6 80; $PY $T/bin/unixprobe.py connect $UX_VAR
		getent hosts exfil.example; echo done"
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	grep -q "^sluice: refused probe\[[0-9]*\] connect $NET_IP:80/tcp (not an allowed endpoint; allowed: tcp $WORLD_IP:$PROXY_PORT" "$ERR" ||
		fail "no TCP line: $(cat "$ERR")"
	grep -q "^sluice: refused probe\[[0-9]*\] send $NET_IP:$UDP_PORT/udp (not an allowed endpoint" "$ERR" ||
		fail "no UDP line: $(cat "$ERR")"
	grep -q "^sluice: refused probe\[[0-9]*\] connect \[$NET_IP6\]:80/tcp" "$ERR" ||
		fail "no IPv6 line: $(cat "$ERR")"
	grep -q "^sluice: refused python3\[[0-9]*\] connect $UX_VAR (unix) (the socket it reaches is neither the cage's own nor allowed)" "$ERR" ||
		fail "no unix line: $(cat "$ERR")"
	grep -q "^sluice: refused name exfil.example (not listed" "$ERR" || fail "no name line: $(cat "$ERR")"
	# none of it on the command's stdout
	grep -q "refused" "$OUT" && fail "a denial line on the command's stdout: $(cat "$OUT")"
	au_json "$json" ip_hooks connect "$NET_IP" 80 tcp
	au_json "$json" ip_hooks send "$NET_IP" "$UDP_PORT" udp
	au_json "$json" ip_hooks connect "$NET_IP6" 80 tcp
	au_json "$json" unix_broker connect "$UX_VAR" - unix
	au_json "$json" dns name exfil.example - dns
	# --quiet: no lines, the JSON all the same
	rm -f "$json"
	cage root --quiet --audit "$json" -- "$PROBE" connect tcp $NET_IP 80
	grep -q "refused" "$ERR" && fail "--quiet still says: $(cat "$ERR")"
	au_json "$json" ip_hooks connect "$NET_IP" 80 tcp
	same_counts "$base" "cages whose denials were told"
}

# 100,000 refused connects in about a second: the command is not slowed by the telling, the
# proxy keeps serving meanwhile, and what was not told one by one is counted and said
TESTS="$TESTS audit_storm_leaves_the_supervisor_serving"
test_audit_storm_leaves_the_supervisor_serving()
{
	json=$T/out/au-storm.$TESTNO.json
	rm -f "$json"
	cat >"$T/storm.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t = time.monotonic()
refused = 0
for i in range(100000):
    try:
        s.connect((sys.argv[1], 9))
    except PermissionError:
        refused += 1
print("refused", refused, "in %.2f s" % (time.monotonic() - t))
PY
	chmod 644 "$T/storm.py"
	cage root --audit "$json" -- /bin/sh -c "
		$PY $T/storm.py $NET_IP & storm=\$!
		for i in 1 2 3; do curl -sf --max-time 5 http://$NET_IP/ >/dev/null && echo page; done
		wait \$storm; echo done"
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	grep -q "^refused 100000 in" "$OUT" || fail "the storm: $(cat "$OUT")"
	[ "$(grep -cx page "$OUT")" = 3 ] || fail "the proxy during the storm: $(cat "$OUT")"
	grep -q "more refusal(s) by the eBPF hooks, over the rate limit: counted, not told one by one" \
		"$ERR" || fail "no drop count said: $(head -c 1000 "$ERR")"
	[ "$(wc -l <"$ERR")" -lt 50 ] || fail "the storm was not collapsed: $(wc -l <"$ERR") lines"
	python3 - "$json" "$NET_IP" <<'PY' || fail "the storm's JSON: $(head -c 1000 "$json")"
import json, sys
told = dropped = 0
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["kind"] == "dropped":
        dropped += o["count"]
    elif o["destination"] == sys.argv[2] and o["port"] == 9:
        told += o["count"]
assert dropped > 0 and told + dropped == 100000, (told, dropped)
PY
	echo "storm: $(cat "$OUT" | head -1)"
}

# learn mode: three endpoints and two names tried; the profile written loads, lists all
# five, and a run with it (its names given addresses: the review) reaches the endpoints
TESTS="$TESTS audit_learn_writes_a_profile_that_reaches_what_it_lists"
test_audit_learn_writes_a_profile_that_reaches_what_it_lists()
{
	learned=$T/out/learned.$TESTNO.yaml
	script='p=$1
		printf "net "; $p connect tcp '"$NET_IP"' 80
		printf "udp "; $p connect udp '"$NET_IP $UDP_PORT"'
		printf "hostsvc "; $p connect tcp '"$WORLD_IP $HOSTSVC_PORT"'
		getent hosts first.example >/dev/null; getent hosts second.example >/dev/null
		echo done'
	cage root --learn "$learned" -- /bin/sh -c "$script" sh "$PROBE"
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	OUT=$T/out.$NAME
	denied net udp hostsvc
	for want in "\"$NET_IP:80\"" "\"udp:$NET_IP:$UDP_PORT\"" "\"$WORLD_IP:$HOSTSVC_PORT\"" \
		"# first.example: ADDRESS" "# second.example: ADDRESS"; do
		grep -qF -- "$want" "$learned" || fail "the profile lacks $want: $(cat "$learned")"
	done
	grep -q "^proxy: $PROXY_URL" "$learned" || fail "the run's proxy is not in it: $(cat "$learned")"
	# the review: each name gets an address
	sed -e 's/^  # first.example: ADDRESS.*/  first.example: "192.0.2.10"/' \
		-e 's/^  # second.example: ADDRESS.*/  second.example: "192.0.2.11"/' \
		-e 's/^# dns:$/dns:/' "$learned" >"$learned.reviewed"
	sluice_w check --profile "$learned.reviewed" -- /bin/true >"$T/out/lcheck" 2>&1 ||
		fail "check refuses the reviewed profile: $(cat "$T/out/lcheck")"
	grep -q "first.example 192.0.2.10" "$T/out/lcheck" &&
		grep -q "second.example 192.0.2.11" "$T/out/lcheck" ||
		fail "check does not list the names: $(cat "$T/out/lcheck")"
	sluice_w check --profile "$learned" -- /bin/true >"$T/out/lcheck" 2>&1 ||
		fail "check refuses the profile as written: $(cat "$T/out/lcheck")"
	next_name
	OUT=$T/out.$NAME
	sluice_w run --name "$NAME" --profile "$learned.reviewed" -- /bin/sh -c "$script" sh \
		"$PROBE" >"$OUT" 2>"$T/out/lrun.err" || fail "run with it: $(cat "$T/out/lrun.err")"
	allowed net udp hostsvc
}

# the proxy down: said at start (warn), or the run refused (require); a forward whose target
# is down says so when the cage uses it
TESTS="$TESTS audit_a_down_proxy_is_said_at_start"
test_audit_a_down_proxy_is_said_at_start()
{
	next_name
	sluice_w run --name "$NAME" --user root --proxy "http://$WORLD_IP:8899" -- /bin/true \
		>/dev/null 2>"$T/out/down.err" || fail "warn refused the run: $(cat "$T/out/down.err")"
	grep -q "^sluice: the proxy $WORLD_IP:8899/tcp does not answer: Connection refused" \
		"$T/out/down.err" || fail "no start-up line: $(cat "$T/out/down.err")"
	next_name
	sluice_w run --name "$NAME" --user root --check-targets require \
		--proxy "http://$WORLD_IP:8899" -- /bin/true 2>"$T/out/down.err"
	[ $? = 125 ] && grep -q "check-targets require: 1 target(s) do not answer" "$T/out/down.err" ||
		fail "require: $(cat "$T/out/down.err")"
	next_name
	sluice_w run --name "$NAME" --user root --check-targets off \
		--forward "8080=$WORLD_IP:8899" -- "$PROBE" connect tcp 127.0.0.1 8080 \
		>/dev/null 2>"$T/out/down.err"
	grep -q "does not answer at start" "$T/out/down.err" && fail "off still tried"
	grep -q "^sluice: the target of forward tcp 127.0.0.1:8080 $WORLD_IP:8899/tcp does not answer: Connection refused (a forward's connection was closed)" \
		"$T/out/down.err" || fail "no line for the forward's target: $(cat "$T/out/down.err")"
}

# rootless: names and unix sockets are told; check says what a rootless run cannot see
TESTS="$TESTS audit_rootless_tells_what_it_can"
test_audit_rootless_tells_what_it_can()
{
	UX_VAR=$T/out/au-rl.$TESTNO.sock
	cp "$ROOT/tests/lib/unixprobe.py" "$T/bin/" && chmod 755 "$T/bin/unixprobe.py"
	bg_start "$T/au-rl.log" $W "$PY" "$T/bin/unixprobe.py" serve "$UX_VAR"
	wait_for 50 test -S "$UX_VAR" || fail "unix server $UX_VAR not up"
	chmod 777 "$UX_VAR"
	json=$T/out/au-rl.$TESTNO.json
	rm -f "$json"
	touch "$json" && chmod 666 "$json"
	run_as nobody --proxy "$LOPROXY_URL" --audit "$json" -- /bin/sh -c "
		getent hosts exfil.example; $PY $T/bin/unixprobe.py connect $UX_VAR; echo done"
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "rootless cage: $(said)"
	grep -q "^sluice: refused name exfil.example" "$ERR" || fail "no name line: $(cat "$ERR")"
	grep -q "^sluice: refused python3\[[0-9]*\] connect $UX_VAR (unix)" "$ERR" ||
		fail "no unix line: $(cat "$ERR")"
	au_json "$json" dns name exfil.example - dns
	au_json "$json" unix_broker connect "$UX_VAR" - unix
	in_world runuser -u nobody -- "$(nobody_sluice)" check --proxy "$LOPROXY_URL" -- /bin/true \
		>"$T/out/rlcheck" 2>&1
	grep -q "denials    told on stderr: names the DNS stub does not list, unix sockets refused; not IP" \
		"$T/out/rlcheck" || fail "check does not say what rootless tells: $(grep denials "$T/out/rlcheck")"
}
