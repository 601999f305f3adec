# lifecycle.test.sh: nothing leaks after a run, a failed setup at any step, or a killed supervisor.

TESTS="$TESTS nothing_left_after_run"
test_nothing_left_after_run()
{
	base=$(counts)
	cage root -- /bin/true
	[ "$RC" = 0 ] || fail "true: $(said)"
	same_counts "$base" "a run of true"
	cage nobody -- /bin/sh -c 'exit 9'
	[ "$RC" = 9 ] || fail "exit 9: $(said)"
	same_counts "$base" "a run that exits 9"
	LINK=none cage root -- /bin/true
	[ "$RC" = 0 ] || fail "link none: $(said)"
	same_counts "$base" "a link-none run"
	cage root -- /nonexistent/sluice-no-such-command
	[ "$RC" = 127 ] || fail "not found: $(said)"
	same_counts "$base" "a run whose command is not found"
}

# The host's table of a veth run is deleted just after sluice exits (by a child that outlives
# it): runs of one cage name back to back all start, and nothing is left once they are done.
TESTS="$TESTS same_veth_cage_back_to_back"
test_same_veth_cage_back_to_back()
{
	base=$(counts)
	next_name
	for i in 1 2 3 4 5; do
		sluice_w run --name "$NAME" --link veth --proxy "$PROXY_URL" --user root -- /bin/true \
			>"$T/out/b2b.out" 2>"$T/out/b2b.err" || fail "run $i: $(cat "$T/out/b2b.err")"
	done
	same_counts "$base" "five veth runs of one cage name"
}

TESTS="$TESTS nothing_left_after_each_injected_failure"
test_nothing_left_after_each_injected_failure()
{
	base=$(counts)
	SLUICE_FAIL_AT=no-such-step cage root -- /bin/sh -c ': >"$1"' sh "$T/out/ran.unknown"
	[ "$RC" = 125 ] || fail "SLUICE_FAIL_AT=no-such-step: $(said)"
	[ -e "$T/out/ran.unknown" ] && fail "SLUICE_FAIL_AT=no-such-step: the command ran"
	same_counts "$base" "SLUICE_FAIL_AT=no-such-step"
	# the steps, as sluice names them: a step added to sluice is tested here without more
	steps=$(sed -n 's/.*no such setup step (the steps: \(.*\))$/\1/p' "$ERR")
	[ -n "$steps" ] || fail "SLUICE_FAIL_AT=no-such-step: the steps are not listed: $(said)"
	hit=
	# "named": sluice up, a veth cage left standing (its own step binds it and serves it)
	for link in veth none wireguard named; do
		[ $link = wireguard ] && wg_world_up
		for step in $steps; do
			marker=$T/out/ran.$link.$step
			rm -f "$marker"
			if [ $link = wireguard ]; then
				next_name
				OUT=$T/out.$NAME
				ERR=$T/err.$NAME
				SLUICE_FAIL_AT=$step TMO=60 sluice_w run --name "$NAME" --link wireguard \
					--wg-config "$T/client.conf" --user root -- \
					/bin/sh -c ': >"$1"' sh "$marker" >"$OUT" 2>"$ERR"
				RC=$?
			elif [ $link = named ]; then
				next_name
				OUT=$T/out.$NAME
				ERR=$T/err.$NAME
				SLUICE_FAIL_AT=$step sluice_w up "$NAME" --link veth --proxy "$PROXY_URL" \
					--user root -- /bin/sh -c ': >"$1"' sh "$marker" >"$OUT" 2>"$ERR"
				RC=$?
				# up returns once the cage is ready; it ends with its command
				[ "$RC" = 0 ] && { wait_for 100 test -e "$marker"
					wait_for 100 sh -c "[ ! -e /run/netns/$NAME ]"; }
			else
				LINK=$link SLUICE_FAIL_AT=$step cage root -- /bin/sh -c ': >"$1"' sh "$marker"
			fi
			if [ "$RC" = 0 ]; then # not a step of this link
				[ -e "$marker" ] || fail "$link, SLUICE_FAIL_AT=$step: exit 0, not run"
				same_counts "$base" "$link, SLUICE_FAIL_AT=$step (not its step)"
				continue
			fi
			[ "$RC" = 125 ] || fail "$link, SLUICE_FAIL_AT=$step: $(said)"
			grep -qx "sluice: cage \"$NAME\": injected failure at $step: Input/output error" "$ERR" ||
				fail "$link, SLUICE_FAIL_AT=$step: message: $(said)"
			[ -e "$marker" ] && fail "$link, SLUICE_FAIL_AT=$step: the command ran"
			same_counts "$base" "$link, SLUICE_FAIL_AT=$step"
			hit="$hit $step"
		done
	done
	for step in $steps; do
		case " $hit " in
		*" $step "*) ;;
		*) fail "SLUICE_FAIL_AT=$step: no link mode reached that step" ;;
		esac
	done
}

