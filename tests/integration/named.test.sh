# named.test.sh: named cages: up leaves one standing at /run/netns/NAME, exec runs commands in
# it with its policy, ls lists it, down ends it, and nothing is left after down or after its
# supervisor is killed and gc runs.

# up NAME [options]: a standing veth cage whose one way out is the proxy.
up() {
	n=$1
	shift
	sluice_w up "$n" --link veth --proxy "$PROXY_URL" --user root "$@" \
		>"$T/out/up.$n.out" 2>"$T/out/up.$n.err"
}

TESTS="$TESTS named_up_exec_ls_down"
test_named_up_exec_ls_down()
{
	base=$(counts)
	next_name
	up "$NAME" || fail "up: $(cat "$T/out/up.$NAME.err")"
	[ -e "/run/netns/$NAME" ] || fail "no /run/netns/$NAME after up"

	# from outside, the netns holds lo and the cage's end of the veth pair, nothing else
	links=$(nsenter --net="/run/netns/$NAME" ip -o link show | awk -F': ' '{ print $2 }' |
		sed 's/@.*//' | sort | tr '\n' ' ')
	[ "$(echo $links | wc -w)" = 2 ] && echo " $links" | grep -q ' lo ' ||
		fail "the cage's netns has links: $links"
	nsenter --net="/run/netns/$NAME" nft list tables | grep -q sluice ||
		fail "no sluice table in the cage's netns"

	# exec: no capabilities, the cage's policy, its status passed on
	sluice_w exec "$NAME" -- /bin/sh -c 'grep ^CapEff /proc/self/status' >"$T/out/caps" 2>&1 ||
		fail "exec caps: $(cat "$T/out/caps")"
	grep -qx 'CapEff:	0000000000000000' "$T/out/caps" || fail "exec'd caps: $(cat "$T/out/caps")"
	sluice_w exec "$NAME" -- /bin/sh -c 'p=$1; shift
		printf "proxy "; $p connect tcp '"$WORLD_IP $PROXY_PORT"'
		printf "net "; $p connect tcp '"$NET_IP"' 80
		printf "udp "; $p sendto udp '"$NET_IP $UDP_PORT"'' sh "$PROBE" >"$T/out/pr" 2>&1
	OUT=$T/out/pr
	allowed proxy
	denied net udp
	udp_silent
	sluice_w exec "$NAME" -- /bin/sh -c 'exit 7'
	[ $? = 7 ] || fail "exec's status is not the command's"
	sluice_w exec "$NAME" -- /nonexistent/sluice-no-such-command 2>"$T/out/nf"
	[ $? = 127 ] || fail "exec of a missing command: $(cat "$T/out/nf")"
	sluice_w exec "$NAME" -e SLUICE_T=x -- /bin/sh -c 'echo "$SLUICE_T"' >"$T/out/env"
	[ "$(cat "$T/out/env")" = x ] || fail "exec --env: $(cat "$T/out/env")"
	sluice_w exec "$NAME" --user nobody -- /bin/true 2>"$T/out/user"
	[ $? = 125 ] || fail "exec --user nobody in a root cage: not refused"
	# stdin reaches the command
	echo hello | timeout 10 nsenter --net=/run/netns/$W "$SLUICE" exec "$NAME" -- /bin/cat \
		>"$T/out/cat"
	[ "$(cat "$T/out/cat")" = hello ] || fail "exec's stdin: $(cat "$T/out/cat")"

	sluice_w exec "$NAME" -- getent hosts exfil.example >/dev/null
	# ls, as text and as JSON
	sluice_w ls >"$T/out/ls" || fail "ls failed"
	grep -q "^$NAME " "$T/out/ls" || fail "ls does not list $NAME: $(cat "$T/out/ls")"
	sluice_w ls --json >"$T/out/ls.json" || fail "ls --json failed"
	python3 - "$NAME" "$T/out/ls.json" <<'PY' || fail "ls --json: $(cat "$T/out/ls.json")"
import json, os, sys
name, path = sys.argv[1], sys.argv[2]
cages = json.load(open(path))
assert isinstance(cages, list)
c = [c for c in cages if c["name"] == name]
assert len(c) == 1, "listed %d times" % len(c)
c = c[0]
want = {"name": str, "supervisor_pid": int, "named": bool, "netns": str,
        "netns_inode": int, "link": str, "uid": int, "processes": int,
        "forwards": dict, "denials": dict, "plan": dict}
for k, t in want.items():
    assert isinstance(c.get(k), t), "%s: %r" % (k, c.get(k))
assert c["named"] is True and c["link"] == "veth"
assert c["netns"] == "/run/netns/" + name
assert os.stat(c["netns"]).st_ino == c["netns_inode"], "inode differs"
assert c["processes"] >= 1
for k in ("accepted", "open", "refused", "bytes_up", "bytes_down"):
    assert isinstance(c["forwards"].get(k), int), k
for k in ("ip_hooks", "ip_unreported", "unix_hooks", "unix_broker", "names", "targets_down"):
    assert isinstance(c["denials"].get(k), int), k
# the probes above were refused by the eBPF hooks: counted
assert c["denials"]["ip_hooks"] >= 2, c["denials"]
# and the name looked up, which the stub does not list
assert c["denials"]["names"] >= 1, c["denials"]
assert c["plan"]["name"] == name
PY

	sluice_w down "$NAME" 2>"$T/out/down" || fail "down: $(cat "$T/out/down")"
	[ -e "/run/netns/$NAME" ] && fail "/run/netns/$NAME is left after down"
	sluice_w exec "$NAME" -- /bin/true 2>"$T/out/gone"
	[ $? = 125 ] || fail "exec into a cage that is gone did not exit 125"
	grep -q "no cage named \"$NAME\" is up" "$T/out/gone" || fail "exec gone: $(cat "$T/out/gone")"
	same_counts "$base" "up, exec, down"
}

