# cage.sh: running sluice in the test world and judging what came back (sourced by run.sh).
# Every cage gets a name starting with $CAGE_PREFIX so the harness can find and scrub it.

NCAGE=0
TESTNO=0

# A test's failure: the reason goes to the runner, the subshell ends.
fail() {
	printf '%s' "$*" | tr '\n' '|' >"$T/reason"
	exit 1
}

# wait_pid PID SECS: wait for a background job, SIGKILLing it if it takes longer than SECS.
wait_pid() {
	(sleep "$2"; kill -KILL "$1" 2>/dev/null) &
	dog=$!
	wait "$1"
	rc=$?
	kill $dog 2>/dev/null
	return $rc
}

next_name() {
	NCAGE=$((NCAGE + 1))
	NAME=${CAGE_PREFIX}${TESTNO}n$NCAGE
}

# sluice in the world netns, as the host, never for more than TMO seconds.
sluice_w() {
	timeout -k 3 "${TMO:-30}" nsenter --net=/run/netns/$W "$SLUICE" "$@" </dev/null
}

# cage USER [sluice options] -- CMD...: run CMD in a new cage whose one egress is the proxy
# (link $LINK, veth unless set to none). Sets NAME, RC (sluice's status), OUT and ERR (files).
cage() {
	user=$1
	shift
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	if [ "${LINK:-veth}" = none ]; then
		sluice_w run --name "$NAME" --proxy "$PROXY_URL" --user "$user" "$@" >"$OUT" 2>"$ERR"
	else
		sluice_w run --name "$NAME" --link "${LINK:-veth}" --proxy "$PROXY_URL" \
			--user "$user" "$@" >"$OUT" 2>"$ERR"
	fi
	RC=$?
}

# What a cage said, for failure reasons.
said() {
	printf 'sluice exit %s; out: %s; err: %s' "$RC" \
		"$(head -c 400 "$OUT" | tr '\n' '|')" "$(head -c 400 "$ERR" | tr '\n' '|')"
}

# probes USER "LABEL PROBE-ARGS"...: run probes in one cage, one line "LABEL VERDICT TIME" each.
probes() {
	user=$1
	shift
	cage "$user" -- /bin/sh -c '
		p=$1
		shift
		for spec; do
			printf "%s " "${spec%% *}"
			$p ${spec#* }
		done
		echo probes-done' sh "$PROBE" "$@"
	[ "$RC" = 0 ] && grep -qx probes-done "$OUT" || fail "cage did not run the probes: $(said)"
}

# verdict LABEL: the probe's verdict word for LABEL (ok, EPERM, ...).
verdict() {
	awk -v l="$1" '$1 == l { print $2; exit }' "$OUT"
}

# ms LABEL: the elapsed milliseconds the probe reported for LABEL.
ms() {
	awk -v l="$1" '$1 == l { sub(/ms$/, "", $3); print $3; exit }' "$OUT"
}

# denied LABEL...: each probe ran and failed with an errno (not ok, not missing).
denied() {
	for l; do
		v=$(verdict "$l")
		case $v in
		E[A-Z0-9]*) ;;
		ok) fail "$l got through: $(grep "^$l " "$OUT")" ;;
		*) fail "$l gave no verdict: $(said)" ;;
		esac
	done
}

# allowed LABEL...: each probe succeeded.
allowed() {
	for l; do
		[ "$(verdict "$l")" = ok ] || fail "$l should work: $(grep "^$l " "$OUT" || said)"
	done
}

# udp_silent: the internet's UDP listener has received nothing (give late packets a moment).
udp_silent() {
	sleep 0.3
	[ -s "$T/udp.log" ] && fail "the internet's UDP listener received: $(head -c 200 "$T/udp.log")"
	true
}

# same_counts BASELINE WHAT: the kernel objects are back to BASELINE.
same_counts() {
	now=$(counts_settle "$1")
	[ "$now" = "$1" ] || fail "$2 left objects: before [$1] after [$now]"
}

# nobody_sluice: a sluice binary user nobody can execute ($SLUICE, or a copy in $T/bin).
nobody_sluice() {
	if runuser -u nobody -- test -x "$SLUICE"; then
		echo "$SLUICE"
	else
		cp "$SLUICE" "$T/bin/sluice" && chmod 755 "$T/bin/sluice" && echo "$T/bin/sluice"
	fi
}

# run_as USER [sluice run options] -- CMD...: a cage started by USER in the world (nobody: an
# unprivileged run through runuser; root: with --user root). Sets NAME, RC, OUT, ERR.
run_as() {
	who=$1
	shift
	next_name
	OUT=$T/out.$NAME
	ERR=$T/err.$NAME
	if [ "$who" = root ]; then
		sluice_w run --name "$NAME" --user root "$@" >"$OUT" 2>"$ERR"
	else
		timeout -k 3 "${TMO:-60}" nsenter --net=/run/netns/$W runuser -u "$who" -- \
			"$(nobody_sluice)" run --name "$NAME" "$@" </dev/null >"$OUT" 2>"$ERR"
	fi
	RC=$?
}