# The pids in a cage's cgroup tree.
cage_pids() {
	[ -d "$CG2/sluice/$1" ] || return 0
	find "$CG2/sluice/$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# sleeping_cage NETNS USER: start a link-none cage $NAME of USER in NETNS (under /run/netns)
# whose command sleeps; set pid (sluice's) and wait until the command runs. Fails, having
# killed sluice, if it never does.
sleeping_cage() {
	ready=$T/out/ready.$NAME
	: >"$ready"
	chmod 666 "$ready"
	nsenter --net=/run/netns/$1 "$SLUICE" run --name "$NAME" --user "$2" -- \
		/bin/sh -c 'echo up >"$1"; exec sleep 60' sh "$ready" \
		</dev/null >"$T/out/sleep.out" 2>"$T/out/sleep.err" &
	pid=$!
	wait_for 100 test -s "$ready" && return 0
	kill -KILL $pid 2>/dev/null
	echo "the command never started: $(cat "$T/out/sleep.err")" >"$T/out/sleep.why"
	return 1
}

# survivors NAME PID...: wait up to 5 s for the processes of cage NAME to die (a zombie is
# dead); print those still alive, and any process still in the cage's cgroup.
survivors() {
	name=$1
	shift
	n=50
	while :; do
		alive=
		for p in "$@"; do
			st=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)
			[ -n "$st" ] && [ "$st" != Z ] && grep -qs "sluice/$name" "/proc/$p/cgroup" &&
				alive="$alive $p"
		done
		[ -z "$alive" ] && break
		n=$((n - 1))
		[ $n -le 0 ] && break
		sleep 0.1
	done
	echo $alive $(cage_pids "$name") | tr ' ' '\n' | sort -u | tr '\n' ' '
}

TESTS="$TESTS nothing_left_after_sigkill_then_gc"
test_nothing_left_after_sigkill_then_gc()
{
	base=$(counts)
	next_name
	reach=$T/out/reach.$NAME
	: >"$reach"
	chmod 666 "$reach"
	# The cage probes its way out in a loop for up to 30 s: before and after the kill.
	nsenter --net=/run/netns/$W "$SLUICE" run --name "$NAME" --link veth --proxy "$PROXY_URL" \
		--user root -- /bin/sh -c '
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		end=$(($(date +%s) + 30))
		while [ $(date +%s) -lt $end ]; do
			printf "tcp " >>"$2"; $1 connect tcp $3 80 --timeout 300 >>"$2"
			printf "udp " >>"$2"; $1 sendto udp $3 $4 >>"$2"
			printf "hostsvc " >>"$2"; $1 connect tcp $5 $6 --timeout 300 >>"$2"
			sleep 0.05
		done' sluice-sigkill-test-$$ "$PROBE" "$reach" $NET_IP $UDP_PORT $WORLD_IP $HOSTSVC_PORT \
		</dev/null >"$T/out/kill.out" 2>"$T/out/kill.err" &
	pid=$!
	if ! wait_for 100 sh -c "[ \$(grep -c . '$reach') -ge 6 ]"; then
		kill -KILL $pid 2>/dev/null
		fail "the cage never probed: $(cat "$T/out/kill.err")"
	fi
	pids=$(cage_pids "$NAME")
	[ -n "$pids" ] || fail "no processes in cgroup sluice/$NAME while the cage ran"
	kill -KILL $pid
	wait_pid $pid 5
	lines_at_kill=$(grep -c . "$reach")

	# The cage's processes must die with the supervisor.
	alive=$(survivors "$NAME" $pids)
	[ -z "${alive% }" ] || fail "cage processes outlived the supervisor by 5 s: $alive"
	pgrep -f sluice-sigkill-test-$$ >/dev/null && fail "the cage's shell is still running"

	# Meanwhile, no probe got out.
	if awk '$2 == "ok"' "$reach" | grep -q .; then
		fail "the cage got out: $(awk '$2 == "ok"' "$reach" | head -n 3)"
	fi
	udp_silent

	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err"
	rc=$?
	[ $rc = 0 ] || fail "sluice gc exited $rc: $(cat "$T/out/gc.err")"
	same_counts "$base" "SIGKILL of the supervisor and sluice gc (probes: $lines_at_kill at kill)"
}