# up with a command: the cage ends with it, and nothing is left.
TESTS="$TESTS named_up_with_command_ends_with_it"
test_named_up_with_command_ends_with_it()
{
	base=$(counts)
	next_name
	up "$NAME" -- /bin/sleep 1 || fail "up: $(cat "$T/out/up.$NAME.err")"
	[ -e "/run/netns/$NAME" ] || fail "no /run/netns/$NAME after up"
	wait_for 60 sh -c "[ ! -e /run/netns/$NAME ]" || fail "the cage outlived its command"
	same_counts "$base" "a named cage whose command ended"
}

# a bad option or a taken name: 125 before anything is made
TESTS="$TESTS named_up_refuses_bad_input"
test_named_up_refuses_bad_input()
{
	base=$(counts)
	next_name
	sluice_w up "$NAME" --link nonsense 2>"$T/out/bad"
	[ $? = 125 ] || fail "up --link nonsense did not exit 125"
	grep -q 'unknown link mode' "$T/out/bad" || fail "up --link nonsense: $(cat "$T/out/bad")"
	ip netns add "$NAME" || fail "ip netns add"
	up "$NAME"
	rc=$?
	ip netns del "$NAME"
	[ $rc = 125 ] || fail "up over an existing /run/netns/$NAME did not exit 125"
	grep -q "/run/netns/$NAME exists" "$T/out/up.$NAME.err" ||
		fail "up over a taken name: $(cat "$T/out/up.$NAME.err")"
	same_counts "$base" "refused ups"
	for cmd in "exec ../x -- /bin/true" "down ../x"; do
		sluice_w $cmd 2>"$T/out/badname"
		[ $? = 125 ] && grep -q 'not a valid cage name' "$T/out/badname" ||
			fail "$cmd: $(cat "$T/out/badname")"
	done
	runuser -u nobody -- "$(nobody_sluice)" up "${NAME}x" 2>"$T/out/rootless"
	[ $? = 125 ] || fail "up as nobody did not exit 125"
}

