# status.test.sh: the command's exit status and signals pass through sluice.

TESTS="$TESTS exit_status_passes_through"
test_exit_status_passes_through()
{
	cage root -- /bin/sh -c 'exit 7'
	[ "$RC" = 7 ] || fail "exit 7: $(said)"
	cage root -- /bin/true
	[ "$RC" = 0 ] || fail "true: $(said)"
	cage root -- /nonexistent/sluice-no-such-command
	[ "$RC" = 127 ] || fail "not found: $(said)"
	cage root -- sluice-no-such-command-in-path
	[ "$RC" = 127 ] || fail "not found in PATH: $(said)"
	printf '#!/bin/sh\necho ran\n' >"$T/out/notexec"
	chmod 644 "$T/out/notexec"
	cage root -- "$T/out/notexec"
	[ "$RC" = 126 ] || fail "not executable: $(said)"
	# A script without "#!" runs under /bin/sh, as execvp() runs it.
	printf 'echo "no #!: $1"\nexit 5\n' >"$T/out/noshebang"
	chmod 755 "$T/out/noshebang"
	cage nobody -- "$T/out/noshebang" arg
	[ "$RC" = 5 ] && grep -qx 'no #!: arg' "$OUT" || fail "script without #!: $(said)"
	# No process could be made for the command (nobody may have one process: pid 1): that is
	# sluice failing (125), not a command that cannot be executed (126).
	next_name
	prlimit --nproc=1:1 timeout 30 nsenter --net=/run/netns/$W "$SLUICE" run --name "$NAME" \
		--user nobody -- /bin/true </dev/null >"$T/out/nproc.out" 2>"$T/out/nproc.err"
	rc=$?
	[ "$rc" = 125 ] && grep -q 'spawn /bin/true: Resource temporarily unavailable' \
		"$T/out/nproc.err" || fail "spawn refused by RLIMIT_NPROC: exit $rc: $(cat "$T/out/nproc.err")"
	cage root -- /bin/sh -c 'kill -TERM $$'
	[ "$RC" = 143 ] || fail "killed by SIGTERM: $(said)"
	cage root -- /bin/sh -c 'kill -KILL $$'
	[ "$RC" = 137 ] || fail "killed by SIGKILL: $(said)"
}

TESTS="$TESTS sigterm_reaches_command"
test_sigterm_reaches_command()
{
	next_name
	ready=$T/out/ready.$NAME
	nsenter --net=/run/netns/$W "$SLUICE" run --name "$NAME" --link veth --proxy "$PROXY_URL" \
		--user root -- /bin/sh -c '
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		trap "exit 42" TERM
		: >"$1"
		i=0
		while [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
		exit 3' sh "$ready" </dev/null >"$T/out/term.out" 2>"$T/out/term.err" &
	pid=$!
	if ! wait_for 100 test -e "$ready"; then
		kill -KILL $pid 2>/dev/null
		fail "the command never started: $(cat "$T/out/term.err")"
	fi
	kill -TERM $pid
	wait_pid $pid 10
	rc=$?
	[ "$rc" = 42 ] || fail "sluice exited $rc, not the command's 42: $(cat "$T/out/term.err")"
}