# pid 1 changes its credentials to the command's user, which clears the parent-death signal
# the kernel would send it: the cage of a user other than root must die with its supervisor
# all the same.
TESTS="$TESTS another_users_cage_dies_with_the_supervisor"
test_another_users_cage_dies_with_the_supervisor()
{
	base=$(counts)
	next_name
	sleeping_cage $W nobody || fail "$(cat "$T/out/sleep.why")"
	pids=$(cage_pids "$NAME")
	[ -n "$pids" ] || fail "no processes in cgroup sluice/$NAME while the cage ran"
	kill -KILL $pid
	wait_pid $pid 5
	alive=$(survivors "$NAME" $pids)
	[ -z "${alive% }" ] || fail "the cage's processes outlived their supervisor by 5 s: $alive"
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err" || fail "sluice gc: $(cat "$T/out/gc.err")"
	same_counts "$base" "a cage of nobody after SIGKILL of its supervisor and sluice gc"
}

# A link-none cage makes nothing outside its own netns, so gc may remove what a killed one
# left from any netns, including after the one it was started in is gone.
TESTS="$TESTS gc_removes_a_link_none_cage_whose_netns_is_gone"
test_gc_removes_a_link_none_cage_whose_netns_is_gone()
{
	base=$(counts)
	next_name
	ns=sluice-gone-$$
	ip netns add $ns || fail "cannot make netns $ns"
	if ! sleeping_cage $ns root; then
		ip netns del $ns
		fail "$(cat "$T/out/sleep.why")"
	fi
	kill -KILL $pid
	wait_pid $pid 5
	ip netns del $ns
	[ -f "/run/sluice/$NAME" ] || fail "the killed run left no record to remove"
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err" || fail "sluice gc: $(cat "$T/out/gc.err")"
	[ -e "/run/sluice/$NAME" ] && fail "gc kept the record: $(cat "$T/out/gc.err")"
	same_counts "$base" "gc of a link-none cage whose netns is gone"
}

# dead_pid: a pid whose process has ended, for the records of dead runs.
dead_pid() {
	sh -c 'exit 0' &
	p=$!
	wait $p
	echo $p
}

# record NAME PID START NETNS CGROUP HOST_IF HOST_TABLE WG_IF: a cage's record, by hand.
record() {
	mkdir -p /run/sluice
	printf 'pid=%s\nstart=%s\nnetns=%s\ncgroup=%s\nhost_if=%s\nhost_table=%s\nwg_if=%s\n' \
		"$2" "$3" "$4" "$5" "$6" "$7" "$8" >"/run/sluice/$1"
}

