# escape.test.sh: what a hostile program in a cage tries beyond the IP layers, each class its own
# test, each in every mode a cage is run in (root with link none and veth, and nobody): host unix
# sockets reached through a symlink, a namespace of its own, any directory, or a race against the
# supervisor's check; a seccomp listener of its own; the denylist; the caller's terminal; strict
# modes; a closed stderr. A host socket is reached or not as its server says, never as the cage
# says. Ordinary programs and the cage's own IPC keep working.

ES_MODES="root-none root-veth nobody"

# es_tools: this file's tools into $T/bin, where user nobody can run them.
es_tools() {
	for f in "$ROOT/build/tests/escape" "$ROOT/tests/lib/unixprobe.py"; do
		[ -f "$f" ] || fail "no $f (make all)"
		cp "$f" "$T/bin/" && chmod 755 "$T/bin/${f##*/}"
	done
	ESC=$T/bin/escape
	UXP="$PY $T/bin/unixprobe.py"
}

# es_host_server NAME: a host daemon's unix socket (stream, and datagram at .dgram) at
# $T/out/NAME, logging "conn" and "dgram" for each one that reaches it. Sets HS, HS_LOG.
es_host_server() {
	HS=$T/out/$1
	HS_LOG=$T/hs.$(echo "$1" | tr / _).log
	rm -f "$HS" "$HS.dgram"
	bg_start "$HS_LOG" $W "$PY" "$T/bin/unixprobe.py" serve "$HS"
	wait_for 50 test -S "$HS.dgram" || fail "host server $HS not up: $(cat "$HS_LOG")"
}

# es_untouched: the host server was reached by nothing.
es_untouched() {
	sleep 0.2
	grep -q 'conn\|dgram' "$HS_LOG" &&
		fail "$1: the host socket was reached: $(grep -c . "$HS_LOG") lines in its log"
	true
}

# es_cage MODE [sluice run options] -- CMD...: a cage in MODE, with the proxy. Sets NAME, RC,
# OUT, ERR.
es_cage() {
	mode=$1
	shift
	case $mode in
	root-none) LINK=none cage root "$@" ;;
	root-veth) LINK=veth cage root "$@" ;;
	nobody) run_as nobody --proxy "$PROXY_URL" "$@" ;;
	*) fail "no mode $mode" ;;
	esac
}

# es_expect MODE LABEL VERDICT: the line LABEL of the last cage said VERDICT.
es_expect() {
	[ "$(verdict "$2")" = "$3" ] ||
		fail "$1: $2: expected $3, got $(grep "^$2 " "$OUT" || echo nothing) ($(said))"
}

