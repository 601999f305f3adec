# cli.test.sh: `sluice check` prints the plan and creates nothing; bad input is exit 125 with
# file:line:column, before anything is made.

TESTS="$TESTS check_prints_plan"
test_check_prints_plan()
{
	[ -f profiles/agent.yaml ] || fail "profiles/agent.yaml is missing"
	base=$(counts)
	OUT=$T/out/check.out
	ERR=$T/out/check.err
	sluice_w check --profile profiles/agent.yaml >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] || fail "check --profile profiles/agent.yaml: $(said)"
	grep -q 'table inet sluice' "$OUT" || fail "no 'table inet sluice' in the plan: $(said)"
	sluice_w check --link veth --proxy "$PROXY_URL" --name plantest >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] || fail "check --link veth --proxy: $(said)"
	grep -q 'table inet sluice_plantest' "$OUT" || fail "no 'table inet sluice_plantest': $(said)"
	# what the plan says of this proxy, in every part that names it
	hp=${PROXY_URL#*://}
	ip=${hp%:*}
	port=${hp##*:}
	port=${port%/}
	grep -q "^  link       veth sl-[0-9a-f]* (host) .* <-> eth0 (cage)" "$OUT" ||
		fail "no veth link line: $(said)"
	grep -qF "allowed    tcp $ip:$port (proxy)" "$OUT" || fail "no allowed line for $ip:$port: $(said)"
	sed -n '/^table inet sluice {/,/^}/p' "$OUT" | sed -n '/chain output/,/}/p' >"$T/out/chain"
	grep -q 'policy drop;' "$T/out/chain" || fail "the cage's output chain does not drop: $(cat "$T/out/chain")"
	grep -qF "ip daddr $ip tcp dport $port accept" "$T/out/chain" ||
		fail "the cage's output chain does not accept the proxy $ip:$port alone: $(cat "$T/out/chain")"
	[ "$(grep -c ' accept$' "$T/out/chain")" = 3 ] ||
		fail "the output chain accepts more than lo, established and the proxy: $(cat "$T/out/chain")"
	grep -qF "http_proxy=$PROXY_URL" "$OUT" || fail "no http_proxy in the env: $(said)"
	grep -q 'seccomp: denied (EPERM): .*keyctl' "$OUT" || fail "no seccomp denylist: $(said)"
	same_counts "$base" "sluice check"
}

TESTS="$TESTS bad_profile_errors"
test_bad_profile_errors()
{
	base=$(counts)
	bad=$T/out/bad.yaml
	cat >"$bad" <<-EOF
	# a profile whose third line has a key sluice does not know
	# (the lines above and below are fine)
	frobnicate: yes
	EOF
	OUT=$T/out/bad.out
	ERR=$T/out/bad.err
	for verb in check run; do
		if [ $verb = run ]; then
			sluice_w run --profile "$bad" --user root -- /bin/true >"$OUT" 2>"$ERR"
		else
			sluice_w check --profile "$bad" >"$OUT" 2>"$ERR"
		fi
		RC=$?
		[ "$RC" = 125 ] || fail "$verb with an unknown key: $(said)"
		grep -q 'bad\.yaml:3:' "$ERR" || fail "$verb: no 'bad.yaml:3:' in stderr: $(said)"
	done
	sluice_w run --link veth --proxy "not a url at all" --user root -- /bin/true >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] || fail "a bad --proxy: $(said)"
	sluice_w run --link veth --proxy "$PROXY_URL" -- /bin/true >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] || fail "running as root without --user root must be refused: $(said)"
	same_counts "$base" "bad input"
}