# A record is written under .NAME.PID and linked into place: a run killed in between leaves
# that file, which gc removes once PID is gone and leaves while it lives. A record an older
# sluice kept as a directory (NAME/cage) goes too.
TESTS="$TESTS gc_removes_unfinished_and_older_records"
test_gc_removes_unfinished_and_older_records()
{
	base=$(counts)
	next_name
	dead=$(dead_pid)
	kill -0 $dead 2>/dev/null && fail "pid $dead is alive again"
	mkdir -p /run/sluice
	echo "pid=$dead" >"/run/sluice/.$NAME.$dead"
	echo "pid=$$" >"/run/sluice/.$NAME.$$"
	mkdir "/run/sluice/$NAME" && echo "pid=$dead" >"/run/sluice/$NAME/cage"
	mkdir "/run/sluice/${NAME}c" && echo "pid=$dead" >"/run/sluice/${NAME}c/.cage.tmp"
	mkfifo "/run/sluice/${NAME}f"
	TMO=10 sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err"
	rc=$?
	[ -p "/run/sluice/${NAME}f" ] && fifo=1 || fifo=0
	rm -f "/run/sluice/${NAME}f"
	[ $rc = 0 ] || fail "sluice gc exited $rc: $(cat "$T/out/gc.err")"
	[ $fifo = 1 ] || fail "gc removed a FIFO that is no record"
	[ -e "/run/sluice/${NAME}c" ] && fail "gc kept an older sluice's record cut short"
	[ -e "/run/sluice/.$NAME.$dead" ] && fail "gc kept a dead run's unfinished record"
	[ -e "/run/sluice/$NAME" ] && fail "gc kept an older sluice's record: $(cat "$T/out/gc.err")"
	[ -e "/run/sluice/.$NAME.$$" ] || fail "gc removed the unfinished record of a live process"
	rm -f "/run/sluice/.$NAME.$$"
	same_counts "$base" "gc of unfinished and older records"
}

# gc kills what is in a dead cage's cgroup: a record naming another cgroup (sluice never
# writes one) must not make it kill that cgroup's processes.
TESTS="$TESTS gc_kills_only_a_cages_own_cgroup"
test_gc_kills_only_a_cages_own_cgroup()
{
	base=$(counts)
	next_name
	dead=$(dead_pid)
	other=$CG2/sluice-test-$$.$TESTNO
	mkdir "$other" || fail "cannot make cgroup $other"
	sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 30' sh "$other" &
	victim=$!
	wait_for 50 grep -qx "$victim" "$other/cgroup.procs" || fail "the sleeper is not in $other"
	record "$NAME" "$dead" 1 1 "${other#"$CG2"/}" "" "" ""
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err" && ok=1 || ok=0
	alive=0
	kill -0 $victim 2>/dev/null && alive=1
	kill $victim 2>/dev/null
	wait $victim 2>/dev/null
	rmdir "$other"
	rm -f "/run/sluice/$NAME"
	[ $alive = 1 ] || fail "gc killed a process in $other, named by a record"
	[ $ok = 0 ] || fail "gc said nothing of a record naming another cgroup"
	grep -q "names cgroup" "$T/out/gc.err" || fail "gc's error: $(cat "$T/out/gc.err")"
	same_counts "$base" "gc of a record naming another cgroup"
}

# Nor a link or a table a record names, unless it is named as sluice names a cage's own.
TESTS="$TESTS gc_deletes_only_a_cages_own_link_and_table"
test_gc_deletes_only_a_cages_own_link_and_table()
{
	base=$(counts)
	next_name
	dead=$(dead_pid)
	dev=dm$$x$TESTNO
	tbl=keep$$x$TESTNO
	in_world ip link add "$dev" type veth peer name "${dev}p" || fail "cannot make link $dev"
	in_world nft add table inet "$tbl" || fail "cannot make table $tbl"
	ino=$(stat -L -c %i /run/netns/$W)
	record "$NAME" "$dead" 1 "$ino" "sluice/$NAME" "$dev" "" ""
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc1.err" && ok1=1 || ok1=0
	record "$NAME" "$dead" 1 "$ino" "sluice/$NAME" sl-0123abcd "$tbl" ""
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc2.err" && ok2=1 || ok2=0
	in_world ip link show "$dev" >/dev/null 2>&1 && link=1 || link=0
	in_world nft list table inet "$tbl" >/dev/null 2>&1 && table=1 || table=0
	in_world ip link del "$dev" 2>/dev/null
	in_world nft delete table inet "$tbl" 2>/dev/null
	rm -f "/run/sluice/$NAME"
	[ $link = 1 ] || fail "gc deleted link $dev, named by a record"
	[ $table = 1 ] || fail "gc deleted table $tbl, named by a record"
	[ $ok1 = 0 ] && grep -q "names link" "$T/out/gc1.err" ||
		fail "gc on a record naming link $dev: $(cat "$T/out/gc1.err")"
	[ $ok2 = 0 ] && grep -q "names table" "$T/out/gc2.err" ||
		fail "gc on a record naming table $tbl: $(cat "$T/out/gc2.err")"
	same_counts "$base" "gc of records naming another link and table"
}