TESTS="$TESTS unix_symlink_to_a_host_socket_is_refused_stream_and_datagram"
test_unix_symlink_to_a_host_socket_is_refused_stream_and_datagram()
{
	es_tools
	es_host_server esc-sym.sock
	base=$(counts)
	for m in $ES_MODES; do
		# symlinks the cage makes in its own /tmp and runtime directory (which the cgroup
		# hooks used to allow by name), to the socket and to its directory
		es_cage $m -- /bin/sh -c "
			rt=/run/user/\$(id -u)
			ln -s $HS /tmp/l; ln -s $HS.dgram /tmp/l.dgram; ln -s $T/out /tmp/d
			ln -s $HS \$rt/l
			echo stream \$($UXP connect /tmp/l)
			echo dgram \$($UXP dgram /tmp/l.dgram)
			echo dir \$($UXP connect /tmp/d/${HS##*/})
			echo dirdgram \$($UXP dgram /tmp/d/${HS##*/}.dgram)
			echo runtime \$($UXP connect \$rt/l)
			echo done"
		grep -qx done "$OUT" || fail "$m: the cage did not run: $(said)"
		for l in stream dgram dir dirdgram runtime; do
			es_expect $m $l EPERM
		done
	done
	es_untouched "a symlink"
	same_counts "$base" "symlink escapes"
}

TESTS="$TESTS unix_bind_mount_in_a_namespace_the_cage_makes_is_refused"
test_unix_bind_mount_in_a_namespace_the_cage_makes_is_refused()
{
	es_tools
	es_host_server esc-ns.sock
	base=$(counts)
	for m in $ES_MODES; do
		# the default filter refuses the namespace itself
		es_cage $m -- "$ESC" userns-bind "$T/out" /tmp/m "/tmp/m/${HS##*/}"
		es_expect $m unshare EPERM
		# without it, the host directory is bound under the cage's own /tmp: the socket
		# reached is still the host's
		es_cage $m --seccomp off -- "$ESC" userns-bind "$T/out" /tmp/m "/tmp/m/${HS##*/}"
		es_expect $m unshare ok
		es_expect $m bind ok
		es_expect $m connect EPERM
		es_expect $m dgram EPERM
	done
	es_untouched "a bind mount in a namespace of the cage's own"
	same_counts "$base" "namespace escapes"
}

TESTS="$TESTS unix_host_socket_in_any_directory_is_refused"
test_unix_host_socket_in_any_directory_is_refused()
{
	es_tools
	es_host_server esc-any.sock
	base=$(counts)
	for m in $ES_MODES; do
		# by its path, relative from its directory, and through /proc/self/fd
		es_cage $m -- /bin/sh -c "
			echo abs \$($UXP connect $HS)
			echo absdgram \$($UXP dgram $HS.dgram)
			cd $T/out && echo rel \$($UXP connect ./${HS##*/})
			$ESC connect-fdpath $HS
			echo done"
		grep -qx done "$OUT" || fail "$m: the cage did not run: $(said)"
		for l in abs absdgram rel fdpath; do
			es_expect $m $l EPERM
		done
	done
	es_untouched "a host socket by its path"
	same_counts "$base" "host sockets by path"
}

TESTS="$TESTS unix_races_cannot_turn_a_judged_call_into_a_host_socket"
test_unix_races_cannot_turn_a_judged_call_into_a_host_socket()
{
	es_tools
	es_host_server esc-race.sock
	base=$(counts)
	for m in $ES_MODES; do
		# A thread rewrites the address (an allowed socket of the cage's own / the host's)
		# and swaps the fd (an IP socket / a unix one) while the calls are in flight.
		TMO=120 es_cage $m -- /bin/sh -c "
			$ESC race-addr /tmp/safe.sock $HS 3000 && $ESC race-fd $HS 1500 && echo done"
		grep -qx done "$OUT" || fail "$m: the races did not run: $(said)"
		# the races ran: some calls reached the cage's own sockets
		for l in race-addr-stream race-addr-dgram race-fd-stream race-fd-dgram; do
			ok=$(awk -v l=$l '$1 == l { sub(/ok=/, "", $2); print $2 }' "$OUT")
			[ "${ok:-0}" -gt 0 ] || fail "$m: $l: no call went through at all: $(said)"
		done
	done
	es_untouched "a race"
	same_counts "$base" "races"
}

TESTS="$TESTS seccomp_a_cage_cannot_install_a_listener_of_its_own"
test_seccomp_a_cage_cannot_install_a_listener_of_its_own()
{
	es_tools
	for m in $ES_MODES; do
		# a listener of its own would see the calls the supervisor judges first
		es_cage $m --seccomp off -- "$ESC" seccomp-listener
		es_expect $m seccomp-listener EPERM
	done
}

TESTS="$TESTS ancillary_data_needing_a_capability_is_refused_in_every_mode"
test_ancillary_data_needing_a_capability_is_refused_in_every_mode()
{
	es_tools
	for m in $ES_MODES; do
		# rootless the supervisor performs these sends: what it owns must not count
		es_cage $m -- "$ESC" cmsgs
		es_expect $m ip-ttl ok
		for l in so-mark so-priority creds-other; do
			es_expect $m $l EPERM
		done
	done
}

TESTS="$TESTS seccomp_denylist_refuses_with_eperm_and_off_turns_it_off"
test_seccomp_denylist_refuses_with_eperm_and_off_turns_it_off()
{
	es_tools
	base=$(counts)
	for m in $ES_MODES; do
		es_cage $m -- /bin/sh -c "grep '^Seccomp:' /proc/self/status; $ESC syscalls"
		grep -q '^Seccomp:[[:space:]]*2' "$OUT" || fail "$m: no filter: $(said)"
		for l in unshare-user clone-newuser setns keyctl add_key bpf perf_event_open \
			userfaultfd io_uring_setup mount init_module kexec_load open_by_handle_at; do
			es_expect $m $l EPERM
		done
		es_expect $m clone3 ENOSYS
		# the refusals are the filter's: without the denylist the kernel allows these
		es_cage $m --seccomp off -- "$ESC" syscalls
		for l in unshare-user clone-newuser clone3 keyctl add_key perf_event_open \
			userfaultfd; do
			es_expect $m $l ok
		done
		es_expect $m io_uring_setup EPERM # the unix broker's: io_uring's calls pass no filter
	done
	same_counts "$base" "the denylist"
}

TESTS="$TESTS ordinary_programs_run_unchanged_under_the_filter"
test_ordinary_programs_run_unchanged_under_the_filter()
{
	es_tools
	cat >"$T/bin/node-check.js" <<-'EOF'
	// a unix socket server and client in the cage, then a page through the proxy
	const net = require('net'), http = require('http'), fs = require('fs');
	const path = '/tmp/node.sock';
	const srv = net.createServer(c => c.end('hi')).listen(path, () => {
		net.connect(path).on('data', d => {
			console.log('node-unix ' + d);
			srv.close();
			const u = new URL(process.env.http_proxy);
			http.get({host: u.hostname, port: u.port, path: process.argv[2]}, r => {
				let b = '';
				r.on('data', d => b += d).on('end', () => console.log('node-http ' + r.statusCode + ' ' + b.trim()));
			}).on('error', e => console.log('node-http ' + e.code));
		});
	});
	EOF
	chmod 644 "$T/bin/node-check.js"
	for m in $ES_MODES; do
		es_cage $m -- /bin/sh -c "
			cd /tmp
			$PY -c 'import socket,threading,os
s=socket.socket(socket.AF_UNIX); s.bind(\"/tmp/py.sock\"); s.listen(1)
threading.Thread(target=lambda: s.accept()[0].send(b\"hi\")).start()
c=socket.socket(socket.AF_UNIX); c.connect(\"/tmp/py.sock\"); print(\"python\", c.recv(2).decode())'
			curl -sf --max-time 10 http://$NET_IP/ >/tmp/page && echo curl \$(cat /tmp/page)
			git init -q /tmp/repo && cd /tmp/repo && echo x >f && git add f &&
				git -c user.name=t -c user.email=t@t commit -qm one && echo git \$(git log --format=%s)
			node $T/bin/node-check.js http://$NET_IP/
			echo shell \$(seq 1 50 | sort -rn | head -n 1)
			echo done"
		grep -qx done "$OUT" || fail "$m: the programs did not run: $(said)"
		grep -qx 'python hi' "$OUT" || fail "$m: python: $(said)"
		grep -qxF "curl $CONTENT" "$OUT" || fail "$m: curl through the proxy: $(said)"
		grep -qx 'git one' "$OUT" || fail "$m: git: $(said)"
		grep -qx 'node-unix hi' "$OUT" || fail "$m: node, unix socket: $(said)"
		grep -qxF "node-http 200 $CONTENT" "$OUT" || fail "$m: node through the proxy: $(said)"
		grep -qx 'shell 50' "$OUT" || fail "$m: a shell pipeline: $(said)"
	done
}

TESTS="$TESTS unix_in_cage_ipc_works_in_every_mode"
test_unix_in_cage_ipc_works_in_every_mode()
{
	es_tools
	base=$(counts)
	for m in $ES_MODES; do
		# stream and datagram, in /tmp, the runtime directory and a project directory on
		# the host's file system: a socket bound in the cage is the cage's wherever it is
		mkdir -p "$T/out/proj.$m" && chmod 777 "$T/out/proj.$m"
		es_cage $m -- /bin/sh -c "
			echo tmp \$($UXP pair /tmp)
			echo runtime \$($UXP pair /run/user/\$(id -u))
			echo project \$($UXP pair $T/out/proj.$m)
			cd $T/out/proj.$m && echo relative \$($UXP pair .)
			echo done"
		grep -qx done "$OUT" || fail "$m: the cage did not run: $(said)"
		for l in tmp runtime project relative; do
			es_expect $m $l ok
		done
	done
	same_counts "$base" "in-cage IPC"
}

TESTS="$TESTS unix_allowed_host_socket_and_directory_still_work"
test_unix_allowed_host_socket_and_directory_still_work()
{
	es_tools
	es_host_server esc-allow.sock
	mkdir -p "$T/out/adir" && chmod 777 "$T/out/adir"
	HS_FILE=$HS
	HS_FILE_LOG=$HS_LOG
	es_host_server adir/in.sock
	for m in $ES_MODES; do
		es_cage $m --allow "/unix$HS_FILE" --allow "/unix$HS_FILE.dgram" \
			--allow "/unix$T/out/adir/" -- /bin/sh -c "
			echo file \$($UXP connect $HS_FILE)
			echo filedgram \$($UXP dgram $HS_FILE.dgram)
			echo dir \$($UXP connect $HS)
			echo dirdgram \$($UXP dgram $HS.dgram)
			ln -s $HS_FILE /tmp/l && echo link \$($UXP connect /tmp/l)
			echo done"
		grep -qx done "$OUT" || fail "$m: the cage did not run: $(said)"
		for l in file filedgram dir dirdgram link; do
			es_expect $m $l ok
		done
	done
	sleep 0.2
	[ "$(grep -c conn "$HS_FILE_LOG")" = 6 ] && [ "$(grep -c dgram "$HS_FILE_LOG")" = 3 ] ||
		fail "the allowed socket's server saw $(grep -c conn "$HS_FILE_LOG") connections and $(grep -c dgram "$HS_FILE_LOG") datagrams, not 6 and 3"
	[ "$(grep -c conn "$HS_LOG")" = 3 ] && [ "$(grep -c dgram "$HS_LOG")" = 3 ] ||
		fail "the allowed directory's server saw $(grep -c conn "$HS_LOG") connections and $(grep -c dgram "$HS_LOG") datagrams, not 3 and 3"
}

TESTS="$TESTS unix_allowed_directory_admits_only_sockets_bound_in_it"
test_unix_allowed_directory_admits_only_sockets_bound_in_it()
{
	es_tools
	mkdir -p "$T/out/hdir" "$T/out/mvdir" && chmod 777 "$T/out/hdir" "$T/out/mvdir"
	es_host_server hdir/in.sock
	IN=$HS
	es_host_server mvdir/m.sock
	MV=$HS
	MV_LOG=$HS_LOG
	es_host_server esc-hard.sock
	base=$(counts)
	for m in $ES_MODES; do
		# owned as a daemon of the cage's user would be (an ssh-agent): hard links are the
		# owner's
		case $m in nobody) u=nobody ;; *) u=root ;; esac
		chown $u "$HS" "$HS.dgram"
		# A host socket the cage links or moves into the allowed directory is the same
		# socket it was: bound elsewhere, so still refused.
		es_cage $m --allow "/unix$T/out/hdir/" -- /bin/sh -c "
			d=$T/out/hdir
			echo in \$($UXP connect $IN)
			ln $HS \$d/hard.sock && echo hard \$($UXP connect \$d/hard.sock)
			ln $HS.dgram \$d/hard.dgram && echo harddgram \$($UXP dgram \$d/hard.dgram)
			mv $MV \$d/moved.sock && echo moved \$($UXP connect \$d/moved.sock)
			mv \$d/moved.sock $MV
			rm -f \$d/hard.sock \$d/hard.dgram
			echo done"
		grep -qx done "$OUT" || fail "$m: the cage did not run: $(said)"
		es_expect $m in ok
		for l in hard harddgram moved; do
			es_expect $m $l EPERM
		done
	done
	es_untouched "a host socket linked into an allowed directory"
	HS_LOG=$MV_LOG
	es_untouched "a host socket moved into an allowed directory"
	same_counts "$base" "the allowed directory"
}

TESTS="$TESTS unix_strict_is_refused_rootless_and_holds_as_root"
test_unix_strict_is_refused_rootless_and_holds_as_root()
{
	es_tools
	es_host_server esc-strict.sock
	base=$(counts)
	run_as nobody --unix strict -- "$PY" "$T/bin/unixprobe.py" connect "$HS"
	[ "$RC" = 125 ] || fail "nobody, strict: exit $RC, not 125: $(said)"
	grep -q 'strict needs the kernel to refuse' "$ERR" || fail "nobody, strict: $(said)"
	[ -s "$OUT" ] && fail "nobody, strict: the command ran: $(said)"
	LINK=none cage root --unix strict -- "$PY" "$T/bin/unixprobe.py" connect "$HS"
	[ "$RC" = 0 ] && grep -qx EPERM "$OUT" || fail "root, strict: $(said)"
	es_untouched "strict"
	same_counts "$base" "strict"
}

TESTS="$TESTS closed_stderr_neither_kills_nor_strands_a_run"
test_closed_stderr_neither_kills_nor_strands_a_run()
{
	base=$(counts)
	for who in root nobody; do
		next_name
		sl=$SLUICE
		run=
		[ $who = nobody ] && sl=$(nobody_sluice) && run="runuser -u nobody --"
		# -v writes lines after the reader of its stderr has gone
		{
			timeout -k 3 30 nsenter --net=/run/netns/$W $run "$sl" run -v --name "$NAME" \
				--user $who -- /bin/sh -c 'sleep 0.5; exit 7' </dev/null
			echo $? >"$T/out/rc.$NAME"
		} 2>&1 | head -c 1 >/dev/null
		rc=$(cat "$T/out/rc.$NAME")
		[ "$rc" = 7 ] || fail "$who: exit $rc with stderr closed, not the command's 7"
		[ -e "/run/sluice/$NAME" ] && fail "$who: the record /run/sluice/$NAME stayed"
	done
	same_counts "$base" "runs with a closed stderr"
}

# es_tmux NAME CMD: a real terminal (tmux) running CMD (bash); es_keys sends keys to it;
# es_screen prints what it shows.
es_tmux() {
	# a socket of its own each time: a server killed a moment ago may still hold the last
	ES_TMUX_N=$((${ES_TMUX_N:-0} + 1))
	TMUX_SOCK=$T/tmux.$TESTNO.$ES_TMUX_N
	tmux -S "$TMUX_SOCK" new-session -d -s "$1" -x 100 -y 30 "$2" ||
		fail "tmux would not start"
	wait_for 30 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t '$1' | grep -q '[$#] *$'"
}

es_keys() {
	tmux -S "$TMUX_SOCK" send-keys -t "$@"
}

es_screen() {
	tmux -S "$TMUX_SOCK" capture-pane -p -t "$1"
}

es_tmux_down() {
	tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
	true
}

# es_shell_cmd WHO: the start of a sluice run command line for WHO, in the world.
es_shell_cmd() {
	if [ "$1" = root ]; then
		echo "nsenter --net=/run/netns/$W $SLUICE run --user root"
	else
		echo "nsenter --net=/run/netns/$W runuser -u nobody -- $(nobody_sluice) run"
	fi
}

TESTS="$TESTS terminal_input_cannot_be_injected_from_the_cage"
test_terminal_input_cannot_be_injected_from_the_cage()
{
	es_tools
	command -v tmux >/dev/null || fail "no tmux"
	for who in root nobody; do
		pwned=$T/out/pwned.$who
		rm -f "$pwned"
		es_tmux inj "bash --norc -i"
		trap es_tmux_down EXIT
		# what the caged program pushes would run in the caller's shell after the cage
		es_keys inj "$(es_shell_cmd $who) -- $ESC tiocsti 'touch $pwned'\$'\\n'; echo ran-\$?" Enter
		wait_for 100 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t inj | grep -q '^ran-'" ||
			fail "$who: the cage did not end: $(es_screen inj | tr '\n' '|')"
		sleep 0.5
		screen=$(es_screen inj | tr '\n' '|')
		es_tmux_down
		[ -e "$pwned" ] && fail "$who: the caller's shell ran what the cage pushed: $screen"
		echo "$screen" | grep -q 'tiocsti EPERM' || fail "$who: TIOCSTI was not refused: $screen"
		echo "$screen" | grep -q 'tiocsti-high-bits EPERM' ||
			fail "$who: TIOCSTI with high bits was not refused: $screen"
	done
}

TESTS="$TESTS terminal_interactive_use_keeps_working"
test_terminal_interactive_use_keeps_working()
{
	command -v tmux >/dev/null || fail "no tmux"
	for who in root nobody; do
		es_tmux ia "bash --norc -i"
		trap es_tmux_down EXIT
		es_keys ia "$(es_shell_cmd $who) -- bash --norc -i; echo outer-\$?" Enter
		sleep 1.5
		es_keys ia "stty size" Enter
		wait_for 30 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -qx '30 100'" ||
			fail "$who: stty size in the cage: $(es_screen ia | tr '\n' '|')"
		# the window changes size: the cage's terminal follows
		tmux -S "$TMUX_SOCK" resize-window -t ia -x 90 -y 25
		sleep 0.3
		es_keys ia "stty size" Enter
		wait_for 30 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -qx '25 90'" ||
			fail "$who: after a resize: $(es_screen ia | tr '\n' '|')"
		# job control: stop a job, list it, bring it back, interrupt it
		es_keys ia "sleep 60" Enter
		sleep 0.5
		es_keys ia C-z
		wait_for 30 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -q 'Stopped'" ||
			fail "$who: ^Z: $(es_screen ia | tr '\n' '|')"
		es_keys ia "fg" Enter
		sleep 0.5
		es_keys ia C-c
		es_keys ia "echo back-\$?" Enter
		wait_for 30 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -q '^back-130'" ||
			fail "$who: ^C to the foreground job: $(es_screen ia | tr '\n' '|')"
		# the exit status comes back to the caller's shell
		es_keys ia "exit 3" Enter
		wait_for 50 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -q '^outer-3'" ||
			fail "$who: exit status: $(es_screen ia | tr '\n' '|')"
		# a caged program that turns echo off does not leave the caller's terminal so
		es_keys ia "clear; $(es_shell_cmd $who) -- stty -echo; stty -a | tr ' ' '\\n' | grep -x -- '-\\?echo' | sed 's/^/mode/'" Enter
		wait_for 50 sh -c "tmux -S '$TMUX_SOCK' capture-pane -p -t ia | grep -q '^mode-\\?echo$'" ||
			fail "$who: stty after the cage: $(es_screen ia | tr '\n' '|')"
		es_screen ia | grep -qx 'modeecho' ||
			fail "$who: the cage left echo off: $(es_screen ia | tr '\n' '|')"
		es_tmux_down
	done
}

TESTS="$TESTS working_directory_below_tmp_is_the_hosts_at_its_path"
test_working_directory_below_tmp_is_the_hosts_at_its_path()
{
	d=/tmp/sluice-test-$$.$TESTNO
	mkdir -p "$d" && chmod 755 "$d" || fail "mkdir $d"
	trap 'rm -rf "$d"' EXIT
	printf '#!/bin/sh\necho ran-in-$(pwd)\n' >"$d/s.sh"
	echo beside >"$d/f"
	chmod 755 "$d/s.sh"
	chmod 644 "$d/f"
	for m in $ES_MODES; do
		# relative and absolute names reach the same host files
		(cd "$d" && es_cage $m -- /bin/sh -c "./s.sh; $d/s.sh; cat f $d/f; ls /tmp; echo done"
		 cp "$OUT" "$T/out/cwd.$m")
		OUT=$T/out/cwd.$m
		[ "$(grep -c "^ran-in-$d\$" "$OUT")" = 2 ] || fail "$m: the script: $(said)"
		[ "$(grep -c '^beside$' "$OUT")" = 2 ] || fail "$m: the file beside it: $(said)"
		[ "$(grep -vx "ran-in-$d\|beside\|done" "$OUT")" = "${d#/tmp/}" ] ||
			fail "$m: the cage's /tmp shows more than the kept directory: $(said)"
		# from /tmp itself: the cage's own, empty /tmp
		(cd /tmp && es_cage $m -- /bin/sh -c 'pwd; ls -A | wc -l'
		 cp "$OUT" "$T/out/cwdtmp.$m")
		[ "$(cat "$T/out/cwdtmp.$m" | tr '\n' ' ')" = "/tmp 0 " ] ||
			fail "$m: started in /tmp: $(cat "$T/out/cwdtmp.$m" | tr '\n' '|')"
		# named from elsewhere: not found, and said why
		(cd "$T/out" && es_cage $m -- "$d/s.sh"
		 echo $RC >"$T/out/cwdrc.$m"; cp "$ERR" "$T/out/cwderr.$m")
		[ "$(cat "$T/out/cwdrc.$m")" = 127 ] || fail "$m: named from elsewhere: exit $(cat "$T/out/cwdrc.$m")"
		grep -q 'the cage has its own /tmp' "$T/out/cwderr.$m" ||
			fail "$m: no word on why: $(cat "$T/out/cwderr.$m")"
	done
}

# An IP socket handed in on stdin (inetd-style services, socat with sockets) is of the netns
# outside: the cage's rules and hooks do not apply to it. The cage reads it as before, but
# cannot disconnect it and connect it, or send with an address on it, to anywhere from there.
TESTS="$TESTS ip_socket_handed_in_cannot_connect_from_outside"
test_ip_socket_handed_in_cannot_connect_from_outside()
{
	es_tools
	cp "$ROOT/tests/lib/handin.py" "$T/bin/" && chmod 755 "$T/bin/handin.py"
	base=$(counts)
	for m in $ES_MODES; do
		next_name
		OUT=$T/out.$NAME
		ERR=$T/err.$NAME
		log=$T/out/handin.$m
		inner="$PY $T/bin/handin.py escape {port}"
		case $m in
		root-none | root-veth)
			timeout -k 3 30 nsenter --net=/run/netns/$W "$PY" "$T/bin/handin.py" launch "$log" -- \
				"$SLUICE" run --name "$NAME" --link "${m#root-}" --proxy "$PROXY_URL" \
				--user nobody -- $inner >"$OUT" 2>"$ERR" ;;
		nobody)
			timeout -k 3 30 nsenter --net=/run/netns/$W runuser -u nobody -- \
				"$PY" "$T/bin/handin.py" launch "$log" -- "$(nobody_sluice)" run \
				--name "$NAME" --proxy "$PROXY_URL" -- $inner >"$OUT" 2>"$ERR" ;;
		esac
		RC=$?
		grep -qx "read hello" "$OUT" || fail "$m: the socket cannot be read: $(said)"
		grep -qx "connect ok" "$OUT" && fail "$m: connected from outside the cage: $(said)"
		grep -qx "sendto ok" "$OUT" && fail "$m: sent from outside the cage: $(said)"
		grep -qx "connect EPERM" "$OUT" || fail "$m: connect: $(said)"
		grep -qx "extra 0" "$log" || fail "$m: the listener outside was reached: $(cat "$log")"
		grep -q "refused .*on an IP socket handed in from outside the cage" "$ERR" ||
			fail "$m: no denial line: $(said)"
	done
	# sluice exec hands its caller's stdio into a running named cage: the same holds there
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	sluice_w up "$NAME" --user nobody >"$T/up.$NAME" 2>&1 || fail "up: $(cat "$T/up.$NAME")"
	timeout -k 3 30 nsenter --net=/run/netns/$W "$PY" "$T/bin/handin.py" launch "$T/out/handin.exec" -- \
		"$SLUICE" exec "$NAME" -- $PY $T/bin/handin.py escape {port} >"$OUT" 2>"$ERR"
	sluice_w down "$NAME" >/dev/null 2>&1
	grep -qx "read hello" "$OUT" || fail "exec: the socket cannot be read: $(said)"
	grep -qx "connect EPERM" "$OUT" || fail "exec: connect: $(said)"
	grep -qx "extra 0" "$T/out/handin.exec" || fail "exec: the listener outside was reached"
	same_counts "$base" "hand-in"
}