# What check says a run's layers are is what a run says it made (-v), in every link mode:
# the decisions are the plan's, and apply only carries them out.
TESTS="$TESTS check_shows_the_layers_run_makes_in_every_link_mode"
test_check_shows_the_layers_run_makes_in_every_link_mode()
{
	wg_world_up
	base=$(counts)
	# the run's own names (a new link and table each run) aside
	norm() { sed -E 's/(sl|sw)-[0-9a-f]{8}/\1-X/g; s/_[0-9a-f]{8}( |$)/_X\1/g; s/^ +//'; }
	for link in none veth wireguard; do
		case $link in
		none) set -- --proxy "$PROXY_URL" ;;
		veth) set -- --link veth --proxy "$PROXY_URL" ;;
		wireguard) set -- --link wireguard --wg-config "$T/client.conf" \
			--allow "/ip4/10.0.11.1/tcp/$OVERLAY_PORT/wg/$SERVER_U" ;;
		esac
		next_name
		sluice_w check --name "$NAME" --user root "$@" >"$T/out/check.$link" 2>&1 ||
			fail "$link: check: $(cat "$T/out/check.$link")"
		TMO=60 sluice_w run -v --name "$NAME" --user root "$@" -- /bin/true \
			>/dev/null 2>"$T/out/run.$link" || fail "$link: run: $(cat "$T/out/run.$link")"
		sed -n '/^  layers$/,/^  user /p' "$T/out/check.$link" | sed '1d;$d' | norm \
			>"$T/out/layers.check.$link"
		awk '/enforcement layers of this run:/ { on = 1; next }
		     on && /^sluice: +[0-9.]+ ms  / { exit }
		     on && /^sluice:   / { sub(/^sluice: */, ""); print; next } on { exit }' \
			"$T/out/run.$link" | norm >"$T/out/layers.run.$link"
		[ -s "$T/out/layers.check.$link" ] || fail "$link: check shows no layers"
		diff "$T/out/layers.check.$link" "$T/out/layers.run.$link" >"$T/out/layers.diff.$link" ||
			fail "$link: check and run -v differ: $(tr '\n' '|' <"$T/out/layers.diff.$link")"
	done
	same_counts "$base" "check and run -v"
}

# check --json is the same plan: parsed by a JSON parser, its parts are the text's.
TESTS="$TESTS check_json_is_the_same_plan"
test_check_json_is_the_same_plan()
{
	base=$(counts)
	sluice_w check --json --link veth --proxy "$PROXY_URL" --name jsontest --user root \
		-- /bin/echo 'a "quoted"	tab' >"$T/out/plan.json" 2>"$T/out/plan.err" ||
		fail "check --json: $(cat "$T/out/plan.err")"
	sluice_w check --link veth --proxy "$PROXY_URL" --name jsontest --user root \
		-- /bin/echo x >"$T/out/plan.txt" 2>&1 || fail "check: $(cat "$T/out/plan.txt")"
	"$PY" - "$T/out/plan.json" "$T/out/plan.txt" "${PROXY_URL#http://}" <<-'EOF2' || fail "check --json: $(head -c 600 "$T/out/plan.json")"
	import json, re, sys
	p = json.load(open(sys.argv[1]))
	txt = open(sys.argv[2]).read()
	assert p["name"] == "jsontest" and p["link"] == "veth", p
	assert p["command"] == ["/bin/echo", 'a "quoted"\ttab'], p["command"]
	assert p["allowed"][0] == {"endpoint": "tcp " + sys.argv[3], "proxy": True, "on_host": True} or \
	       p["allowed"][0]["endpoint"].endswith(sys.argv[3]), p["allowed"]
	assert p["veth"]["host_if"].startswith("sl-") and p["veth"]["cage_if"] == "eth0", p["veth"]
	layers = [l.strip() for l in txt.split("  layers\n")[1].split("  user ")[0].splitlines()]
	norm = lambda l: re.sub(r"_[0-9a-f]{8}\b", "_X", l)
	assert [norm(l) for l in p["layers"]] == [norm(l) for l in layers], (p["layers"], layers)
	assert "table inet sluice {" in p["nftables"]["cage"] and "policy drop" in p["nftables"]["cage"]
	assert "table inet sluice_jsontest" in p["nftables"]["host"]
	EOF2
	same_counts "$base" "check --json"
}