# gc works under the lock runs take to find and load the hooks, so that two gc at once (a
# timer's and a hand's) cannot both act on one dead record, the second on a new cage of the
# same name: while the lock is held, gc waits.
TESTS="$TESTS gc_waits_for_the_state_lock"
test_gc_waits_for_the_state_lock()
{
	base=$(counts)
	mkdir -p /run/sluice
	flock /run/sluice sh -c 'echo held >"$1"; sleep 2' sh "$T/out/held" &
	holder=$!
	wait_for 50 test -s "$T/out/held" || fail "the lock was never taken"
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err" &
	gc=$!
	wait_pid $gc 5 || fail "gc failed, or still waited after the lock was let go: $(cat "$T/out/gc.err")"
	# gc (milliseconds of work) can only have ended after the holder let go (2 s)
	kill -0 $holder 2>/dev/null && fail "gc ended while the lock was held"
	wait $holder
	same_counts "$base" "gc under the lock"
}

# A cage's cgroup with no record (a run killed between the two) and a cgroup below it, a
# process in each: gc kills both and removes both (rmdir alone refused, busy, for ever).
TESTS="$TESTS gc_removes_an_orphan_cgroup_and_what_is_below_it"
test_gc_removes_an_orphan_cgroup_and_what_is_below_it()
{
	base=$(counts)
	next_name
	cg=$CG2/sluice/$NAME
	mkdir -p "$cg/below" || fail "cannot make $cg/below"
	sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 30' sh "$cg" &
	top=$!
	sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 30' sh "$cg/below" &
	below=$!
	wait_for 50 grep -qx "$below" "$cg/below/cgroup.procs" || fail "no process below"
	wait_for 50 grep -qx "$top" "$cg/cgroup.procs" || fail "no process in the cgroup"
	TMO=10 sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err" || fail "sluice gc: $(cat "$T/out/gc.err")"
	wait_pid $top 3
	wait_pid $below 3
	[ -d "$cg" ] && fail "gc left $cg: $(cat "$T/out/gc.err")"
	same_counts "$base" "gc of an orphan cgroup with one below it"
}

