# unix.test.sh: pathname unix sockets outside the cage are no way out; its own are.

# up_unix_servers: a daemon stand-in under /run, a socket in the test dir, and an abstract
# one, all outside any cage (stream and datagram).
up_unix_servers() {
	UX_RUN=/run/sluice-test-$$.$TESTNO.sock
	UX_VAR=$T/out/host.$TESTNO.sock
	UX_ABS=@sluice-test-$$.$TESTNO
	cp "$ROOT/tests/lib/unixprobe.py" "$T/bin/" && chmod 755 "$T/bin/unixprobe.py"
	for p in "$UX_RUN" "$UX_VAR" "$UX_ABS"; do
		bg_start "$T/ux.$TESTNO.$(echo "$p" | tr -c 'a-z0-9\n' _).log" $W "$PY" \
			"$T/bin/unixprobe.py" serve "$p"
	done
	for p in "$UX_RUN" "$UX_RUN.dgram" "$UX_VAR" "$UX_VAR.dgram"; do
		wait_for 50 test -S "$p" || fail "unix server $p not up"
	done
	UXP="$PY $T/bin/unixprobe.py"
}

down_unix_servers() {
	rm -f "$UX_RUN" "$UX_RUN.dgram"
}

TESTS="$TESTS unix_sockets_outside_the_cage_are_refused"
test_unix_sockets_outside_the_cage_are_refused()
{
	up_unix_servers
	base=$(counts)
	LINK=none cage root -- /bin/sh -c "
		echo run \$($UXP connect $UX_RUN); echo rundgram \$($UXP dgram $UX_RUN.dgram)
		echo var \$($UXP connect $UX_VAR); echo vardgram \$($UXP dgram $UX_VAR.dgram)
		echo abs \$($UXP connect $UX_ABS)
		echo own \$($UXP pair /tmp)
		echo done"
	down_unix_servers
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	# /run is the cage's own: the host's socket there is not even in sight
	for l in run rundgram; do
		[ "$(verdict $l)" = ENOENT ] || fail "$l: $(grep "^$l " "$OUT")"
	done
	for l in var vardgram; do
		[ "$(verdict $l)" = EPERM ] || fail "$l: $(grep "^$l " "$OUT")"
	done
	# an abstract socket belongs to the netns it was bound in: another cage's is not there
	[ "$(verdict abs)" = ECONNREFUSED ] || fail "abstract: $(grep '^abs ' "$OUT")"
	[ "$(verdict own)" = ok ] || fail "the cage's own sockets in /tmp: $(grep '^own ' "$OUT")"
	same_counts "$base" "a cage with unix hooks"
}

TESTS="$TESTS unix_allowed_socket_is_reachable"
test_unix_allowed_socket_is_reachable()
{
	up_unix_servers
	LINK=none cage root --allow "/unix$UX_VAR" --allow "/unix$UX_VAR.dgram" \
		--allow "/unix$(dirname "$UX_RUN")/" -- /bin/sh -c "
		echo var \$($UXP connect $UX_VAR)
		echo run \$($UXP connect $UX_RUN)
		echo done"
	down_unix_servers
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	allowed var run
}

TESTS="$TESTS unix_rootless_hides_host_sockets"
test_unix_rootless_hides_host_sockets()
{
	up_unix_servers
	run_as nobody --allow "/unix$UX_VAR" -- /bin/sh -c "
		echo run \$($UXP connect $UX_RUN); echo var \$($UXP connect $UX_VAR)
		echo own \$($UXP pair /tmp)
		echo done"
	down_unix_servers
	[ "$RC" = 0 ] && grep -qx done "$OUT" || fail "cage: $(said)"
	case $(verdict run) in ok) fail "/run socket reachable without root: $(said)" ;; esac
	[ "$(verdict var)" = ok ] || fail "the allowed socket: $(grep '^var ' "$OUT")"
	[ "$(verdict own)" = ok ] || fail "own sockets: $(grep '^own ' "$OUT")"
	nobody_w check --allow "/unix$UX_VAR" >"$T/out/check.unix" 2>&1
	grep -q 'unix: no in-kernel layer behind it' "$T/out/check.unix" ||
		fail "check: $(cat "$T/out/check.unix")"
}