# --env NAME passes the caller's value: the command has it, no command line in the cage or
# of sluice shows it, check hides it; unset, it is refused; --env-file reads KEY=VALUE lines
TESTS="$TESTS env_passed_is_on_no_command_line"
test_env_passed_is_on_no_command_line()
{
	secret=s3cr3t-$$-$TESTNO
	printf '# a comment\n\nSLUICE_T_FILE=from-file\n' >"$T/out/envfile"
	next_name
	SLUICE_T_SECRET=$secret sluice_w run --name "$NAME" --user root --env SLUICE_T_SECRET \
		--env-file "$T/out/envfile" -- /bin/sh -c '
		echo "value=$SLUICE_T_SECRET file=$SLUICE_T_FILE"
		printf %s "$SLUICE_T_SECRET" >/tmp/pattern
		for f in /proc/[0-9]*/cmdline; do tr "\0" " " <"$f"; echo; done |
			grep -c -F -f /tmp/pattern' >"$T/out/envp" 2>"$T/out/envp.err"
	grep -qx "value=$secret file=from-file" "$T/out/envp" ||
		fail "the command's value: $(cat "$T/out/envp") $(cat "$T/out/envp.err")"
	tail -1 "$T/out/envp" | grep -qx 0 || fail "a cmdline in the cage shows it: $(cat "$T/out/envp")"
	SLUICE_T_SECRET=$secret sluice_w check --env SLUICE_T_SECRET -- /bin/true >"$T/out/envc" 2>&1 ||
		fail "check: $(cat "$T/out/envc")"
	grep -q "$secret" "$T/out/envc" && fail "check shows the value"
	grep -q "SLUICE_T_SECRET=(the caller's value, not shown)" "$T/out/envc" ||
		fail "check does not say it is passed: $(grep SLUICE_T "$T/out/envc")"
	env -u SLUICE_T_SECRET nsenter --net=/run/netns/$W "$SLUICE" check --env SLUICE_T_SECRET \
		-- /bin/true 2>"$T/out/envu"
	[ $? = 125 ] && grep -q "SLUICE_T_SECRET is not set here" "$T/out/envu" ||
		fail "an unset name: $(cat "$T/out/envu")"
}

# the shipped profiles are built in: found from any directory; ./profiles still comes first
TESTS="$TESTS profiles_are_found_from_anywhere"
test_profiles_are_found_from_anywhere()
{
	d=$T/out/elsewhere.$TESTNO
	mkdir -p "$d/profiles"
	(cd "$d" && sluice_w check --profile agent -- /bin/true) >"$T/out/pa" 2>&1 ||
		fail "--profile agent from $d: $(cat "$T/out/pa")"
	grep -q "127.0.0.1:8888" "$T/out/pa" || fail "the built-in agent profile: $(head -c 600 "$T/out/pa")"
	printf 'proxy: http://127.0.0.1:7777\n' >"$d/profiles/agent.yaml"
	(cd "$d" && sluice_w check --profile agent -- /bin/true) >"$T/out/pa" 2>&1 ||
		fail "./profiles/agent.yaml: $(cat "$T/out/pa")"
	grep -q "127.0.0.1:7777" "$T/out/pa" || fail "./profiles did not come first"
	(cd "$d" && sluice_w check --profile no-such -- /bin/true) >"$T/out/pa" 2>&1
	grep -q "the built-in ones are actor-wg, agent" "$T/out/pa" || fail "unknown: $(cat "$T/out/pa")"
}