# A WireGuard link is made in the host's netns and then moved into the cage's: a run killed
# in between leaves it there, under the name its record gives (the kernel backend's link;
# a veth stands in for it, this kernel having no WireGuard), and gc removes it, as it does
# such a link with no record at all. What only starts like sluice's names is not touched.
TESTS="$TESTS gc_removes_a_wireguard_link_left_in_the_host_netns"
test_gc_removes_a_wireguard_link_left_in_the_host_netns()
{
	base=$(counts)
	next_name
	dead=$(dead_pid)
	hex=$(printf '%08x' $(( ($$ * 131 + TESTNO) & 0x7fffffff )))
	rec=sw-$hex
	orphan=sw-$(printf '%08x' $(( (0x$hex + 1) & 0x7fffffff )))
	in_world ip link add "$rec" type veth peer name "x$hex" || fail "cannot make link $rec"
	in_world ip link add "$orphan" type veth peer name "y$hex" || fail "cannot make $orphan"
	in_world ip link add sl-uplink$TESTNO type veth peer name "z$hex" || fail "cannot make sl-uplink"
	in_world nft add table inet sluice_extra$TESTNO || fail "cannot make table sluice_extra"
	live=sw-$(printf '%08x' $(( (0x$hex + 2) & 0x7fffffff )))
	in_world ip link add "$live" type veth peer name "w$hex" || fail "cannot make $live"
	ino=$(stat -L -c %i /run/netns/$W)
	record "$NAME" "$dead" 1 "$ino" "sluice/$NAME" "" "" "$rec"
	# a live run's link, between its making and its move: this shell stands for the run
	record "${NAME}l" $$ "$(awk '{ print $22 }' /proc/$$/stat)" "$ino" "" "" "" "$live"
	sluice_w gc >"$T/out/gc.out" 2>"$T/out/gc.err"
	rc=$?
	rm -f "/run/sluice/${NAME}l"
	gone() { ! in_world ip link show "$1" >/dev/null 2>&1; }
	kept_link=0 kept_table=0 left_rec=0 took_live=0
	gone "$rec" || left_rec=1
	gone "$live" && took_live=1 || took_live=0
	gone sl-uplink$TESTNO || kept_link=1
	in_world nft list table inet sluice_extra$TESTNO >/dev/null 2>&1 && kept_table=1
	in_world ip link del sl-uplink$TESTNO 2>/dev/null
	in_world nft delete table inet sluice_extra$TESTNO 2>/dev/null
	in_world ip link del "$rec" 2>/dev/null
	in_world ip link del "$orphan" 2>/dev/null
	in_world ip link del "$live" 2>/dev/null
	[ $rc = 0 ] || fail "sluice gc exited $rc: $(cat "$T/out/gc.err")"
	[ $took_live = 0 ] || fail "gc deleted $live, a live run's link"
	grep -q "removed link $rec" "$T/out/gc.out" && fail "$rec went as an orphan, not with its record"
	grep -q "removed cage $NAME" "$T/out/gc.out" || fail "gc did not remove the cage: $(cat "$T/out/gc.out")"
	[ $left_rec = 0 ] || fail "gc left $rec, the link its record names"
	grep -q "removed link $orphan" "$T/out/gc.out" || fail "gc left $orphan: $(cat "$T/out/gc.out")"
	[ -e "/run/sluice/$NAME" ] && fail "gc kept the record"
	[ $kept_link = 1 ] || fail "gc deleted sl-uplink$TESTNO, not a name sluice gives"
	[ $kept_table = 1 ] || fail "gc deleted table sluice_extra$TESTNO, not a name sluice gives"
	same_counts "$base" "gc of WireGuard links left in the host netns"
}

# A veth cage's record names the netns its links and table are in; gc elsewhere refuses it
# while that netns is there, and removes the record once it is gone (the links and table
# went with it): the name would be blocked for good otherwise.
TESTS="$TESTS gc_removes_a_veth_cages_record_once_its_netns_is_gone"
test_gc_removes_a_veth_cages_record_once_its_netns_is_gone()
{
	base=$(counts)
	next_name
	dead=$(dead_pid)
	ns=sluice-gone-$$
	ip netns add $ns || fail "cannot make netns $ns"
	ino=$(stat -L -c %i /run/netns/$ns)
	record "$NAME" "$dead" 1 "$ino" "sluice/$NAME" sl-0123abcd \
		"sluice_$(echo "$NAME" | cut -c1-15)_0123abcd" ""
	sluice_w gc >"$T/out/gc1.out" 2>"$T/out/gc1.err" && ok=1 || ok=0
	[ -e "/run/sluice/$NAME" ] && kept=1 || kept=0
	ip netns del $ns
	sluice_w gc >"$T/out/gc2.out" 2>"$T/out/gc2.err" || fail "sluice gc: $(cat "$T/out/gc2.err")"
	[ -e "/run/sluice/$NAME" ] && { rm -f "/run/sluice/$NAME"; fail "gc kept the record: $(cat "$T/out/gc2.err")"; }
	[ $kept = 1 ] && [ $ok = 0 ] || fail "gc took a record of a netns still there: $(cat "$T/out/gc1.err")"
	grep -q "another network namespace" "$T/out/gc1.err" || fail "gc said: $(cat "$T/out/gc1.err")"
	same_counts "$base" "gc of a veth cage's record after its netns went"
}

