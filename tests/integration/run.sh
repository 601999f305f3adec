#!/bin/sh
# run.sh: sluice's integration tests, as root, in a private world netns (tests/lib/world.sh).
# Sources the *.test.sh files here (each defines test_NAME functions and adds NAME to TESTS),
# runs each test in a subshell, prints "ok NAME" or "FAIL NAME: reason", and ends with
# "N passed, M failed". Nothing is skipped: a missing prerequisite fails.
# Usage: sh tests/integration/run.sh [NAME...]
#   SLUICE=path (default ./sluice), KEEP=1 keeps the temp dir, VERBOSE=1 shows failed tests' logs.

cd "$(dirname "$0")/../.." || exit 1
. tests/lib/world.sh
. tests/lib/cage.sh

TESTS=
for f in egress privilege status cli lifecycle rootless forward dns linknone wireguard unix escape named services nest audit; do
	. tests/integration/$f.test.sh
done

trap 'world_down' EXIT
trap 'exit 130' INT TERM HUP

world_up
hooks_warm
rm -f "$T/test.pids"	# the world's own servers stay for every test

[ $# -gt 0 ] && TESTS="$*"
passed=0
failed=0
for t in $TESTS; do
	rm -f "$T/reason"
	TESTNO=$((TESTNO + 1))
	# a veth cage's pair goes with its netns, a moment after its run returned: let the last
	# test's go before this one counts what there is
	wait_for 30 sh -c "! nsenter --net=/run/netns/$W ip -o link show | grep -q ' sl-'"
	(set +e; "test_$t") >"$T/test.log" 2>&1
	rc=$?
	if [ $rc -eq 0 ]; then
		echo "ok $t"
		passed=$((passed + 1))
	else
		reason=$(cat "$T/reason" 2>/dev/null)
		[ -n "$reason" ] || reason="exit $rc: $(tail -n 2 "$T/test.log" | tr '\n' ' ')"
		echo "FAIL $t: $reason"
		[ -n "$VERBOSE" ] && sed 's/^/    | /' "$T/test.log"
		failed=$((failed + 1))
	fi
	bg_stop_test
	cages_scrub
	control_down
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