# the bash completion loads without errors and completes subcommands, options (from --help),
# option values, profile names (built-in ones too, from any directory) and cage names
TESTS="$TESTS bash_completion_loads_and_completes"
test_bash_completion_loads_and_completes()
{
	next_name
	sluice_w up "$NAME" --user root -- sleep 60 >/dev/null 2>"$T/out/cup" ||
		fail "up: $(cat "$T/out/cup")"
	mkdir -p "$T/bin/c" && cp "$SLUICE" "$T/bin/c/sluice"
	(cd / && PATH=$T/bin/c:$PATH bash --norc --noprofile -c '
		set -u
		source "$1/contrib/completion/sluice.bash" || exit 9
		c() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _sluice; echo "${COMPREPLY[*]}"; }
		c sluice ru
		c sluice run --pro
		c sluice run --profile ag
		c sluice run --link v
		c sluice exec "${2%?}"
		' bash "$ROOT" "$NAME") >"$T/out/compl" 2>"$T/out/compl.err"
	rc=$?
	sluice_w down "$NAME"
	[ $rc = 0 ] && [ ! -s "$T/out/compl.err" ] ||
		fail "bash completion: rc $rc: $(cat "$T/out/compl.err")"
	[ "$(sed -n 1p "$T/out/compl")" = run ] &&
		[ "$(sed -n 2p "$T/out/compl")" = "--profile --proxy" ] &&
		[ "$(sed -n 3p "$T/out/compl")" = agent ] &&
		[ "$(sed -n 4p "$T/out/compl")" = veth ] &&
		[ "$(sed -n 5p "$T/out/compl")" = "$NAME" ] ||
		fail "completions: $(tr '\n' '|' <"$T/out/compl")"
}

# under a service manager (NOTIFY_SOCKET): READY=1 with the cage's status once the command
# runs, STOPPING=1 at the end, through a datagram socket as systemd listens on; the command
# does not get the socket
TESTS="$TESTS notify_says_ready_with_the_cage_status"
test_notify_says_ready_with_the_cage_status()
{
	sock=$T/out/notify.$TESTNO
	rm -f "$sock" "$sock.got"
	python3 - "$sock" >"$sock.got" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
while True:
    m = s.recv(4096).decode()
    print(m.replace("\n", "|"), flush=True)
    if "STOPPING=1" in m:
        break
PY
	lst=$!
	wait_for 50 test -S "$sock" || fail "no listener"
	next_name
	NOTIFY_SOCKET=$sock sluice_w run --name "$NAME" --user root --proxy "$PROXY_URL" -- \
		/bin/sh -c 'echo "socket=${NOTIFY_SOCKET:-none}"' >"$T/out/nt" 2>&1 ||
		fail "run: $(cat "$T/out/nt")"
	wait "$lst"
	grep -qx "socket=none" "$T/out/nt" || fail "the command got NOTIFY_SOCKET: $(cat "$T/out/nt")"
	grep -q "^READY=1|STATUS=cage $NAME, link none, reaches: tcp 127.0.0.1:$PROXY_PORT" "$sock.got" &&
		grep -qx "STOPPING=1" "$sock.got" || fail "notifications: $(cat "$sock.got")"
}

# a profile's command: runs when no -- CMD is given, and -- CMD still wins
TESTS="$TESTS profile_command_runs_without_one_given"
test_profile_command_runs_without_one_given()
{
	printf 'proxy: %s\nuser: root\ncommand: [/bin/echo, "from the profile"]\n' "$PROXY_URL" \
		>"$T/out/cmd.yaml"
	next_name
	sluice_w run --name "$NAME" --profile "$T/out/cmd.yaml" >"$T/out/cmd.out" 2>&1 ||
		fail "run: $(cat "$T/out/cmd.out")"
	grep -qx "from the profile" "$T/out/cmd.out" || fail "the profile's command: $(cat "$T/out/cmd.out")"
	next_name
	sluice_w run --name "$NAME" --profile "$T/out/cmd.yaml" -- /bin/echo given >"$T/out/cmd.out" 2>&1
	grep -qx given "$T/out/cmd.out" || fail "-- CMD did not win: $(cat "$T/out/cmd.out")"
}