TESTS="$TESTS hooks_stay_between_runs_and_gc_unload_removes_them"
test_hooks_stay_between_runs_and_gc_unload_removes_them()
{
	progs() { bpftool prog show 2>/dev/null | grep -c '^[0-9]*: cgroup_sock_addr'; }
	ours() {
		bpftool prog show 2>/dev/null | grep -cE \
			'^[0-9]+: cgroup_sock_addr +name (connect4|connect6|sendmsg4|sendmsg6|connect_unix|sendmsg_unix) '
	}
	before=$(progs)
	[ "$before" -ge 4 ] || fail "the warm-up run left no resident hooks ($before programs)"
	# A run loads nothing: the same programs serve it.
	ids=$(bpftool prog show | awk '/cgroup_sock_addr/ { print $1 }' | tr '\n' ' ')
	LINK=none cage root -- /bin/true
	[ "$RC" = 0 ] || fail "run: $(said)"
	now=$(bpftool prog show | awk '/cgroup_sock_addr/ { print $1 }' | tr '\n' ' ')
	[ "$now" = "$ids" ] || fail "programs changed over a run: '$ids' -> '$now'"

	# Not while a cage runs.
	next_name
	sluice_w run --name "$NAME" --user root -- sleep 3 >/dev/null 2>&1 &
	pid=$!
	wait_for 50 sh -c "grep -q 'populated 1' '$CG2/sluice/$NAME/cgroup.events' 2>/dev/null" ||
		fail "the sleeping cage did not start"
	sluice_w gc --unload >"$T/out/unload.out" 2>&1 && fail "gc --unload went ahead under a cage"
	grep -q "cage(s) run under them" "$T/out/unload.out" || fail "refusal: $(cat "$T/out/unload.out")"
	[ "$(progs)" = "$before" ] || fail "the refused unload detached programs"
	wait "$pid"

	sluice_w gc --unload >"$T/out/unload.out" 2>&1 || fail "gc --unload: $(cat "$T/out/unload.out")"
	grep -q "unloaded the eBPF sock_addr hooks" "$T/out/unload.out" ||
		fail "gc --unload said: $(cat "$T/out/unload.out")"
	# freed after an RCU grace period
	n=30
	while [ "$(ours)" != 0 ] && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	[ "$(ours)" = 0 ] || fail "$(ours) programs of sluice's left after gc --unload"
	[ "$(hook_entries)" = 0 ] || fail "map entries left after gc --unload"
	[ -d "$CG2/sluice" ] && fail "the cgroup of all cages is left after gc --unload"

	# The next run loads them again (and the tests after this one count with them).
	hooks_warm
	[ "$(progs)" = "$before" ] || fail "the next run loaded $(progs) programs, not $before"
}

# An endpoint off the host needs the host's forwarding: with it off, check and run both say
# so (125) before anything is made, and run makes nothing at all (no step is traced).
TESTS="$TESTS ip_forward_off_is_refused_before_anything_is_made"
test_ip_forward_off_is_refused_before_anything_is_made()
{
	base=$(counts)
	in_world sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
	OUT=$T/out/fwd.out
	ERR=$T/out/fwd.err
	sluice_w check --link veth --proxy "$PROXY_URL" --allow "$NET_IP:80" >"$OUT" 2>"$ERR"
	check_rc=$?
	SLUICE_TRACE=1 cage root --allow "$NET_IP:80" -- /bin/true
	in_world sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
	[ "$RC" = 125 ] || fail "run with ip_forward off: $(said)"
	grep -q 'needs IPv4 forwarding (sysctl net.ipv4.ip_forward=1), which is off' "$ERR" ||
		fail "run with ip_forward off: $(said)"
	grep -q 'trace .* cgroup' "$ERR" && fail "run with ip_forward off made its cgroup first: $(said)"
	[ "$check_rc" = 125 ] && grep -q 'needs IPv4 forwarding' "$T/out/fwd.err" ||
		fail "check with ip_forward off: exit $check_rc: $(cat "$T/out/fwd.err")"
	same_counts "$base" "ip_forward off"
}
