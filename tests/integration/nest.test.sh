# nest.test.sh: child cages. A three-level actor tree: a root actor in a veth cage that
# reaches its proxy and one internet service; a subtree in a child cage that reaches only the
# proxy; its own child, which reaches the proxy through both. Each level reaches exactly its
# endpoints, asking for more than the parent has is refused (125) naming it, ls shows the
# tree, and SIGKILL of the top supervisor (or down) takes it all down, leaving nothing.

# nest_tree NAME: start the tree under a named cage NAME (as nobody), the middle and leaf
# levels writing their probes to $T/out/nest.*; the leaf then waits (sleep) until killed.
nest_tree() {
	top=$1
	sluice_w up "$top" --link veth --proxy "$PROXY_URL" --allow "$NET_IP:80" --nest \
		--user nobody >"$T/out/up.$top.out" 2>"$T/out/up.$top.err" ||
		fail "up: $(cat "$T/out/up.$top.err")"
	d=$T/nest
	mkdir -p "$d" && chmod 777 "$d" && rm -f "$d"/*
	# the middle: the proxy only; the leaf inside it: the proxy, at the middle's forward
	cat >"$d/mid.sh" <<MID
$PROBE connect tcp 127.0.0.1 $PROXY_PORT | sed 's/^/proxy /' >$d/mid
$PROBE connect tcp $NET_IP 80 | sed 's/^/net /' >>$d/mid
$SLUICE run --name ${top}.m.l --forward 80=$NET_IP:80 -- /bin/true 2>$d/leafwide
echo rc=\$? >>$d/leafwide
exec $SLUICE run --name ${top}.m.l --proxy http://127.0.0.1:$PROXY_PORT -- /bin/sh $d/leaf.sh
MID
	cat >"$d/leaf.sh" <<LEAF
$PROBE connect tcp 127.0.0.1 $PROXY_PORT | sed 's/^/proxy /' >$d/leaf
$PROBE connect tcp $NET_IP 80 | sed 's/^/net /' >>$d/leaf
curl -sf --max-time 10 -x http://127.0.0.1:$PROXY_PORT http://$NET_IP/ >$d/leaf.http 2>&1
{ id -un; grep ^CapEff /proc/self/status; hostname; } >$d/leaf.id
echo ready >$d/ready
exec sleep 600
LEAF
	in_world "$SLUICE" exec "$top" -- "$SLUICE" run --name "${top}.m" --nest \
		--proxy "$PROXY_URL" -- /bin/sh "$d/mid.sh" </dev/null >"$d/mid.out" 2>&1 &
	NEST_EXEC=$!
	wait_for 300 test -e "$d/ready" ||
		fail "the leaf did not start: $(cat "$d/mid.out" "$d/leafwide" "$d/leaf" 2>&1)"
}

TESTS="$TESTS nest_three_levels_each_reach_their_own"
test_nest_three_levels_each_reach_their_own()
{
	base=$(counts)
	next_name
	nest_tree "$NAME"

	# the top reaches its proxy and the service it allows
	sluice_w exec "$NAME" -- /bin/sh -c 'p=$1
		printf "proxy "; $p connect tcp '"$WORLD_IP $PROXY_PORT"'
		printf "net "; $p connect tcp '"$NET_IP"' 80
		printf "hostsvc "; $p connect tcp '"$WORLD_IP $HOSTSVC_PORT"'' sh "$PROBE" \
		>"$T/out/top" 2>&1
	OUT=$T/out/top
	allowed proxy net
	denied hostsvc
	# the middle: the proxy, through its forward; not the service its parent allows
	OUT=$T/nest/mid
	allowed proxy
	denied net
	# the leaf: the proxy, through the middle and the top, and a page through it
	OUT=$T/nest/leaf
	allowed proxy
	denied net
	grep -q "$CONTENT" "$T/nest/leaf.http" ||
		fail "the leaf's request through the proxy: $(cat "$T/nest/leaf.http")"
	# asking for more than the parent has: 125, naming it
	grep -q "rc=125" "$T/nest/leafwide" && grep -q "tcp $NET_IP:80: cage \"${NAME}.m\" does not reach it" \
		"$T/nest/leafwide" || fail "a leaf asking for more: $(cat "$T/nest/leafwide")"
	sluice_w exec "$NAME" -- "$SLUICE" run --forward "2222=$WORLD_IP:$HOSTSVC_PORT" -- /bin/true \
		2>"$T/out/midwide"
	[ $? = 125 ] && grep -q "tcp $WORLD_IP:$HOSTSVC_PORT: cage \"$NAME\" does not reach it" \
		"$T/out/midwide" || fail "a child asking for more: $(cat "$T/out/midwide")"
	sluice_w exec "$NAME" -- "$SLUICE" run --link veth -- /bin/true 2>"$T/out/opt"
	[ $? = 125 ] && grep -q "a child cage's link is none" "$T/out/opt" ||
		fail "a child cage given --link veth: $(cat "$T/out/opt")"
	for o in --user=root --profile=x --publish=8080 --allow=$NET_IP:443 --unix=strict; do
		sluice_w exec "$NAME" -- "$SLUICE" run "$o" -- /bin/true 2>"$T/out/opt"
		[ $? = 125 ] && grep -q "a child cage (in cage \"$NAME\") takes only" "$T/out/opt" ||
			fail "a child cage given $o: $(cat "$T/out/opt")"
	done

	# the leaf runs as the top's user, with no capabilities, in namespaces of its own
	[ "$(cat "$T/nest/leaf.id")" = "$(printf 'nobody\nCapEff:\t0000000000000000\n%s' "${NAME}.m.l")" ] ||
		fail "the leaf's user, capabilities, hostname: $(cat "$T/nest/leaf.id")"
	# ls: the tree, as text and as JSON
	sluice_w ls >"$T/out/ls"
	grep -q "^$NAME " "$T/out/ls" && grep -q "^  ${NAME}.m " "$T/out/ls" &&
		grep -q "^    ${NAME}.m.l " "$T/out/ls" || fail "ls does not show the tree: $(cat "$T/out/ls")"
	sluice_w ls --json >"$T/out/ls.json"
	python3 - "$NAME" "$T/out/ls.json" <<'PY' || fail "ls --json: $(cat "$T/out/ls.json")"
import json, sys
top, cages = sys.argv[1], {c["name"]: c for c in json.load(open(sys.argv[2]))}
assert cages[top]["parent"] is None and cages[top]["nest"] is True, cages[top]
assert cages[top]["children"] == 1, cages[top]
assert cages[top + ".m"]["parent"] == top, cages[top + ".m"]
assert cages[top + ".m.l"]["parent"] == top + ".m", cages[top + ".m.l"]
PY

	# SIGKILL of the top's supervisor: the whole tree goes; gc leaves nothing
	kill -KILL "$(sed -n 's/^pid=//p' "/run/sluice/$NAME")"
	wait_for 100 sh -c "[ ! -e /run/sluice/${NAME}.m ] && [ ! -e /run/sluice/${NAME}.m.l ]" ||
		fail "the children outlived their parent: $(ls /run/sluice)"
	pgrep -f "sleep 600" >/dev/null && fail "the leaf's process outlived the tree"
	wait_pid "$NEST_EXEC" 10
	sluice_w gc >"$T/out/gc" 2>&1 || fail "gc: $(cat "$T/out/gc")"
	same_counts "$base" "a tree whose top supervisor was killed, then gc"
}

# down of the top, with its children running, ends them too, and nothing is left
TESTS="$TESTS nest_down_takes_the_tree"
test_nest_down_takes_the_tree()
{
	base=$(counts)
	next_name
	nest_tree "$NAME"
	sluice_w down "$NAME" || fail "down"
	[ -e "/run/sluice/${NAME}.m" ] || [ -e "/run/sluice/${NAME}.m.l" ] &&
		fail "down left a child: $(ls /run/sluice)"
	wait_pid "$NEST_EXEC" 10
	same_counts "$base" "down of a tree"
}

# without --nest there is no socket: sluice run inside says what it cannot do
TESTS="$TESTS nest_needs_the_parents_consent"
test_nest_needs_the_parents_consent()
{
	next_name
	sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" --user root \
		>/dev/null 2>"$T/out/up.err" || fail "up: $(cat "$T/out/up.err")"
	sluice_w exec "$NAME" -- /bin/sh -c '[ ! -e /run/sluice.nest ]' ||
		fail "a cage without --nest has the nest socket"
	sluice_w exec "$NAME" -- "$SLUICE" run -- /bin/true 2>"$T/out/nonest"
	[ $? = 125 ] && grep -q "this is cage \"$NAME\", made without --nest" "$T/out/nonest" ||
		fail "sluice run in a cage without --nest: $(cat "$T/out/nonest")"
	sluice_w down "$NAME"
}

# nest_peer: a script that connects to the nest socket at its argument and waits 2 s, saying
# "held" (the supervisor waits for a request), "closed" (it hung up on the asker) or the error.
nest_peer() {
	cat >"$T/nest-peer.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print(e.strerror)
    sys.exit()
s.settimeout(2)
try:
    print("closed" if s.recv(100) == b"" else "answered")
except socket.timeout:
    print("held")
PY
	chmod 644 "$T/nest-peer.py"
	echo "$T/nest-peer.py"
}

# the socket serves the cage's processes only: one of the host's with the cage's uid that
# reaches it through /proc/PID/root is hung up on; a child's name says whose it is
TESTS="$TESTS nest_socket_serves_only_its_cage"
test_nest_socket_serves_only_its_cage()
{
	next_name
	sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" --nest --user nobody \
		>/dev/null 2>"$T/out/up.err" || fail "up: $(cat "$T/out/up.err")"
	peer=$(nest_peer)
	sluice_w exec "$NAME" -- python3 "$peer" /run/sluice.nest >"$T/out/inside" 2>&1
	[ "$(cat "$T/out/inside")" = held ] || fail "the cage's own process: $(cat "$T/out/inside")"
	sluice_w exec "$NAME" -- sleep 60 &
	ex=$!
	wait_for 50 pgrep -u nobody -x sleep >/dev/null || fail "no sleep in the cage"
	pid=$(pgrep -u nobody -x sleep | head -1)
	in_world runuser -u nobody -- python3 "$peer" "/proc/$pid/root/run/sluice.nest" \
		>"$T/out/outside" 2>&1
	[ "$(cat "$T/out/outside")" = closed ] ||
		fail "a host process through /proc/$pid/root: $(cat "$T/out/outside")"
	# a request names its working directory: one the cage's user cannot reach is not entered
	mkdir -p "$T/locked/inner" && touch "$T/locked/inner/secret"
	chmod 700 "$T/locked" && chmod 755 "$T/locked/inner"
	cat >"$T/nest-cwd.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("/run/sluice.nest")
argv = ["run", "--", "/bin/sh", "-c", "pwd; ls"]
body = b"N" + sys.argv[1].encode() + b"\0" + str(len(argv)).encode() + b"\0"
body += b"".join(a.encode() + b"\0" for a in argv) + b"PATH=/usr/bin:/bin\0"
socket.send_fds(s, [body], [0, 1, 2])
print("reply", s.recv(1100).decode(errors="replace"))
PY
	chmod 644 "$T/nest-cwd.py"
	sluice_w exec "$NAME" -- python3 "$T/nest-cwd.py" "$T/locked/inner" >"$T/out/cwd" 2>&1
	grep -qx / "$T/out/cwd" && ! grep -q secret "$T/out/cwd" && grep -qx "reply X0" "$T/out/cwd" ||
		fail "a child asked to start in $T/locked/inner: $(cat "$T/out/cwd")"
	sluice_w exec "$NAME" -- "$SLUICE" run --name other -- /bin/true 2>"$T/out/name"
	[ $? = 125 ] && grep -q "a child cage of \"$NAME\" is named $NAME.NAME, not \"other\"" \
		"$T/out/name" || fail "a child named other: $(cat "$T/out/name")"
	sluice_w exec "$NAME" -- /bin/sh -c "$SLUICE run -- hostname" >"$T/out/dflt" 2>&1
	grep -qx "$NAME\.[0-9]*" "$T/out/dflt" || fail "a child's default name: $(cat "$T/out/dflt")"
	sluice_w down "$NAME" || fail "down"
	wait "$ex" 2>/dev/null
	true
}

# rootless: user nobody's cage with --nest makes a tree of its own, each level reaching only
# its own, a child asking for more refused naming it, and the top's death ending them all
TESTS="$TESTS nest_rootless_tree"
test_nest_rootless_tree()
{
	base=$(counts)
	next_name
	sl=$(nobody_sluice)
	d=$T/nest-rl
	mkdir -p "$d" && chmod 777 "$d" && rm -f "$d"/*
	probes='printf "proxy "; '"$PROBE"' connect tcp 127.0.0.1 '"$PROXY_PORT"'
printf "net "; '"$PROBE"' connect tcp 127.0.0.1 8080'
	cat >"$d/top.sh" <<TOP
{ $probes; } >$d/top 2>&1
$sl run --name $NAME.m --forward 9999=$WORLD_IP:$HOSTSVC_PORT -- /bin/true 2>$d/midwide
echo rc=\$? >>$d/midwide
exec $sl run --name $NAME.m --nest --proxy http://127.0.0.1:$PROXY_PORT -- /bin/sh $d/mid.sh
TOP
	cat >"$d/mid.sh" <<MID
{ $probes; } >$d/mid 2>&1
$sl run --name $NAME.m.l --forward 8080=127.0.0.1:8080 -- /bin/true 2>$d/leafwide
echo rc=\$? >>$d/leafwide
exec $sl run --name $NAME.m.l --proxy http://127.0.0.1:$PROXY_PORT -- /bin/sh $d/leaf.sh
MID
	cat >"$d/leaf.sh" <<LEAF
{ $probes; } >$d/leaf 2>&1
curl -sf --max-time 10 -x http://127.0.0.1:$PROXY_PORT http://$NET_IP/ >$d/leaf.http 2>&1
{ id -un; grep ^CapEff /proc/self/status; hostname; } >$d/leaf.id
echo ready >$d/ready
exec sleep 600
LEAF
	in_world runuser -u nobody -- /bin/sh -c 'echo $$ >"$1/top.pid"; shift; exec "$@"' sh "$d" \
		"$sl" run --name "$NAME" --nest --proxy "$PROXY_URL" --forward "8080=$NET_IP:80" \
		-- /bin/sh "$d/top.sh" </dev/null >"$d/top.out" 2>&1 &
	top=$!
	wait_for 300 test -e "$d/ready" ||
		fail "the leaf did not start: $(cat "$d/top.out" "$d/midwide" "$d/leafwide" 2>&1)"
	OUT=$d/top
	allowed proxy net
	OUT=$d/mid
	allowed proxy
	denied net
	OUT=$d/leaf
	allowed proxy
	denied net
	grep -q "$CONTENT" "$d/leaf.http" || fail "the leaf's page: $(cat "$d/leaf.http")"
	grep -q rc=125 "$d/midwide" &&
		grep -q "tcp $WORLD_IP:$HOSTSVC_PORT: cage \"$NAME\" does not reach it" "$d/midwide" ||
		fail "the middle asking for more: $(cat "$d/midwide")"
	grep -q rc=125 "$d/leafwide" &&
		grep -q "tcp 127.0.0.1:8080: cage \"$NAME.m\" does not reach it" "$d/leafwide" ||
		fail "the leaf asking for more: $(cat "$d/leafwide")"
	[ "$(cat "$d/leaf.id")" = "$(printf 'nobody\nCapEff:\t0000000000000000\n%s' "$NAME.m.l")" ] ||
		fail "the leaf's user, capabilities, hostname: $(cat "$d/leaf.id")"
	# every supervisor of the tree runs as nobody, none with a capability left
	for p in $(pgrep -u nobody -f "$sl run --name $NAME"); do
		grep -q "^CapEff:.0000000000000000" "/proc/$p/status" ||
			fail "supervisor $p keeps capabilities: $(grep ^Cap "/proc/$p/status")"
	done
	# SIGKILL of the top's supervisor: the whole tree goes
	tree=$(pgrep -u nobody -f "sluice run --name $NAME" | tr '\n' ' ')
	leaf=$(pgrep -u nobody -x sleep | tr '\n' ' ')
	[ -n "$leaf" ] || fail "no leaf process"
	kill -KILL "$(cat "$d/top.pid")"
	wait_for 100 sh -c "for p in $leaf $tree; do
		grep -qv ') Z' /proc/\$p/stat 2>/dev/null && exit 1; done; exit 0" ||
		fail "a process outlived the tree: $(ps -o pid,args -p "$(echo $leaf $tree | tr " " ,)" 2>&1)"
	wait "$top" 2>/dev/null
	same_counts "$base" "a rootless tree whose top supervisor was killed"
}

# a standing child (sluice up inside the cage) is the parent's too: it ends with it
TESTS="$TESTS nest_standing_child_ends_with_its_parent"
test_nest_standing_child_ends_with_its_parent()
{
	base=$(counts)
	next_name
	sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" --nest --user root \
		>/dev/null 2>"$T/out/up.err" || fail "up: $(cat "$T/out/up.err")"
	sluice_w exec "$NAME" -- "$SLUICE" up "${NAME}.c" --proxy "$PROXY_URL" \
		>"$T/out/upc" 2>&1 || fail "up inside the cage: $(cat "$T/out/upc")"
	[ -e "/run/netns/${NAME}.c" ] || fail "no /run/netns/${NAME}.c"
	# from the host: exec into the child, which reaches the proxy at its forward only
	sluice_w exec "${NAME}.c" -- /bin/sh -c 'p=$1
		printf "proxy "; $p connect tcp 127.0.0.1 '"$PROXY_PORT"'
		printf "net "; $p connect tcp '"$NET_IP"' 80' sh "$PROBE" >"$T/out/pc" 2>&1
	OUT=$T/out/pc
	allowed proxy
	denied net
	sluice_w ls --json | python3 -c '
import json, sys
c = {c["name"]: c for c in json.load(sys.stdin)}
assert c[sys.argv[1] + ".c"]["parent"] == sys.argv[1] and c[sys.argv[1] + ".c"]["depth"] == 1
' "$NAME" || fail "ls does not show ${NAME}.c under $NAME"
	kill -KILL "$(sed -n 's/^pid=//p' "/run/sluice/$NAME")"
	wait_for 100 sh -c "[ ! -e /run/sluice/${NAME}.c ]" || fail "the standing child outlived its parent"
	sluice_w gc >"$T/out/gc" 2>&1 || fail "gc: $(cat "$T/out/gc")"
	same_counts "$base" "a standing child whose parent was killed, then gc"
}

# contrib/actors/sluice_spawn.py: a root actor spawns a subtree into a child cage, and is
# told (SluiceRefused) when it asks for more than its cage reaches
TESTS="$TESTS nest_python_helper_spawns_children"
test_nest_python_helper_spawns_children()
{
	base=$(counts)
	next_name
	sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" --nest --user nobody \
		>/dev/null 2>"$T/out/up.err" || fail "up: $(cat "$T/out/up.err")"
	cat >"$T/nest-actor.py" <<PY
import subprocess, sys
sys.path.insert(0, "$ROOT/contrib/actors")
import sluice_spawn as ss
ss.SLUICE = "$SLUICE"
with ss.child_cage(["$PROBE", "connect", "tcp", "127.0.0.1", "$PROXY_PORT"],
                   name="a", proxy="$PROXY_URL", stdout=subprocess.PIPE) as p:
    print("child", p.stdout.read().decode().split()[0], p.wait())
try:
    with ss.child_cage(["/bin/true"], forwards=["80=$NET_IP:80"], stderr=subprocess.PIPE):
        print("widened")
except ss.SluiceRefused as e:
    print("refused", e)
PY
	sluice_w exec "$NAME" -- python3 "$T/nest-actor.py" >"$T/out/py" 2>&1 ||
		fail "the actor: $(cat "$T/out/py")"
	grep -qx "child ok 0" "$T/out/py" || fail "the child actor: $(cat "$T/out/py")"
	grep -q "^refused sluice: tcp $NET_IP:80: cage \"$NAME\" does not reach it" "$T/out/py" ||
		fail "the widening child: $(cat "$T/out/py")"
	sluice_w down "$NAME" || fail "down"
	same_counts "$base" "children spawned by the Python helper"
}