# SIGKILL of a named cage's supervisor: its processes die, and gc removes the rest, the
# netns's bind at /run/netns among it.
TESTS="$TESTS named_sigkill_then_gc"
test_named_sigkill_then_gc()
{
	base=$(counts)
	next_name
	up "$NAME" || fail "up: $(cat "$T/out/up.$NAME.err")"
	pid=$(sed -n 's/^pid=//p' "/run/sluice/$NAME")
	[ -n "$pid" ] || fail "no supervisor pid in the record"
	kill -KILL "$pid"
	sluice_w exec "$NAME" -- /bin/true 2>/dev/null
	[ $? = 125 ] || fail "exec into a cage whose supervisor was killed did not exit 125"
	sluice_w gc >"$T/out/gc" 2>&1 || fail "gc: $(cat "$T/out/gc")"
	[ -e "/run/netns/$NAME" ] && fail "gc left /run/netns/$NAME"
	same_counts "$base" "a killed named cage, then gc"
}

# exec from a terminal: the command has a terminal, but not the caller's. A process it leaves
# behind (one that ignores SIGHUP, and holds the terminal as fd 3: sh gives a background job
# /dev/null as stdin) reads nothing typed at the caller's terminal after exec
# has returned; and a signal the cage's own processes send its idle pid 1 does not end it.
TESTS="$TESTS named_exec_terminal_is_not_the_callers"
test_named_exec_terminal_is_not_the_callers()
{
	next_name
	up "$NAME" || fail "up: $(cat "$T/out/up.$NAME.err")"
	: >"$T/out/left"
	# script(1) gives exec a terminal; what is typed at it 2 s later, exec has returned
	# and sleep runs in the foreground, not reading it.
	{ sleep 2; echo sluice-typed-later; sleep 3; } |
		timeout 20 nsenter --net=/run/netns/$W script -qec "$SLUICE exec $NAME -- /bin/sh -c '
			tty; trap \"\" HUP; exec 3<&0
			(sleep 1; cat <&3; echo left=\$?) >>$T/out/left 2>&1 &
			' >$T/out/tty; sleep 4" /dev/null >"$T/out/script" 2>&1
	grep -q '^/dev/pts/' "$T/out/script" "$T/out/tty" ||
		fail "exec from a terminal: no terminal: $(cat "$T/out/tty" "$T/out/script")"
	wait_for 50 grep -q left= "$T/out/left"
	grep -q sluice-typed-later "$T/out/left" &&
		fail "a process left behind by exec read the caller's terminal"
	grep -q left= "$T/out/left" || fail "the left-behind process: $(cat "$T/out/left")"

	sluice_w exec "$NAME" -- /bin/sh -c 'kill -TERM 1; kill -INT 1; kill -HUP 1' 2>&1
	sleep 0.3
	sluice_w exec "$NAME" -- /bin/true || fail "the cage's own processes ended its pid 1"
	sluice_w down "$NAME" || fail "down"
}

# root without capabilities (as a cage's --user root is) may not drive a cage, nor read it
TESTS="$TESTS named_control_wants_capabilities"
test_named_control_wants_capabilities()
{
	next_name
	up "$NAME" || fail "up: $(cat "$T/out/up.$NAME.err")"
	in_world setpriv --bounding-set -all --inh-caps -all "$SLUICE" exec "$NAME" -- /bin/true \
		</dev/null 2>"$T/out/nocap"
	rc=$?
	[ $rc = 125 ] || fail "exec by root without capabilities: status $rc"
	grep -q 'CAP_SYS_ADMIN' "$T/out/nocap" || fail "exec without capabilities: $(cat "$T/out/nocap")"
	in_world setpriv --bounding-set -all --inh-caps -all "$SLUICE" ls --json >"$T/out/nocap.ls"
	python3 - "$NAME" "$T/out/nocap.ls" <<'PY' || fail "ls without capabilities: $(cat "$T/out/nocap.ls")"
import json, sys
c = [c for c in json.load(open(sys.argv[2])) if c["name"] == sys.argv[1]]
assert len(c) == 1 and c[0]["named"] is True and "plan" not in c[0], c
PY
	sluice_w exec "$NAME" -- /bin/true || fail "exec as root, after"
	sluice_w down "$NAME" || fail "down"
}
